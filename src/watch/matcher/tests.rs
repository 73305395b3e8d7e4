use super::*;
use crate::model::EntityKind;

fn entity(name: &str, kind: EntityKind, aliases: &[&str], ambiguous: bool) -> EntitySpec {
    EntitySpec {
        name: name.into(),
        kind,
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        ambiguous,
        exclude: Vec::new(),
    }
}

fn watched() -> Matcher {
    Matcher::new(&[
        entity(
            "Besançon",
            EntityKind::Commune,
            &["@villedebesancon"],
            false,
        ),
        entity("Angers", EntityKind::Commune, &["@villeangers"], false),
        entity("Agen", EntityKind::Commune, &[], false),
        entity("Toulouse", EntityKind::Commune, &[], false),
        entity("Nice", EntityKind::Commune, &["@VilledeNice"], true),
        entity("Tours", EntityKind::Commune, &[], true),
        entity("Orange", EntityKind::Brand, &["@Orange_conseil"], true),
        entity("Air France", EntityKind::Brand, &["@airfrance"], false),
        entity("Bourg-la-Reine", EntityKind::Commune, &[], false),
        entity(
            "Saint-Étienne Métropole",
            EntityKind::Intercommunalite,
            &[],
            false,
        ),
        entity("Saint-Étienne", EntityKind::Commune, &[], false),
        entity("JO 2024", EntityKind::Other, &["#Paris2024"], false),
    ])
}

fn names(text: &str) -> Vec<String> {
    let m = watched();
    let mut f = Folded::default();
    f.fold(text);
    let mut hits = Vec::new();
    m.find(&f, text, &mut hits);
    m.names(&hits)
}

#[test]
fn folds_case_and_accents() {
    assert_eq!(names("Besançon sous la neige"), ["Besançon"]);
    assert_eq!(names("il neige à besancon"), ["Besançon"]);
    assert_eq!(names("BESANCON !!!"), ["Besançon"]);
}

#[test]
fn respects_word_boundaries() {
    assert!(names("attention aux dangers de la route").is_empty());
    assert!(names("mon agence de voyage").is_empty());
    assert_eq!(names("le marché d'Angers"), ["Angers"]);
    assert_eq!(names("Angers, Agen."), ["Angers", "Agen"]);
}

#[test]
fn reads_handles_and_hashtags() {
    assert_eq!(names("merci @Toulouse"), ["Toulouse"]);
    assert_eq!(names("#Toulouse sous le soleil"), ["Toulouse"]);
    assert!(names("allez le #ToulouseFC").is_empty());
    assert!(names("ecrivez a contact@toulouse.fr").is_empty());
    assert_eq!(names("@villeangers bravo"), ["Angers"]);
    assert!(names("villeangers sans arobase").is_empty());
    assert_eq!(names("vivement #Paris2024"), ["JO 2024"]);
}

#[test]
fn multi_word_names_match_spaced_hyphenated_and_squeezed() {
    assert_eq!(names("vol Air France annulé"), ["Air France"]);
    assert_eq!(names("encore #AirFrance"), ["Air France"]);
    assert!(names("airfrance sans dièse").is_empty());
    assert_eq!(names("Bourg la Reine"), ["Bourg-la-Reine"]);
    assert_eq!(names("à bourg-la-reine"), ["Bourg-la-Reine"]);
}

#[test]
fn hyphenated_compounds_are_other_places() {
    assert!(names("j'habite Tours-sur-Marne depuis peu").is_empty());
    assert!(names("Gare de Saint-Agen").is_empty());
}

#[test]
fn an_exclusion_drops_its_compound() {
    let mut paris = entity("Paris", EntityKind::Commune, &["@Paris"], false);
    paris.exclude = vec!["Paris Saint-Germain".into(), "Paris-Brest".into()];
    let m = Matcher::new(&[paris]);
    let found = |text: &str| {
        let mut f = crate::watch::fold::Folded::default();
        f.fold(text);
        let mut hits = Vec::new();
        m.find(&f, text, &mut hits);
        hits.len()
    };
    assert_eq!(found("le Paris Saint-Germain gagne encore"), 0);
    assert_eq!(found("un paris-brest à la boulangerie"), 0);
    assert_eq!(found("Paris Saint-Germain joue à Paris ce soir"), 1);
    assert_eq!(found("la mairie de Paris"), 1);
}

#[test]
fn a_name_inside_a_compound_of_names_is_found() {
    assert_eq!(names("vol Paris-Toulouse annulé"), ["Toulouse"]);
    assert_eq!(names("navette Agen-Toulouse"), ["Agen", "Toulouse"]);
    assert_eq!(names("Air France-KLM publie ses résultats"), ["Air France"]);
    assert_eq!(names("retard à l'aéroport Toulouse-Blagnac"), ["Toulouse"]);
}

#[test]
fn overlapping_names_keep_the_longest() {
    assert_eq!(
        names("Saint-Étienne Métropole investit"),
        ["Saint-Étienne Métropole"]
    );
    assert_eq!(names("Saint-Étienne gagne"), ["Saint-Étienne"]);
}

#[test]
fn ambiguous_names_need_a_strong_form() {
    // Common words.
    assert!(names("c'est nice comme idée").is_empty());
    assert!(names("have a nice day").is_empty());
    assert!(names("plusieurs tours de piste").is_empty());
    assert!(names("un jus d'orange").is_empty());
    assert!(
        names("Nice to meet you").is_empty(),
        "capital at sentence start is not enough"
    );
    assert!(names("NICE WORK").is_empty());
    // Strong forms.
    assert_eq!(names("je vis à nice"), ["Nice"]);
    assert_eq!(names("la ville de tours recrute"), ["Tours"]);
    assert_eq!(names("la mairie d'orange communique"), ["Orange"]);
    assert_eq!(names("on se voit à Nice demain"), ["Nice"]);
    assert_eq!(names("mon forfait Orange ne marche plus"), ["Orange"]);
    assert_eq!(names("@Orange_conseil bonjour"), ["Orange"]);
    assert_eq!(names("#Nice plage"), ["Nice"]);
    assert_eq!(names("Merci @VilledeNice"), ["Nice"]);
}

#[test]
fn several_names_in_one_post_come_once_each_in_order() {
    assert_eq!(
        names("Toulouse devant Angers, puis @villeangers et #Toulouse"),
        ["Toulouse", "Angers"]
    );
}

#[test]
fn nothing_watched_finds_nothing() {
    let m = Matcher::new(&[]);
    let mut f = Folded::default();
    f.fold("Toulouse");
    let mut hits = Vec::new();
    m.find(&f, "Toulouse", &mut hits);
    assert!(hits.is_empty());
}

#[test]
fn emoji_and_typographic_marks_around_names_are_boundaries() {
    assert_eq!(
        names("😡Toulouse😡 « Angers » — Agen…"),
        ["Toulouse", "Angers", "Agen"]
    );
    assert_eq!(names("vol #AirFrance 🛫 annulé"), ["Air France"]);
}

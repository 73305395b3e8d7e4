use super::*;
use crate::watch::fold::Folded;
use crate::watch::lexicon::Lexicon;

struct Run {
    critical: bool,
    cues: Vec<String>,
}

fn classify(text: &str, lang: Option<&str>) -> Run {
    let c = Classifier::new(Lexicon::bundled(), Tuning::default());
    let mut f = Folded::default();
    f.fold(text);
    let mut s = Scratch::default();
    let out = c.classify(text, &f, lang.map(Lang::from_tag), &mut s);
    assert!(
        (0.0..=1.0).contains(&out.score),
        "score {} out of range",
        out.score
    );
    assert_eq!(out.critical, out.score >= 0.5, "label and score agree");
    Run {
        critical: out.critical,
        cues: s
            .cues
            .iter()
            .map(|c| f.text[c.start as usize..c.end as usize].to_string())
            .collect(),
    }
}

fn critical(text: &str) -> Vec<String> {
    let r = classify(text, None);
    assert!(r.critical, "expected critical: {text:?}");
    r.cues
}

fn neutral(text: &str) {
    let r = classify(text, None);
    assert!(!r.critical, "expected neutral: {text:?}, cues {:?}", r.cues);
}

#[test]
fn french_cues_fire_and_are_reported() {
    assert!(critical("C'est une honte, remboursez-nous !").contains(&"honte".to_string()));
    assert!(critical("Commande toujours pas arrivée").contains(&"toujours pas".to_string()));
    assert!(critical("Une arnaque totale ce site").contains(&"arnaque".to_string()));
    assert!(
        critical("service client injoignable depuis lundi").contains(&"injoignable".to_string())
    );
}

#[test]
fn english_cues_fire_and_are_reported() {
    assert!(critical("Never again with this airline").contains(&"never again".to_string()));
    assert!(
        critical("still waiting for my refund, 3 weeks now").contains(&"still waiting".to_string())
    );
    critical("worst customer service ever, absolutely useless");
}

#[test]
fn negated_praise_is_criticism() {
    assert!(
        critical("Franchement le service est pas terrible").contains(&"pas terrible".to_string())
    );
    let cues = critical("Le nouveau site n'est pas génial du tout, vraiment pas pratique");
    assert!(cues.iter().any(|c| c.contains("genial")), "{cues:?}");
    critical("j'aime pas du tout leur nouvelle appli, pas contente");
    critical("The new app is not good at all, not happy");
}

#[test]
fn negated_criticism_is_not() {
    neutral("Pas de problème, livraison reçue");
    neutral("not bad at all, no problem with the delivery");
    neutral("Ce n'est pas nul du tout, j'adore");
}

#[test]
fn emoji_and_emoticons_count() {
    assert!(critical("Mon train est encore en retard 😡😡").contains(&"😡".to_string()));
    critical("Delivery late again :( 👎");
    neutral("Superbe journée 😍");
}

#[test]
fn intensifiers_tip_a_mild_post_over() {
    // One mild word alone is not enough; intensified and shouted, it is.
    neutral("le repas était moyen");
    critical("le repas était vraiment très moyen !!!");
}

#[test]
fn elongations_are_read_and_strengthen() {
    let cues = critical("c'est nuuuuul");
    assert_eq!(cues, ["nuuuuul"]);
    critical("soooo baaaad, worst");
}

#[test]
fn complaints_without_negative_words_are_caught() {
    let cues = critical("@marque pourquoi ma commande n'est pas arrivée ?");
    assert!(cues.iter().any(|c| c.starts_with("pourquoi")), "{cues:?}");
    let cues = critical("3h d'attente au guichet, on attend toujours");
    assert!(cues.iter().any(|c| c == "3h"), "{cues:?}");
    critical("@airline why is my bag still not here, waiting for 2 days");
}

#[test]
fn requests_for_information_are_not_criticism() {
    neutral("@SNCF quand est prévu le prochain train pour Lyon ?");
    neutral("@Orange comment obtenir un remboursement de ma facture ?");
    neutral("@united what time does boarding start for UA 123?");
    neutral("Where can I find the refund form? Thanks");
}

#[test]
fn contrast_weighs_the_clause_after_but() {
    critical("Le personnel est sympa mais le service est nul et lent, inadmissible");
    neutral("Un peu de retard mais équipe géniale et trajet parfait");
}

#[test]
fn language_matters_for_false_friends() {
    // `sale` is dirty in French, a bargain in English.
    assert!(classify("Big sale today on all shoes", Some("en"))
        .cues
        .is_empty());
    assert!(classify("la gare est vraiment sale et dégoûtante", Some("fr")).critical);
}

#[test]
fn plain_posts_are_neutral() {
    neutral("");
    neutral("Réunion publique jeudi à 18h à la mairie");
    neutral("Just landed in Paris");
    neutral("Le marché de Noël ouvre samedi");
}

#[test]
fn language_tags_are_read() {
    assert_eq!(Lang::from_tag("fr-FR"), Lang::Fr);
    assert_eq!(Lang::from_tag("EN_gb"), Lang::En);
    assert_eq!(Lang::from_tag("de"), Lang::Unknown);
}

#[test]
fn collapse_cuts_long_runs_only() {
    let mut s = String::new();
    collapse("nuuuul", 1, &mut s);
    assert_eq!(s, "nul");
    collapse("goooood", 2, &mut s);
    assert_eq!(s, "good");
    collapse("cool", 1, &mut s);
    assert_eq!(s, "cool");
}

#[test]
fn negating_a_complaint_word_keeps_it_a_complaint() {
    // `no refund` is no better than `refund`: negation does not reverse complaint nouns.
    critical("Flight cancelled and no refund, no compensation");
    critical("Toujours aucune réponse et pas de remboursement");
    critical("you charged me twice and won't refund me");
}

#[test]
fn urls_are_not_emoticons() {
    neutral("Nouvel article sur https://example.org/blog ce matin");
    critical("encore raté :/");
}

#[test]
fn a_compound_against_a_bad_thing_is_not_criticism() {
    neutral("Bravo pour ce plan anti-pollution");
    neutral("des cosmétiques cruelty-free");
    neutral("un restaurant zéro-déchet");
    critical("la pollution est insupportable");
}

#[test]
fn innocent_words_need_the_context_of_their_bad_sense() {
    neutral("Air France renforce ses vols vers Nice cet été");
    neutral("Balade au Jardin des Plantes ce dimanche");
    neutral("Un chantier de rénovation commence lundi");
    critical("Encore un dépôt sauvage devant l'école");
    critical("L'appli plante encore, impossible de payer");
}

#[test]
fn a_failure_of_something_meant_to_work_is_a_complaint() {
    assert!(critical("can't log in to my account since this morning")
        .contains(&"can't log".to_string()));
    critical("I have not heard back from your team");
    critical("unable to stream anything on my TV");
    critical("@shop my order is not letting me pay");
    critical("Je n'ai pas reçu ma commande");
    neutral("Can't wait to get my new phone!");
    neutral("I don't know which plan to choose");
}

#[test]
fn saying_one_cannot_do_something_is_a_complaint_but_not_its_idioms() {
    assert!(critical("I can't pick it up at the store").contains(&"can't pick".to_string()));
    critical("unable to authorize my account");
    critical("you cannot reach anyone at the front desk");
    neutral("I can't wait to see the new store");
    neutral("Can't thank you enough for the help");
    neutral("I couldn't be happier with my order");
    neutral("can't get enough of this new flavour");
}

#[test]
fn courtesy_weighs_nothing_in_a_request_or_beside_a_failure() {
    // Before, `hi`, `please`, `help` and `thanks` cancelled the complaint.
    critical("Hi, please help, my parcel never arrived. Thanks");
    critical("Great, my parcel was not delivered again");
    // Thanks for a solved problem, stated plainly, still counts as thanks.
    neutral("Thank you for the speedy resolution of the issue");
    neutral("Thanks a lot, problem solved");
}

#[test]
fn a_why_asked_of_a_brand_is_a_complaint_and_why_not_a_suggestion() {
    critical("why is the 38 bus going down Market street?");
    neutral("Why not try the new menu?");
    neutral("Pourquoi pas un week-end à la mer ?");
}

#[test]
fn joined_hashtags_are_read_by_their_known_head_or_tail() {
    critical("Encore 2h de retard #boycottsncf");
    critical("my blender died after 5 smoothies #badservice");
    critical("third outage this week #epicfail");
    critical("rassemblement samedi #stoptafta");
    // Words that merely start with a bad word are not split.
    neutral("Les #villes et la #consommation durable #culture");
    neutral("Plus de 200 #panneaux solaires installés");
}

#[test]
fn french_stance_and_accents_that_change_the_word() {
    critical("Non à la fermeture de la gare !");
    critical("Les habitants s'opposent au projet de rocade");
    // `après` is not `âpres`, `tue` is not `tué`, `pêche` is not `péché`.
    neutral("Rendez-vous après la réunion au port de pêche");
    neutral("Ce prof me tue, trop drôle");
    critical("Un cycliste tué sur la rocade, les aménagements promis n'ont jamais été faits");
    neutral("L'avion vole vers Toulouse");
}

//! Many teams on one bot: each server reads only its own names and the configuration's,
//! and a name another watches already is followed, not refused.

use veille::commands::{request, Caller};
use veille::config::Config;
use veille::model::Lang;

use crate::support::spawn_app;

/// What the configuration watches for everyone here: Tours (which owns @VilledeTours) and
/// SNCF.
fn base() -> Vec<veille::model::EntitySpec> {
    use veille::model::{EntityKind, EntitySpec};
    vec![
        EntitySpec {
            name: "Tours".into(),
            kind: EntityKind::Commune,
            aliases: vec!["@VilledeTours".into(), "#Tours".into()],
            ambiguous: true,
            exclude: Vec::new(),
        },
        EntitySpec {
            name: "SNCF".into(),
            kind: EntityKind::Brand,
            aliases: vec!["@SNCF".into()],
            ambiguous: false,
            exclude: Vec::new(),
        },
    ]
}

fn server(guild: u64) -> Caller {
    Caller {
        guild,
        channel: guild * 10,
        user: guild * 100,
        user_name: format!("team{guild}"),
        can_manage: true,
        lang: Lang::Fr,
        channel_check: None,
    }
}

/// What `caller` reads when it types `line` (a slash command as the console writes it).
fn say(app: &veille::app::App, caller: &Caller, line: &str) -> String {
    let command = veille::front::console::parse(line, caller.lang).expect(line);
    match request::run(app, caller, &command) {
        Ok(reply) => reply.plain(),
        Err(e) => format!("⚠ {}", e.reply(caller.lang)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_never_sees_another_server_s_names_but_both_see_the_configuration_s() {
    // Arrange: server 1 watches a brand of its own.
    let t = spawn_app(Config::default(), base());
    let (one, two) = (server(1), server(2));
    let added = say(
        &t.app,
        &one,
        "/watch add \"Brasserie Secrète\" \"#brasseriesecrete\"",
    );
    assert!(
        added.contains("Brasserie Secrète est surveillé (marque)"),
        "{added}"
    );
    t.app.rewatch();
    // The watcher knows it (the sources read it for server 1).
    let union = t.app.watched_union().expect("union");
    assert!(union.iter().any(|e| e.name == "Brasserie Secrète"));

    // Act and assert: server 1 reads its name; server 2 is told nobody watches it.
    let mine = say(&t.app, &one, "/buzz \"Brasserie Secrète\"");
    assert!(!mine.starts_with('⚠'), "{mine}");
    let theirs = say(&t.app, &two, "/buzz \"Brasserie Secrète\"");
    assert_eq!(
        theirs,
        "⚠ \"Brasserie Secrète\" n'est pas un nom surveillé ; noms surveillés : Tours, SNCF",
        "answered as a name nobody watches"
    );
    let by_alias = say(&t.app, &two, "/buzz #brasseriesecrete");
    assert!(
        by_alias.contains("n'est pas un nom surveillé"),
        "{by_alias}"
    );
    assert!(!by_alias.contains("Brasserie Secrète"), "{by_alias}");
    // Both read a name the configuration watches for everyone.
    for s in [&one, &two] {
        let sncf = say(&t.app, s, "/buzz SNCF");
        assert!(!sncf.starts_with('⚠'), "{sncf}");
    }
    // /status counts only what the server reads; the names it offers are its own.
    let visible = |c: &Caller| {
        veille::commands::watch::visible(&*t.app, c.guild)
            .expect("visible")
            .into_iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
    };
    assert!(visible(&one).contains(&"Brasserie Secrète".to_string()));
    assert!(!visible(&two).contains(&"Brasserie Secrète".to_string()));
    let status = say(&t.app, &two, "/status");
    assert!(
        status.contains(&format!(
            "Noms surveillés : {}",
            t.app.base_entities().len()
        )),
        "{status}"
    );
    t.app.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_the_configuration_or_another_server_watches_is_followed_not_refused() {
    let t = spawn_app(Config::default(), base());
    let (one, two) = (server(1), server(2));

    // The configuration's Tours owns @VilledeTours: "Ville de Tours" with it follows Tours.
    let followed = say(
        &t.app,
        &one,
        "/watch add \"Ville de Tours\" \"@VilledeTours\"",
    );
    assert!(
        followed.contains("« Ville de Tours » désigne Tours : ce serveur suit Tours (déjà surveillé pour tous), avec aussi « Ville de Tours »"),
        "{followed}"
    );
    assert!(
        !followed.contains("[[entity]]") && !followed.contains('#'),
        "{followed}"
    );
    let list = say(&t.app, &one, "/watch list");
    assert!(
        list.contains("• Tours (commune) — Ville de Tours"),
        "{list}"
    );

    // Server 2 adds a name server 1 watches: it follows it too, without being told who.
    say(&t.app, &one, "/watch add \"Brasserie Secrète\"");
    let also = say(
        &t.app,
        &two,
        "/watch add \"brasserie secrète\" \"#secrete\"",
    );
    assert!(
        also.contains("ce serveur suit Brasserie Secrète, avec aussi « #secrete »"),
        "{also}"
    );
    assert!(
        !also.contains("team1") && !also.contains("autre serveur"),
        "{also}"
    );
    let union = t.app.watched_union().expect("union");
    assert_eq!(
        union
            .iter()
            .filter(|e| e.name.to_lowercase() == "brasserie secrète")
            .count(),
        1,
        "watched once"
    );
    // Names that designate two different entities are refused, plainly.
    let two_things = say(&t.app, &two, "/watch add Tours \"@SNCF\"");
    assert!(
        two_things.contains("désignent déjà des noms différents"),
        "{two_things}"
    );
    t.app.shutdown().await.expect("stops");
}

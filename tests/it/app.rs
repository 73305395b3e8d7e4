//! `veille run`: one process, every task under one shutdown, commits published as they land.

use std::process::{Command, Stdio};
use std::time::Duration;

use veille::config::Config;

use crate::ingest::sncf;
use crate::support::{commit, jetstream, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_publishes_each_commit_and_stores_everything_at_shutdown() {
    // Arrange: a Jetstream fake with two posts naming SNCF, one critical.
    let (addr, _urls) = jetstream(vec![
        commit(
            "did:plc:a",
            "k1",
            1_000_000,
            "@SNCF train supprimé, une honte",
        ),
        commit("did:plc:a", "k2", 2_000_000, "Merci @SNCF pour le voyage"),
    ])
    .await;
    let mut config = Config::default();
    config.sources.bluesky.jetstream_url = format!("ws://{addr}");
    let t = spawn_app(config, sncf());
    let mut events = t.app.events();
    // Act
    t.start();
    let mut mentions = 0;
    let mut critical = 0;
    while mentions < 2 {
        let got = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("a commit is published in time")
            .expect("the channel is open");
        for b in got
            .buckets
            .iter()
            .filter(|b| b.entity != veille::store::ALL_POSTS)
        {
            assert_eq!(b.entity, "SNCF");
            mentions += b.mentions;
            critical += b.critical;
        }
    }
    let store = t.app.ctx().store.clone();
    let status = tokio::time::timeout(Duration::from_secs(20), t.app.shutdown())
        .await
        .expect("every task drains in time")
        .expect("clean shutdown");
    // Assert
    assert_eq!((mentions, critical), (2, 1));
    assert_eq!(status.sources, ["Bluesky Jetstream", "feeds"]);
    assert!(status.failures.is_empty(), "{:?}", status.failures);
    let kept = store.mentions("SNCF", 0, i64::MAX / 4).expect("read");
    assert_eq!(kept.len(), 2, "what was published is in the store");
}

#[test]
fn veille_run_holds_the_store_one_shot_commands_say_so_and_sigterm_stops_it_cleanly() {
    // Arrange
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("db");
    let veille = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_veille"));
        c.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("VEILLE_STORE__PATH", &store)
            .env("VEILLE_SOURCES__BLUESKY__JETSTREAM", "false")
            .env_remove("X_BEARER_TOKEN");
        c
    };
    let child = veille()
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("veille run starts");
    let pid = child.id();
    // Wait (bounded) until the store is held: its pid file names the child.
    let pid_file = store.join("veille.pid");
    let held = (0..400).any(|_| {
        let ok = std::fs::read_to_string(&pid_file).is_ok_and(|p| p.trim() == pid.to_string());
        if !ok {
            std::thread::sleep(Duration::from_millis(25));
        }
        ok
    });
    assert!(held, "veille run opened its store");
    // Act
    let stats = veille().arg("stats").output().expect("stats runs");
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    let out = child.wait_with_output().expect("veille run ends");
    // Assert
    let err = String::from_utf8_lossy(&stats.stderr);
    assert!(!stats.status.success());
    assert_eq!(
        err.trim(),
        format!(
            "veille: the store at {} is in use by a running veille, pid {pid}; use its console, or stop it first",
            store.display()
        )
    );
    assert!(term.success());
    assert!(
        out.status.success(),
        "SIGTERM ends veille run with 0: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("veille stopped"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Collects the alert events the app delivers.
struct Collect(std::sync::Arc<std::sync::Mutex<Vec<veille::alerts::AlertEvent>>>);

impl veille::alerts::notify::Notifier for Collect {
    fn notify(&self, out: &veille::alerts::Outgoing) -> anyhow::Result<()> {
        self.0.lock().expect("lock").push(out.event.clone());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_runs_the_detector_on_the_live_stream_and_delivers_through_its_notifiers() {
    // Arrange: a newly watched name whose first posts are all critical.
    let frames: Vec<String> = (0..30)
        .map(|i| {
            commit(
                "did:plc:a",
                &format!("k{i}"),
                1_000_000 + i,
                &format!("@SNCF train supprimé, une honte (n°{i})"),
            )
        })
        .collect();
    let (addr, _urls) = jetstream(frames).await;
    let charts = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    config.sources.bluesky.jetstream_url = format!("ws://{addr}");
    config.alerts.charts_dir = charts.path().to_path_buf();
    let t = spawn_app(config, sncf());
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    t.app
        .add_notifier(std::sync::Arc::new(Collect(got.clone())));
    // Act
    t.start();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while got.lock().expect("lock").is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = t.app.ctx().store.clone();
    let status = tokio::time::timeout(Duration::from_secs(20), t.app.shutdown())
        .await
        .expect("every task drains in time")
        .expect("clean shutdown");
    assert!(status.failures.is_empty(), "{:?}", status.failures);
    // Assert: one open, its chart saved by the console notifier, nothing left in the outbox.
    let events = got.lock().expect("lock").clone();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].entity, "SNCF");
    assert_eq!(events[0].event, veille::alerts::EventKind::Open);
    assert_eq!(events[0].critical, 30);
    let pngs = std::fs::read_dir(charts.path()).expect("charts").count();
    assert_eq!(pngs, 1);
    assert!(store
        .pending_alert_events::<veille::alerts::Outgoing>()
        .expect("outbox")
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_how_each_source_stands_from_the_start() {
    // Arrange: a Jetstream that accepts connections and never answers the handshake, and an
    // X that refuses the token.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((tcp, _)) = silent.accept().await {
            open.push(tcp);
        }
    });
    let x = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(wiremock::ResponseTemplate::new(401).set_body_string(
            r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
        ))
        .mount(&x)
        .await;
    let mut config = Config::default();
    config.sources.bluesky.jetstream_url = format!("ws://{addr}");
    config.sources.x.base_url = x.uri();
    let t = spawn_app(config, sncf());
    let console = veille::commands::Caller::console(veille::model::Lang::Fr);
    // Act
    t.app.start(veille::config::Tokens {
        x: Some(secrecy::SecretString::from("bad-token")),
        ..veille::config::Tokens::default()
    });
    let mut status = String::new();
    for _ in 0..400 {
        status = veille::front::console::answer(&t.app, &console, "/status").expect("status");
        if status.contains("⛔ X recent search") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Assert
    assert!(
        status.contains("⏳ Bluesky Jetstream : connexion en cours (pas encore connectée)"),
        "{status}"
    );
    assert!(status.contains("⛔ X recent search : arrêtée"), "{status}");
    assert!(!status.contains("bad-token"), "{status}");
    t.app.shutdown().await.expect("stops");
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_refit_the_running_watcher_without_restarting_any_source() {
    // Arrange: a Jetstream that stays connected.
    let (addr, urls) = crate::support::jetstream_open(vec![commit(
        "did:plc:a",
        "k1",
        1_000_000,
        "@SNCF train supprimé, une honte",
    )])
    .await;
    let mut config = Config::default();
    config.sources.bluesky.jetstream_url = format!("ws://{addr}");
    let t = spawn_app(config, sncf());
    t.start();
    let connected = || urls.lock().expect("lock").len();
    for _ in 0..400 {
        if connected() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(connected(), 1);
    let console = veille::commands::Caller::console(veille::model::Lang::Fr);
    let before = t.app.rebuilt();

    // Act: five corrections in quick succession, by the buttons' path.
    for i in 0..5 {
        let text = format!("La piscine municipale numéro {i} est fermée depuis des semaines");
        let reply = veille::commands::classify::classify(&t.app.ctx(), &console, &text)
            .expect("classified");
        let id = reply.verdict.expect("a verdict to correct");
        veille::commands::corrections::correct(
            &*t.app,
            &console,
            &id,
            veille::model::Label::Critical,
        )
        .expect("recorded");
    }
    for _ in 0..400 {
        if t.app.ctx().watcher.learned_from() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Assert: the running watcher learned all five; the presses shared refits; Jetstream was
    // never reconnected.
    assert_eq!(t.app.ctx().watcher.learned_from(), 5);
    let refits = t.app.rebuilt() - before;
    assert!(
        (1..=2).contains(&refits),
        "{refits} refits for five presses"
    );
    assert_eq!(connected(), 1, "no source restarted");
    t.app.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_watched_name_updates_x_s_stream_rules_without_reconnecting() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    // Arrange: an X whose stream stays open (its answer never comes in time).
    let x = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/stream/rules"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"meta": {"result_count": 0}})),
        )
        .mount(&x)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/tweets/search/stream/rules"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"meta": {}})))
        .mount(&x)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/stream"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(120)))
        .mount(&x)
        .await;
    let mut config = Config::default();
    config.sources.bluesky.jetstream = false;
    config.sources.x.base_url = x.uri();
    config.sources.x.search = false;
    config.sources.x.stream = true;
    let t = spawn_app(config, sncf());
    t.app.start(veille::config::Tokens {
        x: Some(secrecy::SecretString::from("x-token")),
        ..veille::config::Tokens::default()
    });
    let requests = || async {
        x.received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                (
                    r.method.to_string(),
                    r.url.path().to_string(),
                    String::from_utf8_lossy(&r.body).into_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let stream_gets = |all: &[(String, String, String)]| {
        all.iter()
            .filter(|(m, p, _)| m == "GET" && p == "/2/tweets/search/stream")
            .count()
    };
    for _ in 0..400 {
        if stream_gets(&requests().await) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Act: a server watches a new name.
    let manager = veille::commands::Caller {
        guild: 7,
        ..veille::commands::Caller::console(veille::model::Lang::Fr)
    };
    let line = veille::front::console::parse("/watch add Decathlon", manager.lang).expect("parses");
    veille::commands::run(&*t.app, &manager, &line).expect("watched");
    let mut all = requests().await;
    for _ in 0..400 {
        if all
            .iter()
            .any(|(m, _, b)| m == "POST" && b.contains("Decathlon"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        all = requests().await;
    }

    // Assert: the rule was added on the open connection; X was not reconnected.
    assert!(
        all.iter()
            .any(|(m, _, b)| m == "POST" && b.contains("Decathlon")),
        "{all:?}"
    );
    assert_eq!(stream_gets(&all), 1, "the stream was not reconnected");
    t.app.shutdown().await.expect("stops");
}

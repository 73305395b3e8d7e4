//! The live sources end to end: the real clients against fakes on 127.0.0.1 that speak the
//! documented formats, into a real sled store.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use veille::commands::Context;
use veille::config::Config;
use veille::ingest::pipeline::{self, Options};
use veille::model::{EntityKind, EntitySpec};
use veille::rank::collect::Tokens;
use veille::store::{Store, ALL_POSTS};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{commit, jetstream};

pub fn sncf() -> Vec<EntitySpec> {
    vec![EntitySpec {
        name: "SNCF".into(),
        kind: EntityKind::Brand,
        aliases: vec!["@SNCF".into()],
        ambiguous: false,
        exclude: Vec::new(),
    }]
}

/// Posts the store counted, every hour.
pub fn total_posts(store: &Store) -> u64 {
    store
        .counts(ALL_POSTS, 0, i64::MAX / 8)
        .expect("counts")
        .iter()
        .map(|(_, c)| c.posts)
        .sum()
}

fn config(store: &std::path::Path, jetstream: Option<SocketAddr>) -> Config {
    let mut c = Config::default();
    c.store.path = store.to_path_buf();
    c.sources.bluesky.jetstream = jetstream.is_some();
    if let Some(a) = jetstream {
        c.sources.bluesky.jetstream_url = format!("ws://{a}");
    }
    c
}

/// Runs the pipeline until the fake saw `connections` connections, then stops it. The fake
/// closes each connection after its frames, and the client reads a connection to its close
/// before it reconnects: at the last connection, every frame of the ones before was read
/// and handed to the pipeline, which stores what it was handed before it stops.
async fn run_until(
    cfg: &Config,
    store: Store,
    urls: &Arc<Mutex<Vec<String>>>,
    connections: usize,
) -> pipeline::Report {
    let watched = urls.clone();
    let shutdown = async move {
        while watched.lock().expect("lock").len() < connections {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let ctx = Context::with_store(cfg.clone(), sncf(), store).expect("context");
    tokio::time::timeout(
        Duration::from_secs(20),
        pipeline::run(
            ctx.watching(),
            &Tokens::default(),
            Options::default(),
            None,
            shutdown,
        ),
    )
    .await
    .expect("the pipeline stops in time")
    .expect("the pipeline runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_posts_are_stored_once_and_the_cursor_resumes_after_a_restart() {
    // Arrange: creates, a delete, another collection, garbage.
    let frames = vec![
        commit("did:plc:a", "k1", 1_000_000, "@SNCF train supprimé, une honte"),
        json!({"did": "did:plc:a", "time_us": 1_500_000, "kind": "commit", "commit": {"rev": "r", "operation": "delete", "collection": "app.bsky.feed.post", "rkey": "k0"}}).to_string(),
        json!({"did": "did:plc:b", "time_us": 1_600_000, "kind": "commit", "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.like", "rkey": "l", "record": {"text": ""}}}).to_string(),
        "this is not json".to_string(),
        // Not posts, whatever their text says: a frame that is an array, a record that is one.
        json!(["did:plc:d", 1_700_000, "commit", {"text": "@SNCF honte"}]).to_string(),
        json!({"did": "did:plc:e", "time_us": 1_800_000, "kind": "commit", "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.post", "rkey": "x", "record": ["app.bsky.feed.post", "@SNCF honte"]}}).to_string(),
        commit("did:plc:b", "k2", 2_000_000, "Beau temps aujourd'hui"),
        commit("did:plc:c", "k3", 9_000_000, "Merci @SNCF pour le trajet"),
    ];
    let (addr, urls) = jetstream(frames).await;
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(&dir.path().join("db"), Some(addr));

    // Act: a run that sees the stream drop and reconnect (the same frames again: duplicates),
    // and reconnect again.
    let store = Store::open(&cfg.store.path).expect("store");
    let report = run_until(&cfg, store.clone(), &urls, 3).await;
    drop(store);

    // Assert
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let first_urls = urls.lock().expect("lock").clone();
    assert_eq!(
        first_urls[0],
        "/subscribe?wantedCollections=app.bsky.feed.post"
    );
    assert_eq!(
        first_urls[1], "/subscribe?wantedCollections=app.bsky.feed.post&cursor=4000000",
        "reconnects 5 s before the last event"
    );
    let s = &report.stats;
    assert_eq!((s.kept, s.critical), (2, 1));
    assert!(
        s.duplicates >= 3,
        "the replayed frames are duplicates: {s:?}"
    );
    let bad = |kind: &str| {
        s.bad
            .iter()
            .filter(|((_, k), _)| k == kind)
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    assert!(
        bad("not JSON") >= 1,
        "the garbage frame is counted: {:?}",
        s.bad
    );
    assert!(
        bad("not an event") >= 1,
        "the array frame is counted: {:?}",
        s.bad
    );
    assert!(
        bad("record is not a post") >= 1,
        "the array record is counted: {:?}",
        s.bad
    );
    let store = Store::open(&cfg.store.path).expect("reopen");
    let all = total_posts(&store);
    assert_eq!(all, 3, "three posts, each counted once");
    let kept = store.mentions("SNCF", 0, i64::MAX / 8).expect("mentions");
    assert_eq!(kept.len(), 2);
    assert_eq!(
        kept[0].post.url.as_deref(),
        Some("https://bsky.app/profile/did:plc:a/post/k1")
    );
    assert_eq!(
        store
            .cursor("bluesky:jetstream")
            .expect("cursor")
            .as_deref(),
        Some("9000000")
    );

    // A restart resumes from the stored cursor, with the overlap.
    let report = run_until(&cfg, store.clone(), &urls, 5).await;
    assert_eq!(
        urls.lock().expect("lock")[3],
        "/subscribe?wantedCollections=app.bsky.feed.post&cursor=4000000"
    );
    assert_eq!(
        report.stats.kept, 0,
        "nothing new: no duplicate after the restart"
    );
    let all = total_posts(&store);
    assert_eq!(all, 3);
}

fn page(ids: &[&str], newest: &str) -> serde_json::Value {
    let data: Vec<_> = ids
        .iter()
        .map(|id| json!({"id": id, "text": format!("@SNCF retard encore, post {id}"), "created_at": "2024-05-01T10:00:00.000Z", "author_id": "1", "edit_history_tweet_ids": [id]}))
        .collect();
    json!({"data": data, "includes": {"users": [{"id": "1", "username": "alice"}]}, "meta": {"newest_id": newest, "result_count": ids.len()}})
}

fn veille_once(store: &std::path::Path, base: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_veille"))
        .args(["ingest", "--once", "--watch", "tests/fixtures/sncf.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("VEILLE_STORE__PATH", store)
        .env("VEILLE_SOURCES__X__BASE_URL", base)
        .env("VEILLE_SOURCES__BLUESKY__JETSTREAM", "false")
        .env("X_BEARER_TOKEN", "a-secret-token")
        .output()
        .expect("veille runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_once_persists_the_since_id_and_a_restart_adds_no_duplicate() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/recent"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["11", "10"], "11")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/recent"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["12", "11"], "12")))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("db");
    let base = server.uri();
    // Act
    let first = tokio::task::spawn_blocking({
        let (store, base) = (store.clone(), base.clone());
        move || veille_once(&store, &base)
    })
    .await
    .expect("joins");
    let second = tokio::task::spawn_blocking({
        let (store, base) = (store.clone(), base.clone());
        move || veille_once(&store, &base)
    })
    .await
    .expect("joins");
    // Assert
    let out1 = String::from_utf8_lossy(&first.stdout);
    let out2 = String::from_utf8_lossy(&second.stdout);
    assert!(
        first.status.success(),
        "{out1}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        out1.contains("2 posts read, 0 already stored, 2 new naming a watched entity"),
        "{out1}"
    );
    assert!(
        out2.contains("2 posts read, 1 already stored, 1 new"),
        "{out2}"
    );
    assert!(
        out1.contains("X today: 2 posts read of 2000 allowed (≈ $0.01)"),
        "{out1}"
    );
    assert!(
        out2.contains("X today: 4 posts read of 2000 allowed (≈ $0.02)"),
        "a restart keeps counting what X bills today: {out2}"
    );
    let requests = server.received_requests().await.expect("recorded");
    assert!(
        requests[1]
            .url
            .query_pairs()
            .any(|(k, v)| k == "since_id" && v == "11"),
        "the restart resumed from since_id"
    );
    let all = format!(
        "{out1}{out2}{}{}",
        String::from_utf8_lossy(&first.stderr),
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(!all.contains("a-secret-token"), "the token never shows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_stops_the_source_with_a_clear_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("db");
    let base = server.uri();
    let out = tokio::task::spawn_blocking(move || veille_once(&store, &base))
        .await
        .expect("joins");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("X recent search stopped: X API refused the credentials (HTTP 401)"),
        "{err}"
    );
    assert!(!err.contains("a-secret-token"));
}

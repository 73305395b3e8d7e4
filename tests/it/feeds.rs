//! Web feeds end to end: the real feeds source against a fake web on 127.0.0.1 (wiremock),
//! through the pipeline into a real sled store.

use std::io::Write;
use std::time::Duration;

use veille::config::{Config, Tokens};
use veille::ingest::feeds::{FeedState, FetchError, Validators};
use veille::ingest::pipeline::Report;
use veille::store::Store;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::ingest::{sncf, total_posts};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/feeds/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("a fixture")
}

fn config(store: &std::path::Path, urls: Vec<String>) -> Config {
    let mut c = Config::default();
    c.store.path = store.to_path_buf();
    c.sources.bluesky.jetstream = false;
    c.sources.feeds.urls = urls;
    c.sources.feeds.timeout_secs = 2;
    c
}

/// Polls every feed once.
async fn poll_once(cfg: &Config, store: &Store) -> Report {
    crate::support::poll_once(cfg, store, &Tokens::default()).await
}

fn rss(items: &[(&str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, link, date)| {
            format!("<item><title>@SNCF article {guid}</title><link>{link}</link><guid>{guid}</guid><pubDate>{date}</pubDate></item>")
        })
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Flux</title>{items}</channel></rss>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_item_counts_once_across_polls_restarts_and_feeds_that_share_its_link() {
    // Arrange: feed A with validators (a 304 when they come back), feed B carrying one of
    // A's links under another guid and another date.
    let server = MockServer::start().await;
    let a = rss(&[
        (
            "a1",
            "https://news.example/1",
            "Tue, 03 Jun 2025 09:00:00 +0200",
        ),
        (
            "a2",
            "https://news.example/2",
            "Tue, 03 Jun 2025 10:00:00 +0200",
        ),
    ]);
    Mock::given(method("GET"))
        .and(path("/a.xml"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/a.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .set_body_string(a),
        )
        .mount(&server)
        .await;
    let b = rss(&[(
        "b-other-guid",
        "https://news.example/2",
        "Wed, 04 Jun 2025 08:00:00 +0000",
    )]);
    Mock::given(method("GET"))
        .and(path("/b.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_string(b))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(
        &dir.path().join("db"),
        vec![
            format!("{}/a.xml", server.uri()),
            format!("{}/b.xml", server.uri()),
        ],
    );

    // Act: a poll, another, and another after a restart on the same store.
    let store = Store::open(&cfg.store.path).expect("store");
    let first = poll_once(&cfg, &store).await;
    let after_first = total_posts(&store);
    let second = poll_once(&cfg, &store).await;
    drop(store);
    let store = Store::open(&cfg.store.path).expect("reopen");
    let third = poll_once(&cfg, &store).await;

    // Assert
    assert_eq!(
        after_first, 2,
        "two articles, the shared one once: {:?}",
        first.read
    );
    assert_eq!(total_posts(&store), 2);
    assert_eq!(second.stats.posts - second.stats.duplicates, 0);
    assert_eq!(third.stats.posts - third.stats.duplicates, 0);
    let requests = server.received_requests().await.expect("recorded");
    let a_polls: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/a.xml")
        .collect();
    assert_eq!(a_polls.len(), 3);
    assert!(
        a_polls[1].headers.get("if-none-match").is_some(),
        "the second poll sends the validators back"
    );
    assert!(
        a_polls[2].headers.get("if-none-match").is_some(),
        "and so does a poll after a restart"
    );
    let cursor: Validators = serde_json::from_str(
        &store
            .cursor(&veille::ingest::feeds::source_key(&format!(
                "{}/a.xml",
                server.uri()
            )))
            .expect("cursor")
            .expect("stored"),
    )
    .expect("validators");
    assert_eq!(cursor.etag.as_deref(), Some("\"v1\""));
    let kept = store.mentions("SNCF", 0, i64::MAX / 8).expect("kept");
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|p| p.post.platform == "web"));
}

/// A feed answered after `delay`.
fn slow(body: String, delay: Duration) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_string(body)
        .set_delay(delay)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_are_reported_per_feed_and_never_stop_the_others() {
    // Arrange: one good feed (gzipped) and one per kind of trouble.
    let server = MockServer::start().await;
    let good = rss(&[(
        "g1",
        "https://news.example/g1",
        "Tue, 03 Jun 2025 09:00:00 +0200",
    )]);
    let mount = |p: &'static str, t: ResponseTemplate| {
        Mock::given(method("GET")).and(path(p)).respond_with(t)
    };
    mount(
        "/good.xml",
        ResponseTemplate::new(200)
            .insert_header("content-encoding", "gzip")
            .set_body_bytes(gzip(good.as_bytes())),
    )
    .mount(&server)
    .await;
    mount("/missing.xml", ResponseTemplate::new(404))
        .mount(&server)
        .await;
    mount("/gone.xml", ResponseTemplate::new(410))
        .expect(1)
        .mount(&server)
        .await;
    mount(
        "/busy.xml",
        ResponseTemplate::new(429).insert_header("retry-after", "3600"),
    )
    .mount(&server)
    .await;
    mount("/down.xml", ResponseTemplate::new(503))
        .mount(&server)
        .await;
    mount(
        "/broken.xml",
        ResponseTemplate::new(200).set_body_string("<rss><channel><item>"),
    )
    .mount(&server)
    .await;
    mount(
        "/bomb.xml",
        ResponseTemplate::new(200).set_body_bytes(fixture("bomb.xml")),
    )
    .mount(&server)
    .await;
    mount(
        "/huge.xml",
        ResponseTemplate::new(200).set_body_string(format!("{}<!--{}-->", good, "x".repeat(5000))),
    )
    .mount(&server)
    .await;
    mount("/slow.xml", slow(good.clone(), Duration::from_secs(5)))
        .mount(&server)
        .await;
    mount(
        "/old.xml",
        ResponseTemplate::new(301).insert_header("location", "/new.xml"),
    )
    .expect(1)
    .mount(&server)
    .await;
    mount(
        "/new.xml",
        ResponseTemplate::new(200).set_body_string(rss(&[(
            "n1",
            "https://news.example/n1",
            "Tue, 03 Jun 2025 11:00:00 +0200",
        )])),
    )
    .expect(2)
    .mount(&server)
    .await;
    let names = [
        "good", "missing", "gone", "busy", "down", "broken", "bomb", "huge", "slow", "old",
    ];
    let url = |n: &str| format!("{}/{n}.xml", server.uri());
    let dir = tempfile::tempdir().expect("dir");
    let mut cfg = config(
        &dir.path().join("db"),
        names.iter().map(|n| url(n)).collect(),
    );
    cfg.sources.feeds.max_bytes = 2000;
    cfg.sources.feeds.timeout_secs = 1;
    let store = Store::open(&cfg.store.path).expect("store");

    // Act: two rounds.
    let first = poll_once(&cfg, &store).await;
    let second = poll_once(&cfg, &store).await;

    // Assert: each trouble said for its feed; the others read.
    let state = |r: &Report, n: &str| r.feeds.get(&url(n)).cloned().expect(n);
    assert!(matches!(
        state(&first, "good"),
        FeedState::Read { items: 1, .. }
    ));
    assert!(matches!(
        state(&first, "old"),
        FeedState::Read { items: 1, .. }
    ));
    let failing = |r: &Report, n: &str| match state(r, n) {
        FeedState::Failing { why, .. } => why,
        other => panic!("{n}: {other:?}"),
    };
    assert_eq!(failing(&first, "missing"), FetchError::Status(404));
    assert!(matches!(
        failing(&first, "busy"),
        FetchError::RetryAfter {
            status: 429,
            wait: Some(w)
        } if w == Duration::from_secs(3600)
    ));
    assert!(matches!(
        failing(&first, "down"),
        FetchError::RetryAfter {
            status: 503,
            wait: None
        }
    ));
    assert!(matches!(
        failing(&first, "broken"),
        FetchError::Malformed(_)
    ));
    assert!(failing(&first, "bomb").to_string().contains("XML entities"));
    assert_eq!(failing(&first, "huge"), FetchError::TooLarge(2000));
    assert!(matches!(failing(&first, "slow"), FetchError::Network(_)));
    assert_eq!(
        state(&first, "gone"),
        FeedState::Stopped {
            why: FetchError::Gone
        }
    );
    assert_eq!(
        state(&second, "gone"),
        FeedState::Stopped {
            why: FetchError::Gone
        },
        "a gone feed is not polled again"
    );
    assert_eq!(
        total_posts(&store),
        2,
        "the good feed's item and the moved feed's"
    );
    // The moved feed is polled at its new address: /old.xml once, /new.xml twice (expected
    // by the mocks, checked when the server drops).
    let cursor: Validators = serde_json::from_str(
        &store
            .cursor(&veille::ingest::feeds::source_key(&url("old")))
            .expect("cursor")
            .expect("stored"),
    )
    .expect("validators");
    assert_eq!(cursor.moved_to.as_deref(), Some(url("new").as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_a_server_added_never_reaches_a_private_address() {
    // Arrange: a feed on 127.0.0.1, the configuration's own, and a server's at the same
    // address and by name.
    let server = MockServer::start().await;
    let body = rss(&[(
        "p1",
        "https://news.example/p1",
        "Tue, 03 Jun 2025 09:00:00 +0200",
    )]);
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let own = format!("{}/own.xml", server.uri());
    let port = server.address().port();
    let by_address = format!("http://127.0.0.1:{port}/server.xml");
    let by_name = format!("http://localhost:{port}/server.xml");
    let cfg = config(&dir.path().join("db"), vec![own.clone()]);
    let store = Store::open(&cfg.store.path).expect("store");
    for url in [&by_address, &by_name] {
        store
            .put_feed(&veille::store::servers::FeedSubscription {
                guild: 42,
                url: url.clone(),
                by: 1,
                at: chrono::Utc::now(),
            })
            .expect("added");
    }

    // Act
    let report = poll_once(&cfg, &store).await;

    // Assert: the deployer's feed is read; the server's are refused, before any request.
    assert!(
        matches!(report.feeds[&own], FeedState::Read { .. }),
        "{report:?}"
    );
    for url in [&by_address, &by_name] {
        assert!(
            matches!(
                &report.feeds[url],
                FeedState::Failing {
                    why: FetchError::Refused(_),
                    ..
                }
            ),
            "{url}: {:?}",
            report.feeds[url]
        );
    }
    let requests = server.received_requests().await.expect("recorded");
    assert!(
        requests.iter().all(|r| r.url.path() == "/own.xml"),
        "only the deployer's feed was requested: {:?}",
        requests
            .iter()
            .map(|r| r.url.path().to_string())
            .collect::<Vec<_>>()
    );

    // With private addresses allowed (an intranet), the server's feeds are read.
    let mut open = cfg.clone();
    open.sources.feeds.allow_private_addresses = true;
    let report = poll_once(&open, &store).await;
    assert!(matches!(report.feeds[&by_address], FeedState::Read { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_adds_lists_and_removes_its_feeds_and_private_addresses_are_refused() {
    let t = crate::support::spawn_app(Config::default(), sncf());
    let console = veille::commands::Caller::console(veille::model::Lang::Fr);
    let say =
        |line: &str| veille::front::console::answer(&t.app, &console, line).expect("an answer");

    let refused = say("/feed add http://127.0.0.1:8080/rss");
    assert!(
        refused.contains("ne mène pas à un site public"),
        "{refused}"
    );
    let refused = say("/flux ajouter ftp://example.com/rss");
    assert!(refused.contains("http:// ou https://"), "{refused}");

    let added = say("/feed add https://93.184.216.34/actualites.rss");
    assert!(added.starts_with("Flux ajouté"), "{added}");
    let again = say("/feed add https://93.184.216.34/actualites.rss");
    assert!(again.contains("suit déjà"), "{again}");
    let list = say("/feed list");
    assert!(
        list.contains("• https://93.184.216.34/actualites.rss — ⏳ pas encore lu"),
        "{list}"
    );
    let feeds =
        veille::ingest::pipeline::feed_list(&t.app.ctx().config.sources.feeds, &t.app.ctx().store);
    assert!(feeds
        .iter()
        .any(|f| f.url == "https://93.184.216.34/actualites.rss" && f.public_only));

    let removed = say("/feed remove https://93.184.216.34/actualites.rss");
    assert!(removed.starts_with("Flux retiré"), "{removed}");
    let list = say("/feed list");
    assert!(list.contains("ne suit encore aucun flux"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_once_reads_the_configured_feeds_says_what_each_gave_and_fails_only_when_none_could_be_read(
) {
    // Arrange
    let server = MockServer::start().await;
    let body = rss(&[(
        "c1",
        "https://news.example/c1",
        "Tue, 03 Jun 2025 09:00:00 +0200",
    )]);
    Mock::given(method("GET"))
        .and(path("/ok.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/missing.xml"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let run = |urls: &[&str]| {
        let file = dir.path().join("feeds.toml");
        let list: Vec<String> = urls
            .iter()
            .map(|u| format!("\"{}/{u}\"", server.uri()))
            .collect();
        std::fs::write(
            &file,
            format!("[sources.feeds]\nurls = [{}]\n", list.join(", ")),
        )
        .expect("config");
        std::process::Command::new(env!("CARGO_BIN_EXE_veille"))
            .args([
                "--config",
                file.to_str().expect("utf-8"),
                "ingest",
                "--once",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("VEILLE_STORE__PATH", dir.path().join("db"))
            .env("VEILLE_SOURCES__BLUESKY__JETSTREAM", "false")
            .env_remove("X_BEARER_TOKEN")
            .output()
            .expect("veille runs")
    };

    // Act
    let some = run(&["ok.xml", "missing.xml"]);
    let none = run(&["missing.xml"]);

    // Assert
    let out = String::from_utf8_lossy(&some.stdout);
    assert!(
        some.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&some.stderr)
    );
    assert!(
        out.contains(&format!("feed {}/ok.xml: 1 items, 1 new", server.uri())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "feed {}/missing.xml: failed: HTTP 404",
            server.uri()
        )),
        "{out}"
    );
    assert!(!none.status.success(), "nothing could be read");
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("no source could be read"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
}

//! The comments under the team's own Instagram posts, against a fake Graph API on 127.0.0.1.

use serde_json::json;
use veille::config::{Config, Tokens};
use veille::ingest::pipeline::Report;
use veille::store::Store;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::ingest::total_posts;

fn config(store: &std::path::Path, graph: &str) -> Config {
    let mut c = Config::default();
    c.store.path = store.to_path_buf();
    c.sources.bluesky.jetstream = false;
    c.sources.instagram.base_url = graph.to_string();
    c.sources.instagram.user_id = Some("17841400000000042".into());
    c.sources.instagram.comments_entity = Some("sncf".into());
    c
}

async fn poll_once(cfg: &Config, store: &Store) -> Report {
    let tokens = Tokens {
        instagram: Some(secrecy::SecretString::from("ig-secret")),
        ..Tokens::default()
    };
    crate::support::poll_once(cfg, store, &tokens).await
}

fn comment(id: &str, text: &str, user: &str) -> serde_json::Value {
    json!({"id": id, "text": text, "timestamp": "2025-06-03T08:00:00+0000", "username": user, "like_count": 4})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_under_the_own_posts_count_for_the_entity_once_named_or_not() {
    // Arrange: two posts; the first has two pages of comments.
    let graph = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v25.0/17841400000000042/media"))
        .and(query_param("access_token", "ig-secret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"id": "m1", "permalink": "https://www.instagram.com/p/AAA/"},
            {"id": "m2", "permalink": "https://www.instagram.com/p/BBB/"}
        ]})))
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v25.0/m1/comments"))
        .and(query_param("after", "c2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            comment("c3", "Merci pour ce beau trajet", "carol")
        ]})))
        .with_priority(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v25.0/m1/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                comment("c1", "Encore supprimé ce matin, une honte", "alice"),
                comment("c2", "@SNCF toujours en retard", "bob")
            ],
            "paging": {"cursors": {"after": "c2"}, "next": format!("{}/v25.0/m1/comments?after=c2&access_token=ig-secret", graph.uri())}
        })))
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v25.0/m2/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .mount(&graph)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(&dir.path().join("db"), &graph.uri());
    let store = Store::open(&cfg.store.path).expect("store");

    // Act: two polls.
    let first = poll_once(&cfg, &store).await;
    let second = poll_once(&cfg, &store).await;

    // Assert
    assert!(first.failures.is_empty(), "{:?}", first.failures);
    assert_eq!(total_posts(&store), 3, "each comment once");
    assert_eq!(second.stats.posts - second.stats.duplicates, 0);
    let kept = store.mentions("SNCF", 0, i64::MAX / 8).expect("kept");
    assert_eq!(kept.len(), 3, "every comment is about SNCF, named or not");
    let c1 = kept.iter().find(|p| p.post.id == "c1").expect("c1");
    assert_eq!(
        c1.post.url.as_deref(),
        Some("https://www.instagram.com/p/AAA/")
    );
    assert_eq!(c1.post.author.as_deref(), Some("alice"));
    assert_eq!(c1.post.metrics.map(|m| m.likes), Some(4));
    assert_eq!(c1.label, veille::model::Label::Critical);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_stops_the_comments_with_what_to_do() {
    let graph = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Error validating access token: Session has expired",
            "type": "OAuthException", "code": 190, "error_subcode": 463}})))
        .mount(&graph)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let cfg = config(&dir.path().join("db"), &graph.uri());
    let store = Store::open(&cfg.store.path).expect("store");
    let report = poll_once(&cfg, &store).await;
    let failures = report.failures.join("\n");
    assert!(failures.contains("Instagram comments"), "{failures}");
    assert!(failures.contains("error 190"), "{failures}");
    assert!(
        !failures.contains("ig-secret"),
        "no token in what is said: {failures}"
    );
}

//! A Mastodon instance end to end: the real client against a fake on 127.0.0.1 (the REST
//! API on wiremock, the streaming API on tungstenite), into a real store.

// tungstenite's handshake callback must return its large error type.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use veille::commands::Context;
use veille::config::{Config, Tokens};
use veille::ingest::pipeline::{self, LiveSources, Options};
use veille::store::Store;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::ingest::{sncf, total_posts};

fn status(id: u64, text: &str) -> serde_json::Value {
    json!({
        "id": id.to_string(), "uri": format!("https://piaille.fr/users/a/statuses/{id}"),
        "url": format!("https://piaille.fr/@a/{id}"), "created_at": "2025-06-03T08:00:00.000Z",
        "content": format!("<p>{text}</p>"), "spoiler_text": "", "language": "fr",
        "account": {"acct": "a"}, "reblog": null,
        "favourites_count": 0, "reblogs_count": 0, "replies_count": 0
    })
}

fn update(s: &serde_json::Value) -> String {
    json!({"stream": ["public"], "event": "update", "payload": s.to_string()}).to_string()
}

/// Each handshake's path and Authorization header.
type Handshakes = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// The streaming fake: the first connection gets `first` then closes, later ones get
/// nothing and stay open. It records each handshake's path and Authorization header.
async fn streaming(first: Vec<String>) -> (String, Handshakes) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    let seen: Handshakes = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((tcp, _)) = listener.accept().await {
            n += 1;
            let (record, frames) = (record.clone(), if n == 1 { first.clone() } else { vec![] });
            tokio::spawn(async move {
                let callback =
                    |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                        let auth = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(String::from);
                        record
                            .lock()
                            .expect("lock")
                            .push((req.uri().to_string(), auth));
                        Ok(resp)
                    };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
                    return;
                };
                let close = !frames.is_empty();
                for f in frames {
                    if ws.send(Message::Text(f)).await.is_err() {
                        return;
                    }
                }
                if close {
                    let _ = ws.close(None).await;
                }
                while ws.next().await.is_some() {}
            });
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_is_caught_up_then_streamed_and_a_reconnection_loses_and_doubles_nothing() {
    // Arrange: the store read the instance up to status 100; 101 and 102 came meanwhile;
    // the stream brings 103 (and 102 again), garbage, and the deletion of 103, then drops.
    let (ws_url, handshakes) = streaming(vec![
        update(&status(103, "@SNCF train supprimé, une honte")),
        update(&status(102, "@SNCF encore en retard")),
        "not an event".to_string(),
        json!({"stream": ["public"], "event": "delete", "payload": "103"}).to_string(),
    ])
    .await;
    let rest = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/instance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"domain": "piaille.fr", "configuration": {"urls": {"streaming": ws_url}}}),
        ))
        .mount(&rest)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/timelines/public"))
        .and(query_param("min_id", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            status(102, "@SNCF encore en retard"),
            status(101, "Merci @SNCF pour le trajet")
        ])))
        .mount(&rest)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/timelines/public"))
        .and(query_param("min_id", "102"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&rest)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/timelines/public"))
        .and(query_param("min_id", "103"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1..)
        .mount(&rest)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let mut cfg = Config::default();
    cfg.store.path = dir.path().join("db");
    cfg.sources.bluesky.jetstream = false;
    cfg.sources.mastodon.instances = vec![rest.uri()];
    let store = Store::open(&cfg.store.path).expect("store");
    store
        .set_cursor(&veille::ingest::mastodon::source_key(&rest.uri()), "100")
        .expect("cursor");
    let tokens = Tokens {
        mastodon: Some(secrecy::SecretString::from("m-secret")),
        ..Tokens::default()
    };

    // Act: run until the stream reconnected (every frame of the first connection was read).
    let seen = handshakes.clone();
    let shutdown = async move {
        while seen.lock().expect("lock").len() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let ctx = Context::with_store(cfg.clone(), sncf(), store.clone()).expect("context");
    let report = tokio::time::timeout(
        Duration::from_secs(30),
        pipeline::run(
            ctx.watching(),
            &tokens,
            Options {
                live: Some(Arc::new(Mutex::new(LiveSources::default()))),
                ..Options::default()
            },
            None,
            shutdown,
        ),
    )
    .await
    .expect("in time")
    .expect("runs");

    // Assert
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(total_posts(&store), 3, "101, 102 and 103, each once");
    let kept = store.mentions("SNCF", 0, i64::MAX / 8).expect("kept");
    let by_id = |id: u64| {
        kept.iter()
            .find(|p| p.post.id.ends_with(&format!("/{id}")))
            .cloned()
            .expect("kept")
    };
    assert_eq!(by_id(102).post.text, "@SNCF encore en retard");
    assert_eq!(
        by_id(103).post.text,
        "",
        "a deleted status's text is removed"
    );
    assert_eq!(
        report.stats.bad.values().sum::<u64>(),
        1,
        "the garbage frame is counted"
    );
    assert_eq!(
        store
            .cursor(&veille::ingest::mastodon::source_key(&rest.uri()))
            .expect("cursor")
            .as_deref(),
        Some("103")
    );
    let handshakes = handshakes.lock().expect("lock").clone();
    assert!(handshakes
        .iter()
        .all(|(p, auth)| p == "/api/v1/streaming?stream=public"
            && auth.as_deref() == Some("Bearer m-secret")));
    let requests = rest.received_requests().await.expect("recorded");
    assert!(requests.iter().all(|r| {
        r.headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer m-secret")
            && !r.url.as_str().contains("m-secret")
    }));
}

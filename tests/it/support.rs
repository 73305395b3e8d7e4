//! What the integration tests share: the app on a temporary store, a Jetstream fake.

// tungstenite's handshake callback must return its large error type.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use veille::app::App;
use veille::commands::Context;
use veille::config::{Config, Tokens};
use veille::model::EntitySpec;
use veille::store::Store;

/// The app on a temporary store, its sources pointed at `config`'s fakes, not started: the
/// test subscribes to what it needs, then starts it, and controls its shutdown.
pub struct TestApp {
    /// The app.
    pub app: Arc<App>,
    /// Keeps the store's directory alive as long as the app.
    _dir: tempfile::TempDir,
}

/// Builds the app over a new store in a temporary directory.
pub fn spawn_app(mut config: Config, entities: Vec<EntitySpec>) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    config.store.path = dir.path().join("db");
    let store = Store::open(&config.store.path).expect("store");
    let ctx = Context::with_store(config, entities, store).expect("context");
    TestApp {
        app: Arc::new(App::new(ctx)),
        _dir: dir,
    }
}

impl TestApp {
    /// Starts the app's tasks with no token: no X source, Jetstream as configured.
    pub fn start(&self) {
        self.app.start(Tokens::default());
    }
}

pub fn commit(did: &str, rkey: &str, time_us: i64, text: &str) -> String {
    json!({"did": did, "time_us": time_us, "kind": "commit", "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.post", "rkey": rkey,
        "record": {"$type": "app.bsky.feed.post", "createdAt": "2026-05-25T14:23:28.757Z", "langs": ["fr"], "text": text}, "cid": "c"}})
    .to_string()
}

/// A Jetstream fake that keeps each connection open after its frames; it records the URLs
/// asked.
pub async fn jetstream_open(frames: Vec<String>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    jetstream_fake(frames, false).await
}

/// A Jetstream fake: each connection gets the frames, then the socket closes. It records the
/// URLs asked.
pub async fn jetstream(frames: Vec<String>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    jetstream_fake(frames, true).await
}

async fn jetstream_fake(frames: Vec<String>, close: bool) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let urls = Arc::new(Mutex::new(Vec::new()));
    let seen = urls.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (seen, frames) = (seen.clone(), frames.clone());
            tokio::spawn(async move {
                let callback =
                    |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                        seen.lock().expect("lock").push(req.uri().to_string());
                        Ok(resp)
                    };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
                    return;
                };
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
    (addr, urls)
}

/// Polls every polled source once (`ingest --once`) on `store`, watching SNCF.
pub async fn poll_once(
    cfg: &Config,
    store: &Store,
    tokens: &Tokens,
) -> veille::ingest::pipeline::Report {
    use veille::ingest::pipeline::{self, Options};
    let ctx =
        Context::with_store(cfg.clone(), crate::ingest::sncf(), store.clone()).expect("context");
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        pipeline::run(
            ctx.watching(),
            tokens,
            Options {
                once: true,
                ..Options::default()
            },
            None,
            std::future::pending::<()>(),
        ),
    )
    .await
    .expect("every source polled in time")
    .expect("the pipeline runs")
}

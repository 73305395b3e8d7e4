//! A fake Discord on 127.0.0.1 for the real serenity bot: the REST API (wiremock) and
//! the gateway (a tungstenite server the caller pushes events through). Shared by the
//! integration test and the bot benchmark (`benches/bot.rs`).

// tungstenite's handshake callback must return its large error type.
#![allow(clippy::result_large_err, dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use veille::alerts::{AlertEvent, AlertPost, BucketPoint, EventKind, Outgoing};
use veille::config::Tokens;

/// When the fake received each interaction callback and channel message, and its path.
pub type Log = Arc<Mutex<Vec<(Instant, String)>>>;

pub const APP: &str = "2000";
pub const GUILD: &str = "5000";
pub const CHANNEL: &str = "4000";
pub const ALERTS: &str = "4100";

/// The gateway fake: answers HELLO, IDENTIFY with READY, heartbeats; sends what the test
/// pushes; records what the client sent.
pub async fn gateway(
    guilds: Value,
) -> (String, mpsc::UnboundedSender<Value>, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::unbounded_channel::<Value>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (rx, record, guilds) = (rx.clone(), record.clone(), guilds.clone());
            tokio::spawn(async move {
                let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let (mut out, mut inp) = ws.split();
                let hello = json!({"op": 10, "d": {"heartbeat_interval": 41250}});
                if out.send(Message::Text(hello.to_string())).await.is_err() {
                    return;
                }
                let mut seq = 1;
                let mut rx = rx.lock().await;
                loop {
                    tokio::select! {
                        frame = inp.next() => {
                            let Some(Ok(Message::Text(t))) = frame else { return };
                            let v: Value = serde_json::from_str(&t).expect("the client sends JSON");
                            record.lock().expect("lock").push(v.clone());
                            let reply = match v["op"].as_u64() {
                                Some(2) => json!({"op": 0, "s": seq, "t": "READY", "d": {
                                    "v": 10, "user": {"id": "1000", "username": "veille", "bot": true},
                                    "guilds": guilds, "session_id": "s", "resume_gateway_url": "ws://127.0.0.1:1",
                                    "application": {"id": APP, "flags": 0}}}),
                                Some(1) => json!({"op": 11}),
                                _ => continue,
                            };
                            // Only dispatches (op 0) carry a sequence number.
                            if reply["op"] == 0 {
                                seq += 1;
                            }
                            if out.send(Message::Text(reply.to_string())).await.is_err() { return; }
                        }
                        event = rx.recv() => {
                            let Some(d) = event else { return };
                            let e = json!({"op": 0, "s": seq, "t": "INTERACTION_CREATE", "d": d});
                            seq += 1;
                            if out.send(Message::Text(e.to_string())).await.is_err() { return; }
                        }
                    }
                }
            });
        }
    });
    (url, tx, seen)
}

pub fn message_json(channel: &str) -> Value {
    json!({"id": "9000", "channel_id": channel, "author": {"id": "1000", "username": "veille"},
        "content": "", "timestamp": "2026-11-23T10:00:00Z", "tts": false, "mention_everyone": false,
        "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0})
}

/// The REST fake: what the bot needs, anything else a 404 the test sees.
/// `limited`: the first channel message is answered 429 (the poster must wait it out).
pub async fn rest(gateway_url: &str, log: Log, limited: bool) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v10/gateway"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"url": gateway_url})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v10/oauth2/applications/@me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": APP, "name": "veille", "description": "", "bot_public": true,
            "bot_require_code_grant": false, "verify_key": "k"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v10/gateway/bot"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "url": gateway_url, "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}})))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("/api/v10/applications/{APP}/commands")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let received = log.clone();
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/v10/interactions/\d+/[^/]+/callback$"))
        .respond_with(move |req: &Request| {
            received
                .lock()
                .expect("lock")
                .push((Instant::now(), req.url.path().to_string()));
            ResponseTemplate::new(204)
        })
        .mount(&server)
        .await;
    if limited {
        Mock::given(method("POST"))
            .and(path_regex(r"^/api/v10/channels/\d+/messages$"))
            .respond_with(ResponseTemplate::new(429).set_body_json(
                json!({"message": "You are being rate limited.", "retry_after": 0.2, "global": false}),
            ))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/v10/channels/\d+/messages$"))
        .respond_with(move |req: &Request| {
            log.lock()
                .expect("lock")
                .push((Instant::now(), req.url.path().to_string()));
            let channel = req
                .url
                .path()
                .split('/')
                .nth(4)
                .unwrap_or_default()
                .to_string();
            ResponseTemplate::new(200).set_body_json(message_json(&channel))
        })
        .mount(&server)
        .await;
    server
}

pub fn interaction(id: u64, name: &str, options: Value, permissions: &str) -> Value {
    let channel = json!({"id": ALERTS, "type": 0, "name": "alertes", "permissions": "2147483647"});
    json!({"id": id.to_string(), "application_id": APP, "type": 2, "token": format!("tok{id}"), "version": 1,
        "locale": "fr", "entitlements": [], "attachment_size_limit": 8388608, "channel_id": CHANNEL,
        "guild_id": GUILD, "app_permissions": "2147483647",
        "member": {"user": {"id": "6000", "username": "alice"}, "roles": [], "deaf": false, "mute": false,
            "flags": 0, "permissions": permissions},
        "data": {"id": "7001", "name": name, "type": 1, "options": options,
            "resolved": {"channels": {ALERTS: channel}}}})
}

pub fn button(id: u64, custom_id: &str, permissions: &str) -> Value {
    json!({"id": id.to_string(), "application_id": APP, "type": 3, "token": format!("tok{id}"), "version": 1,
        "locale": "fr", "entitlements": [], "attachment_size_limit": 8388608, "channel_id": CHANNEL,
        "guild_id": GUILD, "app_permissions": "2147483647",
        "member": {"user": {"id": "6001", "username": "bob"}, "roles": [], "deaf": false, "mute": false,
            "flags": 0, "permissions": permissions},
        "message": message_json(CHANNEL),
        "data": {"custom_id": custom_id, "component_type": 2}})
}

pub fn opt(name: &str, value: &str) -> Value {
    json!({"name": name, "type": 3, "value": value})
}

/// The requests matching `pred`, waited for until there are `n`.
pub async fn wait_for(
    server: &MockServer,
    n: usize,
    pred: impl Fn(&Request) -> bool,
) -> Vec<Request> {
    for _ in 0..300 {
        let got: Vec<Request> = server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| pred(r))
            .collect();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all: Vec<String> = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    panic!("the fake Discord did not receive the expected request; it received {all:?}");
}

/// When the fake logged a request whose path satisfies `pred`, at or after `since`; none
/// within `wait`.
pub async fn received(
    log: &Log,
    since: Instant,
    pred: impl Fn(&str) -> bool,
    wait: Duration,
) -> Option<Instant> {
    let give_up = Instant::now() + wait;
    loop {
        if let Some(t) = log
            .lock()
            .expect("lock")
            .iter()
            .find(|(t, p)| *t >= since && pred(p))
            .map(|(t, _)| *t)
        {
            return Some(t);
        }
        if Instant::now() > give_up {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub fn callback_of(id: u64) -> impl Fn(&Request) -> bool {
    move |r| r.url.path() == format!("/api/v10/interactions/{id}/tok{id}/callback")
}

pub fn json_body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).expect("a JSON body")
}

/// The `payload_json` part of a multipart body, and whether it has a PNG file part.
pub fn multipart(r: &Request) -> (Value, bool) {
    let body = String::from_utf8_lossy(&r.body);
    let start = body
        .find("name=\"payload_json\"")
        .expect("a payload_json part");
    let json_start = start + body[start..].find("\r\n\r\n").expect("part headers end") + 4;
    let json_end = json_start + body[json_start..].find("\r\n--").expect("part ends");
    let payload = serde_json::from_str(&body[json_start..json_end]).expect("payload JSON");
    (payload, r.body.windows(4).any(|w| w == b"\x89PNG"))
}

pub fn is_channel_post(r: &Request) -> bool {
    r.method.as_str() == "POST" && r.url.path().starts_with("/api/v10/channels/")
}

pub fn alert_out(text: &str) -> Outgoing {
    let at = chrono::Utc::now();
    let start = at - chrono::Duration::minutes(15);
    Outgoing {
        event: AlertEvent {
            entity: "SNCF".into(),
            event: EventKind::Open,
            at,
            window_start: start,
            window_end: at,
            mentions: 60,
            critical: 40,
            baseline_critical: 5.0,
            baseline_mentions: 15.0,
            share: 0.66,
            baseline_share: 0.33,
            ratio: 8.0,
            p_value: 1e-12,
            score: Some(50.0),
            top_cues: vec!["annule".into()],
            posts: vec![AlertPost {
                url: Some("https://x.com/a/status/1".into()),
                author: Some("@a".into()),
                text: text.into(),
                created_at: at,
                engagement: 12,
                cues: vec!["annule".into()],
            }],
            alert_id: "SNCF@1".into(),
            opened_at: at,
        },
        series: (0..8)
            .map(|i| BucketPoint {
                start: start.timestamp() - 900 * (7 - i),
                mentions: 10,
                critical: 3 + i as u64,
                expected_critical: 3.0,
                expected_mentions: 10.0,
                band: (1, 6),
            })
            .collect(),
        alert_window: (start.timestamp(), at.timestamp()),
        bucket_secs: 900,
    }
}

pub async fn channel_posts(server: &MockServer) -> usize {
    let all = server.received_requests().await.unwrap_or_default();
    all.iter().filter(|r| is_channel_post(r)).count()
}

pub type Bot = tokio::task::JoinHandle<anyhow::Result<veille::commands::status::Status>>;

/// The bot running on `app` with a token, and what stops it.
pub fn start_bot(app: Arc<veille::app::App>) -> (Bot, tokio::sync::oneshot::Sender<()>) {
    let tokens = Tokens {
        discord: Some(secrecy::SecretString::from("test-token")),
        ..Tokens::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let bot = tokio::spawn(veille::front::discord::run(app, tokens, async {
        let _ = stop_rx.await;
    }));
    (bot, stop_tx)
}

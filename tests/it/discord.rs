//! The real serenity/poise bot against a fake Discord on 127.0.0.1: the REST API (wiremock)
//! and the gateway (a tungstenite server the test pushes events through).

// tungstenite's handshake callback must return its large error type.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use veille::alerts::notify::Notifier;
use veille::alerts::{AlertEvent, AlertPost, BucketPoint, EventKind, Outgoing};
use veille::config::{Config, Tokens};
use veille::front::posts::ServerAlerts;
use veille::model::{Month, Platform, Snapshot};

use super::support::spawn_app;

const APP: &str = "2000";
const GUILD: &str = "5000";
const CHANNEL: &str = "4000";
const ALERTS: &str = "4100";

/// The gateway fake: answers HELLO, IDENTIFY with READY, heartbeats; sends what the test
/// pushes; records what the client sent.
async fn gateway() -> (String, mpsc::UnboundedSender<Value>, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::unbounded_channel::<Value>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (rx, record) = (rx.clone(), record.clone());
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
                                    "guilds": [], "session_id": "s", "resume_gateway_url": "ws://127.0.0.1:1",
                                    "application": {"id": APP, "flags": 0}}}),
                                Some(1) => json!({"op": 11}),
                                _ => continue,
                            };
                            seq += 1;
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

fn message_json(channel: &str) -> Value {
    json!({"id": "9000", "channel_id": channel, "author": {"id": "1000", "username": "veille"},
        "content": "", "timestamp": "2026-11-23T10:00:00Z", "tts": false, "mention_everyone": false,
        "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0})
}

/// The REST fake: what the bot needs, anything else a 404 the test sees.
async fn rest(gateway_url: &str) -> MockServer {
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
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/v10/interactions/\d+/[^/]+/callback$"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    // The first message to a channel is rate limited: the poster must wait it out.
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/v10/channels/\d+/messages$"))
        .respond_with(ResponseTemplate::new(429).set_body_json(
            json!({"message": "You are being rate limited.", "retry_after": 0.2, "global": false}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/v10/channels/\d+/messages$"))
        .respond_with(|req: &Request| {
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

fn interaction(id: u64, name: &str, options: Value, permissions: &str) -> Value {
    let channel = json!({"id": ALERTS, "type": 0, "name": "alertes", "permissions": "2147483647"});
    json!({"id": id.to_string(), "application_id": APP, "type": 2, "token": format!("tok{id}"), "version": 1,
        "locale": "fr", "entitlements": [], "attachment_size_limit": 8388608, "channel_id": CHANNEL,
        "guild_id": GUILD, "app_permissions": "2147483647",
        "member": {"user": {"id": "6000", "username": "alice"}, "roles": [], "deaf": false, "mute": false,
            "flags": 0, "permissions": permissions},
        "data": {"id": "7001", "name": name, "type": 1, "options": options,
            "resolved": {"channels": {ALERTS: channel}}}})
}

fn button(id: u64, custom_id: &str) -> Value {
    json!({"id": id.to_string(), "application_id": APP, "type": 3, "token": format!("tok{id}"), "version": 1,
        "locale": "fr", "entitlements": [], "attachment_size_limit": 8388608, "channel_id": CHANNEL,
        "guild_id": GUILD, "app_permissions": "2147483647",
        "member": {"user": {"id": "6001", "username": "bob"}, "roles": [], "deaf": false, "mute": false,
            "flags": 0, "permissions": "0"},
        "message": message_json(CHANNEL),
        "data": {"custom_id": custom_id, "component_type": 2}})
}

fn opt(name: &str, value: &str) -> Value {
    json!({"name": name, "type": 3, "value": value})
}

/// The requests matching `pred`, waited for until there are `n`.
async fn wait_for(server: &MockServer, n: usize, pred: impl Fn(&Request) -> bool) -> Vec<Request> {
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

fn callback_of(id: u64) -> impl Fn(&Request) -> bool {
    move |r| r.url.path() == format!("/api/v10/interactions/{id}/tok{id}/callback")
}

fn json_body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).expect("a JSON body")
}

/// The `payload_json` part of a multipart body, and whether it has a PNG file part.
fn multipart(r: &Request) -> (Value, bool) {
    let body = String::from_utf8_lossy(&r.body);
    let start = body
        .find("name=\"payload_json\"")
        .expect("a payload_json part");
    let json_start = start + body[start..].find("\r\n\r\n").expect("part headers end") + 4;
    let json_end = json_start + body[json_start..].find("\r\n--").expect("part ends");
    let payload = serde_json::from_str(&body[json_start..json_end]).expect("payload JSON");
    (payload, r.body.windows(4).any(|w| w == b"\x89PNG"))
}

fn is_channel_post(r: &Request) -> bool {
    r.method.as_str() == "POST" && r.url.path().starts_with("/api/v10/channels/")
}

fn alert_out(text: &str) -> Outgoing {
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

async fn channel_posts(server: &MockServer) -> usize {
    let all = server.received_requests().await.unwrap_or_default();
    all.iter().filter(|r| is_channel_post(r)).count()
}

type Bot = tokio::task::JoinHandle<anyhow::Result<veille::app::Status>>;

/// The bot running on `app` with a token, and what stops it.
fn start_bot(app: Arc<veille::app::App>) -> (Bot, tokio::sync::oneshot::Sender<()>) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_answers_slash_commands_posts_alerts_and_monthly_positions() {
    tokio::time::timeout(Duration::from_secs(90), scenario())
        .await
        .expect("the scenario ends in time");
}

async fn scenario() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("VEILLE_LOG"))
        .with_test_writer()
        .try_init();
    let (gw_url, events, sent) = gateway().await;
    let server = rest(&gw_url).await;
    let mut config = Config::default();
    config.discord.api_url = server.uri();
    config.sources.bluesky.jetstream = false;
    let t = spawn_app(config.clone(), config.entities.clone());
    let app = t.app.clone();
    let (bot, stop_tx) = start_bot(app.clone());

    // The bot connects and registers its commands, with French localizations.
    let put = wait_for(&server, 1, |r| r.method.as_str() == "PUT").await;
    let registered = json_body(&put[0]);
    let names: Vec<&str> = registered
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for n in [
        "rank",
        "position",
        "subscribe",
        "watch",
        "alerts",
        "buzz",
        "classify",
        "status",
    ] {
        assert!(names.contains(&n), "{n} registered: {names:?}");
    }
    let rank_cmd = registered
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["name"] == "rank")
        .expect("rank");
    assert_eq!(rank_cmd["name_localizations"]["fr"], "classement");
    let identify = sent
        .lock()
        .expect("lock")
        .iter()
        .find(|f| f["op"] == 2)
        .cloned()
        .expect("IDENTIFY");
    assert!(identify["d"]["token"]
        .as_str()
        .expect("token")
        .ends_with("test-token"));

    // /rank villes twitter: an embed whose first row is Toulouse.
    events
        .send(interaction(
            3000,
            "rank",
            json!([opt("category", "villes"), opt("platform", "twitter")]),
            "0",
        ))
        .expect("push");
    let reply = json_body(&wait_for(&server, 1, callback_of(3000)).await[0]);
    assert_eq!(reply["type"], 4);
    let embed = &reply["data"]["embeds"][0];
    assert!(
        embed["title"]
            .as_str()
            .expect("title")
            .starts_with("Classement des villes sur X (Twitter)"),
        "{embed}"
    );
    let first_row = embed["description"]
        .as_str()
        .expect("description")
        .lines()
        .nth(1)
        .expect("a row")
        .to_string();
    assert!(first_row.contains("1  Toulouse"), "{first_row}");
    assert!(
        embed["footer"]["text"]
            .as_str()
            .expect("footer")
            .contains("page 1/3"),
        "{embed}"
    );
    assert_eq!(reply["data"]["allowed_mentions"]["parse"], json!([]));

    // /subscribe without Manage Server is refused, briefly and to the caller alone.
    events
        .send(interaction(
            3001,
            "subscribe",
            json!([
                opt("account", "gersledepartement"),
                opt("platform", "instagram")
            ]),
            "0",
        ))
        .expect("push");
    let refused = json_body(&wait_for(&server, 1, callback_of(3001)).await[0]);
    assert_eq!(refused["data"]["flags"], 64, "ephemeral: {refused}");
    assert!(
        refused["data"]["content"]
            .as_str()
            .expect("content")
            .contains("Gérer le serveur"),
        "{refused}"
    );
    assert!(app
        .ctx()
        .store
        .subscriptions(None)
        .expect("subs")
        .is_empty());

    // With Manage Server (0x20): subscribed, and the watch list and alert channel set.
    events
        .send(interaction(
            3002,
            "subscribe",
            json!([
                opt("account", "gersledepartement"),
                opt("platform", "instagram")
            ]),
            "32",
        ))
        .expect("push");
    let ok = json_body(&wait_for(&server, 1, callback_of(3002)).await[0]);
    assert!(
        ok["data"]["embeds"][0]["title"]
            .as_str()
            .expect("title")
            .contains("Abonnement"),
        "{ok}"
    );
    events
        .send(interaction(
            3003,
            "watch",
            json!([{"name": "add", "type": 1, "options": [opt("name", "SNCF")]}]),
            "32",
        ))
        .expect("push");
    wait_for(&server, 1, callback_of(3003)).await;
    events
        .send(interaction(3004, "alerts", json!([{"name": "channel", "type": 1, "options": [{"name": "channel", "type": 7, "value": ALERTS}]}]), "32"))
        .expect("push");
    let set = json_body(&wait_for(&server, 1, callback_of(3004)).await[0]);
    assert!(
        set["data"]["embeds"][0]["description"]
            .as_str()
            .unwrap_or_default()
            .contains(ALERTS),
        "{set}"
    );

    // An alert reaches the channel with its chart, pinging nobody; the first attempt is
    // rate limited and waited out.
    let notifier = ServerAlerts::new(&app.ctx(), app.posts_ready.clone()).expect("notifier");
    notifier
        .notify(&alert_out(
            "@everyone Encore un train annulé <@&123>, honteux",
        ))
        .expect("queued");
    let posts = wait_for(&server, 2, is_channel_post).await;
    assert_eq!(
        posts[0].url.path(),
        posts[1].url.path(),
        "the same message, retried"
    );
    assert_eq!(
        posts[1].url.path(),
        format!("/api/v10/channels/{ALERTS}/messages")
    );
    let (payload, png) = multipart(&posts[1]);
    assert!(png, "the chart is attached");
    assert_eq!(payload["allowed_mentions"]["parse"], json!([]), "{payload}");
    assert_eq!(
        payload["embeds"][0]["image"]["url"],
        "attachment://chart.png"
    );
    let button_id = payload["components"][0]["components"][0]["custom_id"]
        .as_str()
        .expect("a button")
        .to_string();
    // The same event notified again (a restart before the outbox was acknowledged) is not
    // posted twice.
    notifier
        .notify(&alert_out(
            "@everyone Encore un train annulé <@&123>, honteux",
        ))
        .expect("again");

    // A button press records the correction with who made it.
    events.send(button(3005, &button_id)).expect("push");
    let thanks = json_body(&wait_for(&server, 1, callback_of(3005)).await[0]);
    assert_eq!(thanks["data"]["flags"], 64);
    let corrections = app.ctx().store.corrections().expect("corrections");
    assert_eq!(corrections.len(), 1);
    assert_eq!(corrections[0].by, "discord:6001");
    assert_eq!(corrections[0].label, veille::model::Label::Critical);

    // A new month's figures: the subscription's position is posted once.
    let july = Month::new(2021, 7).expect("month");
    let snap = Snapshot {
        published_ranks: [("departements".to_string(), 1)].into_iter().collect(),
        source: "test".into(),
        ..Snapshot::default()
    };
    app.ctx()
        .store
        .put_snapshots([(Platform::Instagram, "gersledepartement", july, &snap)])
        .expect("snapshot");
    let ctx = app.ctx();
    assert_eq!(
        veille::front::posts::queue_positions(&ctx).expect("queue"),
        1
    );
    assert_eq!(
        veille::front::posts::queue_positions(&ctx).expect("queue"),
        0
    );
    app.posts_ready.notify_one();
    let posts = wait_for(&server, 3, is_channel_post).await;
    let monthly = json_body(&posts[2]);
    assert_eq!(
        posts[2].url.path(),
        format!("/api/v10/channels/{CHANNEL}/messages")
    );
    assert!(
        monthly["embeds"][0]["description"]
            .as_str()
            .expect("text")
            .contains("pour le 7e mois consécutif"),
        "{monthly}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Shut down (shard closed, tasks drained), start again on the same store: nothing is
    // posted twice.
    stop_tx.send(()).expect("stop");
    let status = bot.await.expect("joined").expect("a clean stop");
    assert!(status.failures.is_empty(), "{:?}", status.failures);
    let before = channel_posts(&server).await;
    assert_eq!(before, 3);
    let ctx2 = veille::commands::Context::with_store(
        config.clone(),
        config.entities.clone(),
        app.ctx().store.clone(),
    )
    .expect("ctx");
    drop(app);
    let app2 = Arc::new(veille::app::App::new(ctx2));
    let (bot, stop_tx) = start_bot(app2.clone());
    wait_for(&server, 2, |r| r.method.as_str() == "PUT").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_tx.send(()).expect("stop");
    bot.await.expect("joined").expect("a clean stop");
    let after = channel_posts(&server).await;
    assert_eq!(after, 3, "nothing posted twice after a restart");
    drop(t);
}

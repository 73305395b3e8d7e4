//! The real serenity/poise bot against the fake Discord of `fake_discord.rs`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use veille::alerts::notify::Notifier;
use veille::config::Config;
use veille::front::posts::ServerAlerts;
use veille::model::{Month, Platform, Snapshot};

use super::fake_discord::*;
use super::support::spawn_app;

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
    let (gw_url, events, sent) = gateway(json!([])).await;
    let server = rest(&gw_url, Log::default(), true).await;
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

    // A member without Manage Server cannot move the classifier: told so, to them alone.
    events.send(button(3006, &button_id, "0")).expect("push");
    let refused = json_body(&wait_for(&server, 1, callback_of(3006)).await[0]);
    assert_eq!(refused["data"]["flags"], 64);
    let text = refused["data"]["content"].as_str().unwrap_or_default();
    assert!(text.contains("Gérer le serveur"), "{refused}");
    assert!(app
        .ctx()
        .store
        .corrections()
        .expect("corrections")
        .is_empty());
    // With it, a press records the correction with who made it.
    events.send(button(3005, &button_id, "32")).expect("push");
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

//! The real serenity bot against the fake Discord of `fake_discord.rs`. Each test waits for
//! what it checks (a request reaching the fake, a message count); "nothing posted twice" is
//! proved by a later message arriving after any duplicate would have (the poster delivers
//! oldest first).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::MockServer;

use veille::alerts::notify::Notifier;
use veille::alerts::EventKind;
use veille::commands::alerts::ServerAlerts;
use veille::commands::outbox::BotPost;
use veille::commands::status::Status;
use veille::commands::subscriptions::queue_positions;
use veille::config::Config;
use veille::model::{Lang, Month, Platform, Snapshot};

use super::fake_discord::*;
use super::support::{spawn_app, TestApp};

/// The bot connected to the fake Discord, its commands registered.
struct Running {
    events: tokio::sync::mpsc::UnboundedSender<Value>,
    gateway_frames: Arc<Mutex<Vec<Value>>>,
    server: MockServer,
    config: Config,
    test: TestApp,
    bot: Option<(Bot, tokio::sync::oneshot::Sender<()>)>,
}

/// Starts the bot on a new store; `limited`: the fake answers the first channel message 429.
async fn start(limited: bool) -> Running {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("VEILLE_LOG"))
        .with_test_writer()
        .try_init();
    let (gw_url, events, gateway_frames) = gateway(json!([])).await;
    let server = rest(&gw_url, Log::default(), limited).await;
    let mut config = Config::default();
    config.discord.api_url = server.uri();
    config.sources.bluesky.jetstream = false;
    // The configuration watches SNCF for every server.
    config.entities = crate::ingest::sncf();
    let test = spawn_app(config.clone(), config.entities.clone());
    let bot = start_bot(test.app.clone());
    wait_for(&server, 1, |r| r.method.as_str() == "PUT").await;
    Running {
        events,
        gateway_frames,
        server,
        config,
        test,
        bot: Some(bot),
    }
}

impl Running {
    /// Sends an interaction and returns the JSON of its callback.
    async fn interact(&self, event: Value) -> Value {
        let id: u64 = event["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("an id");
        self.events.send(event).expect("the gateway takes it");
        let callback = &wait_for(&self.server, 1, callback_of(id)).await[0];
        if callback.body.starts_with(b"--") {
            // A reply with a chart comes as multipart.
            multipart(callback).0
        } else {
            json_body(callback)
        }
    }

    /// Stops the bot: the shard closed, every task drained, the store flushed.
    async fn stop(&mut self) -> Status {
        let (bot, stop) = self.bot.take().expect("running");
        stop.send(()).expect("stop");
        let status = tokio::time::timeout(Duration::from_secs(30), bot)
            .await
            .expect("the bot stops in time")
            .expect("joined")
            .expect("a clean stop");
        assert!(status.failures.is_empty(), "{:?}", status.failures);
        status
    }

    /// Starts a new app and bot on the same store (a restart), its commands registered again.
    async fn restart(&mut self) {
        let ctx = veille::commands::Context::with_store(
            self.config.clone(),
            self.config.entities.clone(),
            self.test.app.ctx().store.clone(),
        )
        .expect("ctx");
        let app = Arc::new(veille::app::App::new(ctx));
        let puts = self.puts().await;
        self.bot = Some(start_bot(app.clone()));
        self.test.app = app;
        wait_for(&self.server, puts + 1, |r| r.method.as_str() == "PUT").await;
    }

    async fn puts(&self) -> usize {
        let all = self.server.received_requests().await.unwrap_or_default();
        all.iter().filter(|r| r.method.as_str() == "PUT").count()
    }

    fn alerts(&self) -> ServerAlerts {
        let app = &self.test.app;
        ServerAlerts::new(&app.ctx(), app.posts_ready.clone()).expect("notifier")
    }
}

const MANAGER: &str = "32";
const MEMBER: &str = "0";

fn watch_add(id: u64, name: &str) -> Value {
    interaction(
        id,
        "watch",
        json!([{"name": "add", "type": 1, "options": [opt("name", name)]}]),
        MANAGER,
    )
}

fn alerts_channel(id: u64) -> Value {
    interaction(
        id,
        "alerts",
        json!([{"name": "channel", "type": 1, "options": [{"name": "channel", "type": 7, "value": ALERTS}]}]),
        MANAGER,
    )
}

/// A console line giving every option of a registered command, by name.
fn line_of(path: &str, options: &[Value], lang_fr: bool) -> String {
    let mut line = format!("/{path}");
    for o in options {
        let name = if lang_fr {
            o["name_localizations"]["fr"]
                .as_str()
                .unwrap_or(o["name"].as_str().expect("name"))
        } else {
            o["name"].as_str().expect("name")
        };
        let value = match o["type"].as_u64() {
            Some(4) => o["min_value"].as_u64().unwrap_or(1).to_string(),
            Some(7) => "<#42>".to_string(),
            _ => o["choices"][0]["value"].as_str().unwrap_or("x").to_string(),
        };
        line.push_str(&format!(" {name}:{value}"));
    }
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_registers_exactly_what_the_console_accepts() {
    let mut bot = start(false).await;
    let put = wait_for(&bot.server, 1, |r| r.method.as_str() == "PUT").await;
    let registered = json_body(&put[0]);
    let identify = bot
        .gateway_frames
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

    // Every registered command, subcommand and option, as the console would take it, by its
    // English or French names.
    let fr = |v: &Value| {
        v["name_localizations"]["fr"]
            .as_str()
            .unwrap_or(v["name"].as_str().expect("name"))
            .to_string()
    };
    let mut registered_leaves = Vec::new();
    for c in registered.as_array().expect("a list") {
        let name = c["name"].as_str().expect("name");
        assert!(c["description_localizations"]["fr"].is_string(), "{c}");
        assert_eq!(c["contexts"], json!([0]), "guild only: {c}");
        let options = c["options"].as_array().cloned().unwrap_or_default();
        let leaves: Vec<(String, String, Vec<Value>)> = if options.iter().any(|o| o["type"] == 1) {
            options
                .iter()
                .map(|s| {
                    (
                        format!("{name} {}", s["name"].as_str().expect("sub")),
                        format!("{} {}", fr(c), fr(s)),
                        s["options"].as_array().cloned().unwrap_or_default(),
                    )
                })
                .collect()
        } else {
            vec![(name.to_string(), fr(c), options)]
        };
        for (path, path_fr, options) in leaves {
            for (path, in_french) in [(&path, false), (&path_fr, true)] {
                let line = line_of(path, &options, in_french);
                veille::front::console::parse(&line, Lang::Fr)
                    .unwrap_or_else(|e| panic!("the console refuses {line:?}: {e}"));
            }
            for (i, o) in options.iter().enumerate() {
                let mut without = options.clone();
                without.remove(i);
                let line = line_of(&path, &without, false);
                let parsed = veille::front::console::parse(&line, Lang::En);
                if o["required"] == true {
                    let e = parsed
                        .expect_err("a required option is missing")
                        .to_string();
                    assert!(
                        e.contains(&format!("missing {}", o["name"].as_str().expect("n"))),
                        "{line}: {e}"
                    );
                } else {
                    parsed.unwrap_or_else(|e| panic!("{line:?} is refused: {e}"));
                }
            }
            let usage: Vec<String> = options
                .iter()
                .map(|o| {
                    let n = o["name"].as_str().expect("name");
                    if o["required"] == true {
                        n.to_string()
                    } else {
                        format!("[{n}]")
                    }
                })
                .collect();
            registered_leaves.push(
                format!("/{path} {}", usage.join(" "))
                    .trim_end()
                    .to_string(),
            );
        }
    }
    assert_eq!(
        registered
            .as_array()
            .expect("list")
            .iter()
            .find(|c| c["name"] == "subscribe")
            .expect("subscribe")["default_member_permissions"],
        "32",
        "Discord shows /subscribe only to those who may use it"
    );

    // Every command the console lists, with its options and which are required, is registered.
    let console = veille::commands::Caller::console(Lang::En);
    let help = veille::front::console::answer(&bot.test.app, &console, "/help").expect("help");
    let listed: Vec<String> = help
        .lines()
        .skip(1)
        .map(|l| l.split(" — ").next().expect("usage").trim_end().to_string())
        .collect();
    assert!(
        listed.contains(&"/rank category platform [metric] [month] [top]".to_string()),
        "{listed:?}"
    );
    assert_eq!(listed, registered_leaves);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_commands_answer_with_embeds_and_settings_need_manage_server() {
    let mut bot = start(false).await;

    // /rank villes twitter: an embed whose first row is Toulouse, in pages, pinging nobody.
    let reply = bot
        .interact(interaction(
            3000,
            "rank",
            json!([opt("category", "villes"), opt("platform", "twitter")]),
            MEMBER,
        ))
        .await;
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

    // ◀ ▶ turn the pages in place, both ways; a button nobody keeps says so to the presser.
    let buttons = &reply["data"]["components"][0]["components"];
    let (prev, next) = (
        buttons[0]["custom_id"].as_str().expect("◀").to_string(),
        buttons[1]["custom_id"].as_str().expect("▶").to_string(),
    );
    let page = |r: &Value| {
        assert_eq!(r["type"], 7, "the message is updated: {r}");
        r["data"]["embeds"][0]["footer"]["text"]
            .as_str()
            .expect("footer")
            .to_string()
    };
    let turned = bot.interact(button(3005, &next, MEMBER)).await;
    assert!(page(&turned).contains("page 2/3"), "{turned}");
    let back = bot.interact(button(3006, &prev, MEMBER)).await;
    assert!(page(&back).contains("page 1/3"), "{back}");
    let gone = bot
        .interact(button(3007, "veille:p:999:next", MEMBER))
        .await;
    assert_eq!(gone["data"]["flags"], 64, "{gone}");
    assert!(gone["data"]["content"]
        .as_str()
        .is_some_and(|t| t.contains("relancez la commande")));

    // /subscribe without Manage Server is refused, briefly and to the caller alone.
    let subscribe = |id, permissions| {
        interaction(
            id,
            "subscribe",
            json!([
                opt("account", "gersledepartement"),
                opt("platform", "instagram")
            ]),
            permissions,
        )
    };
    let refused = bot.interact(subscribe(3001, MEMBER)).await;
    assert_eq!(refused["data"]["flags"], 64, "ephemeral: {refused}");
    assert!(
        refused["data"]["content"]
            .as_str()
            .expect("content")
            .contains("Gérer le serveur"),
        "{refused}"
    );
    let store = bot.test.app.ctx().store.clone();
    assert!(store.subscriptions(None).expect("subs").is_empty());

    // With Manage Server (0x20): subscribed, with the latest position in the reply.
    let ok = bot.interact(subscribe(3002, MANAGER)).await;
    let embed = &ok["data"]["embeds"][0];
    assert!(
        embed["title"]
            .as_str()
            .expect("title")
            .contains("Abonnement"),
        "{ok}"
    );
    assert!(
        embed["description"]
            .as_str()
            .expect("description")
            .contains("1er des départements"),
        "{ok}"
    );
    assert_eq!(store.subscriptions(None).expect("subs").len(), 1);

    // A mistyped value is explained to the caller alone.
    let bad = bot
        .interact(interaction(
            3003,
            "rank",
            json!([opt("category", "vilels"), opt("platform", "twitter")]),
            MEMBER,
        ))
        .await;
    assert_eq!(bad["data"]["flags"], 64);
    assert!(
        bad["data"]["content"]
            .as_str()
            .expect("content")
            .contains("vouliez-vous dire villes"),
        "{bad}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_reaches_its_channel_once_with_its_chart_and_pings_nobody() {
    let mut bot = start(true).await;
    bot.interact(watch_add(3003, "SNCF")).await;
    let set = bot.interact(alerts_channel(3004)).await;
    assert!(
        set["data"]["embeds"][0]["description"]
            .as_str()
            .unwrap_or_default()
            .contains(ALERTS),
        "{set}"
    );

    // The first attempt is rate limited and waited out.
    let notifier = bot.alerts();
    let alert = alert_out("@everyone Encore un train annulé <@&123>, honteux");
    notifier.notify(&alert).expect("queued");
    let posts = wait_for(&bot.server, 2, is_channel_post).await;
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
    assert!(payload["components"][0]["components"][0]["custom_id"]
        .as_str()
        .expect("a correction button")
        .starts_with("veille:v:c:post:"));

    // The same event notified again (a restart before the outbox was acknowledged) owes
    // nothing; a later alert arrives after any duplicate would have, and alone.
    let store = bot.test.app.ctx().store.clone();
    let owed = |store: &veille::store::Store| -> Vec<u64> {
        let pending: Vec<(u64, BotPost)> = store.pending_posts().expect("outbox");
        pending.into_iter().map(|(id, _)| id).collect()
    };
    let before = owed(&store);
    notifier.notify(&alert).expect("again");
    let after = owed(&store);
    assert!(
        after.iter().all(|id| before.contains(id)),
        "nothing new is owed: {before:?} then {after:?}"
    );
    let mut later = alert_out("Encore un retard");
    later.event.alert_id = "SNCF@2".into();
    notifier.notify(&later).expect("queued");
    let posts = wait_for(&bot.server, 3, is_channel_post).await;
    assert_eq!(posts.len(), 3, "one retried message, then the later alert");
    let (later_payload, _) = multipart(&posts[2]);
    assert!(
        later_payload["embeds"][0]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("Encore un retard"),
        "{later_payload}"
    );

    // That alert closes, resumes (« reprise », the same alert) and closes again: each
    // event is a message of its own, the second close included.
    let at = |o: &veille::alerts::Outgoing, kind, hours| {
        let mut o = o.clone();
        o.event.event = kind;
        o.event.at += chrono::Duration::hours(hours);
        o
    };
    for (kind, hours) in [
        (EventKind::Close, 1),
        (EventKind::Resume, 3),
        (EventKind::Close, 5),
    ] {
        notifier.notify(&at(&later, kind, hours)).expect("queued");
    }
    let posts = wait_for(&bot.server, 6, is_channel_post).await;
    assert_eq!(posts.len(), 6, "close, reprise, close");
    let (resumed, png) = multipart(&posts[4]);
    assert!(png, "a reprise has its chart");
    let title = resumed["embeds"][0]["title"].as_str().unwrap_or_default();
    assert!(title.contains("Reprise du bad buzz"), "{resumed}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_button_needs_manage_server_and_records_who_pressed_it() {
    let mut bot = start(false).await;
    let reply = bot
        .interact(interaction(
            3010,
            "classify",
            json!([opt("text", "Encore un train annulé, une honte")]),
            MEMBER,
        ))
        .await;
    let button_id = reply["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .expect("a « Critique » button")
        .to_string();
    let store = bot.test.app.ctx().store.clone();

    // A member without Manage Server cannot move the classifier: told so, to them alone.
    let refused = bot.interact(button(3011, &button_id, MEMBER)).await;
    assert_eq!(refused["data"]["flags"], 64);
    let text = refused["data"]["content"].as_str().unwrap_or_default();
    assert!(text.contains("Gérer le serveur"), "{refused}");
    assert!(store.corrections().expect("corrections").is_empty());

    // With it, a press records the correction with who made it.
    let thanks = bot.interact(button(3012, &button_id, MANAGER)).await;
    assert_eq!(thanks["data"]["flags"], 64);
    let corrections = store.corrections().expect("corrections");
    assert_eq!(corrections.len(), 1);
    assert_eq!(corrections[0].by, "discord:6001");
    assert_eq!(corrections[0].label, veille::model::Label::Critical);
    assert_eq!(corrections[0].text, "Encore un train annulé, une honte");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monthly_position_is_posted_once_even_across_a_restart() {
    let mut bot = start(false).await;
    bot.interact(interaction(
        3020,
        "subscribe",
        json!([
            opt("account", "gersledepartement"),
            opt("platform", "instagram")
        ]),
        MANAGER,
    ))
    .await;
    let month = |m: u32| {
        let snap = Snapshot {
            published_ranks: [("departements".to_string(), 1)].into_iter().collect(),
            source: "test".into(),
            ..Snapshot::default()
        };
        (Month::new(2021, m).expect("month"), snap)
    };

    // A new month's figures: its position is owed once, and posted.
    let (july, snap) = month(7);
    let ctx = bot.test.app.ctx();
    ctx.store
        .put_snapshots([(Platform::Instagram, "gersledepartement", july, &snap)])
        .expect("snapshot");
    assert_eq!(queue_positions(&ctx).expect("queue"), 1);
    assert_eq!(queue_positions(&ctx).expect("queue"), 0);
    bot.test.app.posts_ready.notify_one();
    let posts = wait_for(&bot.server, 1, is_channel_post).await;
    assert_eq!(
        posts[0].url.path(),
        format!("/api/v10/channels/{CHANNEL}/messages")
    );
    let monthly = json_body(&posts[0]);
    assert!(
        monthly["embeds"][0]["description"]
            .as_str()
            .expect("text")
            .contains("pour le 7e mois consécutif"),
        "{monthly}"
    );

    // A restart on the same store owes July again to no one: August's position, queued
    // after the restart, is the next message the channel receives.
    bot.stop().await;
    bot.restart().await;
    let (august, snap) = month(8);
    let ctx = bot.test.app.ctx();
    ctx.store
        .put_snapshots([(Platform::Instagram, "gersledepartement", august, &snap)])
        .expect("snapshot");
    assert_eq!(queue_positions(&ctx).expect("queue"), 1, "August only");
    bot.test.app.posts_ready.notify_one();
    let posts = wait_for(&bot.server, 2, is_channel_post).await;
    assert_eq!(posts.len(), 2, "July once, then August");
    let next = json_body(&posts[1]);
    assert!(
        next["embeds"][0]["description"]
            .as_str()
            .expect("text")
            .contains("pour le 8e mois consécutif"),
        "{next}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_the_bot_cannot_post_in_is_refused_when_chosen_and_reported_when_refused_later() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let mut bot = start(false).await;
    // Channel 4200: the bot's role is denied Send Messages there.
    let role = |id: &str, perms: &str| {
        json!({"id": id, "name": "r", "color": 0, "colors": {"primary_color": 0}, "hoist": false,
            "managed": false, "mentionable": false, "permissions": perms, "position": 1})
    };
    Mock::given(method("GET"))
        .and(path(format!("/api/v10/guilds/{GUILD}/roles")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([role(GUILD, "52224"), role("77", "0")])),
        )
        .mount(&bot.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v10/guilds/{GUILD}/members/1000")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user": {"id": "1000", "username": "veille"},
            "roles": ["77"], "deaf": false, "mute": false, "flags": 0, "joined_at": "2025-01-01T00:00:00Z"})))
        .mount(&bot.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v10/channels/4200"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "4200", "type": 0, "guild_id": GUILD,
            "name": "alertes", "position": 1,
            "permission_overwrites": [{"id": "77", "type": 0, "allow": "0", "deny": "2048"}]}),
        ))
        .mount(&bot.server)
        .await;
    let choose = |id: u64, channel: &str| {
        interaction(
            id,
            "alerts",
            json!([{"name": "channel", "type": 1, "options": [{"name": "channel", "type": 7, "value": channel}]}]),
            MANAGER,
        )
    };

    // Chosen: refused, naming what is missing; nothing changes.
    let refused = bot.interact(choose(3030, "4200")).await;
    assert_eq!(refused["data"]["flags"], 64);
    let text = refused["data"]["content"].as_str().unwrap_or_default();
    assert!(
        text.contains(
            "Veille ne peut pas poster dans <#4200> : il lui manque « Envoyer des messages »"
        ),
        "{refused}"
    );
    let store = bot.test.app.ctx().store.clone();
    let guild: u64 = GUILD.parse().expect("id");
    assert_eq!(
        store
            .server_settings(guild)
            .expect("settings")
            .alert_channel,
        None
    );

    // Channel 4300 looks fine when chosen, but Discord refuses the alert when it is posted.
    Mock::given(method("POST"))
        .and(path("/api/v10/channels/4300/messages"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Missing Permissions", "code": 50013})),
        )
        .with_priority(1)
        .mount(&bot.server)
        .await;
    bot.interact(watch_add(3031, "SNCF")).await;
    bot.interact(choose(3032, "4300")).await;
    bot.alerts()
        .notify(&alert_out("Encore un retard"))
        .expect("queued");
    for _ in 0..400 {
        if !store
            .blocked_channels(Some(guild))
            .expect("refused")
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let status = bot
        .interact(interaction(
            3033,
            "alerts",
            json!([{"name": "status", "type": 1, "options": []}]),
            MEMBER,
        ))
        .await;
    let fields = status["data"]["embeds"][0]["fields"].to_string();
    assert!(
        fields.contains("Veille ne peut plus poster dans <#4300>"),
        "{status}"
    );
    let owed: Vec<(u64, BotPost)> = store.pending_posts().expect("outbox");
    assert_eq!(owed.len(), 1, "the alert is still owed");
    bot.stop().await;
}

/// An interaction of another server (guild `guild`).
fn in_guild(mut event: Value, guild: &str) -> Value {
    event["guild_id"] = json!(guild);
    event
}

/// The names suggested to a server typing `typed` as /buzz's name.
async fn suggested(bot: &Running, id: u64, guild: &str, typed: &str) -> Vec<String> {
    let typing = json!([{"name": "name", "type": 3, "value": typed, "focused": true}]);
    suggested_in(bot, id, guild, "buzz", typing).await
}

/// The values suggested to a server typing the focused option of `options` of `command`.
async fn suggested_in(
    bot: &Running,
    id: u64,
    guild: &str,
    command: &str,
    options: Value,
) -> Vec<String> {
    let mut event = in_guild(interaction(id, command, options, MEMBER), guild);
    event["type"] = json!(4);
    let answer = bot.interact(event).await;
    assert_eq!(answer["type"], 8, "{answer}");
    answer["data"]["choices"]
        .as_array()
        .expect("choices")
        .iter()
        .filter_map(|c| c["value"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_never_see_each_other_s_names_but_both_see_the_configuration_s() {
    let mut bot = start(false).await;
    // Server 5000 watches a brand of its own; server 5001 does not.
    bot.interact(watch_add(3040, "Brasserie Secrète")).await;
    bot.test.app.rewatch();

    // Suggestions while typing: the owner sees its name, the other server does not.
    let mine = suggested(&bot, 3041, GUILD, "bras").await;
    assert_eq!(mine, ["Brasserie Secrète"]);
    let theirs = suggested(&bot, 3042, "5001", "bras").await;
    assert!(theirs.is_empty(), "{theirs:?}");

    // /buzz: the other server is answered as for a name nobody watches.
    let buzz = |id: u64, guild: &str, name: &str| {
        in_guild(
            interaction(id, "buzz", json!([opt("name", name)]), MEMBER),
            guild,
        )
    };
    let refused = bot.interact(buzz(3043, "5001", "Brasserie Secrète")).await;
    let text = refused["data"]["content"].as_str().unwrap_or_default();
    assert!(text.contains("n'est pas un nom surveillé"), "{refused}");
    assert!(!text.contains("noms surveillés : Brasserie"), "{refused}");

    // Both read a name the configuration watches for everyone.
    let config_names: Vec<String> = bot.config.entities.iter().map(|e| e.name.clone()).collect();
    assert_eq!(config_names, ["SNCF"]);
    for (id, guild) in [(3044, GUILD), (3045, "5001")] {
        let answer = bot.interact(buzz(id, guild, "SNCF")).await;
        assert!(
            answer["data"]["embeds"][0]["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("SNCF")),
            "{answer}"
        );
    }
    // /watch remove suggests only what the server can remove: its own list.
    let typing = json!([{"name": "remove", "type": 1, "options": [
        {"name": "name", "type": 3, "value": "", "focused": true}]}]);
    let removable = suggested_in(&bot, 3046, GUILD, "watch", typing.clone()).await;
    assert_eq!(removable, ["Brasserie Secrète"]);
    let removable = suggested_in(&bot, 3047, "5001", "watch", typing).await;
    assert!(removable.is_empty(), "{removable:?}");
    bot.stop().await;
}

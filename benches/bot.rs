//! The Discord bot's targets, measured against the fake Discord of the integration tests:
//! how long each slash command takes from the event leaving the gateway to its answer
//! reaching the API (Discord wants one within 3 s), how long an alert takes from the
//! notifier to the channel, and the resident memory with 1,000 watched names over 100
//! servers. Prints a table; `cargo bench --bench bot`.

#[path = "../tests/it/fake_discord.rs"]
mod fake_discord;
#[path = "support/measure.rs"]
mod measure;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use fake_discord::*;
use measure::{memory_of, ms, percentile};
use veille::alerts::notify::Notifier;
use veille::config::Config;
use veille::model::{EntityKind, EntitySpec};
use veille::store::servers::ServerSettings;
use veille::store::Store;

const NAMES_PER_SERVER: u64 = 10;

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Runs per figure under `cargo bench`; `cargo test --all-targets` runs this file once as a
/// smoke test (no `--bench` argument), with one run each and ten servers.
fn runs() -> usize {
    if full() {
        30
    } else {
        1
    }
}

/// Servers, each watching [`NAMES_PER_SERVER`] names.
fn servers() -> u64 {
    if full() {
        100
    } else {
        10
    }
}

fn main() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("VEILLE_LOG"))
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let rss_start = memory_of("self").0;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = Log::default();
    let guilds: Vec<Value> = (1..=servers())
        .map(|g| json!({"id": (5000 + g).to_string(), "unavailable": true}))
        .collect();
    let (gw_url, events, _) = gateway(json!(guilds)).await;
    let server = rest(&gw_url, log.clone(), false).await;
    let mut config = Config::default();
    config.store.path = dir.path().join("db");
    config.discord.api_url = server.uri();
    config.sources.bluesky.jetstream = false;
    config.alerts.charts_dir = dir.path().join("charts");
    let store = Store::open(&config.store.path).expect("store");
    for g in 1..=servers() {
        let guild = 5000 + g;
        for k in 0..NAMES_PER_SERVER {
            let n = g * NAMES_PER_SERVER + k;
            store
                .put_watched(
                    guild,
                    &EntitySpec {
                        name: format!("Marque {n:04}"),
                        kind: EntityKind::Brand,
                        aliases: vec![format!("@marque{n:04}"), format!("#marque{n:04}")],
                        ambiguous: false,
                        exclude: Vec::new(),
                    },
                )
                .expect("watch");
        }
        store
            .put_server_settings(
                guild,
                &ServerSettings {
                    alert_channel: Some(9000 + g),
                    ..ServerSettings::default()
                },
            )
            .expect("settings");
    }
    let ctx = veille::commands::Context::with_store(config.clone(), config.entities.clone(), store)
        .expect("context");
    let app = Arc::new(veille::app::App::new(ctx));
    let names = app.watched_union().expect("union").len();
    let (bot, stop) = start_bot(app.clone());
    wait_for(&server, 1, |r| r.method.as_str() == "PUT").await;
    let commands: Vec<(&str, Value)> = vec![
        (
            "/rank villes twitter",
            json!([{"name": "category", "type": 3, "value": "villes"}, {"name": "platform", "type": 3, "value": "twitter"}]),
        ),
        (
            "/position gersledepartement",
            json!([{"name": "account", "type": 3, "value": "gersledepartement"}]),
        ),
        (
            "/classify",
            json!([{"name": "text", "type": 3, "value": "@SNCF encore un train annulé, toujours pas remboursé"}]),
        ),
        (
            "/buzz Marque 0010",
            json!([{"name": "name", "type": 3, "value": "Marque 0010"}]),
        ),
        ("/status", json!([])),
        (
            "/watch list",
            json!([{"name": "list", "type": 1, "options": []}]),
        ),
    ];
    let mut id = 100_000u64;
    println!(
        "Discord bot against the fake Discord on 127.0.0.1 ({} servers, {names} watched names, {} runs each)",
        servers(),
        runs()
    );
    println!(
        "{:<30} {:>9} {:>9} {:>9}",
        "command (event → answer)", "p50 ms", "p99 ms", "max ms"
    );
    for (label, options) in &commands {
        let name = label
            .trim_start_matches('/')
            .split(' ')
            .next()
            .unwrap_or_default();
        let name = if *label == "/watch list" {
            "watch"
        } else {
            name
        };
        let mut took = Vec::new();
        for _ in 0..runs() {
            id += 1;
            let mut ev = interaction(id, name, options.clone(), "32");
            ev["guild_id"] = json!("5001");
            let t0 = Instant::now();
            events.send(ev).expect("push");
            let path = format!("/api/v10/interactions/{id}/tok{id}/callback");
            let t = received(&log, t0, |p| p == path, Duration::from_secs(20))
                .await
                .expect("an answer");
            took.push(t - t0);
        }
        // The answer is the command's, not an error.
        let reqs = server.received_requests().await.unwrap_or_default();
        let last = reqs
            .iter()
            .rev()
            .find(|r| r.url.path().contains("/callback"))
            .expect("an answer");
        let body = String::from_utf8_lossy(&last.body);
        assert!(!body.contains('⚠'), "{label} answered an error: {body}");
        took.sort();
        println!(
            "{:<30} {:>9} {:>9} {:>9}",
            label,
            ms(percentile(&took, 0.5)),
            ms(percentile(&took, 0.99)),
            ms(*took.last().expect("runs"))
        );
    }
    // Alerts: from the notifier to the channel message at the fake (chart drawn on the way).
    let notifier = veille::commands::alerts::ServerAlerts::new(&app.ctx(), app.posts_ready.clone())
        .expect("notifier");
    let mut took = Vec::new();
    for i in 0..runs() {
        let mut out = alert_out("Encore un train annulé, honteux");
        out.event.entity = "Marque 0010".into();
        out.event.alert_id = format!("Marque 0010@{i}");
        let t0 = Instant::now();
        notifier.notify(&out).expect("queued");
        let t = received(
            &log,
            t0,
            |p| p == "/api/v10/channels/9001/messages",
            Duration::from_secs(20),
        )
        .await
        .expect("the alert");
        took.push(t - t0);
    }
    took.sort();
    println!(
        "{:<30} {:>9} {:>9} {:>9}",
        "alert: notifier → channel",
        ms(percentile(&took, 0.5)),
        ms(percentile(&took, 0.99)),
        ms(*took.last().expect("runs"))
    );
    println!(
        "resident memory: {:.1} MiB at start, {:.1} MiB with the bot connected after {} commands and {} alerts",
        rss_start,
        memory_of("self").0,
        commands.len() * runs(),
        runs()
    );
    stop.send(()).expect("stop");
    bot.await.expect("joined").expect("a clean stop");
}

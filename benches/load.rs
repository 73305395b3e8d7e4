//! Under load: `veille run` (the real binary, with the bot) against the fake Discord of the
//! integration tests and a fake Jetstream publishing posts at a steady rate, with watched
//! names spread over many servers. Meanwhile slash commands arrive every second and bursts
//! of criticism hit names nobody else mentions. Prints whether every post published was
//! stored, veille's resident memory over time, how long commands took to be answered and
//! how long each burst took to reach its server's alert channel.
//!
//! `cargo bench --bench load`: 2,000 posts a second for 10 minutes, 1,000 names over 100
//! servers. Under `cargo test --all-targets` it runs for a few seconds as a smoke test.

#[path = "support/corpus.rs"]
mod corpus;
#[path = "../tests/it/fake_discord.rs"]
mod fake_discord;
#[path = "support/measure.rs"]
mod measure;
#[path = "support/ws.rs"]
mod ws;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, Request, ResponseTemplate};

use fake_discord::*;
use measure::{memory_of, ms, percentile};
use veille::model::{EntityKind, EntitySpec};
use veille::store::servers::ServerSettings;
use veille::store::Store;

/// What one run does.
struct Plan {
    servers: u64,
    names_per_server: u64,
    /// Posts a second.
    rate: u64,
    secs: u64,
    /// Seconds between two bursts, the first one after `warmup`.
    burst_every: u64,
    warmup: u64,
    /// Critical posts in a burst, sent back to back.
    burst_posts: usize,
    /// Between two commands.
    command_every: Duration,
    /// After the last post, before veille is stopped: time to store it and alert.
    settle: Duration,
    /// Whether background posts name watched names (one in five); without, veille counts
    /// them but keeps none, and only the bursts are kept.
    mentions: bool,
}

/// `VEILLE_LOAD_SECS` shortens (or lengthens) the full run; `VEILLE_LOAD_STDOUT` names a
/// file for what veille prints; `VEILLE_LOAD_MENTIONS=0` leaves watched names out of the
/// background posts (what memory does when the store's kept posts do not grow).
fn plan() -> Plan {
    let mentions = std::env::var("VEILLE_LOAD_MENTIONS").map_or(true, |v| v != "0");
    if std::env::args().any(|a| a == "--bench") {
        Plan {
            servers: 100,
            names_per_server: 10,
            rate: 2_000,
            secs: std::env::var("VEILLE_LOAD_SECS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(600),
            burst_every: 18,
            warmup: 60,
            burst_posts: 40,
            command_every: Duration::from_secs(1),
            settle: Duration::from_secs(3),
            mentions,
        }
    } else {
        Plan {
            servers: 4,
            names_per_server: 10,
            rate: 200,
            secs: 3,
            burst_every: 2,
            warmup: 1,
            burst_posts: 40,
            command_every: Duration::from_millis(500),
            settle: Duration::from_millis(1500),
            mentions,
        }
    }
}

/// The watched name `i`: distinct, unambiguous, with a handle.
fn name(i: u64) -> EntitySpec {
    const SYL: &[&str] = &[
        "bel", "mont", "val", "roc", "fort", "ker", "pra", "sau", "ger", "mar", "cha", "tau",
        "vin", "ber", "nac", "lan",
    ];
    let mut s = String::from("Marque");
    let mut n = i;
    for _ in 0..3 {
        s.push_str(SYL[(n % 16) as usize]);
        n /= 16;
    }
    EntitySpec {
        aliases: vec![format!("@{}", s.to_lowercase())],
        name: s,
        kind: EntityKind::Brand,
        ambiguous: false,
        exclude: Vec::new(),
    }
}

const CRITICAL: &[&str] = &[
    "@{} vol annulé, 3h d'attente et toujours pas de réponse du service client. Une honte",
    "Still waiting for my refund from {}, customer service is useless. Never again.",
];
const NEUTRAL: &[&str] = &[
    "Belle balade à {} ce matin avec les enfants, le marché était magnifique !",
    "Réunion publique jeudi soir à 19h à la salle des fêtes de {} sur le budget, venez nombreux.",
    "Great weekend in {} with old friends, the food was amazing",
    "Le nouveau site de {} est en ligne, avec les horaires d'été",
];
const PLAIN: &[&str] = &[
    "Je viens de finir mon café, direction le bureau pour une longue journée de réunions",
    "Anyone knows a good pizza place around here? Looking for something open late tonight",
    "Quel beau coucher de soleil ce soir sur la plage, il fait encore bon pour la saison",
    "New blog post about our trip to the mountains is up, link in bio",
    "On regarde le match ce soir ? Rendez-vous au bar habituel vers vingt heures trente",
];

/// Makes Jetstream frames: one post in five names a background name, one in three of those
/// is critical.
struct Frames {
    seq: u64,
    last_us: i64,
    rng: corpus::Rng,
    background: Vec<String>,
}

impl Frames {
    fn frame(&mut self, text: &str) -> String {
        let now = chrono::Utc::now();
        self.last_us = (self.last_us + 1).max(now.timestamp_micros());
        self.seq += 1;
        json!({"did": format!("did:plc:u{}", self.seq % 5000), "time_us": self.last_us, "kind": "commit",
            "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.post",
                "rkey": format!("k{}", self.seq),
                "record": {"$type": "app.bsky.feed.post",
                    "createdAt": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "langs": ["fr"], "text": text}}})
        .to_string()
    }

    fn background(&mut self, mentions: bool) -> String {
        let r = self.rng.next_u64();
        let text = if mentions && r % 5 == 0 {
            let who = self.background[(r / 5 % self.background.len() as u64) as usize].clone();
            let t = if (r / 7) % 3 == 0 {
                CRITICAL[(r / 21 % CRITICAL.len() as u64) as usize]
            } else {
                NEUTRAL[(r / 21 % NEUTRAL.len() as u64) as usize]
            };
            t.replace("{}", &who)
        } else {
            PLAIN[(r / 5 % PLAIN.len() as u64) as usize].to_string()
        };
        self.frame(&text)
    }
}

/// Each channel message the fake Discord received: when, its channel, its body.
type Messages = Arc<Mutex<Vec<(Instant, String, String)>>>;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(plan()));
}

async fn run(plan: Plan) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    let n_names = plan.servers * plan.names_per_server;
    let names: Vec<EntitySpec> = (0..n_names).map(name).collect();
    let bursts = (plan.secs.saturating_sub(plan.warmup) / plan.burst_every).max(1);
    // Burst names are spread over the servers and get no other post.
    let stride = (n_names / bursts).max(1);
    let burst_names: Vec<u64> = (0..bursts).map(|k| (k * stride + 3) % n_names).collect();
    {
        let store = Store::open(&db).expect("store");
        for g in 1..=plan.servers {
            for k in 0..plan.names_per_server {
                store
                    .put_watched(
                        5000 + g,
                        &names[((g - 1) * plan.names_per_server + k) as usize],
                    )
                    .expect("watch");
            }
            store
                .put_server_settings(
                    5000 + g,
                    &ServerSettings {
                        alert_channel: Some(9000 + g),
                        ..ServerSettings::default()
                    },
                )
                .expect("settings");
        }
        store.flush().expect("flush");
    }

    // The fakes.
    let log = Log::default();
    let guilds: Vec<Value> = (1..=plan.servers)
        .map(|g| json!({"id": (5000 + g).to_string(), "unavailable": true}))
        .collect();
    let (gw_url, events, _) = gateway(json!(guilds)).await;
    let discord = rest(&gw_url, log.clone(), false).await;
    let messages: Messages = Arc::default();
    let m = messages.clone();
    Mock::given(method("POST"))
        .and(path_regex(r"^/api/v10/channels/\d+/messages$"))
        .respond_with(move |req: &Request| {
            let channel = req.url.path().split('/').nth(4).unwrap_or_default();
            m.lock().expect("lock").push((
                Instant::now(),
                channel.to_string(),
                String::from_utf8_lossy(&req.body).into_owned(),
            ));
            ResponseTemplate::new(200).set_body_json(message_json(channel))
        })
        .with_priority(1)
        .mount(&discord)
        .await;
    let (jet_url, jet, jet_counts) = ws::publisher().await;

    // veille run, with the bot.
    let stderr_path = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_veille"))
        .arg("run")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("VEILLE_STORE__PATH", &db)
        .env("VEILLE_DISCORD__API_URL", discord.uri())
        .env("VEILLE_SOURCES__BLUESKY__JETSTREAM_URL", &jet_url)
        .env("VEILLE_ALERTS__CHARTS_DIR", dir.path().join("charts"))
        .env("DISCORD_TOKEN", "load-token")
        .env_remove("X_BEARER_TOKEN")
        .env_remove("INSTAGRAM_ACCESS_TOKEN")
        .stdin(Stdio::null())
        // What veille prints (alerts, in the console's words), kept where asked.
        .stdout(
            std::env::var_os("VEILLE_LOAD_STDOUT").map_or_else(Stdio::null, |p| {
                Stdio::from(std::fs::File::create(p).expect("the stdout file"))
            }),
        )
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("veille run starts");
    let pid = child.id().to_string();
    let started = Instant::now();
    wait_for(&discord, 1, |r| r.method.as_str() == "PUT").await;
    for _ in 0..2000 {
        if jet_counts.lock().expect("lock").0 > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        jet_counts.lock().expect("lock").0 > 0,
        "veille connected to the Jetstream fake"
    );
    let ready = started.elapsed();

    // Commands, one at a time, while the posts flow.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let commands = {
        let (stop, log, events, every) = (
            stop.clone(),
            log.clone(),
            events.clone(),
            plan.command_every,
        );
        let (servers, per) = (plan.servers, plan.names_per_server);
        tokio::spawn(async move {
            let mut took: Vec<(Duration, &'static str)> = Vec::new();
            let mut id = 1_000_000u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                id += 1;
                let g = 1 + id % servers;
                let watched = name((g - 1) * per + id % per).name;
                let (label, cmd, options) = match id % 6 {
                    0 => ("/buzz", "buzz", json!([opt("name", &watched)])),
                    1 => ("/status", "status", json!([])),
                    2 => (
                        "/rank",
                        "rank",
                        json!([opt("category", "villes"), opt("platform", "twitter")]),
                    ),
                    3 => (
                        "/watch list",
                        "watch",
                        json!([{"name": "list", "type": 1, "options": []}]),
                    ),
                    4 => (
                        "/alerts status",
                        "alerts",
                        json!([{"name": "status", "type": 1, "options": []}]),
                    ),
                    _ => (
                        "/classify",
                        "classify",
                        json!([opt(
                            "text",
                            "@SNCF encore un train annulé, toujours pas remboursé"
                        )]),
                    ),
                };
                let mut ev = interaction(id, cmd, options, "32");
                ev["guild_id"] = json!((5000 + g).to_string());
                let t0 = Instant::now();
                events.send(ev).expect("the gateway fake");
                let path = format!("/api/v10/interactions/{id}/tok{id}/callback");
                let t = received(&log, t0, |p| p == path, Duration::from_secs(10)).await;
                took.push((t.map_or(Duration::from_secs(10), |t| t - t0), label));
                tokio::time::sleep(every).await;
            }
            took
        })
    };

    // Memory, every 5 seconds.
    let memory = {
        let (stop, pid) = (stop.clone(), pid.clone());
        tokio::spawn(async move {
            let t0 = Instant::now();
            let mut samples = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                samples.push((t0.elapsed(), memory_of(&pid).0));
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            samples.push((t0.elapsed(), memory_of(&pid).0));
            samples
        })
    };

    // The posts: every 10 ms, what the rate owes by then; a burst every `burst_every` s.
    let background: Vec<String> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| !burst_names.contains(&(*i as u64)))
        .map(|(_, n)| n.name.clone())
        .collect();
    let mut frames = Frames {
        seq: 0,
        last_us: 0,
        rng: corpus::Rng::new(0x9e37_79b9_7f4a_7c15),
        background,
    };
    let mut published = 0u64;
    // When each burst left (and at what UTC time, to find it in the store), and its name.
    let mut sent_bursts: Vec<(Instant, u64)> = Vec::new();
    let mut burst_times: Vec<String> = Vec::new();
    let t0 = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut late = Duration::ZERO;
    while t0.elapsed() < Duration::from_secs(plan.secs) {
        tick.tick().await;
        let elapsed = t0.elapsed();
        let owed = (elapsed.as_secs_f64() * plan.rate as f64) as u64;
        let mut batch: Vec<String> = (published..owed)
            .map(|_| frames.background(plan.mentions))
            .collect();
        let k = sent_bursts.len() as u64;
        if k < bursts && elapsed >= Duration::from_secs(plan.warmup + k * plan.burst_every) {
            let who = &names[burst_names[k as usize] as usize];
            for i in 0..plan.burst_posts {
                batch.push(frames.frame(&CRITICAL[i % CRITICAL.len()].replace("{}", &who.name)));
            }
            sent_bursts.push((Instant::now(), burst_names[k as usize]));
            burst_times.push(chrono::Utc::now().format("%H:%M:%S UTC").to_string());
        }
        published += batch.len() as u64;
        jet.send(batch).expect("the Jetstream fake");
        let written = jet_counts.lock().expect("lock").1;
        if published > written + plan.rate {
            late = late.max(Duration::from_secs_f64(
                (published - written) as f64 / plan.rate as f64,
            ));
        }
    }
    let publishing = t0.elapsed();
    // Every frame written to the socket, then time for veille to store the last batch.
    while jet_counts.lock().expect("lock").1 < published {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(plan.settle).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let took = commands.await.expect("commands");
    let samples = memory.await.expect("memory");
    let (_, peak) = memory_of(&pid);
    // SAFETY: a signal to the child this function started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("veille run ends");
    let mut stderr = String::new();
    let _ = std::fs::File::open(&stderr_path).and_then(|mut f| f.read_to_string(&mut stderr));
    assert!(status.success(), "veille run failed: {stderr}");

    // Every post stored once: the store's count of posts read.
    let store = Store::open(&db).expect("store");
    let (stored, kept) = store
        .counts(veille::store::ALL_POSTS, 0, i64::MAX / 8)
        .expect("counts")
        .iter()
        .fold((0, 0), |(p, k), (_, c)| (p + c.posts, k + c.mentioning));
    let connections = jet_counts.lock().expect("lock").0;

    // Each burst's first message in its server's channel that names it.
    let messages = messages.lock().expect("lock").clone();
    let mut latencies = Vec::new();
    let mut missed = Vec::new();
    for ((at, i), when) in sent_bursts.iter().zip(&burst_times) {
        let channel = (9000 + 1 + i / plan.names_per_server).to_string();
        let who = &names[*i as usize].name;
        match messages
            .iter()
            .find(|(t, c, body)| t >= at && *c == channel && body.contains(who.as_str()))
        {
            Some((t, _, _)) => latencies.push(*t - *at),
            None => missed.push(format!("{who} (at {when})")),
        }
    }
    latencies.sort();
    let other_alerts = messages.len() - latencies.len();
    // What the other messages say: the title of their first embed.
    let mut titles: std::collections::BTreeMap<String, usize> = Default::default();
    for (t, _, body) in &messages {
        if sent_bursts
            .iter()
            .any(|(at, i)| t >= at && body.contains(names[*i as usize].name.as_str()))
        {
            continue;
        }
        let title = body
            .split("\"title\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("(no title)");
        *titles.entry(title.to_string()).or_default() += 1;
    }

    println!(
        "veille run + bot under load: {} posts/s for {} s, {} names over {} servers{} (ready in {:.1} s)",
        plan.rate,
        plan.secs,
        n_names,
        plan.servers,
        if plan.mentions {
            ""
        } else {
            ", named only by the bursts"
        },
        ready.as_secs_f64()
    );
    println!("{:<44} {:>14}", "what", "figure");
    println!(
        "{:<44} {:>14}",
        "posts published (fake Jetstream)", published
    );
    println!("{:<44} {:>14}", "posts stored (the store's count)", stored);
    println!(
        "{:<44} {:>14}",
        "of which naming a watched name (kept)", kept
    );
    println!(
        "{:<44} {:>14}",
        "publishing took (s)",
        format!("{:.1}", publishing.as_secs_f64())
    );
    println!(
        "{:<44} {:>14}",
        "publisher behind the socket, worst (s)",
        format!("{:.2}", late.as_secs_f64())
    );
    println!("{:<44} {:>14}", "Jetstream connections", connections);
    let at = |secs: u64| {
        samples
            .iter()
            .find(|(t, _)| *t >= Duration::from_secs(secs))
            .or(samples.last())
            .map_or(f64::NAN, |s| s.1)
    };
    let after_first = samples
        .iter()
        .filter(|(t, _)| *t >= Duration::from_secs(60.min(plan.secs / 2)))
        .map(|s| s.1);
    let (lo, hi) = after_first.fold((f64::MAX, 0f64), |(lo, hi), m| (lo.min(m), hi.max(m)));
    println!(
        "{:<44} {:>14}",
        "resident memory at 1 min / at the end (MiB)",
        format!(
            "{:.1} / {:.1}",
            at(60),
            samples.last().map_or(f64::NAN, |s| s.1)
        )
    );
    println!(
        "{:<44} {:>14}",
        "after the first minute, min / max (MiB)",
        format!("{lo:.1} / {hi:.1}")
    );
    println!("{:<44} {:>14}", "peak (MiB)", format!("{peak:.1}"));
    let series: Vec<String> = samples
        .iter()
        .filter(|(t, _)| t.as_secs() % 60 < 5)
        .map(|(_, m)| format!("{m:.0}"))
        .collect();
    println!("resident memory each minute (MiB): {}", series.join(" "));
    let mut all: Vec<Duration> = took.iter().map(|(d, _)| *d).collect();
    all.sort();
    println!(
        "{:<44} {:>14}",
        format!("commands answered ({}), p50 / p99 / max (ms)", all.len()),
        format!(
            "{} / {} / {}",
            ms(percentile(&all, 0.5)),
            ms(percentile(&all, 0.99)),
            ms(all.last().copied().unwrap_or_default())
        )
    );
    let slowest = took.iter().max_by_key(|(d, _)| *d).map_or("", |(_, l)| l);
    println!("{:<44} {:>14}", "slowest command", slowest);
    println!(
        "{:<44} {:>14}",
        format!(
            "bursts alerted ({} of {}), p50 / p99 (ms)",
            latencies.len(),
            sent_bursts.len()
        ),
        format!(
            "{} / {}",
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99))
        )
    );
    println!(
        "{:<44} {:>14}",
        "other channel messages (alerts, closes)", other_alerts
    );
    for (title, n) in titles.iter().take(8) {
        println!("  {n:>4} × {title}");
    }
    if !missed.is_empty() {
        // The run's store and veille's log stay, to find out why.
        println!("bursts with no alert: {}", missed.join(", "));
        println!("store and log kept in {}", dir.keep().display());
    }
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    println!("veille's warnings and errors: {}", warnings.len());
    for w in warnings.iter().take(5) {
        println!("  {w}");
    }
    assert_eq!(stored, published, "every post published is stored once");
    assert!(missed.is_empty(), "every burst was alerted");
    assert!(
        all.iter().all(|d| *d < Duration::from_secs(10)),
        "every command was answered"
    );
}

//! The sources' targets. Feeds: parsing and matching a 100-item feed; polling 1,000 feeds
//! against a fake web in another process (CPU time of a round, its share of a core at one
//! round every 15 minutes, resident memory); memory with a 10 MB feed, an 11 MB one and an
//! entity bomb. Streams: Mastodon updates and Jetstream posts from a local WebSocket through
//! the pipeline into a store, in posts a second. Prints tables; `cargo bench --bench sources`.
//! Under `cargo test --all-targets` it runs once as a smoke test, smaller.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use veille::config::FeedsConfig;
use veille::ingest::feeds::{self, FeedUrl};
use veille::ingest::pipeline::LiveSources;
use veille::store::Store;
use veille::watch::classifier::Tuning;
use veille::watch::lexicon::Lexicon;
use veille::watch::{Scratch, Watcher};

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/measure.rs"]
mod measure;
#[path = "support/ws.rs"]
mod ws;
use measure::memory_of;

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A feed of `n` items in RSS 2.0, about 400 bytes an item, its texts from the corpus.
fn rss(feed: usize, n: usize, texts: &[String]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Presse</title>",
    );
    for i in 0..n {
        let text = &texts[(feed * n + i) % texts.len()];
        out.push_str(&format!(
            "<item><title>Article {feed}-{i}</title><link>https://presse.example/{feed}/{i}</link>\
             <guid>p-{feed}-{i}</guid><pubDate>Tue, 03 Jun 2025 09:{:02}:00 +0200</pubDate>\
             <description><![CDATA[<p>{text}</p><p>La suite de l'article, sur le site.</p>]]></description></item>",
            i % 60
        ));
    }
    out.push_str("</channel></rss>");
    out
}

/// CPU seconds this process used, user and system.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage writes into the struct it is given, nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// The fake web, in this binary started again with `--serve N`: `/feed/K.xml` for K below
/// N, `/big.xml` (10 MB), `/huge.xml` (11 MB), `/bomb.xml`. Prints its address, serves until
/// its standard input closes.
fn serve(n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        let names = corpus::entities(100);
        let texts = corpus::posts(5_000, &names);
        for k in 0..n {
            Mock::given(method("GET"))
                .and(path(format!("/feed/{k}.xml")))
                .respond_with(ResponseTemplate::new(200).set_body_string(rss(k, 30, &texts)))
                .mount(&server)
                .await;
        }
        let big = |bytes: usize| {
            let body = rss(0, 100, &texts);
            let pad = bytes.saturating_sub(body.len() + 8);
            body.replace(
                "</channel>",
                &format!("<!--{}--></channel>", "x".repeat(pad)),
            )
        };
        for (p, body) in [
            ("/big.xml", big(10 * 1024 * 1024 - 64)),
            ("/huge.xml", big(11 * 1024 * 1024)),
        ] {
            Mock::given(method("GET"))
                .and(path(p))
                .respond_with(ResponseTemplate::new(200).set_body_string(body))
                .mount(&server)
                .await;
        }
        let bomb = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/feeds/bomb.xml"
        ))
        .expect("the bomb fixture");
        Mock::given(method("GET"))
            .and(path("/bomb.xml"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(bomb))
            .mount(&server)
            .await;
        println!("{}", server.uri());
        std::io::stdout().flush().expect("stdout");
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await
        .expect("stdin");
    });
}

/// Polls `urls` once, into a temporary store when `store_posts` (else the posts are only
/// counted: the source alone); returns the wall time, the CPU seconds and the posts read.
fn poll(
    rt: &tokio::runtime::Runtime,
    urls: Vec<String>,
    watcher: &Arc<Watcher>,
    store_posts: bool,
) -> (Duration, f64, usize) {
    let store = Store::temporary().expect("store");
    let cfg = FeedsConfig {
        allow_private_addresses: true,
        ..FeedsConfig::default()
    };
    let list: Vec<FeedUrl> = urls
        .into_iter()
        .map(|url| FeedUrl {
            url,
            public_only: false,
        })
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let live = Arc::new(Mutex::new(LiveSources::default()));
    let (cpu0, t0) = (cpu_secs(), Instant::now());
    let posts = rt.block_on(async {
        let consumer = {
            let (store, watcher) = (store.clone(), watcher.clone());
            tokio::task::spawn_blocking(move || {
                let mut ing = veille::ingest::Ingestor::new(watcher.clone(), &store);
                let mut n = 0;
                while let Some(b) = rx.blocking_recv() {
                    let b: veille::ingest::source::SourceBatch = b;
                    if !store_posts {
                        n += b.posts.len();
                        continue;
                    }
                    for p in b.posts {
                        n += 1;
                        ing.process(p).expect("processed");
                    }
                    ing.commit(b.cursor.map(|c| (b.source, c)))
                        .expect("committed");
                }
                ing.finish().expect("finished");
                n
            })
        };
        feeds::run(
            cfg,
            store.clone(),
            Arc::new(move || list.clone()),
            tx,
            tokio_util::sync::CancellationToken::new(),
            live,
            true,
        )
        .await
        .expect("polled");
        consumer.await.expect("consumer")
    });
    (t0.elapsed(), cpu_secs() - cpu0, posts)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        let n = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(1000);
        return serve(n);
    }
    let feeds_n = if full() { 1000 } else { 20 };
    let names = corpus::entities(1_000);
    let watcher = Arc::new(Watcher::new(&names, Lexicon::bundled(), Tuning::default()));

    // Parse and match a 100-item feed.
    let texts = corpus::posts(5_000, &names);
    let body = rss(1, 100, &texts);
    let runs = if full() { 500 } else { 3 };
    let mut times = Vec::with_capacity(runs);
    let mut parts = [Duration::ZERO; 3];
    let mut scratch = Scratch::default();
    for _ in 0..runs {
        let t = Instant::now();
        let parsed = feeds::parse(body.as_bytes(), "https://presse.example/rss").expect("parses");
        let t1 = Instant::now();
        let posts = feeds::posts(&parsed, chrono::Utc::now());
        let t2 = Instant::now();
        let critical = posts
            .iter()
            .filter(|p| watcher.analyze(&p.text, None, &mut scratch).critical)
            .count();
        std::hint::black_box(critical);
        let t3 = Instant::now();
        parts[0] += t1 - t;
        parts[1] += t2 - t1;
        parts[2] += t3 - t2;
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "Feeds ({} runs of the 100-item feed, {feeds_n} feeds polled)",
        runs
    );
    println!("what                                              figure");
    println!(
        "parse + match a 100-item feed ({} KB), median      {:.3} ms",
        body.len() / 1024,
        times[times.len() / 2].as_secs_f64() * 1000.0
    );
    println!(
        "parse + match a 100-item feed, slowest            {:.3} ms",
        times[times.len() - 1].as_secs_f64() * 1000.0
    );
    let each = |d: Duration| d.as_secs_f64() * 1000.0 / runs as f64;
    println!(
        "  mean: feed-rs's parse {:.3} ms, items to posts {:.3} ms, match + classify {:.3} ms",
        each(parts[0]),
        each(parts[1]),
        each(parts[2])
    );

    // The fake web, in another process so that its CPU is not counted.
    let mut child = Command::new(&args[0])
        .args(["--serve", &feeds_n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the fake web starts");
    let mut uri = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut uri)
        .expect("its address");
    let uri = uri.trim().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let urls: Vec<String> = (0..feeds_n)
        .map(|k| format!("{uri}/feed/{k}.xml"))
        .collect();
    for (store_posts, what) in [
        (false, "the source alone (posts counted, not stored)"),
        (true, "into a store (every item new)"),
    ] {
        let (before, _) = memory_of("self");
        let (wall, cpu, posts) = poll(&rt, urls.clone(), &watcher, store_posts);
        let (after, peak) = memory_of("self");
        println!("{feeds_n} feeds of 30 items polled once, {what}:");
        println!(
            "  wall {:.2} s, CPU {cpu:.2} s ({posts} items): {:.3} % of a core at a round every 15 min",
            wall.as_secs_f64(),
            cpu / 900.0 * 100.0
        );
        println!(
            "  resident memory: before {before:.1} MiB, after {after:.1} MiB, peak {peak:.1} MiB"
        );
    }
    for (p, what) in [
        ("/big.xml", "a 10 MB feed"),
        ("/huge.xml", "an 11 MB feed (refused)"),
        ("/bomb.xml", "an entity bomb (refused)"),
    ] {
        let (_, peak_before) = memory_of("self");
        let (_, _, n) = poll(&rt, vec![format!("{uri}{p}")], &watcher, true);
        let (now, peak_after) = memory_of("self");
        println!(
            "{what:<26} items {n:>3}, resident {now:.1} MiB, peak {:.1} MiB (+{:.1})",
            peak_after,
            peak_after - peak_before
        );
    }
    drop(child.stdin.take());
    let _ = child.wait();

    // Streams: the same posts from Jetstream and from Mastodon, into a store, a second apart
    // (as a live stream: the store's seen blocks are a minute each).
    let n = if full() { 100_000 } else { 300 };
    let texts = corpus::posts(n, &names);
    let at = |i: usize| {
        (chrono::DateTime::<chrono::Utc>::from_timestamp(1_748_937_600, 0).expect("a time")
            + chrono::Duration::seconds(i as i64))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let jet: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({"did": "did:plc:a", "time_us": 1_000_000 + i as i64, "kind": "commit",
                "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.post", "rkey": format!("k{i}"),
                "record": {"$type": "app.bsky.feed.post", "createdAt": at(i), "langs": ["fr"], "text": t}}})
            .to_string()
        })
        .collect();
    let masto: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let status = serde_json::json!({"id": (100_000 + i).to_string(), "uri": format!("https://piaille.fr/users/a/statuses/{i}"),
                "url": format!("https://piaille.fr/@a/{i}"), "created_at": at(i),
                "content": format!("<p>{t}</p>"), "spoiler_text": "", "language": "fr", "account": {"acct": "a"},
                "reblog": null, "favourites_count": 0, "reblogs_count": 0, "replies_count": 0});
            serde_json::json!({"stream": ["public"], "event": "update", "payload": status.to_string()}).to_string()
        })
        .collect();
    println!("{n} posts from a local WebSocket through the pipeline into a store:");
    for (what, frames) in [("Jetstream", jet), ("Mastodon", masto)] {
        let secs = rt.block_on(stream_into_store(what, frames, names.clone()));
        println!("  {what:<10} {:.2} s, {:.0} posts/s", secs, n as f64 / secs);
    }
}

/// Runs the pipeline with one stream, Jetstream or Mastodon, until the store counted every
/// frame; the seconds it took.
async fn stream_into_store(
    what: &str,
    frames: Vec<String>,
    names: Vec<veille::model::EntitySpec>,
) -> f64 {
    let n = frames.len() as u64;
    // The sender lives to the end: the stream stays open once every frame is written.
    let (ws, publish, _) = ws::publisher().await;
    publish.send(frames).expect("the publisher");
    let mut config = veille::config::Config::default();
    config.sources.bluesky.jetstream = what == "Jetstream";
    let rest = wiremock::MockServer::start().await;
    if what == "Jetstream" {
        config.sources.bluesky.jetstream_url = ws;
    } else {
        wiremock::Mock::given(wiremock::matchers::path("/api/v2/instance"))
            .respond_with(
                wiremock::ResponseTemplate::new(200).set_body_json(
                    serde_json::json!({"configuration": {"urls": {"streaming": ws}}}),
                ),
            )
            .mount(&rest)
            .await;
        config.sources.mastodon.instances = vec![rest.uri()];
    }
    let store = Store::temporary().expect("store");
    let ctx = veille::commands::Context::with_store(config, names, store.clone()).expect("context");
    let started = Instant::now();
    let counted = store.clone();
    let done = async move {
        loop {
            let total: u64 = counted
                .counts(veille::store::ALL_POSTS, 0, i64::MAX / 8)
                .map(|c| c.iter().map(|(_, c)| c.posts).sum())
                .unwrap_or(0);
            if total >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    veille::ingest::pipeline::run(
        ctx.watching(),
        &veille::config::Tokens::default(),
        veille::ingest::pipeline::Options::default(),
        None,
        done,
    )
    .await
    .expect("the pipeline runs");
    started.elapsed().as_secs_f64()
}

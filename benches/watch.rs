//! Match + classify throughput on posts of about 100 bytes, with 1,000 and 10,000 watched
//! names, and `veille classify`'s JSONL loop on an in-memory buffer.
//! Run: `cargo bench --bench watch`. Figures go to BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use veille::cli::classify::classify_stream;
use veille::watch::classifier::Tuning;
use veille::watch::lexicon::Lexicon;
use veille::watch::{Scratch, Watcher};

#[path = "support/corpus.rs"]
mod corpus;

fn match_and_classify(c: &mut Criterion) {
    let mut group = c.benchmark_group("match_classify");
    for n in [1_000usize, 10_000] {
        let names = corpus::entities(n);
        let watcher = Watcher::new(&names, Lexicon::bundled(), Tuning::default());
        let posts = corpus::posts(10_000, &names);
        let bytes: usize = posts.iter().map(String::len).sum();
        eprintln!(
            "{n} names: {} posts, {:.0} bytes a post on average",
            posts.len(),
            bytes as f64 / posts.len() as f64
        );
        group.throughput(Throughput::Elements(posts.len() as u64));
        group.bench_with_input(BenchmarkId::new("names", n), &posts, |b, posts| {
            let mut scratch = Scratch::default();
            b.iter(|| {
                let mut critical = 0u32;
                for p in posts {
                    critical += watcher.analyze(p, None, &mut scratch).critical as u32;
                }
                critical
            })
        });
    }
    group.finish();
}

fn jsonl_stream(c: &mut Criterion) {
    let names = corpus::entities(1_000);
    let watcher = Watcher::new(&names, Lexicon::bundled(), Tuning::default());
    let posts = corpus::posts(10_000, &names);
    let mut input = Vec::new();
    for (i, p) in posts.iter().enumerate() {
        serde_json::to_writer(
            &mut input,
            &serde_json::json!({"id": i.to_string(), "text": p}),
        )
        .expect("json");
        input.push(b'\n');
    }
    let mut group = c.benchmark_group("classify_jsonl");
    group.throughput(Throughput::Elements(posts.len() as u64));
    group.bench_function("1000_names", |b| {
        let mut out = Vec::with_capacity(input.len() * 2);
        b.iter(|| {
            out.clear();
            classify_stream(&watcher, &input[..], &mut out).expect("classifies")
        })
    });
    group.finish();
}

criterion_group!(benches, match_and_classify, jsonl_stream);
criterion_main!(benches);

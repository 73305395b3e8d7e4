//! Writes benchmark material: `cargo run --release --example gen_corpus -- POSTS NAMES DIR`
//! writes DIR/posts.jsonl (POSTS posts) and DIR/watch.toml (NAMES watched names).

use std::io::Write;

#[path = "../benches/support/corpus.rs"]
mod corpus;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 4, "usage: gen_corpus POSTS NAMES DIR");
    let (n_posts, n_names, dir) = (
        args[1].parse::<usize>()?,
        args[2].parse::<usize>()?,
        std::path::Path::new(&args[3]),
    );
    std::fs::create_dir_all(dir)?;
    let names = corpus::entities(n_names);
    let mut watch = std::io::BufWriter::new(std::fs::File::create(dir.join("watch.toml"))?);
    for e in &names {
        writeln!(
            watch,
            "[[entity]]\nname = {:?}\nkind = \"commune\"\naliases = [{:?}]\nambiguous = {}\n",
            e.name, e.aliases[0], e.ambiguous
        )?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("posts.jsonl"))?);
    let posts = corpus::posts(n_posts.min(100_000), &names);
    for i in 0..n_posts {
        // One post a second from 2026-11-01, as a live feed would write them.
        let at =
            chrono::DateTime::from_timestamp(1_793_491_200 + i as i64, 0).expect("a valid time");
        let line = serde_json::json!({"id": i.to_string(), "text": posts[i % posts.len()], "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)});
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

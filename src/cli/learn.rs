//! `veille learn`: the team's corrections into the store, how much they help, and forgetting
//! them.

use std::io::BufRead;
use std::path::PathBuf;

use serde::Deserialize;

use super::{build_watcher, WatchArgs};
use crate::config::Config;
use crate::model::Label;
use crate::store::corrections::Correction;
use crate::store::Store;
use crate::watch::learned;

/// Arguments of `veille learn`.
#[derive(Debug, Clone, clap::Args)]
pub struct LearnArgs {
    /// JSON Lines of `{"id", "text", "lang", "label": "critical" | "neutral"}` (what
    /// `classify` writes, with the label set by a person); a correction of the same id
    /// replaces the older one.
    #[arg(required_unless_present_any = ["status", "reset"])]
    pub file: Option<PathBuf>,
    /// Print the number of corrections and the critical class's F1 by 5-fold
    /// cross-validation, with and without them.
    #[arg(long)]
    pub status: bool,
    /// Forget every correction.
    #[arg(long, conflicts_with = "status")]
    pub reset: bool,
    #[command(flatten)]
    pub watch: WatchArgs,
}

#[derive(Debug, Deserialize)]
struct Line {
    id: serde_json::Value,
    text: String,
    #[serde(default)]
    lang: Option<String>,
    label: Label,
}

/// Runs `veille learn`.
pub fn run(config: &Config, args: LearnArgs) -> anyhow::Result<()> {
    let store = Store::open(&config.store.path)?;
    if args.reset {
        let n = store.clear_corrections()?;
        println!("{n} corrections forgotten; the classifier is the lexicon's again");
        return Ok(());
    }
    if let Some(path) = &args.file {
        let file = std::fs::File::open(path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        let by = format!(
            "file:{}",
            path.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let (mut added, mut replaced, mut skipped) = (0, 0, 0);
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let l: Line = match serde_json::from_str(&line) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("{}:{}: skipped: {e}", path.display(), i + 1);
                    skipped += 1;
                    continue;
                }
            };
            let id = match l.id {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            let c = Correction {
                id,
                text: l.text,
                lang: l.lang,
                label: l.label,
                by: by.clone(),
                by_name: None,
                at: chrono::Utc::now(),
            };
            if store.put_correction(&c)? {
                replaced += 1;
            } else {
                added += 1;
            }
        }
        println!(
            "{added} corrections stored, {replaced} replaced, {skipped} lines skipped; {} in all",
            store.correction_count()
        );
    }
    if args.status || args.file.is_some() {
        status(config, &args.watch, &store)?;
    }
    Ok(())
}

fn status(config: &Config, watch: &WatchArgs, store: &Store) -> anyhow::Result<()> {
    let corrections = store.corrections()?;
    let critical = corrections
        .iter()
        .filter(|c| c.label == Label::Critical)
        .count();
    println!(
        "{} corrections ({critical} critical, {} neutral)",
        corrections.len(),
        corrections.len() - critical
    );
    if corrections.len() < 10 {
        println!("too few to cross-validate (10 at least)");
        return Ok(());
    }
    let watcher = build_watcher(config, &watch.entities(config)?)?;
    let examples = crate::commands::correction_examples(&watcher, &corrections);
    let started = std::time::Instant::now();
    let with = learned::cross_validated_f1(&examples, 5, true);
    let secs = started.elapsed().as_secs_f64();
    let without = learned::cross_validated_f1(&examples, 5, false);
    println!(
        "F1 of the critical class, 5-fold cross-validation on the corrections: lexicon alone {without:.3}, with the corrections {with:.3} ({secs:.2} s for 5 fits)"
    );
    if with < without {
        println!("the lexicon keeps deciding until the corrections beat it");
    }
    Ok(())
}

//! `veille eval`: scores the classifier on a labelled file.
//!
//! Reads the formats of the tuning sets (see README.md): JSONL with a `gold` field, the
//! CrowdFlower brand-emotion CSV, and DEFT-style parallel `*_text.txt` / `*_labels.txt`
//! files. Prints precision, recall and F1 of the critical class, the confusion counts and the
//! classification speed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};

use super::{build_watcher, WatchArgs};
use crate::config::Config;
use crate::watch::{cue_texts, Scratch};

/// Arguments of `veille eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The labelled file: `.jsonl` (fields `text`, `gold`: "critical" or "neutral", optional
    /// `lang`), `.csv` (columns `tweet_text` and
    /// `is_there_an_emotion_directed_at_a_brand_or_product`, or `text` and `gold`), or a
    /// `*_text.txt` file beside its `*_labels.txt` (0 = negative = critical).
    pub file: PathBuf,
    /// The language of every post in the file, when the file does not say (`fr`, `en`).
    #[arg(long)]
    pub lang: Option<String>,
    /// Print this many misclassified posts of each kind, with their cues.
    #[arg(long, default_value_t = 0)]
    pub show_errors: usize,
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// One labelled post.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The post's text.
    pub text: String,
    /// Whether it is labelled critical.
    pub critical: bool,
    /// Its language, when known.
    pub lang: Option<String>,
}

/// Confusion counts of the critical class.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Confusion {
    /// Critical, said critical.
    pub tp: u64,
    /// Neutral, said critical.
    pub fp: u64,
    /// Critical, said neutral.
    pub fn_: u64,
    /// Neutral, said neutral.
    pub tn: u64,
}

impl Confusion {
    /// Precision of the critical class.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    /// Recall of the critical class.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    /// F1 of the critical class.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// Runs `veille eval`.
pub fn run(config: &Config, args: Args) -> anyhow::Result<()> {
    let watcher = build_watcher(config, &args.watch.entities(config)?)?;
    let watcher = super::with_corrections(config, watcher)?;
    if watcher.learned_from() > 0 {
        println!(
            "with a model fitted on {} corrections from the store",
            watcher.learned_from()
        );
    }
    let examples = read_examples(&args.file)?;
    anyhow::ensure!(
        !examples.is_empty(),
        "{} holds no labelled post",
        args.file.display()
    );
    let mut scratch = Scratch::default();
    let mut c = Confusion::default();
    let mut errors: (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for ex in &examples {
        let lang = ex.lang.as_deref().or(args.lang.as_deref());
        let said = watcher.analyze(&ex.text, lang, &mut scratch).critical;
        match (ex.critical, said) {
            (true, true) => c.tp += 1,
            (false, true) => {
                c.fp += 1;
                if errors.0.len() < args.show_errors {
                    errors
                        .0
                        .push(format!("  {:?} cues={:?}", ex.text, cue_texts(&scratch)));
                }
            }
            (true, false) => {
                c.fn_ += 1;
                if errors.1.len() < args.show_errors {
                    errors.1.push(format!("  {:?}", ex.text));
                }
            }
            (false, false) => c.tn += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if args.show_errors > 0 {
        println!("said critical, labelled neutral:\n{}", errors.0.join("\n"));
        println!("labelled critical, said neutral:\n{}", errors.1.join("\n"));
    }
    println!(
        "file: {} ({} posts, {} critical)",
        args.file.display(),
        examples.len(),
        c.tp + c.fn_
    );
    println!(
        "critical class: precision {:.3}  recall {:.3}  F1 {:.3}",
        c.precision(),
        c.recall(),
        c.f1()
    );
    println!(
        "confusion: tp {}  fp {}  fn {}  tn {}",
        c.tp, c.fp, c.fn_, c.tn
    );
    println!(
        "speed: {:.0} posts/s (match + classify, one core)",
        examples.len() as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// Reads a labelled file in any of the supported formats.
pub fn read_examples(path: &Path) -> anyhow::Result<Vec<Example>> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if let Some(stem) = name.strip_suffix("_text.txt") {
        let labels = path.with_file_name(format!("{stem}_labels.txt"));
        return read_parallel(path, &labels);
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") | Some("json") => read_jsonl(path),
        Some("csv") => read_csv(path),
        _ => bail!(
            "{}: unknown format; expected .jsonl, .csv or a *_text.txt file beside its *_labels.txt",
            path.display()
        ),
    }
}

fn gold_is_critical(gold: &str) -> Option<bool> {
    match gold.trim().to_ascii_lowercase().as_str() {
        "critical" | "negative" | "1" | "true" => Some(true),
        "neutral" | "positive" | "0" | "false" => Some(false),
        _ => None,
    }
}

fn read_jsonl(path: &Path) -> anyhow::Result<Vec<Example>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", path.display(), i + 1))?;
        let text = v["text"]
            .as_str()
            .with_context(|| format!("{}:{}: no text", path.display(), i + 1))?;
        let gold = match &v["gold"] {
            serde_json::Value::String(s) => gold_is_critical(s),
            serde_json::Value::Bool(b) => Some(*b),
            serde_json::Value::Number(n) => n.as_u64().map(|n| n == 1),
            _ => None,
        }
        .with_context(|| {
            format!(
                "{}:{}: gold must be \"critical\" or \"neutral\"",
                path.display(),
                i + 1
            )
        })?;
        out.push(Example {
            text: text.to_string(),
            critical: gold,
            lang: v["lang"].as_str().map(str::to_string),
        });
    }
    Ok(out)
}

fn read_csv(path: &Path) -> anyhow::Result<Vec<Example>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim()));
    let text_col =
        col(&["tweet_text", "text"]).context("the CSV has no tweet_text or text column")?;
    let (gold_col, brands) = match col(&["is_there_an_emotion_directed_at_a_brand_or_product"]) {
        Some(c) => (c, true),
        None => (
            col(&["gold", "label"]).context("the CSV has no gold or label column")?,
            false,
        ),
    };
    let lang_col = col(&["lang"]);
    let mut out = Vec::new();
    for record in reader.records() {
        let Ok(record) = record else { continue };
        let (Some(text), Some(gold)) = (record.get(text_col), record.get(gold_col)) else {
            continue;
        };
        let critical = if brands {
            match gold {
                "Negative emotion" => Some(true),
                "Positive emotion" | "No emotion toward brand or product" => Some(false),
                _ => None, // "I can't tell" is dropped.
            }
        } else {
            gold_is_critical(gold)
        };
        if let Some(critical) = critical {
            out.push(Example {
                text: text.to_string(),
                critical,
                lang: lang_col.and_then(|c| record.get(c)).map(str::to_string),
            });
        }
    }
    Ok(out)
}

fn read_parallel(texts: &Path, labels: &Path) -> anyhow::Result<Vec<Example>> {
    let t =
        std::fs::read_to_string(texts).with_context(|| format!("reading {}", texts.display()))?;
    let l =
        std::fs::read_to_string(labels).with_context(|| format!("reading {}", labels.display()))?;
    let (t, l): (Vec<&str>, Vec<&str>) = (t.lines().collect(), l.lines().collect());
    anyhow::ensure!(
        t.len() == l.len(),
        "{} has {} lines but {} has {}",
        texts.display(),
        t.len(),
        labels.display(),
        l.len()
    );
    Ok(t.into_iter()
        .zip(l)
        .map(|(text, label)| Example {
            text: text.to_string(),
            critical: label.trim() == "0",
            lang: None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f1_of_the_critical_class() {
        let c = Confusion {
            tp: 6,
            fp: 2,
            fn_: 4,
            tn: 88,
        };
        assert!((c.precision() - 0.75).abs() < 1e-9);
        assert!((c.recall() - 0.6).abs() < 1e-9);
        assert!((c.f1() - 2.0 * 0.75 * 0.6 / 1.35).abs() < 1e-9);
        assert_eq!(Confusion::default().f1(), 0.0);
    }

    #[test]
    fn reads_the_three_formats() {
        let dir = tempfile::tempdir().expect("temp dir");
        let jsonl = dir.path().join("a.jsonl");
        std::fs::write(&jsonl, "{\"text\":\"nul\",\"gold\":\"critical\"}\n{\"text\":\"ok\",\"gold\":\"neutral\",\"lang\":\"fr\"}\n")
            .expect("write");
        let e = read_examples(&jsonl).expect("jsonl");
        assert_eq!(
            (e.len(), e[0].critical, e[1].lang.as_deref()),
            (2, true, Some("fr"))
        );

        let csv = dir.path().join("b.csv");
        std::fs::write(
            &csv,
            "tweet_text,emotion_in_tweet_is_directed_at,is_there_an_emotion_directed_at_a_brand_or_product\n\
             \"dead battery, again\",iPhone,Negative emotion\nlove it,iPad,Positive emotion\nhmm,,I can't tell\n",
        )
        .expect("write");
        let e = read_examples(&csv).expect("csv");
        assert_eq!(
            e.iter().map(|x| x.critical).collect::<Vec<_>>(),
            [true, false]
        );

        std::fs::write(dir.path().join("v_text.txt"), "bad\nfine\ngood\n").expect("write");
        std::fs::write(dir.path().join("v_labels.txt"), "0\n1\n2\n").expect("write");
        let e = read_examples(&dir.path().join("v_text.txt")).expect("deft");
        assert_eq!(
            e.iter().map(|x| x.critical).collect::<Vec<_>>(),
            [true, false, false]
        );
    }

    #[test]
    fn an_unknown_format_is_a_clear_error() {
        let err = read_examples(Path::new("posts.xml")).expect_err("refused");
        assert!(err.to_string().contains("unknown format"));
    }
}

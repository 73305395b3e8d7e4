//! `veille classify`: JSON Lines posts in, one JSON verdict per input line out, in order.
//!
//! A line that is not a post (not JSON, no `text`) gets an `{"id":…, "error":…}` line of its
//! own and the run goes on; only unreadable input fails the command. `--summary` compares the
//! run's shares with the field figures (1 post in 5 names a brand, 1 in 3 of those is critical).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{build_watcher, WatchArgs};
use crate::config::Config;
use crate::model::Label;
use crate::watch::{cue_texts, Scratch, Watcher};

/// Arguments of `veille classify`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Read posts from this JSONL file instead of stdin.
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Print, on stderr at the end, the share of posts naming a watched entity and the share
    /// of those that are critical, beside the field figures.
    #[arg(long)]
    pub summary: bool,
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// One input post; fields other than these are ignored.
#[derive(Debug, Deserialize)]
struct InPost<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    text: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    lang: Option<std::borrow::Cow<'a, str>>,
}

/// The part of a malformed line that may still be read: its id.
#[derive(Debug, Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
}

#[derive(Debug, Serialize)]
struct OutVerdict<'a> {
    id: Option<&'a RawValue>,
    label: &'static str,
    score: f32,
    cues: Vec<String>,
    mentions: Vec<String>,
}

#[derive(Debug, Serialize)]
struct OutError<'a> {
    id: Option<&'a RawValue>,
    error: String,
}

/// What a run counted, for `--summary`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Posts classified.
    pub posts: u64,
    /// Lines that were not posts.
    pub errors: u64,
    /// Posts that name at least one watched entity.
    pub mentioning: u64,
    /// Of those, the critical ones.
    pub mentioning_critical: u64,
    /// Critical posts overall.
    pub critical: u64,
}

impl Tally {
    /// Counts one classified post.
    pub fn record(&mut self, critical: bool, names_watched_entity: bool) {
        self.posts += 1;
        self.critical += critical as u64;
        if names_watched_entity {
            self.mentioning += 1;
            self.mentioning_critical += critical as u64;
        }
    }

    /// The summary lines, beside the field figures.
    pub fn summary(&self) -> String {
        let pct = |n: u64, d: u64| {
            if d == 0 {
                0.0
            } else {
                100.0 * n as f64 / d as f64
            }
        };
        format!(
            "posts: {} classified, {} malformed lines\n\
             naming a watched entity: {} ({:.1}%; field figure: 1 in 5, 20%)\n\
             critical among those: {} ({:.1}%; field figure: 1 in 3, 33%)\n\
             critical overall: {} ({:.1}%)\n",
            self.posts,
            self.errors,
            self.mentioning,
            pct(self.mentioning, self.posts),
            self.mentioning_critical,
            pct(self.mentioning_critical, self.mentioning),
            self.critical,
            pct(self.critical, self.posts),
        )
    }
}

/// Runs `veille classify`.
pub fn run(config: &Config, args: Args) -> anyhow::Result<()> {
    let watcher = build_watcher(config, &args.watch.entities(config)?)?;
    let watcher = super::with_corrections(config, watcher)?;
    let input: Box<dyn Read> = match &args.input {
        Some(path) => {
            Box::new(File::open(path).with_context(|| format!("opening {}", path.display()))?)
        }
        None => Box::new(io::stdin().lock()),
    };
    let stdout = io::stdout().lock();
    let tally = classify_stream(
        &watcher,
        BufReader::with_capacity(1 << 16, input),
        BufWriter::with_capacity(1 << 16, stdout),
    )?;
    if args.summary {
        eprint!("{}", tally.summary());
    }
    Ok(())
}

/// Classifies every line of `input` into `output`. Fails only when reading or writing fails.
pub fn classify_stream(
    watcher: &Watcher,
    mut input: impl BufRead,
    mut output: impl Write,
) -> anyhow::Result<Tally> {
    let mut scratch = Scratch::default();
    let mut tally = Tally::default();
    let mut line = Vec::with_capacity(1024);
    let mut out = Vec::with_capacity(1024);
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .context("reading the input")?;
        if n == 0 {
            break;
        }
        out.clear();
        classify_line(
            watcher,
            trim_newline(&line),
            &mut scratch,
            &mut tally,
            &mut out,
        );
        out.push(b'\n');
        output.write_all(&out).context("writing the output")?;
    }
    output.flush().context("writing the output")?;
    Ok(tally)
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Classifies one line into `out` (without its newline).
fn classify_line(
    watcher: &Watcher,
    line: &[u8],
    scratch: &mut Scratch,
    tally: &mut Tally,
    out: &mut Vec<u8>,
) {
    let write_error = |out: &mut Vec<u8>, id: Option<&RawValue>, error: String| {
        serde_json::to_writer(out, &OutError { id, error })
            .expect("serialising to a Vec cannot fail");
    };
    let text = match std::str::from_utf8(line) {
        Ok(t) => t,
        Err(e) => {
            tally.errors += 1;
            return write_error(out, None, format!("not UTF-8: {e}"));
        }
    };
    if text.trim().is_empty() {
        tally.errors += 1;
        return write_error(out, None, "empty line".into());
    }
    let post: InPost = match serde_json::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            tally.errors += 1;
            let id = serde_json::from_str::<IdOnly>(text).ok().and_then(|i| i.id);
            let why = if e.is_data() {
                format!("not a post: {e}")
            } else {
                format!("not JSON: {e}")
            };
            return write_error(out, id, why);
        }
    };
    let outcome = watcher.analyze(&post.text, post.lang.as_deref(), scratch);
    let mentions = watcher.matcher().names(&scratch.hits);
    tally.record(outcome.critical, !mentions.is_empty());
    let verdict = OutVerdict {
        id: post.id,
        label: if outcome.critical {
            "critical"
        } else {
            "neutral"
        },
        score: (outcome.score * 1000.0).round() / 1000.0,
        cues: cue_texts(scratch),
        mentions,
    };
    serde_json::to_writer(out, &verdict).expect("serialising to a Vec cannot fail");
}

const DEMO_POSTS: &str = include_str!("../../config/demo/posts.jsonl");

/// `veille` with no subcommand: classifies the bundled demo posts and prints what it found.
pub fn demo(config: &Config) -> anyhow::Result<()> {
    let watcher = build_watcher(config, &config.entities)?;
    let mut scratch = Scratch::default();
    let mut tally = Tally::default();
    let mut stdout = io::stdout().lock();
    writeln!(
        stdout,
        "Veille — démo : {} posts de démonstration, {} noms surveillés.\n",
        DEMO_POSTS.lines().count(),
        config.entities.len()
    )?;
    for line in DEMO_POSTS.lines() {
        let post: InPost = serde_json::from_str(line).context("reading a bundled demo post")?;
        let v = watcher.verdict(&post.text, post.lang.as_deref(), &mut scratch);
        let critical = v.label == Label::Critical;
        tally.record(critical, !v.mentions.is_empty());
        let mark = if critical {
            "🔴 critique"
        } else {
            "⚪ neutre  "
        };
        writeln!(stdout, "{mark} {:<28} {}", v.mentions.join(", "), post.text)?;
        if !v.cues.is_empty() {
            writeln!(stdout, "{:>12} indices : {}", "", v.cues.join(" · "))?;
        }
    }
    writeln!(stdout, "\n{}", tally.summary())?;
    writeln!(
        stdout,
        "Try: veille classify --summary < posts.jsonl   (see README.md)"
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntityKind, EntitySpec};
    use crate::watch::classifier::Tuning;
    use crate::watch::lexicon::Lexicon;

    fn watcher() -> Watcher {
        let e = EntitySpec {
            name: "SNCF".into(),
            kind: EntityKind::Brand,
            aliases: vec!["@SNCF".into()],
            ambiguous: false,
            exclude: Vec::new(),
        };
        Watcher::new(&[e], Lexicon::bundled(), Tuning::default())
    }

    fn run_lines(input: &str) -> (Vec<serde_json::Value>, Tally) {
        let mut out = Vec::new();
        let tally = classify_stream(&watcher(), input.as_bytes(), &mut out).expect("runs");
        let lines = String::from_utf8(out)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
            .collect();
        (lines, tally)
    }

    #[test]
    fn one_output_line_per_input_line_in_order() {
        let (out, tally) = run_lines(
            "{\"id\":\"a\",\"text\":\"@SNCF toujours pas remboursé, c'est une honte\"}\n\
             {\"id\":2,\"text\":\"Beau temps à Lyon\",\"lang\":\"fr\"}\n",
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["id"], "a");
        assert_eq!(out[0]["label"], "critical");
        assert_eq!(out[0]["mentions"], serde_json::json!(["SNCF"]));
        assert!(out[0]["cues"]
            .as_array()
            .expect("cues")
            .iter()
            .any(|c| c == "honte"));
        assert_eq!(out[1]["id"], 2);
        assert_eq!(out[1]["label"], "neutral");
        assert_eq!(tally.posts, 2);
        assert_eq!(tally.mentioning, 1);
        assert_eq!(tally.mentioning_critical, 1);
    }

    #[test]
    fn malformed_lines_get_an_error_line_and_the_rest_goes_on() {
        let (out, tally) = run_lines(
            "not json\n{\"id\":7,\"txt\":\"no text field\"}\n\n{\"text\":\"ok\"}\n{\"id\":\"trunc\",\"text\":\"cut",
        );
        assert_eq!(out.len(), 5);
        assert!(out[0]["error"]
            .as_str()
            .expect("error")
            .starts_with("not JSON"));
        assert_eq!(out[1]["id"], 7, "the id of a line without text is echoed");
        assert!(out[1]["error"].as_str().expect("error").contains("text"));
        assert_eq!(out[2]["error"], "empty line");
        assert_eq!(out[3]["label"], "neutral");
        assert!(out[4]["error"].is_string());
        assert_eq!((tally.posts, tally.errors), (1, 4));
    }

    #[test]
    fn empty_input_gives_empty_output() {
        let (out, tally) = run_lines("");
        assert!(out.is_empty());
        assert_eq!(tally, Tally::default());
    }

    #[test]
    fn invalid_utf8_is_a_line_error_not_a_failure() {
        let mut out = Vec::new();
        let tally = classify_stream(&watcher(), &b"\xff\xfe\n{\"text\":\"ok\"}\n"[..], &mut out)
            .expect("runs");
        assert_eq!(tally.errors, 1);
        assert_eq!(String::from_utf8(out).expect("utf-8").lines().count(), 2);
    }

    #[test]
    fn the_demo_posts_are_valid() {
        for line in DEMO_POSTS.lines() {
            let post: InPost = serde_json::from_str(line).expect("demo post parses");
            assert!(!post.text.is_empty());
        }
    }
}

//! Progress of long one-shot commands on standard error, refreshed a few times a second, and
//! nothing at all when standard error is not a terminal (a pipe, a file, a cron mail).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::commands::collect::CollectEvent;
use crate::commands::replay::ReplayProgress;

/// Redraws per second.
const HZ: u8 = 4;

fn target(terminal: bool) -> ProgressDrawTarget {
    if terminal {
        ProgressDrawTarget::stderr_with_hz(HZ)
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// Whether standard error is a terminal.
pub fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// The progress of a replay: the file, how far in it, posts read and their rate.
pub struct Replay {
    bar: ProgressBar,
    started: Instant,
    file: Option<std::path::PathBuf>,
}

impl Replay {
    /// Drawn only when `terminal`.
    pub fn new(terminal: bool) -> Replay {
        let bar = ProgressBar::with_draw_target(None, target(terminal));
        Replay {
            bar,
            started: Instant::now(),
            file: None,
        }
    }

    /// Whether it draws nothing.
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// After each batch.
    pub fn update(&mut self, p: &ReplayProgress) {
        if self.file.as_ref() != Some(&p.file) {
            self.file = Some(p.file.clone());
            let csv = p
                .file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            // A CSV's position counts records, a JSON file's bytes.
            let style = if csv {
                ProgressStyle::with_template("{spinner} {prefix} {pos} records · {msg}")
            } else {
                ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} · {msg}")
            };
            if let Ok(style) = style {
                self.bar.set_style(style.progress_chars("=> "));
            }
            self.bar.set_length(if csv { u64::MAX } else { p.size });
            self.bar.set_prefix(
                p.file
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        }
        self.bar.set_position(p.position);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{} posts · {:.0} posts/s",
            p.posts,
            p.posts as f64 / secs
        ));
    }

    /// Clears the line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The progress of a collection: accounts done per platform.
pub struct Collect {
    bar: ProgressBar,
}

impl Collect {
    /// Drawn only when `terminal`.
    pub fn new(terminal: bool) -> Collect {
        let bar = ProgressBar::with_draw_target(None, target(terminal));
        if let Ok(style) = ProgressStyle::with_template("{prefix}: [{bar:30}] {pos}/{len} accounts")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Collect { bar }
    }

    /// On each event; lines printed meanwhile go above the bar.
    pub fn update(&self, e: &CollectEvent) {
        match e {
            CollectEvent::Started { platform, accounts } => {
                self.bar.reset();
                self.bar.set_prefix(platform.to_string());
                self.bar.set_length(*accounts as u64);
                self.bar.set_position(0);
            }
            CollectEvent::Progress { done, .. } => self.bar.set_position(*done as u64),
            CollectEvent::Done { .. } | CollectEvent::Skipped { .. } => self.bar.finish_and_clear(),
            _ => {}
        }
    }

    /// Prints a line without tearing the bar.
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            println!("{line}");
        } else {
            self.bar.suspend(|| println!("{line}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_drawn_off_a_terminal() {
        let mut r = Replay::new(false);
        assert!(r.is_hidden());
        r.update(&ReplayProgress {
            file: "posts.jsonl".into(),
            position: 10,
            size: 100,
            posts: 3,
        });
        r.finish();
        assert!(Collect::new(false).bar.is_hidden());
    }
}

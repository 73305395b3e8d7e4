//! Where the log goes: standard error, or a file beside the store while the console is
//! typed at, so that its replies never mix with log lines (and their colour codes).

use std::io::IsTerminal;
use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// Starts logging, filtered by `VEILLE_LOG` (default `warn`): to the file beside the store
/// when `console` (the console at a terminal), else to standard error. Returns the file
/// logged to, if any.
pub fn init(config: &Config, console: bool) -> Option<PathBuf> {
    let filter =
        || EnvFilter::try_from_env("VEILLE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    if console {
        let path = config.log_file();
        let file = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
            });
        if let Ok(file) = file {
            let _ = tracing_subscriber::fmt()
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .with_env_filter(filter())
                .try_init();
            return Some(path);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter())
        .try_init();
    None
}

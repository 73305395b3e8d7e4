//! The `veille` binary: logging, the command line, and how it ended.

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_env("VEILLE_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
    let cli = veille::cli::Cli::parse();
    if !matches!(cli.command, Some(veille::cli::Command::Run(_))) {
        // A one-shot command whose output is closed (`veille classify … | head -1`) ends
        // quietly, as Unix tools do, instead of panicking on the next write. The long-running
        // process keeps Rust's default (SIGPIPE ignored, EPIPE as an error on that socket).
        #[cfg(unix)]
        // SAFETY: setting a signal's disposition to its default, before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    if let Err(e) = veille::cli::run(cli) {
        eprintln!("veille: {e:#}");
        std::process::exit(1);
    }
}

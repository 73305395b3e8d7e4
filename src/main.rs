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
    if let Err(e) = veille::cli::run(cli) {
        eprintln!("veille: {e:#}");
        std::process::exit(1);
    }
}

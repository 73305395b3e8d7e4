//! The `veille` binary: the command line (which starts logging once it knows where the log
//! goes), and how it ended.

use clap::Parser;

fn main() {
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

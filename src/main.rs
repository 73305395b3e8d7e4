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
    if matches!(cli.command, None | Some(veille::cli::Command::Run(_))) {
        // The long-running process keeps two malloc arenas, not glibc's eight a core: under
        // a steady stream each thread's arena grew with freed but fragmented memory that no
        // trim gives back (`BENCHMARKS.md`, under load).
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: a malloc tuning parameter, set before any thread starts.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
    if let Err(e) = veille::cli::run(cli) {
        eprintln!("veille: {e:#}");
        std::process::exit(1);
    }
}

//! The `veille` command line: clap definitions and dispatch, one module per subcommand.
//!
//! Subcommands load what they need from [`Config`] and call the library; they own only
//! input/output formats. Later front-ends (Discord, console) call the same library code.

pub mod alerts;
pub mod classify;
pub mod eval;
pub mod ingest;
pub mod learn;
pub mod logging;
pub mod progress;
pub mod rank;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::model::EntitySpec;
use crate::watch::Watcher;

/// Veille: watch what social networks say of your brand or territory.
#[derive(Debug, Parser)]
#[command(name = "veille", version, about, long_about = None)]
pub struct Cli {
    /// A configuration file read after config/default.toml and config/local.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do; with none, `run`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Label JSON Lines posts (stdin or --input) neutral or critical, with cues and mentions.
    Classify(classify::Args),
    /// Score the classifier on a labelled file: precision, recall, F1 of the critical class.
    Eval(eval::Args),
    /// Replay files of posts (JSONL, CSV, saved X API pages) into the store, with their own
    /// timestamps.
    Replay(ingest::ReplayArgs),
    /// Run the live sources (X recent search and stream, Bluesky Jetstream) until stopped.
    Ingest(ingest::IngestArgs),
    /// Mentions, critical count and share per entity, or per day for one entity.
    Stats(ingest::StatsArgs),
    /// Rank a category's accounts on a platform for a month, with moves and streaks.
    Rank(rank::RankArgs),
    /// Where an account stood each month, and this month's position message.
    Position(rank::PositionArgs),
    /// Collect the catalogue accounts' figures from X, Bluesky and Instagram now.
    Collect(rank::CollectArgs),
    /// Run everything in one process until ctrl-c or SIGTERM: the live sources and ingest,
    /// the alerts, the monthly collection, and the Discord bot when DISCORD_TOKEN is set (the
    /// console otherwise). The default.
    Run(RunArgs),
    /// Run everything with the console front-end (slash commands typed or piped in), even
    /// when DISCORD_TOKEN is set; ends at the end of the input.
    Console(RunArgs),
    /// Classify the bundled demo posts and print a summary.
    Demo,
    /// Store the team's corrections (JSON Lines with a label) for the classifier to learn
    /// from; --status tells how much they help, --reset forgets them.
    Learn(learn::LearnArgs),
    /// Write a simulated stream with known bad buzzes (posts.jsonl, truth.jsonl, watch.toml).
    Simulate(alerts::SimulateArgs),
    /// Replay a simulated stream with the alerts on: recall, delay and false alerts per
    /// burst size.
    EvalAlerts(alerts::EvalAlertsArgs),
    /// A watched name's recent mentions and critical posts against its baseline, and its chart.
    Buzz(alerts::BuzzArgs),
    /// Import data into the store.
    Import {
        /// What to import.
        #[command(subcommand)]
        what: rank::ImportWhat,
    },
}

/// Where the watched names come from: a `--watch` file, else the config.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// A TOML file of `[[entity]]` tables (name, kind, aliases, ambiguous) replacing the
    /// config's watched names.
    #[arg(long, value_name = "FILE")]
    pub watch: Option<PathBuf>,
}

impl WatchArgs {
    /// The watched entities these arguments select.
    pub fn entities(&self, config: &Config) -> anyhow::Result<Vec<EntitySpec>> {
        match &self.watch {
            Some(path) => config::read_watch_file(path),
            None => Ok(config.entities.clone()),
        }
    }
}

/// Builds the watcher for `entities` from the config's lexicon and tuning.
pub fn build_watcher(config: &Config, entities: &[EntitySpec]) -> anyhow::Result<Watcher> {
    crate::watch::build(
        &config.classifier.extra_cues,
        config.classifier.tuning,
        entities,
    )
}

/// The watcher deciding with the store's corrections, when the store is there and free;
/// otherwise the lexicon's, saying why on standard error.
pub fn with_corrections(config: &Config, watcher: Watcher) -> anyhow::Result<Watcher> {
    match crate::store::Store::open_existing(&config.store.path) {
        Ok(Some(store)) => crate::commands::learn(watcher, &store),
        Ok(None) => Ok(watcher),
        Err(e) => {
            eprintln!("veille: the corrections in the store are not applied: {e:#}");
            Ok(watcher)
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    // The console at a terminal logs to a file beside the store: its replies stay readable.
    let console = match &cli.command {
        None | Some(Command::Run(_)) => crate::config::Tokens::from_env().discord.is_none(),
        Some(Command::Console(_)) => true,
        _ => false,
    } && std::io::IsTerminal::is_terminal(&std::io::stdin());
    logging::init(&config, console);
    match cli.command {
        Some(Command::Classify(args)) => classify::run(&config, args),
        Some(Command::Eval(args)) => eval::run(&config, args),
        Some(Command::Replay(args)) => ingest::replay(&config, args),
        Some(Command::Stats(args)) => ingest::stats(&config, args),
        Some(Command::Ingest(args)) => ingest::ingest(&config, args),
        Some(Command::Rank(args)) => rank::rank(&config, args),
        Some(Command::Position(args)) => rank::position(&config, args),
        Some(Command::Import { what }) => rank::import(&config, what),
        Some(Command::Collect(args)) => rank::collect(&config, args),
        Some(Command::Run(args)) => run_app(&config, args, Front::Auto),
        Some(Command::Console(args)) => run_app(&config, args, Front::Console),
        Some(Command::Demo) => classify::demo(&config),
        Some(Command::Learn(args)) => learn::run(&config, args),
        Some(Command::Simulate(args)) => alerts::simulate(args),
        Some(Command::EvalAlerts(args)) => alerts::eval_alerts(&config, args),
        Some(Command::Buzz(args)) => alerts::buzz(&config, args),
        None => run_app(
            &config,
            RunArgs {
                watch: WatchArgs { watch: None },
            },
            Front::Auto,
        ),
    }
}

/// Arguments of `veille run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// Which front-end `run_app` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Front {
    /// Discord when `DISCORD_TOKEN` is set, the console otherwise.
    Auto,
    /// The console.
    Console,
}

/// Runs `veille run` (or `console`) until ctrl-c or SIGTERM, or the end of the console's
/// input.
fn run_app(config: &Config, args: RunArgs, front: Front) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // Listen before the store is held: a SIGTERM from then on is a clean stop.
    let shutdown = {
        let _guard = runtime.enter();
        shutdown_listener()?
    };
    let ctx = crate::commands::Context::open(config.clone(), args.watch.entities(config)?)?;
    let tokens = crate::config::Tokens::from_env();
    let app = std::sync::Arc::new(crate::app::App::new(ctx));
    let status = if tokens.discord.is_some() && front == Front::Auto {
        runtime.block_on(crate::front::discord::run(app, tokens, shutdown))?
    } else {
        if front == Front::Auto {
            eprintln!(
                "veille: no DISCORD_TOKEN in the environment, so this is the console; set DISCORD_TOKEN to connect the bot (README.md, « Discord »)."
            );
        }
        runtime.block_on(async {
            app.start(tokens);
            app.spawn(crate::front::console::deliver(app.clone()));
            let reader = app.clone();
            let mut input =
                tokio::task::spawn_blocking(move || crate::front::console::read_commands(&reader));
            let ended = tokio::select! {
                r = &mut input => Some(r),
                _ = shutdown => None,
            };
            tracing::info!("stopping: draining every task and flushing the store");
            let status = app.shutdown().await;
            if let Some(r) = ended {
                r??;
            }
            status
        })?
    };
    // A prompt still waiting for a line must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    eprintln!(
        "veille stopped: {} posts read ({} already stored); sources: {}",
        status.posts,
        status.duplicates,
        if status.sources.is_empty() {
            "none".to_string()
        } else {
            status.sources.join(", ")
        }
    );
    for f in &status.failures {
        eprintln!("{f}");
    }
    Ok(())
}

/// Listens for ctrl-c and SIGTERM from now on (inside a tokio runtime); the future resolves
/// on the first.
pub fn shutdown_listener() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// Resolves on ctrl-c or SIGTERM (ctrl-c alone where SIGTERM cannot be listened to).
pub async fn shutdown_signal() {
    match shutdown_listener() {
        Ok(signal) => signal.await,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

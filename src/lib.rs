//! Veille watches what social networks say of a brand or a territory, for its communication team.
//!
//! # Layout
//!
//! - [`app`]: the long-running process (`veille run`): every task under one shutdown.
//! - [`config`]: layered configuration (built-in defaults, `config/default.toml`,
//!   `config/local.toml`, `VEILLE_*` environment); no other I/O.
//! - [`ingest`]: posts from sources through the watcher into the store, each counted once.
//! - [`http`]: the shared HTTP client and retry policy for outside services.
//! - [`model`]: plain data shared by everything: entities, labels, verdicts.
//! - [`columns`]: CSV files read by column name (replay and import share it).
//! - [`watch`]: the mention watcher, pure: folding, the name matcher, the classifier.
//! - [`rank`]: catalogue, metrics, positions, moves and streaks, and their messages; pure.
//! - [`store`]: the sled database; the only module that imports sled.
//! - [`commands`]: the command core, front-end neutral: typed replies or a `CommandError`.
//! - [`cli`]: the `veille` command line, one module per subcommand.
//!
//! ARCHITECTURE.md gives the bird's-eye view and the invariants.

pub mod alerts;
pub mod app;
pub mod cli;
pub mod columns;
pub mod commands;
pub mod config;
pub mod front;
pub mod http;
pub mod ingest;
pub mod model;
pub mod rank;
pub mod store;
pub mod watch;

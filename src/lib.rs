//! Veille watches what social networks say of a brand or a territory, for its communication team.
//!
//! # Layout
//!
//! - [`config`]: layered configuration (built-in defaults, `config/default.toml`,
//!   `config/local.toml`, `VEILLE_*` environment); no other I/O.
//! - [`model`]: plain data shared by everything: entities, labels, verdicts.
//! - [`watch`]: the mention watcher, pure: folding, the name matcher, the classifier.
//! - [`cli`]: the `veille` command line, one module per subcommand.
//!
//! ARCHITECTURE.md gives the bird's-eye view and the invariants.

pub mod cli;
pub mod config;
pub mod model;
pub mod watch;

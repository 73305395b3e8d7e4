//! The command core: every user-facing command, front-end neutral.
//!
//! A command is a function from typed arguments and one shared [`Context`] to a typed reply
//! or a [`CommandError`]. The slash commands are declared once in [`request`] and answered by
//! one function each, in their feature's file (`watch`, `alerts`, `subscriptions`, `feeds`,
//! `status`, `classify`, `corrections`, `rank`, `buzz`), from a [`Caller`] to a [`Reply`]; the one-shot
//! commands of `cli/` (`import`, `replay`, `collect`, `stats`) return their own types.
//! Front-ends only parse and render: the Discord bot and the console from the same replies,
//! `cli/` terminal text. A command never prints; long work reports progress through a
//! callback.
//!
//! Errors keep apart what the user did wrong ([`CommandError::User`], already in the user's
//! language, shown to them) from what broke ([`CommandError::Internal`], logged with its
//! cause; the user sees a short generic answer). Commands that scan the store are blocking
//! and say so: front-ends on tokio call them through `spawn_blocking`.

pub mod alerts;
pub mod buzz;
pub mod classify;
pub mod collect;
pub mod corrections;
pub mod feeds;
pub mod import;
pub mod outbox;
pub mod rank;
pub mod replay;
pub mod reply;
pub mod request;
pub mod stats;
pub mod status;
pub mod subscriptions;
pub mod watch;

pub use reply::{Caller, ChannelCheck, Image, Need, Reply, Tone};
pub use request::{run, Invocation, Request};

use std::sync::Arc;

use crate::config::Config;
use crate::model::{EntitySpec, Lang};
use crate::rank::catalog::{Catalog, UnknownName};
use crate::rank::seeds;
use crate::store::Store;
use crate::watch::Watcher;

/// What a slash command needs of the process that runs it, beside the [`Context`]: the app
/// of `veille run` (the tests may bring their own).
pub trait Process: Send + Sync {
    /// What every command uses now (its watcher follows the servers' lists).
    fn ctx(&self) -> Arc<Context>;
    /// The names watched for everyone (the configuration's).
    fn base_entities(&self) -> &[EntitySpec];
    /// Says that a server's watch list or its alert settings changed.
    fn rewatch(&self);
    /// Says that the team's corrections changed: the model is refitted, nothing restarts.
    fn refit(&self);
    /// Says that what is owed to channels may leave now (a channel was chosen again).
    fn wake_poster(&self) {}
    /// What the running tasks say of themselves.
    fn status(&self) -> status::Status;
}

/// What every command may use: the configuration, the store, the catalogue and the watcher.
/// One per process; cheap to share behind an `Arc`.
#[derive(Clone)]
pub struct Context {
    /// The configuration it was opened with.
    pub config: Config,
    /// The store (sled handles are shared, not copied).
    pub store: Store,
    /// The ranked accounts.
    pub catalog: Arc<Catalog>,
    /// The watched names, and the watcher built from them.
    pub entities: Arc<Vec<EntitySpec>>,
    /// The matcher and classifier.
    pub watcher: Arc<Watcher>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("store", &self.config.store.path)
            .field("entities", &self.entities.len())
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Opens the store at the configured path, loads the catalogue (importing the seed
    /// figures on first start unless `rank.demo_data` is off) and builds the watcher for
    /// `entities` (the lexicon's: commands that classify add the corrections with
    /// [`Context::learned`]).
    pub fn open(config: Config, entities: Vec<EntitySpec>) -> anyhow::Result<Context> {
        let store = Store::open(&config.store.path)?;
        Context::with_store(config, entities, store)
    }

    /// [`Context::open`] on a store already open (a temporary one in tests).
    pub fn with_store(
        config: Config,
        entities: Vec<EntitySpec>,
        store: Store,
    ) -> anyhow::Result<Context> {
        crate::config::validate_entities(&entities)?;
        let catalog = Catalog::load(&config.rank.catalog)?;
        if config.rank.demo_data && seeds::ensure(&store, &catalog)? {
            tracing::info!("imported the seed articles' figures into the store");
        }
        let watcher = lexicon_watcher(&config, &entities)?;
        Ok(Context {
            config,
            store,
            catalog: Arc::new(catalog),
            entities: Arc::new(entities),
            watcher: Arc::new(watcher),
        })
    }
}

impl Context {
    /// The same context watching `entities` instead (a new watcher; the store, catalogue
    /// and configuration are shared).
    /// The corrections in the store are applied.
    pub fn with_entities(&self, entities: Vec<EntitySpec>) -> anyhow::Result<Context> {
        crate::config::validate_entities(&entities)?;
        let watcher = learn(lexicon_watcher(&self.config, &entities)?, &self.store)?;
        Ok(Context {
            config: self.config.clone(),
            store: self.store.clone(),
            catalog: self.catalog.clone(),
            entities: Arc::new(entities),
            watcher: Arc::new(watcher),
        })
    }
}

impl Context {
    /// What the ingest pipeline needs of this context.
    pub fn watching(&self) -> crate::ingest::pipeline::Watching<'_> {
        crate::ingest::pipeline::Watching {
            config: &self.config,
            entities: &self.entities,
            store: self.store.clone(),
            watcher: self.watcher.clone(),
        }
    }

    /// The same context deciding with the corrections in its store (see [`learn`]): for
    /// the commands that classify.
    pub fn learned(mut self) -> anyhow::Result<Context> {
        let watcher = Arc::try_unwrap(self.watcher).unwrap_or_else(|shared| (*shared).clone());
        self.watcher = Arc::new(learn(watcher, &self.store)?);
        Ok(self)
    }
}

/// The lexicon's watcher for `entities`, with the configuration's cues and tuning.
fn lexicon_watcher(config: &Config, entities: &[EntitySpec]) -> anyhow::Result<Watcher> {
    crate::watch::build(
        &config.classifier.extra_cues,
        config.classifier.tuning,
        entities,
    )
}

/// A correction as the model learns it, for each correction.
pub fn correction_examples(
    watcher: &Watcher,
    corrections: &[crate::store::corrections::Correction],
) -> Vec<crate::watch::learned::Example> {
    let mut scratch = crate::watch::Scratch::default();
    corrections
        .iter()
        .map(|c| {
            watcher.example(
                &c.text,
                c.lang.as_deref(),
                c.label == crate::model::Label::Critical,
                &mut scratch,
            )
        })
        .collect()
}

/// The watcher deciding with a model fitted on the store's corrections, if it holds any and
/// they help: from 20 corrections on, the model is used only when its cross-validated F1 on
/// them beats the lexicon's (with none, exactly the lexicon's classifier).
pub fn learn(watcher: Watcher, store: &Store) -> anyhow::Result<Watcher> {
    use crate::watch::learned;
    let corrections = store.corrections()?;
    if corrections.is_empty() {
        return Ok(watcher);
    }
    let started = std::time::Instant::now();
    let examples = correction_examples(&watcher, &corrections);
    if examples.len() >= MIN_TO_CHECK {
        let (with, without) = (
            learned::cross_validated_f1(&examples, 5, true),
            learned::cross_validated_f1(&examples, 5, false),
        );
        if with < without {
            tracing::info!(
                corrections = examples.len(),
                with,
                without,
                "the corrections do not beat the lexicon by cross-validation yet: the lexicon decides"
            );
            return Ok(watcher);
        }
    }
    let model = learned::Model::fit(&examples);
    tracing::info!(
        corrections = corrections.len(),
        ms = started.elapsed().as_millis() as u64,
        "the classifier learned from the team's corrections"
    );
    Ok(watcher.with_model(Some(model)))
}

/// Corrections from which [`learn`] checks that the model helps before using it.
pub const MIN_TO_CHECK: usize = 20;

/// Why a command gave no reply.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The user asked for something that cannot be (an unknown category, a bad month, a
    /// malformed file): the message, in the user's language, is for them.
    #[error("{0}")]
    User(String),
    /// Something broke (the store, a bug): logged with its cause; the user is told little.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A command's result.
pub type CommandResult<T> = Result<T, CommandError>;

impl CommandError {
    /// A user error in their language.
    pub fn user(message: impl Into<String>) -> CommandError {
        CommandError::User(message.into())
    }

    /// A user error with a French and an English message.
    pub fn user_in(lang: Lang, fr: impl Into<String>, en: impl Into<String>) -> CommandError {
        CommandError::User(match lang {
            Lang::Fr => fr.into(),
            Lang::En => en.into(),
        })
    }

    /// What a front-end shows the user: the message of a user error, a short generic
    /// sentence for an internal one (whose cause goes to the log, see [`CommandError::log`]).
    pub fn reply(&self, lang: Lang) -> String {
        match self {
            CommandError::User(m) => m.clone(),
            CommandError::Internal(_) => match lang {
                Lang::Fr => "Une erreur interne est survenue ; elle est consignée dans le journal de Veille.".into(),
                Lang::En => "Something went wrong inside Veille; the cause is in its log.".into(),
            },
        }
    }

    /// Logs an internal error once, with its chain and what the command was; user errors
    /// are not logged as errors.
    pub fn log(&self, command: &str) {
        match self {
            CommandError::User(m) => tracing::info!(command, message = %m, "command refused"),
            CommandError::Internal(e) => {
                tracing::error!(command, error = format!("{e:#}"), "command failed")
            }
        }
    }
}

/// Turns an [`UnknownName`] into a user error in `lang`.
pub fn unknown(lang: Lang) -> impl Fn(UnknownName) -> CommandError {
    move |e| CommandError::User(e.message(lang))
}

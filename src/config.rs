//! Configuration: serde structs and their layered loading; no other I/O.
//!
//! Layers, later ones winning: built-in defaults < the bundled `config/default.toml` (compiled
//! into the binary, so that it runs from any directory) < `config/default.toml` and
//! `config/local.toml` under the working directory < an explicit `--config FILE` <
//! environment variables `VEILLE_SECTION__KEY` (`VEILLE_STORE__PATH=/var/lib/veille`).
//! Secrets (tokens) are never read here: they come from the environment where they are used.

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::model::{EntitySpec, Sensitivity};
use crate::watch::classifier::Tuning;

const BUNDLED_DEFAULT: &str = include_str!("../config/default.toml");

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Config {
    /// Where state lives.
    pub store: StoreConfig,
    /// The classifier's vocabulary and tuning.
    pub classifier: ClassifierConfig,
    /// Rankings: the catalogue and the demo data.
    pub rank: RankConfig,
    /// The outside services: where they are, never their tokens.
    pub sources: SourcesConfig,
    /// When the monthly collection runs.
    pub collect: CollectConfig,
    /// Bad-buzz alerts.
    pub alerts: AlertsConfig,
    /// The Discord bot (its token is `DISCORD_TOKEN`, from the environment only).
    pub discord: DiscordConfig,
    /// The watched brands and territories (`[[entity]]` tables).
    #[serde(rename = "entity")]
    pub entities: Vec<EntitySpec>,
}

/// An id or a name that may be written as a number (`user_id = 17841400000000042`, or the
/// same digits from the environment, which reads them as a number).
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::Text(s) => s,
        Id::Unsigned(n) => n.to_string(),
        Id::Signed(n) => n.to_string(),
    }))
}

/// Where the Discord bot connects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscordConfig {
    /// The API's base URL (`VEILLE_DISCORD__API_URL`): Discord's own, or a proxy; the gateway
    /// URL comes from its `GET /gateway/bot`.
    pub api_url: String,
    /// Register the commands in this server only (they appear at once; global commands can
    /// take up to an hour the first time).
    pub guild_id: Option<u64>,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            api_url: "https://discord.com".into(),
            guild_id: None,
        }
    }
}

/// The embedded database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The sled directory.
    pub path: PathBuf,
    /// Kept posts are deleted this many days after they were stored.
    pub posts_retention_days: u32,
    /// Hourly counters are deleted this many days after their hour.
    pub counters_retention_days: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("data/veille.db"),
            posts_retention_days: 90,
            counters_retention_days: 3650,
        }
    }
}

/// Bad-buzz alerts (`[alerts]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Run the detector in `veille run`.
    pub enabled: bool,
    /// The alert's grain: minutes per bucket, a multiple of 5 (the store's slots).
    pub bucket_minutes: u32,
    /// Days of history the baseline reads (the store keeps alert slots that long).
    pub history_days: u32,
    /// The default sensitivity.
    pub sensitivity: Sensitivity,
    /// Critical posts an alert needs in its window at least.
    pub min_critical: u32,
    /// After a close, no new alert for the same name this long, unless criticism doubles.
    pub cooldown_minutes: u32,
    /// An alert closes after this long with its critical count and share back near usual.
    pub calm_minutes: u32,
    /// A name alerting again this soon after a close continues the same alert (« reprise »).
    pub reopen_hours: u32,
    /// A file receiving every alert event as one JSON line (none when empty).
    pub jsonl: Option<PathBuf>,
    /// Where the console writes the alerts' charts.
    pub charts_dir: PathBuf,
    /// Per-entity overrides, by entity name: `[alerts.entities."SNCF"] sensitivity = "low"`.
    pub entities: std::collections::BTreeMap<String, AlertOverride>,
}

/// What one entity changes of the alert defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AlertOverride {
    /// Its sensitivity.
    pub sensitivity: Option<Sensitivity>,
    /// Its minimum of critical posts.
    pub min_critical: Option<u32>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            enabled: true,
            bucket_minutes: 15,
            history_days: 35,
            sensitivity: Sensitivity::Medium,
            min_critical: 10,
            cooldown_minutes: 60,
            calm_minutes: 60,
            reopen_hours: 12,
            jsonl: None,
            charts_dir: PathBuf::from("data/charts"),
            entities: Default::default(),
        }
    }
}

/// Rankings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RankConfig {
    /// Catalogue files in the format of `config/catalog/*.toml`, added to the bundled ones.
    pub catalog: Vec<PathBuf>,
    /// Import the seed articles' figures into the store on first start.
    pub demo_data: bool,
}

impl Default for RankConfig {
    fn default() -> Self {
        RankConfig {
            catalog: Vec::new(),
            demo_data: true,
        }
    }
}

/// The outside services. Every endpoint is configurable so that tests and proxies can point
/// elsewhere; tokens come from the environment (`X_BEARER_TOKEN`, `INSTAGRAM_ACCESS_TOKEN`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SourcesConfig {
    /// X API v2.
    pub x: XConfig,
    /// Bluesky.
    pub bluesky: BlueskyConfig,
    /// Instagram Graph API.
    pub instagram: InstagramConfig,
    /// RSS, Atom and JSON feeds.
    pub feeds: FeedsConfig,
    /// Mastodon instances.
    pub mastodon: MastodonConfig,
}

/// Mastodon instances whose public timeline is followed (`[sources.mastodon]`);
/// `MASTODON_ACCESS_TOKEN` from the environment when an instance requires one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MastodonConfig {
    /// The instances (`https://piaille.fr`).
    pub instances: Vec<String>,
    /// Request and connection timeout.
    pub timeout_secs: u64,
    /// Pages of 40 statuses read at the most to catch up after a disconnection.
    pub catch_up_pages: u32,
}

impl Default for MastodonConfig {
    fn default() -> Self {
        MastodonConfig {
            instances: Vec::new(),
            timeout_secs: 30,
            catch_up_pages: 250,
        }
    }
}

/// RSS, Atom and JSON feeds (`[sources.feeds]`): the deployment's own, and those the servers
/// add with `/feed add`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedsConfig {
    /// Feeds polled for everyone (the deployer's own: not filtered by address).
    pub urls: Vec<String>,
    /// Seconds between two polls of a feed (a random tenth more or less, so feeds added
    /// together are not polled together).
    pub poll_interval_secs: u64,
    /// A feed answering slower than this is given up until its next poll.
    pub timeout_secs: u64,
    /// A feed larger than this is refused.
    pub max_bytes: u64,
    /// Feeds added from Discord may reach private addresses (an intranet, the tests): off,
    /// they must resolve to public ones, at every redirect too.
    pub allow_private_addresses: bool,
    /// Feeds fetched at the same time.
    pub concurrency: usize,
}

impl Default for FeedsConfig {
    fn default() -> Self {
        FeedsConfig {
            urls: Vec::new(),
            poll_interval_secs: 900,
            timeout_secs: 30,
            max_bytes: 10 * 1024 * 1024,
            allow_private_addresses: false,
            concurrency: 16,
        }
    }
}

impl FeedsConfig {
    /// The time between two polls of a feed.
    pub fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.poll_interval_secs.max(1))
    }
}

/// X API v2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XConfig {
    /// Base URL (`VEILLE_SOURCES__X__BASE_URL`).
    pub base_url: String,
    /// Request timeout.
    pub timeout_secs: u64,
    /// Poll recent search (when `X_BEARER_TOKEN` is set).
    pub search: bool,
    /// Seconds between two recent-search polls.
    pub poll_interval_secs: u64,
    /// Pages read at most per query and poll: X bills every post read.
    pub max_pages: u32,
    /// How far back a new query's first poll looks.
    pub lookback_minutes: u64,
    /// Follow the filtered stream (when `X_BEARER_TOKEN` is set), its rules kept in sync with
    /// the watched names.
    pub stream: bool,
    /// Posts read from X per UTC day at the most, search and stream together: X bills each.
    pub max_reads_per_day: u64,
    /// What X bills a post read, in US dollars (for the estimate in `/status`).
    pub price_per_read: f64,
}

impl Default for XConfig {
    fn default() -> Self {
        XConfig {
            base_url: "https://api.x.com".into(),
            timeout_secs: 30,
            search: true,
            poll_interval_secs: 300,
            max_pages: 10,
            lookback_minutes: 60,
            stream: false,
            max_reads_per_day: 2000,
            price_per_read: 0.005,
        }
    }
}

impl XConfig {
    /// The poll interval.
    pub fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.poll_interval_secs.max(1))
    }
}

/// Bluesky's public API and Jetstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlueskyConfig {
    /// The public AppView (`app.bsky.actor.getProfiles`).
    pub api_url: String,
    /// The Jetstream instance (`VEILLE_SOURCES__BLUESKY__JETSTREAM_URL`).
    pub jetstream_url: String,
    /// Request timeout.
    pub timeout_secs: u64,
    /// Follow Jetstream in `veille ingest`.
    pub jetstream: bool,
    /// Seconds replayed again after a restart, deduplicated (Jetstream's cursor is a time).
    pub overlap_secs: u64,
}

impl Default for BlueskyConfig {
    fn default() -> Self {
        BlueskyConfig {
            api_url: "https://public.api.bsky.app".into(),
            jetstream_url: "wss://jetstream1.us-east.bsky.network".into(),
            timeout_secs: 30,
            jetstream: true,
            overlap_secs: 5,
        }
    }
}

/// Instagram Graph API business discovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstagramConfig {
    /// Base URL.
    pub base_url: String,
    /// Graph API version.
    pub api_version: String,
    /// The deployment's own professional Instagram user id (business discovery asks through
    /// it). Digits, quoted or not (`VEILLE_SOURCES__INSTAGRAM__USER_ID=17841400000000042`).
    #[serde(default, deserialize_with = "string_or_number")]
    pub user_id: Option<String>,
    /// Request timeout.
    pub timeout_secs: u64,
    /// The watched name the comments under the own account's posts are about: set, they
    /// are read (`instagram_manage_comments` on the token).
    pub comments_entity: Option<String>,
    /// The newest posts of the own account whose comments are read.
    pub comments_media: u32,
    /// Seconds between two reads of the comments.
    pub comments_poll_interval_secs: u64,
}

impl Default for InstagramConfig {
    fn default() -> Self {
        InstagramConfig {
            base_url: "https://graph.facebook.com".into(),
            api_version: "v25.0".into(),
            user_id: None,
            timeout_secs: 30,
            comments_entity: None,
            comments_media: 25,
            comments_poll_interval_secs: 900,
        }
    }
}

/// When the monthly collection runs: on `day` at `hour`, local time in `timezone`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectConfig {
    /// Day of the month, 1 to 28.
    pub day: u32,
    /// Hour, 0 to 23.
    pub hour: u32,
    /// An IANA time zone.
    pub timezone: String,
}

impl Default for CollectConfig {
    fn default() -> Self {
        CollectConfig {
            day: 1,
            hour: 6,
            timezone: "Europe/Paris".into(),
        }
    }
}

/// The classifier's extra vocabulary and its tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Cue files in the format of `config/lexicon/cues.toml`, added to the bundled ones.
    pub extra_cues: Vec<PathBuf>,
    /// Weights and threshold.
    pub tuning: Tuning,
}

impl Config {
    /// The log file beside the store (`data/veille.log` for `data/veille.db`), where the
    /// console at a terminal logs.
    pub fn log_file(&self) -> PathBuf {
        self.store
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("veille.log"), |p| p.join("veille.log"))
    }
}

impl Config {
    /// Loads every layer, with `extra` (the `--config` file) above the working directory's files.
    pub fn load(extra: Option<&Path>) -> anyhow::Result<Config> {
        Config::load_from(Path::new("."), extra, Env::prefixed("VEILLE_").split("__"))
    }

    /// [`Config::load`] from another directory and environment provider (for tests).
    pub fn load_from(dir: &Path, extra: Option<&Path>, env: Env) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(BUNDLED_DEFAULT))
            .merge(Toml::file(dir.join("config/default.toml")))
            .merge(Toml::file(dir.join("config/local.toml")));
        if let Some(path) = extra {
            anyhow::ensure!(
                path.is_file(),
                "config file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file(path));
        }
        let config: Config = figment
            .merge(env)
            .extract()
            .context("reading the configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: one clear message for the first problem.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.store.path.as_os_str().is_empty(),
            "store.path is empty: name the store's directory (default data/veille.db)"
        );
        validate_entities(&self.entities)?;
        let a = &self.alerts;
        anyhow::ensure!(
            a.bucket_minutes >= 5 && a.bucket_minutes % 5 == 0 && a.bucket_minutes <= 240,
            "alerts.bucket_minutes is {}: it must be a multiple of 5 minutes, from 5 to 240",
            a.bucket_minutes
        );
        anyhow::ensure!(
            a.history_days >= 1,
            "alerts.history_days must be at least 1 (default 35)"
        );
        for name in a.entities.keys() {
            anyhow::ensure!(
                self.entities.iter().any(|e| &e.name == name),
                "alerts.entities names {name:?}, which is not a watched entity ([[entity]] name)"
            );
        }
        let t = &self.classifier.tuning;
        anyhow::ensure!(
            t.threshold.is_finite() && t.threshold > 0.0,
            "classifier.tuning.threshold must be a positive number"
        );
        Ok(())
    }
}

/// The outside services' credentials. They come from the environment only, never from a
/// configuration file, and never reach a log, an error or the store (`SecretString`).
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    /// `X_BEARER_TOKEN`.
    pub x: Option<SecretString>,
    /// `INSTAGRAM_ACCESS_TOKEN`.
    pub instagram: Option<SecretString>,
    /// `DISCORD_TOKEN`: the bot's token.
    pub discord: Option<SecretString>,
    /// `MASTODON_ACCESS_TOKEN`, for instances whose public timeline needs one.
    pub mastodon: Option<SecretString>,
}

impl Tokens {
    /// From `X_BEARER_TOKEN`, `INSTAGRAM_ACCESS_TOKEN`, `DISCORD_TOKEN` and
    /// `MASTODON_ACCESS_TOKEN`.
    pub fn from_env() -> Tokens {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(SecretString::from)
        };
        Tokens {
            x: var("X_BEARER_TOKEN"),
            instagram: var("INSTAGRAM_ACCESS_TOKEN"),
            discord: var("DISCORD_TOKEN"),
            mastodon: var("MASTODON_ACCESS_TOKEN"),
        }
    }
}

/// The `[[entity]]` tables of a `--watch` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchFile {
    #[serde(default)]
    entity: Vec<EntitySpec>,
}

/// Reads a `--watch` file: `[[entity]]` tables, the shape the config uses.
pub fn read_watch_file(path: &Path) -> anyhow::Result<Vec<EntitySpec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading watch file {}", path.display()))?;
    let file: WatchFile =
        toml::from_str(&text).with_context(|| format!("parsing watch file {}", path.display()))?;
    validate_entities(&file.entity).with_context(|| format!("watch file {}", path.display()))?;
    Ok(file.entity)
}

/// Refuses watched names that would count a post twice or match nothing: an empty name, or
/// a name or alias that another entity also has (`Lyon` and `lyon`, an alias equal to another
/// entity's name), compared with case and accents folded. An entity repeating its own alias
/// is harmless and accepted.
pub fn validate_entities(entities: &[EntitySpec]) -> anyhow::Result<()> {
    use std::collections::HashMap;
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (i, e) in entities.iter().enumerate() {
        anyhow::ensure!(
            !e.name.trim().is_empty(),
            "entity #{} has an empty name",
            i + 1
        );
        for term in std::iter::once(&e.name).chain(&e.aliases) {
            let key = crate::watch::fold::fold(term.trim());
            anyhow::ensure!(
                !key.trim_start_matches(['@', '#']).is_empty(),
                "entity {:?} has an empty alias",
                e.name
            );
            if let Some(&j) = owner.get(&key) {
                if j != i {
                    let other = &entities[j].name;
                    anyhow::bail!(
                        "{term:?} is watched twice, by entity {other:?} (#{}) and entity {:?} (#{}): \
                         a post naming it would be counted twice; merge them into one [[entity]] \
                         or remove one",
                        j + 1,
                        e.name,
                        i + 1
                    );
                }
            }
            owner.insert(key, i);
        }
    }
    Ok(())
}

#[cfg(test)]
// figment's Jail returns its own large error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    fn load() -> anyhow::Result<Config> {
        Config::load_from(Path::new("."), None, Env::prefixed("VEILLE_").split("__"))
    }

    #[test]
    fn layers_apply_in_order() {
        Jail::expect_with(|jail| {
            // Bundled defaults alone.
            let c = load().expect("defaults load");
            assert_eq!(c.store.path, PathBuf::from("data/veille.db"));
            assert!(
                !c.entities.is_empty(),
                "the bundled config watches demo entities"
            );
            // local.toml over default.toml, environment over both.
            jail.create_dir("config")?;
            jail.create_file("config/default.toml", "[store]\npath = \"a\"\n")?;
            jail.create_file("config/local.toml", "[store]\npath = \"b\"\n")?;
            assert_eq!(load().expect("files load").store.path, PathBuf::from("b"));
            jail.set_env("VEILLE_STORE__PATH", "c");
            assert_eq!(load().expect("env loads").store.path, PathBuf::from("c"));
            Ok(())
        });
    }

    #[test]
    fn a_wrong_key_is_a_clear_error() {
        Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file("config/local.toml", "[store]\npaht = \"x\"\n")?;
            let err = load().expect_err("typo refused");
            assert!(format!("{err:#}").contains("paht"), "{err:#}");
            Ok(())
        });
    }

    #[test]
    fn ids_are_digits_quoted_or_not() {
        Jail::expect_with(|jail| {
            jail.set_env("VEILLE_SOURCES__INSTAGRAM__USER_ID", "17841400000000042");
            jail.set_env("VEILLE_DISCORD__GUILD_ID", "123456789012345678");
            let c = load().expect("digits from the environment load");
            assert_eq!(
                c.sources.instagram.user_id.as_deref(),
                Some("17841400000000042")
            );
            assert_eq!(c.discord.guild_id, Some(123456789012345678));
            jail.clear_env();
            jail.create_dir("config")?;
            jail.create_file(
                "config/local.toml",
                "[sources.instagram]\nuser_id = 17841400000000043\n",
            )?;
            assert_eq!(
                load()
                    .expect("an unquoted id loads")
                    .sources
                    .instagram
                    .user_id
                    .as_deref(),
                Some("17841400000000043")
            );
            Ok(())
        });
    }

    fn watch(text: &str) -> anyhow::Result<Vec<EntitySpec>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.toml");
        std::fs::write(&path, text).expect("write");
        read_watch_file(&path)
    }

    #[test]
    fn watch_files_refuse_unknown_keys_empty_names_and_names_watched_twice() {
        let err = watch("[[entity]]\nname = \"Lyon\"\nalias = [\"@lyon\"]\n").expect_err("typo");
        assert!(
            format!("{err:#}").contains("unknown field `alias`"),
            "{err:#}"
        );
        assert!(format!("{err:#}").contains("aliases"), "{err:#}");
        let err = watch("[[entity]]\nname = \" \"\n").expect_err("empty");
        assert!(format!("{err:#}").contains("empty name"), "{err:#}");
        let err =
            watch("[[entity]]\nname = \"Lyon\"\n[[entity]]\nname = \"lyon\"\n").expect_err("twice");
        assert!(format!("{err:#}").contains("watched twice"), "{err:#}");
        let err = watch(
            "[[entity]]\nname = \"Métropole de Lyon\"\naliases = [\"Lyon\"]\n[[entity]]\nname = \"LYON\"\n",
        )
        .expect_err("alias of another");
        assert!(
            format!("{err:#}").contains("\"LYON\" is watched twice"),
            "{err:#}"
        );
        watch("[[entity]]\nname = \"Lyon\"\naliases = [\"lyon\", \"@Lyon\", \"#lyon\"]\n")
            .expect("an entity may repeat its own name");
    }

    #[test]
    fn watch_file_kinds_are_forgiving() {
        let e = watch(
            "[[entity]]\nname = \"A\"\nkind = \"city\"\n[[entity]]\nname = \"B\"\nkind = \"department\"\n\
             [[entity]]\nname = \"C\"\nkind = \"Commune\"\n[[entity]]\nname = \"D\"\nkind = \"département\"\n\
             [[entity]]\nname = \"E\"\nkind = \"Région\"\n[[entity]]\nname = \"F\"\nkind = \"métropole\"\n",
        )
        .expect("forgiving kinds");
        let kinds: Vec<EntityKind> = e.iter().map(|e| e.kind).collect();
        use crate::model::EntityKind;
        assert_eq!(
            kinds,
            [
                EntityKind::Commune,
                EntityKind::Departement,
                EntityKind::Commune,
                EntityKind::Departement,
                EntityKind::Region,
                EntityKind::Intercommunalite
            ]
        );
        let err = watch("[[entity]]\nname = \"A\"\nkind = \"planet\"\n").expect_err("unknown");
        assert!(
            format!("{err:#}").contains("valid kinds: brand, commune"),
            "{err:#}"
        );
    }

    #[test]
    fn an_empty_store_path_is_refused() {
        Jail::expect_with(|jail| {
            jail.set_env("VEILLE_STORE__PATH", "");
            let err = load().expect_err("empty path");
            assert!(
                format!("{err:#}").contains("store.path is empty"),
                "{err:#}"
            );
            Ok(())
        });
    }

    #[test]
    fn watch_files_read_entity_tables() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.toml");
        std::fs::write(
            &path,
            "[[entity]]\nname = \"Tours\"\nkind = \"commune\"\naliases = [\"@VilledeTours\"]\nambiguous = true\n",
        )
        .expect("write");
        let e = read_watch_file(&path).expect("reads");
        assert_eq!(e.len(), 1);
        assert!(e[0].ambiguous);
        assert_eq!(e[0].aliases, ["@VilledeTours"]);
    }
}

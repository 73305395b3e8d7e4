//! The slash commands, declared once: [`Request`] derives clap's `Subcommand`, and everything
//! else is read off that one declaration: the console's parser, `/help` and completion, the
//! Discord registration (names, descriptions, options, choices, French localizations,
//! Manage Server), and [`run`], which answers a request from the command core.
//!
//! How the declaration says what clap has no word for:
//! - a command's `///` doc is its English description, its `long_about` the French one, and
//!   its `visible_alias` its French name (so the console also accepts `/classement`);
//! - an option's the same with `long_help` and `visible_alias`; its `value_name` says what
//!   Discord suggests while typing ([`Suggest`]: `category`, `platform`, `metric`, `account`,
//!   `watched`, `feed`) or that it is free `text` (the rest of a console line);
//! - `after_help = MANAGE_SERVER` marks a command that changes the server's settings: Discord
//!   shows it only to members with Manage Server, and [`run`] refuses it to anyone else;
//! - an option's Rust type gives its Discord type: [`ChannelRef`] a channel, [`Rows`] a
//!   bounded integer, a `ValueEnum` (such as [`Sensitivity`]) a list of choices, `String`
//!   text.
//!
//! Adding a command is one variant here (the declaration) and one function in its feature's
//! file; `tests` checks every declaration for what Discord requires.

use std::any::TypeId;
use std::sync::OnceLock;

use clap::{FromArgMatches, Subcommand};

use super::reply::{Caller, Reply};
use super::{alerts, buzz, classify, feeds, rank, status, subscriptions, watch, Process};
use super::{CommandError, CommandResult};
use crate::model::{Lang, Sensitivity};
use crate::watch::fold::fold;

/// The note that marks a command needing the Manage Server permission.
pub const MANAGE_SERVER: &str = "Needs the Manage Server permission.";

/// One slash command with its options.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum Request {
    /// A category's ranking on a platform for a month
    #[command(
        visible_alias = "classement",
        long_about = "Classement d'une catégorie de comptes sur un réseau pour un mois"
    )]
    Rank {
        /// villes, departements, regions…
        #[arg(
            long,
            visible_alias = "categorie",
            value_name = "category",
            long_help = "villes, départements, régions…"
        )]
        category: String,
        /// twitter, instagram, bluesky, facebook
        #[arg(
            long,
            visible_alias = "reseau",
            value_name = "platform",
            long_help = "twitter, instagram, bluesky, facebook"
        )]
        platform: String,
        /// followers, posts, engagement, performance
        #[arg(
            long,
            visible_alias = "mesure",
            value_name = "metric",
            long_help = "abonnés, publications, engagement, performance"
        )]
        metric: Option<String>,
        /// YYYY-MM (the latest by default)
        #[arg(
            long,
            visible_alias = "mois",
            long_help = "AAAA-MM (le dernier par défaut)"
        )]
        month: Option<String>,
        /// How many rows
        #[arg(long, long_help = "Combien de lignes")]
        top: Option<Rows>,
    },
    /// An account's recent positions, with a chart
    #[command(long_about = "Les positions récentes d'un compte, avec un graphique")]
    Position {
        /// @handle or name
        #[arg(
            long,
            visible_alias = "compte",
            value_name = "account",
            long_help = "@compte ou nom"
        )]
        account: String,
        /// twitter, instagram, bluesky, facebook
        #[arg(
            long,
            visible_alias = "reseau",
            value_name = "platform",
            long_help = "twitter, instagram, bluesky, facebook"
        )]
        platform: Option<String>,
    },
    /// Post an account's monthly position in a channel
    #[command(
        visible_alias = "abonner",
        long_about = "Poster chaque mois la position d'un compte dans un salon",
        after_help = MANAGE_SERVER
    )]
    Subscribe(Subscription),
    /// Stop posting an account's monthly position
    #[command(
        visible_alias = "desabonner",
        long_about = "Arrêter de poster la position mensuelle d'un compte",
        after_help = MANAGE_SERVER
    )]
    Unsubscribe(Subscription),
    /// This server's subscriptions
    #[command(
        visible_alias = "abonnements",
        long_about = "Les abonnements de ce serveur"
    )]
    Subscriptions,
    /// The names this server watches
    #[command(
        subcommand,
        visible_alias = "surveiller",
        long_about = "Les noms que ce serveur surveille"
    )]
    Watch(WatchRequest),
    /// Where and how bad-buzz alerts arrive
    #[command(
        subcommand,
        visible_alias = "alertes",
        long_about = "Où et comment arrivent les alertes de bad buzz"
    )]
    Alerts(AlertsRequest),
    /// The web feeds this server reads (press, Google Alerts, blogs)
    #[command(
        subcommand,
        visible_alias = "flux",
        long_about = "Les flux web que ce serveur lit (presse, alertes Google, blogs)"
    )]
    Feed(FeedRequest),
    /// A watched name's recent mentions and critical posts against its baseline
    #[command(long_about = "Mentions et critiques récentes d'un nom surveillé contre sa normale")]
    Buzz {
        /// The watched name
        #[arg(
            long,
            visible_alias = "nom",
            value_name = "watched",
            long_help = "Le nom surveillé"
        )]
        name: String,
        /// 24h, 48h, 7d or a date YYYY-MM-DD
        #[arg(
            long,
            visible_alias = "periode",
            long_help = "24h, 48h, 7j ou une date AAAA-MM-JJ"
        )]
        period: Option<String>,
    },
    /// The classifier's verdict on a text, with its cues
    #[command(
        visible_alias = "classer",
        long_about = "Le verdict du classifieur sur un texte, avec ses indices"
    )]
    Classify {
        /// The post's text
        #[arg(
            long,
            visible_alias = "texte",
            value_name = "text",
            long_help = "Le texte du post"
        )]
        text: String,
    },
    /// Sources, posts today, last collection, open alerts
    #[command(
        visible_alias = "etat",
        long_about = "Sources, posts du jour, dernière collecte, alertes ouvertes"
    )]
    Status,
    /// Veille's commands
    #[command(visible_alias = "aide", long_about = "Les commandes de Veille")]
    Help,
}

/// What `/subscribe` and `/unsubscribe` name.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Subscription {
    /// @handle or name
    #[arg(
        long,
        visible_alias = "compte",
        value_name = "account",
        long_help = "@compte ou nom"
    )]
    pub account: String,
    /// twitter, instagram, bluesky, facebook
    #[arg(
        long,
        visible_alias = "reseau",
        value_name = "platform",
        long_help = "twitter, instagram, bluesky, facebook"
    )]
    pub platform: String,
    /// The channel (this one by default)
    #[arg(
        long,
        visible_alias = "salon",
        long_help = "Le salon (celui-ci par défaut)"
    )]
    pub channel: Option<ChannelRef>,
}

/// `/watch …`
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum WatchRequest {
    /// Watch a name
    #[command(visible_alias = "ajouter", long_about = "Surveiller un nom", after_help = MANAGE_SERVER)]
    Add {
        /// The brand or territory
        #[arg(long, visible_alias = "nom", long_help = "La marque ou le territoire")]
        name: String,
        /// Other names, @handles, #hashtags, comma-separated
        #[arg(
            long,
            long_help = "Autres noms, @comptes, #hashtags, séparés par des virgules"
        )]
        aliases: Option<String>,
        /// brand, commune, departement, region, intercommunalite, person, other
        #[arg(
            long,
            visible_alias = "type",
            long_help = "brand, commune, departement, region, intercommunalite, person, other"
        )]
        kind: Option<String>,
    },
    /// Stop watching a name
    #[command(visible_alias = "retirer", long_about = "Ne plus surveiller un nom", after_help = MANAGE_SERVER)]
    Remove {
        /// The watched name
        #[arg(
            long,
            visible_alias = "nom",
            value_name = "listed",
            long_help = "Le nom surveillé"
        )]
        name: String,
    },
    /// The watched names
    #[command(visible_alias = "liste", long_about = "Les noms surveillés")]
    List,
}

/// `/feed …`
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum FeedRequest {
    /// Read a feed (RSS, Atom or JSON Feed)
    #[command(
        visible_alias = "ajouter",
        long_about = "Lire un flux (RSS, Atom ou JSON Feed)",
        after_help = MANAGE_SERVER
    )]
    Add {
        /// The feed's address (https://…)
        #[arg(
            long,
            visible_alias = "adresse",
            long_help = "L'adresse du flux (https://…)"
        )]
        url: String,
    },
    /// Stop reading a feed
    #[command(
        visible_alias = "retirer",
        long_about = "Ne plus lire un flux",
        after_help = MANAGE_SERVER
    )]
    Remove {
        /// The feed's address
        #[arg(
            long,
            visible_alias = "adresse",
            value_name = "feed",
            long_help = "L'adresse du flux"
        )]
        url: String,
    },
    /// This server's feeds and how they read
    #[command(
        visible_alias = "liste",
        long_about = "Les flux de ce serveur et comment ils se lisent"
    )]
    List,
}

/// `/alerts …`
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum AlertsRequest {
    /// The channel alerts go to
    #[command(visible_alias = "salon", long_about = "Le salon où arrivent les alertes", after_help = MANAGE_SERVER)]
    Channel {
        /// The channel
        #[arg(long, visible_alias = "salon", long_help = "Le salon")]
        channel: ChannelRef,
    },
    /// How readily alerts open
    #[command(
        visible_alias = "sensibilite",
        long_about = "À quel point les alertes se déclenchent facilement",
        after_help = MANAGE_SERVER
    )]
    Sensitivity {
        /// low: big spikes only; high: smaller spikes too
        #[arg(
            long,
            visible_alias = "niveau",
            value_enum,
            long_help = "faible : les gros pics seulement ; haute : les petits aussi"
        )]
        level: Sensitivity,
    },
    /// Where alerts go, their sensitivity, the open alerts
    #[command(
        visible_alias = "etat",
        long_about = "Où vont les alertes, leur sensibilité, les alertes ouvertes"
    )]
    Status,
}

/// Answers a parsed command for `caller` (blocking: front-ends on tokio call it in
/// `spawn_blocking`). A command declared with [`MANAGE_SERVER`] is refused to a caller
/// without it, whatever the front-end checked before.
pub fn run(process: &dyn Process, caller: &Caller, command: &Invocation) -> CommandResult<Reply> {
    if command.manage {
        caller.must_manage(
            "il faut la permission « Gérer le serveur » pour cette commande",
            "this command needs the Manage Server permission",
        )?;
    }
    let ctx = process.ctx();
    match &command.request {
        Request::Rank {
            category,
            platform,
            metric,
            month,
            top,
        } => rank::ranking(
            &ctx,
            caller,
            category,
            platform,
            metric,
            month,
            top.map(|t| t.0),
        ),
        Request::Position { account, platform } => {
            rank::positions(&ctx, caller, account, platform.as_deref())
        }
        Request::Subscribe(s) => subscriptions::subscribe(&ctx, caller, s),
        Request::Unsubscribe(s) => subscriptions::unsubscribe(&ctx, caller, s),
        Request::Subscriptions => subscriptions::list(&ctx, caller),
        Request::Watch(WatchRequest::Add {
            name,
            aliases,
            kind,
        }) => watch::add(process, caller, name, aliases.as_deref(), kind.as_deref()),
        Request::Watch(WatchRequest::Remove { name }) => watch::remove(process, caller, name),
        Request::Watch(WatchRequest::List) => watch::list(process, caller),
        Request::Alerts(AlertsRequest::Channel { channel }) => {
            alerts::channel(process, caller, channel.0)
        }
        Request::Alerts(AlertsRequest::Sensitivity { level }) => {
            alerts::sensitivity(process, caller, *level)
        }
        Request::Alerts(AlertsRequest::Status) => alerts::status(process, caller),
        Request::Feed(FeedRequest::Add { url }) => feeds::add(process, caller, url),
        Request::Feed(FeedRequest::Remove { url }) => feeds::remove(process, caller, url),
        Request::Feed(FeedRequest::List) => feeds::list(process, caller),
        Request::Buzz { name, period } => buzz::slash(process, caller, name, period.as_deref()),
        Request::Classify { text } => classify::classify(&ctx, caller, text),
        Request::Status => status::status(process, caller),
        Request::Help => Ok(help(caller.lang)),
    }
}

/// A request as parsed from a front-end, with what its declaration says of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The request.
    pub request: Request,
    /// Its command's words (`watch add`), for logs.
    pub path: &'static str,
    /// Whether it needs Manage Server.
    pub manage: bool,
}

/// A channel, as Discord sends it (its id) or as typed at the console (`<#42>` or `42`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRef(pub u64);

impl std::str::FromStr for ChannelRef {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<ChannelRef, BadValue> {
        s.trim()
            .trim_start_matches("<#")
            .trim_end_matches('>')
            .parse()
            .map(ChannelRef)
            .map_err(|_| BadValue {
                fr: format!("{s:?} n'est pas un salon"),
                en: format!("{s:?} is not a channel"),
            })
    }
}

/// How many rows of a ranking to show, 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rows(pub usize);

impl Rows {
    /// The fewest.
    pub const MIN: usize = 1;
    /// The most.
    pub const MAX: usize = 100;
}

impl std::str::FromStr for Rows {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Rows, BadValue> {
        match s.trim().parse::<usize>() {
            Ok(n) if (Rows::MIN..=Rows::MAX).contains(&n) => Ok(Rows(n)),
            Ok(_) => Err(BadValue {
                fr: format!("{s} n'est pas entre {} et {}", Rows::MIN, Rows::MAX),
                en: format!("{s} is not between {} and {}", Rows::MIN, Rows::MAX),
            }),
            Err(_) => Err(BadValue {
                fr: format!("{s:?} n'est pas un nombre"),
                en: format!("{s:?} is not a number"),
            }),
        }
    }
}

/// Why an option's value was refused, in both languages.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{en}")]
pub struct BadValue {
    /// In French.
    pub fr: String,
    /// In English.
    pub en: String,
}

/// What Discord suggests while an option is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suggest {
    /// Ranking categories.
    Category,
    /// Platforms.
    Platform,
    /// Ranking metrics.
    Metric,
    /// Catalogue accounts.
    Account,
    /// The names the server reads: its list's and the configuration's.
    Watched,
    /// The names of the server's own list (what it can remove).
    Listed,
    /// The feeds the server reads.
    Feed,
}

/// The shape of an option's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionKind {
    /// Text, with suggestions while typed; `free`: a post's text (the rest of a console line,
    /// up to [`TEXT_MAX`] characters).
    Text {
        /// What is suggested.
        suggest: Option<Suggest>,
        /// Free text.
        free: bool,
    },
    /// A whole number in `[min, max]`.
    Integer {
        /// The least.
        min: usize,
        /// The most.
        max: usize,
    },
    /// A channel of the server.
    Channel,
    /// One of a few values: each with its French name when it has one.
    Choice(Vec<(String, Option<String>)>),
}

/// The longest free text an option takes (a post).
pub const TEXT_MAX: u16 = 4000;

/// One option of a command, as the declaration says it.
#[derive(Debug, Clone)]
pub struct OptionSpec {
    /// Its name (`category`).
    pub name: String,
    /// Its French name, when it has one (`categorie`).
    pub name_fr: Option<String>,
    /// Its English description.
    pub about_en: String,
    /// Its French description.
    pub about_fr: String,
    /// Whether it must be given.
    pub required: bool,
    /// Its value's shape.
    pub kind: OptionKind,
}

/// One command (or group of subcommands), as the declaration says it.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Its words (`watch add`).
    pub path: &'static str,
    /// Its last word (`add`).
    pub name: String,
    /// Its French name, when it has one (`ajouter`).
    pub name_fr: Option<String>,
    /// Its English description.
    pub about_en: String,
    /// Its French description.
    pub about_fr: String,
    /// Whether it needs Manage Server.
    pub manage: bool,
    /// Its options, in order.
    pub options: Vec<OptionSpec>,
    /// Its subcommands (a group has no options).
    pub subcommands: Vec<CommandSpec>,
}

impl CommandSpec {
    /// The description in `lang`.
    pub fn about(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.about_fr,
            Lang::En => &self.about_en,
        }
    }

    /// Its usage: `/rank category platform [metric] [month] [top]`.
    pub fn usage(&self) -> String {
        let mut s = format!("/{}", self.path);
        for o in &self.options {
            if o.required {
                s.push_str(&format!(" {}", o.name));
            } else {
                s.push_str(&format!(" [{}]", o.name));
            }
        }
        s
    }

    /// The commands that take options (the leaves), in order.
    pub fn leaves(&self) -> Vec<&CommandSpec> {
        if self.subcommands.is_empty() {
            vec![self]
        } else {
            self.subcommands.iter().flat_map(|c| c.leaves()).collect()
        }
    }

    /// Whether `word` names it, in English or French (any case, accents folded).
    fn is_named(&self, word: &str) -> bool {
        let w = fold(word);
        fold(&self.name) == w || self.name_fr.as_deref().is_some_and(|f| fold(f) == w)
    }
}

impl OptionSpec {
    /// Whether `word` names it, in English or French.
    pub fn is_named(&self, word: &str) -> bool {
        let w = fold(word);
        fold(&self.name) == w || self.name_fr.as_deref().is_some_and(|f| fold(f) == w)
    }
}

/// The parser of every request: clap's tree of the declaration, without clap's own help.
#[derive(clap::Parser)]
#[command(no_binary_name = true, disable_help_subcommand = true)]
struct Line {
    #[command(subcommand)]
    request: Request,
}

fn tree() -> &'static clap::Command {
    static TREE: OnceLock<clap::Command> = OnceLock::new();
    TREE.get_or_init(|| {
        fn quiet(c: clap::Command) -> clap::Command {
            c.disable_help_flag(true)
                .disable_version_flag(true)
                .mut_subcommands(quiet)
        }
        let mut c = quiet(<Line as clap::CommandFactory>::command());
        c.build();
        c
    })
}

/// Every command, as declared, in the order `/help` lists them.
pub fn specs() -> &'static [CommandSpec] {
    static SPECS: OnceLock<Vec<CommandSpec>> = OnceLock::new();
    SPECS.get_or_init(|| {
        tree()
            .get_subcommands()
            .map(|c| spec_of(c, String::new()))
            .collect()
    })
}

fn text_of(s: Option<&clap::builder::StyledStr>) -> String {
    s.map(|s| s.to_string()).unwrap_or_default()
}

fn spec_of(c: &clap::Command, parent: String) -> CommandSpec {
    let path = if parent.is_empty() {
        c.get_name().to_string()
    } else {
        format!("{parent} {}", c.get_name())
    };
    CommandSpec {
        // One leak per command, once per process: the paths live as long as the tree.
        path: Box::leak(path.clone().into_boxed_str()),
        name: c.get_name().to_string(),
        name_fr: c.get_visible_aliases().next().map(String::from),
        about_en: text_of(c.get_about()),
        about_fr: text_of(c.get_long_about()),
        manage: c
            .get_after_help()
            .is_some_and(|h| h.to_string() == MANAGE_SERVER),
        options: c
            .get_arguments()
            .filter(|a| a.get_long().is_some())
            .map(option_of)
            .collect(),
        subcommands: c
            .get_subcommands()
            .map(|s| spec_of(s, path.clone()))
            .collect(),
    }
}

fn option_of(a: &clap::Arg) -> OptionSpec {
    let t = a.get_value_parser().type_id();
    let values = a.get_possible_values();
    let value_name = a
        .get_value_names()
        .and_then(|n| n.first())
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    let kind = if t == TypeId::of::<ChannelRef>() {
        OptionKind::Channel
    } else if t == TypeId::of::<Rows>() {
        OptionKind::Integer {
            min: Rows::MIN,
            max: Rows::MAX,
        }
    } else if !values.is_empty() {
        OptionKind::Choice(
            values
                .iter()
                .map(|v| {
                    let fr = v.get_name_and_aliases().nth(1).map(String::from);
                    (v.get_name().to_string(), fr)
                })
                .collect(),
        )
    } else {
        OptionKind::Text {
            suggest: match value_name.as_str() {
                "category" => Some(Suggest::Category),
                "platform" => Some(Suggest::Platform),
                "metric" => Some(Suggest::Metric),
                "account" => Some(Suggest::Account),
                "watched" => Some(Suggest::Watched),
                "listed" => Some(Suggest::Listed),
                "feed" => Some(Suggest::Feed),
                _ => None,
            },
            free: value_name == "text",
        }
    };
    OptionSpec {
        name: a.get_id().to_string(),
        name_fr: a
            .get_visible_aliases()
            .and_then(|v| v.first().map(|s| s.to_string())),
        about_en: text_of(a.get_help()),
        about_fr: text_of(a.get_long_help()),
        required: a.is_required_set(),
        kind,
    }
}

/// The command `words` name (a group's subcommand after the group), and how many words
/// named it. An unknown command, or a group without its subcommand, is a user error naming
/// the closest known commands.
pub fn find(words: &[&str], lang: Lang) -> CommandResult<(&'static CommandSpec, usize)> {
    let first = words.first().copied().unwrap_or_default();
    let Some(top) = specs().iter().find(|c| c.is_named(first)) else {
        let names = specs()
            .iter()
            .flat_map(|c| std::iter::once(c.name.as_str()).chain(c.name_fr.as_deref()));
        return Err(match closest(first, names) {
            Some(c) => CommandError::user_in(
                lang,
                format!(
                    "commande inconnue : /{first} ; vouliez-vous dire /{c} ? /help donne la liste"
                ),
                format!("unknown command: /{first}; did you mean /{c}? /help gives the list"),
            ),
            None => CommandError::user_in(
                lang,
                format!("commande inconnue : /{first} ; tapez /help pour la liste"),
                format!("unknown command: /{first}; type /help for the list"),
            ),
        });
    };
    if top.subcommands.is_empty() {
        return Ok((top, 1));
    }
    let list = top
        .subcommands
        .iter()
        .map(|s| format!("/{}", s.path))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(second) = words.get(1) else {
        return Err(CommandError::user_in(
            lang,
            format!("précisez : {list}"),
            format!("say which: {list}"),
        ));
    };
    match top.subcommands.iter().find(|s| s.is_named(second)) {
        Some(sub) => Ok((sub, 2)),
        None => {
            let names = top
                .subcommands
                .iter()
                .flat_map(|c| std::iter::once(c.name.as_str()).chain(c.name_fr.as_deref()));
            let top = &top.name;
            Err(match closest(second, names) {
                Some(c) => CommandError::user_in(
                    lang,
                    format!("commande inconnue : /{top} {second} ; vouliez-vous dire /{top} {c} ? ({list})"),
                    format!("unknown command: /{top} {second}; did you mean /{top} {c}? ({list})"),
                ),
                None => CommandError::user_in(
                    lang,
                    format!("commande inconnue : /{top} {second} ; précisez : {list}"),
                    format!("unknown command: /{top} {second}; say which: {list}"),
                ),
            })
        }
    }
}

/// The name among `names` closest to `word`, when one is close enough to be a likely typo.
pub fn closest<'a>(word: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let w = fold(word);
    names
        .map(|n| (strsim::jaro_winkler(&w, &fold(n)), n))
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

/// Builds the request of `command` from its options' values by name (English or French),
/// checking each as its declaration says. An unknown option is an error naming the closest
/// one; a missing, repeated or malformed one is an error in `lang`.
pub fn parse(
    command: &'static CommandSpec,
    values: &[(String, String)],
    lang: Lang,
) -> CommandResult<Invocation> {
    let mut argv: Vec<String> = command.path.split(' ').map(String::from).collect();
    let mut given: Vec<&str> = Vec::new();
    for (name, value) in values {
        let Some(o) = command.options.iter().find(|o| o.is_named(name)) else {
            let names = command
                .options
                .iter()
                .flat_map(|o| std::iter::once(o.name.as_str()).chain(o.name_fr.as_deref()));
            return Err(match closest(name, names) {
                Some(c) => CommandError::user_in(
                    lang,
                    format!(
                        "option inconnue pour /{} : {name} ; vouliez-vous dire {c} ? ({})",
                        command.path,
                        command.usage()
                    ),
                    format!(
                        "unknown option for /{}: {name}; did you mean {c}? ({})",
                        command.path,
                        command.usage()
                    ),
                ),
                None if command.options.is_empty() => CommandError::user_in(
                    lang,
                    format!("/{} ne prend pas d'option : {name}", command.path),
                    format!("/{} takes no option: {name}", command.path),
                ),
                None => CommandError::user_in(
                    lang,
                    format!(
                        "option inconnue pour /{} : {name} ({})",
                        command.path,
                        command.usage()
                    ),
                    format!(
                        "unknown option for /{}: {name} ({})",
                        command.path,
                        command.usage()
                    ),
                ),
            });
        };
        if given.contains(&o.name.as_str()) {
            return Err(CommandError::user_in(
                lang,
                format!("{} est donné deux fois : {}", o.name, command.usage()),
                format!("{} is given twice: {}", o.name, command.usage()),
            ));
        }
        given.push(&o.name);
        argv.push(format!("--{}", o.name));
        argv.push(value.clone());
    }
    if let Some(missing) = command
        .options
        .iter()
        .find(|o| o.required && !given.contains(&o.name.as_str()))
    {
        return Err(CommandError::user_in(
            lang,
            format!("il manque {} : {}", missing.name, command.usage()),
            format!("missing {}: {}", missing.name, command.usage()),
        ));
    }
    let matches = tree()
        .clone()
        .try_get_matches_from(&argv)
        .map_err(|e| value_error(&e, command, lang))?;
    let line = Line::from_arg_matches(&matches).map_err(|e| value_error(&e, command, lang))?;
    Ok(Invocation {
        request: line.request,
        path: command.path,
        manage: command.manage,
    })
}

/// A value clap refused, said in `lang`.
fn value_error(e: &clap::Error, command: &CommandSpec, lang: Lang) -> CommandError {
    use clap::error::{ContextKind, ContextValue};
    let ctx = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        _ => String::new(),
    };
    let option = ctx(ContextKind::InvalidArg);
    let option = option
        .trim_start_matches("--")
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    let value = ctx(ContextKind::InvalidValue);
    if let Some(bad) = std::error::Error::source(e).and_then(|s| s.downcast_ref::<BadValue>()) {
        return CommandError::user_in(
            lang,
            format!("{option} : {}", bad.fr),
            format!("{option}: {}", bad.en),
        );
    }
    let valid = ctx(ContextKind::ValidValue);
    if !valid.is_empty() {
        return CommandError::user_in(
            lang,
            format!("{option} : valeur inconnue {value:?} ; valeurs possibles : {valid}"),
            format!("{option}: unknown value {value:?}; possible values: {valid}"),
        );
    }
    tracing::debug!(error = %e, "a request did not parse");
    CommandError::user_in(
        lang,
        format!("options non comprises : {}", command.usage()),
        format!("options not understood: {}", command.usage()),
    )
}

/// `/help`: every command with its usage and description.
pub fn help(lang: Lang) -> Reply {
    let body = specs()
        .iter()
        .flat_map(|c| c.leaves())
        .map(|c| format!("{} — {}", c.usage(), c.about(lang)))
        .collect::<Vec<_>>()
        .join("\n");
    Reply::text(
        match lang {
            Lang::Fr => "Commandes de Veille",
            Lang::En => "Veille's commands",
        },
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in(path: &[&str], values: &[(&str, &str)], lang: Lang) -> CommandResult<Request> {
        let (c, _) = find(path, lang)?;
        let values: Vec<(String, String)> = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(c, &values, lang).map(|i| i.request)
    }

    #[test]
    fn every_declaration_has_what_discord_requires() {
        let mut names = std::collections::HashSet::new();
        for c in specs() {
            assert!(names.insert(c.name.clone()), "{} declared twice", c.name);
            for c in std::iter::once(c).chain(&c.subcommands) {
                for n in std::iter::once(&c.name).chain(&c.name_fr) {
                    assert!(
                        (1..=32).contains(&n.chars().count())
                            && n.chars()
                                .all(|ch| ch.is_ascii_lowercase() || ch == '-' || ch == '_'),
                        "/{}: Discord names are 1 to 32 lower-case letters: {n:?}",
                        c.path
                    );
                }
                for d in [&c.about_en, &c.about_fr] {
                    assert!(
                        (1..=100).contains(&d.chars().count()),
                        "/{}: description {d:?}",
                        c.path
                    );
                }
                assert_ne!(c.about_en, c.about_fr, "/{}: a French description", c.path);
                for o in &c.options {
                    for d in [&o.about_en, &o.about_fr] {
                        assert!(
                            (1..=100).contains(&d.chars().count()),
                            "/{} {}: description {d:?}",
                            c.path,
                            o.name
                        );
                    }
                }
                let free = c
                    .options
                    .iter()
                    .filter(|o| matches!(o.kind, OptionKind::Text { free: true, .. }))
                    .count();
                assert!(
                    free == 0 || c.options.len() == 1,
                    "/{}: a free text is the rest of a console line, so a command's only option",
                    c.path
                );
            }
        }
        // A value name says what is suggested: one the front-ends do not know suggests nothing
        // (clap's default is the option's name in capitals).
        fn value_names(c: &clap::Command, out: &mut Vec<String>) {
            for a in c.get_arguments() {
                out.extend(
                    a.get_value_names()
                        .into_iter()
                        .flatten()
                        .map(|n| n.to_string()),
                );
            }
            c.get_subcommands().for_each(|s| value_names(s, out));
        }
        let mut names = Vec::new();
        value_names(tree(), &mut names);
        for n in names {
            assert!(
                [
                    "category", "platform", "metric", "account", "watched", "listed", "feed",
                    "text",
                ]
                .contains(&n.as_str())
                    || n.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "value_name {n:?} is not a known suggestion"
            );
        }
    }

    #[test]
    fn options_are_read_by_english_or_french_name_and_typed() {
        let lang = Lang::Fr;
        assert_eq!(
            parse_in(
                &["classement"],
                &[
                    ("categorie", "villes"),
                    ("platform", "twitter"),
                    ("top", "5")
                ],
                lang
            )
            .expect("rank"),
            Request::Rank {
                category: "villes".into(),
                platform: "twitter".into(),
                metric: None,
                month: None,
                top: Some(Rows(5))
            }
        );
        assert_eq!(
            parse_in(&["alerts", "channel"], &[("channel", "<#42>")], lang).expect("channel"),
            Request::Alerts(AlertsRequest::Channel {
                channel: ChannelRef(42)
            })
        );
        assert_eq!(
            parse_in(&["alertes", "sensibilite"], &[("niveau", "faible")], lang).expect("level"),
            Request::Alerts(AlertsRequest::Sensitivity {
                level: Sensitivity::Low
            })
        );
    }

    #[test]
    fn bad_input_is_a_clear_error_with_the_closest_known_name() {
        let err = |path: &[&str], values: &[(&str, &str)], lang| {
            parse_in(path, values, lang)
                .expect_err("refused")
                .to_string()
        };
        let e = err(&["ranc"], &[], Lang::Fr);
        assert!(e.contains("vouliez-vous dire /rank"), "{e}");
        let e = err(&["watch", "ad"], &[], Lang::En);
        assert!(e.contains("did you mean /watch add"), "{e}");
        let e = err(&["watch"], &[], Lang::Fr);
        assert!(e.contains("/watch add, /watch remove, /watch list"), "{e}");
        let e = err(
            &["rank"],
            &[("category", "villes"), ("platfrom", "x")],
            Lang::En,
        );
        assert!(
            e.contains("unknown option for /rank: platfrom; did you mean platform?"),
            "{e}"
        );
        let e = err(&["rank"], &[("category", "villes")], Lang::Fr);
        assert!(e.contains("il manque platform"), "{e}");
        let e = err(
            &["rank"],
            &[("category", "villes"), ("platform", "x"), ("top", "0")],
            Lang::Fr,
        );
        assert!(e.contains("top : 0 n'est pas entre 1 et 100"), "{e}");
        let e = err(
            &["rank"],
            &[("category", "villes"), ("platform", "x"), ("top", "abc")],
            Lang::En,
        );
        assert!(e.contains("top: \"abc\" is not a number"), "{e}");
        let e = err(
            &["alerts", "sensitivity"],
            &[("level", "extreme")],
            Lang::Fr,
        );
        assert!(e.contains("level : valeur inconnue \"extreme\""), "{e}");
        assert!(e.contains("low"), "{e}");
        let e = err(&["alerts", "channel"], &[("channel", "abc")], Lang::Fr);
        assert!(e.contains("n'est pas un salon"), "{e}");
        let e = err(&["status"], &[("x", "1")], Lang::En);
        assert!(e.contains("/status takes no option"), "{e}");
    }

    /// The command core over a temporary store, for commands run without a front-end.
    struct Core(std::sync::Arc<crate::commands::Context>);

    impl Process for Core {
        fn ctx(&self) -> std::sync::Arc<crate::commands::Context> {
            self.0.clone()
        }
        fn base_entities(&self) -> &[crate::model::EntitySpec] {
            &self.0.entities
        }
        fn rewatch(&self) {}
        fn refit(&self) {}
        fn status(&self) -> status::Status {
            status::Status::default()
        }
    }

    #[test]
    fn every_command_declared_for_managers_is_refused_to_other_members() {
        let store = crate::store::Store::temporary().expect("store");
        let ctx =
            crate::commands::Context::with_store(crate::config::Config::default(), vec![], store)
                .expect("context");
        let core = Core(std::sync::Arc::new(ctx));
        let member = Caller {
            can_manage: false,
            ..Caller::console(Lang::Fr)
        };
        let managed: Vec<&CommandSpec> = specs()
            .iter()
            .flat_map(|c| c.leaves())
            .filter(|c| c.manage)
            .collect();
        assert!(managed.iter().any(|c| c.path == "watch add"), "{managed:?}");
        for c in managed {
            let values: Vec<(String, String)> = c
                .options
                .iter()
                .filter(|o| o.required)
                .map(|o| {
                    let v = match &o.kind {
                        OptionKind::Choice(v) => v[0].0.clone(),
                        OptionKind::Channel => "42".into(),
                        _ => "x".into(),
                    };
                    (o.name.clone(), v)
                })
                .collect();
            let command = parse(c, &values, Lang::Fr).expect("parses");
            let e = run(&core, &member, &command)
                .expect_err("refused")
                .to_string();
            assert!(e.contains("Gérer le serveur"), "/{}: {e}", c.path);
        }
        assert!(
            core.0.store.watch_list(0).expect("list").is_empty(),
            "nothing changed"
        );
    }

    #[test]
    fn help_lists_every_command_with_its_usage() {
        let text = help(Lang::Fr).plain();
        assert!(
            text.contains("/rank category platform [metric] [month] [top] — Classement"),
            "{text}"
        );
        assert!(text.contains("/watch add name [aliases] [kind]"), "{text}");
        assert!(text.contains("/alerts sensitivity level"), "{text}");
        assert_eq!(
            text.lines().count(),
            1 + specs().iter().map(|c| c.leaves().len()).sum::<usize>()
        );
    }
}

//! What the Discord bot and the console share: the slash commands as [`Request`]s, who asks
//! ([`Caller`]), one [`handle`] that answers them from the command core, and the neutral
//! [`Reply`] each front-end renders (an embed on Discord, text on the console).
//!
//! Front-ends only parse and render; every decision (who may change a server's settings,
//! what a command answers, what is stored) is made here once.

pub mod console;
pub mod discord;
pub mod posts;

use std::collections::HashMap;

use chrono::{Duration, Utc};

use crate::app::App;
use crate::commands::buzz::{self as buzz_cmd, BuzzQuery};
use crate::commands::rank::{self as rank_cmd, RankQuery};
use crate::commands::{CommandError, CommandResult};
use crate::model::Sensitivity;
use crate::model::{EntityKind, EntitySpec, Label, Lang, Platform};
use crate::rank::message;
use crate::store::corrections::VerdictRef;
use crate::store::servers::{ServerSettings, Subscription, CONSOLE};

/// Rows per page of a ranking.
pub const PAGE_ROWS: usize = 10;

/// One slash command with its options, as both front-ends receive it.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `/rank category platform [metric] [month] [top]`
    Rank {
        /// The category.
        category: String,
        /// The platform.
        platform: String,
        /// The metric.
        metric: Option<String>,
        /// The month, `YYYY-MM`.
        month: Option<String>,
        /// How many rows.
        top: Option<usize>,
    },
    /// `/position account [platform]`
    Position {
        /// Handle or name.
        account: String,
        /// The platform.
        platform: Option<String>,
    },
    /// `/subscribe account platform [channel]`
    Subscribe {
        /// Handle or name.
        account: String,
        /// The platform.
        platform: String,
        /// The channel; the caller's by default.
        channel: Option<u64>,
    },
    /// `/unsubscribe account platform [channel]`
    Unsubscribe {
        /// Handle or name.
        account: String,
        /// The platform.
        platform: String,
        /// The channel; the caller's by default.
        channel: Option<u64>,
    },
    /// `/subscriptions`
    Subscriptions,
    /// `/watch add name [aliases] [kind]`
    WatchAdd {
        /// The name.
        name: String,
        /// Other ways posts name it, comma-separated.
        aliases: Option<String>,
        /// What it is.
        kind: Option<String>,
    },
    /// `/watch remove name`
    WatchRemove {
        /// The name.
        name: String,
    },
    /// `/watch list`
    WatchList,
    /// `/alerts channel #channel`
    AlertsChannel {
        /// The channel.
        channel: u64,
    },
    /// `/alerts sensitivity low|medium|high`
    AlertsSensitivity {
        /// The level.
        level: String,
    },
    /// `/alerts status`
    AlertsStatus,
    /// `/buzz name [period]`
    Buzz {
        /// The watched name.
        name: String,
        /// `24h`, `48h`, `7j`, or a date.
        period: Option<String>,
    },
    /// `/classify text`
    Classify {
        /// The text.
        text: String,
    },
    /// `/status`
    Status,
    /// `/help`
    Help,
}

impl Request {
    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Rank { .. } => "rank",
            Request::Position { .. } => "position",
            Request::Subscribe { .. } => "subscribe",
            Request::Unsubscribe { .. } => "unsubscribe",
            Request::Subscriptions => "subscriptions",
            Request::WatchAdd { .. } => "watch add",
            Request::WatchRemove { .. } => "watch remove",
            Request::WatchList => "watch list",
            Request::AlertsChannel { .. } => "alerts channel",
            Request::AlertsSensitivity { .. } => "alerts sensitivity",
            Request::AlertsStatus => "alerts status",
            Request::Buzz { .. } => "buzz",
            Request::Classify { .. } => "classify",
            Request::Status => "status",
            Request::Help => "help",
        }
    }

    /// Whether it changes the server's configuration (Manage Server required).
    pub fn changes_settings(&self) -> bool {
        matches!(
            self,
            Request::Subscribe { .. }
                | Request::Unsubscribe { .. }
                | Request::WatchAdd { .. }
                | Request::WatchRemove { .. }
                | Request::AlertsChannel { .. }
                | Request::AlertsSensitivity { .. }
        )
    }
}

/// A command as the console lists and parses it.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Its words after the slash (`watch add`).
    pub path: &'static str,
    /// Its options in order: name and whether required.
    pub options: &'static [(&'static str, bool)],
    /// What it does, in French.
    pub fr: &'static str,
    /// In English.
    pub en: &'static str,
}

/// Every command, in the order `/help` lists them.
pub const SPECS: &[Spec] = &[
    Spec {
        path: "rank",
        options: &[
            ("category", true),
            ("platform", true),
            ("metric", false),
            ("month", false),
            ("top", false),
        ],
        fr: "classement d'une catégorie de comptes sur un réseau pour un mois",
        en: "a category's ranking on a platform for a month",
    },
    Spec {
        path: "position",
        options: &[("account", true), ("platform", false)],
        fr: "les positions récentes d'un compte, avec un graphique",
        en: "an account's recent positions, with a chart",
    },
    Spec {
        path: "subscribe",
        options: &[("account", true), ("platform", true), ("channel", false)],
        fr: "poster chaque mois la position d'un compte dans un salon",
        en: "post an account's monthly position in a channel",
    },
    Spec {
        path: "unsubscribe",
        options: &[("account", true), ("platform", true), ("channel", false)],
        fr: "arrêter un abonnement",
        en: "stop a subscription",
    },
    Spec {
        path: "subscriptions",
        options: &[],
        fr: "les abonnements de ce serveur",
        en: "this server's subscriptions",
    },
    Spec {
        path: "watch add",
        options: &[("name", true), ("aliases", false), ("kind", false)],
        fr: "surveiller un nom (alias séparés par des virgules)",
        en: "watch a name (aliases comma-separated)",
    },
    Spec {
        path: "watch remove",
        options: &[("name", true)],
        fr: "ne plus surveiller un nom",
        en: "stop watching a name",
    },
    Spec {
        path: "watch list",
        options: &[],
        fr: "les noms surveillés",
        en: "the watched names",
    },
    Spec {
        path: "alerts channel",
        options: &[("channel", true)],
        fr: "le salon où arrivent les alertes",
        en: "the channel alerts go to",
    },
    Spec {
        path: "alerts sensitivity",
        options: &[("level", true)],
        fr: "sensibilité des alertes : low, medium ou high",
        en: "alert sensitivity: low, medium or high",
    },
    Spec {
        path: "alerts status",
        options: &[],
        fr: "où et comment arrivent les alertes, alertes ouvertes",
        en: "where and how alerts arrive, open alerts",
    },
    Spec {
        path: "buzz",
        options: &[("name", true), ("period", false)],
        fr: "mentions et critiques récentes d'un nom contre sa normale",
        en: "a name's recent mentions and critical posts against its baseline",
    },
    Spec {
        path: "classify",
        options: &[("text", true)],
        fr: "le verdict du classifieur sur un texte, et ses indices",
        en: "the classifier's verdict on a text, with its cues",
    },
    Spec {
        path: "status",
        options: &[],
        fr: "sources, posts du jour, dernière collecte, alertes ouvertes",
        en: "sources, posts today, last collection, open alerts",
    },
    Spec {
        path: "help",
        options: &[],
        fr: "cette aide",
        en: "this help",
    },
];

/// Who asks, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The server (Discord guild id; [`CONSOLE`] for the console).
    pub guild: u64,
    /// The channel.
    pub channel: u64,
    /// The user id (0 on the console).
    pub user: u64,
    /// Their display name.
    pub user_name: String,
    /// Whether they may change the server's settings (Manage Server).
    pub can_manage: bool,
    /// The reply's language (their locale).
    pub lang: Lang,
}

impl Caller {
    /// The person at the console: every right, French unless `LANG` says English.
    pub fn console(lang: Lang) -> Caller {
        Caller {
            guild: CONSOLE,
            channel: 0,
            user: 0,
            user_name: "console".into(),
            can_manage: true,
            lang,
        }
    }

    /// Refuses a caller without Manage Server, saying why in their language.
    fn must_manage(&self, fr: &str, en: &str) -> CommandResult<()> {
        if self.can_manage {
            Ok(())
        } else {
            Err(CommandError::user_in(self.lang, fr, en))
        }
    }

    fn tr(&self, fr: impl Into<String>, en: impl Into<String>) -> String {
        match self.lang {
            Lang::Fr => fr.into(),
            Lang::En => en.into(),
        }
    }
}

/// How a reply looks (the embed's colour on Discord).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    /// Information.
    #[default]
    Info,
    /// Done, or calm.
    Good,
    /// Something to look at.
    Warn,
    /// Critical.
    Bad,
}

/// A PNG to attach.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Its file name (`chart.png`).
    pub name: String,
    /// The bytes.
    pub png: Vec<u8>,
}

/// A reply, front-end neutral.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    /// The title.
    pub title: String,
    /// The text under it.
    pub body: String,
    /// Blocks shown one at a time (a ranking's pages of [`PAGE_ROWS`] rows), monospaced.
    pub pages: Vec<String>,
    /// Named values.
    pub fields: Vec<(String, String)>,
    /// The small print (sources).
    pub footer: Option<String>,
    /// A chart.
    pub image: Option<Image>,
    /// A verdict the team can correct: its reference id.
    pub verdict: Option<String>,
    /// Only the caller sees it.
    pub ephemeral: bool,
    /// Its colour.
    pub tone: Tone,
}

impl Reply {
    fn text(title: impl Into<String>, body: impl Into<String>) -> Reply {
        Reply {
            title: title.into(),
            body: body.into(),
            ..Reply::default()
        }
    }

    fn done(title: impl Into<String>, body: impl Into<String>) -> Reply {
        Reply {
            tone: Tone::Good,
            ..Reply::text(title, body)
        }
    }

    /// The reply as plain text (the console, logs, tests): title, body, every page,
    /// fields, footer.
    pub fn plain(&self) -> String {
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&self.title);
            out.push('\n');
        }
        if !self.body.is_empty() {
            out.push_str(&self.body);
            out.push('\n');
        }
        for p in &self.pages {
            out.push_str(p);
            out.push('\n');
        }
        for (k, v) in &self.fields {
            out.push_str(&format!("{k} : {v}\n"));
        }
        if let Some(f) = &self.footer {
            out.push_str(f);
            out.push('\n');
        }
        out.trim_end().to_string()
    }
}

/// Splits a command line the way a shell would (quotes group words).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'' | '«' | '“') => {
                quote = Some(match c {
                    '«' => '»',
                    '“' => '”',
                    c => c,
                });
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if started || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a console line: `/rank villes twitter`, options by position or as `name:value`
/// (`/rank villes twitter month:2014-09`), quotes around values with spaces. The leading
/// slash is optional.
pub fn parse(line: &str, lang: Lang) -> CommandResult<Request> {
    let ws = words(line.trim().trim_start_matches('/'));
    let first = ws.first().map(|w| w.to_lowercase()).unwrap_or_default();
    let second = ws.get(1).map(|w| w.to_lowercase()).unwrap_or_default();
    let spec = SPECS
        .iter()
        .find(|s| s.path == format!("{first} {second}"))
        .or_else(|| SPECS.iter().find(|s| s.path == first));
    let Some(spec) = spec else {
        let groups: Vec<&str> = SPECS
            .iter()
            .filter(|s| s.path.split(' ').next() == Some(first.as_str()))
            .map(|s| s.path)
            .collect();
        return Err(if groups.is_empty() {
            CommandError::user_in(
                lang,
                format!("commande inconnue : /{first} ; tapez /help pour la liste"),
                format!("unknown command: /{first}; type /help for the list"),
            )
        } else {
            CommandError::user_in(
                lang,
                format!("précisez : /{}", groups.join(", /")),
                format!("say which: /{}", groups.join(", /")),
            )
        });
    };
    let mut values: HashMap<&'static str, String> = HashMap::new();
    let rest = &ws[spec.path.split(' ').count()..];
    let mut positional = spec.options.iter().map(|(n, _)| *n);
    let last = spec.options.last().map(|(n, _)| *n);
    for (i, w) in rest.iter().enumerate() {
        if let Some((k, v)) = w.split_once(':') {
            if let Some((name, _)) = spec.options.iter().find(|(n, _)| *n == k.to_lowercase()) {
                values.insert(name, v.to_string());
                continue;
            }
        }
        let next = loop {
            match positional.next() {
                Some(n) if values.contains_key(n) => continue,
                other => break other,
            }
        };
        match next {
            // A free text is the rest of the line (`/classify vol annulé encore`).
            Some(name) if Some(name) == last && name == "text" => {
                values.insert(name, rest[i..].join(" "));
                break;
            }
            Some(name) => {
                values.insert(name, w.clone());
            }
            None => {
                return Err(CommandError::user_in(
                    lang,
                    format!("trop d'arguments pour /{} : {w:?}", spec.path),
                    format!("too many arguments for /{}: {w:?}", spec.path),
                ))
            }
        }
    }
    for (name, required) in spec.options {
        if *required && !values.contains_key(name) {
            let usage: Vec<String> = spec
                .options
                .iter()
                .map(|(n, r)| if *r { n.to_string() } else { format!("[{n}]") })
                .collect();
            return Err(CommandError::user_in(
                lang,
                format!("il manque {name} : /{} {}", spec.path, usage.join(" ")),
                format!("missing {name}: /{} {}", spec.path, usage.join(" ")),
            ));
        }
    }
    let mut take = |k: &str| values.remove(k);
    let number = |v: Option<String>, what: &str| -> CommandResult<Option<u64>> {
        v.map(|s| {
            s.trim_start_matches("<#")
                .trim_end_matches('>')
                .parse::<u64>()
                .map_err(|_| {
                    CommandError::user_in(
                        lang,
                        format!("{what} : {s:?} n'est pas un nombre"),
                        format!("{what}: {s:?} is not a number"),
                    )
                })
        })
        .transpose()
    };
    Ok(match spec.path {
        "rank" => Request::Rank {
            category: take("category").unwrap_or_default(),
            platform: take("platform").unwrap_or_default(),
            metric: take("metric"),
            month: take("month"),
            top: number(take("top"), "top")?.map(|n| n as usize),
        },
        "position" => Request::Position {
            account: take("account").unwrap_or_default(),
            platform: take("platform"),
        },
        "subscribe" | "unsubscribe" => {
            let (account, platform) = (
                take("account").unwrap_or_default(),
                take("platform").unwrap_or_default(),
            );
            let channel = number(take("channel"), "channel")?;
            if spec.path == "subscribe" {
                Request::Subscribe {
                    account,
                    platform,
                    channel,
                }
            } else {
                Request::Unsubscribe {
                    account,
                    platform,
                    channel,
                }
            }
        }
        "subscriptions" => Request::Subscriptions,
        "watch add" => Request::WatchAdd {
            name: take("name").unwrap_or_default(),
            aliases: take("aliases"),
            kind: take("kind"),
        },
        "watch remove" => Request::WatchRemove {
            name: take("name").unwrap_or_default(),
        },
        "watch list" => Request::WatchList,
        "alerts channel" => Request::AlertsChannel {
            channel: number(take("channel"), "channel")?.unwrap_or_default(),
        },
        "alerts sensitivity" => Request::AlertsSensitivity {
            level: take("level").unwrap_or_default(),
        },
        "alerts status" => Request::AlertsStatus,
        "buzz" => Request::Buzz {
            name: take("name").unwrap_or_default(),
            period: take("period"),
        },
        "classify" => Request::Classify {
            text: take("text").unwrap_or_default(),
        },
        "status" => Request::Status,
        _ => Request::Help,
    })
}

/// Answers `req` for `caller` (blocking: front-ends on tokio call it in `spawn_blocking`).
/// A command that changes the server's settings is refused to a caller without Manage
/// Server, whatever the front-end checked before.
pub fn handle(app: &App, caller: &Caller, req: &Request) -> CommandResult<Reply> {
    if req.changes_settings() {
        caller.must_manage(
            "il faut la permission « Gérer le serveur » pour cette commande",
            "this command needs the Manage Server permission",
        )?;
    }
    let lang = caller.lang;
    let ctx = app.ctx();
    match req {
        Request::Rank {
            category,
            platform,
            metric,
            month,
            top,
        } => {
            let q = RankQuery {
                category: category.clone(),
                platform: platform.clone(),
                metric: metric.clone(),
                month: month.clone(),
            };
            let r = rank_cmd::rank(&ctx, &q, lang)?;
            Ok(ranking_reply(&r, top.unwrap_or(r.rows.len()).max(1), lang))
        }
        Request::Position { account, platform } => {
            position(&ctx, account, platform.as_deref(), lang)
        }
        Request::Subscribe {
            account,
            platform,
            channel,
        } => subscribe(
            app,
            caller,
            account,
            platform,
            channel.unwrap_or(caller.channel),
        ),
        Request::Unsubscribe {
            account,
            platform,
            channel,
        } => {
            let (p, key) = account_key(&ctx, account, platform, lang)?;
            let channel = channel.unwrap_or(caller.channel);
            if ctx
                .store
                .remove_subscription(caller.guild, channel, p, &key)?
            {
                Ok(Reply::done(
                    caller.tr("Abonnement arrêté", "Subscription stopped"),
                    caller.tr(
                        format!("@{key} sur {} ne sera plus posté ici.", p.display()),
                        format!("@{key} on {} will no longer be posted here.", p.display()),
                    ),
                ))
            } else {
                Err(CommandError::user_in(
                    caller.lang,
                    format!("ce salon n'est pas abonné à @{key} sur {}", p.display()),
                    format!(
                        "this channel is not subscribed to @{key} on {}",
                        p.display()
                    ),
                ))
            }
        }
        Request::Subscriptions => {
            let subs = ctx.store.subscriptions(Some(caller.guild))?;
            let body = if subs.is_empty() {
                caller.tr(
                    "Aucun abonnement : /subscribe compte réseau",
                    "No subscription: /subscribe account platform",
                )
            } else {
                subs.iter()
                    .map(|s| {
                        format!(
                            "• @{} ({}) → {}",
                            s.account,
                            s.platform.display(),
                            channel_ref(s.channel)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Reply::text(caller.tr("Abonnements", "Subscriptions"), body))
        }
        Request::WatchAdd {
            name,
            aliases,
            kind,
        } => watch_add(app, caller, name, aliases.as_deref(), kind.as_deref()),
        Request::WatchRemove { name } => match ctx.store.remove_watched(caller.guild, name)? {
            Some(e) => {
                app.rewatch();
                Ok(Reply::done(
                    caller.tr("Nom retiré", "Name removed"),
                    caller.tr(
                        format!("{} n'est plus surveillé par ce serveur.", e.name),
                        format!("{} is no longer watched by this server.", e.name),
                    ),
                ))
            }
            None => Err(CommandError::user_in(
                caller.lang,
                format!("{name} n'est pas dans la liste de ce serveur (/watch list)"),
                format!("{name} is not in this server's list (/watch list)"),
            )),
        },
        Request::WatchList => {
            let own = ctx.store.watch_list(caller.guild)?;
            let line = |e: &EntitySpec| {
                let mut s = format!("• {} ({})", e.name, e.kind.id());
                if !e.aliases.is_empty() {
                    s.push_str(&format!(" — {}", e.aliases.join(", ")));
                }
                s
            };
            let mut body = if own.is_empty() {
                caller.tr(
                    "Ce serveur ne surveille encore aucun nom : /watch add nom",
                    "This server watches no name yet: /watch add name",
                )
            } else {
                own.iter().map(line).collect::<Vec<_>>().join("\n")
            };
            let base = app.base_entities();
            if !base.is_empty() {
                let names: Vec<&str> = base.iter().map(|e| e.name.as_str()).collect();
                body.push_str(&caller.tr(
                    format!(
                        "\n\nSurveillés pour tous par la configuration : {}",
                        names.join(", ")
                    ),
                    format!(
                        "\n\nWatched for everyone by the configuration: {}",
                        names.join(", ")
                    ),
                ));
            }
            Ok(Reply::text(
                caller.tr("Noms surveillés", "Watched names"),
                body,
            ))
        }
        Request::AlertsChannel { channel } => {
            update_settings(app, caller.guild, |s| {
                s.alert_channel = Some(*channel);
                s.lang = Some(lang);
            })?;
            Ok(Reply::done(
                caller.tr("Alertes", "Alerts"),
                caller.tr(
                    format!(
                        "Les alertes de bad buzz arriveront dans {}.",
                        channel_ref(*channel)
                    ),
                    format!("Bad-buzz alerts will arrive in {}.", channel_ref(*channel)),
                ),
            ))
        }
        Request::AlertsSensitivity { level } => {
            let level = Sensitivity::parse(level).ok_or_else(|| {
                CommandError::user_in(
                    caller.lang,
                    format!("sensibilité inconnue : {level} (low, medium ou high)"),
                    format!("unknown sensitivity: {level} (low, medium or high)"),
                )
            })?;
            update_settings(app, caller.guild, |s| s.sensitivity = Some(level))?;
            Ok(Reply::done(
                caller.tr("Alertes", "Alerts"),
                caller.tr(
                    format!(
                        "Sensibilité des alertes : {}.",
                        sensitivity_name(level, lang)
                    ),
                    format!("Alert sensitivity: {}.", sensitivity_name(level, lang)),
                ),
            ))
        }
        Request::AlertsStatus => alerts_status(app, caller),
        Request::Buzz { name, period } => buzz(app, caller, name, period.as_deref()),
        Request::Classify { text } => classify(app, caller, text),
        Request::Status => status(app, caller),
        Request::Help => {
            let body = SPECS
                .iter()
                .map(|s| {
                    let opts: Vec<String> = s
                        .options
                        .iter()
                        .map(|(n, r)| if *r { n.to_string() } else { format!("[{n}]") })
                        .collect();
                    format!(
                        "/{} {} — {}",
                        s.path,
                        opts.join(" "),
                        match lang {
                            Lang::Fr => s.fr,
                            Lang::En => s.en,
                        }
                    )
                    .replace("  —", " —")
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Reply::text(
                caller.tr("Commandes de Veille", "Veille's commands"),
                body,
            ))
        }
    }
}

/// Changes a server's alert settings, durably; the detector restarts on them.
fn update_settings(
    app: &App,
    guild: u64,
    change: impl FnOnce(&mut ServerSettings),
) -> CommandResult<()> {
    let store = &app.ctx().store;
    let mut s = store.server_settings(guild)?;
    change(&mut s);
    store.put_server_settings(guild, &s)?;
    app.rewatch();
    Ok(())
}

fn channel_ref(channel: u64) -> String {
    if channel == 0 {
        "la console".into()
    } else {
        format!("<#{channel}>")
    }
}

fn sensitivity_name(s: Sensitivity, lang: Lang) -> &'static str {
    match (s, lang) {
        (Sensitivity::Low, Lang::Fr) => "faible (seulement les gros pics)",
        (Sensitivity::Medium, Lang::Fr) => "moyenne",
        (Sensitivity::High, Lang::Fr) => "haute (les petits pics aussi)",
        (Sensitivity::Low, Lang::En) => "low (big spikes only)",
        (Sensitivity::Medium, Lang::En) => "medium",
        (Sensitivity::High, Lang::En) => "high (smaller spikes too)",
    }
}

/// A ranking as a reply: the heading as title, pages of [`PAGE_ROWS`] rows, the sources in
/// the footer.
pub fn ranking_reply(r: &crate::rank::positions::Ranking, top: usize, lang: Lang) -> Reply {
    let table = message::table(r, top, lang);
    let mut lines = table.lines();
    let title = lines.next().unwrap_or_default().to_string();
    let shown = top.min(r.rows.len());
    let rows: Vec<&str> = lines.by_ref().take(shown).collect();
    let rest: Vec<&str> = lines.collect();
    Reply {
        title,
        pages: rows.chunks(PAGE_ROWS).map(|c| c.join("\n")).collect(),
        footer: (!rest.is_empty()).then(|| rest.join("\n")),
        ..Reply::default()
    }
}

fn position(
    ctx: &crate::commands::Context,
    account: &str,
    platform: Option<&str>,
    lang: Lang,
) -> CommandResult<Reply> {
    let history = rank_cmd::position(ctx, account, platform, lang)?;
    let recent = &history[history.len().saturating_sub(12)..];
    let body = recent
        .iter()
        .map(|p| rank_cmd::position_line(p, lang))
        .collect::<Vec<_>>()
        .join("\n");
    let last = history.last().expect("position returns at least one");
    let sentence = message::position_sentence(&last.ranking, &last.ranking.rows[last.row], lang);
    let mut lines: Vec<crate::alerts::chart::RankLine> = Vec::new();
    for p in &history {
        let name = format!(
            "{} · {}",
            p.ranking.platform.display(),
            match lang {
                Lang::Fr => &p.ranking.label_fr,
                Lang::En => &p.ranking.label_en,
            }
        );
        let m = &p.ranking.month;
        let point = (m.year * 12 + m.month as i32 - 1, p.ranking.rows[p.row].rank);
        match lines.iter_mut().find(|(n, _)| *n == name) {
            Some((_, pts)) => pts.push(point),
            None => lines.push((name, vec![point])),
        }
    }
    let who = last.ranking.rows[last.row]
        .account
        .label(last.ranking.platform);
    let png = crate::alerts::chart::ranks_png(&who, &lines, lang)?;
    Ok(Reply {
        title: who,
        body: sentence,
        pages: vec![body],
        image: Some(Image {
            name: "positions.png".into(),
            png,
        }),
        ..Reply::default()
    })
}

/// The platform and catalogue key of an account as the user names it.
fn account_key(
    ctx: &crate::commands::Context,
    account: &str,
    platform: &str,
    lang: Lang,
) -> CommandResult<(Platform, String)> {
    let p = Platform::parse(platform).map_err(crate::commands::unknown(lang))?;
    let found = ctx.catalog.find_account(account, Some(p));
    let acc = found.first().map(|(_, a)| a).ok_or_else(|| {
        CommandError::user_in(
            lang,
            format!("compte inconnu sur {} : {account}", p.display()),
            format!("unknown account on {}: {account}", p.display()),
        )
    })?;
    if acc.handle(p).is_none() {
        return Err(CommandError::user_in(
            lang,
            format!(
                "{} n'a pas de compte {} au catalogue",
                acc.name,
                p.display()
            ),
            format!(
                "{} has no {} account in the catalogue",
                acc.name,
                p.display()
            ),
        ));
    }
    Ok((p, acc.key(p)))
}

fn subscribe(
    app: &App,
    caller: &Caller,
    account: &str,
    platform: &str,
    channel: u64,
) -> CommandResult<Reply> {
    let ctx = app.ctx();
    let lang = caller.lang;
    let (p, key) = account_key(&ctx, account, platform, lang)?;
    let sub = Subscription {
        guild: caller.guild,
        channel,
        platform: p,
        account: key.clone(),
        by: caller.user,
        at: Utc::now(),
    };
    if !ctx.store.put_subscription(&sub)? {
        return Err(CommandError::user_in(
            caller.lang,
            format!(
                "{} est déjà abonné à @{key} sur {}",
                channel_ref(channel),
                p.display()
            ),
            format!(
                "{} is already subscribed to @{key} on {}",
                channel_ref(channel),
                p.display()
            ),
        ));
    }
    // The latest known position is in this reply: the monthly post starts with the next one.
    let now = posts::mark_current(&ctx, &sub, lang)?;
    let mut body = caller.tr(
        format!(
            "La position de @{key} sur {} sera postée dans {} chaque mois, après la collecte.",
            p.display(),
            channel_ref(channel)
        ),
        format!(
            "@{key}'s position on {} will be posted in {} every month, after the collection.",
            p.display(),
            channel_ref(channel)
        ),
    );
    if let Some(s) = now {
        body.push_str("\n\n");
        body.push_str(&s);
    }
    Ok(Reply::done(
        caller.tr("Abonnement enregistré", "Subscribed"),
        body,
    ))
}

fn watch_add(
    app: &App,
    caller: &Caller,
    name: &str,
    aliases: Option<&str>,
    kind: Option<&str>,
) -> CommandResult<Reply> {
    let ctx = app.ctx();
    let name = name.trim();
    let kind = match kind {
        Some(k) => EntityKind::parse(k).ok_or_else(|| {
            let all: Vec<&str> = EntityKind::ALL.iter().map(|k| k.id()).collect();
            CommandError::user_in(
                caller.lang,
                format!("type inconnu : {k} ({})", all.join(", ")),
                format!("unknown kind: {k} ({})", all.join(", ")),
            )
        })?,
        None => EntityKind::Brand,
    };
    let spec = EntitySpec {
        name: name.to_string(),
        kind,
        aliases: aliases
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect(),
        ambiguous: false,
        exclude: Vec::new(),
    };
    // The new list must make a valid watcher with everything else watched.
    let mut union = app.watched_union()?;
    let folded = crate::watch::fold::fold(name);
    union.retain(|e| crate::watch::fold::fold(&e.name) != folded);
    union.push(spec.clone());
    crate::config::validate_entities(&union).map_err(|e| {
        CommandError::user_in(
            caller.lang,
            format!("nom refusé : {e}"),
            format!("name refused: {e}"),
        )
    })?;
    let new = ctx.store.put_watched(caller.guild, &spec)?;
    app.rewatch();
    Ok(Reply::done(
        caller.tr("Nom surveillé", "Name watched"),
        caller.tr(
            format!(
                "{} {} ({}){}. Les sources le suivent dès maintenant.",
                spec.name,
                if new {
                    "est surveillé"
                } else {
                    "est mis à jour"
                },
                kind.id(),
                if spec.aliases.is_empty() {
                    String::new()
                } else {
                    format!(", alias : {}", spec.aliases.join(", "))
                }
            ),
            format!(
                "{} {} ({}){}. The sources follow it from now on.",
                spec.name,
                if new { "is watched" } else { "is updated" },
                kind.id(),
                if spec.aliases.is_empty() {
                    String::new()
                } else {
                    format!(", aliases: {}", spec.aliases.join(", "))
                }
            ),
        ),
    ))
}

fn alerts_status(app: &App, caller: &Caller) -> CommandResult<Reply> {
    let ctx = app.ctx();
    let s: ServerSettings = ctx.store.server_settings(caller.guild)?;
    let level = s.sensitivity.unwrap_or(ctx.config.alerts.sensitivity);
    let mut fields = vec![
        (
            caller.tr("Salon", "Channel"),
            match (caller.guild, s.alert_channel) {
                (CONSOLE, _) => caller.tr("la console", "the console"),
                (_, Some(c)) => channel_ref(c),
                (_, None) => caller.tr(
                    "aucun : /alerts channel #salon",
                    "none: /alerts channel #channel",
                ),
            },
        ),
        (
            caller.tr("Sensibilité", "Sensitivity"),
            sensitivity_name(level, caller.lang).to_string(),
        ),
    ];
    let names: Vec<String> = if caller.guild == CONSOLE {
        app.watched_union()?.into_iter().map(|e| e.name).collect()
    } else {
        ctx.store
            .watch_list(caller.guild)?
            .into_iter()
            .map(|e| e.name)
            .collect()
    };
    fields.push((
        caller.tr("Noms suivis", "Names followed"),
        if names.is_empty() {
            "-".into()
        } else {
            names.join(", ")
        },
    ));
    fields.push((
        caller.tr("Alertes ouvertes", "Open alerts"),
        open_alerts(app, caller, Some(&names))?,
    ));
    Ok(Reply {
        fields,
        ..Reply::text(
            caller.tr("Alertes de bad buzz", "Bad-buzz alerts"),
            String::new(),
        )
    })
}

/// The open alerts, of `names` only when given.
fn open_alerts(app: &App, caller: &Caller, names: Option<&[String]>) -> CommandResult<String> {
    let ctx = app.ctx();
    let states: Vec<(String, crate::alerts::detector::AlertState)> = ctx.store.alert_states()?;
    let tz = crate::commands::collect::timezone(&ctx)?;
    let open: Vec<String> = states
        .into_iter()
        .filter(|(e, _)| {
            names.is_none_or(|n| {
                n.iter()
                    .any(|n| crate::watch::fold::fold(n) == crate::watch::fold::fold(e))
            })
        })
        .filter_map(|(e, s)| {
            let at = chrono::DateTime::from_timestamp(s.open?.opened_at, 0)?.with_timezone(&tz);
            Some(caller.tr(
                format!("🔴 {e} depuis le {}", at.format("%d/%m à %H:%M")),
                format!("🔴 {e} since {}", at.format("%d/%m at %H:%M")),
            ))
        })
        .collect();
    Ok(if open.is_empty() {
        caller.tr("aucune", "none")
    } else {
        open.join("\n")
    })
}

fn buzz(app: &App, caller: &Caller, name: &str, period: Option<&str>) -> CommandResult<Reply> {
    let ctx = app.ctx();
    let lang = caller.lang;
    let since = match period.map(str::trim) {
        None | Some("") => None,
        Some(p) => Some(match parse_period(p) {
            Some(d) => Utc::now() - d,
            None => buzz_cmd::parse_time(p, lang).map_err(|_| {
                CommandError::user_in(
                    caller.lang,
                    format!("période inconnue : {p} (24h, 48h, 7j ou une date AAAA-MM-JJ)"),
                    format!("unknown period: {p} (24h, 48h, 7d or a date YYYY-MM-DD)"),
                )
            })?,
        }),
    };
    let r = buzz_cmd::buzz(
        &ctx,
        &BuzzQuery {
            entity: name.to_string(),
            since,
        },
        lang,
    )?;
    let png = buzz_cmd::chart(&ctx, &r, lang)?;
    let text = buzz_cmd::text(&r, lang);
    let mut lines = text.lines();
    let title = lines.next().unwrap_or_default().to_string();
    Ok(Reply {
        title,
        body: lines.collect::<Vec<_>>().join("\n"),
        image: Some(Image {
            name: "buzz.png".into(),
            png,
        }),
        tone: if r.open.is_some() {
            Tone::Bad
        } else {
            Tone::Info
        },
        ..Reply::default()
    })
}

/// `24h`, `48 h`, `7j`, `7d`, `2 jours`.
fn parse_period(p: &str) -> Option<Duration> {
    let p = p.to_lowercase().replace(' ', "");
    let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
    let n: i64 = digits.parse().ok()?;
    match &p[digits.len()..] {
        "h" | "heure" | "heures" | "hour" | "hours" => Some(Duration::hours(n)),
        "j" | "d" | "jour" | "jours" | "day" | "days" => Some(Duration::days(n)),
        _ => None,
    }
}

fn classify(app: &App, caller: &Caller, text: &str) -> CommandResult<Reply> {
    let ctx = app.ctx();
    let text = text.trim();
    if text.is_empty() {
        return Err(CommandError::user_in(
            caller.lang,
            "texte vide",
            "empty text",
        ));
    }
    // The language of the text is the classifier's guess, not the caller's locale.
    let lang_hint: Option<&str> = None;
    let mut scratch = crate::watch::Scratch::default();
    let v = ctx.watcher.verdict(text, lang_hint, &mut scratch);
    let id = format!("text:{:016x}", crate::store::dedup_hash(text));
    ctx.store.put_verdict_ref(&VerdictRef {
        id: id.clone(),
        text: text.to_string(),
        lang: lang_hint.map(String::from),
    })?;
    let critical = v.label == Label::Critical;
    let mut fields = vec![(caller.tr("Score", "Score"), format!("{:.2}", v.score))];
    fields.push((
        caller.tr("Indices", "Cues"),
        if v.cues.is_empty() {
            "-".into()
        } else {
            v.cues.join(", ")
        },
    ));
    fields.push((
        caller.tr("Noms surveillés", "Watched names"),
        if v.mentions.is_empty() {
            "-".into()
        } else {
            v.mentions.join(", ")
        },
    ));
    Ok(Reply {
        title: match (critical, caller.lang) {
            (true, Lang::Fr) => "🔴 Critique".into(),
            (false, Lang::Fr) => "⚪ Neutre".into(),
            (true, Lang::En) => "🔴 Critical".into(),
            (false, Lang::En) => "⚪ Neutral".into(),
        },
        body: format!("> {}", text.replace('\n', "\n> ")),
        fields,
        verdict: Some(id),
        tone: if critical { Tone::Bad } else { Tone::Good },
        ..Reply::default()
    })
}

fn status(app: &App, caller: &Caller) -> CommandResult<Reply> {
    let ctx = app.ctx();
    let st = app.status();
    let tz = crate::commands::collect::timezone(&ctx)?;
    let midnight = Utc::now()
        .with_timezone(&tz)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(tz).earliest())
        .map_or(0, |t| t.timestamp());
    let today: u64 = ctx
        .store
        .counts(
            crate::store::ALL_POSTS,
            midnight.div_euclid(3600),
            Utc::now().timestamp().div_euclid(3600) + 1,
        )?
        .iter()
        .map(|(_, c)| c.posts)
        .sum();
    let sources = if st.sources.is_empty() {
        caller.tr(
            "aucune source en marche (X_BEARER_TOKEN pour X ; Jetstream pour Bluesky)",
            "no source running (X_BEARER_TOKEN for X; Jetstream for Bluesky)",
        )
    } else {
        st.sources
            .iter()
            .map(|s| match st.trouble.get(s) {
                Some(why) => caller.tr(
                    format!("⚠ {s} : pas de connexion, nouvel essai bientôt ({why})"),
                    format!("⚠ {s}: not connected, retrying ({why})"),
                ),
                None => format!("✅ {s}"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut fields = vec![
        (caller.tr("Sources", "Sources"), sources),
        (
            caller.tr("Posts lus aujourd'hui", "Posts read today"),
            today.to_string(),
        ),
        (
            caller.tr("Noms surveillés", "Watched names"),
            app.watched_union()?.len().to_string(),
        ),
        (
            caller.tr("Dernière collecte", "Last collection"),
            st.last_collection.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            caller.tr("Alertes ouvertes", "Open alerts"),
            open_alerts(app, caller, None)?,
        ),
        (
            caller.tr("Corrections de l'équipe", "Team corrections"),
            ctx.store.correction_count().to_string(),
        ),
    ];
    if !st.failures.is_empty() {
        fields.push((caller.tr("Arrêtés", "Stopped"), st.failures.join("\n")));
    }
    Ok(Reply {
        fields,
        tone: if st.failures.is_empty() {
            Tone::Good
        } else {
            Tone::Warn
        },
        ..Reply::text("Veille", String::new())
    })
}

/// Records a person's correction of a verdict given earlier (the « Critique » and « Pas
/// critique » buttons); the reply confirms it. A correction retrains the classifier every
/// server's verdicts come from, so it needs what changing a server's settings needs (Manage
/// Server): a member who can merely read the channel cannot move it.
pub fn correct(app: &App, caller: &Caller, verdict: &str, label: Label) -> CommandResult<Reply> {
    caller.must_manage(
        "il faut la permission « Gérer le serveur » pour corriger un verdict : la correction entraîne le classifieur",
        "correcting a verdict needs the Manage Server permission: corrections train the classifier",
    )?;
    let ctx = app.ctx();
    let Some(r) = ctx.store.verdict_ref(verdict)? else {
        return Err(CommandError::user_in(
            caller.lang,
            "ce verdict n'est plus connu de Veille",
            "Veille no longer knows this verdict",
        ));
    };
    let c = crate::store::corrections::Correction {
        id: r.id,
        text: r.text,
        lang: r.lang,
        label,
        by: if caller.guild == CONSOLE {
            "console".into()
        } else {
            format!("discord:{}", caller.user)
        },
        by_name: Some(caller.user_name.clone()),
        at: Utc::now(),
    };
    let replaced = ctx.store.put_correction(&c)?;
    tracing::info!(verdict, label = label.as_str(), by = %c.by, replaced, "correction recorded");
    // Refit in the background: the next verdicts use it.
    app.rewatch();
    let what = match (label, caller.lang) {
        (Label::Critical, Lang::Fr) => "critique",
        (Label::Neutral, Lang::Fr) => "pas critique",
        (Label::Critical, Lang::En) => "critical",
        (Label::Neutral, Lang::En) => "not critical",
    };
    Ok(Reply {
        ephemeral: true,
        ..Reply::done(
            caller.tr("Correction enregistrée", "Correction recorded"),
            caller.tr(
                format!(
                    "Merci : ce post est noté « {what} » par {}.",
                    caller.user_name
                ),
                format!(
                    "Thanks: this post is marked “{what}” by {}.",
                    caller.user_name
                ),
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_parse_like_slash_commands() {
        let lang = Lang::Fr;
        assert_eq!(
            parse("/rank villes twitter", lang).expect("rank"),
            Request::Rank {
                category: "villes".into(),
                platform: "twitter".into(),
                metric: None,
                month: None,
                top: None
            }
        );
        assert_eq!(
            parse("rank villes twitter month:2014-09 top:5", lang).expect("rank"),
            Request::Rank {
                category: "villes".into(),
                platform: "twitter".into(),
                metric: None,
                month: Some("2014-09".into()),
                top: Some(5)
            }
        );
        assert_eq!(
            parse(
                "/watch add \"Air France\" \"@airfrance, #airfrance\" brand",
                lang
            )
            .expect("w"),
            Request::WatchAdd {
                name: "Air France".into(),
                aliases: Some("@airfrance, #airfrance".into()),
                kind: Some("brand".into())
            }
        );
        assert_eq!(
            parse("/classify Vol annulé, encore : merci pour rien", lang).expect("c"),
            Request::Classify {
                text: "Vol annulé, encore : merci pour rien".into()
            }
        );
        assert_eq!(
            parse("/alerts channel <#42>", lang).expect("a"),
            Request::AlertsChannel { channel: 42 }
        );
        let e = parse("/rank villes", lang).expect_err("missing");
        assert!(e.to_string().contains("il manque platform"), "{e}");
        let e = parse("/watch", lang).expect_err("group");
        assert!(e.to_string().contains("/watch add"), "{e}");
        let e = parse("/frobnicate", Lang::En).expect_err("unknown");
        assert!(e.to_string().contains("unknown command"), "{e}");
    }

    #[test]
    fn periods() {
        assert_eq!(parse_period("24h"), Some(Duration::hours(24)));
        assert_eq!(parse_period("7 j"), Some(Duration::days(7)));
        assert_eq!(parse_period("7d"), Some(Duration::days(7)));
        assert_eq!(parse_period("soon"), None);
    }
}

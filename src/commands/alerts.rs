//! `/alerts channel`, `/alerts sensitivity`, `/alerts status`: where and how a server receives
//! bad-buzz alerts; and [`ServerAlerts`], which owes each alert event to the servers that
//! watch its name.

use std::sync::Arc;

use super::outbox::{post_verdict_id, BotPost, PostBody};
use super::reply::{channel_ref, Caller, Reply};
use super::{CommandResult, Context, Process};
use crate::alerts::notify::Notifier;
use crate::alerts::{EventKind, Outgoing, Settings};
use crate::model::{Lang, Sensitivity};
use crate::store::corrections::VerdictRef;
use crate::store::servers::{ServerSettings, CONSOLE};
use crate::store::Store;
use crate::watch::fold::fold;

/// `/alerts channel #channel`: alerts go to `channel`, written in the caller's language.
pub fn channel(process: &dyn Process, caller: &Caller, channel: u64) -> CommandResult<Reply> {
    caller.must_post_in(channel)?;
    // A channel chosen again is tried again: its permissions may have been fixed.
    process.ctx().store.unblock_channel(caller.guild, channel)?;
    update_settings(process, caller.guild, |s| {
        s.alert_channel = Some(channel);
        s.lang = Some(caller.lang);
    })?;
    process.wake_poster();
    Ok(Reply::done(
        caller.tr("Alertes", "Alerts"),
        caller.tr(
            format!(
                "Les alertes de bad buzz arriveront dans {}.",
                channel_ref(channel)
            ),
            format!("Bad-buzz alerts will arrive in {}.", channel_ref(channel)),
        ),
    ))
}

/// `/alerts sensitivity level`.
pub fn sensitivity(
    process: &dyn Process,
    caller: &Caller,
    level: Sensitivity,
) -> CommandResult<Reply> {
    update_settings(process, caller.guild, |s| s.sensitivity = Some(level))?;
    Ok(Reply::done(
        caller.tr("Alertes", "Alerts"),
        caller.tr(
            format!(
                "Sensibilité des alertes : {}.",
                sensitivity_name(level, Lang::Fr)
            ),
            format!("Alert sensitivity: {}.", sensitivity_name(level, Lang::En)),
        ),
    ))
}

/// `/alerts status`: the channel, the sensitivity, the names followed, the open alerts.
pub fn status(process: &dyn Process, caller: &Caller) -> CommandResult<Reply> {
    let ctx = process.ctx();
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
    if let Some(line) = refused_line(&ctx, caller, s.alert_channel)? {
        fields.push((caller.tr("⚠ Salon refusé", "⚠ Channel refused"), line));
    }
    let names: Vec<String> = if caller.guild == CONSOLE {
        super::watch::visible(process, caller.guild)?
            .into_iter()
            .map(|e| e.name)
            .collect()
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
        open_alerts(&ctx, caller, Some(&names))?,
    ));
    Ok(Reply {
        fields,
        ..Reply::text(
            caller.tr("Alertes de bad buzz", "Bad-buzz alerts"),
            String::new(),
        )
    })
}

/// The channels of the caller's server that Discord refuses the bot (only `channel` when
/// given), with why and what to do; none when there is none.
pub fn refused_line(
    ctx: &Context,
    caller: &Caller,
    channel: Option<u64>,
) -> CommandResult<Option<String>> {
    let tz = super::collect::timezone(ctx)?;
    let needs = |lang| {
        crate::commands::Need::ALL
            .iter()
            .map(|n| format!("« {} »", n.name(lang)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let lines: Vec<String> = ctx
        .store
        .blocked_channels(Some(caller.guild))?
        .into_iter()
        .filter(|b| channel.is_none_or(|c| c == b.channel))
        .map(|b| {
            let since = b.since.with_timezone(&tz).format("%d/%m %H:%M");
            let (why_fr, why_en) = match b.why.as_str() {
                "unknown channel" => ("le salon est introuvable (supprimé ?)", "the channel cannot be found (deleted?)"),
                "missing access" => ("l'accès au salon lui est refusé", "it is denied access to the channel"),
                _ => ("il lui manque des permissions", "it lacks permissions"),
            };
            caller.tr(
                format!(
                    "Veille ne peut plus poster dans {} depuis le {since} : {why_fr}. Donnez-lui {} dans ce salon, ou choisissez-en un autre ; ce qui lui est dû attend.",
                    channel_ref(b.channel),
                    needs(Lang::Fr)
                ),
                format!(
                    "Veille cannot post in {} since {since}: {why_en}. Give it {} in that channel, or choose another; what it owes waits.",
                    channel_ref(b.channel),
                    needs(Lang::En)
                ),
            )
        })
        .collect();
    Ok((!lines.is_empty()).then(|| lines.join("\n")))
}

/// The open alerts, of `names` only when given, one a line.
pub fn open_alerts(
    ctx: &Context,
    caller: &Caller,
    names: Option<&[String]>,
) -> CommandResult<String> {
    let states: Vec<(String, crate::alerts::detector::AlertState)> = ctx.store.alert_states()?;
    let tz = super::collect::timezone(ctx)?;
    let open: Vec<String> = states
        .into_iter()
        .filter(|(e, _)| names.is_none_or(|n| n.iter().any(|n| fold(n) == fold(e))))
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

/// Changes a server's alert settings, durably; the detector restarts on them.
fn update_settings(
    process: &dyn Process,
    guild: u64,
    change: impl FnOnce(&mut ServerSettings),
) -> CommandResult<()> {
    let store = &process.ctx().store;
    let mut s = store.server_settings(guild)?;
    change(&mut s);
    store.put_server_settings(guild, &s)?;
    process.rewatch();
    Ok(())
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

/// Sends alert events to the servers whose list holds the name and who chose a channel,
/// each filtered by the server's sensitivity. An escalation or a close reaches only a server
/// that received the alert (an escalation that passes a server's threshold is its first).
pub struct ServerAlerts {
    store: Store,
    settings: Settings,
    default: Sensitivity,
    ready: Arc<tokio::sync::Notify>,
}

impl ServerAlerts {
    /// Over the app's store; `ready` wakes the poster.
    pub fn new(ctx: &Context, ready: Arc<tokio::sync::Notify>) -> anyhow::Result<ServerAlerts> {
        Ok(ServerAlerts {
            store: ctx.store.clone(),
            settings: Settings::from_config(&ctx.config)?,
            default: ctx.config.alerts.sensitivity,
            ready,
        })
    }
}

impl Notifier for ServerAlerts {
    fn notify(&self, out: &Outgoing) -> anyhow::Result<()> {
        let e = &out.event;
        let mut items = Vec::new();
        for (guild, s) in self.store.all_server_settings()? {
            let Some(channel) = s.alert_channel.filter(|_| guild != CONSOLE) else {
                continue;
            };
            let watched = self
                .store
                .watch_list(guild)?
                .iter()
                .any(|w| fold(&w.name) == fold(&e.entity));
            if !watched {
                continue;
            }
            let level = s.sensitivity.unwrap_or(self.default);
            let open = format!("alert/{guild}/{}/open", e.alert_id).into_bytes();
            let received = self.store.owed(&open)?;
            let marker = match e.event {
                EventKind::Open if self.settings.passes(level, e) => open,
                EventKind::Escalate | EventKind::Resume
                    if !received && self.settings.passes(level, e) =>
                {
                    open
                }
                EventKind::Resume if received => {
                    format!("alert/{guild}/{}/resume/{}", e.alert_id, e.at.timestamp()).into_bytes()
                }
                EventKind::Escalate if received => {
                    format!("alert/{guild}/{}/escalate/{}", e.alert_id, e.at.timestamp())
                        .into_bytes()
                }
                EventKind::Close if received => {
                    format!("alert/{guild}/{}/close/{}", e.alert_id, e.at.timestamp()).into_bytes()
                }
                _ => continue,
            };
            let mut verdicts = Vec::new();
            for p in &e.posts {
                let id = post_verdict_id(p.url.as_deref(), &p.text);
                self.store.put_verdict_ref(&VerdictRef {
                    id: id.clone(),
                    text: p.text.clone(),
                    lang: None,
                })?;
                verdicts.push(id);
            }
            items.push((
                marker,
                BotPost {
                    guild,
                    channel,
                    lang: s.lang.unwrap_or_default(),
                    body: PostBody::Alert {
                        out: Box::new(out.clone()),
                        verdicts,
                    },
                },
            ));
        }
        if self.store.enqueue_posts(&items)? > 0 {
            self.ready.notify_one();
        }
        Ok(())
    }
}

//! `/status`: the sources, the posts read today, the last collection, the open alerts; and
//! [`Status`], what the running tasks say of themselves.

use chrono::Utc;

use super::reply::{Caller, Reply, Tone};
use super::{CommandResult, Process};

/// What the running tasks say of themselves, for `/status` and the end-of-run report.
#[derive(Debug, Default, Clone)]
pub struct Status {
    /// The live sources running (at the end of a run: those that ran).
    pub sources: Vec<String>,
    /// Sources or tasks that stopped for good, and why (no secret in it).
    pub failures: Vec<String>,
    /// The last collection event.
    pub last_collection: Option<String>,
    /// Posts the ingest counted since the start, and of those already stored.
    pub posts: u64,
    /// Duplicates among them.
    pub duplicates: u64,
    /// The sources of the generations that ended.
    pub ended_sources: Vec<String>,
    /// How each live source stands.
    pub states: std::collections::BTreeMap<String, crate::ingest::pipeline::SourceState>,
    /// Each feed polled, by the URL it was added under, and how it stands.
    pub feeds: std::collections::BTreeMap<String, crate::ingest::feeds::FeedState>,
    /// X's reads today and their cost, when X runs.
    pub x_bill: Option<crate::ingest::x::Bill>,
}

/// `/status`.
pub fn status(process: &dyn Process, caller: &Caller) -> CommandResult<Reply> {
    let ctx = process.ctx();
    let st = process.status();
    let tz = super::collect::timezone(&ctx)?;
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
    // Every source that ran, with how it stands (the feeds have a line of their own).
    let mut names: Vec<&String> = st.sources.iter().collect();
    for name in st.states.keys() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let running: Vec<&String> = names
        .into_iter()
        .filter(|s| s.as_str() != crate::ingest::feeds::SOURCE_NAME)
        .collect();
    let sources = if running.is_empty() {
        caller.tr(
            "aucune source en marche (X_BEARER_TOKEN pour X ; Jetstream pour Bluesky)",
            "no source running (X_BEARER_TOKEN for X; Jetstream for Bluesky)",
        )
    } else {
        running
            .iter()
            .map(|s| source_line(s, st.states.get(*s), caller, tz))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // This server's names only: another server's list is none of its business.
    let visible: Vec<String> = super::watch::visible(process, caller.guild)?
        .into_iter()
        .map(|e| e.name)
        .collect();
    let watched = visible.len();
    let mut fields = vec![(caller.tr("Sources", "Sources"), sources)];
    if let Some(b) = st.x_bill {
        let mut line = caller.tr(
            format!(
                "{} posts lus aujourd'hui sur {} permis (≈ {} $)",
                b.read,
                b.max,
                format!("{:.2}", b.cost).replace('.', ",")
            ),
            format!(
                "{} posts read today of {} allowed (≈ ${:.2})",
                b.read, b.max, b.cost
            ),
        );
        if b.paused {
            line.push_str(&caller.tr(
                "\n⏸ en pause jusqu'à demain (minuit UTC) : le plafond du jour est atteint",
                "\n⏸ paused until tomorrow (midnight UTC): today's cap is reached",
            ));
        }
        fields.push((
            caller.tr("Lectures X (facturées)", "X reads (billed)"),
            line,
        ));
    }
    if let Some(f) = feeds_line(&ctx, caller, &st)? {
        fields.push((caller.tr("Flux", "Feeds"), f));
    }
    fields.extend([
        (
            caller.tr("Posts lus aujourd'hui", "Posts read today"),
            today.to_string(),
        ),
        (
            caller.tr("Noms surveillés", "Watched names"),
            watched.to_string(),
        ),
        (
            caller.tr("Dernière collecte", "Last collection"),
            st.last_collection.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            caller.tr("Alertes ouvertes", "Open alerts"),
            super::alerts::open_alerts(&ctx, caller, Some(&visible))?,
        ),
        (
            caller.tr("Corrections de l'équipe", "Team corrections"),
            ctx.store.correction_count().to_string(),
        ),
    ]);
    if !st.failures.is_empty() {
        fields.push((caller.tr("Arrêtés", "Stopped"), st.failures.join("\n")));
    }
    if let Some(line) = super::alerts::refused_line(&ctx, caller, None)? {
        fields.push((caller.tr("⚠ Salons refusés", "⚠ Channels refused"), line));
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

/// The feeds this server reads (its own and the configuration's): how many, and those that
/// fail or stopped, with why; none when it reads no feed.
fn feeds_line(ctx: &super::Context, caller: &Caller, st: &Status) -> CommandResult<Option<String>> {
    use crate::ingest::feeds::FeedState;
    let mut urls: Vec<String> = ctx.config.sources.feeds.urls.clone();
    for f in ctx.store.feeds(Some(caller.guild))? {
        if !urls.contains(&f.url) {
            urls.push(f.url);
        }
    }
    if urls.is_empty() {
        return Ok(None);
    }
    let troubled: Vec<String> = urls
        .iter()
        .filter_map(|u| match st.feeds.get(u) {
            Some(FeedState::Failing { why, .. }) | Some(FeedState::Stopped { why }) => {
                Some(format!("⚠ {u} : {}", why.describe(caller.lang)))
            }
            _ => None,
        })
        .collect();
    let mut line = if troubled.is_empty() {
        caller.tr(
            format!("✅ {} lus", urls.len()),
            format!("✅ {} read", urls.len()),
        )
    } else {
        caller.tr(
            format!("{} lus, {} en échec", urls.len(), troubled.len()),
            format!("{} read, {} failing", urls.len(), troubled.len()),
        )
    };
    for t in troubled.iter().take(5) {
        line.push('\n');
        line.push_str(t);
    }
    if troubled.len() > 5 {
        line.push_str(&caller.tr(
            format!("\n… et {} autres (/feed list)", troubled.len() - 5),
            format!("\n… and {} more (/feed list)", troubled.len() - 5),
        ));
    }
    Ok(Some(line))
}

/// One source and how it stands, as a community manager reads it.
pub fn source_line(
    name: &str,
    state: Option<&crate::ingest::pipeline::SourceState>,
    caller: &Caller,
    tz: chrono_tz::Tz,
) -> String {
    use crate::ingest::pipeline::SourceState;
    match state {
        None | Some(SourceState::Connecting) => caller.tr(
            format!("⏳ {name} : connexion en cours (pas encore connectée)"),
            format!("⏳ {name}: connecting (not connected yet)"),
        ),
        Some(SourceState::Running) => format!("✅ {name}"),
        Some(SourceState::Failing { why, since }) => {
            let since = since.with_timezone(&tz).format("%d/%m %H:%M");
            caller.tr(
                format!("⚠ {name} : en échec depuis le {since}, nouvel essai bientôt ({why})"),
                format!("⚠ {name}: failing since {since}, retrying ({why})"),
            )
        }
        Some(SourceState::Paused { why }) => caller.tr(
            format!("⏸ {name} : en pause ({why})"),
            format!("⏸ {name}: paused ({why})"),
        ),
        Some(SourceState::Stopped { why }) => caller.tr(
            format!("⛔ {name} : arrêtée ({why})"),
            format!("⛔ {name}: stopped ({why})"),
        ),
    }
}

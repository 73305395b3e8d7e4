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
    /// Running sources not connected now, and why.
    pub trouble: std::collections::BTreeMap<String, String>,
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
    let watched = super::watch::union(process.base_entities(), &ctx.store)?.len();
    let mut fields = vec![
        (caller.tr("Sources", "Sources"), sources),
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
            super::alerts::open_alerts(&ctx, caller, None)?,
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

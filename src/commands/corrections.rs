//! The team's corrections of verdicts (the « Critique » and « Pas critique » buttons under
//! `/classify` replies and alerts): recorded with who made them; the classifier learns from
//! them (see [`super::learn`]).

use chrono::Utc;

use super::reply::{Caller, Reply};
use super::{CommandError, CommandResult, Process};
use crate::model::{Label, Lang};
use crate::store::corrections::Correction;
use crate::store::servers::CONSOLE;

/// Records a person's correction of a verdict given earlier; the reply, for them alone,
/// confirms it. A correction retrains the classifier every server's verdicts come from, so
/// it needs what changing a server's settings needs (Manage Server): a member who can merely
/// read the channel cannot move it.
pub fn correct(
    process: &dyn Process,
    caller: &Caller,
    verdict: &str,
    label: Label,
) -> CommandResult<Reply> {
    caller.must_manage(
        "il faut la permission « Gérer le serveur » pour corriger un verdict : la correction entraîne le classifieur",
        "correcting a verdict needs the Manage Server permission: corrections train the classifier",
    )?;
    let ctx = process.ctx();
    let Some(r) = ctx.store.verdict_ref(verdict)? else {
        return Err(CommandError::user_in(
            caller.lang,
            "ce verdict n'est plus connu de Veille",
            "Veille no longer knows this verdict",
        ));
    };
    let c = Correction {
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
    // Refit in the background: the next verdicts use it, no source restarts.
    process.refit();
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

//! `/classify`: the classifier's verdict on a text, with its cues and the watched names it
//! finds; the verdict can be corrected (see [`super::corrections`]).

use super::reply::{Caller, Reply, Tone};
use super::{CommandError, CommandResult, Context};
use crate::model::{Label, Lang};
use crate::store::corrections::VerdictRef;

/// `/classify text`.
pub fn classify(ctx: &Context, caller: &Caller, text: &str) -> CommandResult<Reply> {
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
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_string()
        } else {
            items.join(", ")
        }
    };
    let fields = vec![
        (caller.tr("Score", "Score"), format!("{:.2}", v.score)),
        (caller.tr("Indices", "Cues"), list(&v.cues)),
        (
            caller.tr("Noms surveillés", "Watched names"),
            list(&v.mentions),
        ),
    ];
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

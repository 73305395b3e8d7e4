//! Button presses: a correction of a verdict (« Critique » / « Pas critique » under a
//! `/classify` reply or an alert), recorded by the command core and confirmed to the member
//! alone; the ◀ ▶ page buttons of a reply, turned from the replies kept in `pages.rs`.

use std::sync::Arc;

use serenity::all::{
    ComponentInteraction, Context, CreateAllowedMentions, CreateInteractionResponse,
    CreateInteractionResponseMessage,
};

use super::pages::{turn_of, Pages, PAGES_FOR};
use super::render::{clip, CONTENT_MAX};
use super::slash::caller;
use crate::app::App;
use crate::commands::corrections::correct;
use crate::commands::CommandError;
use crate::model::{Label, Lang};

/// What a button's id asks: a verdict's correction (`veille:v:c:ID`, `veille:v:n:ID`).
fn correction(custom_id: &str) -> Option<(Label, &str)> {
    match custom_id.strip_prefix("veille:v:")?.split_once(':')? {
        ("c", id) => Some((Label::Critical, id)),
        ("n", id) => Some((Label::Neutral, id)),
        _ => None,
    }
}

/// A button pressed. A page button turns its reply's pages (or says, to the member alone,
/// that they no longer turn). A correction button is recorded with who pressed it (when
/// they may: see [`correct`]), confirmed to them alone.
pub async fn on_press(ctx: &Context, app: Arc<App>, pages: &Pages, press: ComponentInteraction) {
    if let Some((id, next)) = turn_of(&press.data.custom_id) {
        return turn(ctx, pages, press, id, next).await;
    }
    let Some((label, id)) = correction(&press.data.custom_id) else {
        return;
    };
    let id = id.to_string();
    let caller = caller(
        press.guild_id,
        press.channel_id,
        &press.user,
        press.member.as_ref(),
        &press.locale,
    );
    let c = caller.clone();
    let result = tokio::task::spawn_blocking(move || correct(&*app, &c, &id, label))
        .await
        .map_err(|e| CommandError::Internal(anyhow::anyhow!("the correction task failed: {e}")))
        .and_then(|r| r);
    let text = match result {
        Ok(r) => r.plain(),
        Err(e) => {
            e.log("correction");
            format!("⚠ {}", e.reply(caller.lang))
        }
    };
    tell(ctx, &press, &text, "answering a correction").await;
}

/// Turns the pages of the reply sent for interaction `id`, in place.
async fn turn(ctx: &Context, pages: &Pages, press: ComponentInteraction, id: u64, next: bool) {
    let Some(page) = pages.turn(id, next) else {
        let minutes = PAGES_FOR.as_secs() / 60;
        let text = match Lang::from_locale(&press.locale) {
            Lang::Fr => format!(
                "Ces pages ne se tournent plus (plus de {minutes} minutes, ou Veille a redémarré) : relancez la commande."
            ),
            Lang::En => format!(
                "These pages no longer turn (over {minutes} minutes old, or Veille restarted): run the command again."
            ),
        };
        return tell(ctx, &press, &text, "answering a page button").await;
    };
    let turned = press
        .create_response(
            &ctx.http,
            CreateInteractionResponse::UpdateMessage(
                CreateInteractionResponseMessage::new().embed(page),
            ),
        )
        .await;
    if let Err(e) = turned {
        tracing::warn!(error = %e, "turning a page");
    }
}

/// Answers a press with a short text for the member alone.
async fn tell(ctx: &Context, press: &ComponentInteraction, text: &str, what: &str) {
    let answered = press
        .create_response(
            &ctx.http,
            CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new()
                    .content(clip(text, CONTENT_MAX))
                    .ephemeral(true)
                    .allowed_mentions(CreateAllowedMentions::new()),
            ),
        )
        .await;
    if let Err(e) = answered {
        tracing::warn!(error = %e, "{what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_button_id_names_the_correction() {
        assert_eq!(
            correction("veille:v:c:post:00ff"),
            Some((Label::Critical, "post:00ff"))
        );
        assert_eq!(
            correction("veille:v:n:text:1"),
            Some((Label::Neutral, "text:1"))
        );
        assert_eq!(correction("veille:p:3000:next"), None);
        assert_eq!(correction("veille:v:x:1"), None);
    }
}

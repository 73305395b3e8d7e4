//! Button presses: a correction of a verdict (« Critique » / « Pas critique » under a
//! `/classify` reply or an alert), recorded by the command core and confirmed to the member
//! alone. The ◀ ▶ page buttons are answered where their reply was sent (`slash.rs`).

use std::sync::Arc;

use serenity::all::{
    ComponentInteraction, Context, CreateAllowedMentions, CreateInteractionResponse,
    CreateInteractionResponseMessage,
};

use super::render::{clip, CONTENT_MAX};
use super::slash::caller;
use crate::app::App;
use crate::commands::corrections::correct;
use crate::commands::CommandError;
use crate::model::Label;

/// What a button's id asks: a verdict's correction (`veille:v:c:ID`, `veille:v:n:ID`).
fn correction(custom_id: &str) -> Option<(Label, &str)> {
    match custom_id.strip_prefix("veille:v:")?.split_once(':')? {
        ("c", id) => Some((Label::Critical, id)),
        ("n", id) => Some((Label::Neutral, id)),
        _ => None,
    }
}

/// A correction button pressed: recorded with who pressed it (when they may: see
/// [`correct`]), confirmed to them alone. Other buttons are left to whoever waits for them.
pub async fn on_press(ctx: &Context, app: Arc<App>, press: ComponentInteraction) {
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
    let answered = press
        .create_response(
            &ctx.http,
            CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new()
                    .content(clip(&text, CONTENT_MAX))
                    .ephemeral(true)
                    .allowed_mentions(CreateAllowedMentions::new()),
            ),
        )
        .await;
    if let Err(e) = answered {
        tracing::warn!(error = %e, "answering a correction");
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

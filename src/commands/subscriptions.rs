//! `/subscribe`, `/unsubscribe`, `/subscriptions`: a channel receives an account's position
//! every month; and [`queue_positions`], which owes each subscription its new month once.

use chrono::Utc;

use super::outbox::{BotPost, PostBody};
use super::rank as rank_cmd;
use super::reply::{channel_ref, Caller, Reply};
use super::request::Subscription;
use super::{CommandError, CommandResult, Context};
use crate::model::{Lang, Month, Platform};
use crate::rank::message;
use crate::store::servers::Subscription as Stored;

/// `/subscribe account platform [channel]`: the account's position is posted in the channel
/// (the caller's by default) each month; the reply carries the latest one.
pub fn subscribe(ctx: &Context, caller: &Caller, asked: &Subscription) -> CommandResult<Reply> {
    let lang = caller.lang;
    let (p, key, channel) = resolve(ctx, caller, asked)?;
    caller.must_post_in(channel)?;
    let sub = Stored {
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
    let now = mark_current(ctx, &sub, lang)?;
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

/// `/unsubscribe account platform [channel]`.
pub fn unsubscribe(ctx: &Context, caller: &Caller, asked: &Subscription) -> CommandResult<Reply> {
    let (p, key, channel) = resolve(ctx, caller, asked)?;
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

/// `/subscriptions`: the server's subscriptions.
pub fn list(ctx: &Context, caller: &Caller) -> CommandResult<Reply> {
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

/// The platform, the catalogue key of the account as the user names it, and the channel
/// (the caller's by default).
fn resolve(
    ctx: &Context,
    caller: &Caller,
    asked: &Subscription,
) -> CommandResult<(Platform, String, u64)> {
    let (lang, account) = (caller.lang, &asked.account);
    let p = Platform::parse(&asked.platform).map_err(super::unknown(lang))?;
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
    let channel = asked.channel.map_or(caller.channel, |c| c.0);
    Ok((p, acc.key(p), channel))
}

fn position_marker(sub: &Stored, month: Month) -> Vec<u8> {
    let mut m = b"position/".to_vec();
    m.extend_from_slice(&sub.key());
    m.extend_from_slice(format!("/{month}").as_bytes());
    m
}

/// The subscription's latest month with a position, and its sentences.
fn latest(ctx: &Context, sub: &Stored, lang: Lang) -> Option<(Month, String, String)> {
    let history = match rank_cmd::position(ctx, &sub.account, Some(sub.platform.id()), lang) {
        Ok(h) => h,
        Err(e) => {
            e.log("monthly position");
            return None;
        }
    };
    let month = history.last()?.ranking.month;
    let sentences: Vec<String> = history
        .iter()
        .filter(|p| p.ranking.month == month)
        .map(|p| message::position_sentence(&p.ranking, &p.ranking.rows[p.row], lang))
        .collect();
    let last = history.last()?;
    let title = last.ranking.rows[last.row].account.label(sub.platform);
    Some((month, title, sentences.join("\n")))
}

/// Marks the latest known month of a new subscription as given (the subscribe reply shows
/// it) and returns its sentences.
fn mark_current(ctx: &Context, sub: &Stored, lang: Lang) -> CommandResult<Option<String>> {
    Ok(match latest(ctx, sub, lang) {
        Some((month, _, text)) => {
            ctx.store.mark_owed(&position_marker(sub, month))?;
            Some(text)
        }
        None => None,
    })
}

/// Queues every subscription's latest position not yet owed (after a monthly collection,
/// and at start to catch up after downtime). Returns how many were queued.
pub fn queue_positions(ctx: &Context) -> anyhow::Result<usize> {
    let mut items = Vec::new();
    for sub in ctx.store.subscriptions(None)? {
        let lang = ctx
            .store
            .server_settings(sub.guild)?
            .lang
            .unwrap_or_default();
        let Some((month, title, text)) = latest(ctx, &sub, lang) else {
            continue;
        };
        let marker = position_marker(&sub, month);
        if ctx.store.owed(&marker)? {
            continue;
        }
        items.push((
            marker,
            BotPost {
                guild: sub.guild,
                channel: sub.channel,
                lang,
                body: PostBody::Position { title, text },
            },
        ));
    }
    ctx.store.enqueue_posts(&items)
}

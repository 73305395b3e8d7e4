//! `/feed add`, `/feed remove`, `/feed list`: the web feeds a server follows (the press,
//! Google Alerts, blogs), polled with the configuration's by the feeds source.
//!
//! A feed a member adds must be an http or https address that leads to a public site: an
//! address that names or resolves to a private, loopback or link-local one is refused here,
//! and again by the source at every request and redirect (see [`crate::ingest::feeds`]),
//! unless the deployment allows private addresses.

use std::net::ToSocketAddrs;

use chrono::Utc;

use super::reply::{Caller, Reply};
use super::{CommandError, CommandResult, Process};
use crate::http::{self, AddressRefused};
use crate::ingest::feeds::FeedState;
use crate::model::Lang;
use crate::store::servers::FeedSubscription;

/// Feeds a server may follow.
pub const MAX_PER_SERVER: usize = 100;

/// `/feed add url`.
pub fn add(process: &dyn Process, caller: &Caller, url: &str) -> CommandResult<Reply> {
    let ctx = process.ctx();
    let url = check(
        url,
        ctx.config.sources.feeds.allow_private_addresses,
        caller.lang,
    )?;
    let own = ctx.store.feeds(Some(caller.guild))?;
    if own.len() >= MAX_PER_SERVER {
        return Err(CommandError::user_in(
            caller.lang,
            format!("ce serveur suit déjà {MAX_PER_SERVER} flux : retirez-en un d'abord (/feed remove)"),
            format!("this server already follows {MAX_PER_SERVER} feeds: remove one first (/feed remove)"),
        ));
    }
    let added = ctx.store.put_feed(&FeedSubscription {
        guild: caller.guild,
        url: url.clone(),
        by: caller.user,
        at: Utc::now(),
    })?;
    if !added {
        return Err(CommandError::user_in(
            caller.lang,
            format!("ce serveur suit déjà {url}"),
            format!("this server already follows {url}"),
        ));
    }
    let minutes = ctx.config.sources.feeds.poll_interval_secs.div_ceil(60);
    Ok(Reply::done(
        caller.tr("Flux ajouté", "Feed added"),
        caller.tr(
            format!("{url} sera lu d'ici quelques instants, puis toutes les {minutes} minutes environ. /feed list dit s'il se lit bien."),
            format!("{url} will be read in a moment, then about every {minutes} minutes. /feed list says whether it reads well."),
        ),
    ))
}

/// The address as stored, or why it is refused: http or https, and (unless private addresses
/// are allowed) a host that names or resolves to public addresses only.
fn check(url: &str, allow_private: bool, lang: Lang) -> CommandResult<String> {
    let url = url.trim().trim_start_matches('<').trim_end_matches('>');
    let parsed = reqwest::Url::parse(url).map_err(|_| {
        CommandError::user_in(
            lang,
            format!("{url} n'est pas une adresse web (https://…)"),
            format!("{url} is not a web address (https://…)"),
        )
    })?;
    let refused = |why: AddressRefused| match why {
        AddressRefused::Scheme => CommandError::user_in(
            lang,
            "l'adresse d'un flux commence par http:// ou https://",
            "a feed's address starts with http:// or https://",
        ),
        AddressRefused::Unresolved => CommandError::user_in(
            lang,
            format!("le site de {url} est introuvable"),
            format!("the site of {url} cannot be found"),
        ),
        AddressRefused::NotPublic => CommandError::user_in(
            lang,
            format!("{url} ne mène pas à un site public : Veille ne lit que des flux publics"),
            format!("{url} does not lead to a public site: Veille reads public feeds only"),
        ),
    };
    if allow_private {
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(refused(AddressRefused::Scheme));
        }
        return Ok(parsed.to_string());
    }
    http::check_url(&parsed).map_err(refused)?;
    if let Some(url::Host::Domain(host)) = parsed.host() {
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addrs: Vec<std::net::SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|_| refused(AddressRefused::Unresolved))?
            .collect();
        if !addrs.iter().any(|a| http::is_public(a.ip())) {
            return Err(refused(AddressRefused::NotPublic));
        }
    }
    Ok(parsed.to_string())
}

/// `/feed remove url`.
pub fn remove(process: &dyn Process, caller: &Caller, url: &str) -> CommandResult<Reply> {
    let ctx = process.ctx();
    let given = url.trim().trim_start_matches('<').trim_end_matches('>');
    let normal = reqwest::Url::parse(given).map_or(given.to_string(), |u| u.to_string());
    let removed = ctx.store.remove_feed(caller.guild, &normal)?
        || (normal != given && ctx.store.remove_feed(caller.guild, given)?);
    if !removed {
        return Err(CommandError::user_in(
            caller.lang,
            format!("ce serveur ne suit pas {given} (/feed list)"),
            format!("this server does not follow {given} (/feed list)"),
        ));
    }
    Ok(Reply::done(
        caller.tr("Flux retiré", "Feed removed"),
        caller.tr(
            format!("{normal} n'est plus lu pour ce serveur."),
            format!("{normal} is no longer read for this server."),
        ),
    ))
}

/// `/feed list`: the server's feeds and the configuration's, with how each reads.
pub fn list(process: &dyn Process, caller: &Caller) -> CommandResult<Reply> {
    let ctx = process.ctx();
    let status = process.status();
    let tz = super::collect::timezone(&ctx)?;
    let line = |url: &str| {
        let state = match status.feeds.get(url) {
            None | Some(FeedState::Waiting) => caller.tr("⏳ pas encore lu", "⏳ not read yet"),
            Some(FeedState::Read { at, items }) => {
                let at = at.with_timezone(&tz).format("%d/%m %H:%M");
                caller.tr(
                    format!("✅ lu le {at} ({items} articles)"),
                    format!("✅ read on {at} ({items} items)"),
                )
            }
            Some(FeedState::Failing { why, since }) => {
                let since = since.with_timezone(&tz).format("%d/%m %H:%M");
                caller.tr(
                    format!("⚠ en échec depuis le {since} : {}", why.describe(Lang::Fr)),
                    format!("⚠ failing since {since}: {}", why.describe(Lang::En)),
                )
            }
            Some(FeedState::Stopped { why }) => {
                format!("⛔ {}", why.describe(caller.lang))
            }
        };
        format!("• {url} — {state}")
    };
    let own = ctx.store.feeds(Some(caller.guild))?;
    let mut body = if own.is_empty() {
        caller.tr(
            "Ce serveur ne suit encore aucun flux : /feed add https://…",
            "This server follows no feed yet: /feed add https://…",
        )
    } else {
        own.iter()
            .map(|f| line(&f.url))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let base = &ctx.config.sources.feeds.urls;
    if !base.is_empty() {
        body.push_str(&caller.tr(
            "\n\nLus pour tous par la configuration :\n",
            "\n\nRead for everyone by the configuration:\n",
        ));
        body.push_str(&base.iter().map(|u| line(u)).collect::<Vec<_>>().join("\n"));
    }
    Ok(Reply::text(
        caller.tr("Flux suivis", "Feeds followed"),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_addresses_to_public_sites_are_accepted() {
        let err = |u: &str| check(u, false, Lang::Fr).expect_err(u).to_string();
        assert!(err("ftp://example.com/rss").contains("http:// ou https://"));
        assert!(err("file:///etc/passwd").contains("http:// ou https://"));
        assert!(err("pas une adresse").contains("n'est pas une adresse web"));
        assert!(err("http://127.0.0.1:8080/rss").contains("site public"));
        assert!(err("http://169.254.169.254/latest/meta-data").contains("site public"));
        assert!(err("http://[::1]/rss").contains("site public"));
        assert!(err("http://localhost:8080/rss").contains("site public"));
        assert!(err("http://10.0.0.7/rss").contains("site public"));
        assert_eq!(
            check("http://127.0.0.1:8080/rss", true, Lang::Fr).expect("allowed"),
            "http://127.0.0.1:8080/rss"
        );
        assert_eq!(
            check("<https://93.184.216.34/rss>", false, Lang::Fr).expect("public"),
            "https://93.184.216.34/rss"
        );
    }
}

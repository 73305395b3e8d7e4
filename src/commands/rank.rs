//! `rank` and `position`: a category's ranking for a month, and where one account stands;
//! typed for `veille rank` and `veille position`, as replies for `/rank` and `/position`.

use std::collections::HashMap;

use super::reply::{Caller, Image, Reply, PAGE_ROWS};
use super::{unknown, CommandError, CommandResult, Context};
use crate::model::{Lang, Month};
use crate::rank::catalog::{Catalog, Platform};
use crate::rank::positions::{self, MonthSnapshots, Ranking};
use crate::rank::score::Metric;
use crate::store::Store;

/// What `rank` is asked.
#[derive(Debug, Clone, Default)]
pub struct RankQuery {
    /// The category, as the user wrote it.
    pub category: String,
    /// The platform, as the user wrote it.
    pub platform: String,
    /// The metric; the platform's default when absent.
    pub metric: Option<String>,
    /// The month (`YYYY-MM`); the latest with data when absent.
    pub month: Option<String>,
}

fn loader(
    store: &Store,
    platform: Platform,
) -> impl FnMut(Month) -> anyhow::Result<MonthSnapshots> + '_ {
    move |m| {
        Ok(store
            .month_snapshots(platform, m)?
            .into_iter()
            .collect::<HashMap<_, _>>())
    }
}

/// The language to answer `q` in: `asked` when the user chose one, English when they named
/// the category in English (`cities`, `departments`), French otherwise.
pub fn reply_lang(catalog: &Catalog, q: &RankQuery, asked: Option<Lang>) -> Lang {
    asked.unwrap_or(if catalog.is_english_name(&q.category) {
        Lang::En
    } else {
        Lang::Fr
    })
}

/// The ranking asked for, or a clear error: unknown names list the valid ones, a month with no
/// data names the months that have some. Reads a few months of snapshots (blocking).
pub fn rank(ctx: &Context, q: &RankQuery, lang: Lang) -> CommandResult<Ranking> {
    let (store, catalog) = (&ctx.store, &*ctx.catalog);
    let in_lang = unknown(lang);
    let category = catalog.category(&q.category).map_err(&in_lang)?;
    let platform = Platform::parse(&q.platform).map_err(&in_lang)?;
    let metric = match &q.metric {
        Some(m) => Metric::parse(m).map_err(&in_lang)?,
        None => Metric::default_for(platform),
    };
    let keys: Vec<String> = category.accounts.iter().map(|a| a.key(platform)).collect();
    // The months with figures for this list: a measured figure, or a rank published in it
    // (a rank published in another list, as Tours's among the grandes villes, is not).
    let mut months = store.months(platform, &keys)?;
    let mut without = Vec::new();
    for &m in &months {
        let snaps = store.month_snapshots(platform, m)?;
        let has_data = snaps.iter().any(|(k, s)| {
            keys.contains(k)
                && (s.published_ranks.contains_key(&category.id)
                    || [s.followers, s.following, s.posts_total, s.posts_month]
                        .iter()
                        .any(Option::is_some))
        });
        if !has_data {
            without.push(m);
        }
    }
    for m in without {
        months.remove(&m);
    }
    let label = match lang {
        Lang::Fr => &category.label_fr,
        Lang::En => &category.label_en,
    };
    let month = match &q.month {
        Some(m) => parse_month(m, lang)?,
        None => match months.last() {
            Some(m) => *m,
            None => {
                return Err(CommandError::user_in(
                    lang,
                    format!("aucune donnée pour les {label} sur {}", platform.display()),
                    format!("no data for the {label} on {}", platform.display()),
                ))
            }
        },
    };
    match positions::ranking(category, platform, metric, month, loader(store, platform))? {
        Some(r) => Ok(r),
        None => {
            let list: Vec<String> = months.iter().map(Month::to_string).collect();
            let list = if list.is_empty() {
                "-".to_string()
            } else {
                list.join(", ")
            };
            Err(CommandError::user_in(
                lang,
                format!(
                    "pas de données pour les {label} sur {} en {} ; mois disponibles : {list}",
                    platform.display(),
                    month.name(lang)
                ),
                format!(
                    "no data for the {label} on {} in {}; months with data: {list}",
                    platform.display(),
                    month.name(lang)
                ),
            ))
        }
    }
}

/// One month of an account's history in one category.
#[derive(Debug, Clone)]
pub struct Position {
    /// The month's ranking (the account's row is in it).
    pub ranking: Ranking,
    /// The index of the account's row.
    pub row: usize,
}

/// A month as the user wrote it, or a user error in `lang`.
pub fn parse_month(input: &str, lang: Lang) -> CommandResult<Month> {
    input.parse::<Month>().map_err(|_| {
        CommandError::user_in(
            lang,
            format!("{input:?} n'est pas un mois : écrivez AAAA-MM, par exemple 2021-06"),
            format!("{input:?} is not a month: write YYYY-MM, e.g. 2021-06"),
        )
    })
}

/// Where `account` (handle or name) stood each month with data, on `platform` or on every
/// platform, in every category it is ranked in; oldest first. Ranks every month the account
/// has data for (blocking).
pub fn position(
    ctx: &Context,
    account: &str,
    platform: Option<&str>,
    lang: Lang,
) -> CommandResult<Vec<Position>> {
    let (store, catalog) = (&ctx.store, &*ctx.catalog);
    let platform = platform
        .map(Platform::parse)
        .transpose()
        .map_err(unknown(lang))?;
    let found = catalog.find_account(account, platform);
    if found.is_empty() {
        return Err(CommandError::user_in(
            lang,
            format!("compte inconnu : {account} (ni un @compte ni un nom du catalogue)"),
            format!("unknown account: {account} (neither a catalogue @handle nor a name)"),
        ));
    }
    let platforms: Vec<Platform> = platform.map_or(Platform::ALL.to_vec(), |p| vec![p]);
    let mut out = Vec::new();
    for (category, acc) in found {
        for &p in &platforms {
            let key = acc.key(p);
            if platform.is_none()
                && acc.handle(p).is_none()
                && store.months(p, std::slice::from_ref(&key))?.is_empty()
            {
                continue;
            }
            for month in store.months(p, std::slice::from_ref(&key))? {
                let metric = Metric::default_for(p);
                if let Some(r) = positions::ranking(category, p, metric, month, loader(store, p))? {
                    if let Some(row) = r.rows.iter().position(|row| row.account.key(p) == key) {
                        out.push(Position { ranking: r, row });
                    }
                }
            }
        }
    }
    out.sort_by_key(|p| {
        (
            p.ranking.month,
            p.ranking.platform,
            p.ranking.category.clone(),
        )
    });
    if out.is_empty() {
        return Err(CommandError::user_in(
            lang,
            format!("aucune position connue pour {account}"),
            format!("no known position for {account}"),
        ));
    }
    Ok(out)
}

/// One line of an account's history: month, platform, category, rank, move, value.
pub fn position_line(p: &Position, lang: Lang) -> String {
    let r = &p.ranking;
    let row = &r.rows[p.row];
    let line = format!(
        "{}  {:<10} {:<28} {:>4}  {:<8} {}",
        r.month,
        r.platform.id(),
        match lang {
            Lang::Fr => &r.label_fr,
            Lang::En => &r.label_en,
        },
        crate::rank::message::ordinal(row.rank, lang),
        row.movement.symbol(lang),
        row.value
            .map(|v| r.metric.format(v, lang))
            .unwrap_or_default()
    );
    line.trim_end().to_string()
}

/// `/rank category platform [metric] [month] [top]`: the ranking in pages of [`PAGE_ROWS`]
/// rows, `top` rows in all (every row by default).
pub fn ranking(
    ctx: &Context,
    caller: &Caller,
    category: &str,
    platform: &str,
    metric: &Option<String>,
    month: &Option<String>,
    top: Option<usize>,
) -> CommandResult<Reply> {
    let q = RankQuery {
        category: category.to_string(),
        platform: platform.to_string(),
        metric: metric.clone(),
        month: month.clone(),
    };
    let r = rank(ctx, &q, caller.lang)?;
    Ok(ranking_reply(
        &r,
        top.unwrap_or(r.rows.len()).max(1),
        caller.lang,
    ))
}

/// A ranking as a reply: the heading as title, pages of [`PAGE_ROWS`] rows, the sources in
/// the footer.
pub fn ranking_reply(r: &Ranking, top: usize, lang: Lang) -> Reply {
    let table = crate::rank::message::table(r, top, lang);
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

/// `/position account [platform]`: the account's last twelve positions, its latest as a
/// sentence, and a chart of its ranks.
pub fn positions(
    ctx: &Context,
    caller: &Caller,
    account: &str,
    platform: Option<&str>,
) -> CommandResult<Reply> {
    let lang = caller.lang;
    let history = position(ctx, account, platform, lang)?;
    let recent = &history[history.len().saturating_sub(12)..];
    let body = recent
        .iter()
        .map(|p| position_line(p, lang))
        .collect::<Vec<_>>()
        .join("\n");
    let last = history.last().expect("position returns at least one");
    let sentence =
        crate::rank::message::position_sentence(&last.ranking, &last.ranking.rows[last.row], lang);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::{message, seeds};

    fn seeded() -> Context {
        let store = Store::temporary().expect("store");
        let ctx =
            Context::with_store(crate::config::Config::default(), vec![], store).expect("context");
        assert!(
            !seeds::ensure(&ctx.store, &ctx.catalog).expect("seeds"),
            "imported once only"
        );
        ctx
    }

    fn q(category: &str, platform: &str) -> RankQuery {
        RankQuery {
            category: category.into(),
            platform: platform.into(),
            ..RankQuery::default()
        }
    }

    #[test]
    fn the_eterritoire_ranking_is_reproduced_as_published() {
        let ctx = seeded();
        let r = rank(&ctx, &q("villes", "twitter"), Lang::Fr).expect("ranking");
        assert_eq!(r.month.to_string(), "2014-09");
        assert_eq!(r.rows.len(), 30);
        let top: Vec<(u32, &str, f64)> = r
            .rows
            .iter()
            .take(3)
            .map(|x| (x.rank, x.account.name.as_str(), x.value.unwrap_or(0.0)))
            .collect();
        assert_eq!(
            top,
            [
                (1, "Toulouse", 18_900.0),
                (2, "Angers", 17_800.0),
                (3, "Paris", 11_500.0)
            ]
        );
        let last = r.rows.last().expect("rows");
        assert_eq!((last.rank, last.account.name.as_str()), (30, "Trappes"));
        // The whole list in eTerritoire's order, one rank each.
        let names: Vec<&str> = r.rows.iter().map(|x| x.account.name.as_str()).collect();
        assert_eq!(
            &names[10..20],
            [
                "Bourg-la-Reine",
                "Beauvais",
                "Rouen",
                "Boulogne-Billancourt",
                "Nice",
                "Brest",
                "Le Mans",
                "Digne-les-Bains",
                "Saint-Dizier",
                "Montreuil"
            ]
        );
        assert!(r
            .rows
            .iter()
            .enumerate()
            .all(|(i, x)| x.rank == i as u32 + 1 && !x.tied));
        assert!(r.rows.iter().all(|x| x.movement == positions::Move::New));
        // The same with other spellings.
        let same = rank(&ctx, &q("cities", "X"), Lang::En).expect("ranking");
        assert_eq!(same.rows, r.rows);
    }

    #[test]
    fn a_published_rank_belongs_to_the_list_it_was_published_in() {
        let ctx = seeded();
        let r = rank(&ctx, &q("villes", "instagram"), Lang::Fr);
        // Tours, Menton and Méailles were 1st of the grandes, moyennes and petites villes:
        // none of that ranks the « villes ».
        assert_eq!(
            r.map(|r| r.rows.len()).map_err(|e| e.to_string()),
            Err("aucune donnée pour les villes sur Instagram".to_string())
        );
        let r = rank(&ctx, &q("grandes villes", "instagram"), Lang::Fr).expect("ranking");
        let rows: Vec<(u32, &str)> = r
            .rows
            .iter()
            .map(|x| (x.rank, x.account.name.as_str()))
            .collect();
        assert_eq!(rows, [(1, "Tours")]);
    }

    #[test]
    fn the_observatoire_departements_are_reproduced_with_the_gers_streak() {
        let ctx = seeded();
        let r = rank(&ctx, &q("départements", "instagram"), Lang::Fr).expect("ranking");
        assert_eq!(r.month.to_string(), "2021-06");
        let names: Vec<&str> = r.rows.iter().map(|x| x.account.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Gers",
                "Paris",
                "Isère",
                "Haute-Marne",
                "Haute-Savoie",
                "Eure",
                "Ardèche",
                "Ariège",
                "Haute-Vienne",
                "Charente-Maritime"
            ]
        );
        assert_eq!(
            message::position_sentence(&r, &r.rows[0], Lang::Fr),
            "En juin 2021, @gersledepartement est 1er des départements sur Instagram (=), pour le 6e mois consécutif."
        );
    }

    #[test]
    fn position_gives_the_account_history() {
        let ctx = seeded();
        let h = position(&ctx, "@gersledepartement", Some("instagram"), Lang::Fr).expect("history");
        assert_eq!(h.len(), 6);
        let streaks: Vec<u32> = h.iter().map(|p| p.ranking.rows[p.row].streak).collect();
        assert_eq!(streaks, [1, 2, 3, 4, 5, 6]);
        let err = position(&ctx, "@nobody", None, Lang::En).expect_err("unknown");
        assert!(err.to_string().contains("unknown account"), "{err}");
    }

    #[test]
    fn bad_names_and_empty_months_get_clear_errors() {
        let ctx = seeded();
        let err = rank(&ctx, &q("vilels", "twitter"), Lang::En).expect_err("typo");
        assert!(err.to_string().contains("did you mean cities?"), "{err}");
        let err = rank(&ctx, &q("villes", "tiktok"), Lang::En).expect_err("platform");
        assert!(
            err.to_string()
                .contains("valid platforms: twitter, instagram, bluesky, facebook"),
            "{err}"
        );
        let err = rank(&ctx, &q("vilels", "twitter"), Lang::Fr).expect_err("typo");
        assert!(
            err.to_string()
                .starts_with("catégorie inconnue : \"vilels\""),
            "{err}"
        );
        assert!(
            err.to_string().contains("(vouliez-vous dire villes ?)"),
            "{err}"
        );
        let mut query = q("villes", "twitter");
        query.month = Some("2021-06".into());
        let err = rank(&ctx, &query, Lang::Fr).expect_err("no data");
        assert_eq!(
            err.to_string(),
            "pas de données pour les villes sur X (Twitter) en juin 2021 ; mois disponibles : 2014-09"
        );
        query.month = Some("juin".into());
        assert!(rank(&ctx, &query, Lang::Fr)
            .expect_err("bad month")
            .to_string()
            .contains("écrivez AAAA-MM"));
        assert!(rank(&ctx, &query, Lang::En)
            .expect_err("bad month")
            .to_string()
            .contains("write YYYY-MM"));
    }

    #[test]
    fn english_users_get_english_names_and_errors() {
        let ctx = seeded();
        let query = q("departments", "instagram");
        let lang = reply_lang(&ctx.catalog, &query, None);
        assert_eq!(lang, Lang::En);
        let r = rank(&ctx, &query, lang).expect("English category name");
        assert!(
            message::table(&r, 3, lang).starts_with("Ranking of departments on Instagram"),
            "{}",
            message::table(&r, 3, lang)
        );
        assert_eq!(reply_lang(&ctx.catalog, &q("villes", "x"), None), Lang::Fr);
        let mut bad = q("cities", "x");
        bad.metric = Some("folowers".into());
        let lang = reply_lang(&ctx.catalog, &bad, None);
        let err = rank(&ctx, &bad, lang).expect_err("typo");
        assert!(err.to_string().starts_with("unknown metric"), "{err}");
    }
}

//! `stats`: what the store counted, for every entity over a period or one entity day by day.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone, Utc};

use super::{CommandError, CommandResult, Context};
use crate::model::Lang;
use crate::store::{Counts, ALL_POSTS};

/// What `stats` is asked.
#[derive(Debug, Clone, Default)]
pub struct StatsQuery {
    /// One entity, day by day; every entity when absent.
    pub entity: Option<String>,
    /// From this day (UTC), included.
    pub since: Option<NaiveDate>,
    /// To this day (UTC), included.
    pub until: Option<NaiveDate>,
}

/// What `stats` answers.
#[derive(Debug, Clone, PartialEq)]
pub enum StatsReply {
    /// Every entity over the period.
    All {
        /// Every post counted (`posts`), those naming a watched entity, and the critical ones.
        all: Counts,
        /// Each entity with mentions, by name.
        entities: Vec<(String, Counts)>,
        /// Hours whose counters cannot be read (not in the figures).
        corrupt: Vec<i64>,
    },
    /// One entity, day by day.
    Entity {
        /// The entity's name as stored.
        name: String,
        /// Each UTC day with mentions.
        days: Vec<(NaiveDate, Counts)>,
        /// The period's total.
        total: Counts,
        /// Hours whose counters cannot be read (not in the figures).
        corrupt: Vec<i64>,
    },
}

/// A day as the user wrote it (`YYYY-MM-DD`), or a user error.
pub fn parse_day(input: &str, lang: Lang) -> CommandResult<NaiveDate> {
    NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d").map_err(|_| {
        CommandError::user_in(
            lang,
            format!("{input:?} n'est pas un jour : écrivez AAAA-MM-JJ"),
            format!("{input:?} is not a day: write YYYY-MM-DD"),
        )
    })
}

fn hour_of(day: NaiveDate) -> i64 {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .timestamp()
        .div_euclid(3600)
}

/// The counts asked for. Scans the period's hourly counters once (blocking).
pub fn stats(ctx: &Context, q: &StatsQuery, lang: Lang) -> CommandResult<StatsReply> {
    let from = q.since.map_or(i64::MIN / 8, hour_of);
    let to = q.until.map_or(i64::MAX / 8, |d| hour_of(d) + 24);
    let scan = ctx.store.all_counts(from, to)?;
    let mut totals: BTreeMap<String, Counts> = BTreeMap::new();
    for (_, scopes) in &scan.hours {
        for (scope, c) in scopes {
            totals.entry(scope.clone()).or_default().add(*c);
        }
    }
    let Some(name) = &q.entity else {
        return Ok(StatsReply::All {
            all: totals.get(ALL_POSTS).copied().unwrap_or_default(),
            entities: totals
                .into_iter()
                .filter(|(s, c)| s != ALL_POSTS && c.posts > 0)
                .collect(),
            corrupt: scan.corrupt,
        });
    };
    let fold = crate::watch::fold::fold;
    let Some(scope) = totals
        .keys()
        .find(|s| s.as_str() != ALL_POSTS && fold(s) == fold(name))
        .cloned()
    else {
        let known: Vec<&str> = totals
            .keys()
            .map(String::as_str)
            .filter(|s| *s != ALL_POSTS)
            .collect();
        let known = if known.is_empty() {
            "-".to_string()
        } else {
            known.join(", ")
        };
        return Err(CommandError::user_in(
            lang,
            format!("aucune mention de {name:?} n'est enregistrée ; entités mentionnées : {known}"),
            format!("no mention of {name:?} is stored; entities with mentions: {known}"),
        ));
    };
    let mut days: BTreeMap<NaiveDate, Counts> = BTreeMap::new();
    for (hour, scopes) in &scan.hours {
        if let Some(c) = scopes.get(&scope) {
            if let Some(t) = chrono::DateTime::from_timestamp(hour * 3600, 0) {
                days.entry(t.date_naive()).or_default().add(*c);
            }
        }
    }
    Ok(StatsReply::Entity {
        total: totals[&scope],
        name: scope,
        days: days.into_iter().collect(),
        corrupt: scan.corrupt,
    })
}

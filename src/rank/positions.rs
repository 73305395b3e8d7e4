//! Positions: a category's ranking for a month, with moves since the month before and streaks.
//!
//! Pure over a loader that hands it one month's snapshots (the store in the program, a map in
//! tests). Ties share a rank and the next rank skips (1, 2, 2, 4). A month whose snapshots
//! carry no value for the metric but carry published ranks (the Observatoire's lists) is
//! ranked by those.

use std::collections::HashMap;

use super::catalog::{Account, Category, Platform};
use super::score::{self, Input, Metric};
use crate::model::{Month, Snapshot};

/// One month of one platform's snapshots, by account key.
pub type MonthSnapshots = HashMap<String, Snapshot>;

/// How a month was ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// By the metric, computed from measured snapshots.
    Measured,
    /// By ranks someone else published.
    Published,
}

/// A move since the month before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// Up this many places (▲).
    Up(u32),
    /// Down this many places (▼).
    Down(u32),
    /// Same place (=).
    Same,
    /// Not ranked the month before.
    New,
}

impl Move {
    /// `▲2`, `▼1`, `=`, or `new`/`nouveau`.
    pub fn symbol(self, lang: crate::model::Lang) -> String {
        match self {
            Move::Up(n) => format!("▲{n}"),
            Move::Down(n) => format!("▼{n}"),
            Move::Same => "=".to_string(),
            Move::New => match lang {
                crate::model::Lang::Fr => "nouveau".to_string(),
                crate::model::Lang::En => "new".to_string(),
            },
        }
    }
}

/// One ranked account.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Its rank (shared with ties).
    pub rank: u32,
    /// Whether another account shares the rank.
    pub tied: bool,
    /// The account.
    pub account: Account,
    /// Its value for the metric (none when ranked by published ranks).
    pub value: Option<f64>,
    /// Its move since the month before.
    pub movement: Move,
    /// Months in a row at this rank, this one included.
    pub streak: u32,
    /// Where its figures come from.
    pub source: String,
}

/// A category's ranking on a platform for a month.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// The category's id.
    pub category: String,
    /// Its French label.
    pub label_fr: String,
    /// Its English label.
    pub label_en: String,
    /// The platform.
    pub platform: Platform,
    /// The metric asked for.
    pub metric: Metric,
    /// The month.
    pub month: Month,
    /// Measured or published.
    pub basis: Basis,
    /// The rows, best first.
    pub rows: Vec<Row>,
}

/// One month's places: account index in the category → (rank, tied, value).
type Places = HashMap<usize, (u32, bool, Option<f64>)>;

/// How far back a streak is looked for.
const MAX_STREAK_MONTHS: u32 = 120;

/// The places of one month, and how they were decided.
fn ranks(
    category: &Category,
    platform: Platform,
    metric: Metric,
    month: Month,
    current: &MonthSnapshots,
    previous: &MonthSnapshots,
) -> Option<(Basis, Places)> {
    let present: Vec<(usize, &Account, &Snapshot)> = category
        .accounts
        .iter()
        .enumerate()
        .filter_map(|(i, a)| current.get(&a.key(platform)).map(|s| (i, a, s)))
        .collect();
    if present.is_empty() {
        return None;
    }
    let max_followers = present.iter().filter_map(|(_, _, s)| s.followers).max();
    let mut measured: Vec<(usize, f64)> = present
        .iter()
        .filter_map(|(i, a, s)| {
            let input = Input {
                current: s,
                previous: previous.get(&a.key(platform)),
                population: a.population,
            };
            score::value(metric, &input, month, max_followers).map(|v| (*i, v))
        })
        .collect();
    let (basis, mut ordered): (Basis, Vec<(usize, f64)>) = if !measured.is_empty() {
        measured.sort_by(|a, b| b.1.total_cmp(&a.1));
        (Basis::Measured, measured)
    } else {
        // Lower published rank is better: rank by its negation.
        let published: Vec<(usize, f64)> = present
            .iter()
            .filter_map(|(i, _, s)| {
                s.published_ranks
                    .get(&category.id)
                    .map(|&r| (*i, -(r as f64)))
            })
            .collect();
        if published.is_empty() {
            return None;
        }
        (Basis::Published, published)
    };
    ordered.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out = HashMap::with_capacity(ordered.len());
    let mut rank = 0u32;
    for (pos, &(i, v)) in ordered.iter().enumerate() {
        let same_as_prev = pos > 0 && ordered[pos - 1].1 == v;
        rank = match basis {
            Basis::Published => (-v) as u32,
            // Competition ranking: tied values share the rank of the first of them.
            Basis::Measured if same_as_prev => rank,
            Basis::Measured => pos as u32 + 1,
        };
        let tied = same_as_prev || ordered.get(pos + 1).is_some_and(|n| n.1 == v);
        let value = (basis == Basis::Measured).then_some(v);
        out.insert(i, (rank, tied, value));
    }
    Some((basis, out))
}

/// Builds the ranking of `category` on `platform` for `month`. `load` gives a month's
/// snapshots; `None` when the month has no data for the category.
pub fn ranking(
    category: &Category,
    platform: Platform,
    metric: Metric,
    month: Month,
    mut load: impl FnMut(Month) -> anyhow::Result<MonthSnapshots>,
) -> anyhow::Result<Option<Ranking>> {
    let mut cache: HashMap<Month, MonthSnapshots> = HashMap::new();
    let mut get = |m: Month| -> anyhow::Result<MonthSnapshots> {
        if let Some(s) = cache.get(&m) {
            return Ok(s.clone());
        }
        let s = load(m)?;
        cache.insert(m, s.clone());
        Ok(s)
    };
    let mut month_ranks = |m: Month| -> anyhow::Result<Option<(Basis, Places)>> {
        let (current, previous) = (get(m)?, get(m.prev())?);
        Ok(ranks(category, platform, metric, m, &current, &previous))
    };
    let Some((basis, now)) = month_ranks(month)? else {
        return Ok(None);
    };
    let before = month_ranks(month.prev())?
        .map(|(_, r)| r)
        .unwrap_or_default();

    // Streaks: walk back while the account held the same rank.
    let mut streaks: HashMap<usize, u32> = now.keys().map(|&i| (i, 1)).collect();
    let mut open: Vec<usize> = now.keys().copied().collect();
    let mut m = month.prev();
    for _ in 1..MAX_STREAK_MONTHS {
        if open.is_empty() {
            break;
        }
        let Some((_, r)) = month_ranks(m)? else { break };
        open.retain(|i| {
            let same = r.get(i).map(|x| x.0) == now.get(i).map(|x| x.0);
            if same {
                *streaks.entry(*i).or_insert(1) += 1;
            }
            same
        });
        m = m.prev();
    }

    let current = get(month)?;
    let mut rows: Vec<Row> = now
        .iter()
        .map(|(&i, &(rank, tied, value))| {
            let account = category.accounts[i].clone();
            let movement = match before.get(&i) {
                None => Move::New,
                Some(&(r, _, _)) if r > rank => Move::Up(r - rank),
                Some(&(r, _, _)) if r < rank => Move::Down(rank - r),
                Some(_) => Move::Same,
            };
            let source = current
                .get(&account.key(platform))
                .map(|s| s.source.clone())
                .unwrap_or_default();
            Row {
                rank,
                tied,
                account,
                value,
                movement,
                streak: streaks[&i],
                source,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        a.rank
            .cmp(&b.rank)
            .then_with(|| a.account.name.cmp(&b.account.name))
    });
    Ok(Some(Ranking {
        category: category.id.clone(),
        label_fr: category.label_fr.clone(),
        label_en: category.label_en.clone(),
        platform,
        metric,
        month,
        basis,
        rows,
    }))
}

#[cfg(test)]
mod tests;

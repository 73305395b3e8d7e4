//! Scoring: the metrics accounts are ranked by, computed from monthly snapshots. Pure.
//!
//! `posts` (eTerritoire's "most active": posts since the account opened), `followers` (most
//! followed), `growth` (followers gained in the month), `engagement` (interactions per post per
//! follower during the month) and `performance`, an Observatoire-style score (see
//! [`performance`]).

use serde::{Deserialize, Serialize};

use super::catalog::{Platform, UnknownName};
use crate::model::{Lang, Month, Snapshot};

/// What accounts are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Posts since the account opened (eTerritoire's "most active").
    Posts,
    /// Followers (most followed).
    Followers,
    /// Followers gained during the month.
    Growth,
    /// Interactions per post per follower during the month.
    Engagement,
    /// The Observatoire-style percentage score.
    Performance,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 5] = [
        Metric::Posts,
        Metric::Followers,
        Metric::Growth,
        Metric::Engagement,
        Metric::Performance,
    ];

    /// The platform's default: posts on X (as eTerritoire), performance on Instagram (as the
    /// Observatoire), followers elsewhere.
    pub fn default_for(platform: Platform) -> Metric {
        match platform {
            Platform::Twitter => Metric::Posts,
            Platform::Instagram => Metric::Performance,
            Platform::Bluesky | Platform::Facebook => Metric::Followers,
        }
    }

    /// The identifier used in commands.
    pub fn id(self) -> &'static str {
        match self {
            Metric::Posts => "posts",
            Metric::Followers => "followers",
            Metric::Growth => "growth",
            Metric::Engagement => "engagement",
            Metric::Performance => "performance",
        }
    }

    /// Reads a metric as users write it (English or French).
    pub fn parse(input: &str) -> Result<Metric, UnknownName> {
        let key = crate::watch::fold::fold(input.trim());
        let found = match key.as_str() {
            "posts" | "post" | "tweets" | "publications" | "activite" | "actifs" => {
                Some(Metric::Posts)
            }
            "followers" | "abonnes" | "suivis" => Some(Metric::Followers),
            "growth" | "croissance" | "progression" => Some(Metric::Growth),
            "engagement" | "interactions" => Some(Metric::Engagement),
            "performance" | "performances" | "score" => Some(Metric::Performance),
            _ => None,
        };
        found.ok_or_else(|| {
            let ids: Vec<String> = Metric::ALL.iter().map(|m| m.id().to_string()).collect();
            UnknownName::new(
                "metric",
                input,
                ids.clone(),
                ids.iter().map(|i| (i.clone(), i.clone())).collect(),
            )
        })
    }

    /// What the value means, for table headers.
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Metric::Posts, Lang::Fr) => "publications",
            (Metric::Posts, Lang::En) => "posts",
            (Metric::Followers, Lang::Fr) => "abonnés",
            (Metric::Followers, Lang::En) => "followers",
            (Metric::Growth, Lang::Fr) => "nouveaux abonnés",
            (Metric::Growth, Lang::En) => "new followers",
            (Metric::Engagement, Lang::Fr) => "engagement",
            (Metric::Engagement, Lang::En) => "engagement",
            (Metric::Performance, Lang::Fr) => "performance",
            (Metric::Performance, Lang::En) => "performance",
        }
    }

    /// A value as shown to users.
    pub fn format(self, value: f64, lang: Lang) -> String {
        match self {
            Metric::Posts | Metric::Followers => group_thousands(value.round() as i64, lang),
            Metric::Growth => {
                let v = value.round() as i64;
                let s = group_thousands(v.abs(), lang);
                if v >= 0 {
                    format!("+{s}")
                } else {
                    format!("-{s}")
                }
            }
            Metric::Engagement => percent(value * 100.0, 2, lang),
            Metric::Performance => percent(value, 1, lang),
        }
    }
}

fn percent(v: f64, decimals: usize, lang: Lang) -> String {
    let s = format!("{v:.decimals$}");
    match lang {
        Lang::Fr => format!("{} %", s.replace('.', ",")),
        Lang::En => format!("{s}%"),
    }
}

/// `18 900` in French (narrow no-break space), `18,900` in English.
pub fn group_thousands(n: i64, lang: Lang) -> String {
    let digits = n.abs().to_string();
    let sep = match lang {
        Lang::Fr => '\u{202F}',
        Lang::En => ',',
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// What one account brings to a month's scoring.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// This month's snapshot.
    pub current: &'a Snapshot,
    /// Last month's, when there is one.
    pub previous: Option<&'a Snapshot>,
    /// The territory's population, when known.
    pub population: Option<u64>,
}

impl Input<'_> {
    /// Posts during the month: measured, or derived from two totals.
    pub fn posts_month(&self) -> Option<u64> {
        self.current.posts_month.or_else(|| {
            let (now, before) = (self.current.posts_total?, self.previous?.posts_total?);
            now.checked_sub(before)
        })
    }

    /// Interactions per post per follower during the month.
    pub fn engagement(&self) -> Option<f64> {
        let (i, p, f) = (
            self.current.interactions_month?,
            self.posts_month()?,
            self.current.followers?,
        );
        (p > 0 && f > 0).then(|| i as f64 / p as f64 / f as f64)
    }
}

/// The metric's value for one account, where the snapshots allow it. `performance` needs the
/// month's largest follower count in the category (`max_followers`), which it scores against.
pub fn value(
    metric: Metric,
    input: &Input,
    month: Month,
    max_followers: Option<u64>,
) -> Option<f64> {
    let s = input.current;
    match metric {
        Metric::Posts => s.posts_total.map(|v| v as f64),
        Metric::Followers => s.followers.map(|v| v as f64),
        Metric::Growth => Some(s.followers? as f64 - input.previous?.followers? as f64),
        Metric::Engagement => input.engagement(),
        Metric::Performance => performance(input, month, max_followers),
    }
}

/// The Observatoire's method as it published it: five indicators weighted 5 to 1, as a
/// percentage. Each indicator is brought to 0..1:
/// - engagement rate (weight 5): interactions per post per follower, 5% or more scoring 1;
/// - reach (4): followers over population, 10% or more scoring 1;
/// - regularity (3): posts per day over the month, 1 a day scoring 1, twice or half as many 0.5;
/// - followers (2): against the category's largest account that month;
/// - followers/following ratio (1): log10(1 + ratio) / 2, capped at 1 (a ratio of 99 scores 1).
///
/// An indicator the snapshots cannot give (no population, no post count) is left out and the
/// others' weights are renormalised; with none, there is no score.
pub fn performance(input: &Input, month: Month, max_followers: Option<u64>) -> Option<f64> {
    let s = input.current;
    let mut parts: Vec<(f64, f64)> = Vec::with_capacity(5);
    if let Some(e) = input.engagement() {
        parts.push((5.0, (e / 0.05).min(1.0)));
    }
    if let (Some(f), Some(p)) = (s.followers, input.population.filter(|&p| p > 0)) {
        parts.push((4.0, (f as f64 / p as f64 / 0.10).min(1.0)));
    }
    if let Some(p) = input.posts_month() {
        let per_day = p as f64 / month.days() as f64;
        parts.push((
            3.0,
            if per_day <= 0.0 {
                0.0
            } else {
                per_day.min(1.0 / per_day)
            },
        ));
    }
    if let (Some(f), Some(max)) = (s.followers, max_followers.filter(|&m| m > 0)) {
        parts.push((2.0, (f as f64 / max as f64).min(1.0)));
    }
    if let (Some(f), Some(g)) = (s.followers, s.following) {
        let ratio = f as f64 / g.max(1) as f64;
        parts.push((1.0, ((1.0 + ratio).log10() / 2.0).min(1.0)));
    }
    let weights: f64 = parts.iter().map(|(w, _)| w).sum();
    (weights > 0.0).then(|| 100.0 * parts.iter().map(|(w, v)| w * v).sum::<f64>() / weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(followers: u64, following: u64, posts_month: u64, interactions: u64) -> Snapshot {
        Snapshot {
            followers: Some(followers),
            following: Some(following),
            posts_month: Some(posts_month),
            interactions_month: Some(interactions),
            ..Snapshot::default()
        }
    }

    fn june() -> Month {
        "2021-06".parse().expect("month")
    }

    #[test]
    fn a_perfect_account_scores_100() {
        // 5% engagement, 10% reach, one post a day, the largest account, ratio 99.
        let s = snap(10_000, 100, 30, 30 * 500);
        let input = Input {
            current: &s,
            previous: None,
            population: Some(100_000),
        };
        let p = performance(&input, june(), Some(10_000)).expect("score");
        assert!((p - 100.0).abs() < 0.01, "{p}");
    }

    #[test]
    fn missing_indicators_are_left_out_and_weights_renormalised() {
        // No population: reach is left out; the other four are perfect.
        let s = snap(10_000, 100, 30, 30 * 500);
        let input = Input {
            current: &s,
            previous: None,
            population: None,
        };
        assert!((performance(&input, june(), Some(10_000)).expect("score") - 100.0).abs() < 0.01);
        // Regularity alone: 2 posts a day scores half.
        let s = Snapshot {
            posts_month: Some(60),
            ..Snapshot::default()
        };
        let input = Input {
            current: &s,
            previous: None,
            population: None,
        };
        assert!((performance(&input, june(), None).expect("score") - 50.0).abs() < 0.01);
        let empty = Snapshot::default();
        let input = Input {
            current: &empty,
            previous: None,
            population: None,
        };
        assert_eq!(performance(&input, june(), None), None);
    }

    #[test]
    fn growth_and_derived_monthly_posts_need_last_month() {
        let before = Snapshot {
            followers: Some(900),
            posts_total: Some(100),
            ..Snapshot::default()
        };
        let now = Snapshot {
            followers: Some(1_000),
            posts_total: Some(130),
            ..Snapshot::default()
        };
        let input = Input {
            current: &now,
            previous: Some(&before),
            population: None,
        };
        assert_eq!(value(Metric::Growth, &input, june(), None), Some(100.0));
        assert_eq!(input.posts_month(), Some(30));
        let alone = Input {
            previous: None,
            ..input
        };
        assert_eq!(value(Metric::Growth, &alone, june(), None), None);
        assert_eq!(value(Metric::Posts, &alone, june(), None), Some(130.0));
    }

    #[test]
    fn metrics_parse_in_english_and_french() {
        assert_eq!(Metric::parse("abonnés"), Ok(Metric::Followers));
        assert_eq!(Metric::parse("tweets"), Ok(Metric::Posts));
        assert_eq!(
            Metric::parse("performanse")
                .expect_err("typo")
                .closest
                .as_deref(),
            Some("performance")
        );
    }

    #[test]
    fn values_are_formatted_per_language() {
        assert_eq!(Metric::Posts.format(18_900.0, Lang::Fr), "18\u{202F}900");
        assert_eq!(Metric::Posts.format(18_900.0, Lang::En), "18,900");
        assert_eq!(Metric::Growth.format(-1_200.0, Lang::En), "-1,200");
        assert_eq!(Metric::Performance.format(87.24, Lang::Fr), "87,2 %");
        assert_eq!(Metric::Engagement.format(0.0312, Lang::En), "3.12%");
    }
}

//! What users read about rankings, in French first and in English: the ranking table and the
//! monthly position message (« En juin 2021, @gersledepartement est 1er des départements sur
//! Instagram (=), pour le 6e mois consécutif. »). Pure.

use std::fmt::Write;

use super::positions::{Basis, Ranking, Row};
use crate::model::Lang;

/// `1er`, `2e` in French; `1st`, `2nd`, `3rd`, `11th` in English.
pub fn ordinal(n: u32, lang: Lang) -> String {
    match lang {
        Lang::Fr if n == 1 => "1er".to_string(),
        Lang::Fr => format!("{n}e"),
        Lang::En => {
            let suffix = match (n % 10, n % 100) {
                (_, 11..=13) => "th",
                (1, _) => "st",
                (2, _) => "nd",
                (3, _) => "rd",
                _ => "th",
            };
            format!("{n}{suffix}")
        }
    }
}

/// The category's label in `lang`.
fn label(r: &Ranking, lang: Lang) -> &str {
    match lang {
        Lang::Fr => &r.label_fr,
        Lang::En => &r.label_en,
    }
}

/// The ranking as a text table, `top` rows at most.
pub fn table(r: &Ranking, top: usize, lang: Lang) -> String {
    let mut out = String::new();
    let what = match (r.basis, lang) {
        (Basis::Measured, _) => r.metric.label(lang).to_string(),
        (Basis::Published, Lang::Fr) => "positions publiées".to_string(),
        (Basis::Published, Lang::En) => "published positions".to_string(),
    };
    let heading = match lang {
        Lang::Fr => "Classement des",
        Lang::En => "Ranking of",
    };
    let _ = writeln!(
        out,
        "{heading} {} {} {} — {} — {what}",
        label(r, lang),
        match lang {
            Lang::Fr => "sur",
            Lang::En => "on",
        },
        r.platform.display(),
        r.month.name(lang),
    );
    let name_width = r
        .rows
        .iter()
        .take(top)
        .map(|row| row.account.name.chars().count())
        .max()
        .unwrap_or(0);
    let handle_width = r
        .rows
        .iter()
        .take(top)
        .map(|row| {
            row.account
                .handle(r.platform)
                .map_or(0, |h| h.chars().count() + 1)
        })
        .max()
        .unwrap_or(0);
    for row in r.rows.iter().take(top) {
        let rank = if row.tied {
            format!("{}=", row.rank)
        } else {
            row.rank.to_string()
        };
        let handle = row
            .account
            .handle(r.platform)
            .map(|h| format!("@{h}"))
            .unwrap_or_default();
        let value = match r.basis {
            Basis::Measured => format!(
                "{:>12}  ",
                row.value
                    .map(|v| r.metric.format(v, lang))
                    .unwrap_or_default()
            ),
            Basis::Published => String::new(),
        };
        let streak = streak_short(row, lang);
        let line = format!(
            "{rank:>4}  {:<nw$}  {:<hw$}  {value}{:<8} {streak}",
            row.account.name,
            handle,
            row.movement.symbol(lang),
            nw = name_width,
            hw = handle_width,
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if r.rows.len() > top {
        let _ = match lang {
            Lang::Fr => writeln!(out, "… et {} autres", r.rows.len() - top),
            Lang::En => writeln!(out, "… and {} more", r.rows.len() - top),
        };
    }
    let mut sources: Vec<&str> = r
        .rows
        .iter()
        .map(|row| row.source.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    sources.sort_unstable();
    sources.dedup();
    if !sources.is_empty() {
        let _ = match lang {
            Lang::Fr => writeln!(out, "Source : {}", sources.join(" ; ")),
            Lang::En => writeln!(out, "Source: {}", sources.join("; ")),
        };
    }
    out
}

fn streak_short(row: &Row, lang: Lang) -> String {
    if row.streak < 2 {
        return String::new();
    }
    match lang {
        Lang::Fr => format!("{} mois de suite", row.streak),
        Lang::En => format!("{} months running", row.streak),
    }
}

/// The monthly position message for one account of a ranking.
pub fn position_sentence(r: &Ranking, row: &Row, lang: Lang) -> String {
    let who = row.account.label(r.platform);
    let tie = match (row.tied, lang) {
        (false, _) => "",
        (true, Lang::Fr) => " ex aequo",
        (true, Lang::En) => " (tied)",
    };
    let (lead, verb, of, on) = match lang {
        Lang::Fr => ("En", "est", "des", "sur"),
        Lang::En => ("In", "is", "of the", "on"),
    };
    let mut s = format!(
        "{lead} {}, {who} {verb} {}{tie} {of} {} {on} {} ({})",
        r.month.name(lang),
        ordinal(row.rank, lang),
        label(r, lang),
        r.platform.display(),
        row.movement.symbol(lang)
    );
    if row.streak >= 2 {
        match lang {
            Lang::Fr => {
                let _ = write!(
                    s,
                    ", pour le {} mois consécutif",
                    ordinal(row.streak, Lang::Fr)
                );
            }
            Lang::En => {
                let _ = write!(
                    s,
                    ", for the {} month in a row",
                    ordinal(row.streak, Lang::En)
                );
            }
        }
    }
    s.push('.');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Month;
    use crate::rank::catalog::{Account, Platform};
    use crate::rank::positions::Move;
    use crate::rank::score::Metric;

    fn gers_ranking(streak: u32, movement: Move) -> Ranking {
        Ranking {
            category: "departements".into(),
            label_fr: "départements".into(),
            label_en: "departments".into(),
            platform: Platform::Instagram,
            metric: Metric::Performance,
            month: Month::new(2021, 6).expect("month"),
            basis: Basis::Published,
            rows: vec![Row {
                rank: 1,
                tied: false,
                account: Account {
                    name: "Gers".into(),
                    insee: Some("32".into()),
                    population: None,
                    twitter: None,
                    instagram: Some("gersledepartement".into()),
                    bluesky: None,
                    facebook: None,
                },
                value: None,
                movement,
                streak,
                source: "Observatoire".into(),
            }],
        }
    }

    #[test]
    fn the_monthly_message_reads_like_the_observatoire() {
        let r = gers_ranking(4, Move::Same);
        assert_eq!(
            position_sentence(&r, &r.rows[0], Lang::Fr),
            "En juin 2021, @gersledepartement est 1er des départements sur Instagram (=), pour le 4e mois consécutif."
        );
        assert_eq!(
            position_sentence(&r, &r.rows[0], Lang::En),
            "In June 2021, @gersledepartement is 1st of the departments on Instagram (=), for the 4th month in a row."
        );
        let r = gers_ranking(1, Move::Up(2));
        assert_eq!(
            position_sentence(&r, &r.rows[0], Lang::Fr),
            "En juin 2021, @gersledepartement est 1er des départements sur Instagram (▲2)."
        );
    }

    #[test]
    fn ordinals() {
        assert_eq!(
            [1, 2, 3, 4, 11, 12, 13, 21, 22, 101].map(|n| ordinal(n, Lang::En)),
            ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"]
        );
        assert_eq!(
            [1, 2, 10].map(|n| ordinal(n, Lang::Fr)),
            ["1er", "2e", "10e"]
        );
    }

    #[test]
    fn the_table_names_month_platform_and_source() {
        let r = gers_ranking(6, Move::Same);
        let t = table(&r, 10, Lang::Fr);
        assert!(
            t.starts_with(
                "Classement des départements sur Instagram — juin 2021 — positions publiées"
            ),
            "{t}"
        );
        assert!(t.contains("Gers  @gersledepartement"), "{t}");
        assert!(t.contains("6 mois de suite"), "{t}");
        assert!(t.contains("Source : Observatoire"), "{t}");
    }
}

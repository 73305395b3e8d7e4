//! Simulated streams with known bad buzzes, to measure the detector (`veille simulate`,
//! `veille eval-alerts`).
//!
//! A stream has a daily and weekly rhythm (quiet nights, lunch and evening peaks, calmer
//! weekends), a day-to-day variation of each name's volume (Gamma, CV about 20%), about 1
//! post in 5 naming a watched name and 1 in 3 of those critical, in French and English
//! texts assembled from varied parts. Bursts multiply one name's critical posts for a while;
//! neutral surges multiply its neutral mentions (a popular event, not a bad buzz). The
//! ground truth lists both.

use std::io::Write;

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma, Poisson};
use serde::{Deserialize, Serialize};

use super::{stats, AlertEvent, EventKind};
use crate::store::SLOT_SECS;

/// A simulated name and its mentions per day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimEntity {
    /// The watched name, as written in posts.
    pub name: String,
    /// Handles and hashtags posts also use.
    pub aliases: Vec<String>,
    /// Mentions per day on average.
    pub per_day: f64,
}

/// What happened, for the evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// The name.
    pub entity: String,
    /// `burst` (critical posts multiplied) or `surge` (neutral mentions multiplied).
    pub kind: String,
    /// Its start.
    pub start: DateTime<Utc>,
    /// Its end.
    pub end: DateTime<Utc>,
    /// The multiplier.
    pub factor: f64,
    /// Critical posts the name would have had in the span without the burst.
    pub baseline_critical: f64,
}

/// A simulation.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The seed: the same seed writes the same stream.
    pub seed: u64,
    /// Its first day (UTC midnight).
    pub start: DateTime<Utc>,
    /// Days simulated.
    pub days: u32,
    /// The names.
    pub entities: Vec<SimEntity>,
    /// Burst multipliers, cycled.
    pub factors: Vec<f64>,
    /// Burst durations in minutes, cycled.
    pub durations: Vec<u32>,
    /// Days between two bursts of one name, about.
    pub spacing_days: f64,
}

impl Spec {
    /// The default: six demo names over `days` days, bursts of 1.5x to 5x for 30 to
    /// 120 minutes every 2.3 days per name, starting from the third day.
    pub fn demo(seed: u64, days: u32) -> Spec {
        let e = |name: &str, aliases: &[&str], per_day: f64| SimEntity {
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            per_day,
        };
        Spec {
            seed,
            start: Utc
                .with_ymd_and_hms(2026, 3, 2, 0, 0, 0)
                .single()
                .expect("a date"),
            days,
            entities: vec![
                e("SNCF", &["@SNCF", "#SNCF"], 4000.0),
                e("Air France", &["@airfrance", "#AirFrance"], 2000.0),
                e("Paris", &["@Paris"], 1500.0),
                e("Toulouse", &["@Toulouse"], 800.0),
                e("Bordeaux", &["@Bordeaux"], 600.0),
                e("Lyon", &["@VilledeLyon"], 500.0),
            ],
            factors: vec![1.5, 2.0, 3.0, 5.0],
            durations: vec![30, 60, 120],
            spacing_days: 2.3,
        }
    }
}

/// The rhythm of posting at a local time: quiet nights, lunch and evening peaks, calmer
/// weekends (mean about 1 over a week).
pub fn rhythm(local_hour: f64, weekday: u32) -> f64 {
    let day = |h: f64, mu: f64, s: f64| (-(h - mu).powi(2) / (2.0 * s * s)).exp();
    let r = 0.15
        + 0.9 * day(local_hour, 12.5, 2.5)
        + 1.3 * day(local_hour, 20.0, 2.5)
        + 0.6 * day(local_hour, 8.5, 1.5);
    let week = if weekday >= 5 { 0.8 } else { 1.08 };
    r * week * 1.45
}

const FR_CRITICAL: &[&str] = &[
    "{n} encore en retard, une honte",
    "Franchement {n} c'est inadmissible",
    "Service client {n} nul, aucune réponse",
    "Scandale chez {n}, personne ne s'excuse",
    "Je suis furieux contre {n}",
    "{n} : quelle galère, tout est bloqué depuis ce matin",
    "Honteux, {n} annule sans prévenir",
    "Ras-le-bol de {n}, c'est lamentable",
    "{n} se moque de nous, c'est scandaleux",
    "Catastrophe totale avec {n} aujourd'hui",
];
const EN_CRITICAL: &[&str] = &[
    "{n} is a disgrace, cancelled again",
    "Terrible service from {n}",
    "Worst experience ever with {n}",
    "{n} lost my luggage, awful",
    "Shameful behaviour by {n}, unacceptable",
];
const FR_NEUTRAL: &[&str] = &[
    "Ce week-end direction {n} avec les enfants",
    "{n} annonce un nouveau service pour la rentrée",
    "Réunion ce matin avec l'équipe de {n}",
    "Quel est le programme de {n} cet été ?",
    "Merci {n} pour l'accueil",
    "Belle journée à {n}",
    "Je pars avec {n} demain matin",
    "Article intéressant sur {n} dans le journal",
    "{n} recrute, l'annonce est en ligne",
    "Photo du jour : {n} sous le soleil",
];
const EN_NEUTRAL: &[&str] = &[
    "Heading to {n} tomorrow",
    "{n} announced new routes today",
    "Great afternoon with {n}",
    "Reading about {n} this morning",
    "Anyone travelling with {n} this week?",
];
const BACKGROUND: &[&str] = &[
    "Il fait beau aujourd'hui",
    "Quel match hier soir !",
    "Je cherche un bon restaurant pour ce soir",
    "Lundi matin, café obligatoire",
    "Nouvelle recette testée ce midi",
    "Les vacances approchent enfin",
    "Quelqu'un a vu le dernier film ?",
    "Beautiful sunset tonight",
    "Coffee first, then emails",
    "Just finished a great book",
    "Petit footing avant le travail",
    "Le marché du dimanche, un vrai plaisir",
];
const OPENERS: &[&str] = &[
    "",
    "",
    "",
    "Bon, ",
    "Alors ",
    "Sérieusement, ",
    "Bref. ",
    "Hmm ",
];
const CLOSERS: &[&str] = &["", "", "", " !", " 😡", " ...", " #fil", " (encore)"];

/// Writes the stream to `posts` (JSON Lines, in time order) and returns the ground truth.
pub fn generate(spec: &Spec, posts: &mut dyn Write) -> anyhow::Result<Vec<Truth>> {
    let mut rng = SmallRng::seed_from_u64(spec.seed);
    let tz = chrono_tz::Europe::Paris;
    let total_minutes = i64::from(spec.days) * 1440;
    // Bursts: per name, every `spacing_days`, factors and durations cycled, between 8:00
    // and 21:00 local time.
    let mut truth = Vec::new();
    for (j, e) in spec.entities.iter().enumerate() {
        let mut i = 0usize;
        let mut day = 2.0 + j as f64 * 0.37;
        while day + 1.0 < f64::from(spec.days) {
            let hour = rng.gen_range(8.0..21.0);
            let local = spec.start.with_timezone(&tz)
                + Duration::minutes(((day.floor() * 24.0 + hour) * 60.0) as i64);
            let start = local.with_timezone(&Utc);
            let factor = spec.factors[i % spec.factors.len()];
            let minutes = spec.durations[(i / spec.factors.len()) % spec.durations.len()];
            truth.push(Truth {
                entity: e.name.clone(),
                kind: "burst".into(),
                start,
                end: start + Duration::minutes(i64::from(minutes)),
                factor,
                baseline_critical: 0.0,
            });
            // A neutral surge every fourth slot, half a day later.
            if i % 4 == 1 {
                let s = start + Duration::hours(11);
                truth.push(Truth {
                    entity: e.name.clone(),
                    kind: "surge".into(),
                    start: s,
                    end: s + Duration::minutes(90),
                    factor: 3.0,
                    baseline_critical: 0.0,
                });
            }
            i += 1;
            day += spec.spacing_days;
        }
    }
    let gamma = Gamma::new(25.0, 1.0 / 25.0).expect("valid gamma");
    let mut day_level: Vec<f64> = Vec::new();
    let mut seq = 0u64;
    let mut line = Vec::with_capacity(512);
    for minute in 0..total_minutes {
        let t = spec.start + Duration::minutes(minute);
        if minute % 1440 == 0 {
            day_level = spec
                .entities
                .iter()
                .map(|_| gamma.sample(&mut rng))
                .collect();
        }
        let local = t.with_timezone(&tz);
        let r = rhythm(
            local.hour() as f64 + local.minute() as f64 / 60.0,
            local.weekday().num_days_from_monday(),
        );
        let mut mentions_per_minute = 0.0;
        for (j, e) in spec.entities.iter().enumerate() {
            let base = e.per_day / 1440.0 * r * day_level[j];
            mentions_per_minute += e.per_day / 1440.0 * r;
            let (mut crit, mut neutral) = (base / 3.0, base * 2.0 / 3.0);
            for tr in truth
                .iter_mut()
                .filter(|tr| tr.entity == e.name && tr.start <= t && t < tr.end)
            {
                if tr.kind == "burst" {
                    tr.baseline_critical += crit;
                    crit *= tr.factor;
                } else {
                    neutral *= tr.factor;
                }
            }
            for (rate, critical) in [(crit, true), (neutral, false)] {
                let n = poisson(&mut rng, rate);
                for _ in 0..n {
                    seq += 1;
                    let text = mention(&mut rng, e, critical);
                    write_post(&mut line, &mut rng, seq, &text.0, text.1, t)?;
                    posts.write_all(&line)?;
                }
            }
        }
        // Background: four posts for every mention.
        for _ in 0..poisson(&mut rng, 4.0 * mentions_per_minute) {
            seq += 1;
            let text = format!(
                "{}{}{}",
                pick(&mut rng, OPENERS),
                pick(&mut rng, BACKGROUND),
                pick(&mut rng, CLOSERS)
            );
            write_post(&mut line, &mut rng, seq, &text, "fr", t)?;
            posts.write_all(&line)?;
        }
    }
    for tr in &mut truth {
        tr.baseline_critical = (tr.baseline_critical * 100.0).round() / 100.0;
    }
    truth.sort_by_key(|t| t.start);
    Ok(truth)
}

fn poisson(rng: &mut SmallRng, rate: f64) -> u64 {
    if rate <= 0.0 {
        return 0;
    }
    Poisson::new(rate).map_or(0, |p| p.sample(rng) as u64)
}

fn pick<'a>(rng: &mut SmallRng, from: &[&'a str]) -> &'a str {
    from[rng.gen_range(0..from.len())]
}

fn mention(rng: &mut SmallRng, e: &SimEntity, critical: bool) -> (String, &'static str) {
    let english = rng.gen_bool(0.2);
    let template = match (critical, english) {
        (true, false) => pick(rng, FR_CRITICAL),
        (true, true) => pick(rng, EN_CRITICAL),
        (false, false) => pick(rng, FR_NEUTRAL),
        (false, true) => pick(rng, EN_NEUTRAL),
    };
    let name = if !e.aliases.is_empty() && rng.gen_bool(0.3) {
        e.aliases[rng.gen_range(0..e.aliases.len())].as_str()
    } else {
        e.name.as_str()
    };
    let text = format!(
        "{}{}{}",
        if english { "" } else { pick(rng, OPENERS) },
        template.replace("{n}", name),
        if critical { pick(rng, CLOSERS) } else { "" }
    );
    (text, if english { "en" } else { "fr" })
}

fn write_post(
    line: &mut Vec<u8>,
    rng: &mut SmallRng,
    seq: u64,
    text: &str,
    lang: &str,
    minute: DateTime<Utc>,
) -> anyhow::Result<()> {
    let at = minute + Duration::seconds(rng.gen_range(0..60));
    let likes: u64 = if rng.gen_bool(0.05) {
        rng.gen_range(50..5000)
    } else {
        rng.gen_range(0..20)
    };
    line.clear();
    serde_json::to_writer(
        &mut *line,
        &serde_json::json!({
            "platform": "x",
            "id": format!("sim{seq}"),
            "text": text,
            "lang": lang,
            "author": format!("user{}", rng.gen_range(1..50_000)),
            "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "metrics": {"likes": likes, "reposts": likes / 4, "replies": likes / 10, "quotes": 0},
        }),
    )?;
    line.push(b'\n');
    Ok(())
}

/// How the detector did on one simulated stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EvalReport {
    /// Per burst factor: bursts, of which eligible (30 minutes or more, and at least the
    /// minimum of critical posts expected in the burst), detected among eligible, and the
    /// detection delays in minutes.
    pub by_factor: Vec<FactorRow>,
    /// Opens that match no burst (those on neutral surges included).
    pub false_alerts: u64,
    /// Opens in all.
    pub opens: u64,
    /// Opens on neutral surges (a false alert of the worst kind).
    pub on_surges: u64,
    /// Names times days.
    pub entity_days: f64,
}

impl EvalReport {
    /// Adds another stream's figures to these (months of different seeds, pooled).
    pub fn merge(&mut self, other: EvalReport) {
        self.false_alerts += other.false_alerts;
        self.opens += other.opens;
        self.on_surges += other.on_surges;
        self.entity_days += other.entity_days;
        for o in other.by_factor {
            match self.by_factor.iter_mut().find(|r| r.factor == o.factor) {
                Some(r) => {
                    r.bursts += o.bursts;
                    r.eligible += o.eligible;
                    r.detected += o.detected;
                    r.delays.extend(o.delays);
                    r.oracle += o.oracle;
                    r.oracle_delays.extend(o.oracle_delays);
                }
                None => self.by_factor.push(o),
            }
        }
        self.by_factor.sort_by(|a, b| a.factor.total_cmp(&b.factor));
    }
}

/// One burst factor's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FactorRow {
    /// The multiplier.
    pub factor: f64,
    /// Bursts.
    pub bursts: u64,
    /// Eligible bursts.
    pub eligible: u64,
    /// Detected among them.
    pub detected: u64,
    /// Delays from the burst's start to the open, minutes.
    pub delays: Vec<f64>,
    /// The recall an oracle would expect, summed over eligible bursts (see [`oracle_power`]).
    pub oracle: f64,
    /// The sequential oracle's first detections over eligible bursts: (delay in minutes,
    /// probability), pooled (see [`oracle_delays`]).
    pub oracle_delays: Vec<(f64, f64)>,
}

impl FactorRow {
    /// Detected over eligible.
    pub fn recall(&self) -> f64 {
        self.per_eligible(self.detected as f64)
    }

    /// The recall that an oracle would expect on the same bursts (see [`oracle_power`]).
    pub fn oracle_recall(&self) -> f64 {
        self.per_eligible(self.oracle)
    }

    fn per_eligible(&self, x: f64) -> f64 {
        if self.eligible == 0 {
            f64::NAN
        } else {
            x / self.eligible as f64
        }
    }

    /// The median delay, minutes.
    pub fn median_delay(&self) -> f64 {
        weighted_median(self.delays.iter().map(|d| (*d, 1.0)).collect())
    }

    /// The median delay of the sequential oracle over the same bursts, minutes (see
    /// [`oracle_delays`]).
    pub fn oracle_delay(&self) -> f64 {
        weighted_median(self.oracle_delays.clone())
    }
}

/// The probability that an oracle detects a burst of `factor` times `expected` critical
/// posts: it knows the burst's exact start, length and baseline, tests that one window with a
/// Poisson tail, and may raise a false alarm on a window with probability `alpha` at most
/// (one a bucket: `alpha` is the false-alert budget over the buckets it covers). No detector
/// that must find the start and length itself, and estimate the baseline, does better: this
/// bounds what a target of recall can ask at a given false-alert rate.
pub fn oracle_power(expected: f64, factor: f64, alpha: f64) -> f64 {
    stats::nb_sf(
        poisson_threshold(expected, alpha),
        expected * factor,
        POISSON,
    )
}

/// A negative binomial of this shape is a Poisson to well within the figures printed.
const POISSON: f64 = 1e7;

/// The smallest count whose Poisson tail under `expected` is below `alpha`: the oracle's
/// test threshold.
fn poisson_threshold(expected: f64, alpha: f64) -> u64 {
    stats::nb_quantile(1.0 - alpha, expected, POISSON) + 1
}

/// When a sequential oracle detects a burst of `factor` times `expected` critical posts over
/// `minutes`: it knows the burst's start and baseline, and every `step` minutes from the
/// start until `grace` after the end tests the window from the start to then with a
/// Poisson tail at `alpha` and the `min_critical` floor, as the detector does with windows
/// it must find. Returns `(delay in minutes, probability that the first detection comes
/// then)` for each step: the exact first-passage law of the counts (a walk absorbed at the
/// thresholds). Its median, pooled over bursts, bounds the delay a detector can reach.
pub fn oracle_delays(
    expected: f64,
    minutes: f64,
    factor: f64,
    alpha: f64,
    min_critical: u32,
    (step, grace): (f64, f64),
) -> Vec<(f64, f64)> {
    if expected <= 0.0 || minutes <= 0.0 || step <= 0.0 {
        return Vec::new();
    }
    let per_step = expected * step / minutes;
    let steps = ((minutes + grace) / step).floor() as usize;
    let threshold = |k: usize| {
        poisson_threshold(per_step * k as f64, alpha).max(u64::from(min_critical)) as usize
    };
    // Probability of each count below the current threshold, not yet detected.
    let mut alive = vec![1.0f64];
    let mut undetected = 1.0;
    let mut out = Vec::with_capacity(steps);
    for k in 1..=steps {
        let rate = if k as f64 * step <= minutes {
            factor * per_step
        } else {
            per_step
        };
        let t = threshold(k);
        // Poisson increments, up to what can still matter below the threshold.
        let mut inc = Vec::with_capacity(t + 1);
        let mut p = (-rate).exp();
        for j in 0..=t {
            inc.push(p);
            p *= rate / (j + 1) as f64;
        }
        let mut next = vec![0.0f64; t];
        for (i, &a) in alive.iter().enumerate().filter(|(_, a)| **a > 0.0) {
            for (j, &q) in inc.iter().enumerate().take(t.saturating_sub(i)) {
                next[i + j] += a * q;
            }
        }
        let after: f64 = next.iter().sum();
        out.push((k as f64 * step, (undetected - after).max(0.0)));
        (alive, undetected) = (next, after);
    }
    out
}

/// The median of a law of `(value, weight)`: the middle value, or the mean of the two
/// values either side when the weight splits exactly between them; NaN when empty.
pub fn weighted_median(mut law: Vec<(f64, f64)>) -> f64 {
    law.retain(|x| x.1 > 0.0);
    law.sort_by(|a, b| a.0.total_cmp(&b.0));
    let half = law.iter().map(|x| x.1).sum::<f64>() / 2.0;
    let mut acc = 0.0;
    for (i, &(v, w)) in law.iter().enumerate() {
        acc += w;
        if (acc - half).abs() <= 1e-9 * half {
            return law.get(i + 1).map_or(v, |next| (v + next.0) / 2.0);
        }
        if acc > half {
            return v;
        }
    }
    f64::NAN
}

/// Matches alert opens and « reprises » with the truth. One counts for a burst when it comes
/// between the burst's start and its end plus `grace` (an alert still open from before does
/// not count: the team heard nothing new). `alpha` is the oracle's false-alert probability
/// per window (see [`oracle_power`]).
pub fn evaluate(
    truth: &[Truth],
    events: &[AlertEvent],
    min_critical: u32,
    grace: Duration,
    entity_days: f64,
    alpha: f64,
) -> EvalReport {
    let opens: Vec<&AlertEvent> = events
        .iter()
        .filter(|e| matches!(e.event, EventKind::Open | EventKind::Resume))
        .collect();
    let mut used = vec![false; opens.len()];
    let mut rows: Vec<FactorRow> = Vec::new();
    let mut report = EvalReport {
        opens: opens.len() as u64,
        entity_days,
        ..Default::default()
    };
    for tr in truth {
        let hit = opens
            .iter()
            .enumerate()
            .find(|(_, o)| o.entity == tr.entity && o.at >= tr.start && o.at <= tr.end + grace);
        if tr.kind == "surge" {
            // Not marked used: an alert on a neutral surge is a false alert.
            report.on_surges += hit.is_some() as u64;
            continue;
        }
        let row = match rows.iter_mut().position(|r| r.factor == tr.factor) {
            Some(i) => &mut rows[i],
            None => {
                rows.push(FactorRow {
                    factor: tr.factor,
                    ..Default::default()
                });
                rows.last_mut().expect("just pushed")
            }
        };
        row.bursts += 1;
        let minutes = (tr.end - tr.start).num_minutes();
        let eligible = minutes >= 30 && tr.baseline_critical * tr.factor >= f64::from(min_critical);
        if let Some((i, o)) = hit {
            used[i] = true;
            if eligible {
                row.detected += 1;
                row.delays
                    .push((o.at - tr.start).num_seconds() as f64 / 60.0);
            }
        }
        row.eligible += eligible as u64;
        if eligible {
            row.oracle += oracle_power(tr.baseline_critical, tr.factor, alpha);
            row.oracle_delays.extend(oracle_delays(
                tr.baseline_critical,
                minutes as f64,
                tr.factor,
                alpha,
                min_critical,
                (SLOT_SECS as f64 / 60.0, grace.num_minutes() as f64),
            ));
        }
    }
    rows.sort_by(|a, b| a.factor.total_cmp(&b.factor));
    report.false_alerts = (0..opens.len()).filter(|i| !used[*i]).count() as u64;
    report.by_factor = rows;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    // One false alert per 30 days with a test every 15 minutes.
    const ALPHA: f64 = 15.0 / (30.0 * 24.0 * 60.0);

    #[test]
    fn the_oracle_bound_is_the_power_of_a_poisson_test_at_the_false_alert_budget() {
        // 4.5 critical posts expected in 30 minutes: the test needs 14 to keep its false
        // alerts under budget, which a 3x burst (13.5 expected) reaches about half the time.
        let p = oracle_power(4.5, 3.0, ALPHA);
        assert!((0.44..0.52).contains(&p), "{p}");
        // A big name's burst is always seen, and no burst at all at most at the budget.
        assert!(oracle_power(40.0, 3.0, ALPHA) > 0.999);
        assert!(oracle_power(4.5, 1.0, ALPHA) <= ALPHA);
        assert!(oracle_power(4.5, 5.0, ALPHA) > p);
    }

    #[test]
    fn the_sequential_oracle_sees_a_big_burst_at_once_and_a_small_one_late() {
        let law = |expected, factor| oracle_delays(expected, 30.0, factor, ALPHA, 10, (5.0, 30.0));
        // 40 critical posts expected in 30 minutes, 120 in the burst: 20 in its first five
        // minutes, above the floor and the test's threshold.
        let big = law(40.0, 3.0);
        assert_eq!(big.len(), 12);
        assert!(big[0].1 > 0.5, "{big:?}");
        assert_eq!(weighted_median(big.clone()), 5.0);
        // 4.5 expected, 13.5 in the burst: the floor of 10 alone takes most of the burst.
        let small = law(4.5, 3.0);
        let seen: f64 = small.iter().map(|x| x.1).sum();
        assert!(seen > 0.3 && seen < 1.0, "{seen}");
        assert!(weighted_median(small) >= 20.0);
        // No burst: detections stay near the budget, one per step at most.
        let none: f64 = law(4.5, 1.0).iter().map(|x| x.1).sum();
        assert!(none <= 12.0 * ALPHA, "{none}");
    }

    #[test]
    fn a_weighted_median_splits_evenly_like_a_median() {
        let ones = |v: &[f64]| v.iter().map(|x| (*x, 1.0)).collect::<Vec<_>>();
        assert_eq!(weighted_median(ones(&[22.0, 6.0, 29.0, 9.0])), 15.5);
        assert_eq!(weighted_median(ones(&[3.0, 1.0, 2.0])), 2.0);
        assert_eq!(
            weighted_median(vec![(5.0, 0.7), (10.0, 0.2), (15.0, 0.1)]),
            5.0
        );
        assert!(weighted_median(Vec::new()).is_nan());
    }
}

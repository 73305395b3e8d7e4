//! The baseline of one watched name: how many mentions and critical posts to expect in any
//! stretch of time, fitted on its own hourly history.
//!
//! Method (documented in ARCHITECTURE.md):
//! 1. **Rhythm.** A factor per hour of the week (168, local time, mean 1; hour of day times
//!    day of week until weeks of data give each hour of the week its own): the rhythm of
//!    every post the sources read (the `*` counters, thousands a day, that no single bad buzz
//!    moves), blended with the name's own rhythm in proportion to its volume
//!    (`N / (N + 5000)` mentions).
//! 2. **Robust level.** The median over days of the name's daily rate (count over the day's
//!    expected share of the rhythm) sets a cap for each hour (`λ + 4√λ + 5` at that hour's
//!    expected `λ`); the level is the sum of capped counts over the sum of rhythm factors.
//!    A past bad buzz is one day among 35 for the median and is capped hour by hour, so it
//!    barely raises the baseline.
//! 3. **Prior.** A day of pseudo-history at the field figure (1 mention in 3 critical) of
//!    the name's own mention level: the critical rate is `(s0·Lm·24 + Σc) / (24 + E)`, a
//!    Gamma posterior whose shape gives the negative-binomial predictive of a window. Until
//!    a name has a day of its own mentions, its usual share is the field figure, and its
//!    rhythm is that of every post read (step 1 with `N` near 0): a new name's first
//!    night is expected to be quiet, and its first hours, maybe its crisis, are not usual.
//! 4. **Overdispersion.** The shape is also capped by the day-to-day dispersion of the
//!    name's critical counts (method of moments, within 2 to 200; 10 until a week of
//!    history), so a name whose criticism varies a lot from day to day needs more to alert,
//!    and the window's own neutral mentions weigh in the expectation (see the detector).
//!
//! Only hours the sources covered (any post read) count: a day Veille was stopped is not a
//! quiet day.

/// Hours of the week.
pub const WEEK_HOURS: usize = 168;

/// What the fit reads of one covered hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourObs {
    /// Hours since the epoch.
    pub hour: i64,
    /// Its hour of the week, local time (Monday 0:00 is 0).
    pub how: usize,
    /// Mentions of the name.
    pub mentions: u64,
    /// Of those, critical.
    pub critical: u64,
}

/// The field figures and weights of the fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitParams {
    /// The share of mentions that are critical with no history (1 in 3, seed 004).
    pub prior_share: f64,
    /// The prior's weight, in hours of history.
    pub prior_hours: f64,
    /// The largest negative-binomial shape (the smallest overdispersion) allowed.
    pub max_shape: f64,
    /// The shape before a week of history measures the dispersion.
    pub default_shape: f64,
}

impl Default for FitParams {
    fn default() -> Self {
        FitParams {
            prior_share: 1.0 / 3.0,
            prior_hours: 24.0,
            max_shape: 200.0,
            default_shape: 10.0,
        }
    }
}

/// A fitted baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// Rhythm factors by hour of the week, mean 1.
    pub profile: Vec<f64>,
    /// Mentions per hour at factor 1.
    pub mentions_rate: f64,
    /// Critical posts per hour at factor 1.
    pub critical_rate: f64,
    /// The usual critical share.
    pub share: f64,
    /// The negative-binomial shape of a window's critical count.
    pub shape: f64,
    /// History read, in rhythm-weighted hours (0 for a new name).
    pub exposure: f64,
    /// Days of history seen at each hour of the day (UTC), up to 7: how well the rhythm of
    /// that hour is known.
    pub seen_days: [u8; 24],
    /// Less than a day of the name's own mentions: its share is the field's figure.
    pub young: bool,
}

impl Baseline {
    /// How much the baseline trusts its history over the window's own mentions: `E/(E+prior)`.
    pub fn weight(&self, p: &FitParams) -> f64 {
        self.exposure / (self.exposure + p.prior_hours)
    }
}

/// The rhythm of a stream: a factor per hour of the week, mean 1. It is the product of an
/// hour-of-day factor (pooled over every day) and a day-of-week factor, blended with the
/// hour of the week's own mean as weeks of data come in (`n/(n+4)` for `n` observations of
/// that hour of the week), smoothed with the neighbouring hours; 1 where there is no data.
pub fn profile(obs: impl IntoIterator<Item = (usize, f64)>) -> Vec<f64> {
    let obs: Vec<(usize, f64)> = obs.into_iter().map(|(h, v)| (h % WEEK_HOURS, v)).collect();
    let (mut sum, mut n) = (vec![0.0; WEEK_HOURS], vec![0.0; WEEK_HOURS]);
    for &(how, v) in &obs {
        sum[how] += v;
        n[how] += 1.0;
    }
    let total: f64 = sum.iter().sum();
    let hours: f64 = n.iter().sum();
    if total <= 0.0 || hours <= 0.0 {
        return vec![1.0; WEEK_HOURS];
    }
    let mean = total / hours;
    // Hour of day and day of week fitted in turn, each against what the other expects: a
    // day seen only at night is not taken for a quiet day.
    let (mut hod, mut dow) = ([1.0f64; 24], [1.0f64; 7]);
    for _ in 0..3 {
        let (mut s, mut e) = ([0.0; 24], [0.0; 24]);
        for &(how, v) in &obs {
            s[how % 24] += v;
            e[how % 24] += mean * dow[how / 24];
        }
        for h in 0..24 {
            hod[h] = if e[h] > 0.0 { s[h] / e[h] } else { 1.0 };
        }
        let (mut s, mut e) = ([0.0; 7], [0.0; 7]);
        for &(how, v) in &obs {
            s[how / 24] += v;
            e[how / 24] += mean * hod[how % 24];
        }
        for d in 0..7 {
            dow[d] = if e[d] > 0.0 { s[d] / e[d] } else { 1.0 };
        }
    }
    let raw: Vec<f64> = (0..WEEK_HOURS)
        .map(|h| {
            let pooled = hod[h % 24] * dow[h / 24];
            if n[h] > 0.0 {
                let v = n[h] / (n[h] + 4.0);
                v * sum[h] / n[h] / mean + (1.0 - v) * pooled
            } else {
                pooled
            }
        })
        .collect();
    let mut out: Vec<f64> = (0..WEEK_HOURS)
        .map(|h| {
            let at = |d: isize| raw[(h as isize + d).rem_euclid(WEEK_HOURS as isize) as usize];
            0.25 * at(-1) + 0.5 * at(0) + 0.25 * at(1)
        })
        .collect();
    normalise(&mut out);
    out
}

fn normalise(p: &mut [f64]) {
    let mean = p.iter().sum::<f64>() / p.len() as f64;
    if mean > 0.0 {
        for v in p.iter_mut() {
            // A floor: no hour of the week is ever expected to be silent.
            *v = (*v / mean).max(0.05);
        }
    }
}

/// The cap of an hour whose expected count is `lambda`: far above Poisson noise.
fn cap(lambda: f64) -> f64 {
    lambda + 4.0 * lambda.sqrt() + 5.0
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Each hour with whether it starts a new day (UTC) of `obs`, which is oldest first.
fn with_days(obs: &[HourObs]) -> impl Iterator<Item = (&HourObs, bool)> {
    let mut day = None;
    obs.iter().map(move |o| {
        let d = o.hour.div_euclid(24);
        let new = day != Some(d);
        day = Some(d);
        (o, new)
    })
}

/// Fits a name's baseline on its covered hours (oldest first) and the global rhythm.
pub fn fit(obs: &[HourObs], global: &[f64], p: &FitParams) -> Baseline {
    let factor = |o: &HourObs, prof: &[f64]| prof.get(o.how).copied().unwrap_or(1.0);
    // Daily medians of the rates, on the global rhythm.
    let mut days: Vec<(f64, f64, f64)> = Vec::new();
    for (o, new_day) in with_days(obs) {
        if new_day {
            days.push(Default::default());
        }
        let d = days.last_mut().expect("a day");
        d.0 += factor(o, global);
        d.1 += o.mentions as f64;
        d.2 += o.critical as f64;
    }
    let full: Vec<&(f64, f64, f64)> = days.iter().filter(|d| d.0 >= 4.0).collect();
    let med_m = median(full.iter().map(|d| d.1 / d.0).collect());
    let med_c = median(full.iter().map(|d| d.2 / d.0).collect());
    let capped = |o: &HourObs| -> (f64, f64) {
        let f = factor(o, global);
        let m = match med_m {
            Some(r) => (o.mentions as f64).min(cap(r * f)),
            None => o.mentions as f64,
        };
        let c = match med_c {
            Some(r) => (o.critical as f64).min(cap(r * f)),
            None => o.critical as f64,
        };
        (m, c.min(m))
    };
    // The name's own rhythm, blended in with its volume.
    let capped: Vec<(f64, f64)> = obs.iter().map(capped).collect();
    let own = profile(obs.iter().zip(&capped).map(|(o, c)| (o.how, c.0)));
    let n: f64 = capped.iter().map(|c| c.0).sum();
    let w = n / (n + 5000.0);
    let mut prof: Vec<f64> = (0..WEEK_HOURS)
        .map(|h| w * own[h] + (1.0 - w) * global.get(h).copied().unwrap_or(1.0))
        .collect();
    normalise(&mut prof);
    let (mut exposure, mut sum_m, mut sum_c) = (0.0, 0.0, 0.0);
    for (o, &(m, c)) in obs.iter().zip(&capped) {
        exposure += factor(o, &prof);
        sum_m += m;
        sum_c += c;
    }
    let mentions_rate = if exposure > 0.0 {
        sum_m / exposure
    } else {
        0.0
    };
    let a0 = p.prior_share * mentions_rate * p.prior_hours;
    let critical_rate = (a0 + sum_c) / (p.prior_hours + exposure);
    // Until a name has a day of its own history, its share is the field figure: a new
    // name's first hours may be its crisis, which is not its usual.
    let first = obs.iter().find(|o| o.mentions > 0).map(|o| o.hour);
    let young = match (first, obs.last()) {
        (Some(first), Some(last)) => last.hour - first < 23,
        _ => true,
    };
    let share = if young {
        p.prior_share
    } else {
        (p.prior_share * 30.0 + sum_c) / (30.0 + sum_m)
    };
    // Day-to-day overdispersion of the capped critical counts: var = μ + μ²/r.
    let mut per_day: Vec<(f64, f64)> = Vec::new();
    for ((o, new_day), c) in with_days(obs).zip(&capped) {
        if new_day {
            per_day.push(Default::default());
        }
        let d = per_day.last_mut().expect("a day");
        d.0 += critical_rate * factor(o, &prof);
        d.1 += c.1;
    }
    let (mut num, mut den) = (0.0, 0.0);
    for (mu, c) in per_day.iter().filter(|d| d.0 > 0.0) {
        num += (c - mu).powi(2) - mu;
        den += mu * mu;
    }
    // Until a week tells, a prudent overdispersion (a day's level known to about 30%).
    let dispersion_shape = if per_day.len() < 7 {
        p.default_shape
    } else if num > 0.0 && den > 0.0 {
        (den / num).clamp(2.0, p.max_shape)
    } else {
        p.max_shape
    };
    let shape = (a0 + sum_c).max(1.0).min(dispersion_shape).min(p.max_shape);
    let mut seen_days = [0u8; 24];
    for o in obs {
        let h = o.hour.rem_euclid(24) as usize;
        seen_days[h] = seen_days[h].saturating_add(1).min(7);
    }
    Baseline {
        young,
        seen_days,
        profile: prof,
        mentions_rate,
        critical_rate,
        share,
        shape,
        exposure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(days: i64, mentions: u64, critical: u64) -> Vec<HourObs> {
        (0..days * 24)
            .map(|h| HourObs {
                hour: h,
                how: (h % 168) as usize,
                mentions,
                critical,
            })
            .collect()
    }

    #[test]
    fn a_flat_history_gives_its_rates() {
        let b = fit(&flat(28, 12, 4), &[1.0; WEEK_HOURS], &FitParams::default());
        assert!((b.mentions_rate - 12.0).abs() < 0.01, "{b:?}");
        assert!((b.critical_rate - 4.0).abs() < 0.1, "{b:?}");
        assert!((b.share - 1.0 / 3.0).abs() < 0.01);
        assert!(b.weight(&FitParams::default()) > 0.95);
    }

    #[test]
    fn a_past_burst_barely_moves_the_baseline() {
        let mut obs = flat(28, 12, 4);
        for o in obs.iter_mut().skip(200).take(6) {
            o.mentions = 200;
            o.critical = 180;
        }
        let b = fit(&obs, &[1.0; WEEK_HOURS], &FitParams::default());
        assert!(b.critical_rate < 4.3, "{b:?}");
    }

    #[test]
    fn no_history_is_the_prior_and_the_rhythm_is_learnt() {
        let b = fit(&[], &[1.0; WEEK_HOURS], &FitParams::default());
        assert_eq!((b.critical_rate, b.exposure), (0.0, 0.0));
        assert!((b.share - 1.0 / 3.0).abs() < 1e-9);
        // Busy afternoons, quiet nights.
        let obs: Vec<(usize, f64)> = (0..168)
            .map(|h| (h, if h % 24 >= 12 { 30.0 } else { 10.0 }))
            .collect();
        let p = profile(obs);
        assert!(p[14] > 1.3 && p[3] < 0.7, "{:?}", &p[..24]);
    }
}

//! The detector: follows each watched name's slot counts as ingest commits them, runs a
//! change-point statistic per name against its baseline, and runs the alert lifecycle.
//!
//! **Test.** Page's CUSUM per name on its critical posts, slot by slot (5 minutes, the slot
//! under way included), against the rhythm-aware baseline ([`super::baseline`]): each slot
//! adds the log-likelihood ratio of its critical count between criticism multiplied by 2.5
//! and the expected (a negative binomial), and the statistic never falls below 0. A slot's
//! expectation is that of the last 3 hours given their neutral mentions (a busy day raises
//! it, a bad buzz does not add neutral mentions), apportioned by the rhythm. The statistic
//! needs no window: it finds the burst's start itself (the last time it was 0), so a burst
//! starting between two boundaries is seen as early as one starting on one. An alert opens
//! when the statistic reaches the sensitivity's threshold (about the log of the mean time
//! between false alerts, in slots) and its run since that start has
//! - at least `min_critical` critical posts (10 by default),
//! - at least `min_ratio` times the expected,
//! - a larger critical share than the name's usual share.
//!
//! Presets: low threshold 13.6, ratio 2.5; medium 9, ratio 2; high 6.7, ratio 1.5; 2.3 more
//! for a name younger than a day (and the p-value an escalation's bucket needs: 1e-6, 1e-4,
//! 1e-3). The expectation is conditioned on the neutral mentions: the baseline gives a Gamma prior for the critical rate (mean from
//! the rhythm and level, shape from the name's dispersion), and `n` neutral mentions,
//! Poisson of rate `λ·(1−s)/s` (`s` the usual share), update it to
//! `Gamma(a + n, b + (1−s)/s)`; the critical count's predictive is the negative binomial of
//! that posterior. A new name with no history has a flat prior: its test is one of the
//! critical share against the field's 1 in 3 (known to about 30 %) until a day of its own
//! counts takes over.
//!
//! **Lifecycle.** Open once. Escalate when the excess of critical posts (above the
//! expected) in the last bucket is twice the level of the open or the last escalation, and
//! significant; that level is the most seen in the bucket after the event, so a burst
//! filling the window in does not escalate, nor does a busier hour. Close after
//! `calm_minutes` of completed buckets whose critical count is near the baseline (tail above
//! 0.01, or at most 1.5× expected) *and* whose critical share, pooled over those buckets and
//! tempered by 5 mentions at the usual share, is at most 1.5× the usual (or 10 points above):
//! a fall in volume alone (the night) does not close a crisis. After a close, no new alert
//! for `cooldown_minutes` unless the bucket doubles the last level, and the statistic starts
//! again from the close. Alerting again within `reopen_hours` of a close continues the same
//! alert (same id, a « reprise » event) instead of opening a new one. The state of
//! each name and its undelivered events are written to the store in one batch before they
//! are handed on: a restart repeats nothing, and re-reads the stored slots to go on
//! counting calm buckets of an open alert and to rebuild the statistic (a day back at most).
//!
//! Time is the stream's: the latest minute committed (the posts' own timestamps in a replay),
//! or the wall clock on ticks when live.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::baseline::{self, Baseline, FitParams, HourObs};
use super::stats::{nb_quantile, nb_sf};
use super::{AlertEvent, AlertPost, BucketPoint, EventKind, Outgoing};
use crate::config::{AlertOverride, Config};
use crate::ingest::Committed;
use crate::model::Label;
use crate::model::Sensitivity;
use crate::store::{Counts, SlotCounts, Store, ALL_POSTS, SLOT_SECS};

/// The shift the change-point statistic is tuned for: criticism multiplied by 2.5 (between
/// the 2x and 3x bursts a team most needs to hear of early).
const SHIFT: f64 = 2.5;
/// The medium sensitivity's change-point threshold; low and high are `ln 100` above and
/// `ln 10` below (a hundred times fewer, ten times more false alerts), tuned on simulated
/// months of seeds 11 to 20 (see BENCHMARKS.md).
const THRESHOLD: f64 = 9.0;
/// What a name younger than a day adds to the threshold (ten times fewer false alerts): its
/// usual share is the field's figure, not its own.
const YOUNG_THRESHOLD: f64 = 2.3;
/// Slots the statistic reads back at most when it starts (after a restart or a quiet spell).
const FOLD_SLOTS: i64 = 24 * 3600 / SLOT_SECS;
/// Pseudo-mentions at the usual share that temper a bucket's critical share when the calm
/// of an alert is judged: a handful of posts at night says little either way.
const CALM_SHARE_PRIOR: f64 = 5.0;
/// The hours of neutral mentions that set a slot's expectation for the change-point
/// statistic: a busy day raises it, and a bad buzz does not add neutral mentions.
const CONTEXT_SECS: i64 = 3 * 3600;
/// The same in slots.
const CONTEXT_SLOTS: i64 = CONTEXT_SECS / SLOT_SECS;
/// Slots without a post that still count as read (an hour): a longer silence is a gap.
const GAP_SLOTS: i64 = 12;
/// Hours of slots kept in memory: the chart's 48 hours and the longest window.
const RECENT_HOURS: i64 = 50;
/// How far behind the wall clock a stream may be for clock ticks to move it.
const LIVE_LAG: i64 = 6 * 3600;
/// Buckets a chart shows: 48 hours of 15-minute buckets by default.
const CHART_HOURS: i64 = 48;

/// The detector's settings, from `[alerts]` and the watched names.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Seconds per bucket (a multiple of the store's slots).
    pub bucket_secs: i64,
    /// Hours of history the baseline reads.
    pub history_hours: i64,
    /// The default sensitivity.
    pub sensitivity: Sensitivity,
    /// Critical posts an alert needs at least.
    pub min_critical: u32,
    /// No new alert this long after a close, unless it doubles.
    pub cooldown_secs: i64,
    /// Completed calm buckets that close an alert.
    pub calm_buckets: u32,
    /// An alert this soon after a close continues the closed one.
    pub reopen_secs: i64,
    /// Per-name overrides.
    pub overrides: BTreeMap<String, AlertOverride>,
    /// The rhythm's time zone.
    pub tz: chrono_tz::Tz,
    /// The baseline's prior and limits.
    pub fit: FitParams,
}

/// What one name's alerts require.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// The change-point statistic's threshold (a log-likelihood ratio).
    pub threshold: f64,
    /// The p-value threshold of an escalation's bucket.
    pub alpha: f64,
    /// The smallest ratio to the baseline.
    pub min_ratio: f64,
    /// Critical posts at least.
    pub min_critical: u32,
}

/// What a sensitivity asks of an alert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    /// The change-point threshold: about `ln` of the mean time between false alerts, in
    /// 5-minute slots, per name.
    pub threshold: f64,
    /// The p-value threshold of an escalation's bucket.
    pub alpha: f64,
    /// The smallest ratio of critical posts to the expected.
    pub min_ratio: f64,
}

impl Sensitivity {
    /// The preset: a hundred times fewer false alerts per step from high to medium to low.
    pub fn preset(self) -> Preset {
        let (d, alpha, min_ratio) = match self {
            Sensitivity::Low => (100f64.ln(), 1e-6, 2.5),
            Sensitivity::Medium => (0.0, 1e-4, 2.0),
            Sensitivity::High => (-(10f64.ln()), 1e-3, 1.5),
        };
        Preset {
            threshold: THRESHOLD + d,
            alpha,
            min_ratio,
        }
    }
}

impl Settings {
    /// From the configuration.
    pub fn from_config(config: &Config) -> anyhow::Result<Settings> {
        let a = &config.alerts;
        let tz = config.collect.timezone.parse().map_err(|_| {
            anyhow::anyhow!(
                "collect.timezone {:?} is not an IANA time zone",
                config.collect.timezone
            )
        })?;
        let bucket_secs = i64::from(a.bucket_minutes) * 60;
        Ok(Settings {
            bucket_secs,
            history_hours: i64::from(a.history_days) * 24,
            sensitivity: a.sensitivity,
            min_critical: a.min_critical,
            cooldown_secs: i64::from(a.cooldown_minutes) * 60,
            calm_buckets: ((i64::from(a.calm_minutes) * 60 + bucket_secs - 1) / bucket_secs).max(1)
                as u32,
            reopen_secs: i64::from(a.reopen_hours) * 3600,
            overrides: a.entities.clone(),
            tz,
            fit: FitParams::default(),
        })
    }

    /// Whether an opening, resuming or escalating event's figures also pass
    /// `sensitivity`'s thresholds: a server asking for fewer alerts than the detector runs at
    /// filters with it.
    pub fn passes(&self, sensitivity: Sensitivity, e: &AlertEvent) -> bool {
        let p = sensitivity.preset();
        let strong = match e.score {
            Some(score) => score >= p.threshold,
            None => e.p_value < p.alpha,
        };
        strong && e.ratio >= p.min_ratio
    }

    /// The rules of one name: its overrides over the defaults.
    pub fn rules(&self, entity: &str) -> Rules {
        let o = self.overrides.get(entity);
        let sensitivity = o.and_then(|o| o.sensitivity).unwrap_or(self.sensitivity);
        let p = sensitivity.preset();
        Rules {
            threshold: p.threshold,
            alpha: p.alpha,
            min_ratio: p.min_ratio,
            min_critical: o.and_then(|o| o.min_critical).unwrap_or(self.min_critical),
        }
    }
}

/// The log-likelihood ratio of `x` critical posts in a slot between criticism multiplied by
/// `shift` and the baseline's negative binomial (mean `mean`, shape `r`): the step of Page's
/// CUSUM on negative-binomial counts.
pub fn nb_llr(x: u64, mean: f64, r: f64, shift: f64) -> f64 {
    let (m, r) = (mean.max(1e-3), r.max(1e-3));
    x as f64 * (shift * (m + r) / (shift * m + r)).ln() + r * ((r + m) / (r + shift * m)).ln()
}

/// Page's CUSUM of one name over completed slots (in memory: it is read again from the
/// stored slots after a restart).
#[derive(Debug, Clone, PartialEq)]
struct Cusum {
    /// The last completed slot folded in.
    slot: i64,
    /// The statistic after it.
    score: f64,
    /// The first slot of the current run (the estimated change point).
    start: i64,
    /// Neutral mentions and exposure of the last [`CONTEXT_SLOTS`] completed slots.
    context: std::collections::VecDeque<(u64, f64)>,
}

/// One name's alert state, as stored (`last_level` is the excess at the close).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    /// The open alert, if any.
    pub open: Option<OpenAlert>,
    /// When the last alert closed (seconds since the epoch).
    pub closed_at: Option<i64>,
    /// The critical level of the last alert when it closed.
    pub last_level: u64,
    /// The last closed alert's id and opening time, which a « reprise » continues.
    #[serde(default)]
    pub last: Option<(String, i64)>,
}

/// An open alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAlert {
    /// Its id: the name and its opening time.
    pub id: String,
    /// When it opened.
    pub opened_at: i64,
    /// The window that opened (or resumed) it, in slots of 5 minutes.
    pub window_slots: i64,
    /// Critical posts above the expected in one bucket: the most seen in the bucket that
    /// followed the open or the last escalation (the burst filling the window in).
    pub level: u64,
    /// Until when `level` follows the burst filling in (seconds since the epoch).
    pub settle_until: i64,
    /// Escalations so far.
    pub escalations: u32,
    /// Completed buckets near the baseline in a row.
    pub calm: u32,
    /// The last completed bucket looked at for calm.
    pub checked_bucket: i64,
}

/// Counts in a window and what the baseline expected.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    start: i64,
    end: i64,
    mentions: u64,
    critical: u64,
    expected_mentions: f64,
    expected_critical: f64,
    shape: f64,
    share: f64,
    /// Hours at rhythm factor 1 the window stands for.
    exposure: f64,
}

impl Window {
    /// Critical posts above the expected.
    fn excess(&self) -> u64 {
        (self.critical as f64 - self.expected_critical)
            .max(0.0)
            .round() as u64
    }

    fn p_value(&self) -> f64 {
        nb_sf(self.critical, self.expected_critical, self.shape)
    }
}

/// The detector. Blocking: it reads the store.
pub struct Detector {
    settings: Settings,
    store: Store,
    /// A mirror of the store's hourly counters over the history.
    hours: BTreeMap<i64, BTreeMap<String, Counts>>,
    /// A mirror of the store's slots over the last [`RECENT_HOURS`].
    slots: BTreeMap<i64, BTreeMap<String, SlotCounts>>,
    loaded: bool,
    now: i64,
    states: BTreeMap<String, AlertState>,
    fits: HashMap<String, (i64, Baseline)>,
    global: Option<(i64, Vec<f64>)>,
    /// The hours the baselines of the current hour fit on, and their hour of the week.
    covered: Vec<(i64, usize)>,
    /// Each name's counts in those hours.
    by_name: HashMap<String, Vec<(i64, u64, u64)>>,
    how: HashMap<i64, usize>,
    cusums: HashMap<String, Cusum>,
    /// Commits were missed: the names of the last hour are evaluated at the next one.
    missed: bool,
}

impl Detector {
    /// A detector over `store`, with the alert states it holds.
    pub fn new(settings: Settings, store: Store) -> anyhow::Result<Detector> {
        let states = store.alert_states::<AlertState>()?.into_iter().collect();
        Ok(Detector {
            settings,
            store,
            hours: BTreeMap::new(),
            slots: BTreeMap::new(),
            loaded: false,
            now: i64::MIN,
            states,
            fits: HashMap::new(),
            global: None,
            covered: Vec::new(),
            by_name: HashMap::new(),
            how: HashMap::new(),
            cusums: HashMap::new(),
            // A new detector (a start, new names) knows nothing of what was committed before
            // it listened: its first commit or tick evaluates every name of the last hour.
            missed: true,
        })
    }

    /// The stream's time now (seconds), `None` before anything was seen.
    pub fn now(&self) -> Option<i64> {
        (self.now != i64::MIN).then_some(self.now)
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The open alerts: name and alert.
    pub fn open_alerts(&self) -> impl Iterator<Item = (&str, &OpenAlert)> {
        self.states
            .iter()
            .filter_map(|(e, s)| s.open.as_ref().map(|o| (e.as_str(), o)))
    }

    /// Takes one ingest commit in: refreshes the slots and hours it touched from the store,
    /// moves the clock to its newest post, and evaluates the names it moved and the open
    /// alerts. Returns the events, already stored in the outbox, with their ids.
    pub fn on_commit(&mut self, c: &Committed) -> anyhow::Result<Vec<(u64, Outgoing)>> {
        // The stream is at its newest post, not at the end of that post's minute: the rest
        // of the minute (and of its slot) is still to come. A commit of no new post moves
        // nothing.
        let Some(latest) = c.latest else {
            return Ok(Vec::new());
        };
        let wall = Utc::now().timestamp();
        let latest = (latest + 1).min(wall + 300);
        let first = !self.loaded;
        let previous = self.now;
        self.advance(latest)?;
        if !first {
            let slots: BTreeSet<i64> = c
                .buckets
                .iter()
                .map(|b| (b.minute * 60).div_euclid(SLOT_SECS))
                .collect();
            let hours: BTreeSet<i64> = c.buckets.iter().map(|b| b.minute.div_euclid(60)).collect();
            let recent = self.now.div_euclid(SLOT_SECS) - RECENT_HOURS * 3600 / SLOT_SECS;
            for s in slots.into_iter().filter(|s| *s >= recent) {
                self.slots.insert(s, self.store.slot(s)?);
            }
            for h in hours {
                if let Ok(counts) = self.store.hour_counts(h) {
                    self.hours.insert(h, counts);
                }
            }
        }
        // Posts of a slot a name's CUSUM already folded (a post that came late): its CUSUM
        // is folded again from the store, or they would never count.
        for b in c.buckets.iter().filter(|b| b.entity != ALL_POSTS) {
            let slot = (b.minute * 60).div_euclid(SLOT_SECS);
            if self.cusums.get(&b.entity).is_some_and(|cs| cs.slot >= slot) {
                self.cusums.remove(&b.entity);
            }
        }
        let mut touched: BTreeSet<String> = c
            .buckets
            .iter()
            .filter(|b| b.entity != ALL_POSTS)
            .map(|b| b.entity.clone())
            .collect();
        touched.extend(self.missed_names());
        // A commit may span hours of the stream (a replay reads thousands of posts at a
        // time): the clock steps through each slot boundary it passed, so that a burst is
        // seen when it happened, not when the batch ended.
        let end = self.now;
        let mut out = Vec::new();
        if previous != i64::MIN && !first {
            let mut t = (previous.div_euclid(SLOT_SECS) + 1) * SLOT_SECS;
            t = t.max(end - RECENT_HOURS * 3600);
            while t < end {
                self.now = t;
                out.extend(self.evaluate_all(&touched)?);
                t += SLOT_SECS;
            }
        }
        self.now = end;
        out.extend(self.evaluate_all(&touched)?);
        Ok(out)
    }

    /// Moves the clock to `now` (the wall clock when live) and evaluates the open alerts:
    /// calm returns even when nobody posts. Only a stream that follows the wall clock is
    /// moved: before any post, or when the stream's time is more than 6 hours behind
    /// (history coming through a live source), the posts' own timestamps rule.
    pub fn tick(&mut self, now: i64) -> anyhow::Result<Vec<(u64, Outgoing)>> {
        if self.now == i64::MIN || now <= self.now || now - self.now > LIVE_LAG {
            return Ok(Vec::new());
        }
        self.advance(now)?;
        let missed = self.missed_names();
        self.evaluate_all(&missed)
    }

    /// After missing commits: the next commit or tick reads the mirrors again from the
    /// store, at its own time, and evaluates every name the last hour counted, so that a
    /// spike in the commits missed is not missed.
    pub fn resync(&mut self) -> anyhow::Result<()> {
        self.loaded = false;
        self.missed = true;
        Ok(())
    }

    /// The names the last hour's slots count, once after a [`Detector::resync`].
    fn missed_names(&mut self) -> BTreeSet<String> {
        if !std::mem::take(&mut self.missed) {
            return BTreeSet::new();
        }
        let since = (self.now - 3600).div_euclid(SLOT_SECS);
        self.slots
            .range(since..)
            .flat_map(|(_, names)| names.keys())
            .filter(|n| *n != ALL_POSTS)
            .cloned()
            .collect()
    }

    fn advance(&mut self, now: i64) -> anyhow::Result<()> {
        self.now = self.now.max(now);
        if !self.loaded {
            self.load()?;
        }
        let keep_slots = self.now.div_euclid(SLOT_SECS) - RECENT_HOURS * 3600 / SLOT_SECS;
        self.slots = self.slots.split_off(&keep_slots);
        let keep_hours = self.now.div_euclid(3600) - self.settings.history_hours - 3;
        self.hours = self.hours.split_off(&keep_hours);
        Ok(())
    }

    fn load(&mut self) -> anyhow::Result<()> {
        let now_h = (self.now - 1).div_euclid(3600);
        let scan = self
            .store
            .all_counts(now_h - self.settings.history_hours - 2, now_h + 2)?;
        self.hours = scan.hours.into_iter().collect();
        let now_s = (self.now - 1).div_euclid(SLOT_SECS);
        self.slots = self
            .store
            .slots(now_s - RECENT_HOURS * 3600 / SLOT_SECS, now_s + 2)?
            .into_iter()
            .collect();
        self.fits.clear();
        self.global = None;
        self.cusums.clear();
        self.loaded = true;
        Ok(())
    }

    /// Evaluates `names` and every name with an open alert at the current clock.
    fn evaluate_all(&mut self, names: &BTreeSet<String>) -> anyhow::Result<Vec<(u64, Outgoing)>> {
        let mut names = names.clone();
        names.extend(self.open_alerts().map(|(e, _)| e.to_string()));
        let mut out = Vec::new();
        for name in names {
            if let Some(o) = self.evaluate(&name)? {
                let state = self.states.get(&name).cloned().unwrap_or_default();
                let ids = self.store.commit_alerts(&[(&name, &state)], &[&o])?;
                out.push((ids[0], o));
            }
        }
        Ok(out)
    }

    fn hour_of_week(&mut self, hour: i64) -> usize {
        let tz = self.settings.tz;
        *self.how.entry(hour).or_insert_with(|| {
            let t = DateTime::from_timestamp(hour * 3600, 0)
                .unwrap_or_default()
                .with_timezone(&tz);
            t.weekday().num_days_from_monday() as usize * 24 + t.hour() as usize
        })
    }

    /// The baseline of `entity` now, fitted once an hour.
    pub fn baseline(&mut self, entity: &str) -> Baseline {
        let now_h = (self.now - 1).div_euclid(3600);
        if let Some((h, b)) = self.fits.get(entity) {
            if *h == now_h {
                return b.clone();
            }
        }
        if self.global.as_ref().is_none_or(|(h, _)| *h != now_h) {
            self.read_history(now_h);
        }
        // Every covered hour, with the name's counts where it had any (both in order).
        let (covered, names) = (&self.covered, &self.by_name);
        let mut own = names.get(entity).map(|v| v.iter().peekable());
        let obs: Vec<HourObs> = covered
            .iter()
            .map(|&(hour, how)| {
                let (mentions, critical) = own
                    .as_mut()
                    .and_then(|it| it.next_if(|(h, _, _)| *h == hour))
                    .map_or((0, 0), |&(_, m, c)| (m, c));
                HourObs {
                    hour,
                    how,
                    mentions,
                    critical,
                }
            })
            .collect();
        let global = &self.global.as_ref().expect("just set").1;
        let b = baseline::fit(&obs, global, &self.settings.fit);
        self.fits.insert(entity.to_string(), (now_h, b.clone()));
        b
    }

    /// Reads the history the baselines of hour `now_h` fit on, once for every name: the
    /// hours the sources covered (any post read), each name's counts in them, and the rhythm
    /// of every post. History stops two hours back: a burst under way is not its own baseline.
    fn read_history(&mut self, now_h: i64) {
        let (from, to) = (now_h - self.settings.history_hours, now_h - 1);
        let mut covered = Vec::new();
        let mut by_name: HashMap<String, Vec<(i64, u64, u64)>> = HashMap::new();
        let hours: Vec<(i64, u64)> = self
            .hours
            .range(from..to)
            .filter_map(|(h, scopes)| Some((*h, scopes.get(ALL_POSTS)?.posts)))
            .filter(|(_, all)| *all > 0)
            .collect();
        let mut all = Vec::with_capacity(hours.len());
        for (h, posts) in hours {
            let how = self.hour_of_week(h);
            covered.push((h, how));
            all.push((how, posts as f64));
            for (name, c) in self.hours.get(&h).into_iter().flatten() {
                if name == ALL_POSTS {
                    continue;
                }
                match by_name.get_mut(name.as_str()) {
                    Some(v) => v.push((h, c.posts, c.critical)),
                    None => {
                        by_name.insert(name.clone(), vec![(h, c.posts, c.critical)]);
                    }
                }
            }
        }
        self.global = Some((now_h, baseline::profile(all)));
        self.covered = covered;
        self.by_name = by_name;
    }

    /// Counts and expectation of `entity` in `[start, end)`.
    fn window(&mut self, entity: &str, base: &Baseline, start: i64, end: i64) -> Window {
        let (mut mentions, mut critical, mut exposure) = (0u64, 0u64, 0.0);
        let mut slot = start.div_euclid(SLOT_SECS);
        while slot * SLOT_SECS < end {
            let (m, c, e) = self.slot_counts(entity, base, slot, start, end);
            mentions += m;
            critical += c;
            exposure += e;
            slot += 1;
        }
        let (mean, shape) = self.expectation(base, start, mentions - critical, exposure);
        Window {
            start,
            end,
            mentions,
            critical,
            expected_mentions: base.mentions_rate * exposure,
            expected_critical: mean,
            shape,
            exposure,
            share: if mentions > 0 {
                critical as f64 / mentions as f64
            } else {
                0.0
            },
        }
    }

    /// Mentions, critical posts and exposure of `slot`, the part of it within `[start, end)`.
    fn slot_counts(
        &mut self,
        entity: &str,
        base: &Baseline,
        slot: i64,
        start: i64,
        end: i64,
    ) -> (u64, u64, f64) {
        let s0 = slot * SLOT_SECS;
        let overlap = (end.min(s0 + SLOT_SECS) - start.max(s0)).max(0) as f64;
        let counts = self.slots.get(&slot);
        let (m, c) = counts
            .and_then(|m| m.get(entity))
            .map_or((0, 0), |c| (u64::from(c.posts), u64::from(c.critical)));
        if counts.is_none() && !self.covered(slot) {
            return (m, c, 0.0);
        }
        let how = self.hour_of_week(s0.div_euclid(3600));
        (m, c, base.profile[how] * overlap / 3600.0)
    }

    /// Whether the sources were reading during `slot`, which has no post: a quiet stretch
    /// between two posts less than [`GAP_SLOTS`] apart (or since the last post, up to now).
    /// A longer silence, or the time before the first post, is Veille stopped or not yet
    /// started: no evidence of calm, so it weighs nothing in an expectation (or a restart
    /// would read the hours it missed as a lull, and its first posts as a spike).
    fn covered(&self, slot: i64) -> bool {
        let Some((&before, _)) = self.slots.range(..slot).next_back() else {
            return false;
        };
        let after = self
            .slots
            .range(slot..)
            .next()
            .map_or(self.now.div_euclid(SLOT_SECS), |(s, _)| *s);
        after - before <= GAP_SLOTS
    }

    /// Whether `slot` has posts and is the first read after a gap (or ever): Veille started
    /// during it, so its exposure overstates the time its posts cover. Its own step
    /// compares its critical posts with its own neutral ones; later slots leave it out of
    /// their context.
    fn starts_reading(&self, slot: i64) -> bool {
        self.slots.contains_key(&slot)
            && self
                .slots
                .range(slot - GAP_SLOTS..slot)
                .next_back()
                .is_none()
    }

    /// The expected critical posts of a window starting at `start` with `neutral` neutral
    /// mentions and `exposure`, and the shape of their negative binomial.
    fn expectation(&self, base: &Baseline, start: i64, neutral: u64, exposure: f64) -> (f64, f64) {
        // The window's critical rate: Gamma from the baseline (its mean, its shape), updated
        // by the window's neutral mentions, which a bad buzz does not add to: a busy day
        // raises the expectation, criticism alone does not. With no history the prior is
        // flat and the test is one of the critical share against the usual share.
        let hist_mean = base.critical_rate * exposure;
        let s = base.share.clamp(0.01, 0.99);
        let neutral = neutral as f64;
        // The prior is as firm as the rhythm of these hours is known: an hour of the day
        // never seen yet (a name's first morning) leans on the window's own mentions.
        let seen = f64::from(base.seen_days[start.div_euclid(3600).rem_euclid(24) as usize]);
        let firmness = seen / (seen + 2.0);
        let known = hist_mean > 0.0 && firmness > 0.0;
        let (a, b) = if known {
            let a = base.shape * firmness;
            (a, a / hist_mean)
        } else {
            (0.5, 0.0)
        };
        let (a, b) = (a + neutral, b + (1.0 - s) / s);
        let (mean, shape) = if b > 0.0 { (a / b, a) } else { (0.0, a) };
        // With no history, the usual share is the field's figure, known to about 30 %.
        let shape = if known {
            shape
        } else {
            shape.min(self.settings.fit.default_shape)
        };
        (mean, shape.min(self.settings.fit.max_shape))
    }

    /// The window of `slots` slots ending now (the last one partly elapsed).
    fn recent(&mut self, entity: &str, base: &Baseline, slots: i64) -> Window {
        let last = (self.now - 1).div_euclid(SLOT_SECS);
        let start = (last - slots + 1) * SLOT_SECS;
        self.window(entity, base, start, self.now)
    }

    /// Page's CUSUM of `entity`'s critical posts now, with the slot partly elapsed, and the
    /// start of its run (seconds): completed slots are folded in once, each against its
    /// expectation. No run reaches back before `floor` (the last close).
    fn cusum(&mut self, entity: &str, base: &Baseline, floor: i64) -> (f64, i64) {
        let done = self.now.div_euclid(SLOT_SECS) - 1;
        let floor = floor.div_euclid(SLOT_SECS) + i64::from(floor.rem_euclid(SLOT_SECS) != 0);
        let first = (done - FOLD_SLOTS).max(floor);
        let mut c = match self.cusums.remove(entity) {
            // Folded up to a day ago at most, and no run from before the floor.
            Some(c) if c.slot >= first - 1 && c.start >= floor => c,
            _ => {
                let context = (first - CONTEXT_SLOTS..first)
                    .map(|slot| {
                        if self.starts_reading(slot) {
                            return (0, 0.0);
                        }
                        let (m, c, e) = self.slot_counts(entity, base, slot, i64::MIN, i64::MAX);
                        (m - c, e)
                    })
                    .collect();
                Cusum {
                    slot: first - 1,
                    score: 0.0,
                    start: first,
                    context,
                }
            }
        };
        for slot in c.slot + 1..=done {
            let (m, critical, e) = self.slot_counts(entity, base, slot, i64::MIN, i64::MAX);
            c.context.push_back((m - critical, e));
            while c.context.len() > CONTEXT_SLOTS as usize {
                c.context.pop_front();
            }
            c.score += self.step(base, (slot + 1) * SLOT_SECS, critical, e, c.context.iter());
            if self.starts_reading(slot) {
                *c.context.back_mut().expect("just pushed") = (0, 0.0);
            }
            if c.score <= 0.0 {
                c.score = 0.0;
                c.start = slot + 1;
            }
            c.slot = slot;
        }
        c.slot = c.slot.max(done);
        let partial = (done + 1) * SLOT_SECS;
        let (score, start) = (c.score, c.start * SLOT_SECS);
        let now = if partial < self.now {
            let (m, critical, e) = self.slot_counts(entity, base, done + 1, partial, self.now);
            let skip = c.context.len().saturating_sub(CONTEXT_SLOTS as usize - 1);
            let last = (m - critical, e);
            let context = c.context.iter().skip(skip).chain(std::iter::once(&last));
            Some(score + self.step(base, self.now, critical, e, context))
        } else {
            None
        };
        self.cusums.insert(entity.to_string(), c);
        match now {
            Some(now) if now > 0.0 => (now, start),
            Some(_) => (0.0, self.now),
            None => (score, start),
        }
    }

    /// One step of the statistic: `critical` posts over `exposure` ending at `end`, against
    /// the expectation of the [`CONTEXT_SECS`] ending there (`context`: their slots' neutral
    /// mentions and exposures) apportioned by the rhythm.
    fn step<'a>(
        &self,
        base: &Baseline,
        end: i64,
        critical: u64,
        exposure: f64,
        context: impl Iterator<Item = &'a (u64, f64)>,
    ) -> f64 {
        let (neutral, total) = context.fold((0, 0.0), |(n, t), (m, e)| (n + m, t + e));
        let (mean, shape) = self.expectation(base, end - CONTEXT_SECS, neutral, total);
        let mean = if total > 0.0 {
            mean * exposure / total
        } else {
            mean
        };
        nb_llr(critical, mean, shape, SHIFT)
    }

    fn evaluate(&mut self, entity: &str) -> anyhow::Result<Option<Outgoing>> {
        let rules = self.settings.rules(entity);
        let base = self.baseline(entity);
        let mut state = self.states.get(entity).cloned().unwrap_or_default();
        let event = match state.open.clone() {
            None => {
                let floor = state.closed_at.unwrap_or(i64::MIN / 2);
                let (score, start) = self.cusum(entity, &base, floor);
                // A name younger than a day is judged against the field's share, not its
                // own: it needs ten times the evidence.
                let threshold = rules.threshold + if base.young { YOUNG_THRESHOLD } else { 0.0 };
                if score < threshold || start >= self.now {
                    return Ok(None);
                }
                let win = self.window(entity, &base, start, self.now);
                let passes = win.critical >= u64::from(rules.min_critical)
                    && win.critical as f64 >= rules.min_ratio * win.expected_critical
                    && win.share > base.share;
                if !passes {
                    return Ok(None);
                }
                let cooling = state
                    .closed_at
                    .is_some_and(|t| self.now - t < self.settings.cooldown_secs);
                let per_bucket = self.settings.bucket_secs / SLOT_SECS;
                let bucket = self.recent(entity, &base, per_bucket);
                if cooling && bucket.excess() < 2 * state.last_level.max(1) {
                    return Ok(None);
                }
                // Soon after a close, the same crisis goes on: same alert, « reprise ».
                let resumed = state.last.clone().filter(|_| {
                    state
                        .closed_at
                        .is_some_and(|t| self.now - t < self.settings.reopen_secs)
                });
                let opened = DateTime::from_timestamp(self.now, 0).unwrap_or_default();
                let (id, opened_at, kind) = match resumed {
                    Some((id, at)) => (id, at, EventKind::Resume),
                    None => (
                        format!("{entity}@{}", opened.format("%Y-%m-%dT%H:%MZ")),
                        self.now,
                        EventKind::Open,
                    ),
                };
                let open = OpenAlert {
                    id,
                    opened_at,
                    window_slots: (self.now - start + SLOT_SECS - 1) / SLOT_SECS,
                    level: bucket.excess(),
                    settle_until: self.now + self.settings.bucket_secs,
                    escalations: 0,
                    calm: 0,
                    checked_bucket: (self.now - 1).div_euclid(self.settings.bucket_secs) - 1,
                };
                state.open = Some(open.clone());
                let p = win.p_value();
                Some((kind, win, p, Some(score), open))
            }
            Some(mut open) => {
                let per_bucket = self.settings.bucket_secs / SLOT_SECS;
                let win = self.recent(entity, &base, per_bucket);
                let mut event = None;
                if self.now <= open.settle_until {
                    open.level = open.level.max(win.excess());
                } else if win.excess() >= 2 * open.level.max(1)
                    && win.critical >= u64::from(rules.min_critical)
                    && win.p_value() < rules.alpha
                {
                    open.level = win.excess();
                    open.settle_until = self.now + self.settings.bucket_secs;
                    open.escalations += 1;
                    open.calm = 0;
                    event = Some((EventKind::Escalate, win, win.p_value(), None, open.clone()));
                }
                let bs = self.settings.bucket_secs;
                let current = (self.now - 1).div_euclid(bs);
                let first = (open.checked_bucket + 1).max(current - 2 * CHART_HOURS * 3600 / bs);
                let mut closed = None;
                for b in first..current {
                    let bw = self.window(entity, &base, b * bs, (b + 1) * bs);
                    let near = bw.p_value() > 0.01
                        || bw.critical as f64 <= (1.5 * bw.expected_critical).max(2.0);
                    open.calm = if near { open.calm + 1 } else { 0 };
                    open.checked_bucket = b;
                    if open.calm < self.settings.calm_buckets {
                        continue;
                    }
                    // The count is back near usual; the share must be too: a night's fall
                    // in volume alone does not end a crisis.
                    let start = (b + 1 - i64::from(self.settings.calm_buckets)) * bs;
                    let span = self.window(entity, &base, start, (b + 1) * bs);
                    let s = base.share;
                    let share = (span.critical as f64 + CALM_SHARE_PRIOR * s)
                        / (span.mentions as f64 + CALM_SHARE_PRIOR);
                    if share <= (1.5 * s).max(s + 0.1) {
                        closed = Some(span);
                        break;
                    }
                }
                if let Some(calm) = closed {
                    state.open = None;
                    state.closed_at = Some(self.now);
                    state.last_level = open.level;
                    state.last = Some((open.id.clone(), open.opened_at));
                    self.cusums.remove(entity);
                    let p = calm.p_value();
                    event = Some((EventKind::Close, calm, p, None, open));
                } else {
                    state.open = Some(open);
                }
                event
            }
        };
        if state.open.is_some() || event.is_some() {
            self.states.insert(entity.to_string(), state);
        }
        let Some((kind, win, p, score, open)) = event else {
            return Ok(None);
        };
        let mut out = self.outgoing(entity, kind, &win, p, &open, &base)?;
        out.event.score = score;
        Ok(Some(out))
    }

    fn outgoing(
        &mut self,
        entity: &str,
        kind: EventKind,
        win: &Window,
        p: f64,
        open: &OpenAlert,
        base: &Baseline,
    ) -> anyhow::Result<Outgoing> {
        let time = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or_default();
        let (top_cues, posts) = if kind == EventKind::Close {
            (Vec::new(), Vec::new())
        } else {
            self.worst_posts(entity, win.start, win.end)?
        };
        let round = |v: f64, d: i32| (v * 10f64.powi(d)).round() / 10f64.powi(d);
        let event = AlertEvent {
            entity: entity.to_string(),
            event: kind,
            at: time(self.now),
            window_start: time(win.start),
            window_end: time(win.end),
            mentions: win.mentions,
            critical: win.critical,
            baseline_critical: round(win.expected_critical, 2),
            baseline_mentions: round(win.expected_mentions, 2),
            share: round(win.share, 3),
            baseline_share: round(base.share, 3),
            ratio: round(win.critical as f64 / win.expected_critical.max(0.01), 2),
            p_value: p,
            score: None,
            top_cues,
            posts,
            alert_id: open.id.clone(),
            opened_at: time(open.opened_at),
        };
        let alert_window = (
            if kind == EventKind::Close {
                open.opened_at
            } else {
                win.start
            },
            self.now,
        );
        Ok(Outgoing {
            event,
            series: self.series(entity, self.now - CHART_HOURS * 3600, self.now),
            alert_window,
            bucket_secs: self.settings.bucket_secs,
        })
    }

    /// The stored alert state of a name.
    pub fn state(&self, entity: &str) -> Option<&AlertState> {
        self.states.get(entity)
    }

    /// The most visible critical posts of `[from, to)` and their most frequent cues.
    pub fn worst_posts(
        &self,
        entity: &str,
        from: i64,
        to: i64,
    ) -> anyhow::Result<(Vec<String>, Vec<AlertPost>)> {
        let mut critical: Vec<_> = self
            .store
            .mentions(entity, from, to)?
            .into_iter()
            .filter(|p| p.label == Label::Critical)
            .collect();
        let mut cues: HashMap<&str, usize> = HashMap::new();
        for p in &critical {
            for c in &p.cues {
                *cues.entry(c.as_str()).or_default() += 1;
            }
        }
        let mut cues: Vec<(&str, usize)> = cues.into_iter().collect();
        cues.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top_cues = cues.iter().take(5).map(|(c, _)| c.to_string()).collect();
        let engagement = |p: &crate::store::StoredPost| {
            p.post
                .metrics
                .as_ref()
                .map_or(0, |m| m.likes + m.replies + m.reposts + m.quotes)
        };
        critical.sort_by(|a, b| {
            engagement(b)
                .cmp(&engagement(a))
                .then(b.post.created_at.cmp(&a.post.created_at))
        });
        let posts = critical
            .iter()
            .take(5)
            .map(|p| AlertPost {
                url: p.post.url.clone().or_else(|| {
                    (p.post.platform == "x")
                        .then(|| format!("https://x.com/i/web/status/{}", p.post.id))
                }),
                author: p.post.author.clone(),
                text: p.post.text.clone(),
                created_at: p.post.created_at,
                engagement: engagement(p),
                cues: p.cues.clone(),
            })
            .collect();
        Ok((top_cues, posts))
    }

    /// The buckets of `entity` overlapping `[from, to)` against its baseline (the chart and
    /// `buzz`); the last one may be partly elapsed.
    pub fn series(&mut self, entity: &str, from: i64, to: i64) -> Vec<BucketPoint> {
        let base = self.baseline(entity);
        let bs = self.settings.bucket_secs;
        let (first, last) = (from.div_euclid(bs), (to - 1).div_euclid(bs));
        (first..=last)
            .map(|b| {
                let w = self.window(entity, &base, b * bs, ((b + 1) * bs).min(to));
                BucketPoint {
                    start: b * bs,
                    mentions: w.mentions,
                    critical: w.critical,
                    expected_mentions: w.expected_mentions,
                    expected_critical: w.expected_critical,
                    band: (
                        nb_quantile(0.05, w.expected_critical, w.shape),
                        nb_quantile(0.95, w.expected_critical, w.shape),
                    ),
                }
            })
            .collect()
    }

    /// Sets the clock and loads the mirrors without an event (for `buzz`).
    pub fn at(&mut self, now: i64) -> anyhow::Result<()> {
        self.now = now;
        self.loaded = false;
        self.load()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Ingestor;
    use crate::model::Post;
    use crate::watch::Watcher;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Poisson};

    /// A stream of one watched name fed through the real ingest into a temporary store,
    /// the detector taking each commit in.
    struct Stream {
        store: Store,
        watcher: Watcher,
        detector: Option<Detector>,
        rng: SmallRng,
        seq: u64,
        t: i64,
        /// Minutes between two commits.
        every: i64,
    }

    const START: i64 = 1_772_409_600; // 2026-03-02T00:00:00Z, a Monday.

    impl Stream {
        fn new() -> Stream {
            let watcher = crate::ingest::tests::watcher();
            let store = Store::temporary().expect("store");
            Stream {
                detector: Some(Stream::detector(&store)),
                store,
                watcher,
                rng: SmallRng::seed_from_u64(7),
                seq: 0,
                t: START,
                every: 15,
            }
        }

        fn detector(store: &Store) -> Detector {
            let settings = Settings::from_config(&Config::default()).expect("settings");
            Detector::new(settings, store.clone()).expect("detector")
        }

        /// `minutes` of stream: per hour, `critical` critical and `neutral` neutral mentions
        /// on average, times the daily rhythm; one commit every 15 minutes.
        fn run(&mut self, minutes: i64, critical: f64, neutral: f64) -> Vec<AlertEvent> {
            let (tx, mut rx) = tokio::sync::broadcast::channel(64);
            let mut events = Vec::new();
            let store = self.store.clone();
            let mut ing = Ingestor::new(self.watcher.clone(), &store).with_events(tx);
            let tz = chrono_tz::Europe::Paris;
            for _ in 0..minutes {
                let local = DateTime::from_timestamp(self.t, 0)
                    .expect("t")
                    .with_timezone(&tz);
                let r = super::super::simulate::rhythm(
                    local.hour() as f64 + local.minute() as f64 / 60.0,
                    local.weekday().num_days_from_monday(),
                );
                for (rate, text) in [
                    (critical, "@SNCF une honte, encore en retard"),
                    (neutral, "@SNCF merci pour le trajet"),
                ] {
                    let n =
                        Poisson::new(rate * r / 60.0).map_or(0, |p| p.sample(&mut self.rng) as u64);
                    for _ in 0..n {
                        let at = self.t + self.rng.gen_range(0..60);
                        ing.process(self.post(at, text)).expect("processed");
                    }
                }
                self.t += 60;
                if (self.t - START) % (self.every * 60) == 0 {
                    events.extend(self.commit(&mut ing, &mut rx));
                }
            }
            ing.finish().expect("finished");
            events
        }

        /// A new post created at `at` (seconds).
        fn post(&mut self, at: i64, text: &str) -> Post {
            self.seq += 1;
            Post {
                platform: "x".into(),
                id: self.seq.to_string(),
                original_id: None,
                text: text.into(),
                created_at: DateTime::from_timestamp(at, 0).expect("t"),
                author: None,
                lang: Some("fr".into()),
                url: None,
                metrics: None,
                about: None,
            }
        }

        /// Commits what `ing` holds and hands the commit to the detector: its events.
        fn commit(
            &mut self,
            ing: &mut Ingestor,
            rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<Committed>>,
        ) -> Vec<AlertEvent> {
            ing.commit(None).expect("commit");
            ing.sync().expect("written");
            let mut events = Vec::new();
            while let Ok(c) = rx.try_recv() {
                // A detector asleep misses the commit.
                let Some(d) = self.detector.as_mut() else {
                    continue;
                };
                events.extend(
                    d.on_commit(&c)
                        .expect("evaluated")
                        .into_iter()
                        .map(|(id, o)| {
                            self.store.ack_alert_event(id).expect("ack");
                            o.event
                        }),
                );
            }
            events
        }

        /// Commits of posts given by their times (seconds) and texts, one commit a list, as
        /// a live stream brings them: its events.
        fn commits(&mut self, commits: &[Vec<(i64, &str)>]) -> Vec<AlertEvent> {
            let (tx, mut rx) = tokio::sync::broadcast::channel(64);
            let store = self.store.clone();
            let mut ing = Ingestor::new(self.watcher.clone(), &store).with_events(tx);
            let mut events = Vec::new();
            for posts in commits {
                for (at, text) in posts {
                    let post = self.post(*at, text);
                    ing.process(post).expect("processed");
                }
                events.extend(self.commit(&mut ing, &mut rx));
            }
            ing.finish().expect("finished");
            events
        }

        /// Ordinary hours (20 critical and 40 neutral mentions an hour), committed hourly.
        fn warm(&mut self, minutes: i64) -> Vec<AlertEvent> {
            self.every = 60;
            let events = self.run(minutes, 20.0, 40.0);
            self.every = 15;
            events
        }

        fn restart(&mut self) {
            self.detector = None;
            self.detector = Some(Stream::detector(&self.store));
        }
    }

    fn kinds(events: &[AlertEvent]) -> Vec<EventKind> {
        events.iter().map(|e| e.event).collect()
    }

    const DAY: i64 = 1440;

    #[test]
    fn a_flat_month_stays_within_the_false_alert_budget() {
        // Medium allows 0.5 false alerts per name per 30 days: none on this seed's month.
        let mut s = Stream::new();
        s.every = 60;
        let events = s.run(30 * DAY, 10.0, 20.0);
        assert!(events.is_empty(), "{events:#?}");
    }

    #[test]
    fn a_clean_burst_opens_once_and_closes_once_and_a_restart_repeats_nothing() {
        let mut s = Stream::new();
        assert!(s.warm(2 * DAY + 12 * 60).is_empty());
        let burst = s.run(45, 120.0, 40.0);
        assert_eq!(kinds(&burst), [EventKind::Open], "{burst:#?}");
        let open = &burst[0];
        assert!(
            open.critical >= 10 && open.ratio >= 2.0 && open.p_value < 1e-4,
            "{open:#?}"
        );
        assert!(
            open.top_cues.iter().any(|c| c == "honte"),
            "{:?}",
            open.top_cues
        );
        assert!(!open.posts.is_empty() && open.posts.len() <= 5);
        assert!(open.posts[0]
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://x.com/")));
        // A restart in the middle of the alert: the stored state says it is open.
        s.restart();
        let after = s.run(4 * 60, 20.0, 40.0);
        assert_eq!(kinds(&after), [EventKind::Close], "{after:#?}");
        assert_eq!(after[0].alert_id, open.alert_id);
        assert!(s.run(6 * 60, 20.0, 40.0).is_empty());
        assert!(s
            .store
            .pending_alert_events::<Outgoing>()
            .expect("outbox")
            .is_empty());
    }

    #[test]
    fn a_burst_that_doubles_escalates() {
        let mut s = Stream::new();
        assert!(s.warm(2 * DAY + 12 * 60).is_empty());
        let mut events = s.run(30, 100.0, 40.0);
        events.extend(s.run(30, 400.0, 40.0));
        events.extend(s.run(3 * 60, 20.0, 40.0));
        assert_eq!(
            kinds(&events),
            [EventKind::Open, EventKind::Escalate, EventKind::Close],
            "{events:#?}"
        );
        assert!(events[1].critical > events[0].critical * 2);
    }

    #[test]
    fn a_new_name_is_quiet_on_its_first_ordinary_hours_but_not_blind() {
        let mut s = Stream::new();
        s.t = START + 10 * 3600;
        assert!(s.run(3 * 60, 30.0, 60.0).is_empty(), "first ordinary hours");
        let spike = s.run(30, 300.0, 60.0);
        assert_eq!(kinds(&spike), [EventKind::Open], "{spike:#?}");
    }

    /// The CUSUM of SNCF now.
    fn score(s: &mut Stream) -> f64 {
        let d = s.detector.as_mut().expect("detector");
        let base = d.baseline("SNCF");
        d.cusum("SNCF", &base, 0).0
    }

    #[test]
    fn the_hours_before_the_first_post_are_no_evidence_of_calm() {
        // A busy name's first minutes at its ordinary rates: Veille was not reading before,
        // so they are not a spike above a quiet night; nor is the first slot, read only
        // from its fourth minute, a lull.
        let mut s = Stream::new();
        s.t = START + 10 * 3600 + 4 * 60;
        s.every = 1;
        let mut highest = 0.0f64;
        for _ in 0..12 {
            assert!(s.run(1, 600.0, 1200.0).is_empty());
            highest = highest.max(score(&mut s));
        }
        assert!(highest < 3.0, "{highest}");
    }

    #[test]
    fn the_hours_veille_was_stopped_are_no_evidence_of_calm() {
        let mut s = Stream::new();
        s.every = 60;
        assert!(s.run(DAY + 10 * 60, 300.0, 600.0).is_empty());
        s.t += 3 * 3600;
        s.restart();
        s.every = 1;
        assert!(s.run(12, 300.0, 600.0).is_empty());
        let score = score(&mut s);
        assert!(score < 3.0, "{score}");
    }

    #[test]
    fn a_burst_in_commits_the_detector_missed_is_found_when_it_reads_the_store_again() {
        let mut s = Stream::new();
        assert!(s.warm(2 * DAY + 12 * 60).is_empty());
        let awake = s.detector.take();
        assert!(s.run(20, 200.0, 40.0).is_empty(), "asleep");
        s.detector = awake;
        let d = s.detector.as_mut().expect("detector");
        d.resync().expect("resync");
        // Nobody names SNCF after the burst: the clock alone moves on.
        let after: Vec<AlertEvent> = d
            .tick(s.t)
            .expect("tick")
            .into_iter()
            .map(|(_, o)| o.event)
            .collect();
        assert_eq!(kinds(&after), [EventKind::Open], "{after:#?}");
    }

    #[test]
    fn a_new_detector_finds_a_burst_committed_before_it_listened() {
        // Veille starts (or its names change) while a burst is being committed: the new
        // detector's first commit names nobody watched, yet the burst is found.
        let mut s = Stream::new();
        assert!(s.warm(2 * DAY + 12 * 60).is_empty());
        s.detector = None;
        assert!(s.run(20, 200.0, 40.0).is_empty(), "nobody listening");
        s.restart();
        let t = s.t;
        let after = s.commits(&[vec![(t, "Beau temps ce matin sur la plage")]]);
        assert_eq!(kinds(&after), [EventKind::Open], "{after:#?}");
    }

    #[test]
    fn a_past_burst_does_not_blind_the_detector_the_next_week() {
        let mut s = Stream::new();
        assert!(s.warm(2 * DAY + 12 * 60).is_empty());
        let first = s.run(90, 150.0, 40.0);
        assert_eq!(first.first().map(|e| e.event), Some(EventKind::Open));
        s.warm(7 * DAY - 90);
        let again = s.run(90, 150.0, 40.0);
        assert_eq!(
            again.first().map(|e| e.event),
            Some(EventKind::Open),
            "{again:#?}"
        );
    }

    /// The first open or « reprise » of `events`.
    fn first_alert(events: &[AlertEvent]) -> Option<&AlertEvent> {
        events
            .iter()
            .find(|e| matches!(e.event, EventKind::Open | EventKind::Resume))
    }

    #[test]
    fn a_burst_starting_between_two_boundaries_is_found_no_later_than_one_on_a_boundary() {
        // Seconds from the burst's start to its alert, the burst starting `offset` minutes
        // after a bucket boundary (12:00 UTC), posts committed every minute as a live
        // stream's are.
        let delay = |offset: i64| {
            let mut s = Stream::new();
            assert!(s.warm(2 * DAY + 12 * 60).is_empty());
            s.every = 1;
            assert!(s.run(offset, 20.0, 40.0).is_empty());
            let start = s.t;
            let events = s.run(30, 200.0, 40.0);
            let open = first_alert(&events).expect("the burst alerts");
            open.at.timestamp() - start
        };
        let on = delay(0);
        for offset in [2, 7, 11] {
            // To the minute the posts are committed at.
            let between = delay(offset);
            assert!(
                between <= on + 60,
                "a burst {offset} minutes into a bucket: {between} s, on a boundary: {on} s"
            );
        }
    }

    #[test]
    fn a_burst_in_a_slot_s_last_minute_counts_whole_whatever_the_commits_it_spans() {
        // A name nobody mentioned, in a live stream of other posts committed every few
        // seconds: 40 critical posts in the last minute of a 5-minute slot. The first commit
        // brings 3 of them, too few to alert; the rest come seconds later, same minute.
        let burst = |split: usize| {
            let mut s = Stream::new();
            let t0 = START + 10 * 3600;
            let mut commits: Vec<Vec<(i64, &str)>> = (0..29 * 6)
                .map(|k| vec![(t0 + k * 10, "Beau temps ce matin sur la plage"); 5])
                .collect();
            let at = t0 + 29 * 60 + 5;
            let posts = vec![(at, "@SNCF une honte, encore en retard"); 40];
            commits.push(posts[..split].to_vec());
            commits.push(posts[split..].to_vec());
            commits.extend((0..3).map(|k| vec![(at + 10 + k * 10, "Beau temps ce soir"); 5]));
            kinds(&s.commits(&commits))
        };
        assert_eq!(burst(40), [EventKind::Open], "in one commit");
        assert_eq!(burst(3), [EventKind::Open], "over two commits");
    }

    #[test]
    fn critical_posts_that_come_late_count_in_the_slot_they_were_made() {
        // A name mentioned now and then, in a live stream committed every 10 s; 40 critical
        // posts made at 10:27:30 reach Veille at 10:27:40, or late, at 10:31:40, after the
        // name's CUSUM folded their slot.
        let burst = |arrival: i64| {
            let mut s = Stream::new();
            let t0 = START + 10 * 3600;
            let made = t0 + 27 * 60 + 30;
            let mut commits: Vec<Vec<(i64, &str)>> = (0..40 * 6)
                .map(|k| {
                    let mut c = vec![(t0 + k * 10, "Beau temps ce matin sur la plage"); 5];
                    if k % 6 == 0 {
                        c.push((t0 + k * 10, "@SNCF merci pour le trajet"));
                    }
                    c
                })
                .collect();
            let at = ((arrival - t0) / 10) as usize;
            commits.insert(at, vec![(made, "@SNCF une honte, encore en retard"); 40]);
            kinds(&s.commits(&commits))
        };
        let t0 = START + 10 * 3600;
        assert_eq!(burst(t0 + 27 * 60 + 40), [EventKind::Open], "on time");
        assert_eq!(burst(t0 + 31 * 60 + 40), [EventKind::Open], "late");
    }

    #[test]
    fn a_three_day_crisis_with_quiet_nights_opens_once() {
        // A name nobody mentioned before its crisis: for three days two thirds of its
        // mentions are critical, fewer at night; then back to ordinary.
        let mut s = Stream::new();
        s.t = START + 16 * 3600;
        let mut events = s.run(3 * DAY, 80.0, 40.0);
        events.extend(s.run(DAY, 20.0, 40.0));
        let opens = events.iter().filter(|e| e.event == EventKind::Open).count();
        assert_eq!(opens, 1, "{:?}", kinds(&events));
        assert!(
            events.iter().all(|e| e.alert_id == events[0].alert_id),
            "{:?}",
            events
                .iter()
                .map(|e| (e.event, &e.alert_id))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_new_name_s_first_night_does_not_close_its_alert() {
        // It appears at 17:00 UTC (18:00 in Paris) in a crisis that goes on through the
        // night, where the rhythm makes everything quieter.
        let mut s = Stream::new();
        s.t = START + 17 * 3600;
        let evening = s.run(3 * 60, 120.0, 40.0);
        assert_eq!(
            first_alert(&evening).map(|e| e.event),
            Some(EventKind::Open),
            "{evening:#?}"
        );
        let night = s.run(10 * 60, 120.0, 40.0);
        assert!(
            !night.iter().any(|e| e.event == EventKind::Close),
            "{:?}",
            kinds(&night)
        );
    }

    #[test]
    fn alerting_again_within_reopen_hours_continues_the_alert_and_later_opens_a_new_one() {
        let mut s = Stream::new();
        assert!(s.warm(2 * DAY + 10 * 60).is_empty());
        let mut events = s.run(45, 150.0, 40.0);
        events.extend(s.run(3 * 60, 20.0, 40.0));
        assert_eq!(
            kinds(&events),
            [EventKind::Open, EventKind::Close],
            "{events:#?}"
        );
        let id = events[0].alert_id.clone();
        let again = s.run(45, 150.0, 40.0);
        let resumed = first_alert(&again).expect("alerts again");
        assert_eq!(resumed.event, EventKind::Resume, "{again:#?}");
        assert_eq!(resumed.alert_id, id);
        assert_eq!(resumed.opened_at, events[0].opened_at);
        // Closed again, then quiet past `reopen_hours`: a new crisis is a new alert.
        let calm = s.run(3 * 60, 20.0, 40.0);
        assert_eq!(kinds(&calm), [EventKind::Close], "{calm:#?}");
        s.warm(13 * 60);
        let later = s.run(45, 150.0, 40.0);
        let new = first_alert(&later).expect("alerts again");
        assert_eq!(new.event, EventKind::Open, "{later:#?}");
        assert_ne!(new.alert_id, id);
    }

    #[test]
    fn the_cusum_step_rewards_critical_posts_above_the_expected_and_nothing_else() {
        // As many as expected: a step down; 2.5 times: a step up; more under a looser law
        // (smaller shape) weighs less.
        assert!(nb_llr(4, 4.0, 50.0, SHIFT) < 0.0);
        assert!(nb_llr(10, 4.0, 50.0, SHIFT) > 2.0);
        assert!(nb_llr(10, 4.0, 2.0, SHIFT) < nb_llr(10, 4.0, 50.0, SHIFT));
        // Poisson in the limit: x ln ρ − (ρ − 1) μ.
        let poisson = 10.0 * SHIFT.ln() - (SHIFT - 1.0) * 4.0;
        assert!((nb_llr(10, 4.0, 1e7, SHIFT) - poisson).abs() < 1e-3);
    }
}

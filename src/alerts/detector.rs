//! The detector: follows each watched name's slot counts as ingest commits them, tests its
//! recent windows against its baseline, and runs the alert lifecycle.
//!
//! **Test.** At each commit, at each 5-minute step of the stream it covers (and each clock
//! tick when live), and for each name that moved, windows of 5 and 10 minutes and of 1, 2,
//! 4 and 8 buckets ending now are compared with the baseline ([`super::baseline`]). A
//! window opens an alert when all of:
//! - its critical count `c` has a negative-binomial tail `P(X >= c) < α / k` (`k` windows);
//! - `c >= min_critical` (10 by default);
//! - `c >= min_ratio × expected`;
//! - its critical share is above the name's usual share.
//!
//! Presets: low `α = 1e-6`, ratio 2.5; medium `α = 1e-4`, ratio 2; high `α = 1e-3`, ratio 1.5.
//! The expectation is conditioned on the window's neutral mentions: the baseline gives a
//! Gamma prior for the window's critical rate (mean `λ` from the rhythm and level, shape
//! from the name's dispersion), and the `n` neutral mentions of the window, Poisson of rate
//! `λ·(1−s)/s` (`s` the usual share), update it to `Gamma(a + n, b + (1−s)/s)`; the
//! critical count's predictive is the negative binomial of that posterior. A busy day (more
//! of everything) raises the expectation; criticism alone does not. A new name with no
//! history has a flat prior: its test is one of the critical share against the usual share
//! (the field's 1 in 3 until its own counts take over).
//!
//! **Lifecycle.** Open once. Escalate when the excess of critical posts (above the
//! expected) in the last bucket is twice the level of the open or the last escalation, and
//! significant; that level is the most seen in the bucket after the event, so a burst
//! filling the window in does not escalate, nor does a busier hour. Close after `calm_minutes` of completed
//! buckets near the baseline (tail above 0.01, or at most 1.5× expected). After a close, no
//! new alert for `cooldown_minutes` unless the window doubles the last level, and no window
//! reaching back before the close. The state of
//! each name and its undelivered events are written to the store in one batch before they
//! are handed on: a restart repeats nothing, and re-reads the stored slots to go on
//! counting calm buckets of an open alert.
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

/// Short window lengths tested, in slots of 5 minutes: they see a sharp spike within
/// minutes, the [`BUCKET_WINDOWS`] a slow one.
const SHORT_WINDOWS: [i64; 2] = [1, 2];
/// Window lengths in buckets.
const BUCKET_WINDOWS: [i64; 4] = [1, 2, 4, 8];
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
    /// The p-value threshold over every window.
    pub alpha: f64,
    /// The smallest ratio to the baseline.
    pub min_ratio: f64,
    /// Critical posts at least.
    pub min_critical: u32,
}

impl Sensitivity {
    /// The preset's p-value threshold and minimum ratio.
    pub fn preset(self) -> (f64, f64) {
        match self {
            Sensitivity::Low => (1e-6, 2.5),
            Sensitivity::Medium => (1e-4, 2.0),
            Sensitivity::High => (1e-3, 1.5),
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
            overrides: a.entities.clone(),
            tz,
            fit: FitParams::default(),
        })
    }

    /// How many windows each test covers (the p-value threshold is `alpha / k`).
    pub fn window_count(&self) -> usize {
        windows(self.bucket_secs).len()
    }

    /// Whether an opening or escalating event's figures also pass `sensitivity`'s
    /// thresholds: a server asking for fewer alerts than the detector runs at filters with it.
    pub fn passes(&self, sensitivity: Sensitivity, e: &AlertEvent) -> bool {
        let (alpha, min_ratio) = sensitivity.preset();
        e.p_value < alpha / self.window_count() as f64 && e.ratio >= min_ratio
    }

    /// The rules of one name: its overrides over the defaults.
    pub fn rules(&self, entity: &str) -> Rules {
        let o = self.overrides.get(entity);
        let sensitivity = o.and_then(|o| o.sensitivity).unwrap_or(self.sensitivity);
        let (alpha, min_ratio) = sensitivity.preset();
        Rules {
            alpha,
            min_ratio,
            min_critical: o.and_then(|o| o.min_critical).unwrap_or(self.min_critical),
        }
    }
}

/// The window lengths tested for buckets of `bucket_secs`, in slots.
fn windows(bucket_secs: i64) -> Vec<i64> {
    let per_bucket = bucket_secs / SLOT_SECS;
    let mut w: Vec<i64> = SHORT_WINDOWS
        .iter()
        .copied()
        .chain(BUCKET_WINDOWS.iter().map(|b| b * per_bucket))
        .collect();
    w.sort_unstable();
    w.dedup();
    w
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
}

/// An open alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAlert {
    /// Its id: the name and its opening time.
    pub id: String,
    /// When it opened.
    pub opened_at: i64,
    /// The window that opened it, in slots of 5 minutes.
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
    how: HashMap<i64, usize>,
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
            how: HashMap::new(),
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
    /// moves the clock to its latest minute, and evaluates the names it moved and the open
    /// alerts. Returns the events, already stored in the outbox, with their ids.
    pub fn on_commit(&mut self, c: &Committed) -> anyhow::Result<Vec<(u64, Outgoing)>> {
        let Some(latest) = c.buckets.iter().map(|b| b.minute).max() else {
            return Ok(Vec::new());
        };
        let wall = Utc::now().timestamp();
        let latest = ((latest + 1) * 60).min(wall + 300);
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
        let touched: BTreeSet<String> = c
            .buckets
            .iter()
            .filter(|b| b.entity != ALL_POSTS)
            .map(|b| b.entity.clone())
            .collect();
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
        self.evaluate_all(&BTreeSet::new())
    }

    /// Reads the mirrors again from the store (after missing commits).
    pub fn resync(&mut self) -> anyhow::Result<()> {
        self.loaded = false;
        if self.now != i64::MIN {
            self.load()?;
        }
        Ok(())
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
        // History stops two hours back: a burst under way is not its own baseline.
        let (from, to) = (now_h - self.settings.history_hours, now_h - 1);
        let covered: Vec<(i64, u64, u64, u64)> = self
            .hours
            .range(from..to)
            .filter_map(|(h, scopes)| {
                let all = scopes.get(ALL_POSTS)?.posts;
                (all > 0).then(|| {
                    let e = scopes.get(entity).copied().unwrap_or_default();
                    (*h, all, e.posts, e.critical)
                })
            })
            .collect();
        if self.global.as_ref().is_none_or(|(h, _)| *h != now_h) {
            let obs: Vec<(usize, f64)> = covered
                .iter()
                .map(|(h, all, _, _)| (self.hour_of_week(*h), *all as f64))
                .collect();
            self.global = Some((now_h, baseline::profile(obs)));
        }
        let obs: Vec<HourObs> = covered
            .iter()
            .map(|&(hour, _, mentions, critical)| HourObs {
                hour,
                how: self.hour_of_week(hour),
                mentions,
                critical,
            })
            .collect();
        let global = &self.global.as_ref().expect("just set").1;
        let b = baseline::fit(&obs, global, &self.settings.fit);
        self.fits.insert(entity.to_string(), (now_h, b.clone()));
        b
    }

    /// Counts and expectation of `entity` in `[start, end)`.
    fn window(&mut self, entity: &str, base: &Baseline, start: i64, end: i64) -> Window {
        let (mut mentions, mut critical, mut exposure) = (0u64, 0u64, 0.0);
        let mut slot = start.div_euclid(SLOT_SECS);
        while slot * SLOT_SECS < end {
            let s0 = slot * SLOT_SECS;
            let overlap = (end.min(s0 + SLOT_SECS) - start.max(s0)).max(0) as f64;
            if let Some(c) = self.slots.get(&slot).and_then(|m| m.get(entity)) {
                mentions += u64::from(c.posts);
                critical += u64::from(c.critical);
            }
            let how = self.hour_of_week(s0.div_euclid(3600));
            exposure += base.profile[how] * overlap / 3600.0;
            slot += 1;
        }
        // The window's critical rate: Gamma from the baseline (its mean, its shape), updated
        // by the window's neutral mentions, which a bad buzz does not add to: a busy day
        // raises the expectation, criticism alone does not. With no history the prior is
        // flat and the test is one of the critical share against the usual share.
        let hist_mean = base.critical_rate * exposure;
        let s = base.share.clamp(0.01, 0.99);
        let neutral = mentions.saturating_sub(critical) as f64;
        // The prior is as firm as the rhythm of these hours is known: an hour of the day
        // never seen yet (a name's first morning) leans on the window's own mentions.
        let seen = f64::from(base.seen_days[start.div_euclid(3600).rem_euclid(24) as usize]);
        let firmness = seen / (seen + 2.0);
        let (a, b) = if hist_mean > 0.0 && firmness > 0.0 {
            let a = base.shape * firmness;
            (a, a / hist_mean)
        } else {
            (0.5, 0.0)
        };
        let (a, b) = (a + neutral, b + (1.0 - s) / s);
        let (mean, shape) = if b > 0.0 { (a / b, a) } else { (0.0, a) };
        let m = mentions as f64;
        Window {
            start,
            end,
            mentions,
            critical,
            expected_mentions: base.mentions_rate * exposure,
            expected_critical: mean,
            shape: shape.min(self.settings.fit.max_shape),
            share: if mentions > 0 {
                critical as f64 / m
            } else {
                0.0
            },
        }
    }

    /// The window lengths tested, in slots.
    fn windows(&self) -> Vec<i64> {
        windows(self.settings.bucket_secs)
    }

    /// The window of `slots` slots ending now (the last one partly elapsed).
    fn recent(&mut self, entity: &str, base: &Baseline, slots: i64) -> Window {
        let last = (self.now - 1).div_euclid(SLOT_SECS);
        let start = (last - slots + 1) * SLOT_SECS;
        self.window(entity, base, start, self.now)
    }

    fn evaluate(&mut self, entity: &str) -> anyhow::Result<Option<Outgoing>> {
        let rules = self.settings.rules(entity);
        let base = self.baseline(entity);
        let mut state = self.states.get(entity).cloned().unwrap_or_default();
        let event = match state.open.clone() {
            None => {
                let mut best: Option<(Window, i64, f64)> = None;
                let windows = self.windows();
                for &w in &windows {
                    let win = self.recent(entity, &base, w);
                    // A closed alert's posts do not open another one.
                    if state.closed_at.is_some_and(|t| win.start < t) {
                        continue;
                    }
                    let p = win.p_value();
                    let passes = win.critical >= u64::from(rules.min_critical)
                        && p < rules.alpha / windows.len() as f64
                        && win.critical as f64 >= rules.min_ratio * win.expected_critical
                        && win.share > base.share;
                    if passes && best.as_ref().is_none_or(|(_, _, bp)| p < *bp) {
                        best = Some((win, w, p));
                    }
                }
                let Some((win, w, p)) = best else {
                    return Ok(None);
                };
                let cooling = state
                    .closed_at
                    .is_some_and(|t| self.now - t < self.settings.cooldown_secs);
                let per_bucket = self.settings.bucket_secs / SLOT_SECS;
                let bucket = self.recent(entity, &base, per_bucket);
                if cooling && bucket.excess() < 2 * state.last_level.max(1) {
                    return Ok(None);
                }
                let opened = DateTime::from_timestamp(self.now, 0).unwrap_or_default();
                let open = OpenAlert {
                    id: format!("{entity}@{}", opened.format("%Y-%m-%dT%H:%MZ")),
                    opened_at: self.now,
                    window_slots: w,
                    level: bucket.excess(),
                    settle_until: self.now + self.settings.bucket_secs,
                    escalations: 0,
                    calm: 0,
                    checked_bucket: (self.now - 1).div_euclid(self.settings.bucket_secs) - 1,
                };
                state.open = Some(open.clone());
                Some((EventKind::Open, win, p, open))
            }
            Some(mut open) => {
                let per_bucket = self.settings.bucket_secs / SLOT_SECS;
                let win = self.recent(entity, &base, per_bucket);
                let mut event = None;
                if self.now <= open.settle_until {
                    open.level = open.level.max(win.excess());
                } else if win.excess() >= 2 * open.level.max(1)
                    && win.critical >= u64::from(rules.min_critical)
                    && win.p_value() < rules.alpha / self.windows().len() as f64
                {
                    open.level = win.excess();
                    open.settle_until = self.now + self.settings.bucket_secs;
                    open.escalations += 1;
                    open.calm = 0;
                    event = Some((EventKind::Escalate, win, win.p_value(), open.clone()));
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
                    if open.calm >= self.settings.calm_buckets {
                        let start = (b + 1 - i64::from(open.calm)) * bs;
                        closed = Some(self.window(entity, &base, start, (b + 1) * bs));
                        break;
                    }
                }
                if let Some(calm) = closed {
                    state.open = None;
                    state.closed_at = Some(self.now);
                    state.last_level = open.level;
                    let p = calm.p_value();
                    event = Some((EventKind::Close, calm, p, open));
                } else {
                    state.open = Some(open);
                }
                event
            }
        };
        if state.open.is_some() || event.is_some() {
            self.states.insert(entity.to_string(), state);
        }
        let Some((kind, win, p, open)) = event else {
            return Ok(None);
        };
        Ok(Some(self.outgoing(entity, kind, &win, p, &open, &base)?))
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
            let mut ing = Ingestor::new(self.watcher.clone(), &self.store).with_events(tx);
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
                        self.seq += 1;
                        let at = self.t + self.rng.gen_range(0..60);
                        ing.process(Post {
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
                        })
                        .expect("processed");
                    }
                }
                self.t += 60;
                if (self.t - START) % 900 == 0 {
                    ing.commit(None).expect("commit");
                    ing.sync().expect("written");
                    while let Ok(c) = rx.try_recv() {
                        let d = self.detector.as_mut().expect("detector");
                        events.extend(d.on_commit(&c).expect("evaluated").into_iter().map(
                            |(id, o)| {
                                self.store.ack_alert_event(id).expect("ack");
                                o.event
                            },
                        ));
                    }
                }
            }
            ing.finish().expect("finished");
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
    fn a_flat_stream_with_ordinary_noise_never_alerts() {
        let mut s = Stream::new();
        let events = s.run(6 * DAY, 20.0, 40.0);
        assert!(events.is_empty(), "{events:#?}");
    }

    #[test]
    fn a_clean_burst_opens_once_and_closes_once_and_a_restart_repeats_nothing() {
        let mut s = Stream::new();
        assert!(s.run(5 * DAY + 12 * 60, 20.0, 40.0).is_empty());
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
        assert!(s.run(5 * DAY + 12 * 60, 20.0, 40.0).is_empty());
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

    #[test]
    fn a_past_burst_does_not_blind_the_detector_the_next_week() {
        let mut s = Stream::new();
        assert!(s.run(2 * DAY + 12 * 60, 20.0, 40.0).is_empty());
        let first = s.run(90, 150.0, 40.0);
        assert_eq!(first.first().map(|e| e.event), Some(EventKind::Open));
        s.run(7 * DAY - 90, 20.0, 40.0);
        let again = s.run(90, 150.0, 40.0);
        assert_eq!(
            again.first().map(|e| e.event),
            Some(EventKind::Open),
            "{again:#?}"
        );
    }
}

//! Figures the benchmarks print: percentiles, milliseconds, a process's resident memory.

#![allow(dead_code)]

use std::time::Duration;

/// The `p` quantile (0 to 1) of durations sorted in increasing order.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Milliseconds, one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Resident memory of process `pid` (`self` for this one) now and at its peak, in MiB.
pub fn memory_of(pid: &str) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |k| k / 1024.0)
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

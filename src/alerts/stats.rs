//! The negative binomial distribution of counts, parametrised by its mean and shape: the
//! predictive distribution of a Poisson count whose rate is known up to a Gamma uncertainty
//! (shape `r`). As `r` grows it tends to the Poisson distribution of the same mean.

/// `ln P(X = x)` for every `x` from 0, one after the other (a recurrence, no gamma function).
struct LogPmf {
    x: u64,
    lp: f64,
    r: f64,
    ln_q: f64,
}

impl LogPmf {
    fn new(mean: f64, r: f64) -> LogPmf {
        LogPmf {
            x: 0,
            lp: -r * (mean / r).ln_1p(),
            r,
            ln_q: (mean / (r + mean)).ln(),
        }
    }

    /// Moves to `x + 1`.
    fn step(&mut self) {
        self.lp += ((self.x as f64 + self.r) / (self.x as f64 + 1.0)).ln() + self.ln_q;
        self.x += 1;
    }
}

/// `P(X >= k)` for `X` negative binomial of mean `mean` and shape `r` (> 0).
pub fn nb_sf(k: u64, mean: f64, r: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if mean <= 0.0 {
        return 0.0;
    }
    let r = r.max(1e-3);
    let mode = if r > 1.0 {
        ((r - 1.0) * mean / r).floor() as u64
    } else {
        0
    };
    let mut pmf = LogPmf::new(mean, r);
    if k <= mode {
        // Most of the mass is above k: 1 - P(X < k), summed in logs.
        let mut acc = f64::NEG_INFINITY;
        while pmf.x < k {
            acc = log_add(acc, pmf.lp);
            pmf.step();
        }
        return (1.0 - acc.exp()).clamp(0.0, 1.0);
    }
    while pmf.x < k {
        pmf.step();
    }
    // The tail from k, each term relative to the first; terms decrease from the mode on.
    let first = pmf.lp;
    let mut sum = 0.0;
    for _ in 0..1_000_000 {
        let term = (pmf.lp - first).exp();
        sum += term;
        if term < 1e-14 * sum {
            break;
        }
        pmf.step();
    }
    (first.exp() * sum).clamp(0.0, 1.0)
}

/// The smallest `k` with `P(X <= k) >= q`.
pub fn nb_quantile(q: f64, mean: f64, r: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    let mut pmf = LogPmf::new(mean, r.max(1e-3));
    let mut acc = 0.0;
    loop {
        acc += pmf.lp.exp();
        if acc >= q || pmf.x > 10_000_000 {
            return pmf.x;
        }
        pmf.step();
    }
}

fn log_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poisson_sf(k: u64, mean: f64) -> f64 {
        // Direct sum of the Poisson pmf, for small means.
        let mut p = (-mean).exp();
        let mut cdf = 0.0;
        for x in 0..k {
            cdf += p;
            p *= mean / (x as f64 + 1.0);
        }
        1.0 - cdf
    }

    #[test]
    fn a_large_shape_is_poisson() {
        for (k, mean) in [
            (0, 3.0),
            (1, 3.0),
            (3, 3.0),
            (8, 3.0),
            (20, 10.0),
            (2, 10.0),
        ] {
            let nb = nb_sf(k, mean, 1e7);
            let p = poisson_sf(k, mean);
            assert!((nb - p).abs() < 1e-5, "k={k} mean={mean}: {nb} vs {p}");
        }
    }

    #[test]
    fn a_small_shape_has_a_heavier_tail() {
        // Geometric (r = 1) of mean 3: P(X >= k) = (3/4)^k.
        assert!((nb_sf(5, 3.0, 1.0) - 0.75f64.powi(5)).abs() < 1e-9);
        assert!(nb_sf(15, 5.0, 5.0) > nb_sf(15, 5.0, 1e6));
    }

    #[test]
    fn far_tails_are_tiny_not_zero_and_large_means_work() {
        let p = nb_sf(60, 10.0, 1e6);
        assert!(p > 0.0 && p < 1e-20, "{p}");
        let p = nb_sf(10_500, 10_000.0, 1e6);
        assert!(p > 1e-7 && p < 1e-5, "{p}");
        assert!(nb_sf(9_000, 10_000.0, 1e6) > 0.999);
    }

    #[test]
    fn quantiles_invert_the_distribution() {
        let q = nb_quantile(0.9, 4.0, 50.0);
        assert!(nb_sf(q + 1, 4.0, 50.0) <= 0.1 && nb_sf(q, 4.0, 50.0) > 0.1);
        assert_eq!(nb_quantile(0.5, 0.0, 10.0), 0);
    }
}

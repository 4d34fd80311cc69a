//! Distribution functions the intervals need: Student's t quantiles (through the regularised incomplete
//! beta function) and binomial tail probabilities. Pure, no dependencies: a statistics crate for two
//! functions would be more code to trust than these forty lines, which the tests pin to published tables.

/// ln Γ(x) for x > 0 (Lanczos approximation, |error| < 2e-10).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 6] = [
        76.180_091_729_471_46,
        -86.505_320_329_416_77,
        24.014_098_240_830_91,
        -1.231_739_572_450_155,
        0.120_865_097_386_617_9e-2,
        -0.539_523_938_495_3e-5,
    ];
    let mut y = x;
    let tmp = x + 5.5;
    let tmp = tmp - (x + 0.5) * tmp.ln();
    let mut ser = 1.000_000_000_190_015;
    for g in G {
        y += 1.0;
        ser += g / y;
    }
    -tmp + (2.506_628_274_631_000_5 * ser / x).ln()
}

/// Continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=1000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-14 {
            break;
        }
    }
    h
}

/// Regularised incomplete beta function I_x(a, b).
fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// P(T ≤ t) for Student's t with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * inc_beta(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// The `q` quantile of Student's t with `df` degrees of freedom (df is capped at 10⁴, where t is normal
/// to five digits). Bisection: 100 halvings of [0, 1e4] are exact to far below what the intervals show.
pub fn t_quantile(q: f64, df: f64) -> f64 {
    let df = df.clamp(0.1, 1e4);
    if q == 0.5 {
        return 0.0;
    }
    if q < 0.5 {
        return -t_quantile(1.0 - q, df);
    }
    let (mut lo, mut hi) = (0.0_f64, 1e4_f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The two-sided critical value for a `confidence` interval (e.g. 0.99 → the 0.995 quantile).
/// Memoised per thread: `compare` asks for the same few (confidence, df) pairs thousands of times.
pub fn t_critical(confidence: f64, df: f64) -> f64 {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CACHE: RefCell<HashMap<(u64, u64), f64>> = RefCell::new(HashMap::new());
    }
    let key = (confidence.to_bits(), df.to_bits());
    if let Some(v) = CACHE.with(|c| c.borrow().get(&key).copied()) {
        return v;
    }
    let v = t_quantile(1.0 - (1.0 - confidence) / 2.0, df);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 10_000 {
            c.clear();
        }
        c.insert(key, v);
    });
    v
}

/// P(X ≤ k) for X ~ Binomial(n, 1/2).
pub fn binomial_half_cdf(k: usize, n: usize) -> f64 {
    // Exact in f64 for the n a cell has (≤ 1000): sum C(n, i) / 2^n computed in logs.
    let ln2n = n as f64 * std::f64::consts::LN_2;
    (0..=k.min(n))
        .map(|i| {
            (ln_gamma(n as f64 + 1.0)
                - ln_gamma(i as f64 + 1.0)
                - ln_gamma((n - i) as f64 + 1.0)
                - ln2n)
                .exp()
        })
        .sum::<f64>()
        .min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_published_tables() {
        // Two-sided critical values from any t table.
        for (conf, df, want) in [
            (0.95, 1.0, 12.706),
            (0.95, 4.0, 2.776),
            (0.99, 4.0, 4.604),
            (0.999, 4.0, 8.610),
            (0.95, 10.0, 2.228),
            (0.99, 30.0, 2.750),
            (0.95, 1e4, 1.960),
        ] {
            let got = t_critical(conf, df);
            assert!(
                (got - want).abs() < 2e-3,
                "t({conf}, {df}) = {got}, want {want}"
            );
        }
        assert!((t_cdf(0.0, 5.0) - 0.5).abs() < 1e-12);
        assert!((t_quantile(0.025, 4.0) + 2.776).abs() < 2e-3);
    }

    #[test]
    fn binomial_tail() {
        assert!((binomial_half_cdf(0, 3) - 0.125).abs() < 1e-12);
        assert!((binomial_half_cdf(1, 6) - 7.0 / 64.0).abs() < 1e-12);
        assert!((binomial_half_cdf(10, 10) - 1.0).abs() < 1e-12);
    }
}

//! Number formatting for people: three significant digits, units scaled to the value (µs vs ms, KiB vs
//! MiB, k vs M). Deterministic, so reports can be snapshot-tested.

use super::metrics::{Estimate, Unit};

/// Three significant digits, no exponent, trailing zeros after the point removed ("1.5", "123", "0.0123").
pub fn sig3(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() {
            "0".into()
        } else {
            format!("{v}")
        };
    }
    let mag = v.abs().log10().floor() as i32;
    let decimals = (2 - mag).clamp(0, 9) as usize;
    let s = format!("{v:.decimals$}");
    // Rounding may have produced one more digit (999.5 → "1000"); that is fine to print.
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A count with SI suffix: 950, 1.2k, 64k, 1M.
pub fn fmt_count(v: f64) -> String {
    si(v, "")
}

/// A rate with SI suffix and unit: "123k msg/s".
pub fn fmt_rate(v: f64, unit: &str) -> String {
    format!("{} {unit}", si(v, ""))
}

fn si(v: f64, sep: &str) -> String {
    let a = v.abs();
    let (div, suffix) = if a >= 1e12 {
        (1e12, "T")
    } else if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    format!("{}{sep}{suffix}", sig3(v / div))
}

/// Bytes in binary units: "812 B", "1.5 KiB", "3.2 MiB".
pub fn fmt_bytes(v: f64) -> String {
    let (div, unit) = bytes_scale(v);
    format!("{} {unit}", sig3(v / div))
}

fn bytes_scale(v: f64) -> (f64, &'static str) {
    let a = v.abs();
    if a >= 1024.0 * 1024.0 * 1024.0 {
        (1024.0 * 1024.0 * 1024.0, "GiB")
    } else if a >= 1024.0 * 1024.0 {
        (1024.0 * 1024.0, "MiB")
    } else if a >= 1024.0 {
        (1024.0, "KiB")
    } else {
        (1.0, "B")
    }
}

fn nanos_scale(v: f64) -> (f64, &'static str) {
    let a = v.abs();
    if a >= 1e9 {
        (1e9, "s")
    } else if a >= 1e6 {
        (1e6, "ms")
    } else if a >= 1e3 {
        (1e3, "µs")
    } else {
        (1.0, "ns")
    }
}

fn si_scale(v: f64) -> (f64, &'static str) {
    let a = v.abs();
    if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "k")
    } else {
        (1.0, "")
    }
}

/// The divisor and the unit text to print `v` of `unit` with (e.g. 1500 ns → (1000, "µs")).
pub fn scale(unit: Unit, v: f64) -> (f64, String) {
    match unit {
        Unit::Nanos => {
            let (d, u) = nanos_scale(v);
            (d, u.into())
        }
        Unit::Millis => {
            let (d, u) = nanos_scale(v * 1e6);
            (d / 1e6, u.into())
        }
        Unit::Seconds => {
            let (d, u) = nanos_scale(v * 1e9);
            (d / 1e9, u.into())
        }
        Unit::Bytes => {
            let (d, u) = bytes_scale(v);
            (d, u.into())
        }
        Unit::BytesPerS => {
            let (d, u) = bytes_scale(v);
            (d, format!("{u}/s"))
        }
        Unit::MsgsPerS => {
            let (d, p) = si_scale(v);
            (d, format!("{p} msg/s").trim_start().to_string())
        }
        Unit::ItemsPerS => {
            let (d, p) = si_scale(v);
            (d, format!("{p} items/s").trim_start().to_string())
        }
        Unit::MicrosPerMsg => (1.0, "µs/msg".into()),
        Unit::Cores => (1.0, "cores".into()),
        Unit::Count | Unit::Plain => {
            let (d, p) = si_scale(v);
            (d, p.into())
        }
    }
}

/// `v` with its unit, e.g. "12.3 µs", "1.2 MiB", "123k msg/s", "0.8 cores", "42".
pub fn fmt_value(unit: Unit, v: f64) -> String {
    let (d, u) = scale(unit, v);
    join(sig3(v / d), &u)
}

fn join(num: String, unit: &str) -> String {
    if unit.is_empty() {
        num
    } else if matches!(unit.split(' ').next(), Some("k" | "M" | "G" | "T")) {
        // SI prefixes stick to the number: "123k msg/s".
        format!("{num}{unit}")
    } else {
        format!("{num} {unit}")
    }
}

/// An interval printed in one scale: "12.1–12.6 µs".
pub fn fmt_range(unit: Unit, lo: f64, hi: f64) -> String {
    let (d, u) = scale(unit, lo.abs().max(hi.abs()));
    let body = format!("{}–{}", sig3(lo / d), sig3(hi / d));
    join(body, &u)
}

/// "12.3 µs [12.1–12.6 µs]", or just the value when there is no interval.
pub fn fmt_estimate(unit: Unit, e: &Estimate) -> String {
    if e.has_interval {
        format!(
            "{} [{}]",
            fmt_value(unit, e.median),
            fmt_range(unit, e.lo, e.hi)
        )
    } else {
        fmt_value(unit, e.median)
    }
}

/// A ratio: "1.00×", "0.93×", "12.4×".
pub fn fmt_ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

/// A ratio's interval: "0.90–0.95".
pub fn fmt_ratio_range(lo: f64, hi: f64) -> String {
    let f = |r: f64| {
        if r >= 10.0 {
            format!("{r:.1}")
        } else {
            format!("{r:.2}")
        }
    };
    format!("{}–{}", f(lo), f(hi))
}

/// A signed percentage: "+4.2%", "−12%".
pub fn fmt_pct(p: f64) -> String {
    let body = if p.abs() >= 10.0 {
        format!("{:.0}", p.abs())
    } else {
        format!("{:.1}", p.abs())
    };
    if body == "0.0" {
        "0.0%".into()
    } else if p < 0.0 {
        format!("−{body}%")
    } else {
        format!("+{body}%")
    }
}

/// Tick label on a chart axis: compact, with the unit.
pub fn fmt_tick(unit: Unit, v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else {
        fmt_value(unit, v)
    }
}

/// A compact count for a fixed-width terminal column: fixed decimals, the SI suffix and `unit` stuck to
/// the number ("12.3k", "1.50MB", "812.0"); "-" when missing. Unlike [`fmt_value`] it keeps a constant
/// number of decimals per scale, so a column of them lines up.
pub fn fmt_compact(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "-".into(),
        Some(v) if v >= 1e9 => format!("{:.2}G{unit}", v / 1e9),
        Some(v) if v >= 1e6 => format!("{:.2}M{unit}", v / 1e6),
        Some(v) if v >= 1e4 => format!("{:.1}k{unit}", v / 1e3),
        Some(v) => format!("{v:.1}{unit}"),
    }
}

/// A compact duration in nanoseconds for a fixed-width terminal column ("1.23ms", "45.6µs", "812.0ns");
/// "-" when missing.
pub fn fmt_compact_ns(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v >= 1e6 => format!("{:.2}ms", v / 1e6),
        Some(v) if v >= 1e3 => format!("{:.1}µs", v / 1e3),
        Some(v) => format!("{v:.1}ns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(sig3(0.0), "0");
        assert_eq!(sig3(1.0), "1");
        assert_eq!(sig3(12.345), "12.3");
        assert_eq!(sig3(123.45), "123");
        assert_eq!(sig3(1234.6), "1235");
        assert_eq!(sig3(0.012345), "0.0123");
        assert_eq!(sig3(-2.5), "-2.5");
    }

    #[test]
    fn units_scale() {
        assert_eq!(fmt_value(Unit::Nanos, 950.0), "950 ns");
        assert_eq!(fmt_value(Unit::Nanos, 12_345.0), "12.3 µs");
        assert_eq!(fmt_value(Unit::Millis, 0.5), "500 µs");
        assert_eq!(fmt_value(Unit::Millis, 1500.0), "1.5 s");
        assert_eq!(fmt_value(Unit::Bytes, 1536.0), "1.5 KiB");
        assert_eq!(fmt_value(Unit::Bytes, 512.0), "512 B");
        assert_eq!(fmt_value(Unit::MsgsPerS, 123_456.0), "123k msg/s");
        assert_eq!(fmt_value(Unit::MsgsPerS, 12.0), "12 msg/s");
        assert_eq!(fmt_value(Unit::Count, 1_000_000.0), "1M");
        assert_eq!(fmt_range(Unit::Nanos, 12_100.0, 12_600.0), "12.1–12.6 µs");
        assert_eq!(fmt_pct(-12.34), "−12%");
        assert_eq!(fmt_pct(4.21), "+4.2%");
        assert_eq!(fmt_pct(-0.04), "0.0%");
        assert_eq!(fmt_ratio(0.934), "0.93×");
        assert_eq!(fmt_compact(Some(12_345.0), ""), "12.3k");
        assert_eq!(fmt_compact(Some(1_500_000.0), "B"), "1.50MB");
        assert_eq!(fmt_compact(Some(812.0), ""), "812.0");
        assert_eq!(fmt_compact(None, ""), "-");
        assert_eq!(fmt_compact_ns(Some(1_234_567.0)), "1.23ms");
        assert_eq!(fmt_compact_ns(Some(45_600.0)), "45.6µs");
        assert_eq!(fmt_compact_ns(Some(812.0)), "812.0ns");
    }
}

//! PF_RING's number formatting (`pfring_format_numbers`), shared by the tools and the C API.

use std::fmt::Write as _;

/// PF_RING's `pfring_format_numbers`: thousands grouped with an apostrophe (`1'234'567`),
/// with two decimals when `decimals` (`1'234.50`); values below 1000 are printed `%.2f` / `%u`.
/// Like PF_RING, only up to 10^12 is grouped (the billions group wraps beyond that).
#[doc(alias = "pfring_format_numbers")]
pub fn format_numbers(val: f64, decimals: bool) -> String {
    let v = if val.is_finite() && val > 0.0 {
        val
    } else {
        0.0
    };
    let whole = v as u64;
    let a1 = (whole / 1_000_000_000) % 1000;
    let a = (whole / 1_000_000) % 1000;
    let b = (whole / 1000) % 1000;
    let c = whole % 1000;
    let d = (((v - whole as f64) * 100.0) as u64) % 100;
    let mut s = if v >= 1e9 {
        format!("{a1}'{a:03}'{b:03}'{c:03}")
    } else if v >= 1e6 {
        format!("{a}'{b:03}'{c:03}")
    } else if v >= 1000.0 {
        format!("{b}'{c:03}")
    } else if decimals {
        return format!("{v:.2}");
    } else {
        return format!("{c}");
    };
    if decimals {
        let _ = write!(s, ".{d:02}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_like_pfring() {
        assert_eq!(format_numbers(0.0, false), "0");
        assert_eq!(format_numbers(999.0, false), "999");
        assert_eq!(format_numbers(999.5, true), "999.50");
        assert_eq!(format_numbers(1000.0, false), "1'000");
        assert_eq!(format_numbers(1234567.0, false), "1'234'567");
        assert_eq!(format_numbers(-5.0, false), "0");
        assert_eq!(format_numbers(f64::NAN, true), "0.00");
        assert_eq!(format_numbers(2_000_000_001.0, false), "2'000'000'001");
        assert_eq!(format_numbers(1234.5, true), "1'234.50");
        assert_eq!(format_numbers(100_000.0, false), "100'000");
        assert_eq!(format_numbers(1_234_567_890.0, false), "1'234'567'890");
        assert_eq!(format_numbers(2_000_000.25, true), "2'000'000.25");
        assert_eq!(format_numbers(f64::NAN, true), "0.00");
    }
}

//! Durations as Go's `time.ParseDuration` reads them (what cosign's `--timeout` and notation's
//! `--expiry` take): one or more `NUMBER UNIT` pairs, `3h20m`, `90s`, `1h30m10s`, `1.5h`,
//! `250ms`, with the units `ns`, `us` (`µs`), `ms`, `s`, `m` and `h`.
//!
//! Two extensions that Go refuses, kept because imgseal has always accepted them: `d` (24
//! hours: `30d`) and a bare whole number meaning seconds (`90`).
//! Negative durations and a leading `+` are refused (nothing in imgseal waits a negative time).

use std::time::Duration;

/// A duration that [`parse`] cannot read, with the text given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a duration like 90s, 3m, 1h30m, 24h or 30d")]
#[non_exhaustive]
pub struct DurationError {
    /// The text that was given.
    pub input: String,
}

/// Read a Go-style duration (see the module documentation).
///
/// ```
/// use std::time::Duration;
/// use imgseal::util::duration::parse;
/// assert_eq!(parse("3h20m").unwrap(), Duration::from_secs(3 * 3600 + 20 * 60));
/// assert_eq!(parse("1h30m10s").unwrap(), Duration::from_secs(5410));
/// assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
/// assert_eq!(parse("30d").unwrap(), Duration::from_secs(30 * 86_400));
/// assert_eq!(parse("90").unwrap(), Duration::from_secs(90));
/// assert!(parse("3x").is_err());
/// assert!(parse("h").is_err());
/// assert!(parse("-5m").is_err());
/// ```
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let bad = || DurationError {
        input: s.to_string(),
    };
    if s.is_empty() {
        return Err(bad());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u64>().map(Duration::from_secs).map_err(|_| bad());
    }
    let mut total: u128 = 0; // nanoseconds
    let mut rest = s;
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after) = rest.strip_prefix('.') {
            let n = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            frac_part = &after[..n];
            rest = &after[n..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        let mut part = whole.checked_mul(unit).ok_or_else(bad)?;
        // The fraction, digit by digit, truncated below a nanosecond as Go does.
        let mut scale = unit;
        for d in frac_part.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            part = part
                .checked_add(u128::from(d - b'0') * scale)
                .ok_or_else(bad)?;
        }
        total = total.checked_add(part).ok_or_else(bad)?;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad())?;
    // The remainder is below 10^9, so it fits.
    let nanos = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_examples() {
        let s = Duration::from_secs;
        for (text, want) in [
            ("3h20m", s(12_000)),
            ("90s", s(90)),
            ("1h30m10s", s(5410)),
            ("24h", s(86_400)),
            ("0", s(0)),
            ("0s", s(0)),
            ("1m30s", s(90)),
            (".5s", Duration::from_millis(500)),
            ("1.25m", s(75)),
            ("1500us", Duration::from_micros(1500)),
            ("2µs", Duration::from_micros(2)),
            ("7ns", Duration::from_nanos(7)),
            ("1d12h", s(129_600)),
        ] {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn malformed() {
        for text in [
            "", "h", "3x", "3 h", "-3h", "+3h", "1h-2m", ".s", "3hh", "1e3s", "3H",
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.input, text);
            assert!(!e.to_string().contains('\n'));
        }
        assert!(parse("99999999999999999999h").is_err());
    }
}

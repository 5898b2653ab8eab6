//! Time: the one RFC 3339 writer and reader of the crate, and the [`Clock`] that every time
//! check reads.
//!
//! RFC 3339 text goes through the `time` crate. [`format_rfc3339`] renders any instant for
//! messages (UTC, fractional seconds only when the instant has them);
//! [`format_rfc3339_seconds`] writes the whole-second `YYYY-MM-DDTHH:MM:SSZ` form that goes on
//! the wire; [`parse_rfc3339`] reads RFC 3339 §5.6 `date-time` strictly (a `T` between date and
//! time, no leap seconds — Go's parser refuses them too).
//!
//! Code that checks validity periods (certificates, timestamps, CRLs) takes the current time
//! as an `impl` [`Clock`]: a [`SystemTime`] is a clock stopped at that instant (what tests and
//! existing callers pass), [`SystemClock`] reads the wall clock, [`FixedClock`] names a fixed
//! instant explicitly.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Where "now" comes from, for everything that checks time.
pub trait Clock: fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock stopped at one instant (for tests and for checks "as of" a given time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedClock(pub SystemTime);

impl FixedClock {
    /// A clock stopped `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> FixedClock {
        FixedClock(UNIX_EPOCH + Duration::from_secs(secs))
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// An instant is a clock stopped at that instant.
impl Clock for SystemTime {
    fn now(&self) -> SystemTime {
        *self
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

/// Nanoseconds since the Unix epoch (negative before it).
fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// RFC 3339 UTC rendering of `t`, for messages: `2024-06-18T07:21:38Z`, with fractional
/// seconds only when `t` has them. An instant the format cannot express (before year 0 or
/// after 9999) is written as its Unix seconds.
pub fn format_rfc3339(t: SystemTime) -> String {
    let nanos = unix_nanos(t);
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|dt| dt.format(&Rfc3339).ok())
        .unwrap_or_else(|| nanos.div_euclid(1_000_000_000).to_string())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for `secs` seconds after the Unix epoch; `None` before 1970 or after
/// 9999.
pub fn format_rfc3339_seconds(secs: i64) -> Option<String> {
    let dt = OffsetDateTime::from_unix_timestamp(secs).ok()?;
    if !(1970..=9999).contains(&dt.year()) {
        return None;
    }
    dt.format(&Rfc3339).ok()
}

/// Parse an RFC 3339 `date-time` (§5.6): `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `T` and `Z`
/// may be lower case; digits after the ninth fractional one are ignored. Seconds must be
/// 00–59. `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    // The `time` crate accepts any date/time separator and leap seconds; RFC 3339's
    // `date-time` (and Go) do not.
    if b.len() < 20 || !matches!(b[10], b'T' | b't') || &b[17..19] == b"60" {
        return None;
    }
    let dt = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    // Seconds and nanoseconds apart: nanoseconds since 1970 overflow a u64 after year 2554.
    let nanos = dt.unix_timestamp_nanos();
    let secs = u64::try_from(nanos.unsigned_abs() / 1_000_000_000).ok()?;
    let sub = (nanos.unsigned_abs() % 1_000_000_000) as u32;
    let whole = Duration::new(secs, sub);
    if nanos >= 0 {
        UNIX_EPOCH.checked_add(whole)
    } else {
        UNIX_EPOCH.checked_sub(whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn reads_the_last_second_of_year_9999() {
        assert_eq!(
            parse_rfc3339("9999-12-31T23:59:59Z"),
            Some(at(253_402_300_799))
        );
    }

    #[test]
    fn formats_whole_and_fractional_seconds() {
        assert_eq!(format_rfc3339(at(1_661_781_000)), "2022-08-29T13:50:00Z");
        assert_eq!(
            format_rfc3339(at(1_661_781_000) + Duration::from_millis(500)),
            "2022-08-29T13:50:00.5Z"
        );
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339_seconds(1_661_781_000).as_deref(),
            Some("2022-08-29T13:50:00Z")
        );
        assert_eq!(format_rfc3339_seconds(-1), None);
        assert_eq!(format_rfc3339_seconds(253_402_300_800), None); // year 10000
    }

    #[test]
    fn parses_offsets_fractions_and_lower_case() {
        assert_eq!(
            parse_rfc3339("2022-08-29T13:50:00Z"),
            Some(at(1_661_781_000))
        );
        assert_eq!(
            parse_rfc3339("2023-01-19T00:21:36-08:00"),
            parse_rfc3339("2023-01-19T08:21:36Z")
        );
        assert_eq!(
            parse_rfc3339("2024-06-18T15:21:38+08:00"),
            parse_rfc3339("2024-06-18T07:21:38Z")
        );
        assert_eq!(
            parse_rfc3339("2020-11-09T07:00:00.5Z"),
            Some(at(1_604_905_200) + Duration::from_millis(500))
        );
        assert_eq!(parse_rfc3339("2000-02-29t12:00:00z"), Some(at(951_825_600)));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        for secs in [
            0u64,
            951_825_600,
            1_661_781_000,
            4_092_599_400,
            4_102_444_799,
            253_402_300_799,
        ] {
            let text = format_rfc3339(at(secs));
            assert_eq!(parse_rfc3339(&text), Some(at(secs)), "{text}");
        }
    }

    #[test]
    fn refuses_malformed_times() {
        for bad in [
            "",
            "2022-08-29",
            "2022-08-29 13:50:00Z",
            "2022-08-29T13:50:00",
            "2022-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2022-08-29T24:00:00Z",
            "2022-08-29T13:60:00Z",
            "2022-08-29T13:50:60Z",
            "2016-12-31T23:59:60Z",
            "2022-08-29T13:50:00.Z",
            "2022-08-29T13:50:00+0800",
            "2022-08-29T13:50:00+24:00",
            "2022-08-29T13:50:00Zjunk",
            "+022-08-29T13:50:00Z",
            "2022-08-29T13:50:00ü",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn clocks() {
        let t = at(1_000);
        assert_eq!(t.now(), t);
        assert_eq!(FixedClock(t).now(), t);
        assert_eq!(FixedClock::at_unix(1_000).now(), t);
        assert!(SystemClock.now() > t);
        let by_ref: &dyn Clock = &FixedClock(t);
        assert_eq!(by_ref.now(), t);
    }
}

//! Cognito's TIMESTAMP challenge response format, `EEE MMM d HH:mm:ss UTC yyyy`
//! (Java `SimpleDateFormat` pattern, English names, day of month not zero-padded), e.g.
//! `Tue Mar 5 01:02:03 UTC 2024`.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, Weekday};

const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Monday, "Mon"),
    (Weekday::Tuesday, "Tue"),
    (Weekday::Wednesday, "Wed"),
    (Weekday::Thursday, "Thu"),
    (Weekday::Friday, "Fri"),
    (Weekday::Saturday, "Sat"),
    (Weekday::Sunday, "Sun"),
];

const MONTHS: [(Month, &str); 12] = [
    (Month::January, "Jan"),
    (Month::February, "Feb"),
    (Month::March, "Mar"),
    (Month::April, "Apr"),
    (Month::May, "May"),
    (Month::June, "Jun"),
    (Month::July, "Jul"),
    (Month::August, "Aug"),
    (Month::September, "Sep"),
    (Month::October, "Oct"),
    (Month::November, "Nov"),
    (Month::December, "Dec"),
];

fn weekday_name(day: Weekday) -> &'static str {
    WEEKDAYS
        .iter()
        .find(|(d, _)| *d == day)
        .map(|(_, name)| *name)
        .expect("every weekday is listed")
}

fn month_name(month: Month) -> &'static str {
    MONTHS
        .iter()
        .find(|(m, _)| *m == month)
        .map(|(_, name)| *name)
        .expect("every month is listed")
}

/// Cognito's TIMESTAMP format `EEE MMM d HH:mm:ss UTC yyyy` (day not zero-padded), from Unix
/// seconds. Instants outside what `time` represents (years ±9999) saturate to its limits.
pub fn format_timestamp(unix_secs: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp(unix_secs).unwrap_or(if unix_secs < 0 {
        PrimitiveDateTime::MIN.assume_utc()
    } else {
        PrimitiveDateTime::MAX.assume_utc()
    });
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        weekday_name(at.weekday()),
        month_name(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.year()
    )
}

/// Parses a TIMESTAMP back to Unix seconds. Accepts the day with or without a leading zero
/// (pycognito's main flow pads it on some platforms); day and month names match
/// ASCII-case-insensitively, as Java's parser does. Everything else is strict: single spaces,
/// two-digit time fields, a four-digit year, the literal `UTC`, and a weekday that agrees with
/// the date (no client sends anything else, and a mismatch means a forged or garbled value).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let mut fields = s.split(' ');
    let weekday = fields.next()?;
    let month = fields.next()?;
    let day = fields.next()?;
    let clock = fields.next()?;
    let zone = fields.next()?;
    let year = fields.next()?;
    if fields.next().is_some() || zone != "UTC" {
        return None;
    }

    let weekday = WEEKDAYS
        .iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(weekday))?
        .0;
    let month = MONTHS
        .iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(month))?
        .0;
    let day = digits(day, 1..=2)?;
    let year = digits(year, 4..=4)?;
    let mut clock = clock.split(':');
    let hour = digits(clock.next()?, 2..=2)?;
    let minute = digits(clock.next()?, 2..=2)?;
    let second = digits(clock.next()?, 2..=2)?;
    if clock.next().is_some() {
        return None;
    }

    let date =
        Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    if date.weekday() != weekday {
        return None;
    }
    let time = Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// An unsigned decimal of an allowed number of ASCII digits.
fn digits(s: &str, len: std::ops::RangeInclusive<usize>) -> Option<u32> {
    if !len.contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2018-09-25T15:24:37Z, the test vector's TIMESTAMP.
    const VECTOR_SECS: i64 = 1_537_889_077;
    // 2024-03-05T01:02:03Z, a single-digit day.
    const MARCH_5_SECS: i64 = 1_709_600_523;

    #[test]
    fn formats_like_the_clients() {
        assert_eq!(
            format_timestamp(VECTOR_SECS),
            "Tue Sep 25 15:24:37 UTC 2018"
        );
        assert_eq!(
            format_timestamp(MARCH_5_SECS),
            "Tue Mar 5 01:02:03 UTC 2024"
        );
        assert_eq!(format_timestamp(0), "Thu Jan 1 00:00:00 UTC 1970");
    }

    #[test]
    fn parses_both_day_forms() {
        assert_eq!(
            parse_timestamp("Tue Sep 25 15:24:37 UTC 2018"),
            Some(VECTOR_SECS)
        );
        assert_eq!(
            parse_timestamp("Tue Mar 5 01:02:03 UTC 2024"),
            Some(MARCH_5_SECS)
        );
        assert_eq!(
            parse_timestamp("Tue Mar 05 01:02:03 UTC 2024"),
            Some(MARCH_5_SECS)
        );
        assert_eq!(
            parse_timestamp("tue MAR 5 01:02:03 UTC 2024"),
            Some(MARCH_5_SECS)
        );
    }

    #[test]
    fn round_trips() {
        for secs in [0, 1, 59, 86_399, VECTOR_SECS, MARCH_5_SECS, 4_102_444_799] {
            assert_eq!(parse_timestamp(&format_timestamp(secs)), Some(secs));
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "Tue Mar 5 01:02:03 GMT 2024",
            "Wed Mar 5 01:02:03 UTC 2024",
            "Tue Mar  5 01:02:03 UTC 2024",
            "Tue Mar 5 1:02:03 UTC 2024",
            "Tue Mar 5 01:02 UTC 2024",
            "Tue Mar 5 01:02:03:04 UTC 2024",
            "Tue Mar 5 24:00:00 UTC 2024",
            "Tue Mar 5 01:02:03 UTC 24",
            "Tue Mar 005 01:02:03 UTC 2024",
            "Tue Mar 5 01:02:03 UTC 2024 ",
            "Tue Mar 32 01:02:03 UTC 2024",
            "Tue Foo 5 01:02:03 UTC 2024",
            "Tue Mar +5 01:02:03 UTC 2024",
            "2024-03-05T01:02:03Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }
}

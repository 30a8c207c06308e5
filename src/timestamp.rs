//! GitHub's clock: the `Date` header of its answers and the ISO 8601 times in its bodies,
//! as Unix seconds. Ages and durations come from GitHub's times against its own `Date`,
//! never against this machine's clock, which may be off.

/// A time on GitHub's clock, in seconds since the epoch: its `Date` header, a run's
/// timestamps. A type of its own, so it is never compared with this machine's clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GitHubSecs(pub u64);

impl GitHubSecs {
    /// Seconds from `earlier` to this one; 0 when `earlier` is later.
    pub fn since(self, earlier: GitHubSecs) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// `secs` before this one.
    pub fn minus(self, secs: u64) -> GitHubSecs {
        GitHubSecs(self.0.saturating_sub(secs))
    }
}

/// A time on this machine's wall clock, in milliseconds since the epoch: only what is
/// saved for another process (scheduling within a process is on the monotonic clock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalMs(pub u64);

impl LocalMs {
    /// Now.
    pub fn now() -> LocalMs {
        LocalMs(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        )
    }

    /// Milliseconds from `earlier` to this one; 0 when `earlier` is later.
    pub fn since(self, earlier: LocalMs) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// `ms` after this one.
    pub fn plus(self, ms: u64) -> LocalMs {
        LocalMs(self.0.saturating_add(ms))
    }
}

/// Seconds since the epoch of `2026-12-01T19:15:45Z` (GitHub also writes `+00:00`).
pub fn parse_iso(text: &str) -> Option<u64> {
    let text = text.trim();
    let (date, time) = text.split_once('T')?;
    let time = time
        .strip_suffix('Z')
        .or_else(|| time.strip_suffix("+00:00"))?;
    let time = time.split('.').next()?;
    let mut d = date.split('-').map(|p| p.parse::<u64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, min, s) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || min > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, m, day)? * 86400 + h * 3600 + min * 60 + s)
}

/// `Tue, 01 Dec 2026 19:15:45 GMT` (the `Date` header) as seconds since the epoch.
pub fn parse_http(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut words = text.split_whitespace().skip(1);
    let day: u64 = words.next()?.parse().ok()?;
    let name = words.next()?;
    let month = MONTHS.iter().position(|m| *m == name)? as u64 + 1;
    let year: u64 = words.next()?.parse().ok()?;
    let mut t = words.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, min, s) = (t.next()??, t.next()??, t.next()??);
    Some(days_from_civil(year, month, day)? * 86400 + h * 3600 + min * 60 + s)
}

/// `2026-12-01T19:15:45Z`, as GitHub's search qualifiers take it.
pub fn format_iso(secs: u64) -> String {
    let (y, m, d) = civil_from_days(secs / 86400);
    let rem = secs % 86400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `48s`, `1m12s`, `2h5m`: a duration as the writer reads it.
pub fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

// Howard Hinnant's algorithms for the proleptic Gregorian calendar.
fn days_from_civil(y: u64, m: u64, d: u64) -> Option<u64> {
    let y = y as i64 - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u64::try_from(era * 146_097 + doe - 719_468).ok()
}

fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        (yoe + era * 400 + i64::from(m <= 2)) as u64,
        m as u64,
        d as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_times_round_trip() {
        let t = parse_iso("2026-12-01T19:15:45Z").unwrap();
        assert_eq!(format_iso(t), "2026-12-01T19:15:45Z");
        assert_eq!(parse_http("Tue, 01 Dec 2026 19:15:45 GMT"), Some(t));
        assert_eq!(parse_iso("2026-12-01T19:15:45.123+00:00"), Some(t));
        assert_eq!(parse_iso("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(format_iso(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(parse_iso("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_iso("yesterday"), None);
        assert_eq!(duration(48), "48s");
        assert_eq!(duration(72), "1m12s");
        assert_eq!(duration(7500), "2h05m");
    }
}

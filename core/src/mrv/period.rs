//! Export periods (SPEC §8): a calendar quarter, half-year or year in UTC, `[period_start,
//! period_end)` on `event_timestamp`, named by the instant it ends at.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::mrv::error::MrvError;
use crate::proof::UtcMicros;

/// The length of an export window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    /// A calendar quarter (`3M`).
    ThreeMonths,
    /// A calendar half-year (`6M`).
    SixMonths,
    /// A calendar year (`12M`).
    TwelveMonths,
}

impl Period {
    /// Every period, shortest first.
    pub const ALL: [Period; 3] = [Self::ThreeMonths, Self::SixMonths, Self::TwelveMonths];

    /// The wire form: `3M`, `6M` or `12M`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThreeMonths => "3M",
            Self::SixMonths => "6M",
            Self::TwelveMonths => "12M",
        }
    }

    /// The window length in calendar months.
    pub fn months(self) -> u32 {
        match self {
            Self::ThreeMonths => 3,
            Self::SixMonths => 6,
            Self::TwelveMonths => 12,
        }
    }

    /// The months (1–12) whose first day may end a window of this period.
    fn boundary_months(self) -> &'static [u32] {
        match self {
            Self::ThreeMonths => &[1, 4, 7, 10],
            Self::SixMonths => &[1, 7],
            Self::TwelveMonths => &[1],
        }
    }

    /// The allowed `period_end` values, as a phrase for error messages.
    pub(crate) fn boundaries(self) -> &'static str {
        match self {
            Self::ThreeMonths => "January 1, April 1, July 1 or October 1 at 00:00:00Z",
            Self::SixMonths => "January 1 or July 1 at 00:00:00Z",
            Self::TwelveMonths => "January 1 at 00:00:00Z",
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Period {
    type Err = MrvError;

    fn from_str(s: &str) -> Result<Self, MrvError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| MrvError::InvalidPeriod {
                reason: format!("period {s:?} is not one of 3M, 6M, 12M"),
            })
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A calendar-aligned export window `[period_start, period_end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExportWindow {
    /// Its length.
    pub period: Period,
    /// The first instant included.
    pub period_start: UtcMicros,
    /// The first instant excluded: the first day of a boundary month at midnight UTC.
    pub period_end: UtcMicros,
}

impl ExportWindow {
    /// The window of `period` that ends at `period_end`, which must be one of its calendar
    /// boundaries, else `GREENOS_MRV_INVALID_PERIOD` naming the allowed boundaries.
    pub fn from_period_end(period: Period, period_end: UtcMicros) -> Result<Self, MrvError> {
        let end = period_end.as_datetime();
        let aligned = end.day() == 1
            && period.boundary_months().contains(&end.month())
            && end.time() == NaiveTime::MIN
            && end.nanosecond() == 0;
        if !aligned {
            return Err(MrvError::InvalidPeriod {
                reason: format!(
                    "period_end {period_end} does not end a {period} window: it must be {}",
                    period.boundaries()
                ),
            });
        }
        let start = end
            .checked_sub_months(Months::new(period.months()))
            .ok_or_else(|| MrvError::InvalidPeriod {
                reason: format!("period_end {period_end} is out of range"),
            })?;
        let period_start = UtcMicros::truncating(start);
        if period_start < UtcMicros::earliest_trip() {
            return Err(MrvError::InvalidPeriod {
                reason: format!(
                    "the {period} window ending at {period_end} starts before 2000-01-01, earlier than any trip GreenOS records"
                ),
            });
        }
        Ok(Self {
            period,
            period_start,
            period_end,
        })
    }

    /// The latest window of `period` that has closed at `now`.
    pub fn latest_closed(period: Period, now: UtcMicros) -> Option<ExportWindow> {
        let now = now.as_datetime();
        let mut year = now.year();
        let mut month = now.month();
        // The first boundary month at or before now's month, then its first day at midnight.
        loop {
            if period.boundary_months().contains(&month) {
                break;
            }
            if month == 1 {
                month = 12;
                year -= 1;
            } else {
                month -= 1;
            }
        }
        let end = NaiveDate::from_ymd_opt(year, month, 1)?.and_time(NaiveTime::MIN);
        let end = UtcMicros::truncating(Utc.from_utc_datetime(&end));
        ExportWindow::from_period_end(period, end).ok()
    }

    /// The closed windows of `period` that end after `from`, oldest first, up to `now`.
    pub fn closed_since(period: Period, from: UtcMicros, now: UtcMicros) -> Vec<ExportWindow> {
        let mut windows = Vec::new();
        let mut next = Self::latest_closed(period, now);
        while let Some(window) = next {
            if window.period_end <= from {
                break;
            }
            next = Self::latest_closed(period, window.period_start)
                .filter(|earlier| earlier.period_end < window.period_end);
            windows.push(window);
        }
        windows.reverse();
        windows
    }

    /// Refuses a window that has not closed at `now` (`GREENOS_MRV_PERIOD_NOT_CLOSED`).
    pub fn check_closed(&self, now: UtcMicros) -> Result<(), MrvError> {
        if self.period_end <= now {
            return Ok(());
        }
        Err(MrvError::PeriodNotClosed {
            period_start: self.period_start.to_string(),
            period_end: self.period_end.to_string(),
            now: now.to_string(),
        })
    }

    /// Parses `period` and `period_end` as a client sends them; `period_end` is RFC 3339
    /// (`2026-04-01T00:00:00Z`) or a bare date (`2026-04-01`, meaning midnight UTC).
    pub fn parse(period: &str, period_end: &str) -> Result<Self, MrvError> {
        let period: Period = period.parse()?;
        Self::from_period_end(period, parse_period_end(period_end)?)
    }
}

/// RFC 3339, or `YYYY-MM-DD` as midnight UTC.
fn parse_period_end(text: &str) -> Result<UtcMicros, MrvError> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN));
        return Ok(UtcMicros::truncating(midnight));
    }
    UtcMicros::parse_rfc3339(text).map_err(|e| MrvError::InvalidPeriod {
        reason: format!("period_end: {e}; expected e.g. 2026-04-01T00:00:00Z"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(period: &str, end: &str) -> Result<(String, String), String> {
        ExportWindow::parse(period, end)
            .map(|w| (w.period_start.to_string(), w.period_end.to_string()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn closed_windows_are_the_calendar_ones_before_now() {
        let at = |s: &str| UtcMicros::parse_rfc3339(s).expect("instant");
        let now = at("2026-12-01T15:00:00Z");
        let latest = ExportWindow::latest_closed(Period::ThreeMonths, now).expect("a quarter");
        assert_eq!(latest.period_end.to_string(), "2026-10-01T00:00:00.000000Z");
        let half = ExportWindow::latest_closed(Period::SixMonths, now).expect("a half");
        assert_eq!(half.period_end.to_string(), "2026-07-01T00:00:00.000000Z");
        let boundary =
            ExportWindow::latest_closed(Period::TwelveMonths, at("2027-01-01T00:00:00Z"))
                .expect("a year");
        assert_eq!(
            boundary.period_start.to_string(),
            "2026-01-01T00:00:00.000000Z"
        );
        let ends: Vec<String> =
            ExportWindow::closed_since(Period::ThreeMonths, at("2026-01-01T00:00:00Z"), now)
                .iter()
                .map(|w| w.period_end.to_string()[..10].to_owned())
                .collect();
        assert_eq!(ends, ["2026-04-01", "2026-07-01", "2026-10-01"]);
        let mid: Vec<String> =
            ExportWindow::closed_since(Period::ThreeMonths, at("2026-02-15T00:00:00Z"), now)
                .iter()
                .map(|w| w.period_end.to_string()[..10].to_owned())
                .collect();
        assert_eq!(mid, ["2026-04-01", "2026-07-01", "2026-10-01"]);
    }

    #[test]
    fn windows_end_on_calendar_boundaries() {
        assert_eq!(
            window("3M", "2026-04-01T00:00:00Z"),
            Ok((
                "2026-01-01T00:00:00.000000Z".to_owned(),
                "2026-04-01T00:00:00.000000Z".to_owned()
            ))
        );
        assert_eq!(
            window("6M", "2026-01-01").map(|w| w.0),
            Ok("2025-07-01T00:00:00.000000Z".to_owned())
        );
        assert_eq!(
            window("12M", "2027-01-01T01:00:00+01:00").map(|w| w.0),
            Ok("2026-01-01T00:00:00.000000Z".to_owned())
        );
        assert_eq!(
            window("3M", "2026-10-01T00:00:00Z").map(|w| w.0),
            Ok("2026-07-01T00:00:00.000000Z".to_owned())
        );
    }

    #[test]
    fn other_instants_are_refused_with_the_allowed_boundaries() {
        for (period, end) in [
            ("3M", "2026-05-01T00:00:00Z"),
            ("3M", "2026-04-02T00:00:00Z"),
            ("3M", "2026-04-01T00:00:00.000001Z"),
            ("6M", "2026-04-01T00:00:00Z"),
            ("12M", "2026-07-01"),
            ("1M", "2026-04-01"),
            ("3M", "April 1st"),
        ] {
            let err = window(period, end).expect_err(end);
            assert!(
                err.contains("must be") || err.contains("3M, 6M, 12M") || err.contains("expected"),
                "{err}"
            );
        }
        let err = window("6M", "2026-04-01").expect_err("not a half-year");
        assert!(err.contains("January 1 or July 1"), "{err}");
    }
}

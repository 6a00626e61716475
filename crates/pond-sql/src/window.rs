//! Reading a table in a window of event time: what `pond cat --time-start/--time-end`
//! asks for, and what a chart of a series will.
//!
//! A [`TimeWindow`] is half open, `[start, end)`, in microseconds since the epoch (UTC).
//! [`PondSession::open_window`] gives the table's rows in it as a DataFrame, the filter on
//! the series' timestamp column, so a scan prunes versions by their recorded range and
//! row groups by their statistics before reading any row.

use std::sync::Arc;

use datafusion::dataframe::DataFrame;
use datafusion::prelude::{Expr, ident, lit};
use tinyfs::EntryType;

use crate::context::PondSession;
use crate::error::{Error, Result};
use crate::file_table::{FileTable, Scope};

/// A window of event time, `[start, end)`, in microseconds since the epoch; either side
/// may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeWindow {
    /// The first instant in the window.
    pub start: Option<i64>,
    /// The first instant after it.
    pub end: Option<i64>,
}

impl TimeWindow {
    /// Whether the window holds all of time.
    pub fn is_all(&self) -> bool {
        self.start.is_none() && self.end.is_none()
    }

    /// Whether the window holds no instant (it ends where or before it starts).
    pub fn is_empty(&self) -> bool {
        matches!((self.start, self.end), (Some(s), Some(e)) if s >= e)
    }
}

/// `text` as an instant, in microseconds since the epoch (see [`parse_instant_at`]),
/// relative times counted from now.
pub fn parse_instant(text: &str) -> std::result::Result<i64, String> {
    parse_instant_at(text, chrono::Local::now())
}

/// `text` as an instant, in microseconds since the epoch, relative times counted from
/// `now`:
///
/// - RFC 3339 (`2024-05-01T12:00:00Z`, `…+02:00`);
/// - a local date-time, without an offset (`2024-05-01T12:00:00`, `2024-05-01 12:00`), or
///   a local date (its midnight): local in the zone of `now` (for [`parse_instant`], the
///   zone `TZ` names, else the system's);
/// - `now`, `today`, `yesterday` or `tomorrow` (local midnight), optionally followed by an
///   offset: `today-7d`, `now+1h`;
/// - an offset alone, from now: `-6h`, `-1d`, `-2w` (units `s`, `m`, `h`, `d`, `w`).
///
/// The error says which forms there are; a local time the clocks skipped (a daylight
/// saving gap) is one too, and one they passed twice is the earlier.
pub fn parse_instant_at<Tz: chrono::TimeZone>(
    text: &str,
    now: chrono::DateTime<Tz>,
) -> std::result::Result<i64, String> {
    let zone = now.timezone();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(dt.timestamp_micros());
    }
    let skipped = || format!("{text:?} is not a time here: the clocks skipped it");
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return local(&zone, dt).ok_or_else(skipped);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return midnight(&zone, d).ok_or_else(skipped);
    }
    relative(text.trim(), &now).ok_or_else(|| {
        format!(
            "{text:?} is not a time: use RFC 3339 (2024-05-01T12:00:00Z), a local date or time \
             (2024-05-01, 2024-05-01T06:00), or a time relative to now (-6h, -1d, yesterday, \
             today-7d, now-30m)"
        )
    })
}

/// The instant the local time `naive` names in `zone`: the earlier of two, none in a gap.
fn local<Tz: chrono::TimeZone>(zone: &Tz, naive: chrono::NaiveDateTime) -> Option<i64> {
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp_micros())
}

/// The start of `day` in `zone` (its first instant, should midnight itself be skipped).
fn midnight<Tz: chrono::TimeZone>(zone: &Tz, day: chrono::NaiveDate) -> Option<i64> {
    (0..24).find_map(|hour| local(zone, day.and_hms_opt(hour, 0, 0)?))
}

/// `[anchor][(+|-)N unit]`, at least one of the two.
fn relative<Tz: chrono::TimeZone>(text: &str, now: &chrono::DateTime<Tz>) -> Option<i64> {
    let zone = now.timezone();
    let today = now.date_naive();
    let day = chrono::Days::new(1);
    let anchors = [
        ("now", Some(now.timestamp_micros())),
        ("today", midnight(&zone, today)),
        (
            "yesterday",
            today.checked_sub_days(day).and_then(|d| midnight(&zone, d)),
        ),
        (
            "tomorrow",
            today.checked_add_days(day).and_then(|d| midnight(&zone, d)),
        ),
    ];
    let (start, offset) = match anchors.iter().find(|(name, _)| text.starts_with(name)) {
        Some((name, at)) => ((*at)?, &text[name.len()..]),
        None => (now.timestamp_micros(), text),
    };
    if offset.is_empty() {
        return (offset.len() < text.len()).then_some(start);
    }
    let (sign, rest) = match offset.as_bytes()[0] {
        b'-' => (-1, &offset[1..]),
        b'+' => (1, &offset[1..]),
        _ => return None,
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let count: i64 = rest[..digits].parse().ok()?;
    let unit: i64 = match &rest[digits..] {
        "s" => 1_000_000,
        "m" | "min" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        "w" => 7 * 86_400_000_000,
        _ => return None,
    };
    start.checked_add(sign * count.checked_mul(unit)?)
}

/// A table opened for reading in a window.
#[derive(Debug)]
pub struct Windowed {
    /// The table side of the file.
    pub table: Arc<dyn FileTable>,
    /// The scope it was opened in.
    pub scope: Scope,
    /// `file:table` or `file:series`.
    pub entry_type: EntryType,
    /// The series' timestamp column, if it has one.
    pub timestamp_column: Option<String>,
    /// Its rows in the window, in no particular order.
    pub frame: DataFrame,
}

impl Windowed {
    /// The rows in time order, for a series with a timestamp column (a merge of its
    /// time-ordered versions, not a sort, for a stored series); otherwise as they are.
    pub fn in_time_order(self) -> Result<DataFrame> {
        match (&self.timestamp_column, self.entry_type) {
            (Some(column), EntryType::FileSeries) => Ok(self
                .frame
                .sort(vec![ident(column).sort(true, false)])
                .map_err(Error::Sql)?),
            _ => Ok(self.frame),
        }
    }
}

/// Microseconds since the epoch as a UTC timestamp literal.
fn instant(micros: i64) -> Expr {
    lit(datafusion::common::ScalarValue::TimestampMicrosecond(
        Some(micros),
        Some(crate::UTC.into()),
    ))
}

impl PondSession {
    /// The table at `path` with its rows in `window` (all of them for
    /// [`TimeWindow::default`]). A window on a table without a timestamp column is
    /// [`Error::NoTimeColumn`].
    pub async fn open_window(&self, path: &str, window: TimeWindow) -> Result<Windowed> {
        let (table, scope) = self.open(path).await?;
        let entry_type = table.entry_type();
        let mut frame = self
            .context()
            .read_table(table.provider(&scope).await?)
            .map_err(Error::Sql)?;
        let timestamp_column = match entry_type {
            EntryType::FileSeries => table.timestamp_column(&scope).await?,
            _ if !window.is_all() => table.timestamp_column(&scope).await?,
            _ => None,
        };
        if !window.is_all() {
            let column = timestamp_column
                .as_deref()
                .ok_or_else(|| Error::NoTimeColumn {
                    path: path.to_string(),
                    entry_type,
                })?;
            if let Some(t) = window.start {
                frame = frame
                    .filter(ident(column).gt_eq(instant(t)))
                    .map_err(Error::Sql)?;
            }
            if let Some(t) = window.end {
                frame = frame
                    .filter(ident(column).lt(instant(t)))
                    .map_err(Error::Sql)?;
            }
        }
        Ok(Windowed {
            table,
            scope,
            entry_type,
            timestamp_column,
            frame,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instant RFC 3339 `text` names, in µs.
    fn t(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn instants_parse_in_three_forms() {
        let noon = 1_714_564_800_000_000;
        let utc = |text| parse_instant_at(text, chrono::Utc::now());
        assert_eq!(utc("2024-05-01T12:00:00Z"), Ok(noon));
        assert_eq!(utc("2024-05-01T14:00:00+02:00"), Ok(noon));
        assert_eq!(utc("2024-05-01T12:00:00"), Ok(noon));
        assert_eq!(utc("2024-05-01 12:00"), Ok(noon));
        assert_eq!(utc("2024-05-01"), Ok(noon - 12 * 3_600_000_000));
        let err = parse_instant("last tuesday").unwrap_err();
        assert!(err.starts_with("\"last tuesday\" is not a time"), "{err}");
    }

    #[test]
    fn dates_and_times_without_an_offset_are_local() {
        let oslo = chrono_tz::Europe::Oslo;
        let now = chrono::Utc::now().with_timezone(&oslo);
        let at = |text| parse_instant_at(text, now);
        // Summer (UTC+2) and winter (UTC+1).
        assert_eq!(at("2024-05-01"), Ok(t("2024-04-30T22:00:00Z")));
        assert_eq!(at("2024-01-15T06:30"), Ok(t("2024-01-15T05:30:00Z")));
        // An offset or Z is kept.
        assert_eq!(at("2024-05-01T00:00:00Z"), Ok(t("2024-05-01T00:00:00Z")));
        // The hour the clocks skip in spring is no time; the one they repeat in autumn is
        // its first pass.
        let err = at("2024-03-31T02:30").unwrap_err();
        assert!(err.contains("the clocks skipped it"), "{err}");
        assert_eq!(at("2024-10-27T02:30"), Ok(t("2024-10-27T00:30:00Z")));
        // Today is the local day.
        let late = chrono::DateTime::parse_from_rfc3339("2024-05-01T23:30:00Z")
            .unwrap()
            .with_timezone(&oslo);
        assert_eq!(
            parse_instant_at("today", late),
            Ok(t("2024-05-01T22:00:00Z"))
        );
        assert_eq!(
            parse_instant_at("yesterday", late),
            Ok(t("2024-04-30T22:00:00Z"))
        );
    }

    #[test]
    fn relative_times_count_from_now() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-05-01T12:30:00Z")
            .unwrap()
            .to_utc();
        let at = |text| parse_instant_at(text, now);
        assert_eq!(at("now"), Ok(t("2024-05-01T12:30:00Z")));
        assert_eq!(at("-6h"), Ok(t("2024-05-01T06:30:00Z")));
        assert_eq!(at("now-30m"), Ok(t("2024-05-01T12:00:00Z")));
        assert_eq!(at("+90s"), Ok(t("2024-05-01T12:31:30Z")));
        assert_eq!(at("-1d"), Ok(t("2024-04-30T12:30:00Z")));
        assert_eq!(at("-2w"), Ok(t("2024-04-17T12:30:00Z")));
        assert_eq!(at("today"), Ok(t("2024-05-01T00:00:00Z")));
        assert_eq!(at("yesterday"), Ok(t("2024-04-30T00:00:00Z")));
        assert_eq!(at("tomorrow"), Ok(t("2024-05-02T00:00:00Z")));
        assert_eq!(at("today-7d"), Ok(t("2024-04-24T00:00:00Z")));
        for bad in [
            "",
            "-",
            "-d",
            "-1y",
            "1d",
            "now-",
            "todayx",
            "now--1h",
            "-99999999999999w",
        ] {
            assert!(at(bad).is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn a_window_is_empty_when_it_ends_at_or_before_its_start() {
        let w = |start, end| TimeWindow { start, end };
        assert!(w(Some(5), Some(5)).is_empty());
        assert!(w(Some(6), Some(5)).is_empty());
        assert!(!w(Some(4), Some(5)).is_empty());
        assert!(!w(None, Some(5)).is_empty());
        assert!(w(None, None).is_all());
    }
}

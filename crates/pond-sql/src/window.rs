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

/// `text` as an instant, in microseconds since the epoch: RFC 3339
/// (`2024-05-01T12:00:00Z`, `…+02:00`), a date-time without an offset (taken as UTC), or a
/// date (its midnight, UTC). The error says which forms there are.
pub fn parse_instant(text: &str) -> std::result::Result<i64, String> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(dt.timestamp_micros());
    }
    if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return Ok(dt.and_utc().timestamp_micros());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
        return Ok(midnight.and_utc().timestamp_micros());
    }
    Err(format!(
        "{text:?} is not a time: use RFC 3339 (2024-05-01T12:00:00Z) or a date (2024-05-01)"
    ))
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

    #[test]
    fn instants_parse_in_three_forms() {
        let noon = 1_714_564_800_000_000;
        assert_eq!(parse_instant("2024-05-01T12:00:00Z"), Ok(noon));
        assert_eq!(parse_instant("2024-05-01T14:00:00+02:00"), Ok(noon));
        assert_eq!(parse_instant("2024-05-01T12:00:00"), Ok(noon));
        assert_eq!(parse_instant("2024-05-01"), Ok(noon - 12 * 3_600_000_000));
        let err = parse_instant("yesterday").unwrap_err();
        assert!(err.starts_with("\"yesterday\" is not a time"), "{err}");
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

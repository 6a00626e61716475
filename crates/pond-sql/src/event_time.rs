//! The event-time column of a series: finding it, and its range.

use arrow::array::{Array, RecordBatch, TimestampMicrosecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Schema, TimeUnit};
use tinyfs::{EventTime, FileVersion};

use crate::error::{Error, Result};

/// Column names taken as the event time when none is given, best first (compared without
/// case). After these, the first temporal column whose name starts with `time` or `date`.
pub const COMMON_NAMES: &[&str] = &[
    "timestamp",
    "time",
    "datetime",
    "date_time",
    "time_hour",
    "ts",
    "date",
];

fn is_temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64
    )
}

/// The event-time column of `schema`: `explicit` if given (it must exist and be a timestamp
/// or date), else one of [`COMMON_NAMES`]. `path` names the file in errors.
pub fn find_timestamp_column(
    schema: &Schema,
    explicit: Option<&str>,
    path: &str,
) -> Result<String> {
    let temporal: Vec<&str> = schema
        .fields()
        .iter()
        .filter(|f| is_temporal(f.data_type()))
        .map(|f| f.name().as_str())
        .collect();
    if let Some(name) = explicit {
        let field = schema.field_with_name(name).map_err(|_| {
            Error::invalid(
                path,
                format!(
                    "no column {name:?} (columns: {})",
                    schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        if !is_temporal(field.data_type()) {
            return Err(Error::invalid(
                path,
                format!(
                    "column {name:?} is {}, not a timestamp or date",
                    field.data_type()
                ),
            ));
        }
        return Ok(name.to_string());
    }
    for common in COMMON_NAMES {
        if let Some(name) = temporal.iter().find(|n| n.eq_ignore_ascii_case(common)) {
            return Ok(name.to_string());
        }
    }
    if let Some(name) = temporal.iter().find(|n| {
        let lower = n.to_ascii_lowercase();
        lower.starts_with("time") || lower.starts_with("date")
    }) {
        return Ok(name.to_string());
    }
    Err(Error::invalid(
        path,
        if temporal.is_empty() {
            "a series needs a timestamp column and this table has none; pass --timestamp-column NAME with a timestamp or date column".to_string()
        } else {
            format!(
                "cannot tell which column is the event time; pass --timestamp-column (timestamp columns: {})",
                temporal.join(", ")
            )
        },
    ))
}

/// Accumulates the least and greatest event time over batches, and whether the rows came
/// in time order (non-decreasing, any null times last).
#[derive(Debug)]
pub struct EventTimeRange {
    column: String,
    min: Option<i64>,
    max: Option<i64>,
    last: Option<i64>,
    seen_null: bool,
    sorted: bool,
}

impl EventTimeRange {
    /// A range over `column`, empty so far.
    pub fn new(column: impl Into<String>) -> Self {
        EventTimeRange {
            column: column.into(),
            min: None,
            max: None,
            last: None,
            seen_null: false,
            sorted: true,
        }
    }

    /// The least and greatest time so far, if any.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        Some((self.min?, self.max?))
    }

    /// Whether every row so far came in time order, null times last.
    pub fn is_sorted(&self) -> bool {
        self.sorted
    }

    /// Takes in one batch (which must have the column).
    pub fn update(&mut self, batch: &RecordBatch, path: &str) -> Result<()> {
        let column = batch.column_by_name(&self.column).ok_or_else(|| {
            Error::invalid(path, format!("no column {:?} in a batch", self.column))
        })?;
        let tz = match column.data_type() {
            DataType::Timestamp(_, tz) => tz.clone(),
            _ => None,
        };
        let micros =
            cast(column, &DataType::Timestamp(TimeUnit::Microsecond, tz)).map_err(|source| {
                Error::Arrow {
                    path: path.to_string(),
                    source,
                }
            })?;
        let micros = micros
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("cast to microseconds");
        if self.sorted {
            for value in micros.iter() {
                match value {
                    None => self.seen_null = true,
                    Some(_) if self.seen_null => self.sorted = false,
                    Some(v) if self.last.is_some_and(|l| v < l) => self.sorted = false,
                    Some(v) => self.last = Some(v),
                }
                if !self.sorted {
                    break;
                }
            }
        }
        if micros.null_count() == micros.len() {
            return Ok(());
        }
        if let Some(lo) = arrow::compute::min(micros) {
            self.min = Some(self.min.map_or(lo, |m| m.min(lo)));
        }
        if let Some(hi) = arrow::compute::max(micros) {
            self.max = Some(self.max.map_or(hi, |m| m.max(hi)));
        }
        Ok(())
    }

    /// The range, or `None` if every value was null (or there were no rows).
    pub fn finish(self) -> Option<EventTime> {
        Some(EventTime {
            column: self.column,
            min_micros: self.min?,
            max_micros: self.max?,
        })
    }
}

/// The timestamp column of a series whose versions, oldest first, are `versions`: the
/// one the latest version with an event-time range records.
pub(crate) fn timestamp_column_of<'a>(
    versions: impl DoubleEndedIterator<Item = &'a FileVersion>,
) -> Option<String> {
    versions
        .rev()
        .find_map(|v| v.event_time.as_ref().map(|t| t.column.clone()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Int64Array, TimestampSecondArray};

    use super::*;
    use crate::conform::tests::schema;

    #[test]
    fn finds_common_names_and_explains_failures() {
        let ts = DataType::Timestamp(TimeUnit::Second, None);
        let s = schema(&[("origin", DataType::Utf8), ("time_hour", ts.clone())]);
        assert_eq!(find_timestamp_column(&s, None, "/a").unwrap(), "time_hour");
        let s = schema(&[("time (UTC)", ts.clone()), ("v", DataType::Float64)]);
        assert_eq!(find_timestamp_column(&s, None, "/a").unwrap(), "time (UTC)");
        let s = schema(&[("when", ts.clone()), ("also", ts.clone())]);
        let err = find_timestamp_column(&s, None, "/a")
            .unwrap_err()
            .to_string();
        assert!(err.contains("timestamp columns: when, also"), "{err}");
        let s = schema(&[("date", DataType::Int64)]);
        let err = find_timestamp_column(&s, None, "/a")
            .unwrap_err()
            .to_string();
        assert!(err.contains("has none"), "{err}");
        let err = find_timestamp_column(&s, Some("date"), "/a")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "/a: column \"date\" is Int64, not a timestamp or date");
        let err = find_timestamp_column(&s, Some("nope"), "/a")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "/a: no column \"nope\" (columns: date)");
    }

    #[test]
    fn ranges_are_in_microseconds_utc() {
        let s = Arc::new(schema(&[
            ("t", DataType::Timestamp(TimeUnit::Second, None)),
            ("d", DataType::Date32),
            ("v", DataType::Int64),
        ]));
        let batch = RecordBatch::try_new(
            s,
            vec![
                Arc::new(TimestampSecondArray::from(vec![Some(20), None, Some(10)])),
                Arc::new(Date32Array::from(vec![1, 2, 3])),
                Arc::new(Int64Array::from(vec![1, 2, 3])),
            ],
        )
        .unwrap();
        let mut range = EventTimeRange::new("t");
        range.update(&batch, "/s").unwrap();
        assert!(!range.is_sorted(), "20, null, 10 is not in time order");
        let r = range.finish().unwrap();
        assert_eq!((r.min_micros, r.max_micros), (10_000_000, 20_000_000));
        let mut range = EventTimeRange::new("d");
        range.update(&batch, "/s").unwrap();
        range.update(&batch.slice(2, 1), "/s").unwrap();
        assert!(range.is_sorted(), "1, 2, 3, then 3 again, is in order");
        assert_eq!(range.finish().unwrap().max_micros, 3 * 86_400_000_000);
        assert!(EventTimeRange::new("t").finish().is_none());
    }
}

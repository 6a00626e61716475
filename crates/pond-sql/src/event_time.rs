//! The event-time column of a series: finding it, and its range.

use arrow::array::{Array, RecordBatch, TimestampMicrosecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::common::stats::Precision;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use parquet::file::metadata::ParquetMetaData;
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

/// The closed interval `[lo, hi]` of microseconds the conjunction of `filters` allows for
/// `column`. Conservative: a bound is only drawn from a comparison of the column (or a
/// timestamp cast of it) with a literal; anything else leaves the interval open.
pub fn time_bounds(filters: &[Expr], column: &str) -> (Option<i64>, Option<i64>) {
    let mut lo: Option<i64> = None;
    let mut hi: Option<i64> = None;
    let mut raise = |v: i64| lo = Some(lo.map_or(v, |l| l.max(v)));
    let mut lower = |v: i64| hi = Some(hi.map_or(v, |h| h.min(v)));
    let mut bounds: Vec<(Operator, i64)> = Vec::new();
    for filter in filters {
        for expr in split_conjunction(filter) {
            match expr {
                Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                    if is_column(left, column)
                        && let Some(v) = literal_micros(right)
                    {
                        bounds.push(bound(*op, v));
                    } else if is_column(right, column)
                        && let Some(v) = literal_micros(left)
                        && let Some(op) = op.swap()
                    {
                        bounds.push(bound(op, v));
                    }
                }
                Expr::Between(b) if !b.negated && is_column(&b.expr, column) => {
                    if let (Some(l), Some(h)) = (literal_micros(&b.low), literal_micros(&b.high)) {
                        bounds.push(bound(Operator::GtEq, l));
                        bounds.push(bound(Operator::LtEq, h));
                    }
                }
                _ => {}
            }
        }
    }
    for (op, v) in bounds {
        match op {
            Operator::Gt | Operator::GtEq => raise(v),
            Operator::Lt | Operator::LtEq => lower(v),
            Operator::Eq => {
                raise(v);
                lower(v);
            }
            _ => {}
        }
    }
    (lo, hi)
}

/// `column op v` as a bound on whole microseconds. Ranges hold times rounded down to the
/// microsecond, so only `< v` of a whole microsecond can be made `<= v - 1`.
fn bound(op: Operator, (micros, whole): (i64, bool)) -> (Operator, i64) {
    match op {
        Operator::Lt if whole => (Operator::LtEq, micros.saturating_sub(1)),
        op => (op, micros),
    }
}

fn is_column(expr: &Expr, column: &str) -> bool {
    match expr {
        Expr::Column(c) => c.name == column,
        // Widening a timestamp to another unit or zone keeps its order.
        Expr::Cast(c)
            if matches!(
                c.field.data_type(),
                arrow::datatypes::DataType::Timestamp(_, _)
            ) =>
        {
            is_column(&c.expr, column)
        }
        _ => false,
    }
}

/// A timestamp or date literal in microseconds since the epoch, rounded down, and
/// whether it was a whole microsecond.
fn literal_micros(expr: &Expr) -> Option<(i64, bool)> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    let whole = match value {
        ScalarValue::TimestampNanosecond(Some(v), _) => v.rem_euclid(1_000) == 0,
        _ => true,
    };
    Some((scalar_micros(value)?, whole))
}

/// A timestamp or date value in microseconds since the epoch.
fn scalar_micros(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000),
        ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(v.div_euclid(1_000)),
        ScalarValue::Date32(Some(d)) => i64::from(*d).checked_mul(86_400_000_000),
        ScalarValue::Date64(Some(ms)) => ms.checked_mul(1_000),
        _ => None,
    }
}

/// The range of `column` in a Parquet file, from its footer's statistics (in `schema`,
/// the file's Arrow schema): `None` when the column has no times or a row group keeps
/// no statistics for it.
pub fn footer_event_time(
    metadata: &ParquetMetaData,
    schema: &SchemaRef,
    column: &str,
) -> Option<EventTime> {
    let i = schema.index_of(column).ok()?;
    let statistics = DFParquetMetadata::statistics_from_parquet_metadata(metadata, schema).ok()?;
    let stats = statistics.column_statistics.get(i)?;
    let micros = |p: &Precision<ScalarValue>| match p {
        Precision::Exact(v) | Precision::Inexact(v) => scalar_micros(v),
        Precision::Absent => None,
    };
    Some(EventTime {
        column: column.to_string(),
        min_micros: micros(&stats.min_value)?,
        max_micros: micros(&stats.max_value)?,
    })
}

/// Whether a range `[min, max]` of event times meets `bounds` (from [`time_bounds`]).
pub fn overlaps(bounds: (Option<i64>, Option<i64>), range: &EventTime) -> bool {
    let (lo, hi) = bounds;
    lo.is_none_or(|lo| range.max_micros >= lo) && hi.is_none_or(|hi| range.min_micros <= hi)
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

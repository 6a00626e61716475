//! `timeseries-join`: several series on one time axis.
//!
//! ```yaml
//! inputs:
//!   - {pattern: /sensors/buoy_old.series, prefix: buoy, range: {end: 2024-06-01T00:00:00Z}}
//!   - {pattern: /sensors/buoy_new.series, prefix: buoy, range: {begin: 2024-06-01T00:00:00Z}}
//!   - {pattern: /sensors/air.series, prefix: air}
//! match: asof          # exact (the default) or asof
//! tolerance: 5m        # asof: how far back a reading may be (default: any earlier one)
//! ```
//!
//! The node is a series: `timestamp` (every time any input has a reading, UTC) and
//! `<prefix>_<column>` for each column of each prefix's inputs. A range is half-open
//! (`begin` inclusive, `end` exclusive), so a sensor swapped at `end` for one that begins
//! there contributes no duplicate row: inputs with the same prefix and disjoint ranges are
//! stitched into one set of columns (an instrument replaced without a seam). With `exact`,
//! a prefix's columns hold its reading at that very time, or null; with `asof`, its latest
//! reading at or before that time, within the tolerance. Where one prefix has two readings
//! at one time, the later-listed input's (then the later row's) counts.
//!
//! The inputs are read whole (within their ranges) and joined in memory, at each read.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray, UInt32Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use pond_sql::{FileTable, Scope};
use serde::Deserialize;
use tinyfs::{EntryType, NodeKind};

use crate::derived::computed_node;
use crate::registry::{BuildContext, Registry, TypedFactory};

/// The configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinConfig {
    /// The inputs.
    pub inputs: Vec<JoinInput>,
    /// `exact` (default) or `asof`.
    #[serde(default, rename = "match")]
    pub matching: Option<Matching>,
    /// For `asof`: how far back a reading may be (`30s`, `5m`, `1h`).
    #[serde(default)]
    pub tolerance: Option<String>,
}

/// One input.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinInput {
    /// A pond glob of series.
    pub pattern: String,
    /// The prefix of its columns.
    pub prefix: String,
    /// The times it contributes.
    #[serde(default)]
    pub range: Option<TimeRange>,
}

/// A half-open time range.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// Inclusive (RFC 3339).
    #[serde(default)]
    pub begin: Option<String>,
    /// Exclusive (RFC 3339).
    #[serde(default)]
    pub end: Option<String>,
}

/// How readings are matched to the time axis.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Matching {
    /// At the same time.
    #[default]
    Exact,
    /// The latest at or before the time.
    Asof,
}

/// `[begin, end)` in microseconds.
fn bounds(range: &Option<TimeRange>) -> Result<(i64, i64), String> {
    let parse = |t: &Option<String>, default| match t {
        Some(text) => pond_sql::parse_instant(text).map_err(|e| format!("range: {e}")),
        None => Ok(default),
    };
    let r = range.clone().unwrap_or_default();
    let (begin, end) = (parse(&r.begin, i64::MIN)?, parse(&r.end, i64::MAX)?);
    if begin >= end {
        return Err(format!(
            "range: begin {} is not before end {}",
            r.begin.unwrap_or_default(),
            r.end.unwrap_or_default()
        ));
    }
    Ok((begin, end))
}

/// A tolerance (`30s`, `5m`, `2h`, `1d`) in microseconds.
fn tolerance(text: &str) -> Result<i64, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("tolerance: {text:?} has no unit (s, m, h, d)"))?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("tolerance: {text:?} does not start with a number"))?;
    let unit = match unit {
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return Err(format!("tolerance: {text:?}: unknown unit (s, m, h, d)")),
    };
    Ok(n * unit)
}

/// The `timeseries-join` factory.
#[derive(Debug)]
pub struct JoinFactory;

#[async_trait]
impl TypedFactory for JoinFactory {
    type Config = JoinConfig;

    fn name(&self) -> &'static str {
        "timeseries-join"
    }

    fn description(&self) -> &'static str {
        "series on one time axis, exact or as-of, sensors swapped at a time stitched"
    }

    fn example(&self) -> &'static str {
        "inputs:\n  - {pattern: /sensors/air.series, prefix: air}\n  - {pattern: /sensors/water.series, prefix: water}\nmatch: asof\ntolerance: 5m\n"
    }

    fn entry_type(&self) -> EntryType {
        EntryType::FileSeries
    }

    fn check(&self, _registry: &Registry, config: &JoinConfig) -> Result<(), String> {
        if config.inputs.is_empty() {
            return Err("inputs: name at least one".into());
        }
        let mut by_prefix: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
        for input in &config.inputs {
            let pattern = tinyfs::glob::Pattern::parse(&input.pattern)
                .map_err(|e| format!("inputs: {}: {e}", input.pattern))?;
            if !pattern.is_absolute() {
                return Err(format!(
                    "inputs: {} is relative; write the pond path from /",
                    input.pattern
                ));
            }
            if input.prefix.is_empty()
                || !input
                    .prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(format!(
                    "inputs: prefix {:?}: use letters, digits and _",
                    input.prefix
                ));
            }
            let range =
                bounds(&input.range).map_err(|e| format!("inputs: {}: {e}", input.prefix))?;
            let ranges = by_prefix.entry(&input.prefix).or_default();
            if ranges.iter().any(|o| o.0 < range.1 && range.0 < o.1) {
                return Err(format!(
                    "inputs: two inputs with prefix {:?} overlap in time; give them disjoint ranges",
                    input.prefix
                ));
            }
            ranges.push(range);
        }
        match (config.matching.unwrap_or_default(), &config.tolerance) {
            (Matching::Exact, Some(_)) => Err("tolerance: only match: asof has one".into()),
            (Matching::Asof, Some(t)) => tolerance(t).map(|_| ()),
            _ => Ok(()),
        }
    }

    async fn build(&self, ctx: BuildContext, config: JoinConfig) -> tinyfs::Result<NodeKind> {
        let table = Arc::new(Join { id: ctx.id, config });
        Ok(computed_node(&ctx, table))
    }
}

fn arrow_error(e: arrow::error::ArrowError) -> pond_sql::Error {
    datafusion::error::DataFusionError::from(e).into()
}

/// A built join.
#[derive(Debug)]
struct Join {
    id: tinyfs::NodeId,
    config: JoinConfig,
}

/// One input's rows: their times (µs), and their other columns.
type Read = (Vec<i64>, RecordBatch);

/// One prefix's readings, sorted by time: the times, and the columns by name.
struct Readings {
    times: Vec<i64>,
    columns: Vec<(String, ArrayRef)>,
}

impl Join {
    fn invalid(&self, scope: &Scope, detail: String) -> pond_sql::Error {
        pond_sql::Error::invalid(scope.current(), detail)
    }

    /// The rows of the series at `path` within `[begin, end)`: their times (µs) and other
    /// columns, in one batch.
    async fn read(
        &self,
        scope: &Scope,
        path: &str,
        node: &tinyfs::Node,
        (begin, end): (i64, i64),
    ) -> pond_sql::Result<Read> {
        let table = pond_sql::file_table_of(scope.wd(), path, node).await?;
        let at = scope.at(path);
        let time = table
            .timestamp_column(&at)
            .await?
            .ok_or_else(|| self.invalid(scope, format!("{path} has no timestamp column")))?;
        let ctx = crate::reduce::scan_context(scope);
        ctx.register_table("t", table.provider(&at).await?)?;
        let q = |c: &str| format!("\"{}\"", c.replace('"', "\"\""));
        let ts = format!(
            "arrow_cast(arrow_cast({}, 'Timestamp(Microsecond, None)'), 'Int64')",
            q(&time)
        );
        let sql = format!(
            "SELECT {ts} AS \"__t\", * EXCLUDE ({}) FROM t WHERE {ts} >= {begin} AND {ts} < {end}",
            q(&time)
        );
        let df = ctx.sql(&sql).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        let batch = arrow::compute::concat_batches(&schema, &batches).map_err(arrow_error)?;
        let times = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .map(|a| a.iter().map(|v| v.unwrap_or(i64::MIN)).collect())
            .unwrap_or_default();
        let rest = batch
            .project(&(1..batch.num_columns()).collect::<Vec<_>>())
            .map_err(arrow_error)?;
        Ok((times, rest))
    }

    /// Every prefix's readings, in the order prefixes first appear.
    async fn readings(&self, scope: &Scope) -> pond_sql::Result<Vec<(String, Readings)>> {
        let mut parts: Vec<(String, Vec<Read>)> = Vec::new();
        for input in &self.config.inputs {
            let range = bounds(&input.range).map_err(|e| self.invalid(scope, e))?;
            let matches = scope.wd().glob(&input.pattern).await?;
            let mut found = false;
            for m in matches {
                if m.node.as_file().map(|f| f.entry_type()) != Some(EntryType::FileSeries) {
                    continue;
                }
                found = true;
                let read = self.read(scope, &m.path, &m.node, range).await?;
                match parts.iter_mut().find(|(p, _)| *p == input.prefix) {
                    Some((_, reads)) => reads.push(read),
                    None => parts.push((input.prefix.clone(), vec![read])),
                }
            }
            if !found {
                return Err(self.invalid(
                    scope,
                    format!("inputs: {} matches no series", input.pattern),
                ));
            }
        }
        let mut out = Vec::new();
        for (prefix, reads) in parts {
            out.push((prefix.clone(), self.stitch(scope, &prefix, reads)?));
        }
        Ok(out)
    }

    /// One prefix's reads as one set of columns (by name), sorted by time; of two readings
    /// at one time, the later read's.
    fn stitch(&self, scope: &Scope, prefix: &str, reads: Vec<Read>) -> pond_sql::Result<Readings> {
        let mut fields: Vec<Field> = Vec::new();
        for (_, batch) in &reads {
            for field in batch.schema().fields() {
                match fields.iter().find(|f| f.name() == field.name()) {
                    Some(f) if f.data_type() != field.data_type() => {
                        return Err(self.invalid(
                            scope,
                            format!(
                                "prefix {prefix}: column {} is {} in one input and {} in another",
                                field.name(),
                                f.data_type(),
                                field.data_type()
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => fields.push(field.as_ref().clone().with_nullable(true)),
                }
            }
        }
        let schema = Arc::new(Schema::new(fields.clone()));
        let mut times = Vec::new();
        let mut batches = Vec::new();
        for (t, batch) in reads {
            let columns: Vec<ArrayRef> = fields
                .iter()
                .map(|f| match batch.column_by_name(f.name()) {
                    Some(c) => c.clone(),
                    None => arrow::array::new_null_array(f.data_type(), batch.num_rows()),
                })
                .collect();
            batches.push(RecordBatch::try_new(schema.clone(), columns).map_err(arrow_error)?);
            times.extend(t);
        }
        let all = arrow::compute::concat_batches(&schema, &batches).map_err(arrow_error)?;
        // Sorted by time, stably (later reads after earlier ones at one time), and of
        // equal times the last kept.
        let mut order: Vec<u32> = (0..times.len() as u32).collect();
        order.sort_by_key(|&i| times[i as usize]);
        let mut kept: Vec<u32> = Vec::with_capacity(order.len());
        for i in order {
            match kept.last() {
                Some(&last) if times[last as usize] == times[i as usize] => {
                    *kept.last_mut().expect("not empty") = i;
                }
                _ => kept.push(i),
            }
        }
        let indices = UInt32Array::from(kept.clone());
        let columns = fields
            .iter()
            .zip(all.columns())
            .map(|(f, c)| Ok((f.name().clone(), arrow::compute::take(c, &indices, None)?)))
            .collect::<Result<Vec<_>, arrow::error::ArrowError>>()
            .map_err(arrow_error)?;
        Ok(Readings {
            times: kept.iter().map(|&i| times[i as usize]).collect(),
            columns,
        })
    }

    /// The joined rows.
    async fn compute(&self, scope: &Scope) -> pond_sql::Result<(SchemaRef, RecordBatch)> {
        let readings = self.readings(scope).await?;
        let mut axis: Vec<i64> = readings.iter().flat_map(|(_, r)| r.times.clone()).collect();
        axis.sort_unstable();
        axis.dedup();
        let asof = self.config.matching.unwrap_or_default() == Matching::Asof;
        let limit = match &self.config.tolerance {
            Some(t) => tolerance(t).map_err(|e| self.invalid(scope, e))?,
            None => i64::MAX,
        };
        let mut fields = vec![Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        )];
        let mut columns: Vec<ArrayRef> = vec![Arc::new(
            TimestampMicrosecondArray::from(axis.clone()).with_timezone("UTC"),
        )];
        for (prefix, r) in &readings {
            // Each time of the axis → the reading it takes, if any.
            let mut at = 0usize;
            let indices: UInt32Array = axis
                .iter()
                .map(|&t| {
                    while at < r.times.len() && r.times[at] <= t {
                        at += 1;
                    }
                    let last = at.checked_sub(1)?;
                    let found = r.times[last];
                    let fits = if asof {
                        t.saturating_sub(found) <= limit
                    } else {
                        found == t
                    };
                    fits.then_some(last as u32)
                })
                .collect();
            for (name, column) in &r.columns {
                fields.push(Field::new(
                    format!("{prefix}_{name}"),
                    column.data_type().clone(),
                    true,
                ));
                columns.push(arrow::compute::take(column, &indices, None).map_err(arrow_error)?);
            }
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(arrow_error)?;
        Ok((schema, batch))
    }
}

#[async_trait]
impl FileTable for Join {
    fn entry_type(&self) -> EntryType {
        EntryType::FileSeries
    }

    async fn provider(&self, scope: &Scope) -> pond_sql::Result<Arc<dyn TableProvider>> {
        // Reading the inputs may read this node again through them.
        let (schema, batch) =
            tinyfs::cycle::reading(self.id, scope.current(), self.compute(scope)).await?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }

    async fn timestamp_column(&self, _scope: &Scope) -> pond_sql::Result<Option<String>> {
        Ok(Some("timestamp".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances_and_ranges_parse() {
        assert_eq!(tolerance("5m"), Ok(300_000_000));
        assert_eq!(tolerance("2h"), Ok(7_200_000_000));
        assert!(tolerance("5").is_err());
        assert!(tolerance("5y").is_err());
        let range = Some(TimeRange {
            begin: Some("2024-06-01T00:00:00Z".into()),
            end: Some("2024-05-01T00:00:00Z".into()),
        });
        assert!(bounds(&range).unwrap_err().contains("is not before"));
        assert_eq!(bounds(&None), Ok((i64::MIN, i64::MAX)));
    }
}

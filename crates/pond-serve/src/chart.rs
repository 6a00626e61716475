//! Chart data: a series' numeric columns over a window, at a resolution that fits the
//! chart's width, so a browser never receives more points than it has pixels for.
//!
//! The resolution is picked per request:
//!
//! - **raw**: the window holds at most two rows a pixel column (estimated from the versions'
//!   recorded ranges and rows, no row read): every reading is drawn;
//! - **a rollup**: the finest level a `temporal-reduce` makes of the series whose buckets
//!   over the window number at most the width, its minimum and maximum columns (else its
//!   mean) drawn for each column asked;
//! - **decimated**: otherwise the minimum and maximum of each column in each pixel column,
//!   two points a pixel, so every peak and trough is drawn: of the coarsest rollup's
//!   minima and maxima when the series has rollups (`1d, decimated`), else of its rows.

use std::fmt::Write as _;

use anyhow::{Result, anyhow, bail};
use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use futures::TryStreamExt;
use pond_sql::PondSession;
use serde::Serialize;
use tinyfs::{EntryType, WD};

/// What a chart asks for.
#[derive(Clone, Debug, Default)]
pub struct ChartRequest {
    /// The series.
    pub path: String,
    /// The window, microseconds since the epoch: start inclusive, end exclusive; open
    /// ends are the series' own.
    pub start: Option<i64>,
    /// See `start`.
    pub end: Option<i64>,
    /// Pixel columns (at least 10, at most 10,000).
    pub width: usize,
    /// The columns to draw (default: every numeric column).
    pub columns: Option<Vec<String>>,
    /// A rollup's resolution to read, whatever the width (default: picked).
    pub resolution: Option<String>,
}

/// Chart data, as the web app's charts draw it: `t` in seconds since the epoch, and for
/// each of `columns` its values at those times (null where it has none).
#[derive(Clone, Debug, Serialize)]
pub struct ChartData {
    /// The series asked for.
    pub path: String,
    /// What was read: the series, or one of its rollups.
    pub source: String,
    /// `raw`, a rollup's resolution (`1h`), or `decimated`.
    pub resolution: String,
    /// The window drawn, microseconds since the epoch.
    pub start: i64,
    /// See `start`.
    pub end: i64,
    /// The series' whole time range, for zooming out.
    pub range: Option<(i64, i64)>,
    /// The series' numeric columns, all of which a chart can ask for.
    pub available: Vec<String>,
    /// What each of `values` is: a column, or from a rollup `column min` and `column max`
    /// (decimated, a column's list alternates each pixel's minimum and maximum).
    pub columns: Vec<String>,
    /// Times, seconds since the epoch.
    pub t: Vec<f64>,
    /// One list a column, as long as `t`.
    pub values: Vec<Vec<Option<f64>>>,
}

/// `name` as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An instant as an SQL literal.
fn literal(us: i64) -> String {
    format!("'{}'", crate::facts::micros(us))
}

/// `time` in the window from `start` (inclusive) to `end`, as SQL.
fn between(time: &str, start: i64, end: i64) -> String {
    let t = ident(time);
    format!("{t} >= {} AND {t} < {}", literal(start), literal(end))
}

/// The chart data `request` asks of the pond `root`.
pub async fn chart_data(root: &WD, request: &ChartRequest) -> Result<ChartData> {
    let width = request.width.clamp(10, 10_000);
    // The series as it is now, or one version of it (`PATH@vN`), which has no rollups.
    let parsed = tinyfs::Path::parse(&request.path)?;
    let canonical = root.canonicalize(&parsed.without_version()).await?;
    let path = match parsed.version() {
        Some(v) => format!("{canonical}@v{v}"),
        None => canonical.clone(),
    };
    let session = PondSession::new(root.clone())?;
    let summary = session.summary(&request.path).await?;
    if summary.entry_type != EntryType::FileSeries {
        bail!(
            "{path}: a chart is drawn of a series, and this is a {}",
            summary.entry_type
        );
    }
    let time = summary
        .timestamp_column
        .clone()
        .ok_or_else(|| anyhow!("{path}: the series has no timestamp column"))?;
    let available: Vec<String> = summary
        .schema
        .fields()
        .iter()
        .filter(|f| f.name() != &time && f.data_type().is_numeric())
        .map(|f| f.name().clone())
        .collect();
    let columns = match &request.columns {
        Some(asked) => {
            for c in asked {
                if !available.contains(c) {
                    bail!(
                        "{path}: no numeric column {c:?} to draw (it has {})",
                        available.join(", ")
                    );
                }
            }
            asked.clone()
        }
        None => available.clone(),
    };
    let range = match summary.range {
        Some(range) => Some(range),
        None => computed_range(&session, &request.path, &time).await?,
    };
    let (lo, hi) = range.unwrap_or((0, 0));
    let start = request.start.unwrap_or(lo);
    let end = request.end.unwrap_or(hi.saturating_add(1)).max(start + 1);
    let mut data = ChartData {
        path: path.clone(),
        source: path.clone(),
        resolution: "raw".into(),
        start,
        end,
        range,
        available,
        columns: Vec::new(),
        t: Vec::new(),
        values: Vec::new(),
    };
    if columns.is_empty() {
        return Ok(data);
    }
    let span = end - start;
    // Rows in the window, estimated from what the log records of each version.
    let estimate: f64 = summary
        .versions
        .iter()
        .map(|(v, rows)| match &v.event_time {
            Some(t) => {
                let (a, b) = (t.min_micros.max(start), t.max_micros.min(end));
                if b < a {
                    0.0
                } else {
                    let whole = (t.max_micros - t.min_micros).max(1) as f64;
                    *rows as f64 * ((b - a).max(1) as f64 / whole).min(1.0)
                }
            }
            None => *rows as f64,
        })
        .sum();
    let window = between(&time, start, end);
    let stored = !summary.versions.is_empty();
    if stored && request.resolution.is_none() && estimate <= (2 * width) as f64 {
        let select: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        let sql = format!(
            "SELECT {}, {} FROM {} WHERE {window} ORDER BY 1",
            ident(&time),
            select.join(", "),
            ident(&path)
        );
        let batches = collect(&session, &sql).await?;
        data.columns = columns;
        fill(&mut data, &batches)?;
        return Ok(data);
    }
    let rollups = match parsed.version() {
        Some(_) => Vec::new(),
        None => pond_factories::reduce::rollups_of(root, &canonical).await?,
    };
    let fits = match &request.resolution {
        Some(asked) => Some(
            rollups
                .iter()
                .find(|r| r.resolution == *asked)
                .ok_or_else(|| anyhow!("{path}: no temporal-reduce rolls it up at {asked}"))?,
        ),
        None => pond_factories::reduce::finest_fitting(&rollups, span, width as i64),
    };
    if let Some(rollup) = fits {
        let picked = rollup_columns(&session, &rollup.path, &columns).await?;
        if !picked.is_empty() {
            let mut sql = String::from("SELECT \"timestamp\"");
            for (min, max, shown) in &picked {
                if min == max {
                    write!(sql, ", {} AS {}", ident(min), ident(shown))?;
                } else {
                    write!(
                        sql,
                        ", {} AS {}",
                        ident(min),
                        ident(&format!("{shown} min"))
                    )?;
                    write!(
                        sql,
                        ", {} AS {}",
                        ident(max),
                        ident(&format!("{shown} max"))
                    )?;
                }
            }
            let window = between("timestamp", start, end);
            write!(
                sql,
                " FROM {} WHERE {window} ORDER BY 1",
                ident(&rollup.path)
            )?;
            let batches = collect(&session, &sql).await?;
            data.source = rollup.path.clone();
            data.resolution = rollup.resolution.clone();
            for (min, max, shown) in picked {
                if min == max {
                    data.columns.push(shown);
                } else {
                    data.columns.push(format!("{shown} min"));
                    data.columns.push(format!("{shown} max"));
                }
            }
            fill(&mut data, &batches)?;
            return Ok(data);
        }
    }
    // Each pixel column's minimum and maximum: two points a pixel. Of the coarsest
    // rollup's extremes when there is one (its buckets' minima and maxima hold every
    // reading's), else of the rows.
    let mut table = path.clone();
    let mut time = time.clone();
    let mut extremes: Vec<(String, String, String)> = columns
        .iter()
        .map(|c| (c.clone(), c.clone(), c.clone()))
        .collect();
    if let Some(coarsest) = rollups.last() {
        let picked = rollup_columns(&session, &coarsest.path, &columns).await?;
        if picked.len() == columns.len() {
            table = coarsest.path.clone();
            time = "timestamp".into();
            extremes = picked;
            data.source = coarsest.path.clone();
            data.resolution = format!("{}, decimated", coarsest.resolution);
        }
    }
    let window = between(&time, start, end);
    let bucket = (span + width as i64 - 1) / width as i64;
    let micros = format!(
        "CAST(arrow_cast({}, 'Timestamp(Microsecond, None)') AS BIGINT)",
        ident(&time)
    );
    let mut sql = format!("SELECT ({micros} - {start}) / {bucket} AS px");
    for (min, max, _) in &extremes {
        write!(
            sql,
            ", min(CAST({} AS DOUBLE)), max(CAST({} AS DOUBLE))",
            ident(min),
            ident(max)
        )?;
    }
    write!(
        sql,
        " FROM {} WHERE {window} GROUP BY 1 ORDER BY 1",
        ident(&table)
    )?;
    let batches = collect(&session, &sql).await?;
    if data.source == path {
        data.resolution = "decimated".into();
    }
    data.columns = columns;
    data.values = vec![Vec::new(); data.columns.len()];
    for batch in &batches {
        let px = cast(batch.column(0), &DataType::Int64)?;
        let px = px
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .ok_or_else(|| anyhow!("the pixel column is not an integer"))?;
        let stats: Vec<ArrayRef> = (1..batch.num_columns())
            .map(|i| cast(batch.column(i), &DataType::Float64))
            .collect::<Result<_, _>>()?;
        let value = |i: usize, row: usize| {
            let a = stats[i]
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("cast to Float64");
            a.is_valid(row).then(|| a.value(row))
        };
        for row in 0..batch.num_rows() {
            // A line through each pixel's minimum (at its left edge) and maximum (at
            // its middle) draws every peak and trough.
            let left = start + px.value(row) * bucket;
            data.t.push(left as f64 / 1e6);
            data.t.push((left + bucket / 2) as f64 / 1e6);
            for (c, list) in data.values.iter_mut().enumerate() {
                list.push(value(2 * c, row));
                list.push(value(2 * c + 1, row));
            }
        }
    }
    Ok(data)
}

/// For each of `columns`, the rollup at `path`'s columns that draw it: its minimum and
/// maximum (`c_min`, `c_max`), else its mean twice, else another of its aggregates twice;
/// with the name it is shown by. Columns the rollup does not reduce are left out.
async fn rollup_columns(
    session: &PondSession,
    path: &str,
    columns: &[String],
) -> Result<Vec<(String, String, String)>> {
    let schema = session.summary(path).await?.schema;
    let has = |name: &str| schema.field_with_name(name).is_ok();
    let mut out = Vec::new();
    for c in columns {
        let (min, max, avg) = (format!("{c}_min"), format!("{c}_max"), format!("{c}_avg"));
        if has(&min) && has(&max) {
            out.push((min, max, c.clone()));
        } else if has(&avg) {
            out.push((avg.clone(), avg, c.clone()));
        } else if let Some(f) = schema
            .fields()
            .iter()
            .find(|f| f.name().starts_with(&format!("{c}_")) && f.data_type().is_numeric())
        {
            out.push((f.name().clone(), f.name().clone(), f.name().clone()));
        }
    }
    Ok(out)
}

/// The first and last instant of a computed series' time column, read from its rows.
async fn computed_range(
    session: &PondSession,
    path: &str,
    time: &str,
) -> Result<Option<(i64, i64)>> {
    let t = format!(
        "arrow_cast({}, 'Timestamp(Microsecond, None)')",
        ident(time)
    );
    let sql = format!(
        "SELECT CAST(min({t}) AS BIGINT), CAST(max({t}) AS BIGINT) FROM {}",
        ident(path)
    );
    let batches = collect(session, &sql).await?;
    let Some(batch) = batches.first().filter(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let get = |i: usize| {
        batch
            .column(i)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .and_then(|a| a.is_valid(0).then(|| a.value(0)))
    };
    Ok(get(0).zip(get(1)))
}

async fn collect(session: &PondSession, sql: &str) -> Result<Vec<RecordBatch>> {
    let df = session.sql(sql).await?;
    let stream = pond_sql::stream(df).await?;
    Ok(stream.map_err(pond_sql::Error::from).try_collect().await?)
}

/// Rows of (time, value…) into `data.t` and `data.values`.
fn fill(data: &mut ChartData, batches: &[RecordBatch]) -> Result<()> {
    data.values = vec![Vec::new(); data.columns.len()];
    for batch in batches {
        let t = cast(
            batch.column(0),
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?;
        let t = t
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| anyhow!("the time column is not a timestamp"))?;
        for row in 0..batch.num_rows() {
            data.t.push(t.value(row) as f64 / 1e6);
        }
        for (i, list) in data.values.iter_mut().enumerate() {
            let column = cast(batch.column(i + 1), &DataType::Float64)?;
            let column = column
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("cast to Float64");
            list.extend((0..column.len()).map(|r| column.is_valid(r).then(|| column.value(r))));
        }
    }
    Ok(())
}

/// Reads every rollup a temporal-reduce makes in the pond `root` once, so that a chart's
/// first request finds them built: a rollup's first read reduces every version of its
/// series, which for years of readings takes longer than a request may. How many.
pub async fn warm_rollups(root: &WD) -> Result<usize> {
    let session = PondSession::new(root.clone())?;
    let mut warmed = 0;
    for m in root.glob("/**").await? {
        if m.node.factory() != Some("temporal-reduce") {
            continue;
        }
        let pattern = format!("{}/*/*.series", m.path.trim_end_matches('/'));
        for rollup in root.glob(&pattern).await? {
            let sql = format!("SELECT count(*) FROM {}", ident(&rollup.path));
            collect(&session, &sql).await?;
            warmed += 1;
        }
    }
    Ok(warmed)
}

//! `temporal-reduce`: rollups of series at several resolutions, exact and incremental.
//!
//! ```yaml
//! in_pattern: /sensors/*.series      # each match is an input
//! time_column: timestamp             # default: the input's timestamp column
//! resolutions: [15m, 1h, 1d, 1w, 1month, 1y]
//! aggregations:                      # per column, or "*" for every other numeric column
//!   temp: [avg, min, max, stddev]
//!   "*": [avg]
//! timezone: Europe/Oslo              # days, weeks, months and years in local time (UTC)
//! ```
//!
//! The node is a directory: `<input name>/<resolution>.series` for each input (its file
//! name without the extension) and resolution, with the columns `timestamp` (the bucket's
//! start, UTC), `rows` (input rows in the bucket) and `<column>_<aggregation>`.
//!
//! # Exact and incremental
//!
//! Each version of a stored input series is reduced once, to *partials* per bucket and
//! column: the count of values, their sum, mean and sum of squared deviations (merged
//! exactly by Chan's formula, so a variance is not the difference of two large sums), the
//! minimum and maximum, and the first and last values with their times. The partials of a
//! version are cached under `cache/temporal-reduce/`, keyed by the input node, the version,
//! its BLAKE3, the resolution and the columns and zone that shape them; deleting the cache
//! loses nothing but time. A read folds the partials of the versions the series consists
//! of *now* (its members): a new version costs its own rows plus the fold; a version of
//! late readings adds to exactly the old buckets it touches; a version that compaction,
//! `revert` or a replacing sync removed from the members stops counting at once, and a
//! compaction's new version is reduced from its own rows, so nothing is counted twice.
//! An input that is itself computed (a csvdir entry, a derived series) has no stored
//! versions to key a cache on: it is reduced whole at each read.
//!
//! A version's partials at a coarse resolution are folded from its partials at the
//! coarsest finer resolution configured whose buckets nest in the coarse ones (15m in 1h,
//! hours in local days when the zone's offsets are whole hours, days in weeks, months and
//! years, months in years), so its rows are read once for all the node's resolutions.
//!
//! Each merge of a rollup's members is kept as a Parquet file sorted by bucket, named by
//! the members it holds; a rollup is a view of its final query over that file, so a time
//! range asked of it prunes the file's row groups and only the columns asked are read.
//!
//! Minute and hour buckets are aligned to the Unix epoch (UTC); days, weeks (from Monday),
//! months and years start at local midnight in `timezone`, across DST changes.

use std::any::Any;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::TableProvider;
use datafusion::catalog::view::ViewTable;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use pond_sql::{ComputedFile, FileTable, Scope};
use serde::Deserialize;
use tinyfs::{Directory, EntryType, FS, FileVersion, Node, NodeId, NodeKind, ResultExt};
use tokio::io::AsyncReadExt;

use crate::cache_dir::CacheDir;
use crate::registry::{BuildContext, Registry, TypedFactory};

/// The configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReduceConfig {
    /// A pond glob of series: each match is an input.
    pub in_pattern: String,
    /// The inputs' time column (default: each input's timestamp column).
    #[serde(default)]
    pub time_column: Option<String>,
    /// The resolutions: `Nm`, `Nh`, `1d`, `1w`, `1month`, `1y`.
    pub resolutions: Vec<String>,
    /// Column (or `*`: every other numeric column) → its aggregations.
    pub aggregations: BTreeMap<String, Vec<Agg>>,
    /// The zone of calendar buckets (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
}

/// An aggregation.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Agg {
    Avg,
    Min,
    Max,
    Sum,
    Count,
    First,
    Last,
    Stddev,
    Variance,
}

impl Agg {
    fn name(self) -> &'static str {
        match self {
            Agg::Avg => "avg",
            Agg::Min => "min",
            Agg::Max => "max",
            Agg::Sum => "sum",
            Agg::Count => "count",
            Agg::First => "first",
            Agg::Last => "last",
            Agg::Stddev => "stddev",
            Agg::Variance => "variance",
        }
    }
}

/// A bucket width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolution {
    /// `n` minutes, aligned to the epoch.
    Minutes(u32),
    /// Local days, weeks, months or years.
    Calendar(&'static str),
}

impl Resolution {
    fn parse(text: &str) -> Result<Resolution, String> {
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("{text:?} has no unit (m, h, d, w, month, y)"))?;
        let (n, unit) = text.split_at(split);
        let n: u32 = n
            .parse()
            .map_err(|_| format!("{text:?} does not start with a number"))?;
        if n == 0 {
            return Err(format!("{text:?} is empty"));
        }
        let calendar = |name| {
            if n == 1 {
                Ok(Resolution::Calendar(name))
            } else {
                Err(format!(
                    "{text:?}: only 1{unit} is supported for calendar buckets"
                ))
            }
        };
        match unit {
            "m" => Ok(Resolution::Minutes(n)),
            "h" => Ok(Resolution::Minutes(n * 60)),
            "d" => calendar("day"),
            "w" => calendar("week"),
            "month" => calendar("month"),
            "y" => calendar("year"),
            _ => Err(format!(
                "{text:?}: unknown unit {unit:?} (m, h, d, w, month, y)"
            )),
        }
    }

    /// The SQL of the bucket start of the UTC timestamp `ts` (naive, microseconds), as a
    /// UTC timestamp, with calendar buckets in `zone`.
    fn bucket_sql(self, ts: &str, zone: &str) -> String {
        let utc = "'Timestamp(Microsecond, Some(\"UTC\"))'";
        match self {
            Resolution::Minutes(n) => format!(
                "arrow_cast(date_bin(INTERVAL '{n} minutes', {ts}, TIMESTAMP '1970-01-01T00:00:00'), {utc})"
            ),
            Resolution::Calendar(unit) => format!(
                "arrow_cast(date_trunc('{unit}', arrow_cast(arrow_cast({ts}, {utc}), 'Timestamp(Microsecond, Some(\"{zone}\"))')), {utc})"
            ),
        }
    }
}

/// A context for running a query over providers opened in `scope`: it reads stored files
/// through the scope's object store.
pub(crate) fn scan_context(scope: &Scope) -> SessionContext {
    let ctx = SessionContext::new();
    let url =
        datafusion::execution::object_store::ObjectStoreUrl::parse(pond_sql::POND_OBJECT_STORE_URL)
            .expect("pond's object store URL is valid");
    ctx.register_object_store(url.as_ref(), scope.store().clone());
    ctx
}

/// `name` as an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The `temporal-reduce` factory.
#[derive(Debug)]
pub struct ReduceFactory {
    cache: Arc<PartialCache>,
}

impl ReduceFactory {
    /// A factory caching partials under `cache_dir/temporal-reduce/` (in a temporary
    /// directory removed with the process, when `None`).
    pub fn new(cache_dir: Option<PathBuf>) -> Self {
        ReduceFactory {
            cache: Arc::new(PartialCache {
                dir: CacheDir::new(cache_dir.map(|d| d.join("temporal-reduce"))),
            }),
        }
    }
}

#[async_trait]
impl TypedFactory for ReduceFactory {
    type Config = ReduceConfig;

    fn name(&self) -> &'static str {
        "temporal-reduce"
    }

    fn description(&self) -> &'static str {
        "rollups of series at several resolutions (exact, computed once per input version)"
    }

    fn example(&self) -> &'static str {
        "in_pattern: /sensors/*.series\nresolutions: [1h, 1d]\naggregations:\n  \"*\": [avg, min, max]\n"
    }

    fn entry_type(&self) -> EntryType {
        EntryType::Directory
    }

    fn check(&self, _registry: &Registry, config: &ReduceConfig) -> Result<(), String> {
        let pattern = tinyfs::glob::Pattern::parse(&config.in_pattern)
            .map_err(|e| format!("in_pattern: {e}"))?;
        if !pattern.is_absolute() {
            return Err(format!(
                "in_pattern: {} is relative; write the pond path from /",
                config.in_pattern
            ));
        }
        if config.resolutions.is_empty() {
            return Err("resolutions: name at least one (15m, 1h, 1d, 1w, 1month, 1y)".into());
        }
        for (i, r) in config.resolutions.iter().enumerate() {
            Resolution::parse(r).map_err(|e| format!("resolutions: {e}"))?;
            if config.resolutions[..i].contains(r) {
                return Err(format!("resolutions: {r} appears twice"));
            }
        }
        if config.aggregations.is_empty() {
            return Err("aggregations: name a column (or \"*\") and its aggregations".into());
        }
        for (column, aggs) in &config.aggregations {
            if aggs.is_empty() {
                return Err(format!("aggregations: {column}: name at least one"));
            }
        }
        if let Some(zone) = &config.timezone {
            zone.parse::<chrono_tz::Tz>()
                .map_err(|_| format!("timezone: unknown time zone {zone:?} (an IANA name)"))?;
        }
        Ok(())
    }

    async fn build(&self, ctx: BuildContext, config: ReduceConfig) -> tinyfs::Result<NodeKind> {
        Ok(NodeKind::Directory(Arc::new(ReduceDir {
            fs: ctx.fs,
            id: ctx.id,
            config: Arc::new(config),
            cache: self.cache.clone(),
        })))
    }
}

/// A built temporal-reduce directory.
#[derive(Debug)]
struct ReduceDir {
    fs: FS,
    id: NodeId,
    config: Arc<ReduceConfig>,
    cache: Arc<PartialCache>,
}

/// An input's name: its file name without the extension.
fn input_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    match base.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_string(),
        _ => base.to_string(),
    }
}

impl ReduceDir {
    /// The inputs, by name; `only` keeps one.
    async fn inputs(&self, only: Option<&str>) -> tinyfs::Result<Vec<(String, tinyfs::GlobMatch)>> {
        let name = format!("temporal-reduce of {}", self.config.in_pattern);
        let matches =
            tinyfs::cycle::reading(self.id, &name, self.fs.root().glob(&self.config.in_pattern))
                .await?;
        let mut out: Vec<(String, tinyfs::GlobMatch)> = Vec::new();
        for m in matches {
            if m.node.as_file().map(|f| f.entry_type()) != Some(EntryType::FileSeries) {
                continue;
            }
            let name = input_name(&m.path);
            if let Some((_, other)) = out.iter().find(|(n, _)| *n == name) {
                return Err(tinyfs::Error::InvalidConfig {
                    path: String::new(),
                    detail: format!(
                        "{} and {} would both be reduced as {name:?}; narrow in_pattern",
                        other.path, m.path
                    ),
                });
            }
            out.push((name, m));
        }
        if let Some(only) = only {
            out.retain(|(n, _)| n == only);
        }
        Ok(out)
    }

    fn node(&self, name: &str, input: tinyfs::GlobMatch) -> Node {
        let id = NodeId::derived(&[&self.id.as_u128().to_be_bytes(), name.as_bytes()]);
        Node::new(
            id,
            self.id,
            NodeKind::Directory(Arc::new(InputDir {
                fs: self.fs.clone(),
                id,
                input,
                config: self.config.clone(),
                cache: self.cache.clone(),
            })),
        )
    }
}

#[async_trait]
impl Directory for ReduceDir {
    async fn get(&self, name: &str) -> tinyfs::Result<Option<Node>> {
        Ok(self
            .inputs(Some(name))
            .await?
            .pop()
            .map(|(name, m)| self.node(&name, m)))
    }

    async fn entries(&self) -> tinyfs::Result<Vec<(String, Node)>> {
        let mut out: Vec<(String, Node)> = self
            .inputs(None)
            .await?
            .into_iter()
            .map(|(name, m)| {
                let node = self.node(&name, m);
                (name, node)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The rollups of one input: `<resolution>.series` each.
#[derive(Debug)]
struct InputDir {
    fs: FS,
    id: NodeId,
    input: tinyfs::GlobMatch,
    config: Arc<ReduceConfig>,
    cache: Arc<PartialCache>,
}

impl InputDir {
    async fn node(&self, resolution: &str) -> tinyfs::Result<Node> {
        let id = NodeId::derived(&[&self.id.as_u128().to_be_bytes(), resolution.as_bytes()]);
        let file = self
            .input
            .node
            .as_file()
            .ok_or_else(|| tinyfs::Error::internal("a temporal-reduce input is not a file"))?;
        let latest = file
            .latest()
            .await
            .at(&self.input.path)?
            .ok_or_else(|| tinyfs::Error::internal("a series without versions"))?;
        let table = Arc::new(Rollup {
            input: self.input.clone(),
            resolution: Resolution::parse(resolution).map_err(|detail| {
                tinyfs::Error::InvalidConfig {
                    path: String::new(),
                    detail,
                }
            })?,
            resolution_name: resolution.to_string(),
            config: self.config.clone(),
            cache: self.cache.clone(),
        });
        // The rollup changes when its input does.
        let version = FileVersion {
            size: 0,
            members: None,
            rows: None,
            compacts: None,
            origin: None,
            event_time: None,
            ..latest
        };
        let file = ComputedFile::new(table, self.fs.root(), version);
        Ok(Node::new(id, self.id, NodeKind::File(Arc::new(file))))
    }
}

#[async_trait]
impl Directory for InputDir {
    async fn get(&self, name: &str) -> tinyfs::Result<Option<Node>> {
        let Some(resolution) = name.strip_suffix(".series") else {
            return Ok(None);
        };
        if !self.config.resolutions.iter().any(|r| r == resolution) {
            return Ok(None);
        }
        self.node(resolution).await.map(Some)
    }

    async fn entries(&self) -> tinyfs::Result<Vec<(String, Node)>> {
        let mut out = Vec::new();
        for r in &self.config.resolutions {
            out.push((format!("{r}.series"), self.node(r).await?));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One input at one resolution.
#[derive(Debug)]
struct Rollup {
    input: tinyfs::GlobMatch,
    resolution: Resolution,
    resolution_name: String,
    config: Arc<ReduceConfig>,
    cache: Arc<PartialCache>,
}

/// What shapes the partials of an input: its time column, the columns reduced (with the
/// aggregations asked of each), and the zone.
#[derive(Debug)]
struct Shape {
    time: String,
    columns: Vec<(String, Vec<Agg>)>,
    zone: String,
}

impl Shape {
    /// A hash of everything that decides the partials' bytes, for cache keys.
    fn key(&self, resolution: &str) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(PARTIAL_FORMAT.as_bytes());
        for part in [self.time.as_str(), resolution, self.zone.as_str()] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        for (column, _) in &self.columns {
            hasher.update(&(column.len() as u64).to_le_bytes());
            hasher.update(column.as_bytes());
        }
        hasher.finalize()
    }

    /// The SQL reducing the table `v` (whose columns are `present`) to partials per bucket.
    fn partial_sql(&self, resolution: Resolution, present: &SchemaRef) -> String {
        let ts = format!(
            "arrow_cast({}, 'Timestamp(Microsecond, None)')",
            ident(&self.time)
        );
        let mut select = vec![
            format!("{} AS bucket", resolution.bucket_sql(&ts, &self.zone)),
            "count(*) AS \"rows\"".to_string(),
        ];
        for (column, _) in &self.columns {
            let p = |suffix: &str| ident(&format!("{column}__{suffix}"));
            if present.field_with_name(column).is_err() {
                select.push(format!("CAST(0 AS BIGINT) AS {}", p("n")));
                for suffix in ["sum", "mean", "m2", "min", "max", "first", "last"] {
                    select.push(format!("CAST(NULL AS DOUBLE) AS {}", p(suffix)));
                }
                for suffix in ["first_time", "last_time"] {
                    select.push(format!(
                        "arrow_cast(NULL, 'Timestamp(Microsecond, None)') AS {}",
                        p(suffix)
                    ));
                }
                continue;
            }
            let c = format!("CAST({} AS DOUBLE)", ident(column));
            let valued = format!("FILTER (WHERE {} IS NOT NULL)", ident(column));
            select.extend([
                format!("count({c}) AS {}", p("n")),
                format!("sum({c}) AS {}", p("sum")),
                format!("avg({c}) AS {}", p("mean")),
                format!("var_pop({c}) * count({c}) AS {}", p("m2")),
                format!("min({c}) AS {}", p("min")),
                format!("max({c}) AS {}", p("max")),
                format!("first_value({c} ORDER BY {ts}) {valued} AS {}", p("first")),
                format!("min({ts}) {valued} AS {}", p("first_time")),
                format!("last_value({c} ORDER BY {ts}) {valued} AS {}", p("last")),
                format!("max({ts}) {valued} AS {}", p("last_time")),
            ]);
        }
        format!(
            "SELECT {} FROM v WHERE {} IS NOT NULL GROUP BY 1",
            select.join(", "),
            ident(&self.time)
        )
    }

    /// The SQL merging the partials in table `p` into one partial a bucket (the same
    /// columns): counts and sums add, means weigh by counts, M2s merge by Chan's formula,
    /// extremes and first and last readings by value and time.
    fn merge_sql(&self) -> String {
        let mut inner = vec!["*".to_string()];
        let mut select = vec![
            "bucket".to_string(),
            "CAST(sum(\"rows\") AS BIGINT) AS \"rows\"".to_string(),
        ];
        for (column, _) in &self.columns {
            let p = |suffix: &str| ident(&format!("{column}__{suffix}"));
            // The bucket's mean, beside each partial, for Chan's merge of the M2s.
            inner.push(format!(
                "sum({n} * {mean}) OVER (PARTITION BY bucket) / NULLIF(sum({n}) OVER (PARTITION BY bucket), 0) AS {tm}",
                n = p("n"),
                mean = p("mean"),
                tm = p("tm")
            ));
            select.extend([
                format!("CAST(sum({n}) AS BIGINT) AS {n}", n = p("n")),
                format!("sum({s}) AS {s}", s = p("sum")),
                format!(
                    "sum({n} * {mean}) / NULLIF(sum({n}), 0) AS {mean}",
                    n = p("n"),
                    mean = p("mean")
                ),
                format!(
                    "sum({m2}) + sum({n} * ({mean} - {tm}) * ({mean} - {tm})) AS {m2}",
                    m2 = p("m2"),
                    n = p("n"),
                    mean = p("mean"),
                    tm = p("tm")
                ),
                format!("min({m}) AS {m}", m = p("min")),
                format!("max({m}) AS {m}", m = p("max")),
                format!(
                    "first_value({v} ORDER BY {t}) FILTER (WHERE {t} IS NOT NULL) AS {v}",
                    v = p("first"),
                    t = p("first_time")
                ),
                format!("min({t}) AS {t}", t = p("first_time")),
                format!(
                    "last_value({v} ORDER BY {t}) FILTER (WHERE {t} IS NOT NULL) AS {v}",
                    v = p("last"),
                    t = p("last_time")
                ),
                format!("max({t}) AS {t}", t = p("last_time")),
            ]);
        }
        format!(
            "SELECT {} FROM (SELECT {} FROM p) GROUP BY bucket ORDER BY bucket",
            select.join(", "),
            inner.join(", ")
        )
    }

    /// The SQL of the rollup from the merged partials in table `m` (one a bucket).
    fn final_sql(&self) -> String {
        let mut select = vec![
            "bucket AS \"timestamp\"".to_string(),
            "\"rows\"".to_string(),
        ];
        for (column, aggs) in &self.columns {
            let p = |suffix: &str| ident(&format!("{column}__{suffix}"));
            let n = p("n");
            let m2 = p("m2");
            for agg in aggs {
                let expr = match agg {
                    Agg::Avg => p("mean"),
                    Agg::Min => p("min"),
                    Agg::Max => p("max"),
                    Agg::Sum => format!("CASE WHEN {n} > 0 THEN {} END", p("sum")),
                    Agg::Count => n.clone(),
                    Agg::First => p("first"),
                    Agg::Last => p("last"),
                    Agg::Variance => format!("CASE WHEN {n} > 1 THEN {m2} / ({n} - 1) END"),
                    Agg::Stddev => format!("CASE WHEN {n} > 1 THEN sqrt({m2} / ({n} - 1)) END"),
                };
                select.push(format!(
                    "{expr} AS {}",
                    ident(&format!("{column}_{}", agg.name()))
                ));
            }
        }
        format!("SELECT {} FROM m ORDER BY bucket", select.join(", "))
    }
}

/// The format of cached partials: part of every key, so a change of it is a new key.
const PARTIAL_FORMAT: &str = "temporal-reduce partials 1";

impl Rollup {
    fn here(&self) -> String {
        format!("{}@{}", self.input.path, self.resolution_name)
    }

    fn invalid(&self, detail: String) -> pond_sql::Error {
        pond_sql::Error::invalid(self.here(), detail)
    }

    /// The input's table, its time column and the columns reduced.
    async fn shape(&self, scope: &Scope) -> pond_sql::Result<(Arc<dyn FileTable>, Shape)> {
        let table = pond_sql::file_table_of(scope.wd(), &self.input.path, &self.input.node).await?;
        let at = scope.at(&self.input.path);
        let time = match &self.config.time_column {
            Some(t) => t.clone(),
            None => table.timestamp_column(&at).await?.ok_or_else(|| {
                self.invalid("the input has no timestamp column; give time_column".into())
            })?,
        };
        let schema = table.schema(&at).await?;
        if schema.field_with_name(&time).is_err() {
            return Err(self.invalid(format!("the input has no column {time:?}")));
        }
        let numeric = |t: &DataType| t.is_numeric();
        let mut columns: Vec<(String, Vec<Agg>)> = Vec::new();
        for (column, aggs) in &self.config.aggregations {
            if column == "*" {
                continue;
            }
            let field = schema.field_with_name(column).map_err(|_| {
                self.invalid(format!("aggregations: the input has no column {column:?}"))
            })?;
            if !numeric(field.data_type()) {
                return Err(self.invalid(format!(
                    "aggregations: {column} is {}, not a number",
                    field.data_type()
                )));
            }
            columns.push((column.clone(), aggs.clone()));
        }
        if let Some(aggs) = self.config.aggregations.get("*") {
            for field in schema.fields() {
                if field.name() != &time
                    && numeric(field.data_type())
                    && !self.config.aggregations.contains_key(field.name())
                {
                    columns.push((field.name().clone(), aggs.clone()));
                }
            }
        }
        columns.sort_by(|a, b| a.0.cmp(&b.0));
        let zone = self.config.timezone.clone().unwrap_or_else(|| "UTC".into());
        Ok((
            table,
            Shape {
                time,
                columns,
                zone,
            },
        ))
    }

    /// The rollup: its final query over the merged partials, as a view, so that a time
    /// range and the columns asked of it reach the partials. Those of a stored input are
    /// a Parquet file sorted by bucket, whose row groups a time range prunes; those of a
    /// computed input are rows in memory.
    async fn view(&self, scope: &Scope) -> pond_sql::Result<Arc<dyn TableProvider>> {
        let (table, shape) = self.shape(scope).await?;
        let file = self
            .input
            .node
            .as_file()
            .ok_or_else(|| self.invalid("the input is not a file".into()))?;
        // Partials computed now and read back from the cache differ in nullability: all
        // are read as the shape's schema, every field nullable.
        let schema = self.partial_schema(&shape, &table, scope).await?;
        let schema: SchemaRef = Arc::new(arrow::datatypes::Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ));
        let conform = |batches: Vec<RecordBatch>| {
            batches
                .into_iter()
                .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.invalid(format!("cached partials: {e}")))
        };
        let merged: Arc<dyn TableProvider> = if !pond_sql::is_computed(file.as_ref()) {
            let path = self.merged_members(scope, &shape, &schema, conform).await?;
            sorted_parquet(&path, &schema).map_err(|e| self.invalid(e.to_string()))?
        } else {
            let provider = table.provider(&scope.at(&self.input.path)).await?;
            let partials = conform(self.reduce(scope, &shape, provider).await?)?;
            let merged = conform(self.merge(&shape, &schema, partials).await?)?;
            Arc::new(MemTable::try_new(schema.clone(), vec![merged])?)
        };
        let ctx = SessionContext::new();
        ctx.register_table("m", merged)?;
        let df = ctx.sql(&shape.final_sql()).await?;
        Ok(Arc::new(ViewTable::new(df.into_unoptimized_plan(), None)))
    }

    /// `partials` (of `schema`) merged into one partial a bucket.
    async fn merge(
        &self,
        shape: &Shape,
        schema: &SchemaRef,
        partials: Vec<RecordBatch>,
    ) -> pond_sql::Result<Vec<RecordBatch>> {
        let ctx = SessionContext::new();
        ctx.register_table(
            "p",
            Arc::new(MemTable::try_new(schema.clone(), vec![partials])?),
        )?;
        Ok(ctx.sql(&shape.merge_sql()).await?.collect().await?)
    }

    /// The file of the merged partials of the stored input's members. Each merge is kept,
    /// named by the members it holds: a read of members merged before reads that file;
    /// when the members now are the last merge's and more (appends), only the new ones'
    /// partials are merged into it; when one is gone (a compaction, a revert, a
    /// replacing sync), every member's partials are merged afresh.
    async fn merged_members(
        &self,
        scope: &Scope,
        shape: &Shape,
        schema: &SchemaRef,
        conform: impl Fn(Vec<RecordBatch>) -> pond_sql::Result<Vec<RecordBatch>>,
    ) -> pond_sql::Result<PathBuf> {
        let file = self
            .input
            .node
            .as_file()
            .ok_or_else(|| self.invalid("the input is not a file".into()))?;
        let key = shape.key(&self.resolution_name);
        let members = file.members().await?;
        let names: Vec<String> = members.iter().map(|m| self.member_name(&key, m)).collect();
        let state = {
            let mut hasher = blake3::Hasher::new();
            hasher.update(b"merged");
            hasher.update(key.as_bytes());
            hasher.update(&self.input.node.id().as_u128().to_be_bytes());
            hasher.finalize().to_hex().to_string()
        };
        if let Some(path) = self.cache.merged(&state, &names)? {
            return Ok(path);
        }
        let (mut partials, mut held) = match self.cache.latest_merged(&state)? {
            Some((held, batches)) if held.iter().all(|h| names.contains(h)) => {
                (conform(batches)?, held)
            }
            _ => (Vec::new(), Vec::new()),
        };
        for (member, name) in members.into_iter().zip(&names) {
            if held.contains(name) {
                continue;
            }
            partials.extend(conform(self.partials_of(scope, shape, member).await?)?);
            held.push(name.clone());
        }
        let merged = conform(self.merge(shape, schema, partials).await?)?;
        self.cache.put_merged(&state, &held, schema, &merged)
    }

    /// The schema of partials of an input with no rows.
    async fn partial_schema(
        &self,
        shape: &Shape,
        table: &Arc<dyn FileTable>,
        scope: &Scope,
    ) -> pond_sql::Result<SchemaRef> {
        let ctx = SessionContext::new();
        let schema = table.schema(&scope.at(&self.input.path)).await?;
        ctx.register_table(
            "v",
            Arc::new(MemTable::try_new(schema.clone(), vec![vec![]])?),
        )?;
        let df = ctx
            .sql(&shape.partial_sql(self.resolution, &schema))
            .await?;
        Ok(Arc::new(df.schema().as_arrow().clone()))
    }

    /// The partials of the rows of `provider`, read in `scope`.
    async fn reduce(
        &self,
        scope: &Scope,
        shape: &Shape,
        provider: Arc<dyn TableProvider>,
    ) -> pond_sql::Result<Vec<RecordBatch>> {
        self.reduce_at(scope, shape, self.resolution, provider)
            .await
    }

    /// The partials at `resolution` of the rows of `provider`, read in `scope`.
    async fn reduce_at(
        &self,
        scope: &Scope,
        shape: &Shape,
        resolution: Resolution,
        provider: Arc<dyn TableProvider>,
    ) -> pond_sql::Result<Vec<RecordBatch>> {
        let schema = provider.schema();
        let ctx = scan_context(scope);
        ctx.register_table("v", provider)?;
        let df = ctx.sql(&shape.partial_sql(resolution, &schema)).await?;
        Ok(df.collect().await?)
    }

    /// The name of the cached partials of version `member` of the input.
    fn member_name(&self, key: &blake3::Hash, member: &FileVersion) -> String {
        let mut hasher = blake3::Hasher::new();
        hasher.update(key.as_bytes());
        hasher.update(&self.input.node.id().as_u128().to_be_bytes());
        hasher.update(&member.version.to_le_bytes());
        hasher.update(member.blake3.as_bytes());
        hasher.finalize().to_hex().to_string()
    }

    /// The partials at this rollup's resolution of version `member` of the stored input.
    async fn partials_of(
        &self,
        scope: &Scope,
        shape: &Shape,
        member: FileVersion,
    ) -> pond_sql::Result<Vec<RecordBatch>> {
        self.partials_at(
            scope,
            shape,
            (&self.resolution_name, self.resolution),
            &member,
        )
        .await
    }

    /// The partials at `resolution` (its name and width) of version `member` of the
    /// stored input: cached, else folded from those of the coarsest finer resolution
    /// configured whose buckets nest in these, else reduced from the version's rows. So a
    /// new version's rows are read once for all the resolutions of a node.
    fn partials_at<'a>(
        &'a self,
        scope: &'a Scope,
        shape: &'a Shape,
        resolution: (&'a str, Resolution),
        member: &'a FileVersion,
    ) -> futures::future::BoxFuture<'a, pond_sql::Result<Vec<RecordBatch>>> {
        Box::pin(async move {
            let (resolution_name, resolution) = resolution;
            let name = self.member_name(&shape.key(resolution_name), member);
            if let Some(batches) = self.cache.get(&name)? {
                return Ok(batches);
            }
            let shown = format!("{}@v{}", self.input.path, member.version);
            for finer in self.finer(resolution) {
                let fine = self.partials_at(scope, shape, finer, member).await?;
                if let Some(folded) = self.fold(shape, fine, finer.1, resolution).await? {
                    tracing::debug!(
                        target: "pond_factories::reduce",
                        version = %shown,
                        from = finer.0,
                        to = resolution_name,
                        "folding a version"
                    );
                    self.cache.put(&name, &folded)?;
                    return Ok(folded);
                }
            }
            let rows = self.read_version(member, &shown).await?;
            tracing::debug!(target: "pond_factories::reduce", version = %shown, "reducing a version");
            let batches = self.reduce_at(scope, shape, resolution, rows).await?;
            self.cache.put(&name, &batches)?;
            Ok(batches)
        })
    }

    /// The configured resolutions finer than `target` whose buckets may nest in its
    /// buckets, coarsest first: minutes in a multiple of them; days in weeks, months and
    /// years; months in years; minutes in calendar buckets when the zone's offsets let
    /// them (checked on the data, see [`Rollup::fold`]).
    fn finer(&self, target: Resolution) -> Vec<(&str, Resolution)> {
        use Resolution::{Calendar, Minutes};
        let mut out: Vec<(&str, Resolution)> = self
            .config
            .resolutions
            .iter()
            .filter_map(|name| Some((name.as_str(), Resolution::parse(name).ok()?)))
            .filter(|(_, fine)| match (*fine, target) {
                (Minutes(a), Minutes(b)) => a < b && b % a == 0,
                (Minutes(_), Calendar(_)) => true,
                (Calendar("day"), Calendar(unit)) => unit != "day",
                (Calendar("month"), Calendar("year")) => true,
                _ => false,
            })
            .collect();
        out.sort_by_key(|(_, fine)| std::cmp::Reverse(fine.micros()));
        out
    }

    /// The partials `fine` (at resolution `from`) folded into buckets of `to`: each fine
    /// bucket's partials merge into the bucket holding its start. `None` when a fine
    /// bucket straddles two of `to` (minutes across a local midnight in a zone whose
    /// offset is not a multiple of them): those partials cannot be split.
    async fn fold(
        &self,
        shape: &Shape,
        fine: Vec<RecordBatch>,
        from: Resolution,
        to: Resolution,
    ) -> pond_sql::Result<Option<Vec<RecordBatch>>> {
        let Some(schema) = fine.first().map(|b| b.schema()) else {
            return Ok(Some(Vec::new()));
        };
        let ctx = SessionContext::new();
        ctx.register_table(
            "f",
            Arc::new(MemTable::try_new(schema.clone(), vec![fine])?),
        )?;
        let start = "arrow_cast(bucket, 'Timestamp(Microsecond, None)')";
        if let Resolution::Minutes(n) = from
            && let Resolution::Calendar(_) = to
        {
            let last = format!("{start} + INTERVAL '{n} minutes' - INTERVAL '1 microsecond'");
            let straddling = ctx
                .sql(&format!(
                    "SELECT count(*) FROM f WHERE {} <> {}",
                    to.bucket_sql(start, &shape.zone),
                    to.bucket_sql(&last, &shape.zone)
                ))
                .await?
                .collect()
                .await?;
            let count = straddling
                .first()
                .and_then(|b| {
                    b.column(0)
                        .as_any()
                        .downcast_ref::<arrow::array::Int64Array>()
                })
                .map_or(0, |c| c.value(0));
            if count > 0 {
                return Ok(None);
            }
        }
        let columns: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| match f.name().as_str() {
                "bucket" => format!("{} AS bucket", to.bucket_sql(start, &shape.zone)),
                name => ident(name),
            })
            .collect();
        let rebucketed = ctx
            .sql(&format!("SELECT {} FROM f", columns.join(", ")))
            .await?;
        ctx.register_table("p", rebucketed.into_view())?;
        Ok(Some(ctx.sql(&shape.merge_sql()).await?.collect().await?))
    }

    /// The rows of version `member` of the stored input (`shown` in errors).
    async fn read_version(
        &self,
        member: &FileVersion,
        shown: &str,
    ) -> pond_sql::Result<Arc<dyn TableProvider>> {
        let file = self
            .input
            .node
            .as_file()
            .ok_or_else(|| self.invalid("the input is not a file".into()))?;
        let mut body = Vec::new();
        file.reader(Some(member.version))
            .await
            .at(shown)?
            .read_to_end(&mut body)
            .await
            .map_err(|source| pond_sql::Error::Io {
                path: shown.to_string(),
                source,
            })?;
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(body),
        )
        .map_err(|e| self.invalid(format!("{shown}: {e}")))?;
        let schema = builder.schema().clone();
        let rows = builder
            .build()
            .map_err(|e| self.invalid(format!("{shown}: {e}")))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.invalid(format!("{shown}: {e}")))?;
        Ok(Arc::new(MemTable::try_new(schema, vec![rows])?))
    }
}

#[async_trait]
impl FileTable for Rollup {
    fn entry_type(&self) -> EntryType {
        EntryType::FileSeries
    }

    async fn provider(&self, scope: &Scope) -> pond_sql::Result<Arc<dyn TableProvider>> {
        self.view(scope).await
    }

    async fn timestamp_column(&self, _scope: &Scope) -> pond_sql::Result<Option<String>> {
        Ok(Some("timestamp".into()))
    }
}

/// Partials on disk, each a Parquet file written to a temporary name and renamed:
/// `<name>.parquet` for the partials of one version at one resolution, and
/// `merged/<state>/<members>.parquet` for a merge of them (a rollup's state), named by the
/// members it holds, with `merged/<state>/latest` naming the newest.
#[derive(Debug)]
struct PartialCache {
    dir: CacheDir,
}

/// How long a superseded merge is kept, for reads planned over it before it was.
const SUPERSEDED_KEPT: std::time::Duration = std::time::Duration::from_secs(3600);

impl PartialCache {
    fn dir(&self) -> pond_sql::Result<PathBuf> {
        self.dir.path()
    }

    fn state_dir(&self, state: &str) -> pond_sql::Result<PathBuf> {
        Ok(self.dir()?.join("merged").join(state))
    }

    /// The file name of the merge of `members` (in any order).
    fn merge_name(members: &[String]) -> String {
        let mut sorted: Vec<&String> = members.iter().collect();
        sorted.sort();
        let mut hasher = blake3::Hasher::new();
        for m in sorted {
            hasher.update(m.as_bytes());
            hasher.update(b",");
        }
        format!("{}.parquet", hasher.finalize().to_hex())
    }

    /// The partials cached under `name`, if there are (a damaged file counts as none).
    fn get(&self, name: &str) -> pond_sql::Result<Option<Vec<RecordBatch>>> {
        let path = self.dir()?.join(format!("{name}.parquet"));
        Ok(read_partials(&path).map(|(_, batches)| batches))
    }

    /// Caches `batches` under `name` (nothing, when there are none).
    fn put(&self, name: &str, batches: &[RecordBatch]) -> pond_sql::Result<()> {
        let Some(first) = batches.first() else {
            return Ok(());
        };
        let path = self.dir()?.join(format!("{name}.parquet"));
        write_partials(&path, &first.schema(), batches, None)
    }

    /// The file of the merge of exactly `members` in `state`, if it is kept.
    fn merged(&self, state: &str, members: &[String]) -> pond_sql::Result<Option<PathBuf>> {
        let path = self.state_dir(state)?.join(Self::merge_name(members));
        Ok(path.exists().then_some(path))
    }

    /// The newest merge in `state`: the members it holds, and its rows.
    fn latest_merged(
        &self,
        state: &str,
    ) -> pond_sql::Result<Option<(Vec<String>, Vec<RecordBatch>)>> {
        let dir = self.state_dir(state)?;
        let Ok(latest) = std::fs::read_to_string(dir.join("latest")) else {
            return Ok(None);
        };
        Ok(
            read_partials(&dir.join(latest.trim())).and_then(|(members, batches)| {
                let members = members?;
                Some((members.split(',').map(String::from).collect(), batches))
            }),
        )
    }

    /// Keeps `batches` (of `schema`), the merged partials of `members`, in `state` as its
    /// newest merge, and removes the merges it supersedes once they are an hour old. The
    /// file's path.
    fn put_merged(
        &self,
        state: &str,
        members: &[String],
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> pond_sql::Result<PathBuf> {
        let dir = self.state_dir(state)?;
        let name = Self::merge_name(members);
        let path = dir.join(&name);
        write_partials(&path, schema, batches, Some(members.join(",")))?;
        let latest = dir.join("latest");
        let staged = dir.join(format!(".latest.{}", uuid::Uuid::now_v7().simple()));
        std::fs::write(&staged, &name)
            .and_then(|()| std::fs::rename(&staged, &latest))
            .map_err(|source| pond_sql::Error::Io {
                path: latest.display().to_string(),
                source,
            })?;
        // Sweeping is best effort: a merge left behind costs only disk.
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let old = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n != name && n.ends_with(".parquet") && !n.starts_with('.'));
            let aged = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > SUPERSEDED_KEPT);
            if old && aged {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(path)
    }
}

/// The partials in the Parquet file at `path`, with the members note of a merge; `None`
/// when it is missing or damaged.
fn read_partials(path: &std::path::Path) -> Option<(Option<String>, Vec<RecordBatch>)> {
    let file = std::fs::File::open(path).ok()?;
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
    let members = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|e| e.key == MEMBERS_KEY))
        .and_then(|e| e.value.clone());
    let rows = builder.build().ok()?.collect::<Result<Vec<_>, _>>().ok()?;
    Some((members, rows))
}

/// Rows in a row group of partials: small enough for a time range to skip most of a
/// long rollup.
const PARTIAL_ROW_GROUP: usize = 4096;

/// Writes `batches` (of `schema`; `members` in the file's metadata) to `path`, through a
/// temporary file renamed into place.
fn write_partials(
    path: &std::path::Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    members: Option<String>,
) -> pond_sql::Result<()> {
    let io = |path: &std::path::Path, source| pond_sql::Error::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let staged = dir.join(format!(".{name}.{}", uuid::Uuid::now_v7().simple()));
    let failed = |e: parquet::errors::ParquetError| {
        pond_sql::Error::invalid(staged.display().to_string(), e.to_string())
    };
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(PARTIAL_ROW_GROUP))
        .set_key_value_metadata(members.map(|m| {
            vec![parquet::file::metadata::KeyValue::new(
                MEMBERS_KEY.to_string(),
                m,
            )]
        }))
        .build();
    let file = std::fs::File::create(&staged).map_err(|e| io(&staged, e))?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(properties))
        .map_err(failed)?;
    for batch in batches {
        writer.write(batch).map_err(failed)?;
    }
    writer.close().map_err(failed)?;
    std::fs::rename(&staged, path).map_err(|e| io(path, e))
}

/// The merged partials in the file at `path` (of `schema`, sorted by bucket) as a table
/// whose scans prune row groups by a time range.
fn sorted_parquet(
    path: &std::path::Path,
    schema: &SchemaRef,
) -> datafusion::error::Result<Arc<dyn TableProvider>> {
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };
    let url = ListingTableUrl::parse(path.to_string_lossy())?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_file_sort_order(vec![vec![
            datafusion::prelude::col("bucket").sort(true, false),
        ]]);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema.clone());
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// The metadata key under which merged partials list the members they hold.
const MEMBERS_KEY: &str = "pond.temporal-reduce.members";

/// A rollup a temporal-reduce makes of a series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollupOf {
    /// Its resolution, as configured (`1h`).
    pub resolution: String,
    /// Its path.
    pub path: String,
    /// About how long its buckets are, in microseconds (a month counts 30.44 days).
    pub bucket_micros: i64,
}

impl Resolution {
    /// About how long a bucket is.
    fn micros(self) -> i64 {
        const MINUTE: i64 = 60_000_000;
        match self {
            Resolution::Minutes(n) => i64::from(n) * MINUTE,
            Resolution::Calendar("day") => 1440 * MINUTE,
            Resolution::Calendar("week") => 7 * 1440 * MINUTE,
            Resolution::Calendar("month") => 43_834 * MINUTE,
            Resolution::Calendar(_) => 525_960 * MINUTE,
        }
    }
}

/// The finest of `rollups` (finest first, as [`rollups_of`] gives them) whose buckets over
/// a window of `span` microseconds number at most `points`.
pub fn finest_fitting(rollups: &[RollupOf], span: i64, points: i64) -> Option<&RollupOf> {
    let span = span.max(1);
    rollups
        .iter()
        .find(|r| (span + r.bucket_micros - 1) / r.bucket_micros <= points)
}

/// The rollups the temporal-reduce nodes in the pond `root` reads make of the series at
/// `path`, finest first. Walks the pond's tree (not into dynamic directories) to find them.
pub async fn rollups_of(root: &tinyfs::WD, path: &str) -> tinyfs::Result<Vec<RollupOf>> {
    let mut out = Vec::new();
    for m in root.glob("/**").await? {
        if m.node.factory() != Some("temporal-reduce") {
            continue;
        }
        let Some(dir) = m
            .node
            .as_dir()
            .and_then(|d| d.as_any().downcast_ref::<ReduceDir>())
        else {
            continue;
        };
        let matched = tinyfs::glob::Pattern::parse(&dir.config.in_pattern)
            .is_ok_and(|p| p.matches_path(path));
        if !matched {
            continue;
        }
        let name = input_name(path);
        for r in &dir.config.resolutions {
            if let Ok(resolution) = Resolution::parse(r) {
                out.push(RollupOf {
                    resolution: r.clone(),
                    path: format!("{}/{name}/{r}.series", m.path.trim_end_matches('/')),
                    bucket_micros: resolution.micros(),
                });
            }
        }
    }
    out.sort_by_key(|r| r.bucket_micros);
    Ok(out)
}

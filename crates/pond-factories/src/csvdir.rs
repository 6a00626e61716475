//! `csvdir`: files matching a pond glob (CSV, JSON lines or workbooks, compressed or
//! not), each presented as a Parquet table.
//!
//! ```yaml
//! source: /incoming/**/*.csv       # pond glob of file:data (a hostmount works)
//! format: csv                      # optional: csv, jsonl or excel (else by name, then content)
//! delimiter: ","                   # optional
//! has_header: true                 # optional
//! null_values: ["", "NA"]          # optional
//! schema:                          # optional; inferred over the whole file otherwise
//!   - {name: timestamp, type: timestamp}
//!   - {name: level, type: float64}
//! entry_type: series               # table (default) or series
//! timestamp_column: timestamp      # optional, for a series: found by name otherwise
//! timezone: Europe/Oslo            # optional: the zone of times without an offset (UTC)
//! decimal: ","                     # optional: the decimal separator (.)
//! nested: flatten                  # JSON lines: nested objects as a.b columns, or struct
//! sheet: Readings                  # workbooks: the sheet (the first by default)
//! header_row: 3                    # workbooks: the row naming the columns (rows above skipped)
//! ```
//!
//! The CSV options are for CSV, `nested` for JSON lines, `sheet` and `header_row` for
//! workbooks: an option the format does not read is refused. Each match appears as its
//! name without the format's extension (`day.csv.gz`, `day.jsonl`, `day.xlsx`: `day`). The
//! first read converts the file into
//! Parquet in the pond's `cache/csvdir/`, named by a key of (source node, version, BLAKE3,
//! configuration, conversion format), with a temporal index beside it (its schema, rows
//! and time range: see the cache's module). Later reads open the index, and the Parquet
//! file only when a scan's time filter can meet its range, with the full pushdown of a
//! Parquet scan; `describe` shows a converted entry's rows and range from its index. A new
//! source version, or a changed host file under a hostmount, has a new hash and so a new
//! key, with no time-to-live to guess. (A host file rewritten between the key's hash and
//! the conversion's read is converted under the old key; the next read sees the new
//! hash.) A damaged entry is converted again. [`sweep_cache`] removes the entries no
//! csvdir reads any more; deleting `cache/` loses nothing but time.

use std::any::Any;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tinyfs::ResultExt;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::TableProvider;
use pond_sql::{ComputedFile, FileFormat, FileTable, FormatOption, Nested, ReadOptions, Scope};
use serde::Deserialize;
use tinyfs::{Directory, EntryType, FS, FileVersion, Node, NodeId, NodeKind};

use crate::csv_cache::{CACHE_FORMAT, CsvSource};
use crate::registry::{BuildContext, Registry, TypedFactory};

pub use crate::csv_cache::{CsvCache, Swept};

/// Removes from the csvdir cache under `cache_dir` every conversion that no csvdir in `fs`
/// reads at the version `fs` reads (see [`CsvCache::sweep`]), and leftovers of interrupted
/// conversions, older than `grace`. `fs` must have the factories installed. An entry only
/// an earlier pond version reads is removed too: reading that version converts it again.
pub async fn sweep_cache(fs: &FS, cache_dir: PathBuf, grace: Duration) -> pond_sql::Result<Swept> {
    let live = live_cache_keys(fs).await?;
    CsvCache::new(Some(cache_dir)).sweep(&live, grace).await
}

/// The cache key of every entry of every csvdir in `fs`. Every directory is entered, the
/// dynamic ones too (a csvdir can sit in a dynamic-dir); a csvdir's keys come from its
/// sources' versions, with no cache read and no conversion.
async fn live_cache_keys(fs: &FS) -> tinyfs::Result<HashSet<String>> {
    let mut keys = HashSet::new();
    let mut dirs = vec![("/".to_string(), fs.root().resolve("/").await?)];
    while let Some((path, node)) = dirs.pop() {
        let Some(dir) = node.as_dir() else { continue };
        if let Some(csvdir) = dir.as_any().downcast_ref::<CsvDir>() {
            for (_, m) in csvdir.sources(None).await.at(&path)? {
                let Some(file) = m.node.as_file() else {
                    continue;
                };
                let versions = file.versions().await.at(&m.path)?;
                if let Some(latest) = versions.last() {
                    keys.insert(cache_key(m.node.id(), latest, &csvdir.config_hash));
                }
            }
            continue;
        }
        for (name, child) in dir.entries().await.at(&path)? {
            if child.as_dir().is_some() {
                dirs.push((format!("{}/{name}", path.trim_end_matches('/')), child));
            }
        }
    }
    Ok(keys)
}

/// The configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvDirConfig {
    /// A pond glob of files to read as tables.
    pub source: String,
    /// `csv`, `jsonl` or `excel`: the format of every match (by name, else by content,
    /// when absent).
    #[serde(default)]
    pub format: Option<String>,
    /// The field delimiter, one character.
    #[serde(default)]
    pub delimiter: Option<char>,
    /// Whether the first line names the columns.
    #[serde(default)]
    pub has_header: Option<bool>,
    /// Values read as null.
    #[serde(default)]
    pub null_values: Option<Vec<String>>,
    /// The columns, in order; inferred when absent.
    #[serde(default)]
    pub schema: Option<Vec<ColumnConfig>>,
    /// `table` or `series`.
    #[serde(default)]
    pub entry_type: Option<Kind>,
    /// A series' timestamp column.
    #[serde(default)]
    pub timestamp_column: Option<String>,
    /// The time zone of times written without an offset (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// The decimal separator: `.` (the default) or `,` (then the delimiter is not `,`).
    #[serde(default)]
    pub decimal: Option<char>,
    /// JSON lines: `flatten` (nested objects as `a.b` columns, the default) or `struct`.
    #[serde(default)]
    pub nested: Option<String>,
    /// Workbooks: the sheet read (the first when absent).
    #[serde(default)]
    pub sheet: Option<String>,
    /// Workbooks: the row (from 1) naming the columns; rows above are skipped.
    #[serde(default)]
    pub header_row: Option<u32>,
}

/// One column of a given schema.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnConfig {
    /// The column name.
    pub name: String,
    /// `string`, `int64`, `float64`, `boolean`, `date` or `timestamp`.
    #[serde(rename = "type")]
    pub data_type: ColumnType,
}

/// The types a csvdir schema can name.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum ColumnType {
    String,
    Int64,
    Float64,
    Boolean,
    Date,
    Timestamp,
}

/// What each CSV becomes.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A `file:table`.
    Table,
    /// A `file:series`.
    Series,
}

impl CsvDirConfig {
    pub(crate) fn options(&self) -> ReadOptions {
        let defaults = ReadOptions::default();
        ReadOptions {
            delimiter: self
                .delimiter
                .map(|c| c as u8)
                .unwrap_or(defaults.delimiter),
            has_header: self.has_header.unwrap_or(defaults.has_header),
            null_values: self.null_values.clone().unwrap_or(defaults.null_values),
            schema: self.schema.as_ref().map(|columns| {
                Arc::new(Schema::new(
                    columns
                        .iter()
                        .map(|c| {
                            let t = match c.data_type {
                                ColumnType::String => DataType::Utf8,
                                ColumnType::Int64 => DataType::Int64,
                                ColumnType::Float64 => DataType::Float64,
                                ColumnType::Boolean => DataType::Boolean,
                                ColumnType::Date => DataType::Date32,
                                ColumnType::Timestamp => {
                                    DataType::Timestamp(TimeUnit::Microsecond, None)
                                }
                            };
                            Field::new(&c.name, t, true)
                        })
                        .collect::<Vec<_>>(),
                ))
            }),
            timezone: self.timezone.clone(),
            decimal: self.decimal.map(|c| c as u8).unwrap_or(defaults.decimal),
            time: None,
            // Checked by `check_config`.
            format: self
                .format
                .as_deref()
                .and_then(|f| FileFormat::parse(f).ok()),
            nested: self
                .nested
                .as_deref()
                .and_then(|n| Nested::parse(n).ok())
                .unwrap_or_default(),
            sheet: self.sheet.clone(),
            header_row: self.header_row,
        }
    }

    pub(crate) fn entry_type(&self) -> EntryType {
        match self.entry_type {
            Some(Kind::Series) => EntryType::FileSeries,
            _ => EntryType::FileTable,
        }
    }
}

/// What a csvdir configuration must satisfy beyond its shape.
fn check_config(config: &CsvDirConfig) -> std::result::Result<(), String> {
    let invalid = |detail: String| detail;
    let pattern = tinyfs::glob::Pattern::parse(&config.source)
        .map_err(|e| invalid(format!("source: {e}")))?;
    if !pattern.is_absolute() {
        return Err(invalid(format!(
            "source: {} is relative; write the pond path from / (a node has no working directory)",
            config.source
        )));
    }
    if let Some(d) = config.delimiter
        && !d.is_ascii()
    {
        return Err(invalid(format!(
            "delimiter: {d:?} is not one ASCII character"
        )));
    }
    let format = match &config.format {
        Some(format) => Some(FileFormat::parse(format).map_err(|e| format!("format: {e}"))?),
        None => None,
    };
    if let Some(nested) = &config.nested {
        Nested::parse(nested).map_err(|e| format!("nested: {e}"))?;
    }
    if config.header_row == Some(0) {
        return Err("header_row: rows are numbered from 1".into());
    }
    if let Some(format) = format {
        let set = [
            (
                config.delimiter.is_some(),
                FormatOption::Delimiter,
                "delimiter",
            ),
            (config.decimal.is_some(), FormatOption::Decimal, "decimal"),
            (config.schema.is_some(), FormatOption::Schema, "schema"),
            (
                config.has_header.is_some(),
                FormatOption::HasHeader,
                "has_header",
            ),
            (config.nested.is_some(), FormatOption::Nested, "nested"),
            (config.sheet.is_some(), FormatOption::Sheet, "sheet"),
            (
                config.header_row.is_some(),
                FormatOption::HeaderRow,
                "header_row",
            ),
        ];
        if let Some((_, _, field)) = set
            .iter()
            .find(|&&(set, option, _)| set && !format.reads(option))
        {
            return Err(format!("{field}: not an option of {} files", format.name()));
        }
    }
    if let Some(zone) = &config.timezone {
        pond_sql::check_timezone(zone).map_err(|e| invalid(format!("timezone: {e}")))?;
    }
    match (config.decimal, config.delimiter.unwrap_or(',')) {
        (None | Some('.'), _) => {}
        (Some(','), ',') => {
            return Err(invalid(
                "decimal: a decimal comma needs another delimiter (such as \";\")".into(),
            ));
        }
        (Some(','), _) => {}
        (Some(other), _) => {
            return Err(invalid(format!(
                "decimal: {other:?} is not a decimal separator (. or ,)"
            )));
        }
    }
    if config.timestamp_column.is_some() && config.entry_type != Some(Kind::Series) {
        return Err(invalid(
            "timestamp_column: only with entry_type: series".into(),
        ));
    }
    Ok(())
}

/// The `csvdir` factory, with the cache its entries' conversions go to.
#[derive(Debug)]
pub struct CsvDirFactory {
    cache: Arc<CsvCache>,
}

impl CsvDirFactory {
    /// A csvdir factory caching conversions under `cache_dir/csvdir/` (in a temporary
    /// directory removed with the process, when `None`).
    pub fn new(cache_dir: Option<PathBuf>) -> Self {
        CsvDirFactory {
            cache: Arc::new(CsvCache::new(cache_dir)),
        }
    }
}

#[async_trait]
impl TypedFactory for CsvDirFactory {
    type Config = CsvDirConfig;

    fn name(&self) -> &'static str {
        "csvdir"
    }

    fn description(&self) -> &'static str {
        "CSV, JSON lines or workbook files matching a pond glob, each as a table or series (converted once, cached)"
    }

    fn example(&self) -> &'static str {
        "source: /incoming/*.csv\nentry_type: series\n"
    }

    fn entry_type(&self) -> EntryType {
        EntryType::Directory
    }

    fn check(&self, _registry: &Registry, config: &CsvDirConfig) -> Result<(), String> {
        check_config(config)
    }

    async fn build(&self, ctx: BuildContext, config: CsvDirConfig) -> tinyfs::Result<NodeKind> {
        Ok(NodeKind::Directory(Arc::new(CsvDir {
            fs: ctx.fs,
            id: ctx.id,
            config: Arc::new(config),
            config_hash: blake3::hash(&ctx.config.config),
            cache: self.cache.clone(),
        })))
    }
}

/// A built csvdir.
#[derive(Debug)]
struct CsvDir {
    fs: FS,
    id: NodeId,
    config: Arc<CsvDirConfig>,
    config_hash: blake3::Hash,
    cache: Arc<CsvCache>,
}

impl CsvDir {
    /// The source's CSV files, each with its table name: `only` keeps one name.
    async fn sources(
        &self,
        only: Option<&str>,
    ) -> tinyfs::Result<Vec<(String, tinyfs::GlobMatch)>> {
        let root = self.fs.root();
        let name = format!("csvdir of {}", self.config.source);
        let matches =
            tinyfs::cycle::reading(self.id, &name, root.glob(&self.config.source)).await?;
        let mut out: Vec<(String, tinyfs::GlobMatch)> = Vec::new();
        for m in matches {
            if m.node.as_file().map(|f| f.entry_type()) != Some(EntryType::FileData) {
                continue;
            }
            let name = pond_sql::table_name(&m.path);
            if let Some((_, other)) = out.iter().find(|(n, _)| *n == name) {
                return Err(tinyfs::Error::InvalidConfig {
                    path: String::new(),
                    detail: format!(
                        "{} and {} would both be the table {name:?}; narrow the source glob",
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

    /// The table node for source `m`.
    async fn node(&self, m: tinyfs::GlobMatch) -> tinyfs::Result<Node> {
        let file = m
            .node
            .as_file()
            .ok_or_else(|| tinyfs::Error::internal("a csvdir source is not a file"))?;
        let versions = file.versions().await.at(&m.path)?;
        let latest = versions
            .last()
            .cloned()
            .ok_or_else(|| tinyfs::Error::internal("a file without versions"))?;
        let id = NodeId::derived(&[&self.id.as_u128().to_be_bytes(), m.path.as_bytes()]);
        let table = Arc::new(CsvTable {
            key: cache_key(m.node.id(), &latest, &self.config_hash),
            source: CsvSource {
                path: m.path,
                node: m.node,
                config: self.config.clone(),
            },
            cache: self.cache.clone(),
        });
        // The entry's version is its source's: a new source version is a new table. A
        // converted entry's index gives its rows and time range, with no CSV read.
        let converted = self.cache.converted(&table.key, &table.source).await;
        let index = converted.as_ref().map(|c| c.index());
        let version = FileVersion {
            size: 0,
            event_time: index.and_then(|i| i.event_time.clone()),
            members: None,
            rows: index.map(|i| i.rows),
            compacts: None,
            origin: None,
            ..latest
        };
        let file = ComputedFile::new(table, self.fs.root(), version);
        Ok(Node::new(id, self.id, NodeKind::File(Arc::new(file))))
    }
}

#[async_trait]
impl Directory for CsvDir {
    async fn get(&self, name: &str) -> tinyfs::Result<Option<Node>> {
        match self.sources(Some(name)).await?.pop() {
            Some((_, m)) => self.node(m).await.map(Some),
            None => Ok(None),
        }
    }

    async fn entries(&self) -> tinyfs::Result<Vec<(String, Node)>> {
        let mut out = Vec::new();
        for (name, m) in self.sources(None).await? {
            out.push((name, self.node(m).await?));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One CSV file as a table: the source version its node was built at, converted under
/// `key`.
#[derive(Debug)]
struct CsvTable {
    source: CsvSource,
    key: String,
    cache: Arc<CsvCache>,
}

/// The cache key of version `version` of source node `source` under the configuration
/// whose hash is `config`.
fn cache_key(source: NodeId, version: &FileVersion, config: &blake3::Hash) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(CACHE_FORMAT.as_bytes());
    hasher.update(&source.as_u128().to_be_bytes());
    hasher.update(&version.version.to_le_bytes());
    hasher.update(version.blake3.as_bytes());
    hasher.update(config.as_bytes());
    hasher.finalize().to_hex().to_string()
}

/// The time column of a csvdir entry of `schema`: `None` for a table; for a series the
/// configured one, else the only timestamp column, else one found by name.
pub(crate) fn time_column(
    config: &CsvDirConfig,
    schema: &Schema,
    source: &str,
) -> pond_sql::Result<Option<String>> {
    if config.entry_type() != EntryType::FileSeries {
        return Ok(None);
    }
    if config.timestamp_column.is_none() {
        let mut timestamps = schema
            .fields()
            .iter()
            .filter(|f| matches!(f.data_type(), DataType::Timestamp(_, _)));
        if let (Some(only), None) = (timestamps.next(), timestamps.next()) {
            return Ok(Some(only.name().clone()));
        }
    }
    pond_sql::find_timestamp_column(schema, config.timestamp_column.as_deref(), source)
        .map(Some)
        .map_err(|e| {
            pond_sql::Error::invalid(
                source,
                format!("{e} (in a csvdir, set timestamp_column in its configuration)"),
            )
        })
}

#[async_trait]
impl FileTable for CsvTable {
    fn entry_type(&self) -> EntryType {
        self.config().entry_type()
    }

    async fn provider(&self, _scope: &Scope) -> pond_sql::Result<Arc<dyn TableProvider>> {
        Ok(self.cache.conversion(&self.key, &self.source).await?)
    }

    async fn timestamp_column(&self, scope: &Scope) -> pond_sql::Result<Option<String>> {
        if self.config().entry_type() != EntryType::FileSeries {
            return Ok(None);
        }
        let schema = self.provider(scope).await?.schema();
        time_column(self.config(), &schema, &self.source.path)
    }
}

impl CsvTable {
    fn config(&self) -> &CsvDirConfig {
        &self.source.config
    }
}

//! The csvdir cache: each CSV source version converted once into Parquet, with a
//! temporal index beside it.
//!
//! `cache/csvdir/<key>.parquet` is a conversion; `<key>.index` beside it is an Arrow IPC
//! stream of no rows (behind a format line and the stream's BLAKE3 hash) whose schema is
//! the conversion's and whose metadata holds the conversion's row count and the range of
//! its time column. A table opened from the
//! cache ([`Conversion`]) reads the index only: its schema and row count come from it,
//! and a scan whose time filter cannot meet the range returns no rows without opening
//! the Parquet file. So a window query over a csvdir of a thousand days opens the days it
//! needs, and `describe` of a converted entry opens its index and nothing else. An index that is missing or damaged is made again from the Parquet footer; a
//! damaged Parquet file is converted again. Both are written to a temporary name and
//! renamed into place, so a crash leaves no partial entry.
//!
//! [`CsvCache::sweep`] removes the entries nothing reads any more (a csvdir removed, a
//! source removed or changed, a configuration changed) and the leftovers of interrupted
//! conversions; `pond maintain --keep-history` runs it.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tinyfs::ResultExt;

use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::file::metadata::ParquetMetaData;
use tinyfs::{EventTime, Node};
use tokio::io::AsyncWriteExt;

use crate::cache_dir::CacheDir;
use crate::csvdir::{CsvDirConfig, time_column};

/// Part of every cache key: change it when the conversion changes what it writes, so old
/// conversions are not served.
pub(crate) const CACHE_FORMAT: &str = "csvdir-parquet-2";

/// How many conversions the in-memory LRU keeps (each an index, and its Parquet table
/// once a scan opened it).
const MEMORY_ENTRIES: usize = 4096;

/// An index file: these bytes, the BLAKE3 hash of the Arrow IPC stream that follows,
/// and the stream.
const INDEX_MAGIC: &[u8] = b"pond-csvdir-index-1\n";

/// Index metadata keys: the conversion's rows, and its time column's name and range.
const ROWS: &str = "pond.rows";
const TIME_COLUMN: &str = "pond.time_column";
const TIME_MIN: &str = "pond.min_micros";
const TIME_MAX: &str = "pond.max_micros";

/// A CSV source a conversion reads: the pond path (for messages), the file node, and the
/// csvdir's configuration.
#[derive(Clone, Debug)]
pub(crate) struct CsvSource {
    pub path: String,
    pub node: Node,
    pub config: Arc<CsvDirConfig>,
}

/// What a conversion's index records.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Index {
    pub schema: SchemaRef,
    pub rows: u64,
    /// The range of the time column of a series entry (`None` for a table, or no times).
    pub event_time: Option<EventTime>,
}

impl Index {
    /// The index as an Arrow IPC stream of no rows.
    fn encode(&self) -> arrow::error::Result<Vec<u8>> {
        let mut metadata = self.schema.metadata().clone();
        metadata.insert(ROWS.into(), self.rows.to_string());
        if let Some(t) = &self.event_time {
            metadata.insert(TIME_COLUMN.into(), t.column.clone());
            metadata.insert(TIME_MIN.into(), t.min_micros.to_string());
            metadata.insert(TIME_MAX.into(), t.max_micros.to_string());
        }
        let schema = Schema::new_with_metadata(self.schema.fields().clone(), metadata);
        let mut stream = Vec::new();
        let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut stream, &schema)?;
        writer.finish()?;
        drop(writer);
        let mut out = INDEX_MAGIC.to_vec();
        out.extend_from_slice(blake3::hash(&stream).as_bytes());
        out.extend_from_slice(&stream);
        Ok(out)
    }

    /// The index in `bytes`, or `None` if they are not one (torn, damaged, or another
    /// format): the stream is decoded only once its hash matches.
    fn decode(bytes: &[u8]) -> Option<Index> {
        let rest = bytes.strip_prefix(INDEX_MAGIC)?;
        let (hash, stream) = rest.split_at_checked(blake3::OUT_LEN)?;
        if blake3::hash(stream).as_bytes() != hash {
            return None;
        }
        let reader = arrow::ipc::reader::StreamReader::try_new(stream, None).ok()?;
        let schema = reader.schema();
        let mut metadata: HashMap<String, String> = schema.metadata().clone();
        let rows = metadata.remove(ROWS)?.parse().ok()?;
        let event_time = match metadata.remove(TIME_COLUMN) {
            Some(column) => Some(EventTime {
                column,
                min_micros: metadata.remove(TIME_MIN)?.parse().ok()?,
                max_micros: metadata.remove(TIME_MAX)?.parse().ok()?,
            }),
            None => None,
        };
        Some(Index {
            schema: Arc::new(Schema::new_with_metadata(schema.fields().clone(), metadata)),
            rows,
            event_time,
        })
    }
}

/// Converted csvdir tables: an LRU in memory in front of Parquet files and their indexes
/// on disk.
pub struct CsvCache {
    /// Where conversions go: a temporary directory, removed with the process, when the pond
    /// has no cache directory.
    dir: CacheDir,
    memory: Mutex<lru::LruCache<String, Arc<Conversion>>>,
}

impl std::fmt::Debug for CsvCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io(path: &Path, source: std::io::Error) -> pond_sql::Error {
    pond_sql::Error::Io {
        path: path.display().to_string(),
        source,
    }
}

impl CsvCache {
    /// A cache writing Parquet under `dir/csvdir/` (a temporary directory when `None`).
    pub fn new(dir: Option<PathBuf>) -> Self {
        CsvCache {
            dir: CacheDir::new(dir.map(|d| d.join("csvdir"))),
            memory: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(MEMORY_ENTRIES).expect("non-zero"),
            )),
        }
    }

    fn dir(&self) -> pond_sql::Result<PathBuf> {
        self.dir.path()
    }

    fn remembered(&self, key: &str) -> Option<Arc<Conversion>> {
        self.memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    fn remember(&self, key: &str, conversion: Arc<Conversion>) -> Arc<Conversion> {
        self.memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(key.to_string(), conversion.clone());
        conversion
    }

    /// The conversion of `key` if its index is on disk: never reads the CSV.
    pub(crate) async fn converted(&self, key: &str, source: &CsvSource) -> Option<Arc<Conversion>> {
        if let Some(c) = self.remembered(key) {
            return Some(c);
        }
        let dir = self.dir().ok()?;
        let index = read_index(&dir.join(format!("{key}.index"))).await?;
        Some(self.remember(key, Conversion::new(&dir, key, source.clone(), index)))
    }

    /// The conversion of `key`, converting `source` if it is not cached.
    pub(crate) async fn conversion(
        &self,
        key: &str,
        source: &CsvSource,
    ) -> pond_sql::Result<Arc<Conversion>> {
        if let Some(c) = self.converted(key, source).await {
            return Ok(c);
        }
        let dir = self.dir()?;
        let parquet = dir.join(format!("{key}.parquet"));
        let index = match footer_index(&parquet, source).await {
            Ok(index) => index,
            Err(_) => {
                // Missing, or damaged (the cache is disposable): convert again.
                let _ = tokio::fs::remove_file(&parquet).await;
                convert(source, &dir, &parquet).await?;
                footer_index(&parquet, source).await?
            }
        };
        write_index(&dir, &dir.join(format!("{key}.index")), &index).await?;
        Ok(self.remember(key, Conversion::new(&dir, key, source.clone(), index)))
    }
}

/// What [`CsvCache::sweep`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Conversions removed (a Parquet file, its index, or both).
    pub entries: u64,
    /// Leftovers of interrupted conversions removed.
    pub partials: u64,
    /// The bytes of both.
    pub bytes: u64,
}

impl CsvCache {
    /// Removes every conversion whose key is not in `live`, and every leftover of an
    /// interrupted conversion, not modified within `grace` (a conversion another process
    /// is writing, or has just written for a newer pond version, is younger than that).
    /// A reader that opened a removed entry before the sweep keeps reading it; one that
    /// finds it gone converts again.
    pub async fn sweep(&self, live: &HashSet<String>, grace: Duration) -> pond_sql::Result<Swept> {
        let mut swept = Swept::default();
        let Some(dir) = self.dir.given() else {
            return Ok(swept);
        };
        let mut listing = match tokio::fs::read_dir(dir).await {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(swept),
            Err(e) => return Err(io(dir, e)),
        };
        let cutoff = SystemTime::now().checked_sub(grace);
        let mut gone: HashSet<String> = HashSet::new();
        while let Some(entry) = listing.next_entry().await.map_err(|e| io(dir, e))? {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some((key, extension)) = name.rsplit_once('.') else {
                continue;
            };
            let partial = match (key.starts_with('.'), extension) {
                (true, "source" | "csv" | "parquet" | "index") => true,
                (false, "parquet" | "index") => false,
                _ => continue,
            };
            if !partial && live.contains(key) {
                continue;
            }
            let path = entry.path();
            let meta = match entry.metadata().await {
                Ok(meta) if meta.is_file() => meta,
                _ => continue,
            };
            let modified = meta.modified().map_err(|e| io(&path, e))?;
            if cutoff.is_none_or(|cutoff| modified > cutoff) {
                continue;
            }
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                // Another sweep, or a conversion finishing, took it first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&path, e)),
            }
            swept.bytes += meta.len();
            if partial {
                swept.partials += 1;
            } else if gone.insert(key.to_string()) {
                swept.entries += 1;
            }
        }
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        for key in &gone {
            memory.pop(key);
        }
        Ok(swept)
    }
}

async fn read_index(path: &Path) -> Option<Index> {
    Index::decode(&tokio::fs::read(path).await.ok()?)
}

/// Writes `index` to `path` through a temporary file in `dir`.
async fn write_index(dir: &Path, path: &Path, index: &Index) -> pond_sql::Result<()> {
    let bytes = index.encode().map_err(|source| pond_sql::Error::Arrow {
        path: path.display().to_string(),
        source,
    })?;
    let partial = dir.join(format!(".{}.index", uuid::Uuid::now_v7().simple()));
    let written = async {
        tokio::fs::write(&partial, bytes)
            .await
            .map_err(|e| io(&partial, e))?;
        tokio::fs::rename(&partial, path)
            .await
            .map_err(|e| io(path, e))
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    written
}

/// The Arrow schema and metadata in the footer of the Parquet file at `path`.
async fn footer(path: &Path) -> pond_sql::Result<(SchemaRef, Arc<ParquetMetaData>)> {
    let file = tokio::fs::File::open(path).await.map_err(|e| io(path, e))?;
    let builder = ParquetRecordBatchStreamBuilder::new(file)
        .await
        .map_err(|source| pond_sql::Error::Parquet {
            path: path.display().to_string(),
            source,
        })?;
    let schema = builder.schema().clone();
    // Conversions always have columns: none means the file is not what was written.
    if schema.fields().is_empty() {
        return Err(pond_sql::Error::invalid(
            path.display(),
            "no Parquet schema in a cache entry",
        ));
    }
    Ok((schema, builder.metadata().clone()))
}

/// The index of the Parquet file at `path`, from its footer.
async fn footer_index(path: &Path, source: &CsvSource) -> pond_sql::Result<Index> {
    let (schema, metadata) = footer(path).await?;
    let rows = u64::try_from(metadata.file_metadata().num_rows()).unwrap_or(0);
    // A series entry whose time column cannot be told has no range: a scan then opens it,
    // and reading its time column reports why.
    let event_time = match time_column(&source.config, &schema, &source.path) {
        Ok(Some(column)) => pond_sql::footer_event_time(&metadata, &schema, &column),
        _ => None,
    };
    Ok(Index {
        schema,
        rows,
        event_time,
    })
}

/// Converts the CSV into `dest`, through a temporary file in `dir` renamed into place.
async fn convert(source: &CsvSource, dir: &Path, dest: &Path) -> pond_sql::Result<()> {
    tracing::trace!(target: "pond_factories::convert", path = %source.path, "converting a CSV");
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io(dir, e))?;
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let spool = dir.join(format!(".{unique}.source"));
    let partial = dir.join(format!(".{unique}.parquet"));
    let result = async {
        let file = source
            .node
            .as_file()
            .ok_or_else(|| pond_sql::Error::invalid(&source.path, "not a file"))?;
        let mut reader = file.reader(None).await.at(&source.path)?;
        let mut out = tokio::fs::File::create(&spool)
            .await
            .map_err(|e| io(&spool, e))?;
        tokio::io::copy(&mut reader, &mut out)
            .await
            .map_err(|e| io(&spool, e))?;
        out.flush().await.map_err(|e| io(&spool, e))?;
        drop(out);
        let (spool2, partial2, shown) = (spool.clone(), partial.clone(), source.path.clone());
        let options = source.config.options();
        tokio::task::spawn_blocking(move || {
            pond_sql::to_parquet(&spool2, &shown, &options, &partial2)
        })
        .await
        .map_err(|e| pond_sql::Error::invalid(&source.path, format!("conversion: {e}")))??;
        tokio::fs::rename(&partial, dest)
            .await
            .map_err(|e| io(dest, e))?;
        // The rename is durable with its directory.
        let dir = tokio::fs::File::open(dir).await.map_err(|e| io(dir, e))?;
        dir.sync_all().await.map_err(|e| io(dest, e))
    }
    .await;
    let _ = tokio::fs::remove_file(&spool).await;
    let _ = tokio::fs::remove_file(&partial).await;
    result
}

/// One cached conversion as a table: schema and rows from its index, the Parquet file
/// opened by the first scan the index's time range does not rule out.
#[derive(Debug)]
pub(crate) struct Conversion {
    parquet: PathBuf,
    dir: PathBuf,
    source: CsvSource,
    index: Index,
    opened: tokio::sync::OnceCell<Arc<dyn TableProvider>>,
}

impl Conversion {
    fn new(dir: &Path, key: &str, source: CsvSource, index: Index) -> Arc<Self> {
        Arc::new(Conversion {
            parquet: dir.join(format!("{key}.parquet")),
            dir: dir.to_path_buf(),
            source,
            index,
            opened: tokio::sync::OnceCell::new(),
        })
    }

    /// What the index records.
    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    /// The Parquet file as a table, opened once; converted again when it is gone or
    /// damaged.
    async fn table(&self) -> pond_sql::Result<&Arc<dyn TableProvider>> {
        self.opened
            .get_or_try_init(|| async {
                match self.open().await {
                    Ok(table) => Ok(table),
                    Err(_) => {
                        let _ = tokio::fs::remove_file(&self.parquet).await;
                        convert(&self.source, &self.dir, &self.parquet).await?;
                        self.open().await
                    }
                }
            })
            .await
    }

    async fn open(&self) -> pond_sql::Result<Arc<dyn TableProvider>> {
        tracing::trace!(target: "pond_factories::conversion", path = %self.source.path, "opening a conversion");
        let shown = self.parquet.display().to_string();
        let df = |source| pond_sql::Error::DataFusion {
            path: shown.clone(),
            source,
        };
        let url = ListingTableUrl::parse(
            self.parquet
                .to_str()
                .ok_or_else(|| pond_sql::Error::invalid(&shown, "the cache path is not UTF-8"))?,
        )
        .map_err(df)?;
        // The footer must be there and agree with the index: a damaged or replaced file is
        // converted again, not scanned.
        let (schema, _) = footer(&self.parquet).await?;
        if schema.fields() != self.index.schema.fields() {
            return Err(pond_sql::Error::invalid(
                &shown,
                "the cache entry's schema is not its index's",
            ));
        }
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(self.index.schema.clone());
        let table = ListingTable::try_new(config).map_err(df)?;
        Ok(Arc::new(table))
    }
}

#[async_trait]
impl TableProvider for Conversion {
    fn schema(&self) -> SchemaRef {
        self.index.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    fn statistics(&self) -> Option<Statistics> {
        Some(Statistics {
            num_rows: Precision::Exact(self.index.rows as usize),
            ..Statistics::new_unknown(&self.index.schema)
        })
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        if let Some(range) = &self.index.event_time
            && !pond_sql::overlaps(pond_sql::time_bounds(filters, &range.column), range)
        {
            return pond_sql::no_rows(&self.index.schema, projection);
        }
        let table = self
            .table()
            .await
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        table.scan(state, projection, filters, limit).await
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field, TimeUnit};

    use super::*;

    #[test]
    fn an_index_reads_back_as_written() {
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "timestamp",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("level", DataType::Float64, true),
        ]));
        for event_time in [
            None,
            Some(EventTime {
                column: "timestamp".into(),
                min_micros: -5,
                max_micros: 1_704_067_200_000_000,
            }),
        ] {
            let index = Index {
                schema: schema.clone(),
                rows: 48,
                event_time,
            };
            let bytes = index.encode().unwrap();
            assert_eq!(Index::decode(&bytes), Some(index));
            // A torn or damaged write is no index (and is made again from the footer).
            assert_eq!(Index::decode(&bytes[..bytes.len() - 1]), None);
            let mut flipped = bytes.clone();
            *flipped.last_mut().unwrap() ^= 1;
            assert_eq!(Index::decode(&flipped), None);
        }
        assert_eq!(Index::decode(b""), None);
        assert_eq!(Index::decode(b"torn"), None);
    }
}

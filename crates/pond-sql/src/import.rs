//! Importing host files as tables and series: CSV, JSON lines and workbook sheets
//! converted to Parquet (see [`crate::formats`]: types inferred over the whole file),
//! Parquet validated and stored.
//!
//! A series import is an append, and follows the rules of [`crate::conform`]: the batch is
//! fitted to the series' schema (or refused, naming the column, value and row), its
//! timestamps stored as UTC instants, its rows in time order (a batch that is not is
//! sorted, spilling to disk beyond a memory budget), and a batch identical to a version
//! the series already has is refused. Nothing is written unless the whole file converts.

use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef, TimeUnit};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::file::properties::WriterProperties;
use tinyfs::{EntryType, FileVersion, WD};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::conform::{
    Conformer, UTC, append_schema, instant_type, instants, localized, map_fields,
};
use crate::csv::check_timezone;
use crate::error::{Error, Result};
use crate::event_time::{EventTimeRange, find_timestamp_column};
use crate::formats::{Input, ReadOptions};
use crate::parquet_writer::{
    Next, series_writer_properties, write_parquet_inspected, writer_properties,
};
use crate::read::{members_schema, version_footer};

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// `file:table` or `file:series`.
    pub entry_type: EntryType,
    /// For a series, its timestamp column; found by name when `None`.
    pub timestamp_column: Option<String>,
    /// How to read input that is not Parquet (its format, and the options of CSV, JSON
    /// lines and workbooks), and the time zone of timestamps written without an offset
    /// (which a Parquet input's naive timestamps are taken in too).
    pub read: ReadOptions,
    /// Skip, rather than refuse, a series batch identical to a version it already has.
    pub skip_duplicate: bool,
}

/// What an import wrote.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The new version; or, when `skipped`, the existing version the batch is identical to.
    pub version: FileVersion,
    /// How many rows it has.
    pub rows: u64,
    /// Whether the source was converted (else it was Parquet, stored as is).
    pub converted: bool,
    /// Whether nothing was written because an identical version exists (`skip_duplicate`).
    pub skipped: bool,
}

async fn is_parquet(source: &Path) -> Result<bool> {
    let io = |e| Error::Io {
        path: source.display().to_string(),
        source: e,
    };
    let mut f = tokio::fs::File::open(source).await.map_err(io)?;
    let len = f.metadata().await.map_err(io)?.len();
    if len < 8 {
        return Ok(false);
    }
    let mut head = [0u8; 4];
    f.read_exact(&mut head).await.map_err(io)?;
    f.seek(std::io::SeekFrom::End(-4)).await.map_err(io)?;
    let mut tail = [0u8; 4];
    f.read_exact(&mut tail).await.map_err(io)?;
    Ok(&head == b"PAR1" && &tail == b"PAR1")
}

/// What a series already is: its schema, timestamp column and members.
pub(crate) struct Existing {
    pub(crate) schema: SchemaRef,
    pub(crate) column: Option<String>,
    /// The versions that make it up.
    pub(crate) members: Vec<FileVersion>,
}

/// What the series at `dest` is, if it is one. Reads its members (from its newest log
/// files) and one footer, whatever the number of versions (every footer for a series
/// whose latest version predates [`crate::read::SERIES_SCHEMA_KEY`]).
pub(crate) async fn existing_series(wd: &WD, dest: &str) -> Result<Option<Existing>> {
    let Some(node) = wd.get(dest).await? else {
        return Ok(None);
    };
    match node.as_file() {
        Some(file) if file.entry_type() == EntryType::FileSeries => {}
        _ => return Ok(None),
    }
    let bare = tinyfs::Path::parse(dest)?.without_version();
    let members = wd.members(&bare).await?;
    if members.is_empty() {
        return Ok(None);
    }
    let schema = members_schema(wd, &bare.to_string(), &members).await?;
    let column = crate::event_time::timestamp_column_of(members.iter());
    Ok(Some(Existing {
        schema,
        column,
        members,
    }))
}

/// A host file being imported: Parquet, or a file [`Input`] reads.
struct Source<'a> {
    path: &'a Path,
    shown: String,
    /// The file as CSV, JSON lines or a sheet, its types inferred once for every read;
    /// `None` for Parquet.
    input: Option<Input>,
    /// The zone of a Parquet file's naive timestamps (UTC if `None`).
    timezone: Option<String>,
    schema: SchemaRef,
}

impl<'a> Source<'a> {
    async fn open(path: &'a Path, shown: String, options: ReadOptions) -> Result<Source<'a>> {
        if let Some(zone) = &options.timezone {
            check_timezone(zone).map_err(|e| Error::invalid(&shown, e))?;
        }
        let timezone = options.timezone.clone();
        let input = if is_parquet(path).await? {
            None
        } else {
            // Opening infers the types over the whole file: blocking work.
            let (path, shown) = (path.to_path_buf(), shown.clone());
            let opened = tokio::task::spawn_blocking(move || Input::open(&path, &shown, &options));
            let opened = opened
                .await
                .map_err(|e| tinyfs::Error::internal(format!("an import task: {e}")))?;
            Some(opened?)
        };
        let mut source = Source {
            schema: input
                .as_ref()
                .map_or_else(|| Arc::new(Schema::empty()), |input| input.schema().clone()),
            path,
            shown,
            input,
            timezone,
        };
        if source.is_parquet() {
            source.schema = source.batches().await?.0;
        }
        Ok(source)
    }

    /// Whether the file is Parquet.
    fn is_parquet(&self) -> bool {
        self.input.is_none()
    }

    /// The file's schema and batches, timestamps as instants (naive Parquet timestamps
    /// taken in the source's zone). Each call reads the file again.
    async fn batches(&self) -> Result<(SchemaRef, BoxStream<'static, Result<RecordBatch>>)> {
        if let Some(input) = &self.input {
            // Read as csvdir reads it (see `crate::formats`), blocking, in batches of
            // 64 Ki rows.
            return Ok((
                input.schema().clone(),
                stream::iter(input.batches()?).boxed(),
            ));
        }
        let shown = self.shown.clone();
        let file = tokio::fs::File::open(self.path)
            .await
            .map_err(|source| Error::Io {
                path: shown.clone(),
                source,
            })?;
        let stream = ParquetRecordBatchStreamBuilder::new(file)
            .await
            .and_then(|b| b.build())
            .map_err(|source| Error::Parquet {
                path: shown.clone(),
                source,
            })?;
        let schema = stream.schema().clone();
        let localized = localized(&schema, self.timezone.as_deref().unwrap_or(UTC));
        let mut conformer = Conformer::new(localized.clone(), shown.clone());
        let batches = stream
            .map_err(move |source| Error::Parquet {
                path: shown.clone(),
                source,
            })
            .and_then(move |batch| std::future::ready(conformer.conform(&batch)));
        Ok((localized, batches.boxed()))
    }
}

/// Imports the host file `source` (CSV, or Parquet by its magic bytes) as the next version
/// of the table or series at `dest` (created if missing). `on_rows` is told how many rows
/// have been read so far, and of how many where that is known (a CSV file's rows, counted
/// as its types are inferred). Nothing is written unless the whole file converts.
pub async fn import_file(
    wd: &WD,
    source: &Path,
    dest: &str,
    options: &ImportOptions,
    on_rows: &mut (dyn FnMut(u64, Option<u64>) + Send),
) -> Result<Imported> {
    let provenance = Provenance {
        shown: source.display().to_string(),
        origin: None,
        replace: false,
    };
    import_as(wd, source, &provenance, dest, options, on_rows).await
}

/// Where an import's rows come from, beyond the file read: what a sync knows.
pub(crate) struct Provenance {
    /// The source as errors name it (the host file a snapshot was taken of).
    pub(crate) shown: String,
    /// The host file, recorded with the version.
    pub(crate) origin: Option<tinyfs::Origin>,
    /// Whether a series' new version replaces its rows (it alone is then the series;
    /// earlier versions stay in its history) rather than joining them.
    pub(crate) replace: bool,
}

/// [`import_file`], as `provenance` says.
pub(crate) async fn import_as(
    wd: &WD,
    source: &Path,
    provenance: &Provenance,
    dest: &str,
    options: &ImportOptions,
    on_rows: &mut (dyn FnMut(u64, Option<u64>) + Send),
) -> Result<Imported> {
    if !options.entry_type.is_table() {
        return Err(Error::invalid(
            dest,
            format!("cannot import as {}", options.entry_type),
        ));
    }
    let series = options.entry_type == EntryType::FileSeries;
    let mut existing = if series {
        existing_series(wd, dest).await?
    } else {
        None
    };
    let column = series_column(dest, options, existing.as_ref())?;
    // A replacing version is the series alone: it need not fit the rows it replaces.
    let next = if provenance.replace && existing.take().is_some() {
        Some(wd.latest(dest).await?.map_or(1, |v| v.version + 1))
    } else {
        None
    };
    let source = Source::open(source, provenance.shown.clone(), options.read.clone()).await?;
    let total = source.input.as_ref().and_then(Input::rows);
    let on_rows = &mut |rows| on_rows(rows, total);
    let shown = source.shown.clone();
    let column = match series {
        true => Some(batch_time_column(
            &source.schema,
            column.as_deref(),
            &shown,
        )?),
        false => None,
    };
    let mut target = if series {
        append_schema(
            existing.as_ref().map(|e| e.schema.as_ref()),
            &source.schema,
            dest,
        )?
    } else {
        instants(&source.schema)
    };
    if !series && source.is_parquet() && target == source.schema {
        return store_as_is(wd, &source, dest, provenance.origin, on_rows).await;
    }
    if let Some(column) = &column {
        // A time column read as text (one value did not parse as a time) is parsed as
        // times, so the value that does not parse is named with its row.
        target = as_time_column(&target, column);
    }
    let properties = match &column {
        Some(column) => series_writer_properties(&target, column)?,
        None => writer_properties(),
    };
    let plan = Plan {
        dest,
        entry_type: options.entry_type,
        target,
        properties,
        column,
    };
    let mut written = plan.write(wd, &source, false, on_rows).await?;
    if written.range.as_ref().is_some_and(|r| !r.is_sorted()) {
        // Not in time order: read it again, sorted. The unsorted body was never finished,
        // so it left nothing behind.
        drop(written);
        written = plan.write(wd, &source, true, on_rows).await?;
    }
    if let Some(existing) = &existing
        && let Some(same) = duplicate_of(wd, dest, existing, &plan, &source, &written).await?
    {
        if options.skip_duplicate {
            return Ok(Imported {
                version: same,
                rows: written.rows,
                converted: true,
                skipped: true,
            });
        }
        return Err(Error::invalid(
            dest,
            format!(
                "{shown} has the same rows as version {}; nothing was appended (--skip-duplicate skips batches a series already has)",
                same.version
            ),
        ));
    }
    let Written {
        mut writer,
        range,
        rows,
        ..
    } = written;
    if let Some(range) = range {
        writer.set_event_time(finish_range(range, &shown)?);
    }
    writer.set_rows(rows);
    if let Some(origin) = provenance.origin {
        writer.set_origin(origin);
    }
    if let Some(next) = next {
        writer.set_members(std::iter::once(next).collect());
    }
    let version = writer.finish().await?;
    Ok(Imported {
        version,
        rows,
        converted: true,
        skipped: false,
    })
}

/// The timestamp column of a series batch of `schema`: `asked` (the series' own, or the one
/// the user named), which the batch must have; else found by name, a text column with a
/// timestamp name counting (its values are parsed, and a bad one named).
fn batch_time_column(schema: &Schema, asked: Option<&str>, shown: &str) -> Result<String> {
    if let Some(name) = asked {
        if schema
            .field_with_name(name)
            .is_ok_and(|f| f.data_type().is_string())
        {
            return Ok(name.to_string());
        }
        return find_timestamp_column(schema, Some(name), shown);
    }
    find_timestamp_column(schema, None, shown).or_else(|e| {
        schema
            .fields()
            .iter()
            .find(|f| {
                f.data_type().is_string()
                    && crate::event_time::COMMON_NAMES
                        .iter()
                        .any(|n| f.name().eq_ignore_ascii_case(n))
            })
            .map(|f| f.name().clone())
            .ok_or(e)
    })
}

/// `schema` with `column`, if it is text, as UTC instants.
fn as_time_column(schema: &Schema, column: &str) -> SchemaRef {
    map_fields(schema, |f| {
        match f.name() == column && f.data_type().is_string() {
            true => f
                .clone()
                .with_data_type(instant_type(TimeUnit::Microsecond)),
            false => f.clone(),
        }
    })
}

/// The timestamp column a new version of the series at `dest` must use: the one its
/// versions already use, which an explicit choice may not contradict.
fn series_column(
    dest: &str,
    options: &ImportOptions,
    existing: Option<&Existing>,
) -> Result<Option<String>> {
    let used = existing.and_then(|e| e.column.clone());
    match (&options.timestamp_column, used) {
        (Some(asked), Some(used)) if *asked != used => Err(Error::invalid(
            dest,
            format!("its versions use timestamp column {used:?}, not {asked:?}"),
        )),
        (Some(asked), _) => Ok(Some(asked.clone())),
        (None, used) => Ok(used),
    }
}

/// The range of a series version; a timestamp column with no values has none.
fn finish_range(range: EventTimeRange, shown: &str) -> Result<tinyfs::EventTime> {
    range.finish().ok_or_else(|| {
        Error::invalid(
            shown,
            "the timestamp column has no values, so the series has no time range",
        )
    })
}

/// The version of the series with exactly the rows of the batch just written, if any.
/// Only a version the series holds with the same row count and time range can be one,
/// and those (found from the log) are compared row by row in the new schema. A batch
/// whose range meets no member's (as the next hour's does) can be none, and the versions
/// the members compact are not listed.
async fn duplicate_of(
    wd: &WD,
    dest: &str,
    existing: &Existing,
    plan: &Plan<'_>,
    source: &Source<'_>,
    written: &Written,
) -> Result<Option<FileVersion>> {
    let Some(bounds) = written.range.as_ref().and_then(|r| r.bounds()) else {
        return Ok(None);
    };
    let bare = tinyfs::Path::parse(dest)?.without_version();
    let meets = |v: &FileVersion| {
        v.event_time
            .as_ref()
            .is_some_and(|t| t.min_micros <= bounds.1 && bounds.0 <= t.max_micros)
    };
    if !existing.members.iter().any(meets) {
        return Ok(None);
    }
    // Batches compacted into a larger version are still compared one by one.
    let all = wd.versions(&bare).await?;
    let held_set = tinyfs::held_versions(&all);
    let held = all.into_iter().filter(|v| held_set.contains(v.version));
    let mut candidates = Vec::new();
    for v in held.filter(|v| {
        v.event_time
            .as_ref()
            .is_some_and(|t| (t.min_micros, t.max_micros) == bounds)
    }) {
        let rows = match v.rows {
            Some(rows) => rows,
            None => {
                let footer = version_footer(wd, &bare, v.clone()).await?;
                footer.metadata.file_metadata().num_rows() as u64
            }
        };
        if rows == written.rows {
            candidates.push(v);
        }
    }
    if candidates.is_empty() {
        return Ok(None);
    }
    for candidate in candidates {
        let at = format!("{dest}@v{}", candidate.version);
        let mut conformer = Conformer::new(plan.target.clone(), at.as_str());
        let stored = crate::read::read_table(wd, &at)
            .await?
            .map_err(Error::Sql)
            .and_then(move |b| std::future::ready(conformer.conform(&b)))
            .boxed();
        // The batch as it was written: sorted only if it had to be.
        if same_rows(plan.batches(source, written.sorted).await?, stored).await? {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// Whether two streams of batches of one schema hold the same rows in the same order,
/// compared a slice at a time (neither is held whole).
pub(crate) async fn same_rows(
    mut a: BoxStream<'static, Result<RecordBatch>>,
    mut b: BoxStream<'static, Result<RecordBatch>>,
) -> Result<bool> {
    async fn next_rows(
        s: &mut BoxStream<'static, Result<RecordBatch>>,
        held: &mut Option<RecordBatch>,
    ) -> Result<()> {
        while held.as_ref().is_none_or(|b| b.num_rows() == 0) {
            match s.next().await.transpose()? {
                Some(batch) => *held = Some(batch),
                None => {
                    *held = None;
                    return Ok(());
                }
            }
        }
        Ok(())
    }
    let (mut x, mut y) = (None, None);
    loop {
        next_rows(&mut a, &mut x).await?;
        next_rows(&mut b, &mut y).await?;
        let (p, q) = match (&x, &y) {
            (None, None) => return Ok(true),
            (Some(p), Some(q)) => (p, q),
            _ => return Ok(false),
        };
        let n = p.num_rows().min(q.num_rows());
        if p.slice(0, n) != q.slice(0, n) {
            return Ok(false);
        }
        let (rest_p, rest_q) = (p.slice(n, p.num_rows() - n), q.slice(n, q.num_rows() - n));
        (x, y) = (Some(rest_p), Some(rest_q));
    }
}

/// A body written but not yet finished: dropping `writer` leaves no version.
struct Written {
    writer: Box<dyn tinyfs::FileWriter>,
    range: Option<EventTimeRange>,
    rows: u64,
    /// Whether the rows were sorted by time to be written.
    sorted: bool,
}

/// What one import writes: where, in which schema, with which settings.
struct Plan<'a> {
    dest: &'a str,
    entry_type: EntryType,
    target: SchemaRef,
    properties: WriterProperties,
    /// A series' timestamp column.
    column: Option<String>,
}

impl Plan<'_> {
    /// `source` in the target schema, sorted by time if `sort` (and this is a series).
    async fn batches(
        &self,
        source: &Source<'_>,
        sort: bool,
    ) -> Result<BoxStream<'static, Result<RecordBatch>>> {
        let (_, batches) = source.batches().await?;
        let mut conformer = Conformer::new(self.target.clone(), source.shown.as_str());
        let batches = batches.and_then(move |b| std::future::ready(conformer.conform(&b)));
        Ok(match (&self.column, sort) {
            (Some(column), true) => sort_by_time(self.target.clone(), batches.boxed(), column)?,
            _ => batches.boxed(),
        })
    }

    /// Reads `source`, conforms it to the target schema, sorts it by time if `sort`, and
    /// writes it as a body not yet finished. Unsorted, it stops at the first batch out of
    /// time order (the range then says so, and the body is to be dropped).
    async fn write(
        &self,
        wd: &WD,
        source: &Source<'_>,
        sort: bool,
        on_rows: &mut (dyn FnMut(u64) + Send),
    ) -> Result<Written> {
        let mut batches = self.batches(source, sort).await?;
        let mut writer = wd.file_writer(self.dest, self.entry_type).await?;
        let mut range = self.column.as_deref().map(EventTimeRange::new);
        let mut seen = 0u64;
        let written = write_parquet_inspected(
            &mut writer,
            self.target.clone(),
            self.properties.clone(),
            &mut batches,
            self.dest,
            |batch| {
                if let Some(range) = range.as_mut() {
                    range.update(batch, &source.shown)?;
                    if !sort && !range.is_sorted() {
                        // The caller reads it again, sorted: writing the rest is waste.
                        return Ok(Next::Stop);
                    }
                }
                seen += batch.num_rows() as u64;
                on_rows(seen);
                Ok(Next::Write)
            },
        )
        .await?;
        let rows = written.rows;
        Ok(Written {
            writer,
            range,
            rows,
            sorted: sort,
        })
    }
}

/// A Parquet table stored byte for byte.
async fn store_as_is(
    wd: &WD,
    source: &Source<'_>,
    dest: &str,
    origin: Option<tinyfs::Origin>,
    on_rows: &mut (dyn FnMut(u64) + Send),
) -> Result<Imported> {
    let io = |e| Error::Io {
        path: source.shown.clone(),
        source: e,
    };
    let file = tokio::fs::File::open(source.path).await.map_err(io)?;
    let rows = ParquetRecordBatchStreamBuilder::new(file)
        .await
        .map_err(|source_error| Error::Parquet {
            path: source.shown.clone(),
            source: source_error,
        })?
        .metadata()
        .file_metadata()
        .num_rows() as u64;
    let mut writer = wd.file_writer(dest, EntryType::FileTable).await?;
    let mut file = tokio::fs::File::open(source.path).await.map_err(io)?;
    tokio::io::copy(&mut file, &mut writer).await.map_err(io)?;
    tokio::io::AsyncWriteExt::flush(&mut writer)
        .await
        .map_err(io)?;
    on_rows(rows);
    writer.set_rows(rows);
    if let Some(origin) = origin {
        writer.set_origin(origin);
    }
    let version = writer.finish().await?;
    Ok(Imported {
        version,
        rows,
        converted: false,
        skipped: false,
    })
}

/// How much memory sorting a batch may use before it spills to disk.
const SORT_MEMORY: usize = 256 << 20;

/// `batches` sorted by `column`, nulls last, equal times in input order; DataFusion's
/// sort, spilling to the system temp directory beyond [`SORT_MEMORY`].
pub(crate) fn sort_by_time(
    schema: SchemaRef,
    batches: BoxStream<'static, Result<RecordBatch>>,
    column: &str,
) -> Result<BoxStream<'static, Result<RecordBatch>>> {
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext, col};
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(SORT_MEMORY, 1.0)
        .build_arc()
        .map_err(Error::Sql)?;
    let ctx =
        SessionContext::new_with_config_rt(SessionConfig::new().with_target_partitions(1), runtime);
    let once = OneShot {
        schema: schema.clone(),
        batches: Mutex::new(Some(batches)),
    };
    let table =
        datafusion::catalog::streaming::StreamingTable::try_new(schema, vec![Arc::new(once)])
            .map_err(Error::Sql)?;
    let column = column.to_string();
    let sorted = stream::once(async move {
        let df = ctx.read_table(Arc::new(table))?;
        let df = df.sort(vec![
            col(datafusion::common::Column::from_name(column)).sort(true, false),
        ])?;
        df.execute_stream().await
    })
    .map_ok(|s| s.map_err(Error::Sql))
    .map_err(Error::Sql)
    .try_flatten();
    Ok(sorted.boxed())
}

/// A stream DataFusion reads once.
struct OneShot {
    schema: SchemaRef,
    batches: Mutex<Option<BoxStream<'static, Result<RecordBatch>>>>,
}

impl std::fmt::Debug for OneShot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneShot").finish_non_exhaustive()
    }
}

impl PartitionStream for OneShot {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batches = self
            .batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let stream = match batches {
            Some(b) => b
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
                .boxed(),
            None => stream::once(async {
                Err(datafusion::error::DataFusionError::Internal(
                    "a one-shot stream read twice".into(),
                ))
            })
            .boxed(),
        };
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

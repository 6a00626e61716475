//! Exporting pond files to a host directory: what `pond export` does.
//!
//! [`export_plan`] says which files a glob exports and where each goes (a directory
//! matched brings every file below it; a table gets the extension of the format it is
//! written in, `.parquet` or `.csv`, whatever its pond name); [`export_file`] writes one
//! to its host file and [`export_to`] to any writer (standard output): a data file, or a
//! table as Parquet, byte for byte (a table's body is Parquet); a series, a computed
//! table or a table as CSV through its rows.
//! [`utc_as_text`] is how UTC timestamps read in every text format pond writes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::{StreamExt, TryStreamExt};
use tinyfs::progress::{self, Unit};
use tinyfs::{EntryType, NodeKind, WD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::context::PondSession;
use crate::error::{Error, Result};
use crate::parquet_writer::{write_parquet, writer_properties};

/// How tables are exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// Parquet.
    Parquet,
    /// CSV with a header, UTC timestamps as RFC 3339 text.
    Csv,
}

impl ExportFormat {
    /// The file name extension of the format, without its dot.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Csv => "csv",
        }
    }
}

/// `name` of a table exported in `format`: with the format's extension, which replaces
/// another format's (`x.csv` as Parquet is `x.parquet`) and follows any other name
/// (`a.series` is `a.series.parquet`).
fn exported_name(name: &str, format: ExportFormat) -> String {
    let wanted = format.extension();
    match name.rsplit_once('.') {
        Some((_, ext)) if ext.eq_ignore_ascii_case(wanted) => name.to_string(),
        Some((stem, ext))
            if !stem.is_empty()
                && ["csv", "tsv", "parquet"]
                    .iter()
                    .any(|e| ext.eq_ignore_ascii_case(e)) =>
        {
            format!("{stem}.{wanted}")
        }
        _ => format!("{name}.{wanted}"),
    }
}

/// One file to export: the pond path, what it is, and the host path it goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportJob {
    /// The pond path.
    pub path: String,
    /// What the file is.
    pub entry_type: EntryType,
    /// Where it goes.
    pub host: PathBuf,
}

/// What [`export_file`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exported {
    /// The file's bytes, this many.
    Bytes(u64),
    /// The table's rows, this many.
    Rows(u64),
}

/// The files `glob` exports into `host_dir` in `format`, in order: every file it matches,
/// and every file below a directory it matches (symlinks are not followed out of one).
/// A plain path is made canonical first. No match is an error.
pub async fn export_plan(
    root: &WD,
    glob: &str,
    host_dir: &Path,
    format: ExportFormat,
) -> Result<Vec<ExportJob>> {
    let matches = if tinyfs::glob::Pattern::has_wildcards(glob) {
        root.glob(glob).await?
    } else {
        root.glob(&root.canonicalize(glob).await?).await?
    };
    if matches.is_empty() {
        return Err(Error::invalid(glob, "no match"));
    }
    let mut files = Vec::new();
    for m in matches {
        match m.node.kind() {
            NodeKind::Directory(_) => {
                let below = if m.path == "/" {
                    "/**".to_string()
                } else {
                    format!("{}/**", m.path)
                };
                for f in root.glob(&below).await? {
                    if matches!(f.node.kind(), NodeKind::File(_)) {
                        files.push((f.path, f.node.entry_type()));
                    }
                }
            }
            NodeKind::File(_) => files.push((m.path, m.node.entry_type())),
            NodeKind::Symlink(_) => {}
        }
    }
    // A glob such as `/**` matches a directory and the files below it: each once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|(path, _)| seen.insert(path.clone()));
    let mut jobs: Vec<ExportJob> = Vec::with_capacity(files.len());
    let mut taken: std::collections::HashMap<PathBuf, usize> = Default::default();
    for (path, entry_type) in files {
        let mut host = host_dir.join(path.trim_start_matches('/'));
        if entry_type.is_table() {
            let name = path.rsplit('/').next().unwrap_or(&path);
            host.set_file_name(exported_name(name, format));
        }
        if let Some(&other) = taken.get(&host) {
            return Err(Error::invalid(
                &path,
                format!(
                    "it and {} would both be exported to {}; export them one at a time",
                    jobs[other].path,
                    host.display()
                ),
            ));
        }
        taken.insert(host.clone(), jobs.len());
        jobs.push(ExportJob {
            path,
            entry_type,
            host,
        });
    }
    Ok(jobs)
}

/// Writes `job` (from [`export_plan`]) in `format`, making its host directory; the file is
/// synced before this returns.
pub async fn export_file(root: &WD, job: &ExportJob, format: ExportFormat) -> Result<Exported> {
    let host = &job.host;
    let io = |source| Error::Io {
        path: host.display().to_string(),
        source,
    };
    if let Some(parent) = host.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|source| Error::Io {
                path: parent.display().to_string(),
                source,
            })?;
    }
    let file = tokio::fs::File::create(host).await.map_err(io)?;
    let (file, exported) = export_to(root, job, format, file, &host.display().to_string()).await?;
    file.sync_all().await.map_err(io)?;
    Ok(exported)
}

/// Writes `job` in `format` into `sink` (named `shown` in errors), flushed; gives the sink
/// back. What is written is what [`export_file`] writes into the job's host file.
pub async fn export_to<W>(
    root: &WD,
    job: &ExportJob,
    format: ExportFormat,
    mut sink: W,
    shown: &str,
) -> Result<(W, Exported)>
where
    W: tokio::io::AsyncWrite + Unpin + Send,
{
    let io = |source| Error::Io {
        path: shown.to_string(),
        source,
    };
    let what = format!("exporting {}", job.path);
    if job.entry_type == EntryType::FileData
        || (job.entry_type == EntryType::FileTable && format == ExportFormat::Parquet)
    {
        let size = root.metadata(job.path.as_str()).await?.size;
        let task = progress::start(&what, Unit::Bytes, Some(size));
        let mut reader = root.open(job.path.as_str()).await?;
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let read = reader.read(&mut buf).await.map_err(|source| Error::Io {
                path: job.path.clone(),
                source,
            })?;
            if read == 0 {
                break;
            }
            sink.write_all(&buf[..read]).await.map_err(io)?;
            n += read as u64;
            task.inc(read as u64);
        }
        sink.flush().await.map_err(io)?;
        return Ok((sink, Exported::Bytes(n)));
    }
    let session = PondSession::new(root.clone())?;
    let (table, scope) = session.open(&job.path).await?;
    let table = table.read(&session, &scope).await?;
    let schema = table.schema();
    let task = progress::start(&what, Unit::Rows, stored_rows(root, job).await?);
    let batches = table.map_err(Error::from).inspect_ok(move |batch| {
        task.inc(batch.num_rows() as u64);
    });
    match format {
        ExportFormat::Parquet => {
            let written = write_parquet(sink, schema, writer_properties(), batches, shown).await?;
            let mut sink = written.sink;
            sink.flush().await.map_err(io)?;
            Ok((sink, Exported::Rows(written.rows)))
        }
        ExportFormat::Csv => {
            let arrow = |source| Error::Arrow {
                path: shown.to_string(),
                source,
            };
            let mut rows = 0u64;
            let mut header = true;
            let mut batches = batches.boxed();
            loop {
                let batch = match batches.next().await {
                    Some(batch) => batch?,
                    // An empty table still has its header.
                    None if header => RecordBatch::new_empty(schema.clone()),
                    None => break,
                };
                rows += batch.num_rows() as u64;
                let mut text = Vec::new();
                arrow::csv::WriterBuilder::new()
                    .with_header(header)
                    .build(&mut text)
                    .write(&utc_as_text(&batch).map_err(arrow)?)
                    .map_err(arrow)?;
                header = false;
                sink.write_all(&text).await.map_err(io)?;
            }
            sink.flush().await.map_err(io)?;
            Ok((sink, Exported::Rows(rows)))
        }
    }
}

/// The rows of a stored table or series, as its versions record them: `None` for a
/// computed one, or one with versions written before rows were recorded.
async fn stored_rows(root: &WD, job: &ExportJob) -> Result<Option<u64>> {
    let node = root.resolve(job.path.as_str()).await?;
    match node.as_file() {
        Some(file) if !crate::is_computed(file.as_ref()) => {}
        _ => return Ok(None),
    }
    let versions = match job.entry_type {
        EntryType::FileSeries => root.members(job.path.as_str()).await?,
        _ => root.latest(job.path.as_str()).await?.into_iter().collect(),
    };
    Ok(versions.iter().map(|v| v.rows).sum())
}

/// Writes the series of `job` as a Hive-partitioned Parquet dataset under `dir`:
/// `dir/year=YYYY/month=MM/*.parquet` by its timestamp column (UTC), which engines that
/// prune by directory (DuckDB, Spark, polars) read as a table with `year` and `month`
/// columns. Gives the rows written. A file that is not a series with a timestamp column
/// is an error.
pub async fn export_hive(root: &WD, job: &ExportJob, dir: &Path) -> Result<u64> {
    use datafusion::dataframe::DataFrameWriteOptions;
    use datafusion::functions::expr_fn::to_char;
    use datafusion::prelude::{ident, lit};
    let session = PondSession::new(root.clone())?;
    let opened = session
        .open_window(&job.path, crate::TimeWindow::default())
        .await?;
    let (Some(column), EntryType::FileSeries) = (&opened.timestamp_column, opened.entry_type)
    else {
        return Err(Error::invalid(
            &job.path,
            format!(
                "--hive partitions a series by its timestamp column; this is a {}",
                opened.entry_type
            ),
        ));
    };
    let schema = opened.frame.schema();
    if let Some(taken) = ["year", "month"]
        .into_iter()
        .find(|name| schema.has_column_with_unqualified_name(name))
    {
        return Err(Error::invalid(
            &job.path,
            format!(
                "it has a column named {taken}, which --hive would replace with its partition by {column}; export it without --hive"
            ),
        ));
    }
    let io = |source| Error::Io {
        path: dir.display().to_string(),
        source,
    };
    // Partition files have new names each time: writing over an earlier export would
    // leave both, and every row twice.
    if let Ok(mut entries) = tokio::fs::read_dir(dir).await
        && entries.next_entry().await.map_err(io)?.is_some()
    {
        return Err(Error::invalid(
            dir.display(),
            "is not empty: a partitioned export goes into a new directory (remove the old one first)",
        ));
    }
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let dir = tokio::fs::canonicalize(dir).await.map_err(io)?;
    let frame = opened
        .frame
        .with_column("year", to_char(ident(column), lit("%Y")))
        .and_then(|f| f.with_column("month", to_char(ident(column), lit("%m"))))
        .map_err(Error::Sql)?;
    let options = DataFrameWriteOptions::new()
        .with_partition_by(vec!["year".to_string(), "month".to_string()]);
    let counts = frame
        .write_parquet(&format!("{}/", dir.display()), options, None)
        .await
        .map_err(Error::Sql)?;
    Ok(counts
        .iter()
        .filter_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::UInt64Array>()
                .map(|c| c.iter().flatten().sum::<u64>())
        })
        .sum())
}

/// A CSV writer with a header, as pond writes CSV.
pub fn csv_writer<W: std::io::Write>(out: W) -> arrow::csv::Writer<W> {
    arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(out)
}

/// `batch` with every UTC timestamp column as RFC 3339 text ending in `Z`
/// (`2024-01-01T06:00:00Z`, fractions only when present), for the text formats; other
/// columns, and timestamps in other zones or none, as they are.
pub fn utc_as_text(batch: &RecordBatch) -> arrow::error::Result<RecordBatch> {
    let utc = |t: &DataType| matches!(t, DataType::Timestamp(_, Some(tz)) if matches!(tz.as_ref(), "UTC" | "+00:00" | "Z"));
    if !batch.schema().fields().iter().any(|f| utc(f.data_type())) {
        return Ok(batch.clone());
    }
    let options = FormatOptions::default()
        .with_null("")
        .with_timestamp_tz_format(Some("%Y-%m-%dT%H:%M:%S%.fZ"));
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if !utc(field.data_type()) {
            fields.push(field.clone());
            columns.push(column.clone());
            continue;
        }
        let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
        let text: StringArray = (0..column.len())
            .map(|i| column.is_valid(i).then(|| formatter.value(i).to_string()))
            .collect();
        fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, true)));
        columns.push(Arc::new(text));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_exports_under_its_formats_extension() {
        let parquet = ExportFormat::Parquet;
        let csv = ExportFormat::Csv;
        assert_eq!(exported_name("x.csv", parquet), "x.parquet");
        assert_eq!(exported_name("x.csv", csv), "x.csv");
        assert_eq!(exported_name("x.CSV", csv), "x.CSV");
        assert_eq!(exported_name("x.parquet", csv), "x.csv");
        assert_eq!(exported_name("a.series", parquet), "a.series.parquet");
        assert_eq!(exported_name("a.series", csv), "a.series.csv");
        assert_eq!(exported_name("t", parquet), "t.parquet");
        assert_eq!(exported_name(".csv", parquet), ".csv.parquet");
    }
}

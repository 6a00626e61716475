//! Importing host files as tables and series: CSV converted to Parquet (types inferred
//! over the whole file; empty and `NA` are null), Parquet validated and stored as it is.

use std::path::Path;

use futures::StreamExt;
use parquet::arrow::AsyncArrowWriter;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use tinyfs::{EntryType, FileVersion, WD};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::csv::{CsvOptions, arrow_error, open_csv};
use crate::error::{Error, Result};
use crate::event_time::{EventTimeRange, find_timestamp_column};

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// `file:table` or `file:series`.
    pub entry_type: EntryType,
    /// For a series, its timestamp column; found by name when `None`.
    pub timestamp_column: Option<String>,
}

/// What an import wrote.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The new version.
    pub version: FileVersion,
    /// How many rows it has.
    pub rows: u64,
    /// Whether the source was converted from CSV (else it was Parquet, stored as is).
    pub converted: bool,
}

/// The writer settings for Parquet that pond writes.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build()
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

/// Imports the host file `source` (CSV, or Parquet by its magic bytes) as the next version
/// of the table or series at `dest` (created if missing). `on_rows` is told how many rows
/// have been read so far. Nothing is written unless the whole file converts.
pub async fn import_file(
    wd: &WD,
    source: &Path,
    dest: &str,
    options: &ImportOptions,
    on_rows: &mut (dyn FnMut(u64) + Send),
) -> Result<Imported> {
    if !options.entry_type.is_table() {
        return Err(Error::invalid(
            dest,
            format!("cannot import as {}", options.entry_type),
        ));
    }
    let mut options = options.clone();
    options.timestamp_column = series_column(wd, dest, &options).await?;
    if is_parquet(source).await? {
        import_parquet(wd, source, dest, &options, on_rows).await
    } else {
        import_csv(wd, source, dest, &options, on_rows).await
    }
}

/// The timestamp column a new version of the series at `dest` must use: the one its
/// versions already use, which an explicit choice may not contradict.
async fn series_column(wd: &WD, dest: &str, options: &ImportOptions) -> Result<Option<String>> {
    if options.entry_type != EntryType::FileSeries {
        return Ok(options.timestamp_column.clone());
    }
    let existing = match wd.get(dest).await? {
        Some(node) => match node.as_file() {
            Some(file) if file.entry_type() == EntryType::FileSeries => file
                .versions()
                .await?
                .last()
                .and_then(|v| v.event_time.as_ref().map(|t| t.column.clone())),
            _ => None,
        },
        None => None,
    };
    match (&options.timestamp_column, existing) {
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

async fn import_csv(
    wd: &WD,
    source: &Path,
    dest: &str,
    options: &ImportOptions,
    on_rows: &mut (dyn FnMut(u64) + Send),
) -> Result<Imported> {
    // CSV is read as csvdir reads it (see `crate::csv`): whole-file type inference, empty
    // and `NA` as null.
    let shown = source.display().to_string();
    let (schema, reader) = open_csv(source, &shown, &CsvOptions::default())?;
    let mut range = match options.entry_type {
        EntryType::FileSeries => Some(EventTimeRange::new(find_timestamp_column(
            &schema,
            options.timestamp_column.as_deref(),
            &shown,
        )?)),
        _ => None,
    };
    let mut writer = wd.file_writer(dest, options.entry_type).await?;
    let mut rows = 0u64;
    {
        let mut parquet =
            AsyncArrowWriter::try_new(&mut writer, schema.clone(), Some(writer_properties()))
                .map_err(|source| Error::Parquet {
                    path: dest.to_string(),
                    source,
                })?;
        for batch in reader {
            let batch = batch.map_err(|e| arrow_error(&shown, e))?;
            if let Some(range) = range.as_mut() {
                range.update(&batch, &shown)?;
            }
            rows += batch.num_rows() as u64;
            on_rows(rows);
            parquet
                .write(&batch)
                .await
                .map_err(|source| Error::Parquet {
                    path: dest.to_string(),
                    source,
                })?;
        }
        parquet.close().await.map_err(|source| Error::Parquet {
            path: dest.to_string(),
            source,
        })?;
    }
    if let Some(range) = range {
        writer.set_event_time(finish_range(range, &shown)?);
    }
    let version = writer.finish().await?;
    Ok(Imported {
        version,
        rows,
        converted: true,
    })
}

async fn import_parquet(
    wd: &WD,
    source: &Path,
    dest: &str,
    options: &ImportOptions,
    on_rows: &mut (dyn FnMut(u64) + Send),
) -> Result<Imported> {
    let shown = source.display().to_string();
    let io = |e| Error::Io {
        path: shown.clone(),
        source: e,
    };
    let pq = |source| Error::Parquet {
        path: shown.clone(),
        source,
    };
    let file = tokio::fs::File::open(source).await.map_err(io)?;
    let builder = ParquetRecordBatchStreamBuilder::new(file)
        .await
        .map_err(pq)?;
    let rows = builder.metadata().file_metadata().num_rows() as u64;
    let schema = builder.schema().clone();
    let mut event_time = None;
    if options.entry_type == EntryType::FileSeries {
        let column = find_timestamp_column(&schema, options.timestamp_column.as_deref(), &shown)?;
        let index = schema.index_of(&column).expect("found above");
        let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
        let mut stream = builder.with_projection(mask).build().map_err(pq)?;
        let mut range = EventTimeRange::new(column);
        let mut seen = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(pq)?;
            seen += batch.num_rows() as u64;
            on_rows(seen);
            range.update(&batch, &shown)?;
        }
        event_time = Some(finish_range(range, &shown)?);
    }
    let mut writer = wd.file_writer(dest, options.entry_type).await?;
    let mut file = tokio::fs::File::open(source).await.map_err(io)?;
    tokio::io::copy(&mut file, &mut writer).await.map_err(io)?;
    writer.flush().await.map_err(io)?;
    if let Some(range) = event_time {
        writer.set_event_time(range);
    }
    on_rows(rows);
    let version = writer.finish().await?;
    Ok(Imported {
        version,
        rows,
        converted: false,
    })
}

//! The one place pond writes Parquet: the writer settings of every file it writes (zstd;
//! a series' footer says its rows are in time order), and the loop from batches to a
//! Parquet file, async ([`write_parquet`], [`write_parquet_inspected`]) or on a blocking
//! thread ([`write_parquet_blocking`]).
//!
//! The oplog's own data files are tlogfs' business and written there.

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use futures::{Stream, StreamExt};
use parquet::arrow::async_writer::AsyncFileWriter;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter, AsyncArrowWriter};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};

use crate::error::{Error, Result};
use crate::read::SERIES_SCHEMA_KEY;

/// The writer settings for Parquet that pond writes.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build()
}

/// The writer settings for a series version of `schema`, whose rows are in order of
/// `column`: the footer says so (Parquet's `sorting_columns`), which is how a reader knows
/// it may merge versions without sorting.
pub fn series_writer_properties(schema: &Schema, column: &str) -> Result<WriterProperties> {
    Ok(series_properties(schema, column)?.build())
}

/// [`series_writer_properties`], to be added to.
pub(crate) fn series_properties(schema: &Schema, column: &str) -> Result<WriterPropertiesBuilder> {
    let mut builder =
        WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default()));
    if let Some(index) = leaf_index(schema, column)? {
        // Times in order differ little from one to the next: delta encoding stores them in
        // a few bits each, where a dictionary of distinct times cannot help.
        let path = parquet::schema::types::ColumnPath::from(column);
        builder = builder
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, parquet::basic::Encoding::DELTA_BINARY_PACKED);
        builder = builder.set_sorting_columns(Some(vec![SortingColumn {
            column_idx: index as i32,
            descending: false,
            nulls_first: false,
        }]));
    }
    Ok(builder.set_key_value_metadata(Some(vec![KeyValue::new(
        SERIES_SCHEMA_KEY.to_string(),
        "1".to_string(),
    )])))
}

/// The Parquet leaf column index of the top-level column `column` of `schema`.
pub(crate) fn leaf_index(schema: &Schema, column: &str) -> Result<Option<usize>> {
    let descriptor = ArrowSchemaConverter::new()
        .convert(schema)
        .map_err(|source| Error::Parquet {
            path: column.to_string(),
            source,
        })?;
    Ok(descriptor
        .columns()
        .iter()
        .position(|c| c.path().parts() == [column.to_string()]))
}

/// What [`write_parquet_inspected`] does after looking at a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Write it and go on.
    Write,
    /// Stop before it: the file is left unfinished, for the caller to drop.
    Stop,
}

/// A Parquet file written into a sink.
#[derive(Debug)]
pub struct Written<W> {
    /// The sink, flushed and shut down when `finished`.
    pub sink: W,
    /// The rows written.
    pub rows: u64,
    /// Whether the file was finished (its footer written); not when the inspector stopped.
    pub finished: bool,
}

/// Writes `batches` (each of `schema`) into `sink` as one Parquet file with `properties`,
/// streaming: memory holds a row group, not the table. `shown` names the destination in
/// errors.
pub async fn write_parquet<W, S, E>(
    sink: W,
    schema: SchemaRef,
    properties: WriterProperties,
    batches: S,
    shown: &str,
) -> Result<Written<W>>
where
    W: AsyncFileWriter,
    S: Stream<Item = std::result::Result<RecordBatch, E>> + Unpin,
    Error: From<E>,
{
    write_parquet_inspected(sink, schema, properties, batches, shown, |_| {
        Ok(Next::Write)
    })
    .await
}

/// [`write_parquet`], showing `inspect` each batch before it is written (to count it, to
/// track its time range); [`Next::Stop`] leaves the file unfinished.
pub async fn write_parquet_inspected<W, S, E>(
    sink: W,
    schema: SchemaRef,
    properties: WriterProperties,
    mut batches: S,
    shown: &str,
    mut inspect: impl FnMut(&RecordBatch) -> Result<Next>,
) -> Result<Written<W>>
where
    W: AsyncFileWriter,
    S: Stream<Item = std::result::Result<RecordBatch, E>> + Unpin,
    Error: From<E>,
{
    let parquet = |source| Error::Parquet {
        path: shown.to_string(),
        source,
    };
    let mut out = AsyncArrowWriter::try_new(sink, schema, Some(properties)).map_err(parquet)?;
    let mut rows = 0u64;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        if inspect(&batch)? == Next::Stop {
            return Ok(Written {
                sink: out.into_inner(),
                rows,
                finished: false,
            });
        }
        rows += batch.num_rows() as u64;
        out.write(&batch).await.map_err(parquet)?;
    }
    out.finish().await.map_err(parquet)?;
    Ok(Written {
        sink: out.into_inner(),
        rows,
        finished: true,
    })
}

/// [`write_parquet`] for a blocking thread: `batches` from an iterator into a
/// [`std::io::Write`]; the sink is returned flushed.
pub fn write_parquet_blocking<W, I, E>(
    sink: W,
    schema: SchemaRef,
    properties: WriterProperties,
    batches: I,
    shown: &str,
) -> Result<Written<W>>
where
    W: std::io::Write + Send,
    I: IntoIterator<Item = std::result::Result<RecordBatch, E>>,
    Error: From<E>,
{
    let parquet = |source| Error::Parquet {
        path: shown.to_string(),
        source,
    };
    let mut out = ArrowWriter::try_new(sink, schema, Some(properties)).map_err(parquet)?;
    let mut rows = 0u64;
    for batch in batches {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        out.write(&batch).map_err(parquet)?;
    }
    Ok(Written {
        sink: out.into_inner().map_err(parquet)?,
        rows,
        finished: true,
    })
}

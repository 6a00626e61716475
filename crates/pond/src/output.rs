//! Printing: table formats, sizes, times, and the terminal-or-pipe choice.

use std::io::{IsTerminal, Write};

use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

use crate::OutputFormat;

/// Whether `text` is a glob rather than a plain path.
pub(crate) fn has_wildcards(text: &str) -> bool {
    tinyfs::glob::Pattern::has_wildcards(text)
}

/// Whether `e` is a write to a closed pipe (`pond cat … | head`), which is not a failure.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        // arrow's CSV and JSON writers carry the I/O error as text.
        cause.to_string().contains("Broken pipe (os error 32)")
            || cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<arrow::error::ArrowError>()
                .is_some_and(|a| matches!(a, arrow::error::ArrowError::IoError(_, io) if io.kind() == std::io::ErrorKind::BrokenPipe))
    })
}

/// The format to print a table in: the one asked for, else a pretty table on a terminal
/// and CSV in a pipe.
pub(crate) fn table_format(asked: Option<OutputFormat>) -> OutputFormat {
    asked.unwrap_or(if std::io::stdout().is_terminal() {
        OutputFormat::Table
    } else {
        OutputFormat::Csv
    })
}

/// Microseconds since the epoch as RFC 3339 UTC, to the second (or finer when needed).
pub(crate) use pond_serve::facts::micros;

/// Microseconds since the epoch as a UTC time to the second, for listings.
pub(crate) fn when(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| format!("{us}µs"))
}

/// `n` things, singular for one: `1 row`, `2 rows`.
pub(crate) fn count(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// `batch` with UTC timestamps as RFC 3339 text, for the text formats (see
/// [`pond_sql::utc_as_text`]).
pub(crate) fn for_display(batch: &RecordBatch) -> Result<RecordBatch> {
    Ok(pond_sql::utc_as_text(batch)?)
}

pub(crate) use pond_serve::facts::bytes;

/// Writes a table to standard output in `format`, streaming. A pretty table shows its
/// first `max_rows` rows (all for 0) and counts the rest without keeping them, so memory is
/// bounded whatever the result's size; at a terminal, columns that do not fit its width
/// are left out from the middle.
pub(crate) async fn print_table(
    table: SendableRecordBatchStream,
    format: OutputFormat,
    max_rows: usize,
) -> Result<()> {
    let schema = table.schema();
    // pond's own errors (a damaged body, say) read as pond says them, not wrapped.
    let mut batches = futures::TryStreamExt::map_err(table, pond_sql::Error::from);
    let stdout = std::io::stdout();
    match format {
        OutputFormat::Table => {
            let mut shown = Vec::new();
            let (mut kept, mut total) = (0usize, 0u64);
            while let Some(batch) = batches.next().await {
                let batch = batch?;
                total += batch.num_rows() as u64;
                let room = if max_rows == 0 {
                    batch.num_rows()
                } else {
                    (max_rows - kept).min(batch.num_rows())
                };
                if room > 0 {
                    shown.push(for_display(&batch.slice(0, room))?);
                    kept += room;
                }
            }
            let batch =
                arrow::compute::concat_batches(&for_display_schema(&schema, &shown), &shown)?;
            let width = console::Term::stdout()
                .size_checked()
                .map(|(_, cols)| cols as usize);
            let (batch, columns_shown) = match width {
                Some(width) => fit_columns(&batch, width)?,
                None => (batch.clone(), batch.num_columns()),
            };
            let options = FormatOptions::default().with_null("NULL");
            let text = arrow::util::pretty::pretty_format_batches_with_options(&[batch], &options)?;
            let mut out = stdout.lock();
            writeln!(out, "{text}")?;
            let mut notes = Vec::new();
            if total > kept as u64 {
                notes.push(format!("{} ({kept} shown)", count(total, "row")));
            }
            if columns_shown < schema.fields().len() {
                notes.push(format!(
                    "{} ({columns_shown} shown)",
                    count(schema.fields().len() as u64, "column")
                ));
            }
            if !notes.is_empty() {
                writeln!(out, "{}", notes.join(", "))?;
            }
        }
        OutputFormat::Csv => {
            let mut writer = pond_sql::csv_writer(stdout.lock());
            let mut wrote = false;
            while let Some(batch) = batches.next().await {
                writer.write(&for_display(&batch?)?)?;
                wrote = true;
            }
            if !wrote {
                writeln!(stdout.lock(), "{}", header(&schema))?;
            }
        }
        OutputFormat::Json => {
            // Written a batch at a time.
            let mut array = JsonArray::new(stdout.lock());
            while let Some(batch) = batches.next().await {
                let mut lines = Vec::new();
                let mut writer = arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow::json::writer::LineDelimited>(&mut lines);
                writer.write(&for_display(&batch?)?)?;
                writer.finish()?;
                for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    array.push(line)?;
                }
            }
            array.finish()?;
        }
        OutputFormat::Ndjson => {
            let mut writer = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(stdout.lock());
            while let Some(batch) = batches.next().await {
                writer.write(&for_display(&batch?)?)?;
            }
            writer.finish()?;
        }
        OutputFormat::Parquet => {
            refuse_binary_to_terminal(TEXT_FORMATS)?;
            let stdout = tokio::io::stdout();
            let properties = pond_sql::writer_properties();
            pond_sql::write_parquet(stdout, schema, properties, batches, "standard output").await?;
        }
    }
    Ok(())
}

/// The text formats of rows, for [`refuse_binary_to_terminal`].
pub(crate) const TEXT_FORMATS: &str = "--format table, csv, json or ndjson";

/// An error if standard output is a terminal, which binary output would garble;
/// `instead` says what text the command can print there (`--format csv`).
pub(crate) fn refuse_binary_to_terminal(instead: &str) -> Result<()> {
    if std::io::stdout().is_terminal() {
        anyhow::bail!(
            "Parquet is binary: redirect it to a file (`> out.parquet`), or choose {instead}"
        );
    }
    Ok(())
}

/// The schema of `shown` (batches made by [`for_display`]), or `schema` as
/// [`for_display`] would make it when nothing is shown.
fn for_display_schema(schema: &SchemaRef, shown: &[RecordBatch]) -> SchemaRef {
    match shown.first() {
        Some(batch) => batch.schema(),
        None => for_display(&RecordBatch::new_empty(schema.clone()))
            .map(|b| b.schema())
            .unwrap_or_else(|_| schema.clone()),
    }
}

/// `batch` with as many columns as fit `width` printed, the first and last kept before the
/// middle ones, and a `…` column where some were left out; with the count of columns kept.
fn fit_columns(batch: &RecordBatch, width: usize) -> Result<(RecordBatch, usize)> {
    let options = FormatOptions::default().with_null("NULL");
    let schema = batch.schema();
    // Each column's printed width: its widest cell or name, and its borders.
    let widths: Vec<usize> = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
            let widest = (0..column.len())
                .map(|i| formatter.value(i).to_string().chars().count())
                .max()
                .unwrap_or(0);
            Ok(widest.max(field.name().chars().count()) + 3)
        })
        .collect::<Result<_>>()?;
    let n = widths.len();
    if widths.iter().sum::<usize>() < width || n <= 2 {
        return Ok((batch.clone(), n));
    }
    // Take columns from both ends, left first, while they fit beside a `…` column.
    let mut budget = width.saturating_sub(1 + 4);
    let (mut left, mut right) = (0usize, 0usize);
    while left + right < n {
        let next = if left <= right { left } else { n - 1 - right };
        if widths[next] > budget {
            break;
        }
        budget -= widths[next];
        if left <= right {
            left += 1;
        } else {
            right += 1;
        }
    }
    let left = left.max(1);
    let kept: Vec<usize> = (0..left).chain(n - right..n).collect();
    let mut fields: Vec<FieldRef> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, &c) in kept.iter().enumerate() {
        if i == left {
            fields.push(Arc::new(Field::new("…", DataType::Utf8, false)));
            columns.push(Arc::new(StringArray::from(vec!["…"; batch.num_rows()])));
        }
        fields.push(schema.field(c).clone().into());
        columns.push(batch.column(c).clone());
    }
    if right == 0 {
        fields.push(Arc::new(Field::new("…", DataType::Utf8, false)));
        columns.push(Arc::new(StringArray::from(vec!["…"; batch.num_rows()])));
    }
    let fitted = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    Ok((fitted, kept.len()))
}

/// Prints `records` in `format` for a program to read: CSV with a header, a JSON array (an
/// object a line), or an object a line; nulls kept. The pretty `table` of a command is its
/// own text, printed by the command.
pub(crate) fn print_records<T: serde::Serialize>(
    records: &[T],
    format: OutputFormat,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            for record in records {
                writer.serialize(record)?;
            }
            writer.flush()?;
        }
        OutputFormat::Json => {
            let mut array = JsonArray::new(out);
            for record in records {
                array.push(&serde_json::to_vec(record)?)?;
            }
            array.finish()?;
        }
        OutputFormat::Ndjson => {
            for record in records {
                writeln!(out, "{}", serde_json::to_string(record)?)?;
            }
        }
        OutputFormat::Table | OutputFormat::Parquet => anyhow::bail!(
            "--format {} is not a format for records: choose csv, json or ndjson",
            format.name()
        ),
    }
    Ok(())
}

/// JSON objects written as `--format json` prints them: an array with an object a line,
/// `[]` for none.
struct JsonArray<W: Write> {
    out: W,
    empty: bool,
}

impl<W: Write> JsonArray<W> {
    fn new(out: W) -> Self {
        JsonArray { out, empty: true }
    }

    /// Writes one object (its JSON text).
    fn push(&mut self, object: &[u8]) -> std::io::Result<()> {
        self.out
            .write_all(if self.empty { b"[\n" } else { b",\n" })?;
        self.empty = false;
        self.out.write_all(object)
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.out
            .write_all(if self.empty { b"[]\n" } else { b"\n]\n" })
    }
}

fn header(schema: &SchemaRef) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(",")
}

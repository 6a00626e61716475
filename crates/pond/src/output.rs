//! Printing: table formats, sizes, times, and the terminal-or-pipe choice.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
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
pub(crate) fn micros(us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(t) if us % 1_000_000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => format!("{us}µs"),
    }
}

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

/// A byte count for people: `812 B`, `1.2 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Writes a table to standard output in `format`, streaming where the format allows.
pub(crate) async fn print_table(
    table: SendableRecordBatchStream,
    format: OutputFormat,
) -> Result<()> {
    let schema = table.schema();
    // pond's own errors (a damaged body, say) read as pond says them, not wrapped.
    let mut batches = futures::TryStreamExt::map_err(table, pond_sql::Error::from);
    let stdout = std::io::stdout();
    match format {
        OutputFormat::Table => {
            let mut all = Vec::new();
            while let Some(batch) = batches.next().await {
                all.push(for_display(&batch?)?);
            }
            let text = if all.is_empty() {
                arrow::util::pretty::pretty_format_batches(&[
                    arrow::array::RecordBatch::new_empty(schema),
                ])?
            } else {
                arrow::util::pretty::pretty_format_batches(&all)?
            };
            writeln!(stdout.lock(), "{text}")?;
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
            let mut writer = arrow::json::LineDelimitedWriter::new(stdout.lock());
            while let Some(batch) = batches.next().await {
                writer.write(&for_display(&batch?)?)?;
            }
            writer.finish()?;
        }
        OutputFormat::Parquet => {
            let stdout = tokio::io::stdout();
            let properties = pond_sql::writer_properties();
            pond_sql::write_parquet(stdout, schema, properties, batches, "standard output").await?;
        }
    }
    Ok(())
}

fn header(schema: &SchemaRef) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(",")
}

//! CSV to Parquet with options: the conversion behind csvdir.
//!
//! DataFusion 55's CSV scan applies `null_regex` when inferring types but not when reading
//! (`NA` in a float column fails), so this drives arrow-csv, the reader DataFusion's scan
//! is built on, directly: one pass to infer types over the whole file (or none, with a
//! given schema), one to read.

use std::path::Path;
use std::sync::Arc;

use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Format;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};
use crate::import::writer_properties;

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvOptions {
    /// The field delimiter.
    pub delimiter: u8,
    /// Whether the first line names the columns (else they are `column_1`, ...).
    pub has_header: bool,
    /// Values read as null.
    pub null_values: Vec<String>,
    /// The schema; inferred over the whole file when `None`.
    pub schema: Option<SchemaRef>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            has_header: true,
            null_values: vec![String::new(), "NA".into()],
            schema: None,
        }
    }
}

/// Converts the CSV file `source` to Parquet at `dest`; returns the rows written. `shown`
/// names the source in errors. Blocking: call from a blocking thread.
pub fn csv_to_parquet(
    source: &Path,
    shown: &str,
    options: &CsvOptions,
    dest: &Path,
) -> Result<u64> {
    let io = |path: &Path, source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let arrow_err = |source| Error::Arrow {
        path: shown.to_string(),
        source,
    };
    let mut format = Format::default()
        .with_header(options.has_header)
        .with_delimiter(options.delimiter);
    if !options.null_values.is_empty() {
        let alternatives: Vec<String> = options
            .null_values
            .iter()
            .map(|v| regex::escape(v))
            .collect();
        let nulls = regex::Regex::new(&format!("^({})$", alternatives.join("|")))
            .map_err(|e| Error::invalid(shown, format!("null_values: {e}")))?;
        format = format.with_null_regex(nulls);
    }
    let schema = match &options.schema {
        Some(schema) => schema.clone(),
        None => {
            let file = std::fs::File::open(source).map_err(|e| io(source, e))?;
            let (schema, _) = format
                .infer_schema(std::io::BufReader::new(file), None)
                .map_err(arrow_err)?;
            Arc::new(schema)
        }
    };
    if schema.fields().is_empty() {
        return Err(Error::invalid(shown, "no columns: is the file empty?"));
    }
    let file = std::fs::File::open(source).map_err(|e| io(source, e))?;
    let reader = ReaderBuilder::new(schema.clone())
        .with_format(format)
        .with_batch_size(64 * 1024)
        .build(std::io::BufReader::new(file))
        .map_err(arrow_err)?;
    let out = std::fs::File::create(dest).map_err(|e| io(dest, e))?;
    let parquet = |source| Error::Parquet {
        path: dest.display().to_string(),
        source,
    };
    let mut writer =
        ArrowWriter::try_new(out, schema, Some(writer_properties())).map_err(parquet)?;
    let mut rows = 0u64;
    for batch in reader {
        let batch = batch.map_err(arrow_err)?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(parquet)?;
    }
    let out = writer.into_inner().map_err(parquet)?;
    out.sync_all().map_err(|e| io(dest, e))?;
    Ok(rows)
}

//! CSV to Parquet with options: the conversion behind csvdir.
//!
//! DataFusion 55's CSV scan applies `null_regex` when inferring types but not when reading
//! (`NA` in a float column fails), so this drives arrow-csv, the reader DataFusion's scan
//! is built on, directly: one pass to infer types over the whole file (or none, with a
//! given schema), one to read.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Format;
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;

use crate::conform::{Conformer, UTC, instant_type, instants, map_fields};
use crate::error::{Error, Result};
use crate::import::writer_properties;

/// `zone` if it names a time zone (IANA, or an offset like `+02:00`), else why not.
pub fn check_timezone(zone: &str) -> std::result::Result<String, String> {
    zone.parse::<arrow::array::timezone::Tz>()
        .map(|_| zone.to_string())
        .map_err(|_| {
            format!(
                "unknown time zone {zone:?}: use an IANA name (Europe/Oslo) or an offset (+02:00)"
            )
        })
}

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
    /// The time zone of timestamps written without an offset (an IANA name such as
    /// `Europe/Oslo`, or `+02:00`); UTC when `None`. A timestamp with an offset (`Z`,
    /// `+02:00`) is taken at that offset whatever this says.
    pub timezone: Option<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            has_header: true,
            null_values: vec![String::new(), "NA".into()],
            schema: None,
            timezone: None,
        }
    }
}

/// A CSV reader over the host file `source`: its schema (given, or inferred over the
/// whole file) and batches. `shown` names the source in errors. Blocking.
///
/// Timestamp columns are read as instants: parsed in `options.timezone` (UTC by default,
/// an offset in the text wins), in microseconds (nanoseconds if the text has them). Their
/// type is labelled with that zone; [`crate::conform::instants`] relabels it UTC, which
/// changes no value.
pub(crate) fn open_csv(
    source: &Path,
    shown: &str,
    options: &CsvOptions,
) -> Result<(SchemaRef, CsvReader)> {
    let io = |source| Error::Io {
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
            let file = std::fs::File::open(source).map_err(io)?;
            let (schema, _) = format
                .infer_schema(BufReader::new(file), None)
                .map_err(|e| arrow_error(shown, e))?;
            Arc::new(schema)
        }
    };
    if schema.fields().is_empty() {
        return Err(Error::invalid(shown, "no columns: is the file empty?"));
    }
    let zone = match &options.timezone {
        Some(zone) => check_timezone(zone).map_err(|e| Error::invalid(shown, e))?,
        None => UTC.to_string(),
    };
    let schema = map_fields(&schema, |f| match f.data_type() {
        DataType::Timestamp(unit, None) => {
            let DataType::Timestamp(unit, _) = instant_type(*unit) else {
                unreachable!("an instant is a timestamp")
            };
            f.clone()
                .with_data_type(DataType::Timestamp(unit, Some(zone.as_str().into())))
        }
        _ => f.clone(),
    });
    let file = std::fs::File::open(source).map_err(io)?;
    let reader = ReaderBuilder::new(schema.clone())
        .with_format(format)
        .with_batch_size(64 * 1024)
        .build(BufReader::new(file))
        .map_err(|e| arrow_error(shown, e))?;
    Ok((schema, reader))
}

/// The batches of a CSV file.
pub(crate) type CsvReader = arrow::csv::Reader<BufReader<std::fs::File>>;

/// An Arrow error reading the CSV `shown`.
pub(crate) fn arrow_error(shown: &str, source: arrow::error::ArrowError) -> Error {
    Error::Arrow {
        path: shown.to_string(),
        source,
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
    let (schema, reader) = open_csv(source, shown, options)?;
    let io = |source| Error::Io {
        path: dest.display().to_string(),
        source,
    };
    let parquet = |source| Error::Parquet {
        path: dest.display().to_string(),
        source,
    };
    let out = std::fs::File::create(dest).map_err(io)?;
    let mut conformer = Conformer::new(instants(&schema), shown);
    let mut writer =
        ArrowWriter::try_new(out, conformer.schema().clone(), Some(writer_properties()))
            .map_err(parquet)?;
    let mut rows = 0u64;
    for batch in reader {
        let batch = conformer.conform(&batch.map_err(|e| arrow_error(shown, e))?)?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(parquet)?;
    }
    let out = writer.into_inner().map_err(parquet)?;
    out.sync_all().map_err(io)?;
    Ok(rows)
}

//! CSV to Parquet with options: the conversion behind csvdir.
//!
//! DataFusion 55's CSV scan applies `null_regex` when inferring types but not when reading
//! (`NA` in a float column fails), so this drives arrow-csv, the reader DataFusion's scan
//! is built on, directly: one pass to infer types over the whole file (or none, with a
//! given schema), one to read.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{
    Array, ArrayRef, Float64Builder, RecordBatch, StringArray, TimestampMicrosecondBuilder,
};
use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Format;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;

use crate::conform::{Conformer, UTC, instants, localized};
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
    /// The decimal separator of numbers: `.` or `,` (then the delimiter is not `,`).
    pub decimal: u8,
    /// A timestamp column that arrow's formats do not cover: written in a format of its
    /// own, or split into a date and a time column.
    pub time: Option<CsvTime>,
}

/// A timestamp column read from text by pond rather than by arrow-csv's formats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvTime {
    /// The column, or the date column and the time column whose texts, joined by a space,
    /// are the timestamp.
    pub columns: Vec<String>,
    /// The name of the timestamp column made (the column itself when there is one).
    pub name: String,
    /// The format (chrono's `strftime` syntax, such as `%d.%m.%Y %H:%M`); without one,
    /// any form arrow reads (RFC 3339 and the like).
    pub format: Option<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            has_header: true,
            null_values: vec![String::new(), "NA".into()],
            schema: None,
            timezone: None,
            decimal: b'.',
            time: None,
        }
    }
}

/// A CSV reader over the host file `source`: its schema (given, or inferred over the
/// whole file by [`crate::csv_infer`]) and batches. `shown` names the source in errors.
/// Blocking.
///
/// Timestamp columns are read as instants: parsed in `options.timezone` (UTC by default,
/// an offset in the text wins), in microseconds (nanoseconds if the text has them). Their
/// type is labelled with that zone; [`crate::conform::instants`] relabels it UTC, which
/// changes no value. Decimal commas and [`CsvTime`] columns are read as text by arrow-csv
/// and converted here.
pub(crate) fn open_csv(
    source: &Path,
    shown: &str,
    options: &CsvOptions,
) -> Result<(SchemaRef, CsvReader)> {
    let io = |source| Error::Io {
        path: shown.to_string(),
        source,
    };
    let decimal_comma = match options.decimal {
        b'.' => false,
        b',' if options.delimiter == b',' => {
            return Err(Error::invalid(
                shown,
                "a decimal comma needs another delimiter (such as ;)",
            ));
        }
        b',' => true,
        other => {
            return Err(Error::invalid(
                shown,
                format!("the decimal separator is . or , not {:?}", other as char),
            ));
        }
    };
    let mut format = Format::default()
        .with_header(options.has_header)
        .with_delimiter(options.delimiter);
    let nulls = if options.null_values.is_empty() {
        None
    } else {
        let alternatives: Vec<String> = options
            .null_values
            .iter()
            .map(|v| regex::escape(v))
            .collect();
        let nulls = regex::Regex::new(&format!("^({})$", alternatives.join("|")))
            .map_err(|e| Error::invalid(shown, format!("null_values: {e}")))?;
        format = format.with_null_regex(nulls.clone());
        Some(nulls)
    };
    let is_null = |v: &str| match &nulls {
        Some(_) => options.null_values.iter().any(|n| n == v),
        None => v.is_empty(),
    };
    let zone = match &options.timezone {
        Some(zone) => check_timezone(zone).map_err(|e| Error::invalid(shown, e))?,
        None => UTC.to_string(),
    };
    let time = options.time.as_ref();
    let schema = match &options.schema {
        Some(schema) => schema.clone(),
        None => {
            let text: Vec<String> = time.map(|t| t.columns.clone()).unwrap_or_default();
            let read = crate::csv_infer::infer_schema(
                source,
                shown,
                &crate::csv_infer::InferOptions {
                    delimiter: options.delimiter,
                    has_header: options.has_header,
                    decimal_comma,
                    is_null: &is_null,
                    text: &text,
                },
            )?;
            match time {
                Some(time) => with_time_column(&read, time, shown)?,
                None => read,
            }
        }
    };
    if schema.fields().is_empty() {
        return Err(Error::invalid(shown, "no columns: is the file empty?"));
    }
    let schema = localized(&schema, &zone);
    // What arrow-csv reads, and what pond converts after.
    let mut read = Vec::new();
    let mut fixups = Vec::new();
    for field in schema.fields() {
        let text = |name: &str| Arc::new(Field::new(name, DataType::Utf8, true));
        let fixup = match time {
            Some(t) if *field.name() == t.name => Some(Fixup::Time {
                columns: t.columns.len(),
                format: match &t.format {
                    Some(text) => Some(TimeFormat::parse(text, shown)?),
                    None => None,
                },
            }),
            _ if decimal_comma && *field.data_type() == DataType::Float64 => {
                Some(Fixup::DecimalComma)
            }
            _ => None,
        };
        match (&fixup, time) {
            (Some(Fixup::Time { .. }), Some(t)) => {
                read.extend(t.columns.iter().map(|c| text(c)));
            }
            (Some(_), _) => read.push(text(field.name())),
            (None, _) => read.push(field.clone()),
        }
        fixups.push(fixup);
    }
    let file = std::fs::File::open(source).map_err(io)?;
    let reader = ReaderBuilder::new(Arc::new(Schema::new(read)))
        .with_format(format)
        .with_batch_size(64 * 1024)
        .build(BufReader::new(file))
        .map_err(|e| arrow_error(shown, e))?;
    let tz: Tz = zone.parse().map_err(|e| arrow_error(shown, e))?;
    Ok((
        schema.clone(),
        CsvReader {
            reader,
            schema,
            fixups,
            tz,
            shown: shown.to_string(),
            rows: 0,
        },
    ))
}

/// `read` (as inferred, the `time` columns text) with the `time` columns replaced by the
/// timestamp column they make, where the first of them was.
fn with_time_column(read: &Schema, time: &CsvTime, shown: &str) -> Result<SchemaRef> {
    for column in &time.columns {
        if read.field_with_name(column).is_err() {
            let names: Vec<&str> = read.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(Error::invalid(
                shown,
                format!("no column {column:?} (columns: {})", names.join(", ")),
            ));
        }
    }
    if time.columns.len() > 1 && read.field_with_name(&time.name).is_ok() {
        return Err(Error::invalid(
            shown,
            format!(
                "the file has a column {:?} already, the name of the timestamp made of {}",
                time.name,
                time.columns.join(" and ")
            ),
        ));
    }
    let made = Field::new(
        &time.name,
        DataType::Timestamp(TimeUnit::Microsecond, None),
        true,
    );
    let fields: Vec<Field> = read
        .fields()
        .iter()
        .filter_map(|f| match time.columns.iter().position(|c| c == f.name()) {
            Some(0) => Some(made.clone()),
            Some(_) => None,
            None => Some(f.as_ref().clone()),
        })
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// A conversion from the text arrow-csv read to a column's type.
#[derive(Clone, Debug)]
enum Fixup {
    /// A decimal with a comma to Float64.
    DecimalComma,
    /// One column (or a date and a time column, joined by a space) to a timestamp, in a
    /// format or in any form arrow parses.
    Time {
        columns: usize,
        format: Option<TimeFormat>,
    },
}

/// A strftime format, parsed once.
#[derive(Clone, Debug)]
struct TimeFormat {
    text: String,
    items: Vec<chrono::format::Item<'static>>,
}

impl TimeFormat {
    fn parse(text: &str, shown: &str) -> Result<TimeFormat> {
        let items = chrono::format::StrftimeItems::new(text)
            .parse_to_owned()
            .map_err(|e| Error::invalid(shown, format!("timestamp format {text:?}: {e}")))?;
        Ok(TimeFormat {
            text: text.to_string(),
            items,
        })
    }
}

/// The batches of a CSV file, in its final schema.
pub(crate) struct CsvReader {
    reader: arrow::csv::Reader<BufReader<std::fs::File>>,
    schema: SchemaRef,
    fixups: Vec<Option<Fixup>>,
    tz: Tz,
    shown: String,
    /// Rows read before the current batch.
    rows: usize,
}

impl CsvReader {
    fn convert(&self, batch: RecordBatch) -> Result<RecordBatch> {
        if self.fixups.iter().all(Option::is_none) {
            return Ok(batch);
        }
        let mut read = batch.columns().iter();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.fixups.len());
        // One buffer for every value's text: no allocation per row.
        let mut text = String::new();
        for (field, fixup) in self.schema.fields().iter().zip(&self.fixups) {
            let Some(fixup) = fixup else {
                columns.push(read.next().expect("one read column").clone());
                continue;
            };
            let taken = match fixup {
                Fixup::Time { columns, .. } => *columns,
                Fixup::DecimalComma => 1,
            };
            let texts: Vec<&StringArray> = read
                .by_ref()
                .take(taken)
                .map(|c| {
                    c.as_any()
                        .downcast_ref::<StringArray>()
                        .expect("read as text")
                })
                .collect();
            let bad = |row: usize, value: &str, what: &str| {
                Error::invalid(
                    &self.shown,
                    format!(
                        "column {:?}: row {} has {value:?}, which is not {what}",
                        field.name(),
                        self.rows + row + 1
                    ),
                )
            };
            columns.push(match fixup {
                Fixup::DecimalComma => {
                    let mut out = Float64Builder::with_capacity(batch.num_rows());
                    for (row, value) in texts[0].iter().enumerate() {
                        let Some(v) = value else {
                            out.append_null();
                            continue;
                        };
                        text.clear();
                        text.extend(v.chars().map(|c| if c == ',' { '.' } else { c }));
                        match text.parse::<f64>() {
                            Ok(x) => out.append_value(x),
                            Err(_) => return Err(bad(row, v, "a number")),
                        }
                    }
                    Arc::new(out.finish())
                }
                Fixup::Time { format, .. } => {
                    let mut out = TimestampMicrosecondBuilder::with_capacity(batch.num_rows());
                    for row in 0..batch.num_rows() {
                        if texts.iter().any(|t| t.is_null(row)) {
                            out.append_null();
                            continue;
                        }
                        text.clear();
                        for (i, t) in texts.iter().enumerate() {
                            if i > 0 {
                                text.push(' ');
                            }
                            text.push_str(t.value(row));
                        }
                        match parse_time(&text, format.as_ref(), &self.tz) {
                            Some(micros) => out.append_value(micros),
                            None => {
                                let what = match format {
                                    Some(f) => format!("a time in the format {:?}", f.text),
                                    None => "a date and time".to_string(),
                                };
                                return Err(bad(row, &text, &what));
                            }
                        }
                    }
                    Arc::new(out.finish().with_data_type(field.data_type().clone()))
                }
            });
        }
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| arrow_error(&self.shown, e))
    }
}

impl Iterator for CsvReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = match self.reader.next()? {
            Ok(batch) => batch,
            Err(e) => return Some(Err(arrow_error(&self.shown, e))),
        };
        let rows = batch.num_rows();
        let out = self.convert(batch);
        self.rows += rows;
        Some(out)
    }
}

/// `text` as microseconds since the epoch: in `format` (naive times taken in `tz`, an
/// offset in the format wins; a format without a time is midnight), or in any form arrow
/// parses.
fn parse_time(text: &str, format: Option<&TimeFormat>, tz: &Tz) -> Option<i64> {
    use chrono::TimeZone;
    let Some(format) = format else {
        // A date and a time joined by a space is what arrow reads too.
        return arrow::compute::kernels::cast_utils::string_to_datetime(tz, text)
            .ok()
            .map(|t| t.timestamp_micros());
    };
    let mut parsed = chrono::format::Parsed::new();
    chrono::format::parse(&mut parsed, text, format.items.iter()).ok()?;
    if parsed.offset().is_some() {
        return parsed.to_datetime().ok().map(|t| t.timestamp_micros());
    }
    let naive = parsed.to_naive_datetime_with_offset(0).ok().or_else(|| {
        parsed
            .to_naive_date()
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    // A time in a DST gap or overlap: the earlier of the instants it can be.
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp_micros())
}

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
        let batch = conformer.conform(&batch?)?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(parquet)?;
    }
    let out = writer.into_inner().map_err(parquet)?;
    out.sync_all().map_err(io)?;
    Ok(rows)
}

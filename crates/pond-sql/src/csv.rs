//! CSV read with options: the format behind most of csvdir and `copy`.
//!
//! DataFusion 55's CSV scan applies `null_regex` when inferring types but not when reading
//! (`NA` in a float column fails), so this drives arrow-csv, the reader DataFusion's scan
//! is built on, directly: one pass to infer types over the whole file (or none, with a
//! given schema), one to read.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{
    Array, ArrayRef, Float64Builder, RecordBatch, StringArray, TimestampMicrosecondBuilder,
};
use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Format;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::conform::{UTC, localized};
use crate::csv_infer::Chunk;
use crate::error::{Error, Result};
use crate::formats::{Decompressing, Plain, ReadOptions};
use crate::in_order::{ChunkFailure, ChunkReader, InOrder};

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

/// A CSV file opened for reading: its schema (given, or inferred over the whole file by
/// [`crate::csv_infer`]), and where its chunks start when inference found them.
pub(crate) struct CsvFile {
    shared: Arc<Shared>,
    chunks: Vec<Chunk>,
    has_header: bool,
    /// The file's records, where inference counted them.
    rows: Option<u64>,
}

/// What every reader of one CSV file needs.
struct Shared {
    path: PathBuf,
    /// The file (decompressed, if it was compressed), kept while a reader needs it.
    _plain: Plain,
    /// What arrow-csv reads (the columns to convert as text).
    read: SchemaRef,
    format: Format,
    converter: Converter,
}

/// The size of the chunks read in parallel.
const CHUNK_BYTES: u64 = 4 << 20;

/// Rows per batch.
const BATCH_ROWS: usize = 64 * 1024;

impl CsvFile {
    /// Opens the plain host file `source` (whose text `text` is, while it is being
    /// decompressed into it); `shown` names it in errors. Blocking.
    ///
    /// Timestamp columns are read as instants: parsed in `options.timezone` (UTC by
    /// default, an offset in the text wins), in microseconds (nanoseconds if the text has
    /// them). Their type is labelled with that zone; [`crate::conform::instants`] relabels
    /// it UTC, which changes no value. Decimal commas and [`CsvTime`] columns are read as
    /// text by arrow-csv and converted here.
    pub(crate) fn open(
        source: Plain,
        text: Option<Decompressing>,
        shown: &str,
        options: &ReadOptions,
    ) -> Result<CsvFile> {
        open_csv(source, text, shown, options, CHUNK_BYTES)
    }

    /// The file's records, where inference counted them (not when a schema was given).
    pub(crate) fn rows(&self) -> Option<u64> {
        self.rows
    }

    /// The file's schema.
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.shared.converter.schema
    }

    /// The file's batches in order, from its start. A file whose chunks are known is
    /// parsed on every core, each chunk by one thread, the batches handed on in file order
    /// with at most two waiting per thread.
    pub(crate) fn batches(&self) -> Result<CsvReader> {
        self.batches_on(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// [`Self::batches`] on at most `threads` threads.
    fn batches_on(&self, threads: usize) -> Result<CsvReader> {
        let threads = threads.min(self.chunks.len());
        let shown = &self.shared.converter.shown;
        if threads < 2 {
            return Ok(CsvReader(Batches::Sequential {
                reader: Box::new(self.shared.sequential(self.has_header)?),
                shared: self.shared.clone(),
                rows: 0,
            }));
        }
        let chunks = Arc::new(self.chunks.clone());
        let batches =
            InOrder::start(self.shared.clone(), chunks, threads, "pond-csv").map_err(|source| {
                Error::Io {
                    path: shown.clone(),
                    source,
                }
            })?;
        Ok(CsvReader(Batches::Parallel(Parallel {
            shared: self.shared.clone(),
            has_header: self.has_header,
            batches,
        })))
    }
}

/// A CSV reader over the host file `source`, its chunks cut at about `chunk_bytes`.
///
/// Timestamp columns are read as instants: parsed in `options.timezone` (UTC by default,
/// an offset in the text wins), in microseconds (nanoseconds if the text has them). Their
/// type is labelled with that zone; [`crate::conform::instants`] relabels it UTC, which
/// changes no value. Decimal commas and [`CsvTime`] columns are read as text by arrow-csv
/// and converted here.
fn open_csv(
    plain: Plain,
    mut text: Option<Decompressing>,
    shown: &str,
    options: &ReadOptions,
    chunk_bytes: u64,
) -> Result<CsvFile> {
    let opened = open_csv_text(&plain, text.as_mut(), shown, options, chunk_bytes);
    // The decompression's error (a truncated file) explains any met reading its text.
    if let Some(text) = text {
        text.finish()?;
    }
    let (chunks, rows, shared) = opened?;
    Ok(CsvFile {
        shared: Arc::new(shared),
        chunks,
        has_header: options.has_header,
        rows,
    })
}

/// What [`open_csv`] learns of `plain`: its chunks and rows (where inferred) and what its
/// readers share.
type Opened = (Vec<Chunk>, Option<u64>, Shared);

/// [`open_csv`] of `plain`, inferring over `streamed` (its text as it is decompressed)
/// when given.
fn open_csv_text(
    plain: &Plain,
    streamed: Option<&mut Decompressing>,
    shown: &str,
    options: &ReadOptions,
    chunk_bytes: u64,
) -> Result<Opened> {
    let source = plain.path.as_path();
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
    let (schema, chunks, rows) = match &options.schema {
        Some(schema) => (schema.clone(), Vec::new(), None),
        None => {
            let text: Vec<String> = time.map(|t| t.columns.clone()).unwrap_or_default();
            let reader: Box<dyn std::io::Read + '_> = match streamed {
                Some(streamed) => Box::new(streamed),
                None => Box::new(File::open(source).map_err(|e| Error::Io {
                    path: shown.to_string(),
                    source: e,
                })?),
            };
            let read = crate::csv_infer::infer_schema(
                reader,
                shown,
                &crate::csv_infer::InferOptions {
                    delimiter: options.delimiter,
                    has_header: options.has_header,
                    decimal_comma,
                    is_null: &is_null,
                    text: &text,
                    chunk_bytes,
                },
            )?;
            let schema = match time {
                Some(time) => with_time_column(&read.schema, time, shown)?,
                None => read.schema,
            };
            (schema, read.chunks, Some(read.rows))
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
    let tz: Tz = zone.parse().map_err(|e| arrow_error(shown, e))?;
    let shared = Shared {
        path: source.to_path_buf(),
        _plain: plain.clone(),
        read: Arc::new(Schema::new(read)),
        format,
        converter: Converter {
            schema,
            fixups,
            tz,
            shown: shown.to_string(),
        },
    };
    Ok((chunks, rows, shared))
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

/// arrow-csv's reader of a whole file.
type FileReader = arrow::csv::reader::BufReader<BufReader<File>>;

/// The batches of a CSV file, in its final schema.
pub(crate) struct CsvReader(Batches);

enum Batches {
    /// One reader from the start.
    Sequential {
        reader: Box<FileReader>,
        shared: Arc<Shared>,
        /// Rows read before the next batch.
        rows: u64,
    },
    /// A thread per core, each reading every so many chunks.
    Parallel(Parallel),
}

/// The batches of chunks read by threads, in file order.
struct Parallel {
    shared: Arc<Shared>,
    has_header: bool,
    batches: InOrder,
}

impl Shared {
    /// An arrow-csv reader of the whole file.
    fn sequential(&self, has_header: bool) -> Result<FileReader> {
        let shown = &self.converter.shown;
        let file = File::open(&self.path).map_err(|source| Error::Io {
            path: shown.clone(),
            source,
        })?;
        ReaderBuilder::new(self.read.clone())
            .with_format(self.format.clone().with_header(has_header))
            .with_batch_size(BATCH_ROWS)
            .build_buffered(BufReader::with_capacity(1 << 20, file))
            .map_err(|e| arrow_error(shown, e))
    }
}

impl ChunkReader for Shared {
    type Chunk = Chunk;

    fn read(
        &self,
        chunk: &Chunk,
        send: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> std::result::Result<(), ChunkFailure> {
        let io = |source| {
            ChunkFailure::Pond(Error::Io {
                path: self.converter.shown.clone(),
                source,
            })
        };
        let mut file = File::open(&self.path).map_err(io)?;
        file.seek(SeekFrom::Start(chunk.start)).map_err(io)?;
        let bytes = chunk.end.map_or(u64::MAX, |end| end - chunk.start);
        let reader = ReaderBuilder::new(self.read.clone())
            .with_format(self.format.clone().with_header(false))
            .with_batch_size(BATCH_ROWS)
            .build_buffered(BufReader::with_capacity(1 << 20, file.take(bytes)))
            .map_err(ChunkFailure::Arrow)?;
        let mut rows = chunk.first_row;
        for batch in reader {
            let batch = batch.map_err(ChunkFailure::Arrow)?;
            let read = batch.num_rows() as u64;
            let batch = self
                .converter
                .convert(batch, rows)
                .map_err(ChunkFailure::Pond)?;
            if !send(batch) {
                return Ok(());
            }
            rows += read;
        }
        Ok(())
    }
}

/// Converts the columns arrow-csv reads as text.
struct Converter {
    /// The final schema.
    schema: SchemaRef,
    fixups: Vec<Option<Fixup>>,
    tz: Tz,
    shown: String,
}

impl Converter {
    /// `batch` as arrow-csv read it in the final schema; its first row is row
    /// `first_row` (from 0) of the file.
    fn convert(&self, batch: RecordBatch, first_row: u64) -> Result<RecordBatch> {
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
                        first_row + row as u64 + 1
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

impl Parallel {
    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        let (shared, has_header) = (&self.shared, self.has_header);
        self.batches.next_batch(&shared.converter.shown, |e| {
            error_in_order(shared, has_header, e)
        })
    }
}

/// arrow-csv's error `e` as a reader from the file's start meets it, so its line numbers
/// are the file's: the file is read again, in order, up to it.
fn error_in_order(shared: &Shared, has_header: bool, e: arrow::error::ArrowError) -> Error {
    let shown = &shared.converter.shown;
    match shared.sequential(has_header) {
        Ok(reader) => reader
            .filter_map(|batch| batch.err())
            .next()
            .map_or_else(|| arrow_error(shown, e), |first| arrow_error(shown, first)),
        Err(error) => error,
    }
}

impl Iterator for CsvReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Batches::Parallel(parallel) => parallel.next_batch(),
            Batches::Sequential {
                reader,
                shared,
                rows,
            } => {
                let batch = match reader.next()? {
                    Ok(batch) => batch,
                    Err(e) => return Some(Err(arrow_error(&shared.converter.shown, e))),
                };
                let read = batch.num_rows() as u64;
                let out = shared.converter.convert(batch, *rows);
                *rows += read;
                Some(out)
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of `text` read in chunks of `chunk_bytes` on three threads, or the error.
    fn read(text: &str, options: &ReadOptions, chunk_bytes: u64) -> Result<Vec<RecordBatch>> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("f.csv");
        std::fs::write(&path, text).expect("written");
        let file = open_csv(Plain::file(&path), None, "f.csv", options, chunk_bytes)?;
        file.batches_on(3)?.collect()
    }

    fn rows(batches: &[RecordBatch]) -> String {
        arrow::util::pretty::pretty_format_batches(batches)
            .expect("printable")
            .to_string()
    }

    /// Chunks cut every few bytes read as one reader from the start reads: quoted line
    /// breaks, CRLF, no final line break, decimal commas and date+time columns.
    #[test]
    fn chunks_read_as_the_whole_file() {
        let mut tricky = String::from("when,note,x\r\n");
        for i in 0..200 {
            tricky.push_str(&format!(
                "2024-01-01T00:{:02}:{:02}Z,\"line {i}\nwith, a break\",{i}.5\r\n",
                i / 60,
                i % 60
            ));
        }
        tricky.push_str("2024-01-01T04:00:00Z,\"last\",1");
        let comma = ReadOptions {
            delimiter: b';',
            decimal: b',',
            time: Some(CsvTime {
                columns: vec!["d".into(), "t".into()],
                name: "timestamp".into(),
                format: Some("%d.%m.%Y %H:%M".into()),
            }),
            ..ReadOptions::default()
        };
        let mut eu = String::from("d;t;v\n");
        for i in 0..300 {
            eu.push_str(&format!("0{}.01.2024;10:{:02};{i},25\n", i % 9 + 1, i % 60));
        }
        let whole = read(&tricky, &ReadOptions::default(), u64::MAX).expect("read whole");
        let notes = arrow::array::AsArray::as_string::<i32>(whole[0].column(1));
        assert_eq!(
            notes.value(7),
            "line 7\nwith, a break",
            "a quoted cell keeps its bytes"
        );
        for (text, options) in [(tricky, ReadOptions::default()), (eu, comma)] {
            let whole = read(&text, &options, u64::MAX).expect("read whole");
            for chunk_bytes in [1, 7, 64, 1000] {
                let chunked = read(&text, &options, chunk_bytes).expect("read in chunks");
                assert_eq!(
                    rows(&chunked),
                    rows(&whole),
                    "chunks of {chunk_bytes} bytes"
                );
            }
        }
    }

    /// An error in a later chunk names the line and row a reader from the start names.
    #[test]
    fn errors_in_chunks_name_the_files_lines() {
        let mut text = String::from("t,x\n");
        for i in 0..100 {
            text.push_str(&format!("2024-01-01T00:00:{:02}Z,{i}\n", i % 60));
        }
        // A date that is none on line 92 (arrow-csv's error).
        let mut date = String::from("d,x\n");
        for i in 0..100 {
            let day = if i == 90 { 30 } else { i % 28 + 1 };
            date.push_str(&format!("2024-02-{day:02},{i}\n"));
        }
        // A time not in the format on data row 101 (pond's).
        let mut time = text.clone();
        time.push_str("yesterday,1\n");
        let timed = ReadOptions {
            time: Some(CsvTime {
                columns: vec!["t".into()],
                name: "t".into(),
                format: Some("%Y-%m-%dT%H:%M:%SZ".into()),
            }),
            ..ReadOptions::default()
        };
        for (text, options) in [(date, ReadOptions::default()), (time, timed)] {
            let whole = read(&text, &options, u64::MAX).expect_err("refused whole");
            let chunked = read(&text, &options, 64).expect_err("refused in chunks");
            assert_eq!(chunked.to_string(), whole.to_string());
        }
    }
}

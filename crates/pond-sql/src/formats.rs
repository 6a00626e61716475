//! The kinds of host file pond reads as tables, and the one way each is opened.
//!
//! CSV ([`crate::csv`]), JSON lines ([`crate::jsonl`]) and Excel sheets ([`crate::excel`]),
//! each possibly compressed with gzip, zstd or bzip2. [`Input::open`] decompresses
//! (streaming, to a temporary file: the text is read more than once and never held in
//! memory), finds the format (the one asked for, else by the file's name, else by its
//! first bytes), infers the types over the whole file and hands out batches. Every path
//! that turns such a file into Parquet (a `copy`, a csvdir conversion) goes through it, so
//! the conversion cache, type inference and the series rules are the same for every
//! format.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::conform::{Conformer, instants};
use crate::csv::{CsvFile, CsvTime};
use crate::error::{Error, Result};
use crate::excel::ExcelFile;
use crate::jsonl::JsonFile;
use crate::parquet_writer::{write_parquet_blocking, writer_properties};

/// The format of a file read as a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma (or otherwise) separated values.
    Csv,
    /// One JSON object a line (`.jsonl`, `.ndjson`).
    JsonLines,
    /// An Excel workbook (`.xlsx`, `.xlsm`, `.xls`) or an OpenDocument one (`.ods`): one
    /// sheet is the table.
    Excel,
}

/// The names [`FileFormat::parse`] takes, for messages.
pub const FORMAT_NAMES: &str = "csv, jsonl or excel";

impl FileFormat {
    /// The format `text` names: `csv`, `jsonl` (or `ndjson`, `json`), `excel` (or `xlsx`).
    pub fn parse(text: &str) -> std::result::Result<FileFormat, String> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Ok(FileFormat::Csv),
            "jsonl" | "ndjson" | "json" => Ok(FileFormat::JsonLines),
            "excel" | "xlsx" | "xls" | "ods" => Ok(FileFormat::Excel),
            _ => Err(format!("unknown format {text:?}: use {FORMAT_NAMES}")),
        }
    }

    /// The format's name, as [`FileFormat::parse`] takes it.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::JsonLines => "jsonl",
            FileFormat::Excel => "excel",
        }
    }

    /// The format a file named `name` has by its extension (after any compression's).
    pub fn of_name(name: &str) -> Option<FileFormat> {
        let (_, extension) = split_extension(name)?;
        FileFormat::by_extension(extension)
    }

    fn by_extension(extension: &str) -> Option<FileFormat> {
        match extension.to_ascii_lowercase().as_str() {
            "csv" => Some(FileFormat::Csv),
            "jsonl" | "ndjson" | "json" => Some(FileFormat::JsonLines),
            "xlsx" | "xlsm" | "xls" | "ods" => Some(FileFormat::Excel),
            _ => None,
        }
    }

    /// The format of the (uncompressed) host file `path` by its first bytes: a zip (xlsx,
    /// ods) or an OLE file (xls) is a workbook, a first byte `{` (after blanks) JSON
    /// lines, anything else CSV.
    fn of_content(path: &Path, shown: &str) -> Result<FileFormat> {
        let mut head = [0u8; 512];
        let n = File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|source| Error::Io {
                path: shown.to_string(),
                source,
            })?;
        Ok(FileFormat::of_head(&head[..n]))
    }

    /// [`FileFormat::of_content`] of a file's first bytes.
    pub(crate) fn of_head(head: &[u8]) -> FileFormat {
        if head.starts_with(b"PK\x03\x04") || head.starts_with(&[0xd0, 0xcf, 0x11, 0xe0]) {
            return FileFormat::Excel;
        }
        let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
        match text.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => FileFormat::JsonLines,
            _ => FileFormat::Csv,
        }
    }
}

/// `name`'s last component split into its stem and the extension that says its format,
/// with any compression's extension (`.gz`, `.zst`, `.bz2`) dropped: `day.csv.gz` is
/// (`day`, `csv`). `None` without an extension.
fn split_extension(name: &str) -> Option<(&str, &str)> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let (mut stem, mut extension) = base.rsplit_once('.')?;
    if Compression::by_extension(extension).is_some() {
        (stem, extension) = stem.rsplit_once('.')?;
    }
    (!stem.is_empty()).then_some((stem, extension))
}

/// The table a file named `name` is presented as in a format directory (csvdir): its
/// last component without the extension of a format pond reads (and of a compression
/// after it): `day.csv.gz`, `day.jsonl` and `day.xlsx` are all `day`.
pub fn table_name(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    match split_extension(base) {
        Some((stem, extension)) if FileFormat::by_extension(extension).is_some() => stem.into(),
        _ => base.into(),
    }
}

/// How nested JSON objects become columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Nested {
    /// `{"a": {"b": 1}}` is a column `a.b`.
    #[default]
    Flatten,
    /// `{"a": {"b": 1}}` is a struct column `a` with a field `b`.
    Struct,
}

impl Nested {
    /// `flatten` or `struct`.
    pub fn parse(text: &str) -> std::result::Result<Nested, String> {
        match text {
            "flatten" => Ok(Nested::Flatten),
            "struct" => Ok(Nested::Struct),
            _ => Err(format!("{text:?} is not flatten or struct")),
        }
    }
}

/// How to read a file as a table. The CSV fields are for CSV only, `nested` for JSON
/// lines, `sheet` and `header_row` for workbooks: a file of another format with one of
/// them set is refused, naming it, rather than read as if it were not there.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadOptions {
    /// The format; found by the file's name, else its first bytes, when `None`.
    pub format: Option<FileFormat>,
    /// The CSV field delimiter.
    pub delimiter: u8,
    /// Whether the first line (a sheet's header row) names the columns (else they are
    /// `column_1`, ...).
    pub has_header: bool,
    /// Values read as null (in CSV, and in a sheet's text cells).
    pub null_values: Vec<String>,
    /// The schema of CSV or of a sheet; inferred over the whole file when `None`.
    pub schema: Option<SchemaRef>,
    /// The time zone of timestamps written without an offset (an IANA name such as
    /// `Europe/Oslo`, or `+02:00`); UTC when `None`. A timestamp with an offset (`Z`,
    /// `+02:00`) is taken at that offset whatever this says. A workbook's date cells have
    /// no offset.
    pub timezone: Option<String>,
    /// The CSV decimal separator: `.` or `,` (then the delimiter is not `,`).
    pub decimal: u8,
    /// A CSV timestamp column that arrow's formats do not cover: written in a format of
    /// its own, or split into a date and a time column.
    pub time: Option<CsvTime>,
    /// How JSON lines' nested objects become columns.
    pub nested: Nested,
    /// The workbook's sheet (by name); the first when `None`.
    pub sheet: Option<String>,
    /// The sheet's row (from 1, as the spreadsheet numbers it) that names the columns;
    /// rows above it (a title) are skipped. The first row with a value when `None`.
    pub header_row: Option<u32>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            delimiter: b',',
            has_header: true,
            null_values: vec![String::new(), "NA".into()],
            schema: None,
            timezone: None,
            decimal: b'.',
            time: None,
            nested: Nested::Flatten,
            sheet: None,
            header_row: None,
        }
    }
}

impl ReadOptions {
    /// The first option set that `format` does not read, by the name it is set with.
    fn foreign_to(&self, format: FileFormat) -> Option<&'static str> {
        let defaults = ReadOptions::default();
        [
            (
                self.delimiter != defaults.delimiter,
                FormatOption::Delimiter,
            ),
            (self.decimal != defaults.decimal, FormatOption::Decimal),
            (self.time.is_some(), FormatOption::TimestampFormat),
            (self.schema.is_some(), FormatOption::Schema),
            (!self.has_header, FormatOption::HasHeader),
            (self.nested != defaults.nested, FormatOption::Nested),
            (self.sheet.is_some(), FormatOption::Sheet),
            (self.header_row.is_some(), FormatOption::HeaderRow),
        ]
        .into_iter()
        .find(|&(set, option)| set && !format.reads(option))
        .map(|(_, option)| option.name())
    }
}

/// The options of [`ReadOptions`] that some formats read and others do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatOption {
    /// [`ReadOptions::delimiter`].
    Delimiter,
    /// [`ReadOptions::decimal`].
    Decimal,
    /// [`ReadOptions::time`].
    TimestampFormat,
    /// [`ReadOptions::schema`].
    Schema,
    /// [`ReadOptions::has_header`].
    HasHeader,
    /// [`ReadOptions::nested`].
    Nested,
    /// [`ReadOptions::sheet`].
    Sheet,
    /// [`ReadOptions::header_row`].
    HeaderRow,
}

impl FormatOption {
    /// The option as messages name it.
    pub fn name(self) -> &'static str {
        match self {
            FormatOption::Delimiter => "delimiter",
            FormatOption::Decimal => "decimal",
            FormatOption::TimestampFormat => "timestamp format",
            FormatOption::Schema => "schema",
            FormatOption::HasHeader => "has_header",
            FormatOption::Nested => "nested",
            FormatOption::Sheet => "sheet",
            FormatOption::HeaderRow => "header row",
        }
    }
}

impl FileFormat {
    /// Whether files of this format read `option`: the one rule `copy`, `sync` and a
    /// csvdir's configuration check refuse foreign options by.
    pub fn reads(self, option: FormatOption) -> bool {
        use FormatOption::*;
        match self {
            FileFormat::Csv => !matches!(option, Nested | Sheet | HeaderRow),
            FileFormat::JsonLines => option == Nested,
            FileFormat::Excel => matches!(option, Schema | HasHeader | Sheet | HeaderRow),
        }
    }
}

/// A host file to read, as plain bytes: the file itself, or its decompressed copy (a
/// temporary file removed when the last reader is done).
#[derive(Clone, Debug)]
pub(crate) struct Plain {
    pub(crate) path: PathBuf,
    _temp: Option<Arc<tempfile::TempPath>>,
}

impl Plain {
    /// The uncompressed file `path` itself.
    pub(crate) fn file(path: &Path) -> Plain {
        Plain {
            path: path.to_path_buf(),
            _temp: None,
        }
    }

    /// The host file `source`; if it is compressed, the file it is being decompressed
    /// into, with the text as it comes.
    fn open(source: &Path, shown: &str) -> Result<(Plain, Option<Decompressing>)> {
        Ok(match Compression::of(source, shown)? {
            Some(compression) => {
                let (temp, text) = compression.start(source, shown)?;
                let plain = Plain {
                    path: temp.to_path_buf(),
                    _temp: Some(Arc::new(temp)),
                };
                (plain, Some(text))
            }
            None => (Plain::file(source), None),
        })
    }
}

/// A compressed file's text as a thread decompresses it into a [`Plain`] file: read it
/// (to infer types while the rest is decompressed: on two cores, decompression and
/// inference overlap), then [`Decompressing::finish`] before reading the file.
pub(crate) struct Decompressing {
    receiver: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    thread: std::thread::JoinHandle<Result<()>>,
}

impl Decompressing {
    /// The text's first bytes (up to 512), without consuming them.
    fn head(&mut self) -> &[u8] {
        if self.at == self.chunk.len()
            && let Ok(chunk) = self.receiver.recv()
        {
            (self.chunk, self.at) = (chunk, 0);
        }
        let end = self.chunk.len().min(self.at + 512);
        &self.chunk[self.at..end]
    }

    /// Waits for the file to be whole: the decompression's error (a truncated stream,
    /// say) if it failed, which explains any error met reading the text.
    pub(crate) fn finish(self) -> Result<()> {
        let Decompressing {
            receiver, thread, ..
        } = self;
        // Whatever the reader left is not needed, but the thread sends it as it writes the
        // file: it is received, and dropped, until the thread ends (the file whole, or
        // failed) and the channel closes.
        receiver.iter().for_each(drop);
        thread.join().unwrap_or_else(|_| {
            Err(Error::Fs(tinyfs::Error::internal(
                "a decompressing thread panicked",
            )))
        })
    }
}

impl Read for Decompressing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.receiver.recv() {
                Ok(chunk) => (self.chunk, self.at) = (chunk, 0),
                // The end, or a failure that `finish` reports.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A host file opened to be read as a table: its format found, its schema inferred.
pub(crate) enum Input {
    Csv(CsvFile),
    Json(JsonFile),
    Excel(ExcelFile),
}

/// The batches of an [`Input`], in file order.
pub(crate) type Batches = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

impl Input {
    /// Opens the host file `source`; `shown` names it in errors, and its extension says
    /// its format when `options` does not. Blocking.
    pub(crate) fn open(source: &Path, shown: &str, options: &ReadOptions) -> Result<Input> {
        let (plain, mut text) = Plain::open(source, shown)?;
        let format = match (
            options.format.or_else(|| FileFormat::of_name(shown)),
            &mut text,
        ) {
            (Some(format), _) => format,
            (None, Some(text)) => FileFormat::of_head(text.head()),
            (None, None) => FileFormat::of_content(&plain.path, shown)?,
        };
        if let Some(option) = options.foreign_to(format) {
            return Err(Error::invalid(
                shown,
                format!("{option} is not an option of {}", describe(format)),
            ));
        }
        Ok(match format {
            FileFormat::Csv => Input::Csv(CsvFile::open(plain, text, shown, options)?),
            FileFormat::JsonLines => Input::Json(JsonFile::open(plain, text, shown, options)?),
            FileFormat::Excel => {
                if let Some(text) = text {
                    text.finish()?;
                }
                Input::Excel(ExcelFile::open(&plain, shown, options)?)
            }
        })
    }

    /// The file's schema, timestamps labelled with the zone they were read in.
    pub(crate) fn schema(&self) -> &SchemaRef {
        match self {
            Input::Csv(f) => f.schema(),
            Input::Json(f) => f.schema(),
            Input::Excel(f) => f.schema(),
        }
    }

    /// The file's rows, where inference counted them.
    pub(crate) fn rows(&self) -> Option<u64> {
        match self {
            Input::Csv(f) => f.rows(),
            Input::Json(f) => Some(f.rows()),
            Input::Excel(f) => Some(f.rows()),
        }
    }

    /// The file's batches in order, from its start; each call reads it again.
    pub(crate) fn batches(&self) -> Result<Batches> {
        Ok(match self {
            Input::Csv(f) => Box::new(f.batches()?),
            Input::Json(f) => Box::new(f.batches()?),
            Input::Excel(f) => Box::new(f.batches()),
        })
    }
}

/// `format` as messages name it.
fn describe(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Csv => "CSV",
        FileFormat::JsonLines => "JSON lines",
        FileFormat::Excel => "a workbook",
    }
}

/// Converts the host file `source` (CSV, JSON lines or a workbook sheet, compressed or
/// not) to Parquet at `dest`; returns the rows written. `shown` names the source in
/// errors. Blocking: call from a blocking thread.
pub fn to_parquet(source: &Path, shown: &str, options: &ReadOptions, dest: &Path) -> Result<u64> {
    let file = Input::open(source, shown, options)?;
    let (schema, reader) = (file.schema().clone(), file.batches()?);
    let io = |source| Error::Io {
        path: dest.display().to_string(),
        source,
    };
    let out = std::fs::File::create(dest).map_err(io)?;
    let mut conformer = Conformer::new(instants(&schema), shown);
    let target = conformer.schema().clone();
    let task = tinyfs::progress::start(
        &format!("converting {shown}"),
        tinyfs::progress::Unit::Rows,
        file.rows(),
    );
    let batches = reader.map(|batch| -> Result<RecordBatch> {
        let batch = conformer.conform(&batch?)?;
        task.inc(batch.num_rows() as u64);
        Ok(batch)
    });
    let written = write_parquet_blocking(
        out,
        target,
        writer_properties(),
        batches,
        &dest.display().to_string(),
    )?;
    written.sink.sync_all().map_err(io)?;
    Ok(written.rows)
}

/// A compression a file may come in, known by its first bytes (whatever its name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    /// gzip (`.gz`), one member or several.
    Gzip,
    /// Zstandard (`.zst`).
    Zstd,
    /// bzip2 (`.bz2`).
    Bzip2,
}

impl Compression {
    /// The compression a file extension names.
    fn by_extension(extension: &str) -> Option<Compression> {
        match extension.to_ascii_lowercase().as_str() {
            "gz" => Some(Compression::Gzip),
            "zst" => Some(Compression::Zstd),
            "bz2" => Some(Compression::Bzip2),
            _ => None,
        }
    }

    /// The compression of the host file `source`, if it is compressed.
    pub(crate) fn of(source: &Path, shown: &str) -> Result<Option<Compression>> {
        let mut head = [0u8; 4];
        let n = File::open(source)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|e| Error::Io {
                path: shown.to_string(),
                source: e,
            })?;
        Ok(Compression::of_head(&head[..n]))
    }

    /// The compression a file's first bytes say it is in.
    pub(crate) fn of_head(head: &[u8]) -> Option<Compression> {
        match head {
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
            [b'B', b'Z', b'h', b'1'..=b'9', ..] => Some(Compression::Bzip2),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
        }
    }

    /// Starts decompressing `source`, streaming, into a temporary file (in `TMPDIR`) on a
    /// thread of its own: its text is read several times (once to infer types, then in
    /// parallel chunks), and is never held in memory. A stream that ends early is named
    /// as truncated.
    fn start(self, source: &Path, shown: &str) -> Result<(tempfile::TempPath, Decompressing)> {
        let io = |e: std::io::Error| Error::Io {
            path: shown.to_string(),
            source: e,
        };
        let input = std::io::BufReader::with_capacity(1 << 20, File::open(source).map_err(io)?);
        let mut reader: Box<dyn std::io::Read + Send> = match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Compression::Zstd => {
                Box::new(zstd::stream::read::Decoder::with_buffer(input).map_err(io)?)
            }
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
        };
        let temp = tempfile::Builder::new()
            .prefix(".pond-decompressed-")
            .tempfile()
            .map_err(io)?;
        let (file, path) = temp.into_parts();
        let (send, receiver) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let shown = shown.to_string();
        let thread = std::thread::Builder::new()
            .name("pond-decompress".into())
            .spawn(move || -> Result<()> {
                let io = |e: std::io::Error| Error::Io {
                    path: shown.clone(),
                    source: e,
                };
                let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
                loop {
                    let mut chunk = vec![0u8; 1 << 20];
                    let n = read_full(&mut reader, &mut chunk).map_err(|e| {
                        let why = if e.kind() == std::io::ErrorKind::UnexpectedEof
                            || e.to_string().contains("incomplete")
                            || e.to_string().contains("truncated")
                        {
                            "ends early: the file is truncated".to_string()
                        } else {
                            format!("is damaged: {e}")
                        };
                        Error::invalid(&shown, format!("its {} stream {why}", self.name()))
                    })?;
                    if n == 0 {
                        break;
                    }
                    chunk.truncate(n);
                    std::io::Write::write_all(&mut out, &chunk).map_err(io)?;
                    if send.send(chunk).is_err() {
                        // Dropped unfinished (the file was refused): nobody needs the rest.
                        return Ok(());
                    }
                }
                std::io::Write::flush(&mut out).map_err(io)
            })
            .map_err(io)?;
        let text = Decompressing {
            receiver,
            chunk: Vec::new(),
            at: 0,
            thread,
        };
        Ok((path, text))
    }
}

/// Reads into `buf` until it is full or the stream ends: how many bytes were read.
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_drop_the_format_extension_only() {
        assert_eq!(table_name("/in/a.csv"), "a");
        assert_eq!(table_name("/in/B.CSV"), "B");
        assert_eq!(table_name("/in/.csv"), ".csv");
        assert_eq!(table_name("/in/readings"), "readings");
        // Multi-byte names near the end must not be cut inside a character.
        assert_eq!(table_name("/in/été"), "été");
        assert_eq!(table_name("/in/señor.csv"), "señor");
        assert_eq!(table_name("/in/day.csv.gz"), "day");
        assert_eq!(table_name("/in/day.CSV.ZST"), "day");
        assert_eq!(table_name("/in/day.csv.bz2"), "day");
        assert_eq!(table_name("/in/day.gz"), "day.gz");
        assert_eq!(table_name("/in/log.jsonl"), "log");
        assert_eq!(table_name("/in/log.ndjson.gz"), "log");
        assert_eq!(table_name("/in/lab.xlsx"), "lab");
        assert_eq!(table_name("/in/notes.md"), "notes.md");
    }

    #[test]
    fn formats_by_name() {
        assert_eq!(FileFormat::of_name("a.csv.gz"), Some(FileFormat::Csv));
        assert_eq!(FileFormat::of_name("a.NDJSON"), Some(FileFormat::JsonLines));
        assert_eq!(FileFormat::of_name("x/a.xlsx"), Some(FileFormat::Excel));
        assert_eq!(FileFormat::of_name("a.gz"), None);
        assert_eq!(FileFormat::of_name("readings"), None);
        assert!(FileFormat::parse("parquet").is_err());
    }
}

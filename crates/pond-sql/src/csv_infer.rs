//! The types of a CSV file's columns, inferred over every row.
//!
//! The rules are arrow-csv's (so a file reads as DataFusion would read it) with two that
//! instrument files need: a column of numbers written with leading zeros (station ids,
//! ZIP codes: `007`) is text, so no code loses its zeros; and with a decimal comma
//! (`--decimal ,`) `1,5` is a decimal, read as text and converted after (see
//! [`crate::csv`]).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{Error, Result};

const BOOLEAN: u16 = 1 << 0;
const INTEGER: u16 = 1 << 1;
const FLOAT: u16 = 1 << 2;
const TEXT: u16 = 1 << 8;

/// What one column's values have been so far: a set of the kinds above, and timestamp
/// precisions (bits 4–7). JSON lines and workbooks infer their columns with it too, so
/// a value has one type whatever file it comes in.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Seen(u16);

impl Seen {
    /// A value as CSV text.
    pub(crate) fn update(&mut self, value: &str, decimal_comma: bool) {
        // Text stays text whatever follows: most of a text column is not looked at.
        if self.0 & TEXT != 0 {
            return;
        }
        self.0 |= kind(value.as_bytes(), decimal_comma);
    }

    /// A JSON string: a date or a time, else text (a number in quotes stays text).
    pub(crate) fn update_string(&mut self, value: &str) {
        if self.0 & TEXT == 0 {
            self.0 |= timestamp(value.as_bytes()).unwrap_or(TEXT);
        }
    }

    /// What `other` saw too (of another run of the same column).
    pub(crate) fn merge(&mut self, other: Seen) {
        self.0 |= other.0;
    }

    /// A value that is text whatever it looks like.
    pub(crate) fn text(&mut self) {
        self.0 |= TEXT;
    }

    /// A number: an integer, or not.
    pub(crate) fn number(&mut self, integer: bool) {
        self.0 |= if integer { INTEGER } else { FLOAT };
    }

    /// A boolean.
    pub(crate) fn boolean(&mut self) {
        self.0 |= BOOLEAN;
    }

    /// A date and time to the millisecond (a workbook's date cell).
    pub(crate) fn datetime(&mut self) {
        self.0 |= 1 << 5;
    }

    /// The type of the column: [`DataType::Null`] if no value was seen, text when its
    /// values have no other type in common.
    pub(crate) fn data_type(self) -> DataType {
        match self.0 {
            0 => DataType::Null,
            BOOLEAN => DataType::Boolean,
            INTEGER => DataType::Int64,
            b if b == FLOAT || b == INTEGER | FLOAT => DataType::Float64,
            b if b & !0b1111_1000 == 0 => match b.leading_zeros() {
                8 => DataType::Timestamp(TimeUnit::Nanosecond, None),
                9 => DataType::Timestamp(TimeUnit::Microsecond, None),
                10 => DataType::Timestamp(TimeUnit::Millisecond, None),
                11 => DataType::Timestamp(TimeUnit::Second, None),
                _ => DataType::Date32,
            },
            _ => DataType::Utf8,
        }
    }
}

/// Whether `value` is digits with a leading zero (`007`, `-01`): a code, not a quantity
/// (`0`, `0.5` and `00.5` are numbers).
fn is_code(value: &[u8]) -> bool {
    let digits = value.strip_prefix(b"-").unwrap_or(value);
    digits.len() > 1 && digits[0] == b'0' && digits.iter().all(u8::is_ascii_digit)
}

/// The kind of one value, as a bit of [`Seen`]: arrow-csv's inference patterns
/// (`true`, `-12`, `1.5e3`, `2024-01-31`, `2024-01-31T12:00:00[.fff...][zone]`) written
/// out byte by byte, ASCII digits only, with pond's two rules: a code with leading zeros
/// is text, and with decimal commas only a comma makes a decimal.
fn kind(value: &[u8], decimal_comma: bool) -> u16 {
    if value.eq_ignore_ascii_case(b"true") || value.eq_ignore_ascii_case(b"false") {
        return BOOLEAN;
    }
    if let Some(kind) = number(value, decimal_comma) {
        return kind;
    }
    timestamp(value).unwrap_or(TEXT)
}

/// `value` as [`INTEGER`] or [`FLOAT`], or `None` if it is not a number. An integer too
/// long for 64 bits is text, as arrow-csv has it.
fn number(value: &[u8], decimal_comma: bool) -> Option<u16> {
    let unsigned = value.strip_prefix(b"-").unwrap_or(value);
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let whole = digits(unsigned);
    if whole == unsigned.len() {
        if whole == 0 {
            return None;
        }
        if is_code(value) {
            return Some(TEXT);
        }
        let fits =
            value.len() < 19 || std::str::from_utf8(value).is_ok_and(|v| v.parse::<i64>().is_ok());
        return Some(if fits { INTEGER } else { TEXT });
    }
    let mut rest = &unsigned[whole..];
    let separator = match rest[0] {
        b'.' | b',' => {
            let sep = rest[0];
            let fraction = digits(&rest[1..]);
            if whole + fraction == 0 {
                return None;
            }
            rest = &rest[1 + fraction..];
            Some(sep)
        }
        _ if whole == 0 => return None,
        _ => None,
    };
    if let [b'e' | b'E', exponent @ ..] = rest {
        let exponent = exponent
            .strip_prefix(b"-")
            .or_else(|| exponent.strip_prefix(b"+"))
            .unwrap_or(exponent);
        if exponent.is_empty() || digits(exponent) != exponent.len() {
            return None;
        }
    } else if !rest.is_empty() || separator.is_none() {
        return None;
    }
    Some(match (separator, decimal_comma) {
        (Some(b','), true) => FLOAT,
        (Some(b','), false) => return None,
        // A dot decimal, or one with only an exponent, in a file of decimal commas.
        (_, true) => TEXT,
        (_, false) => FLOAT,
    })
}

/// `value` as a date or a timestamp kind (by the digits of its fraction of a second), or
/// `None`.
fn timestamp(value: &[u8]) -> Option<u16> {
    const DATE: &[u8] = b"dddd-dd-dd";
    const TIME: &[u8] = b"dd:dd:dd";
    let shaped = |s: &[u8], shape: &[u8]| {
        s.len() >= shape.len()
            && s.iter().zip(shape).all(|(b, want)| match want {
                b'd' => b.is_ascii_digit(),
                want => b == want,
            })
    };
    if !shaped(value, DATE) {
        return None;
    }
    let rest = &value[DATE.len()..];
    if rest.is_empty() {
        return Some(1 << 3);
    }
    if !matches!(rest[0], b'T' | b' ') || !shaped(&rest[1..], TIME) {
        return None;
    }
    let rest = &rest[1 + TIME.len()..];
    // Whatever follows the seconds or their fraction (a zone) starts with something not
    // a digit.
    let fraction = match rest.first() {
        None => return Some(1 << 4),
        Some(b'.') => rest[1..].iter().take_while(|b| b.is_ascii_digit()).count(),
        Some(b) if b.is_ascii_digit() => return None,
        Some(_) => return Some(1 << 4),
    };
    match fraction {
        1..=3 => Some(1 << 5),
        4..=6 => Some(1 << 6),
        7..=9 => Some(1 << 7),
        _ => None,
    }
}

/// How to read a file for inference.
pub(crate) struct InferOptions<'a> {
    pub delimiter: u8,
    pub has_header: bool,
    pub decimal_comma: bool,
    pub is_null: &'a dyn Fn(&str) -> bool,
    /// Columns read as text whatever their values (times with a format of their own).
    pub text: &'a [String],
    /// The size of the chunks the file is cut into, at record boundaries.
    pub chunk_bytes: u64,
}

/// What inference learns of a file.
pub(crate) struct Inferred {
    pub schema: SchemaRef,
    /// The file's records in order, cut into chunks of about
    /// [`InferOptions::chunk_bytes`]: found by a reader that knows quotes, so a chunk
    /// starts where a record does even when a quoted cell holds line breaks.
    pub chunks: Vec<Chunk>,
    /// The file's records.
    pub rows: u64,
}

/// A run of whole records of a CSV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// The byte offset of its first record.
    pub start: u64,
    /// The byte offset after its last record; `None` for the last chunk (to the end).
    pub end: Option<u64>,
    /// The records (not counting the header) before it.
    pub first_row: u64,
}

/// The schema of the CSV text `source`, every row read, and its chunks (byte offsets in
/// the text). `shown` names it in errors. Blocking.
pub(crate) fn infer_schema(
    source: impl std::io::Read,
    shown: &str,
    options: &InferOptions,
) -> Result<Inferred> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(options.has_header)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(source);
    let mut names: Vec<String> = if options.has_header {
        reader
            .headers()
            .map_err(|e| csv_error(shown, e))?
            .iter()
            .map(String::from)
            .collect()
    } else {
        Vec::new()
    };
    let mut seen = vec![Seen::default(); names.len()];
    let mut record = csv::StringRecord::new();
    let mut chunks = Vec::new();
    let mut chunk = Chunk {
        start: reader.position().byte(),
        end: None,
        first_row: 0,
    };
    let mut rows = 0;
    while reader
        .read_record(&mut record)
        .map_err(|e| csv_error(shown, e))?
    {
        rows += 1;
        // The position after a record is where the next one starts.
        let next = reader.position().byte();
        if next - chunk.start >= options.chunk_bytes {
            chunks.push(Chunk {
                end: Some(next),
                ..chunk
            });
            chunk = Chunk {
                start: next,
                end: None,
                first_row: rows,
            };
        }
        if record.len() > seen.len() {
            seen.resize(record.len(), Seen::default());
        }
        for (i, value) in record.iter().enumerate() {
            if !(options.is_null)(value) {
                seen[i].update(value, options.decimal_comma);
            }
        }
    }
    for i in names.len()..seen.len() {
        names.push(format!("column_{}", i + 1));
    }
    let fields: Vec<Field> = names
        .into_iter()
        .zip(seen)
        .map(|(name, seen)| {
            let data_type = if options.text.contains(&name) {
                DataType::Utf8
            } else {
                seen.data_type()
            };
            Field::new(name, data_type, true)
        })
        .collect();
    if chunk.first_row < rows || chunks.is_empty() {
        chunks.push(chunk);
    } else if let Some(last) = chunks.last_mut() {
        // The last record ended a chunk: that chunk runs to the end.
        last.end = None;
    }
    Ok(Inferred {
        schema: Arc::new(Schema::new(fields)),
        chunks,
        rows,
    })
}

fn csv_error(shown: &str, e: csv::Error) -> Error {
    let at = e
        .position()
        .map(|p| format!(" (line {})", p.line()))
        .unwrap_or_default();
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::Io {
            path: shown.to_string(),
            source,
        },
        csv::ErrorKind::Utf8 { .. } => Error::invalid(shown, format!("not UTF-8 text{at}")),
        other => Error::invalid(shown, format!("{other:?}{at}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str], decimal_comma: bool) -> DataType {
        let mut seen = Seen::default();
        for v in values {
            seen.update(v, decimal_comma);
        }
        seen.data_type()
    }

    #[test]
    fn types_follow_the_values() {
        assert_eq!(infer(&["1", "2"], false), DataType::Int64);
        assert_eq!(infer(&["1", "2.5"], false), DataType::Float64);
        assert_eq!(infer(&["0", "0.5", "-0.25"], false), DataType::Float64);
        assert_eq!(infer(&["true", "FALSE"], false), DataType::Boolean);
        assert_eq!(infer(&["2024-01-01"], false), DataType::Date32);
        assert_eq!(
            infer(&["2024-01-01", "2024-01-01T00:00:00Z"], false),
            DataType::Timestamp(TimeUnit::Second, None)
        );
        assert_eq!(infer(&["1", "x"], false), DataType::Utf8);
        assert_eq!(infer(&["99999999999999999999"], false), DataType::Utf8);
        assert_eq!(infer(&[], false), DataType::Null);
    }

    /// Without pond's two rules the kinds are arrow-csv's: its own inference of a
    /// one-column file is the oracle.
    #[test]
    fn kinds_are_arrow_csvs() {
        let values = [
            "true",
            "FALSE",
            "tru",
            "0",
            "-12",
            "+5",
            "-",
            "12a",
            "1.5",
            "-1.5",
            "5.",
            ".5",
            ".",
            "1e5",
            "1E-5",
            "1.5e+3",
            "e5",
            "1.5e",
            "1,5",
            "9223372036854775807",
            "99999999999999999999",
            "2024-01-31",
            "2024-1-31",
            "2024-01-31T12:00:00",
            "2024-01-31 12:00:00",
            "2024-01-31T12:00:00Z",
            "2024-01-31T12:00:00+02:00",
            "2024-01-31T12:00:00.",
            "2024-01-31T12:00:00.1",
            "2024-01-31T12:00:00.123Z",
            "2024-01-31T12:00:00.1234",
            "2024-01-31T12:00:00.123456+01:00",
            "2024-01-31T12:00:00.1234567",
            "2024-01-31T12:00:00.123456789Z",
            "2024-01-31T12:00:00.1234567890",
            "2024-01-31T12:00:001",
            "2024-01-31X12:00:00",
            "2024-01-31T12:00",
            "x2024-01-31",
        ];
        for value in values {
            let file = format!("v\n\"{value}\"\n");
            let (schema, _) = arrow::csv::reader::Format::default()
                .with_header(true)
                .infer_schema(file.as_bytes(), None)
                .expect("a one-column file");
            assert_eq!(
                infer(&[value], false),
                *schema.field(0).data_type(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn codes_with_leading_zeros_stay_text() {
        assert_eq!(infer(&["007", "123"], false), DataType::Utf8);
        assert_eq!(infer(&["0", "10"], false), DataType::Int64);
        assert_eq!(infer(&["00501"], false), DataType::Utf8);
    }

    #[test]
    fn decimal_commas_are_numbers_only_when_asked() {
        assert_eq!(infer(&["1,5", "2"], true), DataType::Float64);
        assert_eq!(infer(&["1,5"], false), DataType::Utf8);
        assert_eq!(infer(&["1.5"], true), DataType::Utf8);
        assert_eq!(infer(&["3", "4"], true), DataType::Int64);
        assert_eq!(infer(&["1,5e3", "-,5"], true), DataType::Float64);
        assert_eq!(infer(&["1e5"], true), DataType::Utf8);
    }
}

//! The types of a CSV file's columns, inferred over every row.
//!
//! The rules are arrow-csv's (so a file reads as DataFusion would read it) with two that
//! instrument files need: a column of numbers written with leading zeros (station ids,
//! ZIP codes: `007`) is text, so no code loses its zeros; and with a decimal comma
//! (`--decimal ,`) `1,5` is a decimal, read as text and converted after (see
//! [`crate::csv`]).

use std::path::Path;
use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use regex::{Regex, RegexSet};

use crate::error::{Error, Result};

/// arrow-csv's patterns, in its order, then pond's.
static PATTERNS: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        r"(?i)^(true|false)$",
        r"^-?(\d+)$",
        r"^-?((\d*\.\d+|\d+\.\d*)([eE][-+]?\d+)?|\d+([eE][-+]?\d+))$",
        r"^\d{4}-\d\d-\d\d$",
        r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[^\d\.].*)?$",
        r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\.\d{1,3}(?:[^\d].*)?$",
        r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\.\d{1,6}(?:[^\d].*)?$",
        r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\.\d{1,9}(?:[^\d].*)?$",
    ])
    .expect("valid patterns")
});

/// A decimal written with a comma.
static COMMA_DECIMAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^-?((\d*,\d+|\d+,\d*)([eE][-+]?\d+)?|\d+([eE][-+]?\d+))$")
        .expect("a valid pattern")
});

const BOOLEAN: u16 = 1 << 0;
const INTEGER: u16 = 1 << 1;
const FLOAT: u16 = 1 << 2;
const TEXT: u16 = 1 << 8;

/// What one column's values have been so far: a set of the kinds above, and timestamp
/// precisions (bits 4–7).
#[derive(Clone, Copy, Default)]
struct Seen(u16);

impl Seen {
    fn update(&mut self, value: &str, decimal_comma: bool) {
        if is_code(value) {
            self.0 |= TEXT;
            return;
        }
        let matched = PATTERNS.matches(value).into_iter().next();
        self.0 |= match matched {
            // An integer too long for 64 bits is text, as arrow-csv has it.
            Some(1) if value.len() >= 19 && value.parse::<i64>().is_err() => TEXT,
            // A dot decimal in a file with decimal commas is not a number.
            Some(2) if decimal_comma => TEXT,
            Some(m) => 1 << m,
            None if decimal_comma && COMMA_DECIMAL.is_match(value) => FLOAT,
            None => TEXT,
        };
    }

    fn data_type(self) -> DataType {
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
fn is_code(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value).as_bytes();
    digits.len() > 1 && digits[0] == b'0' && digits.iter().all(u8::is_ascii_digit)
}

/// How to read a file for inference.
pub(crate) struct InferOptions<'a> {
    pub delimiter: u8,
    pub has_header: bool,
    pub decimal_comma: bool,
    pub is_null: &'a dyn Fn(&str) -> bool,
    /// Columns read as text whatever their values (times with a format of their own).
    pub text: &'a [String],
}

/// The schema of the CSV file `source`, every row read. `shown` names it in errors.
/// Blocking.
pub(crate) fn infer_schema(
    source: &Path,
    shown: &str,
    options: &InferOptions,
) -> Result<SchemaRef> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(options.has_header)
        .flexible(true)
        .from_path(source)
        .map_err(|e| csv_error(shown, e))?;
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
    while reader
        .read_record(&mut record)
        .map_err(|e| csv_error(shown, e))?
    {
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
    Ok(Arc::new(Schema::new(fields)))
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
    }
}

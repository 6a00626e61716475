//! A workbook's sheet read as a table (`.xlsx`, `.xlsm`, `.xls`, `.ods`, read by
//! `calamine`).
//!
//! One sheet is the table: [`ReadOptions::sheet`], else the first. Its header row names
//! the columns: [`ReadOptions::header_row`] (as the spreadsheet numbers rows), else the
//! first row with a value, so a title above the table is skipped by naming the header's
//! row. Rows with no value are skipped; an empty header cell names its column `column_N`.
//!
//! Types are inferred over every cell with CSV's rules ([`crate::csv_infer`]): a number
//! cell is an integer when it has no fraction, a text cell is read as CSV text would be
//! (so `007` stays text and `12.5` is a number), a date cell is a timestamp in the
//! configured zone, and a column of mixed kinds is text. Empty and error cells (`#N/A`,
//! `#DIV/0!`) and text in [`ReadOptions::null_values`] are null. With a given schema, a
//! cell that does not fit its column is refused, named by its cell reference.
//!
//! A workbook is a zip of XML: it is read whole into memory, unlike CSV and JSON lines.

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder, TimestampNanosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use calamine::{Data, Reader};

use crate::conform::UTC;
use crate::csv::{arrow_error, check_timezone};
use crate::csv_infer::Seen;
use crate::error::{Error, Result};
use crate::formats::{Plain, ReadOptions};

/// Rows per batch.
const BATCH_ROWS: usize = 64 * 1024;

/// A workbook's sheet, read and converted.
pub(crate) struct ExcelFile {
    batch: RecordBatch,
}

impl ExcelFile {
    /// Reads the sheet `options` names from the workbook `plain`; `shown` names it in
    /// errors. Blocking.
    pub(crate) fn open(plain: &Plain, shown: &str, options: &ReadOptions) -> Result<ExcelFile> {
        let zone = match &options.timezone {
            Some(zone) => check_timezone(zone).map_err(|e| Error::invalid(shown, e))?,
            None => UTC.to_string(),
        };
        let tz: Tz = zone.parse().map_err(|e| arrow_error(shown, e))?;
        let bytes = std::fs::read(&plain.path).map_err(|source| Error::Io {
            path: shown.to_string(),
            source,
        })?;
        let mut workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
            .map_err(|e| Error::invalid(shown, format!("not a workbook pond reads: {e}")))?;
        let names = workbook.sheet_names();
        let sheet = match &options.sheet {
            Some(sheet) if names.contains(sheet) => sheet.clone(),
            Some(sheet) => {
                return Err(Error::invalid(
                    shown,
                    format!("no sheet {sheet:?} (sheets: {})", names.join(", ")),
                ));
            }
            None => names
                .first()
                .cloned()
                .ok_or_else(|| Error::invalid(shown, "the workbook has no sheets"))?,
        };
        let range = workbook
            .worksheet_range(&sheet)
            .map_err(|e| Error::invalid(shown, format!("sheet {sheet:?}: {e}")))?;
        let at = Sheet {
            shown,
            sheet: &sheet,
            first_row: range.start().map_or(0, |(row, _)| row),
            first_column: range.start().map_or(0, |(_, column)| column),
        };
        let (height, width) = range.get_size();
        // The header's index in the range, or where the rows start without one.
        let top = match options.header_row {
            None => 0,
            Some(0) => return Err(at.invalid("header row 0: rows are numbered from 1")),
            Some(row) if row - 1 < at.first_row || (row - 1 - at.first_row) as usize >= height => {
                return Err(at.invalid(format!("header row {row} has no value")));
            }
            Some(row) => (row - 1 - at.first_row) as usize,
        };
        let cell = |row: usize, column: usize| range.get((row, column)).unwrap_or(&Data::Empty);
        let first = if options.has_header { top + 1 } else { top };
        let rows: Vec<usize> = (first..height)
            .filter(|&row| (0..width).any(|column| !is_null(cell(row, column), options)))
            .collect();
        let names: Vec<String> = (0..width)
            .map(|column| {
                let name = match (options.has_header, cell(top, column)) {
                    (true, Data::Empty) | (false, _) => String::new(),
                    (true, value) => text_of(value).unwrap_or_default().trim().to_string(),
                };
                if name.is_empty() {
                    format!("column_{}", column + 1)
                } else {
                    name
                }
            })
            .collect();
        if width == 0 || height == 0 {
            return Err(at.invalid("no columns: the sheet is empty"));
        }
        let types: Vec<(String, DataType)> = match &options.schema {
            Some(schema) if schema.fields().len() != width => {
                return Err(at.invalid(format!(
                    "the schema has {} columns, the sheet {width}",
                    schema.fields().len()
                )));
            }
            Some(schema) => schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect(),
            None => {
                let mut seen = std::collections::HashSet::new();
                if let Some(twice) = names.iter().find(|n| !seen.insert(*n)) {
                    return Err(at.invalid(format!(
                        "the header row names two columns {twice:?}; give them distinct names"
                    )));
                }
                names
                    .into_iter()
                    .enumerate()
                    .map(|(column, name)| {
                        let mut seen = Seen::default();
                        for &row in &rows {
                            note(&mut seen, cell(row, column), options);
                        }
                        (name, seen.data_type())
                    })
                    .collect()
            }
        };
        let mut fields = Vec::with_capacity(width);
        let mut columns = Vec::with_capacity(width);
        for (column, (name, data_type)) in types.into_iter().enumerate() {
            let data_type = match data_type {
                DataType::Null => DataType::Utf8,
                DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                    DataType::Timestamp(TimeUnit::Nanosecond, Some(zone.as_str().into()))
                }
                DataType::Timestamp(_, _) => {
                    DataType::Timestamp(TimeUnit::Microsecond, Some(zone.as_str().into()))
                }
                other => other,
            };
            let cells = rows.iter().map(|&row| (row, cell(row, column)));
            let convert = Convert {
                at: &at,
                column,
                name: &name,
                options,
                tz: &tz,
            };
            columns.push(convert.column(&data_type, cells)?);
            fields.push(Field::new(name, data_type, true));
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema, columns).map_err(|e| arrow_error(shown, e))?;
        Ok(ExcelFile { batch })
    }

    /// The sheet's schema.
    pub(crate) fn schema(&self) -> &SchemaRef {
        self.batch.schema_ref()
    }

    /// The sheet's rows (with a value).
    pub(crate) fn rows(&self) -> u64 {
        self.batch.num_rows() as u64
    }

    /// The sheet's rows in batches.
    pub(crate) fn batches(&self) -> impl Iterator<Item = Result<RecordBatch>> + Send + 'static {
        let batch = self.batch.clone();
        let rows = batch.num_rows();
        (0..rows)
            .step_by(BATCH_ROWS)
            .map(move |offset| Ok(batch.slice(offset, BATCH_ROWS.min(rows - offset))))
    }
}

/// Where in a workbook: for messages.
struct Sheet<'a> {
    shown: &'a str,
    sheet: &'a str,
    /// The sheet's row and column (from 0) where its used range starts.
    first_row: u32,
    first_column: u32,
}

impl Sheet<'_> {
    fn invalid(&self, detail: impl std::fmt::Display) -> Error {
        Error::invalid(self.shown, format!("sheet {:?}: {detail}", self.sheet))
    }

    /// The reference (`C12`) of the cell at `row` and `column` of the range.
    fn reference(&self, row: usize, column: usize) -> String {
        let mut n = self.first_column as usize + column + 1;
        let mut letters = Vec::new();
        while n > 0 {
            letters.push(b'A' + ((n - 1) % 26) as u8);
            n = (n - 1) / 26;
        }
        letters.reverse();
        format!(
            "{}{}",
            String::from_utf8_lossy(&letters),
            self.first_row as usize + row + 1
        )
    }
}

/// Whether `cell` is null: empty, an error (`#N/A`), or a null text.
fn is_null(cell: &Data, options: &ReadOptions) -> bool {
    match cell {
        Data::Empty | Data::Error(_) => true,
        Data::String(s) => options.null_values.iter().any(|n| n == s),
        _ => false,
    }
}

/// Notes the kind of `cell` in `seen`.
fn note(seen: &mut Seen, cell: &Data, options: &ReadOptions) {
    if is_null(cell, options) {
        return;
    }
    match cell {
        Data::String(s) | Data::DateTimeIso(s) => seen.update(s, false),
        Data::Int(_) => seen.number(true),
        Data::Float(f) => seen.number(f.fract() == 0.0 && f.abs() < 9.0e15),
        Data::Bool(_) => seen.boolean(),
        Data::DateTime(d) if d.is_datetime() => seen.datetime(),
        _ => seen.text(),
    }
}

/// A non-null cell as text: what a CSV export of it would hold.
fn text_of(cell: &Data) -> Option<String> {
    Some(match cell {
        Data::Empty | Data::Error(_) => return None,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => match d.as_datetime() {
            Some(t) if d.is_datetime() => t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
            _ => d.as_f64().to_string(),
        },
    })
}

/// Converts one column's cells to its type.
struct Convert<'a> {
    at: &'a Sheet<'a>,
    column: usize,
    name: &'a str,
    options: &'a ReadOptions,
    tz: &'a Tz,
}

impl Convert<'_> {
    fn refuse(&self, row: usize, cell: &Data, data_type: &DataType) -> Error {
        self.at.invalid(format!(
            "cell {} (column {:?}) holds {:?}, which is not {data_type}",
            self.at.reference(row, self.column),
            self.name,
            text_of(cell).unwrap_or_default()
        ))
    }

    fn column<'c>(
        &self,
        data_type: &DataType,
        cells: impl ExactSizeIterator<Item = (usize, &'c Data)>,
    ) -> Result<ArrayRef> {
        let len = cells.len();
        let null = |cell: &Data| is_null(cell, self.options);
        macro_rules! build {
            ($builder:expr, $value:expr) => {{
                let mut builder = $builder;
                for (row, cell) in cells {
                    if null(cell) {
                        builder.append_null();
                        continue;
                    }
                    let value: Option<_> = $value(cell);
                    match value {
                        Some(v) => builder.append_value(v),
                        None => return Err(self.refuse(row, cell, data_type)),
                    }
                }
                builder.finish()
            }};
        }
        let text = |cell: &Data| text_of(cell).map(|t| t.trim().to_string());
        Ok(match data_type {
            DataType::Int64 => Arc::new(build!(Int64Builder::with_capacity(len), |cell: &Data| {
                match cell {
                    Data::Int(i) => Some(*i),
                    Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
                    Data::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
            })),
            DataType::Float64 => {
                Arc::new(build!(Float64Builder::with_capacity(len), |cell: &Data| {
                    match cell {
                        Data::Int(i) => Some(*i as f64),
                        Data::Float(f) => Some(*f),
                        Data::String(s) => s.trim().parse().ok(),
                        _ => None,
                    }
                }))
            }
            DataType::Boolean => {
                Arc::new(build!(BooleanBuilder::with_capacity(len), |cell: &Data| {
                    match cell {
                        Data::Bool(b) => Some(*b),
                        Data::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
                        Data::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
                        _ => None,
                    }
                }))
            }
            DataType::Date32 => {
                Arc::new(build!(Date32Builder::with_capacity(len), |cell: &Data| {
                    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
                    let date = match cell {
                        Data::DateTime(d) if d.is_datetime() => d.as_datetime().map(|t| t.date()),
                        _ => {
                            chrono::NaiveDate::parse_from_str(text(cell)?.as_str(), "%Y-%m-%d").ok()
                        }
                    }?;
                    i32::try_from((date - epoch).num_days()).ok()
                }))
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                let nanos = build!(TimestampNanosecondBuilder::with_capacity(len), |cell| self
                    .instant(cell)
                    .and_then(|t| t.timestamp_nanos_opt()));
                Arc::new(nanos.with_data_type(data_type.clone()))
            }
            DataType::Timestamp(_, _) => {
                let micros = build!(TimestampMicrosecondBuilder::with_capacity(len), |cell| self
                    .instant(cell)
                    .map(|t| t.timestamp_micros()));
                Arc::new(micros.with_data_type(data_type.clone()))
            }
            DataType::Utf8 => Arc::new(build!(StringBuilder::with_capacity(len, len * 8), text_of)),
            other => {
                return Err(self.at.invalid(format!(
                    "column {:?}: a sheet's column cannot be {other}",
                    self.name
                )));
            }
        })
    }

    /// A date cell, or a text cell with a date and time, as an instant: times without an
    /// offset are in the zone (the earlier of two in a change of clocks).
    fn instant(&self, cell: &Data) -> Option<chrono::DateTime<Tz>> {
        use chrono::TimeZone;
        match cell {
            Data::DateTime(d) if d.is_datetime() => {
                self.tz.from_local_datetime(&d.as_datetime()?).earliest()
            }
            _ => arrow::compute::kernels::cast_utils::string_to_datetime(
                self.tz,
                text_of(cell)?.trim(),
            )
            .ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references() {
        let at = Sheet {
            shown: "w.xlsx",
            sheet: "Data",
            first_row: 2,
            first_column: 0,
        };
        assert_eq!(at.reference(0, 0), "A3");
        assert_eq!(at.reference(9, 25), "Z12");
        assert_eq!(at.reference(0, 26), "AA3");
        assert_eq!(at.reference(0, 701), "ZZ3");
        assert_eq!(at.reference(0, 702), "AAA3");
    }
}

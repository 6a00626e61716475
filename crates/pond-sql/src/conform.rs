//! One schema per series: the rules that fit a new batch to a series, and the rules that
//! read versions stored with different schemas as one table.
//!
//! Two directions, two rules:
//!
//! - **Appending** ([`append_schema`], [`Conformer`]): the series' schema is the contract.
//!   A column the batch lacks, or has with no values (all null), is null in the new
//!   version; a column the series lacks widens the schema (earlier rows read null); a safe
//!   widening applies (narrower to wider integers, integer to float, one timestamp unit to
//!   a finer one, a date to a timestamp, anything to text when the series column is text).
//!   A text batch column is parsed as the series' type, and the first value that does not
//!   parse refuses the append, naming the column, both types, the value and its row.
//! - **Reading** ([`read_type`], [`merge_versions`]): versions written before these rules
//!   (or by another tool) still read as one table. The same widenings apply, and where
//!   none exists but both types have a text form, the column reads as text: no series is
//!   unreadable because of one version.
//!
//! Timestamps are instants: a series stores its timestamps as `Timestamp(µs or ns, "UTC")`
//! ([`instant_type`]), which Parquet writes as a UTC-adjusted `TIMESTAMP` every reader
//! understands.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, new_null_array};
use arrow::compute::{CastOptions, can_cast_types, cast_with_options};
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::{Error, Result};

/// The time zone pond stores instants in.
pub const UTC: &str = "UTC";

/// The type an instant of `unit` is stored as: microseconds, or nanoseconds when the input
/// has them (Parquet has no second unit; milliseconds are widened so that every series
/// shares one unit whatever its first batch had).
pub fn instant_type(unit: TimeUnit) -> DataType {
    DataType::Timestamp(instant_unit(unit), Some(UTC.into()))
}

/// The unit an instant of `unit` is stored in: nanoseconds stay, coarser units are
/// microseconds.
fn instant_unit(unit: TimeUnit) -> TimeUnit {
    match unit {
        TimeUnit::Nanosecond => TimeUnit::Nanosecond,
        _ => TimeUnit::Microsecond,
    }
}

/// `field` with its timestamps as instants (see [`instant_type`]); other fields unchanged.
/// A naive timestamp is taken as UTC: input offsets have been applied by the parser, and
/// a `--timezone` by the reader, before this.
pub fn as_instant(field: &Field) -> Field {
    match field.data_type() {
        DataType::Timestamp(unit, _) => field.clone().with_data_type(instant_type(*unit)),
        _ => field.clone(),
    }
}

/// `schema` with its naive timestamps as local times at `zone` (an IANA name or an
/// offset): of an instant's unit, labelled with the zone, so a cast to it reads a naive
/// value as a local time there; [`instants`] relabels them UTC after, which changes no
/// value.
pub(crate) fn localized(schema: &Schema, zone: &str) -> SchemaRef {
    map_fields(schema, |f| match f.data_type() {
        DataType::Timestamp(unit, None) => f
            .clone()
            .with_data_type(DataType::Timestamp(instant_unit(*unit), Some(zone.into()))),
        _ => f.clone(),
    })
}

/// `schema` with `f` applied to every field, its metadata kept.
pub(crate) fn map_fields(schema: &Schema, f: impl Fn(&Field) -> Field) -> SchemaRef {
    Arc::new(Schema::new_with_metadata(
        schema.fields().iter().map(|x| f(x)).collect::<Vec<_>>(),
        schema.metadata().clone(),
    ))
}

/// `schema` with every timestamp column an instant.
pub fn instants(schema: &Schema) -> SchemaRef {
    map_fields(schema, as_instant)
}

/// An integer type's signedness and width in bits.
fn int_width(t: &DataType) -> Option<(bool, u8)> {
    t.is_integer()
        .then(|| t.primitive_width())
        .flatten()
        .map(|bytes| (t.is_signed_integer(), 8 * bytes as u8))
}

fn int_type(signed: bool, bits: u8) -> DataType {
    match (signed, bits) {
        (true, 8) => DataType::Int8,
        (true, 16) => DataType::Int16,
        (true, 32) => DataType::Int32,
        (true, _) => DataType::Int64,
        (false, 8) => DataType::UInt8,
        (false, 16) => DataType::UInt16,
        (false, 32) => DataType::UInt32,
        (false, _) => DataType::UInt64,
    }
}

fn finer(a: TimeUnit, b: TimeUnit) -> TimeUnit {
    let rank = |u: TimeUnit| match u {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 1,
        TimeUnit::Microsecond => 2,
        TimeUnit::Nanosecond => 3,
    };
    if rank(a) >= rank(b) { a } else { b }
}

/// The type that holds every value of both `a` and `b` exactly (or, from integers to
/// floats, as closely as a float can): the safe widenings. `None` when there is none.
pub fn widen(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    if a == b {
        return Some(a.clone());
    }
    match (a, b) {
        (Null, t) | (t, Null) => Some(t.clone()),
        _ if a.is_integer() && b.is_integer() => {
            let ((sa, wa), (sb, wb)) = (int_width(a)?, int_width(b)?);
            match (sa, sb) {
                (true, true) | (false, false) => Some(int_type(sa, wa.max(wb))),
                // A signed type holds an unsigned one only if it is wider.
                _ => {
                    let (unsigned, signed) = if sa { (wb, wa) } else { (wa, wb) };
                    let bits = signed.max(unsigned * 2);
                    (bits <= 64).then(|| int_type(true, bits))
                }
            }
        }
        _ if (a.is_integer() || a.is_floating()) && (b.is_integer() || b.is_floating()) => {
            Some(Float64)
        }
        (Timestamp(ua, _), Timestamp(ub, _)) => Some(instant_type(finer(*ua, *ub))),
        (Timestamp(u, _), Date32 | Date64) | (Date32 | Date64, Timestamp(u, _)) => {
            Some(instant_type(*u))
        }
        (Date32, Date64) | (Date64, Date32) => Some(Date64),
        _ if a.is_string() && b.is_string() => Some(Utf8),
        _ => None,
    }
}

/// The type a column reads as when versions stored it as `a` and `b`: a safe widening, or
/// else text if both have a text form. `None` only for types with no text form (nested
/// types of different shapes).
pub fn read_type(a: &DataType, b: &DataType) -> Option<DataType> {
    widen(a, b).or_else(|| {
        (can_cast_types(a, &DataType::Utf8) && can_cast_types(b, &DataType::Utf8))
            .then_some(DataType::Utf8)
    })
}

/// The type a series column of type `series` takes when a batch brings `batch`: a safe
/// widening; the series' own type when it is text (everything has a text form) or when the
/// batch has text (parsed, value by value, when the batch is conformed); `None` otherwise.
fn append_type(series: &DataType, batch: &DataType) -> Option<DataType> {
    widen(series, batch).or_else(|| {
        // Everything has a text form; text is parsed value by value when conformed.
        ((series.is_string() || batch.is_string()) && can_cast_types(batch, series))
            .then(|| series.clone())
    })
}

/// The schema of a series after appending a batch of `batch` schema to a series of
/// `series` schema (`None` for a new series): series columns in order, widened where the
/// batch needs it, then the batch's new columns. Every column is nullable (a later batch
/// may lack it). `path` names the series in errors.
pub fn append_schema(series: Option<&Schema>, batch: &Schema, path: &str) -> Result<SchemaRef> {
    let batch = instants(batch);
    let Some(series) = series else {
        return Ok(nullable(&batch));
    };
    let mut fields: Vec<Field> = Vec::with_capacity(series.fields().len());
    for field in series.fields() {
        let data_type = match batch.field_with_name(field.name()) {
            Ok(incoming) => append_type(field.data_type(), incoming.data_type()).ok_or_else(|| {
                Error::invalid(
                    path,
                    format!(
                        "column {:?}: the series has {}, this batch has {}, and {} does not fit in {}",
                        field.name(),
                        field.data_type(),
                        incoming.data_type(),
                        incoming.data_type(),
                        field.data_type()
                    ),
                )
            })?,
            Err(_) => field.data_type().clone(),
        };
        fields.push(Field::new(field.name(), data_type, true));
    }
    for field in batch.fields() {
        if series.field_with_name(field.name()).is_err() {
            fields.push(field.as_ref().clone().with_nullable(true));
        }
    }
    Ok(Arc::new(Schema::new(fields)))
}

fn nullable(schema: &Schema) -> SchemaRef {
    map_fields(schema, |f| f.clone().with_nullable(true))
}

/// Fits batches to a target schema: columns reordered, missing ones null, types cast. A
/// value that does not convert is an error naming the column, the types, the value and
/// its row (counted over every batch conformed, from 1).
#[derive(Debug)]
pub struct Conformer {
    target: SchemaRef,
    path: String,
    rows: u64,
}

impl Conformer {
    /// Conforms to `target`; `path` names the input in errors.
    pub fn new(target: SchemaRef, path: impl Into<String>) -> Self {
        Conformer {
            target,
            path: path.into(),
            rows: 0,
        }
    }

    /// The target schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.target
    }

    /// `batch` in the target schema.
    pub fn conform(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let first_row = self.rows;
        self.rows += batch.num_rows() as u64;
        if batch.schema().fields() == self.target.fields() {
            return Ok(batch.clone());
        }
        let columns = self
            .target
            .fields()
            .iter()
            .map(|field| match batch.column_by_name(field.name()) {
                None => Ok(new_null_array(field.data_type(), batch.num_rows())),
                Some(column) => convert(column, field, &self.path, first_row),
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        RecordBatch::try_new(self.target.clone(), columns).map_err(|source| Error::Arrow {
            path: self.path.clone(),
            source,
        })
    }
}

/// `column` as `field`'s type: exact, or an error naming the first value that does not
/// convert. `first_row` is the row number (from 0) of the column's first value.
fn convert(column: &ArrayRef, field: &FieldRef, path: &str, first_row: u64) -> Result<ArrayRef> {
    let to = field.data_type();
    if column.data_type() == to {
        return Ok(column.clone());
    }
    if column.data_type() == &DataType::Null {
        // No values at all (a column of empty or NA cells).
        return Ok(new_null_array(to, column.len()));
    }
    let options = CastOptions {
        safe: true,
        format_options: FormatOptions::default(),
    };
    let cast = cast_with_options(column, to, &options).map_err(|_| {
        Error::invalid(
            path,
            format!(
                "column {:?}: cannot convert {} to {}",
                field.name(),
                column.data_type(),
                to
            ),
        )
    })?;
    // A safe cast makes a value that does not convert null: find the first.
    if cast.null_count() > column.null_count() {
        let bad = (0..column.len())
            .find(|&i| column.is_valid(i) && cast.is_null(i))
            .expect("more nulls after the cast than before");
        let shown = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())
            .map(|f| f.value(bad).to_string())
            .unwrap_or_default();
        return Err(Error::invalid(
            path,
            format!(
                "column {:?}: the series has {}, this batch has {}, and row {} has {shown:?}, which is not a {}",
                field.name(),
                to,
                column.data_type(),
                first_row + bad as u64 + 1,
                to
            ),
        ));
    }
    Ok(cast)
}

/// The schema every version of a series reads as: columns by name in order of first
/// appearance, each of the [`read_type`] of all its versions' types. `schemas` pairs each
/// version number with its schema; `path` names the series in errors.
pub fn merge_versions<'a>(
    path: &str,
    schemas: impl IntoIterator<Item = (u64, &'a Schema)>,
) -> Result<SchemaRef> {
    let mut fields: Vec<Field> = Vec::new();
    for (version, schema) in schemas {
        for field in schema.fields() {
            match fields.iter_mut().find(|f| f.name() == field.name()) {
                Some(existing) => {
                    let merged =
                        read_type(existing.data_type(), field.data_type()).ok_or_else(|| {
                            Error::SchemaMismatch {
                                path: path.to_string(),
                                version,
                                column: field.name().clone(),
                                found: field.data_type().to_string(),
                                expected: existing.data_type().to_string(),
                            }
                        })?;
                    if &merged != existing.data_type() {
                        *existing = existing.clone().with_data_type(merged);
                    }
                }
                None => fields.push(field.as_ref().clone().with_nullable(true)),
            }
        }
    }
    Ok(Arc::new(Schema::new(fields)))
}

#[cfg(test)]
pub(crate) mod tests {
    use arrow::array::{Float64Array, Int64Array, StringArray};

    use super::*;

    /// A schema of nullable columns, for tests.
    pub(crate) fn schema(fields: &[(&str, DataType)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn widenings_are_safe_and_symmetric() {
        use DataType::*;
        let cases = [
            (Int32, Int64, Some(Int64)),
            (UInt8, Int8, Some(Int16)),
            (UInt32, Int64, Some(Int64)),
            (UInt64, Int64, None),
            (Int64, Float64, Some(Float64)),
            (Float32, Float64, Some(Float64)),
            (Null, Float64, Some(Float64)),
            (
                Timestamp(TimeUnit::Second, None),
                Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                Some(Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))),
            ),
            (
                Date32,
                Timestamp(TimeUnit::Millisecond, None),
                Some(Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
            ),
            (Utf8, Float64, None),
            (Boolean, Int64, None),
        ];
        for (a, b, want) in cases {
            assert_eq!(widen(&a, &b), want, "{a} + {b}");
            assert_eq!(widen(&b, &a), want, "{b} + {a}");
        }
        assert_eq!(read_type(&Float64, &Utf8), Some(Utf8));
        assert_eq!(read_type(&Boolean, &Int64), Some(Utf8));
    }

    #[test]
    fn appends_widen_add_and_refuse() {
        let series = schema(&[("t", DataType::Int64), ("temp", DataType::Int64)]);
        let batch = schema(&[("temp", DataType::Float64), ("level", DataType::Utf8)]);
        let merged = append_schema(Some(&series), &batch, "/s").unwrap();
        let names: Vec<_> = merged
            .fields()
            .iter()
            .map(|f| format!("{}:{}", f.name(), f.data_type()))
            .collect();
        assert_eq!(names, ["t:Int64", "temp:Float64", "level:Utf8"]);

        let series = schema(&[("temp", DataType::Float64)]);
        let text = schema(&[("temp", DataType::Boolean)]);
        let err = append_schema(Some(&series), &text, "/s")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "/s: column \"temp\": the series has Float64, this batch has Boolean, and Boolean does not fit in Float64"
        );
    }

    #[test]
    fn a_value_that_does_not_parse_is_named_with_its_row() {
        let target = Arc::new(schema(&[
            ("t", DataType::Int64),
            ("temp", DataType::Float64),
        ]));
        let mut conformer = Conformer::new(target, "day2.csv");
        let first = RecordBatch::try_new(
            Arc::new(schema(&[("temp", DataType::Utf8)])),
            vec![Arc::new(StringArray::from(vec![Some("1.5"), None]))],
        )
        .unwrap();
        let out = conformer.conform(&first).unwrap();
        assert_eq!(out.num_columns(), 2);
        assert_eq!(out.column(0).null_count(), 2);
        let temps = out
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(temps.value(0), 1.5);
        let second = RecordBatch::try_new(
            Arc::new(schema(&[("temp", DataType::Utf8), ("t", DataType::Int64)])),
            vec![
                Arc::new(StringArray::from(vec!["2", "n/a"])),
                Arc::new(Int64Array::from(vec![1, 2])),
            ],
        )
        .unwrap();
        let err = conformer.conform(&second).unwrap_err().to_string();
        assert_eq!(
            err,
            "day2.csv: column \"temp\": the series has Float64, this batch has Utf8, and row 4 has \"n/a\", which is not a Float64"
        );
    }

    #[test]
    fn versions_merge_by_the_read_rules() {
        let v1 = schema(&[("t", DataType::Int64), ("temp", DataType::Float64)]);
        let v2 = schema(&[("temp", DataType::Null)]);
        let v3 = schema(&[("temp", DataType::Utf8), ("extra", DataType::Int32)]);
        let merged = merge_versions("/s", [(1, &v1), (2, &v2), (3, &v3)]).unwrap();
        let names: Vec<_> = merged
            .fields()
            .iter()
            .map(|f| format!("{}:{}", f.name(), f.data_type()))
            .collect();
        assert_eq!(names, ["t:Int64", "temp:Utf8", "extra:Int32"]);
    }
}

//! The types of a JSON lines file's columns, inferred over every line.
//!
//! The rules are arrow-json's (so a file reads as arrow-json reads it), learned faster:
//! an object of scalars and objects (most lines of a logger's export) is learned as it is
//! parsed, into a [`Shape`], with no value built; a line with an array is parsed into a
//! value for arrow-json's own inference, and the two are merged. One rule is pond's: a
//! string column whose every value is a date or a time (the forms CSV inference knows,
//! [`crate::csv_infer`]) is one. A large file is learned in pieces, a core each, merged in
//! file order.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema};
use serde_json::Value;

use crate::csv_infer::Seen;
use crate::error::{Error, Result};

/// What separates the keys of a nested value's path while inferring (a byte no key has).
const PATH_SEPARATOR: char = '\u{0}';

/// An arrow error's message without its kind's prefix.
pub(crate) fn bare(e: &arrow::error::ArrowError) -> String {
    match e {
        arrow::error::ArrowError::JsonError(m) | arrow::error::ArrowError::ParseError(m) => {
            m.clone()
        }
        other => other.to_string(),
    }
}

/// What inference learns of a run of lines: arrow-json's schema of its objects, what the
/// strings at each path (keys joined by [`PATH_SEPARATOR`]) look like, and its counts.
pub(crate) struct Learned {
    pub(crate) schema: Schema,
    pub(crate) strings: HashMap<String, Seen>,
    pub(crate) lines: u64,
    pub(crate) rows: u64,
}

/// Why a run of lines could not be learned.
pub(crate) enum Failure {
    /// Its line `line` (from 1 within the run) is not a JSON object: `detail` says why,
    /// following the line number.
    Line { line: u64, detail: String },
    /// Reading it failed.
    Io(std::io::Error),
    /// Anything else.
    Other(Error),
}

impl Failure {
    /// The error, the run's lines numbered after the `before` lines of the file before it.
    pub(crate) fn at(self, before: u64, shown: &str) -> Error {
        match self {
            Failure::Line { line, detail } => {
                Error::invalid(shown, format!("line {}{detail}", before + line))
            }
            Failure::Io(source) => Error::Io {
                path: shown.to_string(),
                source,
            },
            Failure::Other(e) => e,
        }
    }
}

/// Below this size a file's types are inferred by one thread.
pub(crate) const PIECE_MIN_BYTES: u64 = 8 << 20;

/// Learns the types of the JSON lines file `path` in (at most) `pieces` pieces cut at line
/// ends, a thread each, merged in file order (as one reader from the start learns them).
pub(crate) fn learn_in_pieces(path: &std::path::Path, shown: &str, pieces: u64) -> Result<Learned> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |source| Error::Io {
        path: shown.to_string(),
        source,
    };
    let cuts = line_cuts(path, pieces).map_err(io)?;
    let learned: Vec<std::result::Result<Learned, Failure>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|piece| {
                let (start, end) = (piece[0], piece[1]);
                scope.spawn(move || {
                    let mut file = File::open(path).map_err(Failure::Io)?;
                    file.seek(SeekFrom::Start(start)).map_err(Failure::Io)?;
                    learn(Box::new(BufReader::with_capacity(
                        1 << 20,
                        file.take(end - start),
                    )))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Failure::Other(Error::Fs(tinyfs::Error::internal(
                        "a JSON inference thread panicked",
                    ))))
                })
            })
            .collect()
    });
    let mut merged: Option<Learned> = None;
    let mut before = 0;
    for piece in learned {
        let piece = piece.map_err(|failure| failure.at(before, shown))?;
        before += piece.lines;
        merged = Some(match merged {
            None => piece,
            Some(mut all) => {
                all.schema = Schema::new(merge_fields(all.schema.fields(), piece.schema.fields()));
                for (path, seen) in piece.strings {
                    all.strings.entry(path).or_default().merge(seen);
                }
                all.lines += piece.lines;
                all.rows += piece.rows;
                all
            }
        });
    }
    Ok(merged.unwrap_or(Learned {
        schema: Schema::empty(),
        strings: HashMap::new(),
        lines: 0,
        rows: 0,
    }))
}

/// Where the file `path` is cut into (at most) `pieces` runs of whole lines of about
/// equal size: each cut just after the line end at or following an even share of the
/// bytes; the first is 0 and the last the file's length.
pub(crate) fn line_cuts(path: &std::path::Path, pieces: u64) -> std::io::Result<Vec<u64>> {
    use std::io::{Seek, SeekFrom};
    let len = std::fs::metadata(path)?.len();
    let mut cuts = vec![0u64];
    let mut file = File::open(path)?;
    let mut skipped = Vec::new();
    for k in 1..pieces {
        let at = (len * k / pieces).max(*cuts.last().unwrap_or(&0));
        file.seek(SeekFrom::Start(at))?;
        skipped.clear();
        BufReader::new(&mut file).read_until(b'\n', &mut skipped)?;
        let cut = at + skipped.len() as u64;
        if cut < len && cut > *cuts.last().unwrap_or(&0) {
            cuts.push(cut);
        }
    }
    cuts.push(len);
    Ok(cuts)
}

/// `a`'s fields with `b`'s merged in: a field in both has the type both coerce to, a field
/// only in `b` follows `a`'s.
pub(crate) fn merge_fields(a: &Fields, b: &Fields) -> Vec<Field> {
    let mut out: Vec<Field> = a
        .iter()
        .map(|f| match b.find(f.name()) {
            Some((_, other)) => {
                Field::new(f.name(), coerce(f.data_type(), other.data_type()), true)
            }
            None => f.as_ref().clone(),
        })
        .collect();
    out.extend(
        b.iter()
            .filter(|f| a.find(f.name()).is_none())
            .map(|f| f.as_ref().clone()),
    );
    out
}

/// The type two pieces' types of one field coerce to, by arrow-json's inference rules
/// (integers and decimals are decimals, a scalar and a list of it a list, else text).
pub(crate) fn coerce(a: &DataType, b: &DataType) -> DataType {
    let list = |item: DataType| DataType::List(Arc::new(Field::new_list_field(item, true)));
    match (a, b) {
        _ if a == b => a.clone(),
        (DataType::Null, other) | (other, DataType::Null) => other.clone(),
        (DataType::Int64, DataType::Float64) | (DataType::Float64, DataType::Int64) => {
            DataType::Float64
        }
        (DataType::Struct(x), DataType::Struct(y)) => DataType::Struct(merge_fields(x, y).into()),
        (DataType::List(x), DataType::List(y)) => list(coerce(x.data_type(), y.data_type())),
        (DataType::List(x), other) | (other, DataType::List(x)) => {
            list(coerce(x.data_type(), other))
        }
        _ => DataType::Utf8,
    }
}

/// Learns the lines of `reader`: parsed one at a time for arrow-json's inference, what
/// each string value looks like noted by its path as it passes.
pub(crate) fn learn(reader: Box<dyn BufRead + Send + '_>) -> std::result::Result<Learned, Failure> {
    let mut lines = Lines {
        reader,
        text: String::new(),
        path: String::new(),
        line: 0,
        rows: 0,
        shape: Shape::default(),
        strings: HashMap::new(),
        failure: None,
    };
    let slow = arrow::json::reader::infer_json_schema_from_iterator(&mut lines);
    if let Some(failure) = lines.failure.take() {
        return Err(failure);
    }
    let slow = slow.map_err(|e| Failure::Line {
        line: lines.line,
        detail: format!(": {}", bare(&e)),
    })?;
    let fast = lines.shape.fields();
    let mut strings = lines.strings;
    lines.shape.note_strings(&mut String::new(), &mut strings);
    Ok(Learned {
        schema: Schema::new(merge_fields(&fast.into(), slow.fields())),
        strings,
        lines: lines.line,
        rows: lines.rows,
    })
}

/// What the values at one place of a run of objects have been: arrow-json's inference
/// for objects of scalars and objects, learned as each line is parsed, with no value
/// built. (A line with an array goes to arrow-json's own inference instead.)
#[derive(Debug, Default)]
struct Shape {
    /// The kinds of value seen: [`Shape::BOOLEAN`], ...
    kinds: u8,
    /// What its strings look like (numbers and booleans count as text).
    seen: Seen,
    /// An object's keys, in the order first seen, each with its shape.
    keys: Vec<(String, Shape)>,
}

impl Shape {
    const BOOLEAN: u8 = 1;
    const INTEGER: u8 = 2;
    const FLOAT: u8 = 4;
    const STRING: u8 = 8;
    const OBJECT: u8 = 16;

    /// The shape of key `key` of this object, added if new.
    fn key(&mut self, key: &str) -> &mut Shape {
        let at = match self.keys.iter().position(|(k, _)| k == key) {
            Some(at) => at,
            None => {
                self.keys.push((key.to_string(), Shape::default()));
                self.keys.len() - 1
            }
        };
        &mut self.keys[at].1
    }

    /// The fields of this object, by arrow-json's coercion rules (an object seen as a
    /// scalar too, which arrow-json refuses, is text).
    fn fields(&self) -> Vec<Field> {
        self.keys
            .iter()
            .map(|(key, shape)| Field::new(key, shape.data_type(), true))
            .collect()
    }

    fn data_type(&self) -> DataType {
        match self.kinds {
            0 => DataType::Null,
            Shape::OBJECT => DataType::Struct(self.fields().into()),
            Shape::BOOLEAN => DataType::Boolean,
            Shape::INTEGER => DataType::Int64,
            k if k == Shape::FLOAT || k == Shape::INTEGER | Shape::FLOAT => DataType::Float64,
            _ => DataType::Utf8,
        }
    }

    /// Adds what the strings below `path` look like to `strings`.
    fn note_strings(&self, path: &mut String, strings: &mut HashMap<String, Seen>) {
        let depth = path.len();
        for (key, shape) in &self.keys {
            path.truncate(depth);
            if depth > 0 {
                path.push(PATH_SEPARATOR);
            }
            path.push_str(key);
            if shape.kinds & !Shape::OBJECT != 0 {
                seen_at(strings, path).merge(shape.seen);
            }
            shape.note_strings(path, strings);
        }
        path.truncate(depth);
    }
}

/// Why the fast path left a line to arrow-json's inference.
const HAS_AN_ARRAY: &str = "pond: a line with an array";

/// An object's keys and values into a [`Shape`].
struct ObjectSeed<'a>(&'a mut Shape);

impl<'de> serde::de::DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ObjectSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<(), A::Error> {
        self.0.kinds |= Shape::OBJECT;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let shape = self.0.key(key.as_str());
            map.next_value_seed(ValueSeed(shape))?;
        }
        Ok(())
    }
}

/// One value into a [`Shape`].
struct ValueSeed<'a>(&'a mut Shape);

impl<'de> serde::de::DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        self.0.kinds |= Shape::BOOLEAN;
        self.0.seen.text();
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        self.0.kinds |= Shape::INTEGER;
        self.0.seen.text();
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<(), E> {
        self.0.kinds |= match i64::try_from(v) {
            Ok(_) => Shape::INTEGER,
            Err(_) => Shape::FLOAT,
        };
        self.0.seen.text();
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        self.0.kinds |= Shape::FLOAT;
        self.0.seen.text();
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<(), E> {
        self.0.kinds |= Shape::STRING;
        self.0.seen.update_string(v);
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> std::result::Result<(), A::Error> {
        ObjectSeed(self.0).visit_map(map)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> std::result::Result<(), A::Error> {
        Err(serde::de::Error::custom(HAS_AN_ARRAY))
    }
}

/// An object's key: borrowed from the line unless it has escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }

            fn visit_str<E>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The objects of a run of JSON lines, parsed one line at a time for arrow-json's
/// inference. The first line that is not a JSON object ends it, its failure kept.
struct Lines<'a> {
    reader: Box<dyn BufRead + Send + 'a>,
    text: String,
    /// The path being noted (reused: no allocation per value).
    path: String,
    /// The lines read so far.
    line: u64,
    /// The objects read so far.
    rows: u64,
    /// What the objects without arrays have been.
    shape: Shape,
    /// What the strings at each path have been, in the lines with arrays.
    strings: HashMap<String, Seen>,
    failure: Option<Failure>,
}

impl Iterator for &mut Lines<'_> {
    type Item = std::result::Result<Value, arrow::error::ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.text.clear();
            match self.reader.read_line(&mut self.text) {
                Ok(0) => return None,
                Ok(_) => self.line += 1,
                Err(e) => {
                    self.failure = Some(if e.kind() == std::io::ErrorKind::InvalidData {
                        Failure::Line {
                            line: self.line + 1,
                            detail: ": not UTF-8 text".into(),
                        }
                    } else {
                        Failure::Io(e)
                    });
                    return None;
                }
            }
            let text = self.text.trim();
            if text.is_empty() {
                continue;
            }
            let line = self.line;
            // Most lines are objects of scalars and objects: learned as they are parsed.
            // Any other line (with an array, or not an object, or not JSON) is parsed
            // again into a value, for arrow-json's inference or for the error.
            let mut parser = serde_json::Deserializer::from_str(text);
            if serde::de::DeserializeSeed::deserialize(ObjectSeed(&mut self.shape), &mut parser)
                .and_then(|()| parser.end())
                .is_ok()
            {
                self.rows += 1;
                continue;
            }
            match serde_json::from_str::<Value>(text) {
                Ok(value @ Value::Object(_)) => {
                    self.path.clear();
                    note_strings(&value, &mut self.path, &mut self.strings);
                    self.rows += 1;
                    return Some(Ok(value));
                }
                Ok(other) => {
                    let kind = match other {
                        Value::Array(_) => "an array",
                        Value::String(_) => "a string",
                        Value::Number(_) => "a number",
                        Value::Bool(_) => "a boolean",
                        _ => "null",
                    };
                    self.failure = Some(Failure::Line {
                        line,
                        detail: format!(
                            ": {kind}, not a JSON object (JSON lines hold one object a line)"
                        ),
                    });
                    return None;
                }
                Err(e) => {
                    // serde_json places the error within the line; the message's own
                    // "at line 1 column N" would say line 1.
                    let message = e.to_string();
                    let message = message
                        .rsplit_once(" at line ")
                        .map_or(message.as_str(), |(m, _)| m);
                    let column = e.column() + (self.text.len() - self.text.trim_start().len());
                    self.failure = Some(Failure::Line {
                        line,
                        detail: format!(", column {column}: not JSON: {message}"),
                    });
                    return None;
                }
            }
        }
    }
}

/// Notes what the values of `value` (an object) below `path` look like: each string as
/// a possible time, any other scalar as text (so a column of strings and numbers is no
/// time). `path` is left as it was given.
fn note_strings(value: &Value, path: &mut String, strings: &mut HashMap<String, Seen>) {
    let Value::Object(map) = value else { return };
    let depth = path.len();
    for (key, value) in map {
        path.truncate(depth);
        if depth > 0 {
            path.push(PATH_SEPARATOR);
        }
        path.push_str(key);
        match value {
            Value::Null | Value::Array(_) => {}
            Value::Object(_) => note_strings(value, path, strings),
            Value::String(s) => seen_at(strings, path).update_string(s),
            Value::Bool(_) | Value::Number(_) => seen_at(strings, path).text(),
        }
    }
    path.truncate(depth);
}

/// What `strings` holds for `path`, added if new (the path is copied only then).
fn seen_at<'m>(strings: &'m mut HashMap<String, Seen>, path: &str) -> &'m mut Seen {
    if !strings.contains_key(path) {
        strings.insert(path.to_string(), Seen::default());
    }
    strings.get_mut(path).expect("just inserted")
}

/// `fields` as read: a string column whose every value is a date or a time becomes one
/// (times in `zone`), a column with no value text.
pub(crate) fn typed(
    fields: &Fields,
    path: &str,
    strings: &HashMap<String, Seen>,
    zone: &str,
) -> Vec<Field> {
    fields
        .iter()
        .map(|field| {
            let path = if path.is_empty() {
                field.name().clone()
            } else {
                format!("{path}{PATH_SEPARATOR}{}", field.name())
            };
            let data_type = match field.data_type() {
                DataType::Null => DataType::Utf8,
                DataType::Utf8 => match strings.get(&path).map(|s| s.data_type()) {
                    Some(DataType::Timestamp(unit, _)) => {
                        DataType::Timestamp(unit, Some(zone.into()))
                    }
                    Some(DataType::Date32) => DataType::Date32,
                    _ => DataType::Utf8,
                },
                DataType::Struct(children) => {
                    DataType::Struct(typed(children, &path, strings, zone).into())
                }
                other => other.clone(),
            };
            Field::new(field.name(), data_type, true)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces learn what one reader from the start learns: types that change late, keys
    /// that appear late, and the line of an error in a late piece.
    #[test]
    fn pieces_learn_as_one_reader() {
        let mut text = String::new();
        for i in 0..300 {
            match i {
                150 => text.push_str("{\"v\": 1.5, \"late\": \"2024-01-01\"}\n"),
                200 => text.push_str("{\"v\": \"high\", \"n\": {\"a\": [1]}}\n"),
                _ => text.push_str(&format!(
                    "{{\"v\": {i}, \"t\": \"2024-01-01T00:00:{:02}Z\"}}\n",
                    i % 60
                )),
            }
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("f.jsonl");
        std::fs::write(&path, &text).expect("written");
        let one = learn_in_pieces(&path, "f.jsonl", 1).expect("learned");
        for pieces in [2, 3, 7] {
            let many = learn_in_pieces(&path, "f.jsonl", pieces).expect("learned");
            assert_eq!(many.schema, one.schema, "{pieces} pieces");
            assert_eq!((many.rows, many.lines), (one.rows, one.lines));
            let zone = "UTC";
            assert_eq!(
                typed(many.schema.fields(), "", &many.strings, zone),
                typed(one.schema.fields(), "", &one.strings, zone)
            );
        }
        text.push_str("{\"v\": }\n");
        std::fs::write(&path, &text).expect("written");
        for pieces in [1, 3] {
            let error = learn_in_pieces(&path, "f.jsonl", pieces)
                .err()
                .expect("refused")
                .to_string();
            assert!(
                error.starts_with("f.jsonl: line 301, column 7: not JSON"),
                "{error}"
            );
        }
    }

    /// pond's inference of objects learns the types arrow-json's inference does; lines
    /// with arrays go to arrow-json's and are merged in.

    #[test]
    fn the_fast_path_infers_as_arrow_json() {
        let cases = [
            vec![
                r#"{"a": 1, "b": "x", "c": true}"#,
                r#"{"a": 2.5, "c": null, "d": {"e": 1}}"#,
            ],
            vec![
                r#"{"a": "1", "b": 9223372036854775808}"#,
                r#"{"a": 1, "z\"q": {"y": {"x": false}}}"#,
            ],
            vec![
                r#"{"n": null}"#,
                r#"{"n": null, "o": {"p": null}}"#,
                r#"{"o": {"p": 3}}"#,
            ],
            vec![
                r#"{"a": 1, "l": [1, 2]}"#,
                r#"{"a": 2.0, "l": 3}"#,
                r#"{"l": [2.5], "s": [{"k": "v"}]}"#,
            ],
            vec![
                r#"{"t": "2024-01-01T00:00:00Z", "d": {"u": "2024-01-01"}}"#,
                r#"{"t": "2024-01-02 10:00:00"}"#,
            ],
        ];
        let sorted = |schema: &Schema| {
            let mut fields: Vec<String> = schema
                .fields()
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.data_type()))
                .collect();
            fields.sort();
            fields
        };
        for lines in cases {
            let text = lines.join("\n");
            let values = lines
                .iter()
                .map(|l| Ok(serde_json::from_str::<Value>(l).expect("JSON")));
            let arrow = arrow::json::reader::infer_json_schema_from_iterator(values)
                .expect("arrow-json infers it");
            let ours = learn(Box::new(text.as_bytes())).ok().expect("learned");
            assert_eq!(sorted(&ours.schema), sorted(&arrow), "{text}");
            if !text.contains('[') {
                assert_eq!(ours.schema, arrow, "in the same order: {text}");
            }
            assert_eq!(ours.rows, lines.len() as u64);
        }
    }
}

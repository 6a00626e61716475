//! JSON lines read as a table: one object a line, blank lines skipped.
//!
//! Types are inferred over every line by [`crate::json_infer`] (arrow-json's rules, and
//! CSV's dates and times in strings), so a line that is not a JSON object is named with
//! its line and column before anything is read. Nested objects become `a.b` columns
//! ([`Nested::Flatten`], the default) or struct columns ([`Nested::Struct`]). The rows are
//! decoded by arrow-json, streaming, in batches of 64 Ki rows; a value it cannot decode is
//! named with its line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::json::ReaderBuilder;

use crate::conform::UTC;
use crate::csv::{arrow_error, check_timezone};
use crate::error::{Error, Result};
use crate::formats::{Decompressing, Nested, Plain, ReadOptions};
use crate::in_order::{ChunkFailure, ChunkReader, InOrder};
use crate::json_infer::{PIECE_MIN_BYTES, bare, learn, learn_in_pieces, line_cuts, typed};

/// Rows per batch.
const BATCH_ROWS: usize = 64 * 1024;

/// The size of the chunks decoded in parallel.
const CHUNK_BYTES: u64 = 4 << 20;

/// A JSON lines file opened for reading: its schema inferred over every line.
#[derive(Clone)]
pub(crate) struct JsonFile {
    plain: Plain,
    shown: String,
    /// What arrow-json decodes: nested as in the file, times as timestamps.
    read: SchemaRef,
    /// The table: `read`, flattened with [`Nested::Flatten`].
    schema: SchemaRef,
    flatten: bool,
    rows: u64,
}

impl JsonFile {
    /// Opens the plain host file `plain` (whose text `text` is, while it is being
    /// decompressed into it); `shown` names it in errors. Blocking.
    pub(crate) fn open(
        plain: Plain,
        mut text: Option<Decompressing>,
        shown: &str,
        options: &ReadOptions,
    ) -> Result<JsonFile> {
        let opened = JsonFile::infer(plain, text.as_mut(), shown, options);
        // The decompression's error (a truncated file) explains any met reading its text.
        if let Some(text) = text {
            text.finish()?;
        }
        opened
    }

    fn infer(
        plain: Plain,
        text: Option<&mut Decompressing>,
        shown: &str,
        options: &ReadOptions,
    ) -> Result<JsonFile> {
        let zone = match &options.timezone {
            Some(zone) => check_timezone(zone).map_err(|e| Error::invalid(shown, e))?,
            None => UTC.to_string(),
        };
        let learned = match text {
            // The text as it is decompressed: read in order (decompression has a core).
            Some(text) => learn(Box::new(BufReader::with_capacity(1 << 20, text)))
                .map_err(|failure| failure.at(0, shown))?,
            None => {
                let len = std::fs::metadata(&plain.path)
                    .map_err(|source| Error::Io {
                        path: shown.to_string(),
                        source,
                    })?
                    .len();
                let pieces = match len < PIECE_MIN_BYTES {
                    true => 1,
                    false => std::thread::available_parallelism().map_or(1, |n| n.get()),
                };
                learn_in_pieces(&plain.path, shown, pieces as u64)?
            }
        };
        let inferred = learned.schema;
        if inferred.fields().is_empty() {
            return Err(Error::invalid(
                shown,
                "no columns: the file has no JSON objects with keys",
            ));
        }
        let read = Arc::new(Schema::new(typed(
            inferred.fields(),
            "",
            &learned.strings,
            &zone,
        )));
        let flatten = options.nested == Nested::Flatten;
        let schema = if flatten {
            let flat = read
                .as_ref()
                .clone()
                .normalize(".", None)
                .map_err(|e| arrow_error(shown, e))?;
            let mut names = std::collections::HashSet::new();
            if let Some(twice) = flat.fields().iter().find(|f| !names.insert(f.name())) {
                return Err(Error::invalid(
                    shown,
                    format!(
                        "the column {:?} is both a key and a nested key's path; read it with nested: struct",
                        twice.name()
                    ),
                ));
            }
            Arc::new(flat)
        } else {
            read.clone()
        };
        Ok(JsonFile {
            plain,
            shown: shown.to_string(),
            read,
            schema,
            flatten,
            rows: learned.rows,
        })
    }

    /// The file's schema.
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The file's objects.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// The file's batches in order, from its start: a file of several chunks is decoded
    /// on every core, each chunk (a run of whole lines) by one thread, the batches handed
    /// on in file order.
    pub(crate) fn batches(&self) -> Result<JsonBatches> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.batches_on(threads, CHUNK_BYTES)
    }

    /// [`Self::batches`] on at most `threads` threads, in chunks of about `chunk_bytes`.
    fn batches_on(&self, threads: usize, chunk_bytes: u64) -> Result<JsonBatches> {
        let io = |source| Error::Io {
            path: self.shown.clone(),
            source,
        };
        let pieces = std::fs::metadata(&self.plain.path).map_err(io)?.len() / chunk_bytes + 1;
        let cuts = line_cuts(&self.plain.path, pieces).map_err(io)?;
        let chunks: Vec<(u64, u64)> = cuts.windows(2).map(|c| (c[0], c[1])).collect();
        let threads = threads.min(chunks.len());
        let file = Arc::new(self.clone());
        if threads < 2 {
            let reader = File::open(&self.plain.path).map_err(io)?;
            let reader = self
                .builder()
                .with_batch_size(BATCH_ROWS)
                .build(BufReader::with_capacity(1 << 20, reader))
                .map_err(|e| arrow_error(&self.shown, e))?;
            return Ok(JsonBatches::Sequential {
                reader: Some(reader),
                file,
            });
        }
        let batches =
            InOrder::start(file.clone(), Arc::new(chunks), threads, "pond-json").map_err(io)?;
        Ok(JsonBatches::Parallel { batches, file })
    }

    /// A batch as decoded, in the file's schema (flattened, with [`Nested::Flatten`]).
    fn shaped(&self, batch: RecordBatch) -> Result<RecordBatch> {
        if !self.flatten {
            return Ok(batch);
        }
        let flat = batch
            .normalize(".", None)
            .map_err(|e| arrow_error(&self.shown, e))?;
        RecordBatch::try_new(self.schema.clone(), flat.columns().to_vec())
            .map_err(|e| arrow_error(&self.shown, e))
    }

    fn builder(&self) -> ReaderBuilder {
        ReaderBuilder::new(self.read.clone()).with_coerce_primitive(true)
    }

    /// arrow-json's error `e` with the line it is on: each line is decoded alone until one
    /// fails (a read that failed costs a second one).
    fn locate(&self, e: arrow::error::ArrowError) -> Error {
        let located = || -> std::io::Result<Option<Error>> {
            let reader = BufReader::new(File::open(&self.plain.path)?);
            for (n, line) in reader.lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let decoded = self.builder().build_decoder().and_then(|mut decoder| {
                    decoder.decode(line.as_bytes())?;
                    decoder.flush().map(|_| ())
                });
                if let Err(e) = decoded {
                    return Ok(Some(Error::invalid(
                        &self.shown,
                        format!("line {}: {}", n + 1, bare(&e)),
                    )));
                }
            }
            Ok(None)
        };
        match located() {
            Ok(Some(error)) => error,
            _ => arrow_error(&self.shown, e),
        }
    }
}

impl ChunkReader for JsonFile {
    type Chunk = (u64, u64);

    fn read(
        &self,
        &(start, end): &(u64, u64),
        send: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> std::result::Result<(), ChunkFailure> {
        use std::io::{Read, Seek, SeekFrom};
        let io = |source| {
            ChunkFailure::Pond(Error::Io {
                path: self.shown.clone(),
                source,
            })
        };
        let mut file = File::open(&self.plain.path).map_err(io)?;
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        let reader = self
            .builder()
            .with_batch_size(BATCH_ROWS)
            .build(BufReader::with_capacity(1 << 20, file.take(end - start)))
            .map_err(ChunkFailure::Arrow)?;
        for batch in reader {
            let batch = self
                .shaped(batch.map_err(ChunkFailure::Arrow)?)
                .map_err(ChunkFailure::Pond)?;
            if !send(batch) {
                break;
            }
        }
        Ok(())
    }
}

/// The batches of a JSON lines file, in its schema.
pub(crate) enum JsonBatches {
    /// One reader from the start; `None` after an error.
    Sequential {
        reader: Option<arrow::json::Reader<BufReader<File>>>,
        file: Arc<JsonFile>,
    },
    /// A thread per core, each decoding every so many chunks.
    Parallel {
        batches: InOrder,
        file: Arc<JsonFile>,
    },
}

impl Iterator for JsonBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            JsonBatches::Sequential { reader, file } => match reader.as_mut()?.next()? {
                Ok(batch) => Some(file.shaped(batch)),
                Err(e) => {
                    *reader = None;
                    Some(Err(file.locate(e)))
                }
            },
            JsonBatches::Parallel { batches, file } => {
                batches.next_batch(&file.shown, |e| file.locate(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::DataType;

    fn open(text: &str, options: &ReadOptions) -> Result<(JsonFile, tempfile::TempDir)> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("f.jsonl");
        std::fs::write(&path, text).expect("written");
        Ok((
            JsonFile::open(Plain::file(&path), None, "f.jsonl", options)?,
            dir,
        ))
    }

    fn rows(file: &JsonFile) -> String {
        let batches: Vec<RecordBatch> = file
            .batches()
            .expect("read")
            .collect::<Result<_>>()
            .expect("batches");
        arrow::util::pretty::pretty_format_batches(&batches)
            .expect("printable")
            .to_string()
    }

    #[test]
    fn types_times_and_nesting() {
        let text = concat!(
            r#"{"time": "2024-03-31T00:30:00", "site": {"id": "007", "depth": 2}, "temp": 4, "ok": true}"#,
            "\n\n",
            r#"{"time": "2024-03-31T01:30:00Z", "site": {"id": "008"}, "temp": 4.5, "note": "x", "day": "2024-03-31"}"#,
            "\n",
        );
        let options = ReadOptions {
            timezone: Some("Europe/Oslo".into()),
            ..ReadOptions::default()
        };
        let (file, _dir) = open(text, &options).expect("opened");
        let types: Vec<String> = file
            .schema()
            .fields()
            .iter()
            .map(|f| format!("{}:{}", f.name(), f.data_type()))
            .collect();
        assert_eq!(
            types,
            [
                "time:Timestamp(s, \"Europe/Oslo\")",
                "site.id:Utf8",
                "site.depth:Int64",
                "temp:Float64",
                "ok:Boolean",
                "note:Utf8",
                "day:Date32",
            ]
        );
        assert_eq!(file.rows(), 2);
        let printed = rows(&file);
        // 00:30 in Oslo (UTC+1 before the change) is 23:30Z; an offset in the text wins.
        assert!(printed.contains("2024-03-31T00:30:00+01:00"), "{printed}");
        assert!(printed.contains("2024-03-31T03:30:00+02:00"), "{printed}");
        assert!(
            printed.contains("| 007 "),
            "codes keep their zeros: {printed}"
        );

        let nested = ReadOptions {
            nested: Nested::Struct,
            ..ReadOptions::default()
        };
        let (file, _dir) = open(text, &nested).expect("opened");
        let site = file
            .schema()
            .field_with_name("site")
            .expect("a site column");
        assert!(matches!(site.data_type(), DataType::Struct(f) if f.len() == 2));
    }

    #[test]
    fn bad_lines_are_named() {
        let cases = [
            ("{\"a\": 1}\n{\"a\": 2,}\n", "line 2, column 9: not JSON"),
            (
                "{\"a\": 1}\n\n[1, 2]\n",
                "line 3: an array, not a JSON object",
            ),
            ("", "no columns"),
            (
                "{\"a\": {\"b\": 1}, \"a.b\": 2}\n",
                "\"a.b\" is both a key and a nested key's path",
            ),
        ];
        for (text, expected) in cases {
            let error = open(text, &ReadOptions::default())
                .err()
                .expect("refused")
                .to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(error.starts_with("f.jsonl: "), "{error}");
        }
    }

    /// Chunks decoded on three threads read as one reader from the start: the same rows
    /// in the same order, and the same error (with its line) for a value that does not
    /// decode in a late chunk.
    #[test]
    fn chunks_decode_as_the_whole_file() {
        let mut text = String::new();
        for i in 0..2000 {
            text.push_str(&format!(
                "{{\"t\": \"2024-01-01T00:{:02}:{:02}Z\", \"v\": {i}, \"s\": {{\"x\": \"n{i}\"}}}}\n",
                i / 60 % 60,
                i % 60
            ));
        }
        let (file, _dir) = open(&text, &ReadOptions::default()).expect("opened");
        let all = |threads, chunk_bytes| -> Result<Vec<RecordBatch>> {
            file.batches_on(threads, chunk_bytes)?.collect()
        };
        let whole = all(1, u64::MAX).expect("read whole");
        assert!(matches!(
            file.batches_on(3, 1000),
            Ok(JsonBatches::Parallel { .. })
        ));
        let printed = |b: &[RecordBatch]| {
            arrow::util::pretty::pretty_format_batches(b)
                .expect("printable")
                .to_string()
        };
        for chunk_bytes in [1, 1000, 50_000] {
            let chunked = all(3, chunk_bytes).expect("read in chunks");
            assert_eq!(
                printed(&chunked),
                printed(&whole),
                "chunks of {chunk_bytes}"
            );
        }
        // A string where the inferred number is (given after inference, as a later
        // version of the file would be read with an earlier schema).
        let mut bad = text.clone();
        bad.push_str("{\"t\": \"2024-01-01T00:00:00Z\", \"v\": \"many\", \"s\": {}}\n");
        std::fs::write(&file.plain.path, &bad).expect("rewritten");
        let whole = all(1, u64::MAX).expect_err("refused whole").to_string();
        let chunked = all(3, 1000).expect_err("refused in chunks").to_string();
        assert_eq!(chunked, whole);
        assert!(whole.starts_with("f.jsonl: line 2001: "), "{whole}");
    }

    #[test]
    fn mixed_values_are_text() {
        let text = "{\"v\": 1}\n{\"v\": \"high\"}\n{\"v\": \"2024-01-01\"}\n";
        let (file, _dir) = open(text, &ReadOptions::default()).expect("opened");
        assert_eq!(file.schema().field(0).data_type(), &DataType::Utf8);
        let printed = rows(&file);
        assert!(printed.contains("| high "), "{printed}");
        assert!(printed.contains("| 1 "), "{printed}");
    }
}

//! The oplog: one row per node version, its Arrow schema, and row ⇄ batch conversion.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `part_id` | string, partition | the partition: a directory's own id for its rows; the holding directory's id for a file's or symlink's rows |
//! | `node_id` | string | the node (32 hex digits) |
//! | `version` | long | the node's version: a file's version number; a directory's or symlink's change counter |
//! | `entry_type` | string | `directory`, `symlink`, `file:data`, `file:table`, `file:series` |
//! | `factory` | string, null | the factory of a dynamic node; null for stored nodes |
//! | `content` | binary, null | a file body stored inline; a directory's entries (JSON, see [`crate::dir_content`]); a symlink's target; null when the body is in `content/` |
//! | `blake3` | string, null | a file body's BLAKE3 (64 hex digits) |
//! | `size` | long, null | a file body's length in bytes |
//! | `min_event_time` / `max_event_time` | timestamp µs UTC, null | a series version's event-time range |
//! | `timestamp_column` | string, null | a series version's timestamp column |
//! | `members` | string, null | for a series version that resets the series (an undo, a compaction), the versions that make it up from then on, as ranges (`1-4,6`); null for a plain append |
//! | `rows` | long, null | a table or series version's rows, as its writer declared them |
//! | `compacts` | string, null | for a series version that compacts others, the versions whose rows it holds, as ranges |
//! | `manifest` | string, null | for a series version that names its members, their records (JSON, see [`crate::manifest`]) |
//! | `origin_size` / `origin_blake3` | long / string, null | the host file a version was made from by a sync: its length and BLAKE3 when read |
//! | `txn_id` | string | the UUIDv7 of the transaction that wrote the row |
//! | `written_at` | timestamp µs UTC | when the transaction wrote it |

use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use tinyfs::{EntryType, EventTime, NodeId, Origin, VersionSet};

use crate::error::{Error, Result};

/// The partition column.
pub const PART_ID: &str = "part_id";

/// One row of the oplog, without its partition (which the file's location gives).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OplogRow {
    /// The node.
    pub node_id: NodeId,
    /// The node's version.
    pub version: i64,
    /// What the node is.
    pub entry_type: EntryType,
    /// The factory of a dynamic node.
    pub factory: Option<String>,
    /// The inline content; `None` when a file body is in `content/`.
    pub content: Option<Vec<u8>>,
    /// A file body's BLAKE3.
    pub blake3: Option<blake3::Hash>,
    /// A file body's length.
    pub size: Option<i64>,
    /// A series version's event-time range.
    pub event_time: Option<EventTime>,
    /// The versions that make up a series from this version on, if it resets them.
    pub members: Option<VersionSet>,
    /// A table or series version's rows.
    pub rows: Option<i64>,
    /// The versions a compacted series version holds the rows of.
    pub compacts: Option<VersionSet>,
    /// For a version that names the series' members, their records (JSON).
    pub manifest: Option<String>,
    /// The host file the version was made from.
    pub origin: Option<Origin>,
    /// The writing transaction.
    pub txn_id: String,
    /// When it was written, µs since the epoch.
    pub written_at: i64,
}

impl OplogRow {
    /// A row that holds no file body: a directory's entries, a symlink's target, or a
    /// dynamic node's configuration (`content`), written by `txn_id` at `written_at`.
    pub fn without_body(
        node_id: NodeId,
        version: i64,
        entry_type: EntryType,
        content: Vec<u8>,
        txn_id: &str,
        written_at: i64,
    ) -> OplogRow {
        OplogRow {
            node_id,
            version,
            entry_type,
            factory: None,
            content: Some(content),
            blake3: None,
            size: None,
            event_time: None,
            members: None,
            rows: None,
            compacts: None,
            manifest: None,
            origin: None,
            txn_id: txn_id.to_string(),
            written_at,
        }
    }
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The schema of the data files (every column but the partition column).
pub fn file_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("node_id", DataType::Utf8, false),
            Field::new("version", DataType::Int64, false),
            Field::new("entry_type", DataType::Utf8, false),
            Field::new("factory", DataType::Utf8, true),
            Field::new("content", DataType::Binary, true),
            Field::new("blake3", DataType::Utf8, true),
            Field::new("size", DataType::Int64, true),
            Field::new("min_event_time", utc_micros(), true),
            Field::new("max_event_time", utc_micros(), true),
            Field::new("timestamp_column", DataType::Utf8, true),
            Field::new("members", DataType::Utf8, true),
            Field::new("rows", DataType::Int64, true),
            Field::new("compacts", DataType::Utf8, true),
            Field::new("manifest", DataType::Utf8, true),
            Field::new("origin_size", DataType::Int64, true),
            Field::new("origin_blake3", DataType::Utf8, true),
            Field::new("txn_id", DataType::Utf8, false),
            Field::new("written_at", utc_micros(), false),
        ]))
    });
    SCHEMA.clone()
}

/// The table schema: the partition column, then the file schema.
pub fn table_schema() -> SchemaRef {
    let mut fields = vec![Arc::new(Field::new(PART_ID, DataType::Utf8, false))];
    fields.extend(file_schema().fields().iter().cloned());
    Arc::new(Schema::new(fields))
}

/// Rows to one batch of [`file_schema`].
pub fn to_batch(rows: &[OplogRow]) -> Result<RecordBatch> {
    let strings = |f: &dyn Fn(&OplogRow) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let longs = |f: &dyn Fn(&OplogRow) -> Option<i64>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Int64Array>())
    };
    let times = |f: &dyn Fn(&OplogRow) -> Option<i64>| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(f)
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        strings(&|r| Some(r.node_id.to_string())),
        longs(&|r| Some(r.version)),
        strings(&|r| Some(r.entry_type.to_string())),
        strings(&|r| r.factory.clone()),
        Arc::new(
            rows.iter()
                .map(|r| r.content.as_deref())
                .collect::<BinaryArray>(),
        ),
        strings(&|r| r.blake3.map(|h| h.to_hex().to_string())),
        longs(&|r| r.size),
        times(&|r| r.event_time.as_ref().map(|e| e.min_micros)),
        times(&|r| r.event_time.as_ref().map(|e| e.max_micros)),
        strings(&|r| r.event_time.as_ref().map(|e| e.column.clone())),
        strings(&|r| r.members.as_ref().map(|m| m.to_string())),
        longs(&|r| r.rows),
        strings(&|r| r.compacts.as_ref().map(|m| m.to_string())),
        strings(&|r| r.manifest.clone()),
        longs(&|r| r.origin.map(|o| o.size as i64)),
        strings(&|r| r.origin.map(|o| o.blake3.to_hex().to_string())),
        strings(&|r| Some(r.txn_id.clone())),
        times(&|r| Some(r.written_at)),
    ];
    RecordBatch::try_new(file_schema(), columns)
        .map_err(|e| Error::internal(format!("building an oplog batch: {e}")))
}

/// A batch read from a data file back to rows. `file` names the file in errors.
pub fn from_batch(batch: &RecordBatch, file: &str) -> Result<Vec<OplogRow>> {
    let corrupt = |what: &str| Error::Corrupt {
        file: file.to_string(),
        detail: what.to_string(),
    };
    fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Option<&'a T> {
        batch.column_by_name(name)?.as_any().downcast_ref::<T>()
    }
    let node_id = col::<StringArray>(batch, "node_id").ok_or_else(|| corrupt("no node_id"))?;
    let version = col::<Int64Array>(batch, "version").ok_or_else(|| corrupt("no version"))?;
    let entry_type =
        col::<StringArray>(batch, "entry_type").ok_or_else(|| corrupt("no entry_type"))?;
    let factory = col::<StringArray>(batch, "factory").ok_or_else(|| corrupt("no factory"))?;
    let content = col::<BinaryArray>(batch, "content").ok_or_else(|| corrupt("no content"))?;
    let hash = col::<StringArray>(batch, "blake3").ok_or_else(|| corrupt("no blake3"))?;
    let size = col::<Int64Array>(batch, "size").ok_or_else(|| corrupt("no size"))?;
    let min_t = col::<TimestampMicrosecondArray>(batch, "min_event_time")
        .ok_or_else(|| corrupt("no min_event_time"))?;
    let max_t = col::<TimestampMicrosecondArray>(batch, "max_event_time")
        .ok_or_else(|| corrupt("no max_event_time"))?;
    let ts_col = col::<StringArray>(batch, "timestamp_column")
        .ok_or_else(|| corrupt("no timestamp_column"))?;
    // Absent from logs written before series could be reset: every version appended.
    let members = col::<StringArray>(batch, "members");
    // Absent from logs written before row counts were recorded.
    let row_counts = col::<Int64Array>(batch, "rows");
    let compacted = col::<StringArray>(batch, "compacts");
    let manifests = col::<StringArray>(batch, "manifest");
    // Absent from logs written before syncs recorded where a version came from.
    let origin_size = col::<Int64Array>(batch, "origin_size");
    let origin_hash = col::<StringArray>(batch, "origin_blake3");
    let txn = col::<StringArray>(batch, "txn_id").ok_or_else(|| corrupt("no txn_id"))?;
    let written = col::<TimestampMicrosecondArray>(batch, "written_at")
        .ok_or_else(|| corrupt("no written_at"))?;
    let opt_str = |a: &StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_string());
    let mut rows = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let event_time = match (min_t.is_null(i), max_t.is_null(i), opt_str(ts_col, i)) {
            (false, false, Some(column)) => Some(EventTime {
                column,
                min_micros: min_t.value(i),
                max_micros: max_t.value(i),
            }),
            _ => None,
        };
        let blake3 = match opt_str(hash, i) {
            Some(hex) => Some(
                blake3::Hash::from_hex(&hex)
                    .map_err(|e| corrupt(&format!("blake3 {hex:?}: {e}")))?,
            ),
            None => None,
        };
        let members = match members.and_then(|m| opt_str(m, i)) {
            Some(text) => Some(
                text.parse::<VersionSet>()
                    .map_err(|e| corrupt(&format!("members: {e}")))?,
            ),
            None => None,
        };
        rows.push(OplogRow {
            node_id: node_id
                .value(i)
                .parse()
                .map_err(|e| corrupt(&format!("{e}")))?,
            version: version.value(i),
            entry_type: entry_type
                .value(i)
                .parse()
                .map_err(|e| corrupt(&format!("{e}")))?,
            factory: opt_str(factory, i),
            content: (!content.is_null(i)).then(|| content.value(i).to_vec()),
            blake3,
            size: (!size.is_null(i)).then(|| size.value(i)),
            event_time,
            members,
            rows: row_counts.and_then(|r| (!r.is_null(i)).then(|| r.value(i))),
            compacts: match compacted.and_then(|c| opt_str(c, i)) {
                Some(text) => Some(
                    text.parse::<VersionSet>()
                        .map_err(|e| corrupt(&format!("compacts: {e}")))?,
                ),
                None => None,
            },
            manifest: manifests.and_then(|m| opt_str(m, i)),
            origin: match (
                origin_size.and_then(|s| (!s.is_null(i)).then(|| s.value(i))),
                origin_hash.and_then(|h| opt_str(h, i)),
            ) {
                (Some(size), Some(hex)) => Some(Origin {
                    size: size as u64,
                    blake3: blake3::Hash::from_hex(&hex)
                        .map_err(|e| corrupt(&format!("origin_blake3 {hex:?}: {e}")))?,
                }),
                _ => None,
            },
            txn_id: txn.value(i).to_string(),
            written_at: written.value(i),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_a_batch() {
        let rows = vec![
            OplogRow {
                node_id: NodeId::generate(),
                version: 3,
                entry_type: EntryType::FileSeries,
                factory: None,
                content: None,
                blake3: Some(blake3::hash(b"x")),
                size: Some(1 << 40),
                event_time: Some(EventTime {
                    column: "t".into(),
                    min_micros: -5,
                    max_micros: 7,
                }),
                members: Some("1-4,6".parse().unwrap()),
                rows: Some(24),
                compacts: Some("1-3".parse().unwrap()),
                manifest: Some("{\"members\":[]}".into()),
                origin: Some(Origin {
                    size: 1 << 33,
                    blake3: blake3::hash(b"host"),
                }),
                txn_id: "txn".into(),
                written_at: 42,
            },
            OplogRow {
                factory: Some("hostmount".into()),
                ..OplogRow::without_body(
                    NodeId::ROOT,
                    1,
                    EntryType::Directory,
                    b"{}".to_vec(),
                    "txn",
                    42,
                )
            },
        ];
        let batch = to_batch(&rows).unwrap();
        assert_eq!(from_batch(&batch, "f").unwrap(), rows);
    }
}

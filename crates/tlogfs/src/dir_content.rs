//! How a directory's entries are stored in the `content` column of its rows.
//!
//! Each row of a directory holds JSON, either a *snapshot* (every entry) or a *delta* (the
//! entries set and the names removed since the previous version):
//!
//! ```json
//! {"snapshot":true,"set":[{"name":"a.csv","id":"0190…","type":"file:data"}],"remove":[]}
//! ```
//!
//! An entry for a dynamic node adds `"factory":"<name>"`.
//!
//! A small directory (at most [`SNAPSHOT_ENTRIES`] entries) always writes snapshots, so its
//! state is one row. A large one writes deltas, with a snapshot every
//! [`SNAPSHOT_INTERVAL`] versions, so reading it never replays more than that many rows
//! however long its history. The storage cost is bounded the same way: a change to a large
//! directory writes the change, not the directory.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tinyfs::{DirEntry, EntryType, NodeId};

use crate::error::{Error, Result};

/// Directories with at most this many entries store a full snapshot at every version.
pub const SNAPSHOT_ENTRIES: usize = 64;

/// A larger directory stores a snapshot at every version divisible by this.
pub const SNAPSHOT_INTERVAL: i64 = 16;

#[derive(Serialize, Deserialize)]
struct Stored {
    snapshot: bool,
    set: Vec<StoredEntry>,
    remove: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct StoredEntry {
    name: String,
    id: String,
    #[serde(rename = "type")]
    entry_type: String,
    /// A dynamic node's factory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    factory: Option<String>,
}

/// One version of a directory's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirContent {
    /// Every entry.
    Snapshot(BTreeMap<String, DirEntry>),
    /// Changes since the previous version: `Some` sets an entry, `None` removes it.
    Delta(BTreeMap<String, Option<DirEntry>>),
}

impl DirContent {
    /// What to store for version `version` of a directory whose entries are now `entries`,
    /// having changed `changes` since the previous version.
    pub fn for_version(
        version: i64,
        entries: &BTreeMap<String, DirEntry>,
        changes: &BTreeMap<String, Option<DirEntry>>,
    ) -> DirContent {
        if version <= 1 || entries.len() <= SNAPSHOT_ENTRIES || version % SNAPSHOT_INTERVAL == 0 {
            DirContent::Snapshot(entries.clone())
        } else {
            DirContent::Delta(changes.clone())
        }
    }

    /// Whether this is a snapshot.
    pub fn is_snapshot(&self) -> bool {
        matches!(self, DirContent::Snapshot(_))
    }

    /// The JSON bytes to store.
    pub fn encode(&self) -> Vec<u8> {
        let entry = |e: &DirEntry| StoredEntry {
            name: e.name.clone(),
            id: e.id.to_string(),
            entry_type: e.entry_type.to_string(),
            factory: e.factory.clone(),
        };
        let stored = match self {
            DirContent::Snapshot(entries) => Stored {
                snapshot: true,
                set: entries.values().map(entry).collect(),
                remove: Vec::new(),
            },
            DirContent::Delta(changes) => Stored {
                snapshot: false,
                set: changes.values().flatten().map(entry).collect(),
                remove: changes
                    .iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(k, _)| k.clone())
                    .collect(),
            },
        };
        serde_json::to_vec(&stored).expect("directory content serializes")
    }

    /// Parses stored bytes; `file` names the data file in errors.
    pub fn decode(bytes: &[u8], file: &str) -> Result<DirContent> {
        let corrupt = |detail: String| Error::Corrupt {
            file: file.to_string(),
            detail,
        };
        let stored: Stored = serde_json::from_slice(bytes)
            .map_err(|e| corrupt(format!("directory content: {e}")))?;
        let mut set = BTreeMap::new();
        for e in stored.set {
            let id: NodeId = e.id.parse().map_err(|e| corrupt(format!("{e}")))?;
            let entry_type: EntryType =
                e.entry_type.parse().map_err(|e| corrupt(format!("{e}")))?;
            set.insert(
                e.name.clone(),
                DirEntry {
                    name: e.name,
                    id,
                    entry_type,
                    factory: e.factory,
                },
            );
        }
        if stored.snapshot {
            return Ok(DirContent::Snapshot(set));
        }
        let mut changes: BTreeMap<String, Option<DirEntry>> =
            set.into_iter().map(|(k, v)| (k, Some(v))).collect();
        for name in stored.remove {
            changes.insert(name, None);
        }
        Ok(DirContent::Delta(changes))
    }

    /// Applies this version on top of `entries` (the previous version's).
    pub fn apply(self, entries: &mut BTreeMap<String, DirEntry>) {
        match self {
            DirContent::Snapshot(all) => *entries = all,
            DirContent::Delta(changes) => {
                for (name, change) in changes {
                    match change {
                        Some(entry) => entries.insert(name, entry),
                        None => entries.remove(&name),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> DirEntry {
        DirEntry {
            name: name.into(),
            id: NodeId::generate(),
            entry_type: EntryType::FileData,
            factory: None,
        }
    }

    #[test]
    fn small_directories_store_snapshots_large_ones_deltas() {
        let small: BTreeMap<_, _> = (0..3)
            .map(|i| (format!("f{i}"), entry(&format!("f{i}"))))
            .collect();
        let changes = BTreeMap::from([("f0".to_string(), None)]);
        assert!(DirContent::for_version(7, &small, &changes).is_snapshot());
        let large: BTreeMap<_, _> = (0..100)
            .map(|i| (format!("f{i}"), entry(&format!("f{i}"))))
            .collect();
        assert!(!DirContent::for_version(7, &large, &changes).is_snapshot());
        assert!(DirContent::for_version(SNAPSHOT_INTERVAL * 2, &large, &changes).is_snapshot());
        assert!(DirContent::for_version(1, &large, &changes).is_snapshot());
    }

    #[test]
    fn snapshots_and_deltas_round_trip_and_apply() {
        let a = entry("a");
        let b = entry("b");
        let snap = DirContent::Snapshot(BTreeMap::from([("a".into(), a.clone())]));
        let delta = DirContent::Delta(BTreeMap::from([
            ("a".into(), None),
            ("b".into(), Some(b.clone())),
        ]));
        for c in [&snap, &delta] {
            assert_eq!(&DirContent::decode(&c.encode(), "f").unwrap(), c);
        }
        let mut entries = BTreeMap::new();
        snap.apply(&mut entries);
        delta.apply(&mut entries);
        assert_eq!(entries, BTreeMap::from([("b".into(), b)]));
        assert!(DirContent::decode(b"{", "f").is_err());
    }
}

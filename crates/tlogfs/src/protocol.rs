//! What pond writes into the Delta log beside the oplog rows, as types written and read by
//! the same code: its record in each commit's info ([`PondCommit`], under
//! `commitInfo.pond`), and the keys a transaction read and wrote ([`ConflictKey`]), which
//! decide whether two concurrent commits conflict. Beside them, what pond reads of Delta's
//! own files is typed here too ([`LastCheckpoint`]).
//!
//! ```json
//! {"commitInfo":{"timestamp":…,"operation":"WRITE",…,"pond":{
//!   "txn_id":"0190…","command":["pond","copy","a.csv","/a"],"user":"ana",
//!   "paths":["/a"],"writes":["e:<root>/a","n:<node>"],
//!   "previous":{"version":6,"commit":"<blake3>"},"digest":"<blake3>"}}}
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tinyfs::NodeId;

/// `_delta_log/_last_checkpoint`, which Delta writers keep pointing at the newest
/// checkpoint: the fields pond reads (a writer may add others).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastCheckpoint {
    /// The table version the checkpoint is of.
    pub version: u64,
    /// The actions in the checkpoint.
    pub size: Option<u64>,
    /// The checkpoint file's length.
    pub size_in_bytes: Option<u64>,
    /// The `add` actions in the checkpoint.
    pub num_of_add_files: Option<u64>,
}

impl FromStr for LastCheckpoint {
    type Err = serde_json::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_str(text)
    }
}

/// pond's record in a commit's info: who made the commit and with what command, the paths
/// it changed (for `pond log`), the keys it wrote (for conflict checks), and the hashes
/// that chain it to the commit before (for `verify`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PondCommit {
    /// The transaction's UUIDv7.
    #[serde(default)]
    pub txn_id: String,
    /// The command line, one argument per element.
    #[serde(default)]
    pub command: Vec<String>,
    /// Who ran it.
    #[serde(default)]
    pub user: String,
    /// The paths changed.
    #[serde(default)]
    pub paths: BTreeSet<String>,
    /// The keys written: a concurrent transaction that read or wrote one conflicts.
    #[serde(default)]
    pub writes: BTreeSet<ConflictKey>,
    /// The retention horizon a `maintain --keep-history` commit set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon: Option<u64>,
    /// The hashes of the commit this one was made on top of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
    /// The BLAKE3 of the whole commit file as written with a placeholder here (see
    /// `integrity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// What a commit records of the one before it: its version, and the BLAKE3 (hex) of its
/// commit file and checkpoint where they exist.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    /// The pond version the commit was made on top of.
    pub version: u64,
    /// The BLAKE3 of that version's commit file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The BLAKE3 of that version's checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// A key a transaction reads or writes. Two commits conflict when one wrote a key the
/// other read or wrote, or wrote an entry of a directory the other listed. Written as
/// text: `e:<dir>/<name>`, `l:<dir>`, `n:<node>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum ConflictKey {
    /// Entry `name` of directory `dir`.
    Entry {
        /// The directory.
        dir: NodeId,
        /// The entry's name.
        name: String,
    },
    /// The listing of directory `dir` (a reader of every entry).
    List(NodeId),
    /// The versions of node `node`.
    Node(NodeId),
}

impl ConflictKey {
    /// The key of entry `name` of directory `dir`.
    pub fn entry(dir: NodeId, name: &str) -> Self {
        ConflictKey::Entry {
            dir,
            name: name.to_string(),
        }
    }
}

impl fmt::Display for ConflictKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConflictKey::Entry { dir, name } => write!(f, "e:{dir}/{name}"),
            ConflictKey::List(dir) => write!(f, "l:{dir}"),
            ConflictKey::Node(node) => write!(f, "n:{node}"),
        }
    }
}

/// A text that is not a [`ConflictKey`].
#[derive(Debug, thiserror::Error)]
#[error("not a pond conflict key: {0:?}")]
pub struct BadConflictKey(String);

impl FromStr for ConflictKey {
    type Err = BadConflictKey;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadConflictKey(text.to_string());
        let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
        let id = |s: &str| s.parse::<NodeId>().map_err(|_| bad());
        match kind {
            "e" => {
                let (dir, name) = rest.split_once('/').ok_or_else(bad)?;
                Ok(ConflictKey::entry(id(dir)?, name))
            }
            "l" => Ok(ConflictKey::List(id(rest)?)),
            "n" => Ok(ConflictKey::Node(id(rest)?)),
            _ => Err(bad()),
        }
    }
}

impl From<ConflictKey> for String {
    fn from(key: ConflictKey) -> Self {
        key.to_string()
    }
}

impl TryFrom<String> for ConflictKey {
    type Error = BadConflictKey;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_keys_read_back_as_written() {
        let (a, b) = (NodeId::generate(), NodeId::generate());
        for key in [
            ConflictKey::entry(a, "name/with:odd chars"),
            ConflictKey::List(a),
            ConflictKey::Node(b),
        ] {
            assert_eq!(key.to_string().parse::<ConflictKey>().unwrap(), key);
        }
        for bad in ["", "e:", "x:1", "n:not-an-id", "e:nodir"] {
            assert!(bad.parse::<ConflictKey>().is_err(), "{bad}");
        }
    }

    /// A commit info as pond wrote it before it had these types (keys sorted, as
    /// `serde_json::json!` writes them) reads into them, and writes back the same fields.
    #[test]
    fn an_earlier_commit_info_reads_back() {
        let node = NodeId::generate();
        let text = format!(
            r#"{{"command":["pond","rm","/a"],"digest":"00","paths":["/a"],"previous":{{"commit":"ab","version":3}},"txn_id":"t","user":"u","writes":["n:{node}"]}}"#
        );
        let info: PondCommit = serde_json::from_str(&text).unwrap();
        assert_eq!(info.command, ["pond", "rm", "/a"]);
        assert_eq!(
            info.writes.iter().collect::<Vec<_>>(),
            [&ConflictKey::Node(node)]
        );
        assert_eq!(info.previous.as_ref().unwrap().version, 3);
        assert_eq!(info.previous.as_ref().unwrap().checkpoint, None);
        let again: PondCommit =
            serde_json::from_str(&serde_json::to_string(&info).unwrap()).unwrap();
        assert_eq!(again, info);
    }
}

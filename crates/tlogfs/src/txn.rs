//! A transaction in progress: its pending changes, what it read, and the rows it commits.
//!
//! Changes are kept as intent (entries set and removed per directory, versions per file),
//! not as rows, so a commit that lost a race can be rebuilt on top of the winner's version
//! when the two did not touch the same things.
//!
//! Conflict detection works on the [`ConflictKey`]s recorded in each commit's info: an
//! entry of a directory set or removed, a directory listed, a node written (a file's
//! version, a dynamic node's configuration, a move). A transaction conflicts with a commit
//! that landed after its base if the commit *wrote* a key this transaction read or wrote
//! (a listing reads every entry of its directory).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tinyfs::{DirEntry, EntryType, NodeId, NodeKey, TxnMeta};

use crate::dir_content::DirContent;
use crate::error::Result;
use crate::oplog::OplogRow;
use crate::protocol::ConflictKey;
use crate::view::{VersionRec, View};

/// Pending changes to one directory.
#[derive(Clone, Debug, Default)]
pub struct PendingDir {
    /// Made in this transaction.
    pub new: bool,
    /// Its entries as of now.
    pub entries: BTreeMap<String, DirEntry>,
    /// What changed since the committed version: `None` removed.
    pub changes: BTreeMap<String, Option<DirEntry>>,
}

/// Pending changes to one file or symlink, under its (possibly new) key.
#[derive(Clone, Debug)]
pub struct PendingNode {
    /// The type.
    pub entry_type: EntryType,
    /// Where its committed history is, if anywhere (its own key, or where it moved from).
    pub history: Option<NodeKey>,
    /// Whether its committed history must be copied to this key (it moved partitions).
    pub moved: bool,
    /// New file versions, in order.
    pub versions: Vec<VersionRec>,
    /// A new symlink's target.
    pub target: Option<String>,
}

impl PendingNode {
    /// A node new in this transaction, with nothing written yet.
    pub fn new(entry_type: EntryType) -> Self {
        PendingNode {
            entry_type,
            history: None,
            moved: false,
            versions: Vec::new(),
            target: None,
        }
    }

    /// A committed node whose history is at `history`, changed in this transaction.
    pub fn continuing(entry_type: EntryType, history: NodeKey) -> Self {
        PendingNode {
            history: Some(history),
            ..PendingNode::new(entry_type)
        }
    }
}

/// A node linked into a directory in this transaction: moved there, or put back.
#[derive(Clone, Debug)]
pub struct Linked {
    /// Where, for errors.
    pub path: String,
    /// The directory it is linked into.
    pub dir: NodeId,
    /// The node, under the key it was read at.
    pub node: NodeKey,
    /// Its type.
    pub entry_type: EntryType,
    /// The earlier version it is put back from, when the base holds none of its files.
    pub source: Option<Arc<View>>,
}

/// The transaction in progress.
#[derive(Debug)]
pub struct Txn {
    /// Who and why.
    pub meta: TxnMeta,
    /// Its UUIDv7.
    pub id: String,
    /// A serial, so writers cannot outlive it.
    pub serial: u64,
    /// The committed version it started from.
    pub base: Arc<View>,
    /// Pending directories, by id (a directory is its own partition).
    pub dirs: BTreeMap<NodeId, PendingDir>,
    /// Pending files and symlinks, by key.
    pub nodes: BTreeMap<NodeKey, PendingNode>,
    /// Keys read.
    pub reads: BTreeSet<ConflictKey>,
    /// Keys written.
    pub writes: BTreeSet<ConflictKey>,
    /// The paths changed, for `pond log`.
    pub paths: BTreeSet<String>,
    /// The entries unlinked, with their directories.
    pub unlinked: Vec<(NodeId, DirEntry)>,
    /// The nodes linked into a directory.
    pub linked: Vec<Linked>,
}

impl Txn {
    /// A new transaction on `base`.
    pub fn new(meta: TxnMeta, serial: u64, base: Arc<View>) -> Self {
        Txn {
            meta,
            id: uuid::Uuid::now_v7().to_string(),
            serial,
            base,
            dirs: BTreeMap::new(),
            nodes: BTreeMap::new(),
            reads: BTreeSet::new(),
            writes: BTreeSet::new(),
            paths: BTreeSet::new(),
            unlinked: Vec::new(),
            linked: Vec::new(),
        }
    }

    /// Whether anything changed.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The first key a commit that wrote `theirs` makes this transaction stale on.
    pub fn conflict_with<'a>(
        &self,
        theirs: impl IntoIterator<Item = &'a ConflictKey>,
    ) -> Option<&'a ConflictKey> {
        theirs.into_iter().find(|key| {
            self.reads.contains(key)
                || self.writes.contains(key)
                || matches!(key, ConflictKey::Entry { dir, .. }
                    if self.reads.contains(&ConflictKey::List(*dir)))
        })
    }

    /// The pending state of directory `dir`, loaded from `view` on first use.
    pub fn dir_mut(&mut self, view: &View, dir: NodeId) -> Result<&mut PendingDir> {
        match self.dirs.entry(dir) {
            std::collections::btree_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::btree_map::Entry::Vacant(e) => {
                let committed = view.dir(dir)?;
                Ok(e.insert(PendingDir {
                    new: false,
                    entries: committed.entries.clone(),
                    changes: BTreeMap::new(),
                }))
            }
        }
    }

    /// The rows this transaction commits on top of `head`, grouped by (partition, node).
    /// `head` is the base, or a later version with no conflicting change.
    pub fn rows(
        &self,
        head: &View,
        written_at: i64,
    ) -> Result<BTreeMap<(NodeId, NodeId), Vec<OplogRow>>> {
        let mut out: BTreeMap<(NodeId, NodeId), Vec<OplogRow>> = BTreeMap::new();
        for (&dir, pending) in &self.dirs {
            if pending.changes.is_empty() && !pending.new {
                continue;
            }
            let (version, entries) = if pending.new {
                (1, pending.entries.clone())
            } else {
                let committed = head.dir(dir)?;
                let mut entries = committed.entries.clone();
                DirContent::Delta(pending.changes.clone()).apply(&mut entries);
                (committed.version + 1, entries)
            };
            let content = DirContent::for_version(version, &entries, &pending.changes);
            out.entry((dir, dir))
                .or_default()
                .push(OplogRow::without_body(
                    dir,
                    version,
                    EntryType::Directory,
                    content.encode(),
                    &self.id,
                    written_at,
                ));
        }
        for (key, pending) in &self.nodes {
            let rows = out.entry((key.parent, key.id)).or_default();
            if pending.moved
                && let Some(from) = pending.history
            {
                // A node put back from an earlier version has its history there.
                let view = self
                    .linked
                    .iter()
                    .find(|l| l.node == from)
                    .and_then(|l| l.source.as_deref())
                    .unwrap_or(head);
                if pending.entry_type == EntryType::Symlink {
                    let target = view.symlink(from.parent, from.id)?;
                    rows.push(symlink_row(key.id, target, &self.id, written_at));
                } else {
                    for rec in view.file(from.parent, from.id)?.iter() {
                        rows.push(rec.to_row(key.id));
                    }
                }
            }
            if let Some(target) = &pending.target {
                rows.push(symlink_row(key.id, target.clone(), &self.id, written_at));
            }
            for rec in &pending.versions {
                rows.push(rec.to_row(key.id));
            }
        }
        out.retain(|_, rows| !rows.is_empty());
        Ok(out)
    }
}

fn symlink_row(node: NodeId, target: String, txn_id: &str, written_at: i64) -> OplogRow {
    OplogRow::without_body(
        node,
        1,
        EntryType::Symlink,
        target.into_bytes(),
        txn_id,
        written_at,
    )
}

//! A node's data files are live in the log table exactly while a directory holds it.
//!
//! Unlinking a node (`rm`, or the source of a move to another directory) removes its data
//! files from the table in the same commit — a `remove` with `dataChange` true, since its
//! rows leave the current version — and, for a directory, those of everything under it.
//! The files stay on disk, where earlier pond versions read them, until retention passes
//! them. So the table, its checkpoints and every pond open cost what the pond holds now,
//! not every node it ever held: a pond that makes and removes a scratch directory every
//! hour would otherwise carry all of them in every command.
//!
//! Putting back a node unlinked since (`restore`, `revert`) adds its files again, as they
//! were at the version it is read from; a file put into another directory has its history
//! copied there instead, as any move across directories does. A node is linked at one path
//! at a time: linking one the current version still holds at another path is refused,
//! since unlinking either path would drop the files the other reads.

use std::collections::HashSet;

use tinyfs::{DirEntry, EntryType, NodeId, NodeKey};

use crate::error::Result;
use crate::txn::Txn;
use crate::view::{IndexedFile, View};

/// A (partition, node) key of the log table.
pub(crate) type Key = (NodeId, NodeId);

/// What a commit changes in the live files besides the rows it writes.
#[derive(Debug, Default)]
pub(crate) struct Relinks {
    /// Files of unlinked nodes, to remove (their rows leave the current version).
    pub dropped: Vec<String>,
    /// Files of nodes put back, to add again.
    pub readded: Vec<IndexedFile>,
    /// Keys whose rows this commit must not write: nodes under an unlinked directory.
    pub gone: HashSet<Key>,
    /// Directories unlinked: no rows of their partitions are written.
    pub gone_dirs: HashSet<NodeId>,
}

/// The key of `entry`, held by directory `dir`: a stored directory is its own partition,
/// every other node (files, symlinks, dynamic nodes) lives in its directory's.
fn key_of(dir: NodeId, entry_type: EntryType, factory: Option<&str>, id: NodeId) -> Key {
    if entry_type == EntryType::Directory && factory.is_none() {
        (id, id)
    } else {
        (dir, id)
    }
}

/// Whether `view` holds any file of `key`.
pub(crate) fn is_live(view: &View, key: NodeKey, entry_type: EntryType) -> bool {
    let (part, node) = key_of(key.parent, entry_type, None, key.id);
    !view.node_files(part, node).is_empty()
}

/// The keys of the node `entry` in `dir` and of everything under it, as `view` holds them;
/// nodes in `keep` (and what is under them) are left out.
fn subtree(view: &View, dir: NodeId, entry: &DirEntry, keep: &HashSet<NodeId>) -> Result<Vec<Key>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir, entry.clone())];
    while let Some((dir, entry)) = stack.pop() {
        if keep.contains(&entry.id) {
            continue;
        }
        let key = key_of(dir, entry.entry_type, entry.factory.as_deref(), entry.id);
        out.push(key);
        if key.0 == key.1 && !view.node_files(key.0, key.1).is_empty() {
            for child in view.dir(entry.id)?.entries.values() {
                stack.push((entry.id, child.clone()));
            }
        }
    }
    Ok(out)
}

/// The error for linking at `path` a node `head` holds at another path too.
fn linked_twice(path: &str, what: &str) -> crate::Error {
    tinyfs::Error::invalid_path(
        path,
        format!("{what} is linked at another path now (moved since?); move it back instead"),
    )
    .into()
}

/// What `txn`'s links and unlinks change in the live files of `head`, the version it
/// commits on.
pub(crate) fn relinks(txn: &Txn, head: &View) -> Result<Relinks> {
    let unlinked: HashSet<NodeId> = txn.unlinked.iter().map(|(_, e)| e.id).collect();
    let mut keep: HashSet<NodeId> = txn.linked.iter().map(|l| l.node.id).collect();
    let mut out = Relinks::default();
    let mut readded: HashSet<String> = HashSet::new();
    // Every node the base holds under any key, when a node is put back (a file moved to
    // another directory since has a new key, so its old one tells nothing).
    let live_ids: HashSet<NodeId> = if txn.linked.iter().any(|l| l.source.is_some()) {
        head.files().map(|(_, node, _)| node).collect()
    } else {
        HashSet::new()
    };
    let mut put_back: HashSet<NodeId> = HashSet::new();
    for linked in &txn.linked {
        let Some(source) = &linked.source else {
            // Read at the current version: a move (unlinked in this transaction too), or a
            // node no directory holds (unlinked before pond dropped unlinked files).
            if !unlinked.contains(&linked.node.id) && held(head, linked.node, linked.entry_type)? {
                return Err(linked_twice(&linked.path, "this node"));
            }
            continue;
        };
        let root = DirEntry::new("", linked.node.id, linked.entry_type);
        let copied = linked.entry_type != EntryType::Directory && linked.dir != linked.node.parent;
        let keys = if copied {
            // Put into another directory: its history is copied to the new key.
            vec![(linked.node.parent, linked.node.id)]
        } else {
            subtree(source, linked.node.parent, &root, &HashSet::new())?
        };
        for key in keys {
            let what = if key.1 == linked.node.id {
                "this node"
            } else {
                "a node under it"
            };
            if !put_back.insert(key.1) {
                return Err(linked_twice(&linked.path, what));
            }
            if live_ids.contains(&key.1) {
                if unlinked.contains(&key.1) && !head.node_files(key.0, key.1).is_empty() {
                    // Moved back here in this same transaction: its files stay as they are.
                    keep.insert(key.1);
                    continue;
                }
                return Err(linked_twice(&linked.path, what));
            }
            if !copied {
                for file in source.node_files(key.0, key.1) {
                    if readded.insert(file.path.clone()) {
                        out.readded.push(file.clone());
                    }
                }
            }
        }
    }
    for (dir, entry) in &txn.unlinked {
        for key in subtree(head, *dir, entry, &keep)? {
            out.dropped
                .extend(head.node_files(key.0, key.1).iter().map(|f| f.path.clone()));
            out.gone.insert(key);
            if key.0 == key.1 {
                out.gone_dirs.insert(key.0);
            }
        }
    }
    // A file moved to another directory has its history copied to its new key.
    for (key, pending) in &txn.nodes {
        if let Some(from) = pending.history
            && pending.moved
            && from.parent != key.parent
            && !txn
                .linked
                .iter()
                .any(|l| l.node == from && l.source.is_some())
        {
            out.dropped.extend(
                head.node_files(from.parent, from.id)
                    .iter()
                    .map(|f| f.path.clone()),
            );
        }
    }
    let mut seen = HashSet::new();
    out.dropped.retain(|p| seen.insert(p.clone()));
    Ok(out)
}

/// Whether a directory of `head` holds `node` (read under its key at `head`). A file's own
/// directory is asked; a directory's parent is not known from its key, so a live one counts
/// as held.
fn held(head: &View, node: NodeKey, entry_type: EntryType) -> Result<bool> {
    if !is_live(head, node, entry_type) {
        return Ok(false);
    }
    if entry_type == EntryType::Directory {
        return Ok(true);
    }
    if head.node_files(node.parent, node.parent).is_empty() {
        return Ok(false);
    }
    Ok(head
        .dir(node.parent)?
        .entries
        .values()
        .any(|e| e.id == node.id))
}

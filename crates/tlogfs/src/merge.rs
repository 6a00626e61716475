//! Keeping a node's data files few, so its versions cost a bounded number of reads.
//!
//! Every commit that writes a file node adds one data file with that commit's rows. Left
//! alone, a series appended hourly for a year has 8,760 data files, and listing its
//! versions reads them all. So a commit also merges the node's newest files into the one
//! it writes, like a binary counter: the new file absorbs each preceding file no larger
//! than what it holds so far. Sizes then fall by at least half from each file to the next,
//! so a node of N rows has at most log2(N) + 1 files (14 for 10,000 versions) and each row
//! is rewritten at most log2(N) times. The merged files are removed from the Delta table
//! in the same commit (`remove` with `dataChange` false: their rows are in the new file)
//! and stay on disk, where earlier pond versions read them.
//!
//! A merge keeps the log metadata: the inline body of every file version it rewrites moves
//! into `content/` (written and fsynced before the commit, as any body), so the merged
//! file's rows are a few hundred bytes each. Without that, a series of 10,000 small
//! appended batches carries its 30 MB of bodies in every read of its versions and rewrites
//! them at each merge; with it, a body is inline only until its node's next commit. A
//! dynamic node's configuration and a symlink's target stay in their rows.
//!
//! Directories are not merged: a directory is read back only to its last snapshot (see
//! [`crate::dir_content`]), so a commit that writes a snapshot of one removes its earlier
//! files from the table (they stay on disk for earlier pond versions), and a directory
//! keeps at most one snapshot's worth of files however often it changes.

use std::collections::BTreeMap;

use tinyfs::NodeId;

use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::oplog::OplogRow;
use crate::view::{IndexedFile, View};

/// How many of `files` (a node's data files, oldest first) a new file of `rows` rows
/// absorbs. A file without a recorded count is taken as one row: a guess that can only
/// make a merge early or late, never wrong.
pub(crate) fn files_to_merge(files: &[IndexedFile], rows: u64) -> usize {
    let mut held = rows;
    let mut merged = 0;
    for file in files.iter().rev() {
        let size = file.rows.unwrap_or(1);
        if size > held {
            break;
        }
        held += size;
        merged += 1;
    }
    merged
}

/// `rows`, which a commit writes for node `node` in partition `part` on top of `head`,
/// with the rows of the node's files it absorbs before them (one row per version, the
/// later where two files hold the same version, inline file bodies moved to `content`),
/// the paths of those files, and the bodies moved out of rows (hash and bytes), which must
/// be stored before the rows are committed.
pub(crate) fn with_merged(
    head: &View,
    part: NodeId,
    node: NodeId,
    rows: Vec<OplogRow>,
) -> Result<Merged> {
    if part == node {
        // A directory.
        return Ok((rows, Vec::new(), Vec::new()));
    }
    let files = head.node_files(part, node);
    let n = files_to_merge(files, rows.len() as u64);
    if n == 0 {
        return Ok((rows, Vec::new(), Vec::new()));
    }
    let absorbed = &files[files.len() - n..];
    let mut by_version: BTreeMap<i64, OplogRow> = BTreeMap::new();
    for file in absorbed {
        for row in head.rows(file)?.iter() {
            by_version.insert(row.version, row.clone());
        }
    }
    // Only this commit's rows can name members whose bodies this merge moves.
    let written: std::collections::HashSet<i64> = rows.iter().map(|r| r.version).collect();
    for row in rows {
        by_version.insert(row.version, row);
    }
    let mut merged = Vec::with_capacity(by_version.len());
    let mut bodies = Vec::new();
    for mut row in by_version.into_values() {
        if row.entry_type.is_file() && row.factory.is_none() {
            bodies.extend(externalize(&mut row)?);
        }
        merged.push(row);
    }
    // A manifest written in this commit may name members whose bodies were inline until
    // this merge moved them: it says where they are now.
    let moved: std::collections::HashSet<u64> = merged
        .iter()
        .filter(|r| r.content.is_none() && r.blake3.is_some())
        .map(|r| r.version as u64)
        .collect();
    for row in merged
        .iter_mut()
        .filter(|r| r.manifest.is_some() && written.contains(&r.version))
    {
        let text = row.manifest.as_deref().unwrap_or_default();
        let Ok(mut manifest) = Manifest::decode(text) else {
            continue;
        };
        let mut changed = false;
        for member in manifest
            .members
            .iter_mut()
            .filter(|m| m.inline && moved.contains(&m.version))
        {
            member.inline = false;
            changed = true;
        }
        if changed {
            row.manifest = Some(manifest.encode());
        }
    }
    Ok((
        merged,
        absorbed.iter().map(|f| f.path.clone()).collect(),
        bodies,
    ))
}

/// What [`with_merged`] gives: the rows, the files absorbed, the bodies moved out of rows.
pub(crate) type Merged = (
    Vec<OplogRow>,
    Vec<String>,
    Vec<(blake3::Hash, bytes::Bytes)>,
);

/// Whether the newest of `rows` (a directory's, in one commit) holds its whole state: then
/// its earlier data files are not needed to read it.
pub(crate) fn is_snapshot(rows: &[OplogRow]) -> Result<bool> {
    let Some(newest) = rows.iter().max_by_key(|r| r.version) else {
        return Ok(false);
    };
    match newest.content.as_deref() {
        Some(content) => {
            Ok(crate::dir_content::DirContent::decode(content, "a new commit")?.is_snapshot())
        }
        None => Ok(false),
    }
}

/// Takes `row`'s inline body, if it has one, out of it, to be stored by hash.
fn externalize(row: &mut OplogRow) -> Result<Option<(blake3::Hash, bytes::Bytes)>> {
    let Some(bytes) = row.content.take() else {
        return Ok(None);
    };
    let hash = row.blake3.ok_or_else(|| {
        Error::internal(format!(
            "node {} v{} has an inline body without a hash",
            row.node_id, row.version
        ))
    })?;
    // The row's file was checked whole when read; this checks the row against its hash
    // before the body is stored under it.
    if blake3::hash(&bytes) != hash {
        return Err(Error::Corrupt {
            file: format!("node {} v{}", row.node_id, row.version),
            detail: "the inline body does not match its recorded BLAKE3".into(),
        });
    }
    Ok(Some((hash, bytes.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rows: u64) -> IndexedFile {
        IndexedFile {
            version: 0,
            path: String::new(),
            hash: None,
            rows: Some(rows),
        }
    }

    /// Appending one row at a time keeps the files a binary counter of the rows.
    #[test]
    fn one_row_appends_keep_log_files() {
        let mut files: Vec<IndexedFile> = Vec::new();
        let mut rewritten = 0;
        for n in 1..=10_000u64 {
            let merged = files_to_merge(&files, 1);
            let held: u64 = 1 + files[files.len() - merged..]
                .iter()
                .map(|f| f.rows.unwrap())
                .sum::<u64>();
            rewritten += held - 1;
            files.truncate(files.len() - merged);
            files.push(file(held));
            assert_eq!(files.len() as u32, n.count_ones(), "after {n} appends");
        }
        assert!(files.len() <= 14);
        // Each row rewritten at most log2(10,000) times.
        assert!(rewritten <= 10_000 * 14, "{rewritten}");
    }
}

//! Retention: giving up the history before a horizon, and reclaiming what only it needed.
//!
//! A pond keeps every version by default. `maintain --keep-history` picks a *horizon*, a pond
//! version H: every pond version from H on stays readable exactly as it was (`--as-of`,
//! every `@vN` a file had at H or gained after it), and nothing before H does. What only
//! the versions before H needed is then reclaimed:
//!
//! - the rows (and so the bodies) of file versions superseded before H: a data file's or
//!   table's versions before the one that was latest at H; a series' versions that were not
//!   among its members at H (batches compacted into a larger body, versions an undo
//!   dropped);
//! - every row and body of a node no directory held at H or since (a removed file);
//! - the log data files only versions before H read (those a merge replaced).
//!
//! The horizon is recorded in `log/_pond_horizon.json` (a file Delta readers ignore) before
//! anything is deleted, and opening a version before it fails naming it. The commit that
//! drops rows rewrites each changed node's rows into one new data file and removes the old
//! ones, so Delta readers read the log after it as before.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tinyfs::{EntryType, NodeId, VersionSet};

use crate::delta_log::CommitFile;
use crate::dir_content::DirContent;
use crate::error::{Error, Result};
use crate::log_table::{Attempt, LogTable};
use crate::protocol::{ConflictKey, PondCommit};
use crate::store::Store;
use crate::view::{VersionRec, View, loaded};

/// How much history `maintain` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepHistory {
    /// The newest this many pond versions (at least 1: the current one).
    Versions(u64),
    /// Every pond version committed at or after this time, and the one current then.
    Since(SystemTime),
}

/// The recorded horizon: pond versions before `version` are gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Horizon {
    /// The oldest pond version still readable.
    pub version: u64,
    /// When retention set it, in milliseconds since the epoch.
    pub set_at_ms: i64,
}

/// What one retention run reclaimed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// The horizon now in force.
    pub horizon: u64,
    /// Nodes no directory held at the horizon or since (removed files), whose rows were
    /// dropped or whose log files were deleted.
    pub nodes_dropped: usize,
    /// File versions superseded before the horizon, whose rows were dropped.
    pub versions_dropped: usize,
    /// Log data files deleted that only versions before the horizon read.
    pub log_files_removed: usize,
    /// Their bytes.
    pub log_bytes_removed: u64,
}

/// The key of the horizon in a log's store.
const HORIZON: &str = "_pond_horizon.json";

/// The recorded horizon of the log in `log`, if retention ever ran.
pub(crate) async fn read_horizon(log: &Store) -> Result<Option<Horizon>> {
    match log.get(HORIZON).await? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                file: log.shown(HORIZON),
                detail: e.to_string(),
            }),
        None => Ok(None),
    }
}

/// Records `horizon` durably in the log in `log` (replacing the one there).
async fn write_horizon(log: &Store, horizon: &Horizon) -> Result<()> {
    let text = serde_json::to_vec_pretty(horizon).map_err(|e| Error::internal(e.to_string()))?;
    log.put(HORIZON, text.into()).await
}

/// The horizon `keep` asks for in the log of `table` (at its latest version).
async fn horizon_for(table: &LogTable, keep: KeepHistory) -> Result<u64> {
    let latest = table.version()?;
    match keep {
        KeepHistory::Versions(0) => Err(Error::internal(
            "keep-history of 0 versions: at least the current one is kept",
        )),
        KeepHistory::Versions(n) => Ok((latest + 1).saturating_sub(n).max(1).min(latest)),
        KeepHistory::Since(since) => {
            let since_ms = since
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            // Back from the latest, while commits are within the window: the horizon is the
            // oldest of them, or the latest when even it is older (it is current).
            let mut horizon = latest;
            while horizon > 1 {
                match LogTable::commit_record(table.store(), horizon - 1).await? {
                    Some(record) if record.timestamp_ms.is_some_and(|t| t >= since_ms) => {
                        horizon -= 1;
                    }
                    _ => break,
                }
            }
            Ok(horizon)
        }
    }
}

/// Every (directory, node) a stored directory of `view` holds, directories included as
/// (dir, dir): the nodes reachable at that version.
fn reachable(view: &View) -> Result<HashSet<(NodeId, NodeId)>> {
    let mut out = HashSet::from([(NodeId::ROOT, NodeId::ROOT)]);
    let mut dirs = vec![NodeId::ROOT];
    while let Some(dir) = dirs.pop() {
        for entry in view.dir(dir)?.entries.values() {
            if entry.entry_type == EntryType::Directory && entry.factory.is_none() {
                if out.insert((entry.id, entry.id)) {
                    dirs.push(entry.id);
                }
            } else {
                out.insert((dir, entry.id));
            }
        }
    }
    Ok(out)
}

/// The versions of a node, as it was at the horizon (`then`) and is now (`now`), that some
/// pond version from the horizon on can read: what was current at the horizon (a series'
/// members, with the last version that reset them), and everything written since.
fn kept_versions(then: &[VersionRec], now: &[VersionRec]) -> HashSet<u64> {
    let Some(latest_then) = then.last().map(|r| r.meta.version) else {
        return now.iter().map(|r| r.meta.version).collect();
    };
    let mut keep: HashSet<u64> = now
        .iter()
        .map(|r| r.meta.version)
        .filter(|v| *v >= latest_then)
        .collect();
    if then.last().map(|r| r.entry_type) == Some(EntryType::FileSeries) {
        let metas: Vec<_> = then.iter().map(|r| r.meta.clone()).collect();
        let members: VersionSet = tinyfs::series_members(&metas);
        keep.extend(members.iter());
        if let Some(reset) = then.iter().rev().find(|r| r.meta.members.is_some()) {
            keep.insert(reset.meta.version);
        }
    }
    keep
}

/// Sets the horizon `keep` asks for on the log in `log_dir` and drops the rows only the
/// versions before it read, in one commit (whose info is `info`); then deletes the log
/// data files no version from the horizon on reads, if older than `cutoff`. The bodies
/// the dropped rows referenced are left for the caller's sweep of unreferenced bodies.
pub(crate) async fn retain(
    log_dir: &Path,
    keep: KeepHistory,
    mut info: PondCommit,
    cutoff: SystemTime,
) -> Result<RetentionReport> {
    let pond = log_dir.parent().unwrap_or(log_dir).display().to_string();
    let mut table = LogTable::open(crate::store::Store::local(log_dir), &pond, None).await?;
    let previous = read_horizon(table.store()).await?.map_or(0, |h| h.version);
    let horizon = horizon_for(&table, keep).await?.max(previous);
    let mut report = RetentionReport {
        horizon,
        ..Default::default()
    };
    let then = table.at(horizon).await?.view()?;
    let now = table.view()?;

    // Every node some version from the horizon on can reach: those reachable at the
    // horizon or now, those written since, and those a directory named since.
    let mut live = loaded(|| reachable(&then)).await?;
    live.extend(loaded(|| reachable(&now)).await?);
    for (part, node, file) in now.files() {
        if file.version <= horizon {
            continue;
        }
        live.insert((part, node));
        if part == node {
            for row in loaded(|| now.rows(file)).await?.iter() {
                if let Some(content) = row.content.as_deref() {
                    let mut entries = BTreeMap::new();
                    DirContent::decode(content, &file.path)?.apply(&mut entries);
                    live.extend(entries.values().map(|e| (part, e.id)));
                }
            }
        }
    }

    let target = table.version()? + 1;
    let (mut adds, mut dropped, mut writes) = (Vec::new(), Vec::new(), BTreeSet::new());
    let mut keys: Vec<(NodeId, NodeId)> = now
        .files()
        .filter(|(part, node, _)| part != node)
        .map(|(part, node, _)| (part, node))
        .collect();
    keys.sort();
    keys.dedup();
    // Nodes no version from the horizon on reaches, by id (a node moved elsewhere lives).
    let live_nodes: HashSet<NodeId> = live.iter().map(|(_, node)| *node).collect();
    let mut gone: HashSet<NodeId> = HashSet::new();
    for (part, node) in keys {
        let files = now.node_files(part, node);
        if !live.contains(&(part, node)) {
            if !live_nodes.contains(&node) {
                gone.insert(node);
            }
            dropped.extend(files.iter().map(|f| f.path.clone()));
            writes.insert(ConflictKey::Node(node));
            continue;
        }
        // Only stored files lose versions: a symlink's or a dynamic node's few rows stay.
        let Some(last) = files.last() else { continue };
        let newest = loaded(|| now.rows(last)).await?;
        if then.node_files(part, node).is_empty()
            || !newest
                .iter()
                .all(|r| r.entry_type.is_file() && r.factory.is_none())
        {
            continue;
        }
        let recs = loaded(|| now.file(part, node)).await?;
        let keep = kept_versions(&loaded(|| then.file(part, node)).await?, &recs);
        let rows: Vec<_> = recs
            .iter()
            .filter(|r| keep.contains(&r.meta.version))
            .map(|r| r.to_row(node))
            .collect();
        if rows.len() == recs.len() {
            continue;
        }
        report.versions_dropped += recs.len() - rows.len();
        adds.push(table.write_data_file(part, node, target, &rows).await?);
        dropped.extend(files.iter().map(|f| f.path.clone()));
        writes.insert(ConflictKey::Node(node));
    }

    if !adds.is_empty() || !dropped.is_empty() {
        info.writes = writes;
        info.horizon = Some(horizon);
        match table.try_commit(adds.clone(), &[], &dropped, info).await? {
            Attempt::Committed(_) => {}
            Attempt::Stale => {
                for add in adds {
                    let _ = std::fs::remove_file(log_dir.join(&add.path));
                }
                return Err(Error::Conflict {
                    path: "/".into(),
                    detail: "another command committed while maintain ran; nothing was reclaimed, run it again".into(),
                });
            }
        }
    }
    if horizon > previous {
        write_horizon(
            table.store(),
            &Horizon {
                version: horizon,
                set_at_ms: chrono::Utc::now().timestamp_millis(),
            },
        )
        .await?;
    }

    // What a version from the horizon on reads: the files live at the horizon, and every
    // file a later commit added.
    let mut needed: HashSet<String> = then.files().map(|(_, _, f)| f.path.clone()).collect();
    for version in horizon + 1..=table.version()? {
        if let Some(commit) = CommitFile::read(table.store(), version).await? {
            needed.extend(commit.adds.into_iter().map(|(path, _, _)| path));
        }
    }
    for (rel, path, meta) in crate::view::data_files_on_disk(log_dir)? {
        if !needed.contains(&rel) && meta.modified().unwrap_or(SystemTime::now()) < cutoff {
            std::fs::remove_file(&path).map_err(|e| Error::io(path.display(), e))?;
            // A removed node's files left the table when it was removed: they go now.
            if let Some((_, node, _)) = crate::view::parse_data_file_name(&rel)
                && !live_nodes.contains(&node)
            {
                gone.insert(node);
            }
            report.log_files_removed += 1;
            report.log_bytes_removed += meta.len();
        }
    }
    report.nodes_dropped = gone.len();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::Body;
    use tinyfs::FileVersion;

    fn rec(version: u64, entry_type: EntryType, members: Option<&str>) -> VersionRec {
        VersionRec {
            meta: FileVersion {
                version,
                size: 1,
                blake3: blake3::hash(&version.to_le_bytes()),
                modified_micros: 0,
                event_time: None,
                members: members.map(|m| m.parse().unwrap()),
                rows: None,
                compacts: None,
                origin: None,
            },
            entry_type,
            factory: None,
            body: Body::External(blake3::hash(&version.to_le_bytes())),
            manifest: None,
            txn_id: String::new(),
        }
    }

    fn sorted(set: HashSet<u64>) -> Vec<u64> {
        let mut v: Vec<u64> = set.into_iter().collect();
        v.sort();
        v
    }

    #[test]
    fn a_data_file_keeps_what_was_current_at_the_horizon_and_since() {
        let data = |n| {
            (1..=n)
                .map(|v| rec(v, EntryType::FileData, None))
                .collect::<Vec<_>>()
        };
        assert_eq!(sorted(kept_versions(&data(3), &data(5))), [3, 4, 5]);
        assert_eq!(sorted(kept_versions(&[], &data(2))), [1, 2]);
    }

    #[test]
    fn a_series_keeps_its_members_at_the_horizon_and_the_reset_naming_them() {
        // v1-4 appended, v5 compacts 1-4 (members 5), v6 appended; then v7 appended.
        let mut recs: Vec<VersionRec> = (1..=4)
            .map(|v| rec(v, EntryType::FileSeries, None))
            .collect();
        recs.push(rec(5, EntryType::FileSeries, Some("5")));
        recs.push(rec(6, EntryType::FileSeries, None));
        let then = recs.clone();
        recs.push(rec(7, EntryType::FileSeries, None));
        let keep = kept_versions(&then, &recs);
        assert_eq!(sorted(keep.clone()), [5, 6, 7]);
        // The kept rows still fold to the same members.
        let kept: Vec<FileVersion> = recs
            .iter()
            .filter(|r| keep.contains(&r.meta.version))
            .map(|r| r.meta.clone())
            .collect();
        assert_eq!(tinyfs::series_members(&kept).to_string(), "5-7");
        // An undo whose version is no member: v3 names 1 (v2 undone).
        let recs = vec![
            rec(1, EntryType::FileSeries, None),
            rec(2, EntryType::FileSeries, None),
            rec(3, EntryType::FileSeries, Some("1")),
            rec(4, EntryType::FileSeries, None),
        ];
        let keep = kept_versions(&recs, &recs);
        assert_eq!(sorted(keep.clone()), [1, 3, 4]);
        let kept: Vec<FileVersion> = recs
            .iter()
            .filter(|r| keep.contains(&r.meta.version))
            .map(|r| r.meta.clone())
            .collect();
        assert_eq!(tinyfs::series_members(&kept).to_string(), "1,4");
    }
}

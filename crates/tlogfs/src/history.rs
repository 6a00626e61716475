//! One path's history and the difference between two pond versions, from the paths each
//! commit records and the pond as it was on either side.

use std::collections::BTreeSet;

use tinyfs::{EntryType, NodeId, NodeKind, WD};

use crate::error::{Error, Result};
use crate::pond::{LogEntry, Pond};

/// How a commit, or a range of commits, changed a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The path did not exist before and does after.
    Added,
    /// The path existed on both sides and was written.
    Changed,
    /// The path existed before and does not after.
    Removed,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Change::Added => "added",
            Change::Changed => "changed",
            Change::Removed => "removed",
        })
    }
}

/// One path on the two sides of a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathChange {
    /// The path.
    pub path: String,
    /// How it changed.
    pub change: Change,
    /// What it is (after the change; before it, if it was removed).
    pub entry_type: EntryType,
    /// A file's latest version before and after (0 where it did not exist).
    pub versions: (u64, u64),
}

/// Whether `a` is `b`, or one is below the other.
fn related(a: &str, b: &str) -> bool {
    let below = |inner: &str, outer: &str| {
        outer == "/"
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    a == b || below(a, b) || below(b, a)
}

/// What a path is at one pond version.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    id: NodeId,
    entry_type: EntryType,
    /// A stored file's latest version.
    versions: u64,
    /// What it holds: a stored file's latest body, or a dynamic node's configuration.
    content: Option<blake3::Hash>,
}

/// What `path` is in `wd` (a symlink itself, not its target), if it is there.
async fn state(wd: &WD, path: &str) -> Result<Option<State>> {
    let Some(node) = wd.get_entry(path).await? else {
        return Ok(None);
    };
    let (versions, content) = match (node.kind(), node.factory()) {
        (_, Some(_)) => (
            0,
            wd.dynamic_config(path)
                .await?
                .map(|c| blake3::hash(&c.config)),
        ),
        (NodeKind::File(file), None) => {
            let latest = file.latest().await?;
            (
                latest.as_ref().map_or(0, |v| v.version),
                latest.map(|v| v.blake3),
            )
        }
        _ => (0, None),
    };
    Ok(Some(State {
        id: node.id(),
        entry_type: node.entry_type(),
        versions,
        content,
    }))
}

/// How `path` differs from `before` to `after`: `None` where it exists on neither side,
/// or, if `strict`, where it is the same node holding the same content on both.
async fn compare(before: &WD, after: &WD, path: &str, strict: bool) -> Result<Option<PathChange>> {
    let (was, is) = (state(before, path).await?, state(after, path).await?);
    let (change, entry_type) = match (&was, &is) {
        (None, None) => return Ok(None),
        (Some(w), Some(i)) if strict && w == i => return Ok(None),
        (None, Some(i)) => (Change::Added, i.entry_type),
        (Some(w), None) => (Change::Removed, w.entry_type),
        (Some(_), Some(i)) => (Change::Changed, i.entry_type),
    };
    Ok(Some(PathChange {
        path: path.to_string(),
        change,
        entry_type,
        versions: (was.map_or(0, |w| w.versions), is.map_or(0, |i| i.versions)),
    }))
}

impl Pond {
    /// The commits that changed `path` (or something above or below it), newest first,
    /// each with how it changed `path`; at most `limit` of them. Reads commit files
    /// newest first until it has `limit`, and opens the pond on either side of each
    /// (once, where two such commits are adjacent).
    pub async fn path_history(
        &self,
        path: &str,
        limit: Option<usize>,
    ) -> Result<Vec<(LogEntry, PathChange)>> {
        let mut out = Vec::new();
        // The pond before the last commit compared: the one after the commit below it.
        let mut below: Option<Pond> = None;
        for version in (1..=self.version()).rev() {
            if limit.is_some_and(|n| out.len() >= n) {
                break;
            }
            let Some(entry) = self.log_entry(version).await? else {
                continue;
            };
            if !entry.paths.iter().any(|p| related(p, path)) {
                continue;
            }
            let after = match below.take() {
                Some(pond) if pond.version() == version => pond,
                _ => Pond::connect_at(self.store().clone(), version).await?,
            };
            let before = Pond::connect_at(self.store().clone(), version - 1).await?;
            let change = compare(&before.fs().root(), &after.fs().root(), path, false).await?;
            below = Some(before);
            if let Some(change) = change {
                out.push((entry, change));
            }
        }
        Ok(out)
    }

    /// The paths that differ from pond `before` to pond `after` (the same pond at two
    /// versions, in either order), in path order: those the commits in between recorded
    /// (their commit files only are read), compared on both sides; a path that is the same
    /// node with the same content on both is left out.
    pub async fn diff(before: &Pond, after: &Pond) -> Result<Vec<PathChange>> {
        let (low, high) = (
            before.version().min(after.version()),
            before.version().max(after.version()),
        );
        let mut paths = BTreeSet::new();
        for version in low + 1..=high {
            paths.extend(
                after
                    .log_entry(version)
                    .await?
                    .into_iter()
                    .flat_map(|e| e.paths),
            );
        }
        let (before, after) = (before.fs().root(), after.fs().root());
        let mut out = Vec::new();
        for path in paths {
            out.extend(compare(&before, &after, &path, true).await?);
        }
        Ok(out)
    }
}

impl Pond {
    /// The commit of pond version `n`, its paths in order, to undo it: putting each path
    /// back as pond version `n - 1` had it undoes the commit. Refused with
    /// [`Error::Conflict`] naming the path when a later commit changed one of them, or a
    /// path above or below it: undoing `n` would undo that too. Reads the commit files
    /// from `n` on.
    pub async fn revert_paths(&self, n: u64) -> Result<LogEntry> {
        let latest = self.version();
        if n > latest {
            return Err(Error::NoSuchVersion { version: n, latest });
        }
        let entry = match self.log_entry(n).await? {
            Some(entry) if n > 0 && !entry.paths.is_empty() => entry,
            Some(entry) => {
                return Err(Error::NothingToRevert {
                    version: n,
                    why: format!("it is {}, which changed no path", entry.command),
                });
            }
            None => {
                return Err(Error::NothingToRevert {
                    version: n,
                    why: "its commit file is missing".into(),
                });
            }
        };
        for later in n + 1..=latest {
            let Some(other) = self.log_entry(later).await? else {
                continue;
            };
            if let Some(path) = entry
                .paths
                .iter()
                .find(|p| other.paths.iter().any(|o| related(o, p)))
            {
                return Err(Error::Conflict {
                    path: path.clone(),
                    detail: format!(
                        "changed again by pond version {later} (`{}`), so reverting pond version {n} would undo that too; restore it as of pond version {} instead",
                        other.command,
                        n - 1
                    ),
                });
            }
        }
        let mut entry = entry;
        entry.paths.sort();
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_relate_to_their_ancestors_and_descendants() {
        assert!(related("/a/b", "/a"));
        assert!(related("/a", "/a/b"));
        assert!(related("/a", "/"));
        assert!(!related("/ab", "/a"));
        assert!(!related("/a/c", "/a/b"));
    }
}

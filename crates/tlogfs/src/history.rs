//! One path's history and the difference between two pond versions, from the paths each
//! commit records and the pond as it was on either side.

use std::collections::BTreeSet;

use tinyfs::{EntryType, NodeKind, WD};

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
    /// A file's version count before and after (0 where it did not exist).
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

/// What `path` is in `wd`: its type and, for a stored file, its version count.
async fn state(wd: &WD, path: &str) -> Result<Option<(EntryType, u64)>> {
    let Some(node) = wd.get(path).await? else {
        return Ok(None);
    };
    let versions = match node.kind() {
        NodeKind::File(file) if node.factory().is_none() => file.versions().await?.len() as u64,
        _ => 0,
    };
    Ok(Some((node.entry_type(), versions)))
}

/// How `path` differs from the pond `before` to the pond `after`, if it does.
async fn compare(before: &Pond, after: &Pond, path: &str) -> Result<Option<PathChange>> {
    let (was, is) = (
        state(&before.fs().root(), path).await?,
        state(&after.fs().root(), path).await?,
    );
    let (change, entry_type) = match (was, is) {
        (None, None) => return Ok(None),
        (None, Some((t, _))) => (Change::Added, t),
        (Some((t, _)), None) => (Change::Removed, t),
        (Some(_), Some((t, _))) => (Change::Changed, t),
    };
    Ok(Some(PathChange {
        path: path.to_string(),
        change,
        entry_type,
        versions: (was.map_or(0, |w| w.1), is.map_or(0, |i| i.1)),
    }))
}

impl Pond {
    /// The commits that changed `path` (or something above or below it), newest first,
    /// each with how it changed `path`; at most `limit` of them.
    pub async fn path_history(
        &self,
        path: &str,
        limit: Option<usize>,
    ) -> Result<Vec<(LogEntry, PathChange)>> {
        let mut out = Vec::new();
        for entry in self.history(None).await? {
            if limit.is_some_and(|n| out.len() >= n) {
                break;
            }
            if entry.version == 0 || !entry.paths.iter().any(|p| related(p, path)) {
                continue;
            }
            let before = Pond::open_at(self.dir(), entry.version - 1).await?;
            let after = Pond::open_at(self.dir(), entry.version).await?;
            if let Some(change) = compare(&before, &after, path).await? {
                out.push((entry, change));
            }
        }
        Ok(out)
    }

    /// The paths that differ from pond version `from` to `to` (this pond's version if
    /// `None`), in path order: those the commits in between recorded (their commit files
    /// only are read), compared on both sides.
    pub async fn diff(&self, from: u64, to: Option<u64>) -> Result<Vec<PathChange>> {
        let to = to.unwrap_or(self.version());
        let (low, high) = (from.min(to), from.max(to));
        let mut paths = BTreeSet::new();
        for version in low + 1..=high {
            paths.extend(self.log_entry(version)?.into_iter().flat_map(|e| e.paths));
        }
        let before = Pond::open_at(self.dir(), from).await?;
        let after = Pond::open_at(self.dir(), to).await?;
        let mut out = Vec::new();
        for path in paths {
            if let Some(change) = compare(&before, &after, &path).await?
                && !(change.change == Change::Changed
                    && change.entry_type.is_file()
                    && change.versions.0 == change.versions.1)
            {
                out.push(change);
            }
        }
        Ok(out)
    }
}

impl Pond {
    /// The paths pond version `n`'s commit changed, in order, to undo it: putting each
    /// back as pond version `n - 1` had it undoes the commit. Refused with
    /// [`Error::Conflict`] naming the path when a later commit changed one of them, or a
    /// path above or below it: undoing `n` would undo that too. Reads the commit files
    /// from `n` on.
    pub fn revert_paths(&self, n: u64) -> Result<Vec<String>> {
        let latest = self.version();
        if n > latest {
            return Err(Error::NoSuchVersion { version: n, latest });
        }
        let entry = match self.log_entry(n)? {
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
            let Some(other) = self.log_entry(later)? else {
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
        let mut paths = entry.paths;
        paths.sort();
        Ok(paths)
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

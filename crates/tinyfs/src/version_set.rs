//! Sets of file versions, kept as sorted, disjoint, non-adjacent ranges: which versions
//! make up a series.
//!
//! A series is every version appended to it, until a version says otherwise: an undo or a
//! compaction writes a version whose [`FileVersion::members`] names the versions that make
//! up the series from then on. [`series_members`] folds a file's versions into that set.
//! Ranges keep the set small whatever the count: a series of ten thousand appends with one
//! undone is two ranges.

use std::fmt;
use std::str::FromStr;

use crate::node::FileVersion;

/// A set of file versions (numbers from 1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VersionSet {
    /// Inclusive `(first, last)` ranges, sorted, with gaps between them.
    ranges: Vec<(u64, u64)>,
}

impl VersionSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `version`. Adding past the end, as appends do, is O(1).
    pub fn insert(&mut self, version: u64) {
        match self.ranges.last_mut() {
            Some((_, last)) if *last + 1 == version => *last = version,
            Some((_, last)) if *last >= version => {
                if !self.contains(version) {
                    let mut all: Vec<u64> = self.iter().collect();
                    all.push(version);
                    all.sort_unstable();
                    *self = all.into_iter().collect();
                }
            }
            _ => self.ranges.push((version, version)),
        }
    }

    /// Whether `version` is in the set.
    pub fn contains(&self, version: u64) -> bool {
        let i = self.ranges.partition_point(|&(_, last)| last < version);
        self.ranges
            .get(i)
            .is_some_and(|&(first, _)| first <= version)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// How many versions are in the set.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|(a, b)| b - a + 1).sum()
    }

    /// The versions, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|&(a, b)| a..=b)
    }

    /// The inclusive ranges, ascending.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }
}

impl FromIterator<u64> for VersionSet {
    /// Collects versions in any order, duplicates allowed.
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        let mut all: Vec<u64> = iter.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        let mut set = VersionSet::new();
        for v in all {
            set.insert(v);
        }
        set
    }
}

/// `1-4,6`: the form stored in a log and shown to users.
impl fmt::Display for VersionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

/// Why a text is not a [`VersionSet`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a version set such as \"1-4,6\"")]
pub struct ParseVersionSetError {
    text: String,
}

impl FromStr for VersionSet {
    type Err = ParseVersionSetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ParseVersionSetError {
            text: text.to_string(),
        };
        let mut set = VersionSet::new();
        if text.is_empty() {
            return Ok(set);
        }
        for part in text.split(',') {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
                None => {
                    let v = part.parse().map_err(|_| bad())?;
                    (v, v)
                }
            };
            // Stored sets are written sorted and disjoint; anything else is damage.
            if a == 0 || a > b || set.ranges.last().is_some_and(|&(_, last)| last + 1 >= a) {
                return Err(bad());
            }
            set.ranges.push((a, b));
        }
        Ok(set)
    }
}

/// The versions that make up a series whose versions, oldest first, are `versions`: each
/// version joins the set, unless it names the set itself ([`FileVersion::members`]).
pub fn series_members(versions: &[FileVersion]) -> VersionSet {
    let mut set = VersionSet::new();
    for v in versions {
        match &v.members {
            Some(members) => set = members.clone(),
            None => set.insert(v.version),
        }
    }
    set
}

/// The versions, of `versions` (a file's, oldest first), that make up the series.
pub fn member_versions(versions: Vec<FileVersion>) -> Vec<FileVersion> {
    let members = series_members(&versions);
    versions
        .into_iter()
        .filter(|v| members.contains(v.version))
        .collect()
}

/// The versions, of `versions` (a file's, oldest first), whose rows the series holds: its
/// members, and the versions each member compacts (and those compact, down to the batches
/// appended).
pub fn held_versions(versions: &[FileVersion]) -> VersionSet {
    // Versions are numbered 1, 2, ..., with gaps where retention dropped some.
    let by_number: std::collections::HashMap<u64, &FileVersion> =
        versions.iter().map(|v| (v.version, v)).collect();
    let mut held = std::collections::HashSet::new();
    let mut todo: Vec<u64> = series_members(versions).iter().collect();
    while let Some(v) = todo.pop() {
        if v == 0 || !held.insert(v) {
            continue;
        }
        if let Some(compacts) = by_number.get(&v).and_then(|found| found.compacts.as_ref()) {
            todo.extend(compacts.iter());
        }
    }
    let mut held: Vec<u64> = held.into_iter().collect();
    held.sort_unstable();
    held.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_keeps_ranges_and_prints_them() {
        let set: VersionSet = [6, 1, 2, 3, 4, 4, 9, 8].into_iter().collect();
        assert_eq!(set.to_string(), "1-4,6,8-9");
        assert_eq!(set.len(), 7);
        assert!(set.contains(3) && set.contains(6) && set.contains(9));
        assert!(!set.contains(5) && !set.contains(7) && !set.contains(10) && !set.contains(0));
        assert_eq!("1-4,6,8-9".parse::<VersionSet>().unwrap(), set);
        assert_eq!("".parse::<VersionSet>().unwrap(), VersionSet::new());
    }

    #[test]
    fn inserting_inside_merges() {
        let mut set: VersionSet = [1, 2, 4, 5].into_iter().collect();
        set.insert(3);
        assert_eq!(set.ranges(), &[(1, 5)]);
        set.insert(7);
        set.insert(2);
        assert_eq!(set.to_string(), "1-5,7");
    }

    #[test]
    fn damaged_text_is_refused() {
        for bad in ["0", "3-1", "1-4,2", "1-4,5", "x", "1,", "-3"] {
            assert!(bad.parse::<VersionSet>().is_err(), "{bad}");
        }
    }

    /// Version `version` of an empty body, with `members` and `compacts` as text.
    fn version(version: u64, members: Option<&str>, compacts: Option<&str>) -> FileVersion {
        FileVersion {
            version,
            size: 0,
            blake3: blake3::hash(b""),
            modified_micros: 0,
            event_time: None,
            members: members.map(|m| m.parse().unwrap()),
            rows: None,
            compacts: compacts.map(|m| m.parse().unwrap()),
            origin: None,
        }
    }

    #[test]
    fn a_series_holds_its_members_and_what_they_compact() {
        let v = version;
        // v4 compacts v1-3, v6 compacts v4-5; v8 undoes v7.
        let versions = [
            v(1, None, None),
            v(2, None, None),
            v(3, None, None),
            v(4, Some("4"), Some("1-3")),
            v(5, None, None),
            v(6, Some("6"), Some("4-5")),
            v(7, None, None),
            v(8, Some("6"), None),
        ];
        assert_eq!(series_members(&versions).to_string(), "6");
        assert_eq!(held_versions(&versions).to_string(), "1-6");
    }

    #[test]
    fn members_fold_over_versions() {
        let v = |n, members| version(n, members, None);
        let versions = [
            v(1, None),
            v(2, None),
            v(3, None),
            v(4, Some("1-2")),
            v(5, None),
        ];
        assert_eq!(series_members(&versions).to_string(), "1-2,5");
        assert_eq!(series_members(&versions[..3]).to_string(), "1-3");
        let kept: Vec<u64> = member_versions(versions.to_vec())
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(kept, [1, 2, 5]);
    }
}

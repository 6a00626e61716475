//! A series' members, kept where one read finds them.
//!
//! A series is the fold of its versions: each appended version joins, and a version that
//! resets the set (a compaction, an undo) names it. Finding the members from the versions
//! reads every version's row, which grows with the history. So the row of every version
//! that resets the set also carries a *manifest*: the records of the members it names
//! (other than itself). The members are then the newest reset's manifest, the reset, and
//! the versions appended after it, all in the node's newest data files: the files are
//! read newest first until a reset is found (see [`crate::view::View::series_members`]).
//! Compaction keeps resets frequent, so that is a few small files however long the series.
//!
//! The manifest is the oplog's `manifest` column, JSON written and read by these types.

use serde::{Deserialize, Serialize};
use tinyfs::{EventTime, FileVersion};

/// The members a reset names, other than itself, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// One record per member.
    pub members: Vec<Member>,
}

/// What a manifest keeps of one member: its version's metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its version number.
    pub version: u64,
    /// Its body's length.
    pub size: u64,
    /// Its body's BLAKE3 (hex).
    pub blake3: String,
    /// When it was written, µs since the epoch.
    pub written_at: i64,
    /// Its event-time column and range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<(String, i64, i64)>,
    /// Its rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The versions it compacts, as ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compacts: Option<String>,
    /// The set it named when written (a compaction, an undo), as ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<String>,
    /// The host file it was made from: length and BLAKE3 (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<(u64, String)>,
    /// Whether its body is in its row rather than in `content/` (then only its row can
    /// serve it, and a reader falls back to reading every version).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inline: bool,
}

impl Member {
    /// The record of `version`, whose body is inline if `inline`.
    pub fn of(version: &FileVersion, inline: bool) -> Member {
        Member {
            version: version.version,
            size: version.size,
            blake3: version.blake3.to_hex().to_string(),
            written_at: version.modified_micros,
            event_time: version
                .event_time
                .as_ref()
                .map(|e| (e.column.clone(), e.min_micros, e.max_micros)),
            rows: version.rows,
            compacts: version.compacts.as_ref().map(|c| c.to_string()),
            members: version.members.as_ref().map(|m| m.to_string()),
            origin: version
                .origin
                .map(|o| (o.size, o.blake3.to_hex().to_string())),
            inline,
        }
    }

    /// The version's metadata back.
    pub fn to_version(&self) -> Result<FileVersion, String> {
        Ok(FileVersion {
            version: self.version,
            size: self.size,
            blake3: blake3::Hash::from_hex(&self.blake3)
                .map_err(|e| format!("member v{}: blake3: {e}", self.version))?,
            modified_micros: self.written_at,
            event_time: self
                .event_time
                .as_ref()
                .map(|(column, min, max)| EventTime {
                    column: column.clone(),
                    min_micros: *min,
                    max_micros: *max,
                }),
            members: self
                .members
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| format!("member v{}: members: {e}", self.version))?,
            rows: self.rows,
            compacts: self
                .compacts
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| format!("member v{}: compacts: {e}", self.version))?,
            origin: match &self.origin {
                Some((size, hex)) => Some(tinyfs::Origin {
                    size: *size,
                    blake3: blake3::Hash::from_hex(hex)
                        .map_err(|e| format!("member v{}: origin: {e}", self.version))?,
                }),
                None => None,
            },
        })
    }
}

impl Manifest {
    /// The JSON text stored in the `manifest` column.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a manifest serializes")
    }

    /// A manifest from its stored text.
    pub fn decode(text: &str) -> Result<Manifest, String> {
        serde_json::from_str(text).map_err(|e| format!("manifest: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_round_trip() {
        let version = FileVersion {
            version: 7,
            size: 1234,
            blake3: blake3::hash(b"x"),
            modified_micros: 99,
            event_time: Some(EventTime {
                column: "time".into(),
                min_micros: -3,
                max_micros: 8,
            }),
            members: Some("7".parse().unwrap()),
            rows: Some(60),
            compacts: Some("1-6".parse().unwrap()),
            origin: Some(tinyfs::Origin {
                size: 77,
                blake3: blake3::hash(b"host"),
            }),
        };
        let manifest = Manifest {
            members: vec![Member::of(&version, false)],
        };
        let back = Manifest::decode(&manifest.encode()).unwrap();
        assert_eq!(back, manifest);
        assert_eq!(back.members[0].to_version().unwrap(), version);
    }
}

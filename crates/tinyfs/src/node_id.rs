//! Node identity.

use std::fmt;
use std::str::FromStr;

/// The identity of a node, unique within a pond and never reused.
///
/// A 128-bit value printed as 32 lowercase hex digits. New ids are UUIDv7, so they sort by
/// creation time; ids of nodes that must be stable across reads (a host mount's entries)
/// are derived from a hash with [`NodeId::derived`]. The root directory is [`NodeId::ROOT`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(u128);

impl NodeId {
    /// The root directory of every filesystem.
    pub const ROOT: NodeId = NodeId(0);

    /// A fresh id (UUIDv7: time-ordered, random in its low bits).
    pub fn generate() -> Self {
        NodeId(uuid::Uuid::now_v7().as_u128())
    }

    /// A stable id derived from `parts`: the same parts always give the same id.
    pub fn derived(parts: &[&[u8]]) -> Self {
        let mut hasher = blake3::Hasher::new();
        for part in parts {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let hash = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash.as_bytes()[..16]);
        NodeId(u128::from_be_bytes(bytes))
    }

    /// The id from its 128-bit value.
    pub const fn from_u128(value: u128) -> Self {
        NodeId(value)
    }

    /// The 128-bit value.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// The first 8 hex digits: enough to tell nodes apart in listings.
    pub fn short(self) -> String {
        format!("{:08x}", (self.0 >> 96) as u32)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl FromStr for NodeId {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 32 {
            return Err(crate::Error::internal(format!(
                "node id {s:?} is not 32 hex digits"
            )));
        }
        u128::from_str_radix(s, 16)
            .map(NodeId)
            .map_err(|e| crate::Error::internal(format!("node id {s:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parses_back() {
        let id = NodeId::generate();
        assert_eq!(id.to_string().parse::<NodeId>().unwrap(), id);
        assert_eq!(NodeId::ROOT.to_string(), "0".repeat(32));
    }

    #[test]
    fn generated_ids_sort_by_creation() {
        let a = NodeId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = NodeId::generate();
        assert!(a < b);
    }

    #[test]
    fn derived_ids_are_stable_and_unambiguous() {
        assert_eq!(
            NodeId::derived(&[b"mnt", b"a/b"]),
            NodeId::derived(&[b"mnt", b"a/b"])
        );
        assert_ne!(
            NodeId::derived(&[b"mn", b"ta/b"]),
            NodeId::derived(&[b"mnt", b"a/b"])
        );
    }
}

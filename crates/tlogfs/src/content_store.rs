//! `content/`: file bodies too large to keep inline, one plain file per BLAKE3 hash.
//!
//! A body lives at `content/<first two hex digits>/<64 hex digits>`. It is written to
//! `content/.incoming/` while it streams in, fsynced, then renamed into place (and the
//! directory fsynced) before the commit that references it: a commit never names a body
//! that is not durable. A body no commit references (a crash, a rollback) is an orphan:
//! harmless, and removed by `maintain` once older than its grace period. Equal bodies are
//! stored once.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, Result};

/// The content store of one pond.
#[derive(Clone, Debug)]
pub struct ContentStore {
    root: PathBuf,
}

/// A body stored in the content store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBody {
    /// Its hash, and name.
    pub hash: blake3::Hash,
    /// Its length.
    pub size: u64,
    /// When it was last written.
    pub modified: SystemTime,
}

impl ContentStore {
    /// The store rooted at `root` (normally `<pond>/content`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ContentStore { root: root.into() }
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the body with `hash` lives.
    pub fn path_of(&self, hash: &blake3::Hash) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join(&hex[..2]).join(hex.as_str())
    }

    /// A new incoming body file, for a writer to stream into.
    pub fn incoming(&self) -> Result<(PathBuf, fs::File)> {
        let dir = self.root.join(".incoming");
        fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
        let path = dir.join(uuid::Uuid::now_v7().to_string());
        let file = fs::File::create_new(&path).map_err(|e| Error::io(path.display(), e))?;
        Ok((path, file))
    }

    /// Makes the incoming body at `incoming` (already fully written) durable under `hash`.
    pub fn commit_incoming(
        &self,
        incoming: &Path,
        file: fs::File,
        hash: &blake3::Hash,
    ) -> Result<()> {
        file.sync_all()
            .map_err(|e| Error::io(incoming.display(), e))?;
        drop(file);
        let dest = self.path_of(hash);
        let dir = dest.parent().expect("a content path has a parent");
        fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        if dest.exists() {
            // Same hash, same bytes: keep the one already there.
            fs::remove_file(incoming).map_err(|e| Error::io(incoming.display(), e))?;
            return Ok(());
        }
        fs::rename(incoming, &dest).map_err(|e| Error::io(dest.display(), e))?;
        sync_dir(dir)
    }

    /// Every stored body (not the incoming ones).
    pub fn list(&self) -> Result<Vec<StoredBody>> {
        let mut out = Vec::new();
        let shards = match fs::read_dir(&self.root) {
            Ok(shards) => shards,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(self.root.display(), e)),
        };
        for shard in shards {
            let shard = shard.map_err(|e| Error::io(self.root.display(), e))?;
            let name = shard.file_name();
            if name.len() != 2 || !shard.path().is_dir() {
                continue;
            }
            for body in
                fs::read_dir(shard.path()).map_err(|e| Error::io(shard.path().display(), e))?
            {
                let body = body.map_err(|e| Error::io(shard.path().display(), e))?;
                let Some(hash) = body
                    .file_name()
                    .to_str()
                    .and_then(|n| blake3::Hash::from_hex(n).ok())
                else {
                    continue;
                };
                let meta = body
                    .metadata()
                    .map_err(|e| Error::io(body.path().display(), e))?;
                out.push(StoredBody {
                    hash,
                    size: meta.len(),
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
        }
        Ok(out)
    }

    /// Incoming files left by writers that never finished (crashes), with their age.
    pub fn stale_incoming(&self) -> Result<Vec<(PathBuf, SystemTime)>> {
        let dir = self.root.join(".incoming");
        let mut out = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(dir.display(), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir.display(), e))?;
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            out.push((entry.path(), modified));
        }
        Ok(out)
    }

    /// Re-hashes the body `hash`: `Ok(true)` if it matches, `Ok(false)` if it does not,
    /// [`Error::Io`] with `NotFound` if it is missing.
    pub fn verify(&self, hash: &blake3::Hash) -> Result<bool> {
        let path = self.path_of(hash);
        let mut file = fs::File::open(&path).map_err(|e| Error::io(path.display(), e))?;
        let mut hasher = blake3::Hasher::new();
        io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path.display(), e))?;
        Ok(hasher.finalize() == *hash)
    }
}

/// Fsyncs a directory, so a rename or create in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir.display(), e))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn put(store: &ContentStore, body: &[u8]) -> blake3::Hash {
        let hash = blake3::hash(body);
        let (path, mut file) = store.incoming().unwrap();
        file.write_all(body).unwrap();
        store.commit_incoming(&path, file, &hash).unwrap();
        hash
    }

    #[test]
    fn bodies_are_stored_once_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::new(dir.path().join("content"));
        let h = put(&store, b"hello");
        assert_eq!(put(&store, b"hello"), h);
        assert_eq!(store.list().unwrap().len(), 1, "the second copy is dropped");
        assert_eq!(fs::read(store.path_of(&h)).unwrap(), b"hello");
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].size, 5);
        assert!(store.verify(&h).unwrap());
        fs::write(store.path_of(&h), b"jello").unwrap();
        assert!(!store.verify(&h).unwrap());
        assert!(store.stale_incoming().unwrap().is_empty());
    }
}

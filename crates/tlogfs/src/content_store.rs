//! `content/`: file bodies too large to keep inline, one plain file per BLAKE3 hash.
//!
//! A body lives at `content/<first two hex digits>/<64 hex digits>`. It is written to
//! `content/.incoming/` while it streams in, fsynced, then renamed into place (and the
//! directory fsynced) before the commit that references it: a commit never names a body
//! that is not durable. A body no commit references (a crash, a rollback) is an orphan:
//! harmless, and removed by `maintain` once older than its grace period. Equal bodies are
//! stored once. Beside a body larger than a block lie its block hashes
//! (`<64 hex digits>.blocks`, see [`crate::blocks`]), so every read of it is checked.
//!
//! On an object store the layout is the same. A body streams into a local incoming
//! directory, is uploaded (its block hashes first; multipart when large, checked against
//! its hash as it goes) and only then referenced; reads fetch the blocks they need by
//! range.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::blocks::{BLOCK, BlockCvs, BlockHasher, Check, CheckedReader};
use crate::error::{Error, Result};
use crate::store::Store;

/// The content store of one pond.
#[derive(Clone, Debug)]
pub struct ContentStore {
    /// Where incoming bodies are written: `<root>/.incoming` for a local store.
    root: PathBuf,
    /// An object store holding the bodies, or `None` when they are files below `root`.
    object: Option<Store>,
    /// The block hashes of bodies opened in this process, checked against their names.
    checked: Arc<Mutex<HashMap<blake3::Hash, Arc<BlockCvs>>>>,
}

/// What [`ContentStore::verify`] found of one body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyCheck {
    /// Its bytes hash to its name.
    Intact,
    /// Its bytes do not hash to its name.
    Damaged,
    /// The body is intact, its block hashes (at the path given by
    /// [`ContentStore::blocks_path_of`]) are not.
    BlocksDamaged,
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
        ContentStore {
            root: root.into(),
            object: None,
            checked: Arc::default(),
        }
    }

    /// The store of bodies in the object store `store` (normally `<pond>/content`), whose
    /// incoming bodies are written below the local directory `local` first.
    pub fn on(store: Store, local: impl Into<PathBuf>) -> Self {
        ContentStore {
            root: local.into(),
            object: Some(store),
            checked: Arc::default(),
        }
    }

    /// The key of the body `hash` in the store.
    fn key_of(hash: &blake3::Hash) -> String {
        let hex = hash.to_hex();
        format!("{}/{}", &hex[..2], hex.as_str())
    }

    /// The body `hash`, as messages name it.
    pub fn shown(&self, hash: &blake3::Hash) -> String {
        match &self.object {
            Some(store) => store.shown(&Self::key_of(hash)),
            None => self.path_of(hash).display().to_string(),
        }
    }

    /// Makes the incoming body at `incoming` (already fully written) durable in the store
    /// under `hash`, with its block hashes `cvs`; see [`commit_incoming`](Self::commit_incoming).
    pub(crate) async fn store_incoming(
        &self,
        incoming: PathBuf,
        file: fs::File,
        hash: blake3::Hash,
        cvs: BlockCvs,
    ) -> Result<()> {
        let Some(store) = &self.object else {
            let this = self.clone();
            return tokio::task::spawn_blocking(move || {
                this.commit_incoming(&incoming, file, &hash, &cvs)
            })
            .await
            .map_err(|e| Error::internal(format!("storing a body: {e}")))?;
        };
        drop(file);
        let key = Self::key_of(&hash);
        let uploaded = async {
            if store.size(&key).await?.is_some() {
                return Ok(());
            }
            if !cvs.is_empty() {
                let bytes: Vec<u8> = cvs.iter().flatten().copied().collect();
                store.put(&format!("{key}.blocks"), bytes.into()).await?;
            }
            let name = incoming.display().to_string();
            let local = Store::local(
                incoming
                    .parent()
                    .expect("incoming files are in a directory"),
            );
            let file_name = incoming
                .file_name()
                .expect("a file")
                .to_string_lossy()
                .to_string();
            let chunks = local
                .stream(&file_name)
                .await?
                .ok_or_else(|| Error::io(&name, io::ErrorKind::NotFound.into()))?;
            store
                .put_checked(&key, chunks, hash, &name)
                .await
                .map(|_| ())
        }
        .await;
        let _ = tokio::fs::remove_file(&incoming).await;
        uploaded
    }

    /// Makes `bytes`, whose BLAKE3 is `hash`, durable in the store (see [`put`](Self::put)).
    pub(crate) async fn store(&self, hash: blake3::Hash, bytes: bytes::Bytes) -> Result<()> {
        match &self.object {
            None => {
                let this = self.clone();
                tokio::task::spawn_blocking(move || this.put(&hash, &bytes))
                    .await
                    .map_err(|e| Error::internal(format!("storing a body: {e}")))?
            }
            Some(store) => {
                let key = Self::key_of(&hash);
                if store.size(&key).await?.is_none() {
                    store.put(&key, bytes).await?;
                }
                Ok(())
            }
        }
    }

    /// The body `hash`, `len` bytes, for reading, every byte read checked (see
    /// [`crate::blocks`]).
    pub(crate) async fn open(&self, hash: blake3::Hash, len: u64) -> Result<CheckedReader> {
        let Some(store) = &self.object else {
            let this = self.clone();
            return tokio::task::spawn_blocking(move || this.open_checked(&hash))
                .await
                .map_err(|e| Error::internal(format!("opening a body: {e}")))?;
        };
        let key = Self::key_of(&hash);
        if len <= BLOCK {
            return Ok(CheckedReader::remote(
                store.clone(),
                key,
                len,
                Check::Whole(hash),
            ));
        }
        let known = self
            .checked
            .lock()
            .expect("not poisoned")
            .get(&hash)
            .cloned();
        let cvs = match known {
            Some(cvs) => cvs,
            None => {
                let stored = store.get(&format!("{key}.blocks")).await?;
                let cvs: Option<BlockCvs> = stored.filter(|b| b.len() % 32 == 0).map(|b| {
                    b.chunks_exact(32)
                        .map(|cv| cv.try_into().expect("32 bytes"))
                        .collect()
                });
                let cvs = match cvs {
                    Some(cvs) if crate::blocks::root(&cvs, len) == Some(hash) => cvs,
                    // Missing or damaged block hashes: made by reading the body whole.
                    _ => {
                        let (made, cvs) = hash_object(store, &key).await?;
                        if made != hash {
                            return Err(damaged_body(store.shown(&key)));
                        }
                        cvs
                    }
                };
                let cvs = Arc::new(cvs);
                self.checked
                    .lock()
                    .expect("not poisoned")
                    .insert(hash, cvs.clone());
                cvs
            }
        };
        Ok(CheckedReader::remote(
            store.clone(),
            key,
            len,
            Check::Blocks(cvs),
        ))
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

    /// Where the block hashes of the body with `hash` live.
    pub fn blocks_path_of(&self, hash: &blake3::Hash) -> PathBuf {
        let mut path = self.path_of(hash).into_os_string();
        path.push(".blocks");
        path.into()
    }

    /// A new incoming body file, for a writer to stream into.
    pub fn incoming(&self) -> Result<(PathBuf, fs::File)> {
        let dir = self.root.join(".incoming");
        fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
        let path = dir.join(uuid::Uuid::now_v7().to_string());
        let file = fs::File::create_new(&path).map_err(|e| Error::io(path.display(), e))?;
        Ok((path, file))
    }

    /// Makes the incoming body at `incoming` (already fully written) durable under `hash`,
    /// with its block hashes `cvs` (none for a body of one block).
    pub fn commit_incoming(
        &self,
        incoming: &Path,
        file: fs::File,
        hash: &blake3::Hash,
        cvs: &BlockCvs,
    ) -> Result<()> {
        file.sync_all()
            .map_err(|e| Error::io(incoming.display(), e))?;
        drop(file);
        let dest = self.path_of(hash);
        let dir = dest.parent().expect("a content path has a parent");
        fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        if dest.exists() {
            // Same hash, same bytes: keep the one already there, made young again so that
            // a `maintain` sweeping it as an old orphan leaves it to the commit in flight.
            fs::remove_file(incoming).map_err(|e| Error::io(incoming.display(), e))?;
            return touch(&dest);
        }
        if !cvs.is_empty() {
            // Written before the body, so a body in place has its block hashes (a body
            // without them, from a crash between the renames or an older pond, is checked
            // by reading it whole).
            let (staged, mut out) = self.incoming()?;
            let bytes: Vec<u8> = cvs.iter().flatten().copied().collect();
            io::Write::write_all(&mut out, &bytes)
                .and_then(|()| out.sync_all())
                .map_err(|e| Error::io(staged.display(), e))?;
            let blocks = self.blocks_path_of(hash);
            fs::rename(&staged, &blocks).map_err(|e| Error::io(blocks.display(), e))?;
        }
        fs::rename(incoming, &dest).map_err(|e| Error::io(dest.display(), e))?;
        sync_dir(dir)
    }

    /// Makes `bytes`, whose BLAKE3 is `hash`, durable in the store (a body of one block:
    /// the bodies a log merge moves out of its rows, see `merge.rs`).
    pub fn put(&self, hash: &blake3::Hash, bytes: &[u8]) -> Result<()> {
        debug_assert!(
            bytes.len() as u64 <= BLOCK,
            "a larger body needs block hashes"
        );
        let dest = self.path_of(hash);
        if dest.exists() {
            return touch(&dest);
        }
        let (incoming, mut file) = self.incoming()?;
        io::Write::write_all(&mut file, bytes).map_err(|e| Error::io(incoming.display(), e))?;
        self.commit_incoming(&incoming, file, hash, &BlockCvs::default())
    }

    /// The body `hash` for reading, every byte read checked (see [`crate::blocks`]).
    /// Blocking: a body without block hashes, or whose block hashes are damaged, is read
    /// whole here to make them.
    pub(crate) fn open_checked(&self, hash: &blake3::Hash) -> Result<CheckedReader> {
        let path = self.path_of(hash);
        let file = fs::File::open(&path).map_err(|e| Error::io(path.display(), e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io(path.display(), e))?
            .len();
        let check = if len <= BLOCK {
            Check::Whole(*hash)
        } else {
            Check::Blocks(self.block_cvs(hash, &path, len)?)
        };
        Ok(CheckedReader::new(
            file,
            path.display().to_string(),
            len,
            check,
        ))
    }

    /// The block hashes of the body `hash` (`len` bytes at `path`): from its `.blocks`
    /// file if they give its name, else made by reading the body whole.
    fn block_cvs(&self, hash: &blake3::Hash, path: &Path, len: u64) -> Result<Arc<BlockCvs>> {
        if let Some(cvs) = self.checked.lock().expect("not poisoned").get(hash) {
            return Ok(cvs.clone());
        }
        let cvs = match self.stored_cvs(hash) {
            Some(cvs) if crate::blocks::root(&cvs, len) == Some(*hash) => cvs,
            _ => {
                let (made, cvs) = hash_body(path)?;
                if made != *hash {
                    return Err(damaged_body(path.display()));
                }
                cvs
            }
        };
        let cvs = Arc::new(cvs);
        self.checked
            .lock()
            .expect("not poisoned")
            .insert(*hash, cvs.clone());
        Ok(cvs)
    }

    /// The block hashes stored beside the body `hash`, unchecked; `None` if there are none
    /// or they cannot be read.
    fn stored_cvs(&self, hash: &blake3::Hash) -> Option<BlockCvs> {
        let bytes = fs::read(self.blocks_path_of(hash)).ok()?;
        if bytes.len() % 32 != 0 {
            return None;
        }
        Some(
            bytes
                .chunks_exact(32)
                .map(|cv| cv.try_into().expect("32 bytes"))
                .collect(),
        )
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

    /// Re-hashes the body `hash` and compares its block hashes with those stored beside it
    /// (a body without them is intact if it hashes to its name); [`Error::Io`] with
    /// `NotFound` if it is missing.
    pub fn verify(&self, hash: &blake3::Hash) -> Result<BodyCheck> {
        let (made, cvs) = hash_body(&self.path_of(hash))?;
        if made != *hash {
            return Ok(BodyCheck::Damaged);
        }
        if !self.blocks_path_of(hash).exists() || self.stored_cvs(hash) == Some(cvs) {
            Ok(BodyCheck::Intact)
        } else {
            Ok(BodyCheck::BlocksDamaged)
        }
    }

    /// [`verify`](Self::verify), wherever the store is; a missing body is [`Error::Io`] with
    /// `NotFound`.
    pub async fn check(&self, hash: &blake3::Hash) -> Result<BodyCheck> {
        let Some(store) = &self.object else {
            let (this, hash) = (self.clone(), *hash);
            return tokio::task::spawn_blocking(move || this.verify(&hash))
                .await
                .map_err(|e| Error::internal(format!("verifying a body: {e}")))?;
        };
        let key = Self::key_of(hash);
        let (made, cvs) = hash_object(store, &key).await?;
        if made != *hash {
            return Ok(BodyCheck::Damaged);
        }
        let stored = store.get(&format!("{key}.blocks")).await?;
        let intact = stored.is_none_or(|bytes| {
            let flat: Vec<u8> = cvs.iter().flatten().copied().collect();
            bytes.as_ref() == flat.as_slice()
        });
        Ok(if intact {
            BodyCheck::Intact
        } else {
            BodyCheck::BlocksDamaged
        })
    }

    /// The bytes of the stored bodies, where that is cheap to know (a local store); for
    /// progress.
    pub async fn stored_bytes(&self) -> Result<Option<u64>> {
        if self.object.is_some() {
            return Ok(None);
        }
        let this = self.clone();
        let bodies = tokio::task::spawn_blocking(move || this.list())
            .await
            .map_err(|e| Error::internal(format!("listing bodies: {e}")))??;
        Ok(Some(bodies.iter().map(|b| b.size).sum()))
    }

    /// Removes the body `hash` and its block hashes, unless it was modified at or after
    /// `cutoff` (a writer found it already stored, and a commit in flight will reference
    /// it); whether it was removed.
    pub fn remove_older(&self, hash: &blake3::Hash, cutoff: SystemTime) -> Result<bool> {
        let path = self.path_of(hash);
        let modified = fs::metadata(&path)
            .and_then(|m| m.modified())
            .map_err(|e| Error::io(path.display(), e))?;
        if modified >= cutoff {
            return Ok(false);
        }
        self.remove(hash)?;
        Ok(true)
    }

    /// Removes the body `hash` and its block hashes.
    pub fn remove(&self, hash: &blake3::Hash) -> Result<()> {
        let path = self.path_of(hash);
        fs::remove_file(&path).map_err(|e| Error::io(path.display(), e))?;
        let blocks = self.blocks_path_of(hash);
        match fs::remove_file(&blocks) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(blocks.display(), e)),
            _ => Ok(()),
        }
    }
}

/// Sets the modification time of the body at `path` to now.
fn touch(path: &Path) -> Result<()> {
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(SystemTime::now()))
        .map_err(|e| Error::io(path.display(), e))
}

/// The error for the body at `shown` that does not hash to its name.
fn damaged_body(shown: impl std::fmt::Display) -> Error {
    Error::io(
        shown,
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the body is damaged: it does not hash to its name",
        ),
    )
}

/// The hash and block hashes of the object `key` in `store`, streamed whole; `NotFound`
/// if it is not there.
async fn hash_object(store: &Store, key: &str) -> Result<(blake3::Hash, BlockCvs)> {
    let mut chunks = store
        .stream(key)
        .await?
        .ok_or_else(|| Error::io(store.shown(key), io::ErrorKind::NotFound.into()))?;
    let mut hasher = BlockHasher::new();
    while let Some(chunk) = futures::StreamExt::next(&mut chunks).await {
        hasher.update(&chunk?);
    }
    Ok(hasher.finalize())
}

/// The hash and block hashes of the file at `path`, read whole.
fn hash_body(path: &Path) -> Result<(blake3::Hash, BlockCvs)> {
    let mut file = fs::File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let mut hasher = BlockHasher::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| Error::io(path.display(), e))?;
        if n == 0 {
            return Ok(hasher.finalize());
        }
        hasher.update(&buffer[..n]);
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
        let mut hasher = BlockHasher::new();
        hasher.update(body);
        let (hash, cvs) = hasher.finalize();
        let (path, mut file) = store.incoming().unwrap();
        file.write_all(body).unwrap();
        store.commit_incoming(&path, file, &hash, &cvs).unwrap();
        hash
    }

    async fn read(store: &ContentStore, hash: &blake3::Hash) -> std::io::Result<Vec<u8>> {
        use tokio::io::AsyncReadExt;
        let mut out = Vec::new();
        let mut reader = store.open_checked(hash).map_err(std::io::Error::other)?;
        reader.read_to_end(&mut out).await?;
        Ok(out)
    }

    /// A large body's block hashes: stored beside it, checked by verify, and when damaged
    /// or missing made again from the body, which is still read.
    #[tokio::test]
    async fn large_bodies_are_checked_by_block() {
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..3 * BLOCK + 5).map(|i| (i % 251) as u8).collect();
        let store = ContentStore::new(dir.path().join("content"));
        let h = put(&store, &body);
        let blocks = store.blocks_path_of(&h);
        assert_eq!(fs::read(&blocks).unwrap().len(), 4 * 32);
        assert_eq!(
            store.list().unwrap().len(),
            1,
            "block hashes are not a body"
        );
        assert_eq!(store.verify(&h).unwrap(), BodyCheck::Intact);
        assert_eq!(read(&store, &h).await.unwrap(), body);

        let mut cvs = fs::read(&blocks).unwrap();
        cvs[40] ^= 1;
        fs::write(&blocks, &cvs).unwrap();
        assert_eq!(store.verify(&h).unwrap(), BodyCheck::BlocksDamaged);
        let fresh = ContentStore::new(dir.path().join("content"));
        assert_eq!(read(&fresh, &h).await.unwrap(), body);
        fs::remove_file(&blocks).unwrap();
        assert_eq!(store.verify(&h).unwrap(), BodyCheck::Intact);

        let mut damaged = body.clone();
        damaged[(BLOCK + 3) as usize] ^= 0x80;
        fs::write(store.path_of(&h), &damaged).unwrap();
        assert_eq!(store.verify(&h).unwrap(), BodyCheck::Damaged);
        let fresh = ContentStore::new(dir.path().join("content"));
        let err = fresh.open_checked(&h).err().expect("refused");
        assert!(
            err.to_string().contains("does not hash to its name"),
            "{err}"
        );
        // A process that checked the block hashes before the damage meets it in the read.
        let err = read(&store, &h).await.unwrap_err();
        assert!(err.to_string().contains("bytes 262144..524288"), "{err}");
        store.remove(&h).unwrap();
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn a_body_stored_again_is_young_again_and_not_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::new(dir.path().join("content"));
        let h = put(&store, b"an orphan, for now");
        let old = SystemTime::now() - std::time::Duration::from_secs(7200);
        fs::File::options()
            .write(true)
            .open(store.path_of(&h))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let cutoff = SystemTime::now() - std::time::Duration::from_secs(3600);
        assert!(store.list().unwrap()[0].modified < cutoff);
        // A writer of the same bytes finds it stored: its commit will reference it.
        assert_eq!(put(&store, b"an orphan, for now"), h);
        assert!(!store.remove_older(&h, cutoff).unwrap(), "kept");
        assert!(store.path_of(&h).exists());
        assert!(
            store
                .remove_older(&h, SystemTime::now() + std::time::Duration::from_secs(1))
                .unwrap()
        );
        assert!(!store.path_of(&h).exists());
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
        assert_eq!(store.verify(&h).unwrap(), BodyCheck::Intact);
        assert!(
            !store.blocks_path_of(&h).exists(),
            "one block is checked whole"
        );
        fs::write(store.path_of(&h), b"jello").unwrap();
        assert_eq!(store.verify(&h).unwrap(), BodyCheck::Damaged);
        assert!(store.stale_incoming().unwrap().is_empty());
    }
}

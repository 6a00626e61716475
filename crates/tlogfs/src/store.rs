//! Where a pond's objects are kept: a local directory, or an object store.
//!
//! A [`Store`] holds a pond's files by key, the path below the pond
//! (`log/_delta_log/00000000000000000001.json`, `content/ab/ab12…`). It offers what a pond
//! needs and no more: read an object, write one (replacing it), *create* one only if the key
//! is free (how a commit claims its version number, and why a store that cannot do that
//! atomically cannot hold a pond), and list keys. Everything it writes is durable once the
//! call returns: in a local directory, written to a staging file, fsynced, renamed or linked
//! into place, and the directory fsynced.
//!
//! Locations: a path or `file://` URL (a local directory); `s3://BUCKET/PREFIX` (any
//! S3-compatible service: endpoint, region, path style and credentials from the standard
//! `AWS_*` variables, such as `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_ALLOW_HTTP`; nothing of them is written anywhere); or
//! `memory://NAME` (an object store in this process's memory, shared by every `Store`
//! opened at that URL: for tests).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The bytes of an object, in chunks.
pub type Chunks = BoxStream<'static, Result<Bytes>>;

/// The size of the chunks a local object is read in, and of the parts a large object is
/// uploaded in.
const CHUNK: usize = 8 << 20;

use crate::error::{Error, Result};

/// A pond's objects, by key.
#[derive(Clone, Debug)]
pub struct Store {
    url: String,
    kind: Kind,
    /// Bytes fetched from an object store through this store and the stores made from it
    /// ([`child`](Self::child), clones).
    fetched: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Clone, Debug)]
enum Kind {
    Local(PathBuf),
    Object {
        store: Arc<dyn ObjectStore>,
        prefix: object_store::path::Path,
    },
}

/// The in-memory stores of this process, by name.
static MEMORY: LazyLock<Mutex<HashMap<String, Arc<object_store::memory::InMemory>>>> =
    LazyLock::new(Default::default);

impl Store {
    /// The local directory `dir`.
    pub fn local(dir: &Path) -> Store {
        Store {
            url: dir.display().to_string(),
            kind: Kind::Local(dir.to_path_buf()),
            fetched: Arc::default(),
        }
    }

    /// The store at `location`: a path, a `file://` URL, `s3://BUCKET/PREFIX` (configured
    /// from the `AWS_*` variables) or `memory://NAME`.
    pub fn open(location: &str) -> Result<Store> {
        Store::open_with(location, &[])
    }

    /// [`open`](Self::open), with settings of an S3 store given (`aws_endpoint`,
    /// `aws_allow_http`, `aws_access_key_id`, ...) over those of the environment.
    pub fn open_with(location: &str, settings: &[(&str, &str)]) -> Result<Store> {
        let refuse = |why: &str| Error::Location {
            location: location.to_string(),
            detail: why.to_string(),
        };
        let Some((scheme, rest)) = location.split_once("://") else {
            return Ok(Store::local(Path::new(location)));
        };
        match scheme {
            "file" => {
                let url = url::Url::parse(location).map_err(|e| refuse(&e.to_string()))?;
                let dir = url
                    .to_file_path()
                    .map_err(|()| refuse("not a local path"))?;
                Ok(Store {
                    url: location.to_string(),
                    kind: Kind::Local(dir),
                    fetched: Arc::default(),
                })
            }
            "memory" => {
                let (name, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let store = lock(&MEMORY)
                    .entry(name.to_string())
                    .or_insert_with(|| Arc::new(object_store::memory::InMemory::new()))
                    .clone();
                Ok(Store {
                    url: location.to_string(),
                    kind: Kind::Object {
                        store,
                        prefix: object_store::path::Path::from(prefix),
                    },
                    fetched: Arc::default(),
                })
            }
            "s3" => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(refuse("no bucket (s3://BUCKET/PREFIX)"));
                }
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(format!("s3://{bucket}"));
                for (key, value) in settings {
                    let key = key
                        .parse()
                        .map_err(|e: object_store::Error| refuse(&e.to_string()))?;
                    builder = builder.with_config(key, *value);
                }
                let store = builder.build().map_err(|e| refuse(&e.to_string()))?;
                Ok(Store {
                    url: location.to_string(),
                    kind: Kind::Object {
                        store: Arc::new(store),
                        prefix: object_store::path::Path::from(prefix),
                    },
                    fetched: Arc::default(),
                })
            }
            _ => Err(refuse(&format!(
                "pond does not know the scheme {scheme}:// (a path, file:// or s3://)"
            ))),
        }
    }

    /// The store of the keys below `sub` (a directory: `log`, `content`), as a store of
    /// its own.
    pub fn child(&self, sub: &str) -> Store {
        let url = format!("{}/{sub}", self.url.trim_end_matches('/'));
        let kind = match &self.kind {
            Kind::Local(dir) => Kind::Local(dir.join(sub)),
            Kind::Object { store, prefix } => Kind::Object {
                store: store.clone(),
                prefix: Self::object_path(prefix, sub),
            },
        };
        Store {
            url,
            kind,
            fetched: self.fetched.clone(),
        }
    }

    /// The object store and the URL of this store's root in it, for a Delta table there
    /// (`None` for a local directory, which Delta opens by its path).
    pub(crate) fn object_store(&self) -> Option<(Arc<dyn ObjectStore>, url::Url)> {
        match &self.kind {
            Kind::Local(_) => None,
            Kind::Object { store, prefix } => {
                let scheme = self.url.split_once("://").map_or("memory", |(s, _)| s);
                let bucket = self
                    .url
                    .split_once("://")
                    .map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
                let below = match prefix.as_ref() {
                    "" => String::new(),
                    prefix => format!("{prefix}/"),
                };
                let url = url::Url::parse(&format!("{scheme}://{bucket}/{below}")).ok()?;
                Some((store.clone(), url))
            }
        }
    }

    /// The bytes fetched from the object store so far by [`get`](Self::get),
    /// [`get_range`](Self::get_range) and [`stream`](Self::stream), through this store and those made from it (none for
    /// a local directory): what reads cost, for tests and benchmarks.
    pub fn bytes_fetched(&self) -> u64 {
        self.fetched.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count(&self, bytes: usize) {
        self.fetched
            .fetch_add(bytes as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Where the store is, as it was named.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The local directory, if the store is one.
    pub fn local_dir(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Local(dir) => Some(dir),
            Kind::Object { .. } => None,
        }
    }

    /// `key` as messages name it.
    pub fn shown(&self, key: &str) -> String {
        format!("{}/{key}", self.url.trim_end_matches('/'))
    }

    fn object_path(prefix: &object_store::path::Path, key: &str) -> object_store::path::Path {
        key.split('/')
            .filter(|p| !p.is_empty())
            .fold(prefix.clone(), |path, part| path.clone().join(part))
    }

    /// What a store call on `key` gave, `None` for an object that is not there.
    fn found<T>(&self, key: &str, result: object_store::Result<T>) -> Result<Option<T>> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(key, e)),
        }
    }

    fn error(&self, key: &str, source: object_store::Error) -> Error {
        Error::Store {
            object: self.shown(key),
            source,
        }
    }

    /// The object at `key`, or `None` if there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match &self.kind {
            Kind::Local(dir) => {
                let path = dir.join(key);
                blocking(move || Ok(found(std::fs::read(&path), &path)?.map(Bytes::from))).await
            }
            Kind::Object { store, prefix } => {
                let got = store.get(&Self::object_path(prefix, key)).await;
                match self.found(key, got)? {
                    Some(got) => {
                        let bytes = got.bytes().await.map_err(|e| self.error(key, e))?;
                        self.count(bytes.len());
                        Ok(Some(bytes))
                    }
                    None => Ok(None),
                }
            }
        }
    }

    /// The bytes `range` of the object at `key` (an error if it is not there).
    pub async fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<Bytes> {
        match &self.kind {
            Kind::Local(dir) => {
                let path = dir.join(key);
                blocking(move || {
                    use std::os::unix::fs::FileExt;
                    let file =
                        std::fs::File::open(&path).map_err(|e| Error::io(path.display(), e))?;
                    let mut bytes = vec![0; (range.end - range.start) as usize];
                    file.read_exact_at(&mut bytes, range.start)
                        .map_err(|e| Error::io(path.display(), e))?;
                    Ok(Bytes::from(bytes))
                })
                .await
            }
            Kind::Object { store, prefix } => {
                let bytes = store
                    .get_range(&Self::object_path(prefix, key), range)
                    .await
                    .map_err(|e| self.error(key, e))?;
                self.count(bytes.len());
                Ok(bytes)
            }
        }
    }

    /// The size of the object at `key`, or `None` if there is none.
    pub async fn size(&self, key: &str) -> Result<Option<u64>> {
        match &self.kind {
            Kind::Local(dir) => {
                let path = dir.join(key);
                blocking(move || Ok(found(std::fs::metadata(&path), &path)?.map(|m| m.len()))).await
            }
            Kind::Object { store, prefix } => {
                let meta = store.head(&Self::object_path(prefix, key)).await;
                Ok(self.found(key, meta)?.map(|m| m.size))
            }
        }
    }

    /// The object at `key` in chunks, or `None` if there is none: memory stays bounded
    /// whatever its size.
    pub async fn stream(&self, key: &str) -> Result<Option<Chunks>> {
        match &self.kind {
            Kind::Local(dir) => {
                let path = dir.join(key);
                let Some(file) = found(tokio::fs::File::open(&path).await, &path)? else {
                    return Ok(None);
                };
                let chunks = futures::stream::try_unfold((file, path), |(mut file, path)| async {
                    let mut buf = Vec::with_capacity(CHUNK);
                    let n = (&mut file)
                        .take(CHUNK as u64)
                        .read_to_end(&mut buf)
                        .await
                        .map_err(|e| Error::io(path.display(), e))?;
                    Ok((n > 0).then(|| (Bytes::from(buf), (file, path))))
                });
                Ok(Some(chunks.boxed()))
            }
            Kind::Object { store, prefix } => {
                let got = store.get(&Self::object_path(prefix, key)).await;
                let shown = self.shown(key);
                let fetched = self.fetched.clone();
                Ok(self.found(key, got)?.map(|got| {
                    got.into_stream()
                        .inspect_ok(move |chunk| {
                            fetched.fetch_add(
                                chunk.len() as u64,
                                std::sync::atomic::Ordering::Relaxed,
                            );
                        })
                        .map_err(move |source| Error::Store {
                            object: shown.clone(),
                            source,
                        })
                        .boxed()
                }))
            }
        }
    }

    /// Writes the bytes `chunks` yields at `key`, replacing what was there, if they hash
    /// to `expected`; the bytes written. Bytes that do not are refused, naming `source`,
    /// and leave nothing at `key` (a local write is staged, a large upload is aborted).
    pub async fn put_checked(
        &self,
        key: &str,
        mut chunks: Chunks,
        expected: blake3::Hash,
        source: &str,
    ) -> Result<u64> {
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        let refused = || Error::Corrupt {
            file: source.to_string(),
            detail: "does not match the BLAKE3 the log records of it (run `pond verify`); \
                     nothing damaged was copied"
                .into(),
        };
        match &self.kind {
            Kind::Local(dir) => {
                let path = dir.join(key);
                let parent = path.parent().expect("a key has a directory").to_path_buf();
                tokio::fs::create_dir_all(&parent)
                    .await
                    .map_err(|e| Error::io(parent.display(), e))?;
                let name = path
                    .file_name()
                    .expect("a key has a name")
                    .to_string_lossy();
                let staging = parent.join(format!(".{name}.{}", uuid::Uuid::now_v7().simple()));
                let written = async {
                    let io = |e| Error::io(staging.display(), e);
                    let mut file = tokio::fs::File::create_new(&staging).await.map_err(io)?;
                    while let Some(chunk) = chunks.next().await {
                        let chunk = chunk?;
                        hasher.update(&chunk);
                        size += chunk.len() as u64;
                        file.write_all(&chunk).await.map_err(io)?;
                    }
                    if hasher.finalize() != expected {
                        return Err(refused());
                    }
                    file.sync_all().await.map_err(io)?;
                    tokio::fs::rename(&staging, &path)
                        .await
                        .map_err(|e| Error::io(path.display(), e))
                }
                .await;
                if written.is_err() {
                    let _ = tokio::fs::remove_file(&staging).await;
                }
                written?;
                blocking(move || crate::content_store::sync_dir(&parent)).await?;
                Ok(size)
            }
            Kind::Object { store, prefix } => {
                let path = Self::object_path(prefix, key);
                let upload = store
                    .put_multipart(&path)
                    .await
                    .map_err(|e| self.error(key, e))?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK);
                let written = async {
                    while let Some(chunk) = chunks.next().await {
                        let chunk = chunk?;
                        hasher.update(&chunk);
                        size += chunk.len() as u64;
                        writer
                            .wait_for_capacity(4)
                            .await
                            .map_err(|e| self.error(key, e))?;
                        writer.put(chunk);
                    }
                    Ok(())
                }
                .await;
                match written {
                    Ok(()) if hasher.finalize() == expected => {
                        writer.finish().await.map_err(|e| self.error(key, e))?;
                        Ok(size)
                    }
                    outcome => {
                        let _ = writer.abort().await;
                        outcome.and(Err(refused()))
                    }
                }
            }
        }
    }

    /// Writes `bytes` at `key`, replacing what was there.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        match &self.kind {
            Kind::Local(dir) => {
                let path = dir.join(key);
                blocking(move || local_write(&path, &bytes, false).map(|_| ())).await
            }
            Kind::Object { store, prefix } => store
                .put(&Self::object_path(prefix, key), PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| self.error(key, e)),
        }
    }

    /// Writes `bytes` at `key` only if no object is there; whether it did. Atomic: of two
    /// writers creating the same key, one succeeds and the other finds it taken.
    pub async fn create(&self, key: &str, bytes: Bytes) -> Result<bool> {
        match &self.kind {
            Kind::Local(dir) => {
                let path = dir.join(key);
                blocking(move || local_write(&path, &bytes, true)).await
            }
            Kind::Object { store, prefix } => {
                let options = PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                };
                match store
                    .put_opts(
                        &Self::object_path(prefix, key),
                        PutPayload::from(bytes),
                        options,
                    )
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                    Err(object_store::Error::NotImplemented { .. }) => Err(Error::Location {
                        location: self.url.clone(),
                        detail: "this store cannot create an object only if it is absent, \
                                 so commits to it could be lost; pond does not write to it"
                            .into(),
                    }),
                    Err(e) => Err(self.error(key, e)),
                }
            }
        }
    }

    /// Removes the object at `key`, if there is one.
    pub async fn delete(&self, key: &str) -> Result<()> {
        match &self.kind {
            Kind::Local(dir) => {
                let path = dir.join(key);
                blocking(move || found(std::fs::remove_file(&path), &path).map(|_| ())).await
            }
            Kind::Object { store, prefix } => {
                let gone = store.delete(&Self::object_path(prefix, key)).await;
                self.found(key, gone).map(|_| ())
            }
        }
    }

    /// The keys below `prefix` (a directory, `log/_delta_log`), sorted; names beginning
    /// with `.` (staging files) are left out.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = prefix.trim_end_matches('/').to_string();
        match &self.kind {
            Kind::Local(dir) => {
                let (dir, at) = (dir.clone(), prefix.clone());
                blocking(move || local_list(&dir, &at)).await
            }
            Kind::Object {
                store,
                prefix: root,
            } => {
                let below = Self::object_path(root, &prefix);
                let found: Vec<object_store::ObjectMeta> = store
                    .list(Some(&below))
                    .try_collect()
                    .await
                    .map_err(|e| self.error(&prefix, e))?;
                let root_parts = root.parts().count();
                let mut keys: Vec<String> = found
                    .into_iter()
                    .map(|m| {
                        m.location
                            .parts()
                            .skip(root_parts)
                            .map(|p| p.as_ref().to_string())
                            .collect::<Vec<_>>()
                    })
                    .filter(|parts| parts.last().is_some_and(|n| !n.starts_with('.')))
                    .map(|parts| parts.join("/"))
                    .collect();
                keys.sort();
                Ok(keys)
            }
        }
    }
}

/// What a file call on `path` gave, `None` for a file that is not there.
fn found<T>(result: std::io::Result<T>, path: &Path) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path.display(), e)),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("a storage task: {e}")))?
}

/// Writes `bytes` at `path` durably: a staging file beside it, fsynced, then renamed over it
/// (or, with `create`, linked to it only if it is free), and the directory fsynced.
fn local_write(path: &Path, bytes: &[u8], create: bool) -> Result<bool> {
    use std::io::Write;
    let io = |p: &Path, e| Error::io(p.display(), e);
    let dir = path.parent().expect("a key has a directory");
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let name = path
        .file_name()
        .expect("a key has a name")
        .to_string_lossy();
    let staging = dir.join(format!(".{name}.{}", uuid::Uuid::now_v7().simple()));
    let mut file = std::fs::File::create_new(&staging).map_err(|e| io(&staging, e))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io(&staging, e));
    drop(file);
    let placed = written.and_then(|()| {
        if create {
            match std::fs::hard_link(&staging, path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(io(path, e)),
            }
        } else {
            std::fs::rename(&staging, path)
                .map(|()| true)
                .map_err(|e| io(path, e))
        }
    });
    let _ = std::fs::remove_file(&staging);
    let placed = placed?;
    crate::content_store::sync_dir(dir)?;
    Ok(placed)
}

/// Every file below `dir/prefix`, as keys relative to `dir`.
fn local_list(dir: &Path, prefix: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut stack = vec![prefix.to_string()];
    while let Some(at) = stack.pop() {
        let path = dir.join(&at);
        let Some(entries) = found(std::fs::read_dir(&path), &path)? else {
            continue;
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(path.display(), e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let key = match at.is_empty() {
                true => name,
                false => format!("{at}/{name}"),
            };
            if entry
                .file_type()
                .map_err(|e| Error::io(path.display(), e))?
                .is_dir()
            {
                stack.push(key);
            } else {
                keys.push(key);
            }
        }
    }
    keys.sort();
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn behaves(store: Store) {
        assert_eq!(store.get("log/a.json").await.unwrap(), None);
        assert!(
            store
                .create("log/a.json", Bytes::from("one"))
                .await
                .unwrap()
        );
        assert!(
            !store
                .create("log/a.json", Bytes::from("two"))
                .await
                .unwrap()
        );
        assert_eq!(
            store.get("log/a.json").await.unwrap(),
            Some(Bytes::from("one"))
        );
        store.put("log/a.json", Bytes::from("three")).await.unwrap();
        assert_eq!(store.size("log/a.json").await.unwrap(), Some(5));
        store.put("content/ab/cd", Bytes::from("x")).await.unwrap();
        store
            .put("log/b/c.parquet", Bytes::from("y"))
            .await
            .unwrap();
        assert_eq!(
            store.list("log").await.unwrap(),
            ["log/a.json", "log/b/c.parquet"]
        );
        assert_eq!(store.list("content/").await.unwrap(), ["content/ab/cd"]);
        assert!(store.list("nothing").await.unwrap().is_empty());
        // Of many writers racing to create one key, exactly one wins.
        let racers = (0..8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create("log/race.json", Bytes::from(format!("{i}")))
                    .await
                    .unwrap()
            })
        });
        let won = futures::future::join_all(racers)
            .await
            .into_iter()
            .filter(|w| *w.as_ref().unwrap())
            .count();
        assert_eq!(won, 1);
    }

    /// A body of 20 MiB (three chunks, a multipart upload) streamed from `source` into
    /// `store` and back; one that does not hash as expected leaves nothing.
    async fn streams(store: &Store, source: &Store) {
        let body: Vec<u8> = (0..20u32 << 20).map(|i| (i % 251) as u8).collect();
        source.put("big", Bytes::from(body.clone())).await.unwrap();
        let chunks = source.stream("big").await.unwrap().unwrap();
        let n = store
            .put_checked("content/bi/big", chunks, blake3::hash(&body), "source/big")
            .await
            .unwrap();
        assert_eq!(n, body.len() as u64);
        let back: Vec<Bytes> = store
            .stream("content/bi/big")
            .await
            .unwrap()
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let back: Vec<u8> = back.concat();
        assert!(back == body, "the body comes back whole");
        let chunks = source.stream("big").await.unwrap().unwrap();
        let err = store
            .put_checked(
                "content/xx/bad",
                chunks,
                blake3::hash(b"other"),
                "source/big",
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("source/big: ") && err.contains("nothing damaged was copied"),
            "{err}"
        );
        assert_eq!(store.size("content/xx/bad").await.unwrap(), None);
        assert!(store.stream("nothing").await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_local_directory_and_memory_behave_alike() {
        let dir = tempfile::tempdir().unwrap();
        behaves(Store::local(dir.path())).await;
        // No staging file is left beside what was written.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("log"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let url = url::Url::from_directory_path(dir.path().join("other")).unwrap();
        behaves(Store::open(url.as_str()).unwrap()).await;
        behaves(Store::open("memory://store-test/pond").unwrap()).await;
        // One name, one store.
        let again = Store::open("memory://store-test/pond").unwrap();
        assert_eq!(
            again.get("content/ab/cd").await.unwrap(),
            Some(Bytes::from("x"))
        );
        let source = Store::open("memory://store-test-source").unwrap();
        streams(&Store::local(dir.path()), &source).await;
        streams(
            &Store::open("memory://store-test/pond").unwrap(),
            &Store::local(dir.path()),
        )
        .await;
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("content/xx"))
            .map(|d| d.collect::<Vec<_>>())
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let err = Store::open("ftp://host/pond").unwrap_err().to_string();
        assert!(err.contains("ftp://"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_s3_store_behaves_alike() {
        let server = crate::testkit::S3Server::start();
        behaves(server.store("store-test")).await;
        streams(
            &server.store("store-test"),
            &Store::open("memory://s3-source").unwrap(),
        )
        .await;
        // Another prefix of the bucket is another store.
        let other = server.store("elsewhere");
        assert!(other.list("log").await.unwrap().is_empty());
    }
}

//! `hostmount`: a read-only, live mirror of a host directory.
//!
//! ```yaml
//! directory: /srv/instruments
//! ```
//!
//! Every read goes to the host: a file added there is listed at once. Files are
//! `file:data` with one version (size and modification time from the host, BLAKE3 computed
//! when asked, cached for the process by path, size and mtime). Host symlinks are not
//! shown, so no pond path can leave the mounted directory (names are single components;
//! `..` is resolved by the pond path, above the mount). What this does not stop: a process
//! that can write the mounted directory swapping a directory for a symlink between pond's
//! check and its read; mount directories whose writers you trust. Node ids derive from the
//! mount's id and the relative path, so they are stable across reads. Every change fails
//! with a read-only error.

use std::any::Any;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use serde::Deserialize;
use tinyfs::{AsyncReadSeek, Directory, EntryType, File, FileVersion, Node, NodeId, NodeKind};

use crate::registry::{BuildContext, Registry, TypedFactory};

/// The configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostmountConfig {
    /// The host directory, absolute.
    pub directory: PathBuf,
}

/// The `hostmount` factory.
#[derive(Debug)]
pub struct HostmountFactory;

#[async_trait]
impl TypedFactory for HostmountFactory {
    type Config = HostmountConfig;

    fn name(&self) -> &'static str {
        "hostmount"
    }

    fn description(&self) -> &'static str {
        "a read-only, live mirror of a host directory and its subdirectories"
    }

    fn example(&self) -> &'static str {
        "directory: /srv/instruments\n"
    }

    fn entry_type(&self) -> EntryType {
        EntryType::Directory
    }

    fn check(&self, _registry: &Registry, config: &HostmountConfig) -> Result<(), String> {
        if !config.directory.is_absolute() {
            return Err(format!(
                "directory: {} is not an absolute path",
                config.directory.display()
            ));
        }
        Ok(())
    }

    async fn build(&self, ctx: BuildContext, config: HostmountConfig) -> tinyfs::Result<NodeKind> {
        Ok(NodeKind::Directory(Arc::new(HostDir {
            mount: Arc::new(Mount {
                id: ctx.id,
                root: config.directory,
            }),
            id: ctx.id,
            rel: PathBuf::new(),
        })))
    }
}

/// One mount: its id and root.
#[derive(Debug)]
struct Mount {
    id: NodeId,
    root: PathBuf,
}

/// Host file hashes by path, with the size and mtime (ns) they were computed at: kept for
/// the process, as mounts are built anew on every walk through them.
static HASHES: LazyLock<Mutex<HashMap<PathBuf, HashedAt>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A file's size and mtime (ns) when hashed, and its hash.
type HashedAt = (u64, i128, blake3::Hash);

impl Mount {
    fn node_id(&self, rel: &Path) -> NodeId {
        NodeId::derived(&[
            &self.id.as_u128().to_be_bytes(),
            rel.as_os_str().as_encoded_bytes(),
        ])
    }

    fn node(self: &Arc<Self>, parent: NodeId, rel: PathBuf, meta: &std::fs::Metadata) -> Node {
        let id = self.node_id(&rel);
        let kind = if meta.is_dir() {
            NodeKind::Directory(Arc::new(HostDir {
                mount: self.clone(),
                id,
                rel,
            }))
        } else {
            NodeKind::File(Arc::new(HostFile {
                mount: self.clone(),
                rel,
                size: meta.len(),
                mtime_ns: mtime_ns(meta),
            }))
        };
        Node::new(id, parent, kind)
    }
}

/// An I/O error on host path `path`; the pond path is filled in by the caller.
fn host_error(path: &Path, e: std::io::Error) -> tinyfs::Error {
    let kind = e.kind();
    tinyfs::Error::io(
        "",
        std::io::Error::new(kind, format!("host path {}: {e}", path.display())),
    )
}

/// A directory of the mount.
#[derive(Debug)]
struct HostDir {
    mount: Arc<Mount>,
    id: NodeId,
    rel: PathBuf,
}

impl HostDir {
    fn host(&self) -> PathBuf {
        if self.rel.as_os_str().is_empty() {
            self.mount.root.clone()
        } else {
            self.mount.root.join(&self.rel)
        }
    }
}

/// Whether the host entry is shown: directories and regular files, not symlinks or
/// devices.
fn shown(meta: &std::fs::Metadata) -> bool {
    meta.is_dir() || meta.is_file()
}

#[async_trait]
impl Directory for HostDir {
    async fn get(&self, name: &str) -> tinyfs::Result<Option<Node>> {
        let dir = self.host();
        let path = dir.join(name);
        let meta = match tokio::fs::symlink_metadata(&path).await {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // The directory itself missing is an error, not an absent entry.
                tokio::fs::metadata(&dir)
                    .await
                    .map_err(|e| host_error(&dir, e))?;
                return Ok(None);
            }
            Err(e) => return Err(host_error(&path, e)),
        };
        if !shown(&meta) {
            return Ok(None);
        }
        Ok(Some(self.mount.node(self.id, self.rel.join(name), &meta)))
    }

    async fn entries(&self) -> tinyfs::Result<Vec<(String, Node)>> {
        let dir = self.host();
        // One blocking task lists the directory and stats its entries: a thousand files
        // are one trip to the blocking pool, not a thousand.
        let listed = tokio::task::spawn_blocking(move || list_host_dir(&dir))
            .await
            .map_err(|e| tinyfs::Error::internal(format!("listing a host directory: {e}")))??;
        let mut out: Vec<(String, Node)> = listed
            .into_iter()
            .map(|(name, meta)| {
                let node = self.mount.node(self.id, self.rel.join(&name), &meta);
                (name, node)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The shown entries of host directory `dir` with their metadata. Blocking.
fn list_host_dir(dir: &Path) -> tinyfs::Result<Vec<(String, std::fs::Metadata)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| host_error(dir, e))? {
        let entry = entry.map_err(|e| host_error(dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not UTF-8: no pond path can name it
        };
        if tinyfs::validate_name(&name).is_err() {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // just removed
            Err(e) => return Err(host_error(&entry.path(), e)),
        };
        if shown(&meta) {
            out.push((name, meta));
        }
    }
    Ok(out)
}

/// A file of the mount, with its size and mtime (ns) when the walk found it.
#[derive(Debug)]
struct HostFile {
    mount: Arc<Mount>,
    rel: PathBuf,
    size: u64,
    mtime_ns: i128,
}

/// A host file's modification time in nanoseconds since the epoch (0 if unknown).
fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

#[async_trait]
impl File for HostFile {
    fn entry_type(&self) -> EntryType {
        EntryType::FileData
    }

    async fn versions(&self) -> tinyfs::Result<Vec<FileVersion>> {
        // The walk that built this node stated the file; nodes are built anew each walk.
        let path = self.mount.root.join(&self.rel);
        let (size, mtime_ns) = (self.size, self.mtime_ns);
        let cached = HASHES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&path)
            .filter(|(s, m, _)| *s == size && *m == mtime_ns)
            .map(|(_, _, h)| *h);
        let hash = match cached {
            Some(hash) => hash,
            None => {
                let file = path.clone();
                let hash = tokio::task::spawn_blocking(move || {
                    let mut hasher = blake3::Hasher::new();
                    hasher.update_reader(std::fs::File::open(&file)?)?;
                    Ok::<_, std::io::Error>(hasher.finalize())
                })
                .await
                .map_err(|e| tinyfs::Error::internal(format!("hashing: {e}")))?
                .map_err(|e| host_error(&path, e))?;
                HASHES
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(path.clone(), (size, mtime_ns, hash));
                hash
            }
        };
        Ok(vec![FileVersion {
            version: 1,
            size,
            blake3: hash,
            modified_micros: (mtime_ns / 1000) as i64,
            event_time: None,
            members: None,
            rows: None,
            compacts: None,
            origin: None,
        }])
    }

    async fn reader(&self, version: Option<u64>) -> tinyfs::Result<Box<dyn AsyncReadSeek>> {
        if let Some(v) = version
            && v != 1
        {
            return Err(tinyfs::Error::VersionNotFound {
                path: String::new(),
                version: v,
                latest: 1,
            });
        }
        let path = self.mount.root.join(&self.rel);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| host_error(&path, e))?;
        Ok(Box::new(file))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

//! The [`Persistence`] contract, and the nodes it stores.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::entry_type::EntryType;
use crate::error::{Error, Result};
use crate::fs::FS;
use crate::node::{
    AsyncReadSeek, DirEntry, Directory, File, FileVersion, FileWriter, Node, NodeConfig, NodeKind,
    Symlink,
};
use crate::node_id::NodeId;

/// Where a stored node lives: its id and the directory that holds it.
///
/// A persistence may partition storage by the holding directory (tlogfs does), so every
/// node operation names both. The root's parent is the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeKey {
    /// The directory holding the node.
    pub parent: NodeId,
    /// The node.
    pub id: NodeId,
}

impl NodeKey {
    /// The root directory's key.
    pub const ROOT: NodeKey = NodeKey {
        parent: NodeId::ROOT,
        id: NodeId::ROOT,
    };
}

/// What a transaction is for; a persistence records it with the commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnMeta {
    /// The command line that made the change, one argument per element.
    pub command: Vec<String>,
    /// Who made it.
    pub user: String,
}

/// Where a [`FileWriter`] puts its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteTarget {
    /// The next version of an existing file.
    Version(NodeKey),
    /// The first version of a new file `name` of `entry_type` in directory `dir`.
    New {
        /// The directory.
        dir: NodeKey,
        /// The new file's name.
        name: String,
        /// The new file's type (a file type).
        entry_type: EntryType,
    },
}

/// Storage of a filesystem's nodes, with transactions.
///
/// # Model
///
/// A persistence holds a tree of nodes rooted at [`NodeId::ROOT`], which always exists and
/// is a directory. A directory maps names to nodes. A file is a list of versions, each a
/// body of bytes; a symlink holds a target path. Nodes are never deleted: removing an entry
/// only unlinks it, and its history stays readable at earlier pond versions.
///
/// # Transactions
///
/// Reads see the last committed state plus the changes of the transaction in progress, if
/// any. Every change happens inside a transaction: [`begin`](Self::begin) starts one,
/// [`commit`](Self::commit) makes all its changes visible together, and
/// [`rollback`](Self::rollback) discards them all. No reader, in this process or another,
/// ever sees part of a transaction; a crash before `commit` returns leaves the state of the
/// last commit. One transaction at a time per instance: `begin` while one is open is
/// [`Error::Internal`], and so is a change outside a transaction.
///
/// # Versions
///
/// The *pond version* counts commits: a new persistence is at version 0, and each commit
/// that changed something adds 1 (a commit with no changes commits nothing and returns
/// `None`). A *file version* counts the bodies of one file: its first is 1, each further
/// write adds 1, and numbers are never reused.
///
/// # Dynamic nodes
///
/// A dynamic node is stored as its factory's name and a configuration, versioned like a
/// file body (the first is version 1). Its directory entry carries the factory, so the
/// filesystem knows to build it (see [`NodeBuilder`]) rather than read it as stored.
/// The persistence never interprets the configuration.
///
/// # Errors
///
/// - [`Error::NotFound`]: a name that is not in the directory.
/// - [`Error::VersionNotFound`]: a file version that does not exist.
/// - [`Error::AlreadyExists`]: creating or attaching a name that is taken.
/// - [`Error::Conflict`]: `commit` lost a race with another writer that changed what this
///   transaction depends on; nothing was committed.
/// - [`Error::ReadOnly`]: a change to a persistence opened for reading.
/// - [`Error::Io`]: the storage failed.
/// - [`Error::Internal`]: a broken contract: a key that names no node, a change outside a
///   transaction.
///
/// Errors leave `path` empty where the persistence does not know it; the `WD` fills it.
/// Names are validated by the caller ([`validate_name`](crate::validate_name)).
#[async_trait]
pub trait Persistence: Send + Sync + fmt::Debug {
    /// Starts a transaction.
    async fn begin(&self, meta: TxnMeta) -> Result<()>;

    /// Commits the open transaction: the new pond version, or `None` if it changed nothing.
    async fn commit(&self) -> Result<Option<u64>>;

    /// Discards the open transaction, if any. Never fails: discarding is local.
    fn rollback(&self);

    /// The committed pond version this instance reads.
    async fn version(&self) -> Result<u64>;

    /// The entry `name` of directory `dir`.
    async fn dir_get(&self, dir: NodeKey, name: &str) -> Result<Option<DirEntry>>;

    /// All entries of `dir`, sorted by name.
    async fn dir_entries(&self, dir: NodeKey) -> Result<Vec<DirEntry>>;

    /// Creates a directory `name` in `dir`; returns its id.
    async fn create_directory(&self, dir: NodeKey, name: &str) -> Result<NodeId>;

    /// Creates a symlink `name` in `dir` pointing at `target`; returns its id.
    async fn create_symlink(&self, dir: NodeKey, name: &str, target: &str) -> Result<NodeId>;

    /// Unlinks `name` from `dir`, returning the entry it held.
    async fn dir_remove(&self, dir: NodeKey, name: &str) -> Result<DirEntry>;

    /// Links the existing node `node` (with its history) into `dir` as `name`. `from` is
    /// the version `node` was read at: the current one for a move, an earlier one for a
    /// node unlinked since and put back. A node is linked at one path at a time.
    async fn dir_attach(
        &self,
        dir: NodeKey,
        name: &str,
        node: NodeKey,
        entry_type: EntryType,
        from: u64,
    ) -> Result<()>;

    /// Every version of file `file`, oldest first.
    async fn file_versions(&self, file: NodeKey) -> Result<Vec<FileVersion>>;

    /// The latest version of file `file`. A persistence whose version lists cost more the
    /// longer they are finds it without listing the others.
    async fn file_latest(&self, file: NodeKey) -> Result<Option<FileVersion>> {
        Ok(self.file_versions(file).await?.pop())
    }

    /// The versions that make up series `file` (see [`crate::member_versions`]), oldest
    /// first. A persistence that keeps them where one read finds them returns them without
    /// listing the others.
    async fn file_members(&self, file: NodeKey) -> Result<Vec<FileVersion>> {
        Ok(crate::member_versions(self.file_versions(file).await?))
    }

    /// A reader of `version` of `file`.
    async fn file_reader(&self, file: NodeKey, version: u64) -> Result<Box<dyn AsyncReadSeek>>;

    /// A writer of a new body; see [`WriteTarget`].
    async fn file_writer(&self, target: WriteTarget) -> Result<Box<dyn FileWriter>>;

    /// The target of symlink `link`.
    async fn symlink_target(&self, link: NodeKey) -> Result<String>;

    /// Creates a dynamic node `name` in `dir`, of `entry_type`, built by `factory` from
    /// `config` (its configuration version 1); returns its id.
    async fn create_dynamic(
        &self,
        dir: NodeKey,
        name: &str,
        entry_type: EntryType,
        factory: &str,
        config: &[u8],
    ) -> Result<NodeId>;

    /// Stores `config` as the next configuration version of dynamic node `node`.
    async fn update_dynamic(&self, node: NodeKey, config: &[u8]) -> Result<()>;

    /// The latest configuration of dynamic node `node`.
    async fn dynamic_config(&self, node: NodeKey) -> Result<NodeConfig>;
}

/// Builds dynamic nodes from their stored configuration: the bridge from a stored
/// `(factory, config)` to a live [`Directory`] or [`File`].
///
/// An [`FS`] holds at most one builder (a registry of factories, in pond). Building should
/// be cheap — parse the configuration, make a handle — and leave all work to the node's
/// methods: every directory listing builds the dynamic nodes it contains.
#[async_trait]
pub trait NodeBuilder: Send + Sync + fmt::Debug {
    /// The node `id` in directory `parent`, of `entry_type`, from `config`. `fs` is the
    /// filesystem it was found in, at the version being read: what the node may read.
    async fn build(
        &self,
        fs: &FS,
        id: NodeId,
        parent: NodeId,
        entry_type: EntryType,
        config: &NodeConfig,
    ) -> Result<NodeKind>;
}
/// The handle of the node reached through directory `parent` with entry `entry`: a
/// stored node, or a dynamic one built by the filesystem's [`NodeBuilder`].
///
/// A dynamic node that cannot be built (no builder, an unknown factory, a configuration
/// the factory rejects) is still returned, as a node whose every read fails with the
/// reason, so the directory holding it can be listed and the node removed or replaced.
pub async fn stored_node(fs: &FS, parent: NodeId, entry: &DirEntry) -> Node {
    let p = fs.persistence();
    let key = NodeKey {
        parent,
        id: entry.id,
    };
    if let Some(factory) = &entry.factory {
        let kind = match build_dynamic(fs, key, entry.entry_type).await {
            Ok(kind) => kind,
            Err(e) => broken(entry.entry_type, e),
        };
        return Node::dynamic(entry.id, parent, kind, factory);
    }
    let read_at = p.version().await.ok();
    let kind = match entry.entry_type {
        EntryType::Directory => NodeKind::Directory(Arc::new(StoredDirectory {
            fs: fs.clone(),
            key,
            read_at,
        })),
        EntryType::Symlink => NodeKind::Symlink(Arc::new(StoredSymlink {
            p: p.clone(),
            key,
            read_at,
        })),
        file_type => NodeKind::File(Arc::new(StoredFile {
            p: p.clone(),
            key,
            entry_type: file_type,
            read_at,
        })),
    };
    Node::new(entry.id, parent, kind)
}

async fn build_dynamic(fs: &FS, key: NodeKey, entry_type: EntryType) -> Result<NodeKind> {
    let config = fs.persistence().dynamic_config(key).await?;
    let Some(builder) = fs.builder() else {
        return Err(Error::InvalidConfig {
            path: String::new(),
            detail: format!(
                "a `{}` node needs a factory registry, and this filesystem has none",
                config.factory
            ),
        });
    };
    builder
        .build(fs, key.id, key.parent, entry_type, &config)
        .await
}

fn broken(entry_type: EntryType, error: Error) -> NodeKind {
    let kind = error.kind();
    // The reason without its (still empty) path: the reader's path is added when it fails.
    let error = match error {
        Error::InvalidConfig { detail, .. } => detail,
        other => other.to_string(),
    };
    let node = Arc::new(Broken {
        entry_type,
        error,
        kind,
    });
    match entry_type {
        EntryType::Directory => NodeKind::Directory(node),
        EntryType::Symlink => NodeKind::Symlink(node),
        _ => NodeKind::File(node),
    }
}

/// A dynamic node that could not be built: every read reports why.
#[derive(Debug)]
struct Broken {
    entry_type: EntryType,
    error: String,
    kind: crate::error::ErrorKind,
}

impl Broken {
    fn fail<T>(&self) -> Result<T> {
        Err(match self.kind {
            crate::error::ErrorKind::Internal => Error::internal(&self.error),
            _ => Error::InvalidConfig {
                path: String::new(),
                detail: self.error.clone(),
            },
        })
    }
}

#[async_trait]
impl Directory for Broken {
    async fn get(&self, _name: &str) -> Result<Option<Node>> {
        self.fail()
    }

    async fn entries(&self) -> Result<Vec<(String, Node)>> {
        self.fail()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[async_trait]
impl File for Broken {
    fn entry_type(&self) -> EntryType {
        self.entry_type
    }

    async fn versions(&self) -> Result<Vec<FileVersion>> {
        self.fail()
    }

    async fn reader(&self, _version: Option<u64>) -> Result<Box<dyn AsyncReadSeek>> {
        self.fail()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[async_trait]
impl Symlink for Broken {
    async fn target(&self) -> Result<String> {
        self.fail()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The root directory of a filesystem.
pub fn stored_root(fs: &FS) -> Node {
    Node::new(
        NodeId::ROOT,
        NodeId::ROOT,
        NodeKind::Directory(Arc::new(StoredDirectory {
            fs: fs.clone(),
            key: NodeKey::ROOT,
            read_at: None,
        })),
    )
}

/// A directory stored by a [`Persistence`].
#[derive(Debug)]
pub struct StoredDirectory {
    fs: FS,
    key: NodeKey,
    /// The committed version it was found at (the base of a transaction in progress).
    read_at: Option<u64>,
}

impl StoredDirectory {
    fn p(&self) -> &Arc<dyn Persistence> {
        self.fs.persistence()
    }

    async fn dynamic_entry(&self, name: &str) -> Result<Option<DirEntry>> {
        match self.p().dir_get(self.key, name).await? {
            Some(entry) => Ok(entry.factory.is_some().then_some(entry)),
            None => Err(Error::not_found("")),
        }
    }
}

#[async_trait]
impl Directory for StoredDirectory {
    async fn get(&self, name: &str) -> Result<Option<Node>> {
        match self.p().dir_get(self.key, name).await? {
            Some(entry) => Ok(Some(stored_node(&self.fs, self.key.id, &entry).await)),
            None => Ok(None),
        }
    }

    async fn entries(&self) -> Result<Vec<(String, Node)>> {
        let entries = self.p().dir_entries(self.key).await?;
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let node = stored_node(&self.fs, self.key.id, &entry).await;
            out.push((entry.name, node));
        }
        Ok(out)
    }

    async fn create_directory(&self, name: &str) -> Result<Node> {
        let id = self.p().create_directory(self.key, name).await?;
        let entry = DirEntry::new(name, id, EntryType::Directory);
        Ok(stored_node(&self.fs, self.key.id, &entry).await)
    }

    async fn create_symlink(&self, name: &str, target: &str) -> Result<Node> {
        let id = self.p().create_symlink(self.key, name, target).await?;
        let entry = DirEntry::new(name, id, EntryType::Symlink);
        Ok(stored_node(&self.fs, self.key.id, &entry).await)
    }

    async fn create_dynamic(
        &self,
        name: &str,
        entry_type: EntryType,
        factory: &str,
        config: &[u8],
    ) -> Result<()> {
        self.p()
            .create_dynamic(self.key, name, entry_type, factory, config)
            .await
            .map(drop)
    }

    async fn update_dynamic(&self, name: &str, config: &[u8]) -> Result<()> {
        let Some(entry) = self.dynamic_entry(name).await? else {
            return Err(Error::InvalidConfig {
                path: String::new(),
                detail: "not a dynamic node; only `pond mknod` nodes have a configuration".into(),
            });
        };
        let key = NodeKey {
            parent: self.key.id,
            id: entry.id,
        };
        self.p().update_dynamic(key, config).await
    }

    async fn dynamic_config(&self, name: &str) -> Result<Option<NodeConfig>> {
        let Some(entry) = self.dynamic_entry(name).await? else {
            return Ok(None);
        };
        let key = NodeKey {
            parent: self.key.id,
            id: entry.id,
        };
        self.p().dynamic_config(key).await.map(Some)
    }

    async fn create_file(&self, name: &str, entry_type: EntryType) -> Result<Box<dyn FileWriter>> {
        if !entry_type.is_file() {
            return Err(Error::internal(format!("create_file with {entry_type}")));
        }
        self.p()
            .file_writer(WriteTarget::New {
                dir: self.key,
                name: name.to_string(),
                entry_type,
            })
            .await
    }

    async fn remove(&self, name: &str) -> Result<()> {
        self.p().dir_remove(self.key, name).await.map(drop)
    }

    async fn attach(&self, name: &str, node: &Node) -> Result<()> {
        // The version the node was found at: a handle kept across commits may name a node
        // unlinked since.
        let found = match node.kind() {
            _ if node.factory().is_some() => None,
            NodeKind::Directory(d) => d
                .as_any()
                .downcast_ref::<StoredDirectory>()
                .map(|d| (d.read_at, d.p().clone())),
            NodeKind::File(f) => f
                .as_any()
                .downcast_ref::<StoredFile>()
                .map(|f| (f.read_at, f.p.clone())),
            NodeKind::Symlink(s) => s
                .as_any()
                .downcast_ref::<StoredSymlink>()
                .map(|s| (s.read_at, s.p.clone())),
        };
        let Some((read_at, source)) = found else {
            return Err(Error::unsupported("moving a dynamic node"));
        };
        let key = NodeKey {
            parent: node.parent(),
            id: node.id(),
        };
        let from = match read_at {
            Some(version) => version,
            None => source.version().await?,
        };
        self.p()
            .dir_attach(self.key, name, key, node.entry_type(), from)
            .await
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A file stored by a [`Persistence`].
#[derive(Debug)]
pub struct StoredFile {
    p: Arc<dyn Persistence>,
    key: NodeKey,
    entry_type: EntryType,
    /// The committed version it was found at.
    read_at: Option<u64>,
}

#[async_trait]
impl File for StoredFile {
    fn entry_type(&self) -> EntryType {
        self.entry_type
    }

    async fn versions(&self) -> Result<Vec<FileVersion>> {
        self.p.file_versions(self.key).await
    }

    async fn latest(&self) -> Result<Option<FileVersion>> {
        self.p.file_latest(self.key).await
    }

    async fn members(&self) -> Result<Vec<FileVersion>> {
        self.p.file_members(self.key).await
    }

    async fn reader(&self, version: Option<u64>) -> Result<Box<dyn AsyncReadSeek>> {
        let version =
            match version {
                Some(v) => v,
                None => self.latest().await?.map(|v| v.version).ok_or_else(|| {
                    Error::internal(format!("file {} has no versions", self.key.id))
                })?,
            };
        self.p.file_reader(self.key, version).await
    }

    async fn writer(&self) -> Result<Box<dyn FileWriter>> {
        self.p.file_writer(WriteTarget::Version(self.key)).await
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A symlink stored by a [`Persistence`].
#[derive(Debug)]
pub struct StoredSymlink {
    p: Arc<dyn Persistence>,
    key: NodeKey,
    /// The committed version it was found at.
    read_at: Option<u64>,
}

#[async_trait]
impl Symlink for StoredSymlink {
    async fn target(&self) -> Result<String> {
        self.p.symlink_target(self.key).await
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

//! Nodes: the [`Directory`], [`File`] and [`Symlink`] traits and the [`Node`] handle.
//!
//! Everything a [`WD`](crate::WD) reaches is a node. Nodes stored by a
//! [`Persistence`](crate::Persistence) implement these traits through the persistence;
//! dynamic nodes (a host mount, a derived table) implement them directly. Mutations have
//! default implementations that refuse with [`Error::ReadOnly`], so a read-only node only
//! writes the reads.
//!
//! Errors from node methods may leave their path empty: the node does not know the path it
//! was reached by, and the `WD` fills it in.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite};

use crate::entry_type::EntryType;
use crate::error::{Error, Result};
use crate::node_id::NodeId;
use crate::version_set::VersionSet;

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name in its directory.
    pub name: String,
    /// The node it names.
    pub id: NodeId,
    /// What the node is.
    pub entry_type: EntryType,
    /// For a dynamic node, the factory that builds it from its stored configuration.
    pub factory: Option<String>,
}

impl DirEntry {
    /// An entry for a stored (not dynamic) node.
    pub fn new(name: impl Into<String>, id: NodeId, entry_type: EntryType) -> Self {
        DirEntry {
            name: name.into(),
            id,
            entry_type,
            factory: None,
        }
    }
}

/// The stored configuration of a dynamic node: which factory builds it, and from what.
///
/// The configuration is versioned like a file body: `pond mknod --overwrite` writes the
/// next version, and the node is built from the latest one the pond version shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// The factory's registered name.
    pub factory: String,
    /// The configuration as written (YAML for pond's factories).
    pub config: Vec<u8>,
    /// The configuration's version: 1, then one more per overwrite.
    pub version: u64,
    /// When this version was written, microseconds since the epoch (UTC).
    pub modified_micros: i64,
}

/// The event-time range of one version of a `file:series`: the name of its timestamp
/// column and the least and greatest value in it, in microseconds since the Unix epoch
/// (UTC; naive timestamps are taken as UTC).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventTime {
    /// The timestamp column.
    pub column: String,
    /// The earliest timestamp in the version.
    pub min_micros: i64,
    /// The latest timestamp in the version.
    pub max_micros: i64,
}

/// Metadata of one version of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileVersion {
    /// The version number: 1 for the first body, then 2, 3, ...
    pub version: u64,
    /// The body's length in bytes.
    pub size: u64,
    /// The BLAKE3 hash of the body.
    pub blake3: blake3::Hash,
    /// When the version was written, in microseconds since the Unix epoch (UTC).
    pub modified_micros: i64,
    /// For a version of a `file:series`, its event-time range, as the writer declared it.
    pub event_time: Option<EventTime>,
    /// For a version of a `file:series` that resets which versions make up the series (an
    /// undo, a compaction): exactly those versions, from this one on (this one only if
    /// listed). `None`, as for every plain append: the series is the versions before and
    /// this one. See [`series_members`](crate::series_members).
    pub members: Option<VersionSet>,
    /// For a version of a `file:table` or `file:series`, its rows, as the writer declared
    /// them (`None` for versions written before rows were recorded).
    pub rows: Option<u64>,
    /// For a version of a `file:series` that compacts others: the versions whose rows it
    /// holds (it replaces them among the members, see [`members`](Self::members)).
    pub compacts: Option<VersionSet>,
    /// The host file this version brings the pond file up to, as it was read (see
    /// [`Origin`]); `None` for versions not made from a host file by a sync.
    pub origin: Option<Origin>,
}

/// The host file a version was made from, as it was read: its length and the BLAKE3 of
/// its bytes. A sync compares a host file with the origin of the pond file's latest
/// version to tell whether it is unchanged, grew by appending (its first `size` bytes
/// still hash to `blake3`), or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The host file's length in bytes.
    pub size: u64,
    /// The BLAKE3 of those bytes.
    pub blake3: blake3::Hash,
}

/// A reader of a file body: async read with seek.
pub trait AsyncReadSeek: AsyncRead + AsyncSeek + Send + Unpin {}
impl<T: AsyncRead + AsyncSeek + Send + Unpin> AsyncReadSeek for T {}

/// A streaming writer of one new file version.
///
/// Write the body with the [`AsyncWrite`] methods (e.g. `tokio::io::AsyncWriteExt`), then
/// call [`finish`](FileWriter::finish): only then does the version exist (in the current
/// transaction). A writer dropped without `finish` leaves no trace.
#[async_trait]
pub trait FileWriter: AsyncWrite + Send + Unpin {
    /// What the writer has declared about the body so far, recorded with the version by
    /// [`finish`](FileWriter::finish).
    fn declared(&mut self) -> &mut Declared;

    /// Declares the event-time range of the body, recorded with the version (for a
    /// `file:series`; the writer of the body knows its range, the store does not parse it).
    fn set_event_time(&mut self, event_time: EventTime) {
        self.declared().event_time = Some(event_time);
    }

    /// Declares the versions that make up the series from this version on (see
    /// [`FileVersion::members`]); without it the new version joins the series.
    fn set_members(&mut self, members: VersionSet) {
        self.declared().members = Some(members);
    }

    /// Declares the rows of a table or series body, recorded with the version.
    fn set_rows(&mut self, rows: u64) {
        self.declared().rows = Some(rows);
    }

    /// Declares the versions whose rows this series body holds (see
    /// [`FileVersion::compacts`]).
    fn set_compacts(&mut self, versions: VersionSet) {
        self.declared().compacts = Some(versions);
    }

    /// Declares the host file the body was made from (see [`FileVersion::origin`]).
    fn set_origin(&mut self, origin: Origin) {
        self.declared().origin = Some(origin);
    }

    /// Completes the body and records it as the file's next version.
    async fn finish(self: Box<Self>) -> Result<FileVersion>;
}

/// What the writer of a body declares about it (a store does not parse bodies): the
/// fields of [`FileVersion`] that only the writer knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declared {
    /// See [`FileVersion::event_time`].
    pub event_time: Option<EventTime>,
    /// See [`FileVersion::members`].
    pub members: Option<VersionSet>,
    /// See [`FileVersion::rows`].
    pub rows: Option<u64>,
    /// See [`FileVersion::compacts`].
    pub compacts: Option<VersionSet>,
    /// See [`FileVersion::origin`].
    pub origin: Option<Origin>,
}

impl Declared {
    /// Version 1 (a store numbers it) of a body of `size` bytes hashing to `blake3`,
    /// written now, as declared.
    pub fn version(self, size: u64, blake3: blake3::Hash) -> FileVersion {
        let Declared {
            event_time,
            members,
            rows,
            compacts,
            origin,
        } = self;
        FileVersion {
            version: 1,
            size,
            blake3,
            modified_micros: now_micros(),
            event_time,
            members,
            rows,
            compacts,
            origin,
        }
    }
}

/// Now, in microseconds since the Unix epoch (UTC): the clock every version's
/// `modified_micros` is read from.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A directory.
///
/// `get` and `entries` are required. Mutations default to [`Error::ReadOnly`]. Names passed
/// in have been checked with [`validate_name`](crate::validate_name) by the caller.
#[async_trait]
pub trait Directory: Send + Sync + fmt::Debug {
    /// The entry called `name`, or `None`.
    async fn get(&self, name: &str) -> Result<Option<Node>>;

    /// All entries with their nodes, sorted by name (byte order).
    async fn entries(&self) -> Result<Vec<(String, Node)>>;

    /// Makes an empty directory `name`. [`Error::AlreadyExists`] if the name is taken.
    async fn create_directory(&self, name: &str) -> Result<Node> {
        let _ = name;
        Err(Error::read_only("create a directory"))
    }

    /// Makes a symlink `name` pointing at `target` (a path, not checked).
    async fn create_symlink(&self, name: &str, target: &str) -> Result<Node> {
        let _ = (name, target);
        Err(Error::read_only("create a symlink"))
    }

    /// Starts a new file `name` of `entry_type`; the file and its first version appear when
    /// the writer finishes. [`Error::AlreadyExists`] if the name is taken then.
    async fn create_file(&self, name: &str, entry_type: EntryType) -> Result<Box<dyn FileWriter>> {
        let _ = (name, entry_type);
        Err(Error::read_only("create a file"))
    }

    /// Makes a dynamic node `name` of `entry_type`, built by `factory` from `config`
    /// (which the caller has validated). [`Error::AlreadyExists`] if the name is taken.
    async fn create_dynamic(
        &self,
        name: &str,
        entry_type: EntryType,
        factory: &str,
        config: &[u8],
    ) -> Result<()> {
        let _ = (name, entry_type, factory, config);
        Err(Error::read_only("create a dynamic node"))
    }

    /// Stores `config` as the next configuration version of the dynamic node `name`.
    /// [`Error::NotFound`] if there is no such entry; [`Error::InvalidConfig`] if it is not
    /// a dynamic node.
    async fn update_dynamic(&self, name: &str, config: &[u8]) -> Result<()> {
        let _ = (name, config);
        Err(Error::read_only("change a dynamic node"))
    }

    /// The stored configuration of the dynamic node `name`, or `None` if `name` is not
    /// a stored dynamic node. [`Error::NotFound`] if there is no such entry.
    async fn dynamic_config(&self, name: &str) -> Result<Option<NodeConfig>> {
        let _ = name;
        Ok(None)
    }

    /// Removes the entry `name` (the node itself stays in history). [`Error::NotFound`] if
    /// there is none. Recursion is the caller's business.
    async fn remove(&self, name: &str) -> Result<()> {
        let _ = name;
        Err(Error::read_only("remove"))
    }

    /// Adds an existing `node` under `name`: the second half of a rename.
    async fn attach(&self, name: &str, node: &Node) -> Result<()> {
        let _ = (name, node);
        Err(Error::read_only("move into"))
    }

    /// For downcasting to the implementation.
    fn as_any(&self) -> &dyn Any;
}

/// A file: a sequence of versions of one entry type.
///
/// A stored file always has at least one version.
#[async_trait]
pub trait File: Send + Sync + fmt::Debug {
    /// What kind of file this is.
    fn entry_type(&self) -> EntryType;

    /// Every version, oldest first.
    async fn versions(&self) -> Result<Vec<FileVersion>>;

    /// The latest version (`None` only for a file without versions), found without
    /// listing the others where the file can.
    async fn latest(&self) -> Result<Option<FileVersion>> {
        Ok(self.versions().await?.pop())
    }

    /// For a series, the versions that make it up (see
    /// [`member_versions`](crate::member_versions)), oldest first, found without listing
    /// the others where the file can.
    async fn members(&self) -> Result<Vec<FileVersion>> {
        Ok(crate::member_versions(self.versions().await?))
    }

    /// A reader of `version`, or of the latest when `None`. [`Error::VersionNotFound`] for
    /// a version that does not exist.
    async fn reader(&self, version: Option<u64>) -> Result<Box<dyn AsyncReadSeek>>;

    /// A writer of the next version.
    async fn writer(&self) -> Result<Box<dyn FileWriter>> {
        Err(Error::read_only("write"))
    }

    /// For downcasting to the implementation.
    fn as_any(&self) -> &dyn Any;
}

/// A symbolic link.
#[async_trait]
pub trait Symlink: Send + Sync + fmt::Debug {
    /// The target path, as written when the link was made.
    async fn target(&self) -> Result<String>;

    /// For downcasting to the implementation.
    fn as_any(&self) -> &dyn Any;
}

/// What a node is, with the handle to use it.
#[derive(Clone, Debug)]
pub enum NodeKind {
    /// A directory.
    Directory(Arc<dyn Directory>),
    /// A file.
    File(Arc<dyn File>),
    /// A symlink.
    Symlink(Arc<dyn Symlink>),
}

/// A handle to a node: its id, the directory it was found in, and what it is.
#[derive(Clone, Debug)]
pub struct Node {
    id: NodeId,
    parent: NodeId,
    kind: NodeKind,
    factory: Option<Arc<str>>,
}

impl Node {
    /// A handle to node `id`, found in directory `parent` (the root's parent is itself).
    pub fn new(id: NodeId, parent: NodeId, kind: NodeKind) -> Self {
        Node {
            id,
            parent,
            kind,
            factory: None,
        }
    }

    /// A handle to dynamic node `id`, built by `factory`.
    pub fn dynamic(id: NodeId, parent: NodeId, kind: NodeKind, factory: &str) -> Self {
        Node {
            id,
            parent,
            kind,
            factory: Some(factory.into()),
        }
    }

    /// The factory that built this node, if it is a stored dynamic node (the nodes a
    /// dynamic directory shows are not themselves stored, and have none).
    pub fn factory(&self) -> Option<&str> {
        self.factory.as_deref()
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The id of the directory this handle was found in.
    pub fn parent(&self) -> NodeId {
        self.parent
    }

    /// What the node is.
    pub fn kind(&self) -> &NodeKind {
        &self.kind
    }

    /// The entry type.
    pub fn entry_type(&self) -> EntryType {
        match &self.kind {
            NodeKind::Directory(_) => EntryType::Directory,
            NodeKind::Symlink(_) => EntryType::Symlink,
            NodeKind::File(f) => f.entry_type(),
        }
    }

    /// The directory, if this is one.
    pub fn as_dir(&self) -> Option<&Arc<dyn Directory>> {
        match &self.kind {
            NodeKind::Directory(d) => Some(d),
            _ => None,
        }
    }

    /// The file, if this is one.
    pub fn as_file(&self) -> Option<&Arc<dyn File>> {
        match &self.kind {
            NodeKind::File(f) => Some(f),
            _ => None,
        }
    }

    /// The symlink, if this is one.
    pub fn as_symlink(&self) -> Option<&Arc<dyn Symlink>> {
        match &self.kind {
            NodeKind::Symlink(s) => Some(s),
            _ => None,
        }
    }
}

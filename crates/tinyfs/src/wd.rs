//! [`WD`]: a working directory, and every path operation.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::entry_type::EntryType;
use crate::error::{Error, ErrorKind, Result, ResultExt};
use crate::fs::FS;
use crate::node::{
    AsyncReadSeek, DirEntry, Directory, File, FileVersion, FileWriter, Node, NodeConfig, NodeKind,
};
use crate::node_id::NodeId;
use crate::path::{Component, IntoPath, Path, validate_name};

/// How many symlinks one resolution follows before it reports a loop (as Linux does).
pub const MAX_SYMLINKS: usize = 40;

/// A working directory: the place relative paths start from, and the handle for every
/// path operation.
///
/// Paths are resolved component by component. Symlinks are followed wherever they appear
/// except as the last component of [`remove`](WD::remove), [`rename`](WD::rename),
/// [`readlink`](WD::readlink) and [`symlink_metadata`](WD::symlink_metadata); a relative
/// target is resolved from the link's directory. `..` is lexical over the path walked so far
/// (after a symlink, it is the parent of the link's target). Errors name the path, as far as
/// it was walked.
#[derive(Clone, Debug)]
pub struct WD {
    pub(crate) fs: FS,
    /// The directories from the root (first) to this one (last).
    pub(crate) frames: Vec<Frame>,
}

/// One directory of a walked path: its name in its parent, and its node.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub(crate) name: String,
    pub(crate) node: Node,
}

/// The result of walking a path.
enum Lookup {
    /// The path names `node`, called `name` in the last of `parents` (for the root,
    /// `parents` is empty).
    Found {
        parents: Vec<Frame>,
        name: String,
        node: Node,
    },
    /// Every component but the last exists; the last, `name`, is not in the last of
    /// `parents`.
    Missing { parents: Vec<Frame>, name: String },
}

/// Metadata of a node, as [`WD::metadata`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The node.
    pub id: NodeId,
    /// What it is.
    pub entry_type: EntryType,
    /// For files: the version described (the latest, or the one the path named).
    pub version: Option<u64>,
    /// For files: the latest version's number (versions are numbered from 1; some may be
    /// gone to retention). 0 for others.
    pub latest: u64,
    /// For files: the body's size; for symlinks the target's length; for directories 0.
    pub size: u64,
    /// For files: the body's BLAKE3.
    pub blake3: Option<blake3::Hash>,
    /// For files: when the version was written, microseconds since the epoch (UTC).
    pub modified_micros: Option<i64>,
}

/// The path the directories `frames` spell, from the root.
pub(crate) fn frames_path(frames: &[Frame]) -> String {
    if frames.len() <= 1 {
        return "/".to_string();
    }
    let mut out = String::new();
    for f in &frames[1..] {
        out.push('/');
        out.push_str(&f.name);
    }
    out
}

/// The path of `name` in the last of `frames`.
pub(crate) fn child_path(frames: &[Frame], name: &str) -> String {
    let mut p = frames_path(frames);
    if !p.ends_with('/') {
        p.push('/');
    }
    p.push_str(name);
    p
}

/// The directory of the last of `frames` (walks only ever push directories).
fn parent_dir(frames: &[Frame]) -> &Arc<dyn Directory> {
    frames
        .last()
        .and_then(|f| f.node.as_dir())
        .expect("parent is a dir")
}

fn refuse_version(path: &Path, op: &str) -> Result<()> {
    match path.version() {
        Some(_) => Err(Error::invalid_path(
            path,
            format!("cannot {op} a version; name the file without @vN"),
        )),
        None => Ok(()),
    }
}

impl WD {
    pub(crate) fn root(fs: FS, root: Node) -> Self {
        WD {
            fs,
            frames: vec![Frame {
                name: String::new(),
                node: root,
            }],
        }
    }

    /// The absolute path of this directory.
    pub fn path(&self) -> String {
        frames_path(&self.frames)
    }

    /// This directory's node.
    pub fn node(&self) -> &Node {
        &self.frames.last().expect("a WD has the root frame").node
    }

    /// The filesystem.
    pub fn fs(&self) -> &FS {
        &self.fs
    }

    async fn walk(&self, path: &Path, follow_last: bool) -> Result<Lookup> {
        let mut frames = if path.is_absolute() {
            self.frames[..1].to_vec()
        } else {
            self.frames.clone()
        };
        let mut queue: VecDeque<Component> = path.components().iter().cloned().collect();
        let mut links = 0;
        while let Some(component) = queue.pop_front() {
            let name = match component {
                Component::CurDir => continue,
                Component::ParentDir => {
                    if frames.len() > 1 {
                        frames.pop();
                    }
                    continue;
                }
                Component::Name(name) => name,
            };
            let here = child_path(&frames, &name);
            let dir = frames
                .last()
                .and_then(|f| f.node.as_dir())
                .ok_or_else(|| Error::internal("a walk frame is not a directory"))?;
            let last = queue.is_empty();
            let Some(node) = dir.get(&name).await.at(&here)? else {
                if last {
                    return Ok(Lookup::Missing {
                        parents: frames,
                        name,
                    });
                }
                return Err(Error::not_found(here));
            };
            match node.kind() {
                NodeKind::Directory(_) => frames.push(Frame { name, node }),
                NodeKind::Symlink(link) if !last || follow_last => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Error::SymlinkLoop {
                            path: path.to_string(),
                            limit: MAX_SYMLINKS,
                        });
                    }
                    let target = link.target().await.at(&here)?;
                    let target = Path::parse(&target).map_err(|e| {
                        Error::internal(format!("{here}: stored symlink target is invalid: {e}"))
                    })?;
                    if target.is_absolute() {
                        frames.truncate(1);
                    }
                    for c in target.components().iter().rev() {
                        queue.push_front(c.clone());
                    }
                }
                _ if last => {
                    return Ok(Lookup::Found {
                        parents: frames,
                        name,
                        node,
                    });
                }
                _ => return Err(Error::not_a_directory(here)),
            }
        }
        let top = frames.pop().expect("the root frame is never popped");
        Ok(Lookup::Found {
            parents: frames,
            name: top.name,
            node: top.node,
        })
    }

    async fn found(&self, path: &Path, follow: bool) -> Result<(Vec<Frame>, String, Node)> {
        match self.walk(path, follow).await? {
            Lookup::Found {
                parents,
                name,
                node,
            } => Ok((parents, name, node)),
            Lookup::Missing { parents, name } => Err(Error::not_found(child_path(&parents, &name))),
        }
    }

    /// The node at `path` (symlinks followed), or `None` if the last component does not
    /// exist. A missing directory on the way is still [`Error::NotFound`].
    pub async fn get(&self, path: impl IntoPath) -> Result<Option<Node>> {
        let path = path.into_path()?;
        match self.walk(&path, true).await? {
            Lookup::Found { node, .. } => Ok(Some(node)),
            Lookup::Missing { .. } => Ok(None),
        }
    }

    /// The node at `path` itself (a symlink at the end is not followed), or `None` if it,
    /// or a directory above it, does not exist: what comparing a path across pond versions
    /// needs.
    pub async fn get_entry(&self, path: impl IntoPath) -> Result<Option<Node>> {
        let path = path.into_path()?;
        match self.walk(&path, false).await {
            Ok(Lookup::Found { node, .. }) => Ok(Some(node)),
            Ok(Lookup::Missing { .. }) => Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Links the stored node `node`, with its history, at `path`: nothing may be there
    /// and its parent must exist. `node` may come from this filesystem at any version (a
    /// node unlinked since, to put back). A directory cannot be linked inside itself.
    pub async fn link(&self, path: impl IntoPath, node: &Node) -> Result<()> {
        let path = path.into_path()?;
        refuse_version(&path, "link at")?;
        let (parents, name, here) = self.vacant(&path, false).await?;
        if parents.iter().any(|f| f.node.id() == node.id()) {
            return Err(Error::invalid_path(
                &path,
                "cannot link a directory inside itself",
            ));
        }
        parent_dir(&parents).attach(&name, node).await.at(&here)
    }

    /// The node at `path`, symlinks followed.
    pub async fn resolve(&self, path: impl IntoPath) -> Result<Node> {
        let path = path.into_path()?;
        Ok(self.found(&path, true).await?.2)
    }

    /// The absolute path `path` resolves to, symlinks followed.
    pub async fn canonicalize(&self, path: impl IntoPath) -> Result<String> {
        Ok(self.resolve_canonical(path).await?.0)
    }

    /// The absolute path `path` resolves to (symlinks followed) and the node there, in one
    /// walk.
    pub async fn resolve_canonical(&self, path: impl IntoPath) -> Result<(String, Node)> {
        let path = path.into_path()?;
        let (parents, name, node) = self.found(&path, true).await?;
        let canonical = if parents.is_empty() {
            "/".to_string()
        } else {
            child_path(&parents, &name)
        };
        Ok((canonical, node))
    }

    /// Whether `path` exists (symlinks followed).
    pub async fn exists(&self, path: impl IntoPath) -> Result<bool> {
        Ok(self.get(path).await?.is_some())
    }

    /// The directory at `path` as a working directory.
    pub async fn open_dir(&self, path: impl IntoPath) -> Result<WD> {
        let path = path.into_path()?;
        let (mut parents, name, node) = self.found(&path, true).await?;
        let here = if parents.is_empty() {
            "/".to_string()
        } else {
            child_path(&parents, &name)
        };
        if node.as_dir().is_none() {
            return Err(Error::not_a_directory(here));
        }
        if !parents.is_empty() {
            parents.push(Frame { name, node });
        } else {
            parents = self.frames[..1].to_vec();
        }
        Ok(WD {
            fs: self.fs.clone(),
            frames: parents,
        })
    }

    /// Where `path` would be made, if nothing is there yet: the parent's frames, the new
    /// name (checked) and its full path; [`Error::AlreadyExists`] otherwise.
    async fn vacant(&self, path: &Path, follow_last: bool) -> Result<(Vec<Frame>, String, String)> {
        match self.walk(path, follow_last).await? {
            Lookup::Found {
                parents,
                name,
                node,
            } => Err(Error::AlreadyExists {
                path: if parents.is_empty() {
                    "/".into()
                } else {
                    child_path(&parents, &name)
                },
                detail: Some(node.entry_type().to_string()),
            }),
            Lookup::Missing { parents, name } => {
                let here = child_path(&parents, &name);
                validate_name(&name)?;
                Ok((parents, name, here))
            }
        }
    }

    /// Makes the directory `path`. Its parent must exist; [`Error::AlreadyExists`] if
    /// anything is at `path`.
    pub async fn create_dir(&self, path: impl IntoPath) -> Result<WD> {
        let path = path.into_path()?;
        refuse_version(&path, "create a directory at")?;
        let (mut parents, name, here) = self.vacant(&path, true).await?;
        let node = parent_dir(&parents)
            .create_directory(&name)
            .await
            .at(&here)?;
        parents.push(Frame { name, node });
        Ok(WD {
            fs: self.fs.clone(),
            frames: parents,
        })
    }

    /// Makes the dynamic node `path`, of `entry_type`, built by `factory` from `config`.
    /// The caller validates `config`; the parent must exist; nothing may be at `path`.
    pub async fn create_dynamic(
        &self,
        path: impl IntoPath,
        entry_type: EntryType,
        factory: &str,
        config: &[u8],
    ) -> Result<()> {
        let path = path.into_path()?;
        refuse_version(&path, "create a node at")?;
        let (parents, name, here) = self.vacant(&path, false).await?;
        parent_dir(&parents)
            .create_dynamic(&name, entry_type, factory, config)
            .await
            .at(&here)
    }

    /// Stores `config` as the next configuration of the dynamic node at `path` (symlinks
    /// followed, as [`dynamic_config`](WD::dynamic_config) does).
    pub async fn update_dynamic(&self, path: impl IntoPath, config: &[u8]) -> Result<()> {
        let path = path.into_path()?;
        refuse_version(&path, "change")?;
        let (parents, name, _) = self.found(&path, true).await?;
        let here = child_path(&parents, &name);
        let dir = parents
            .last()
            .and_then(|f| f.node.as_dir())
            .ok_or_else(|| Error::invalid_path(&path, "the root is not a dynamic node"))?;
        dir.update_dynamic(&name, config).await.at(&here)
    }

    /// The stored configuration of the node at `path`, or `None` if it is not a stored
    /// dynamic node (symlinks followed).
    pub async fn dynamic_config(&self, path: impl IntoPath) -> Result<Option<NodeConfig>> {
        let path = path.into_path()?;
        let (parents, name, node) = self.found(&path.without_version(), true).await?;
        if node.factory().is_none() {
            return Ok(None);
        }
        let here = child_path(&parents, &name);
        let dir = parents
            .last()
            .and_then(|f| f.node.as_dir())
            .ok_or_else(|| Error::internal("a dynamic node without a parent"))?;
        dir.dynamic_config(&name).await.at(&here)
    }

    /// Makes the directory `path` and any missing parents. Existing directories on the way
    /// (and at `path`) are fine; anything else there is [`Error::NotADirectory`].
    pub async fn create_dir_all(&self, path: impl IntoPath) -> Result<WD> {
        let path = path.into_path()?;
        refuse_version(&path, "create a directory at")?;
        let mut wd = if path.is_absolute() {
            WD {
                fs: self.fs.clone(),
                frames: self.frames[..1].to_vec(),
            }
        } else {
            self.clone()
        };
        for component in path.components() {
            let step = Path::parse(&match component {
                Component::CurDir => ".".to_string(),
                Component::ParentDir => "..".to_string(),
                Component::Name(name) => name.clone(),
            })?;
            wd = match wd.get(&step).await? {
                Some(node) if node.as_dir().is_some() => wd.open_dir(&step).await?,
                Some(_) => return Err(Error::not_a_directory(wd.child(&step))),
                None => wd.create_dir(&step).await?,
            };
        }
        Ok(wd)
    }

    fn child(&self, step: &Path) -> String {
        match step.file_name() {
            Some(name) => child_path(&self.frames, name),
            None => self.path(),
        }
    }

    /// A writer of the next version of the file at `path`, creating the file (as
    /// `entry_type`) if it does not exist. An existing file must be of `entry_type`.
    pub async fn file_writer(
        &self,
        path: impl IntoPath,
        entry_type: EntryType,
    ) -> Result<Box<dyn FileWriter>> {
        let path = path.into_path()?;
        self.writer(&path, entry_type, false).await
    }

    /// A writer of a new file at `path`; [`Error::AlreadyExists`] if anything is there.
    pub async fn create_file(
        &self,
        path: impl IntoPath,
        entry_type: EntryType,
    ) -> Result<Box<dyn FileWriter>> {
        let path = path.into_path()?;
        self.writer(&path, entry_type, true).await
    }

    async fn writer(
        &self,
        path: &Path,
        entry_type: EntryType,
        must_be_new: bool,
    ) -> Result<Box<dyn FileWriter>> {
        refuse_version(path, "write")?;
        if !entry_type.is_file() {
            return Err(Error::invalid_path(
                path,
                format!("{entry_type} is not a file type"),
            ));
        }
        match self.walk(path, true).await? {
            Lookup::Found {
                parents,
                name,
                node,
            } => {
                let here = if parents.is_empty() {
                    "/".to_string()
                } else {
                    child_path(&parents, &name)
                };
                let existing = node.entry_type();
                if must_be_new {
                    return Err(Error::AlreadyExists {
                        path: here,
                        detail: Some(existing.to_string()),
                    });
                }
                match node.kind() {
                    NodeKind::Directory(_) => Err(Error::is_a_directory(here)),
                    NodeKind::File(file) if existing == entry_type => file.writer().await.at(&here),
                    _ => Err(Error::AlreadyExists {
                        path: here,
                        detail: Some(format!("as {existing}, not {entry_type}")),
                    }),
                }
            }
            Lookup::Missing { parents, name } => {
                let here = child_path(&parents, &name);
                validate_name(&name)?;
                let dir = parent_dir(&parents);
                dir.create_file(&name, entry_type).await.at(&here)
            }
        }
    }

    /// Writes `body` as the next version of the file at `path` (created if missing).
    pub async fn write_file(
        &self,
        path: impl IntoPath,
        entry_type: EntryType,
        body: &[u8],
    ) -> Result<FileVersion> {
        let path = path.into_path()?;
        let mut writer = self.writer(&path, entry_type, false).await?;
        writer
            .write_all(body)
            .await
            .map_err(|e| Error::io(&path, e))?;
        writer.finish().await.at(&path)
    }

    /// A reader of the file at `path`: the version the path names (`name@vN`), else the
    /// latest.
    pub async fn open(&self, path: impl IntoPath) -> Result<Box<dyn AsyncReadSeek>> {
        let path = path.into_path()?;
        let (parents, name, node) = self.found(&path.without_version(), true).await?;
        let here = child_path(&parents, &name);
        match node.kind() {
            NodeKind::File(file) => file.reader(path.version()).await.at(&here),
            NodeKind::Directory(_) => Err(Error::is_a_directory(if parents.is_empty() {
                "/".into()
            } else {
                here
            })),
            NodeKind::Symlink(_) => Err(Error::internal("a followed path ended on a symlink")),
        }
    }

    /// The whole body of the file at `path` (see [`open`](WD::open)).
    pub async fn read_file(&self, path: impl IntoPath) -> Result<Vec<u8>> {
        let path = path.into_path()?;
        let mut reader = self.open(&path).await?;
        let mut body = Vec::new();
        reader
            .read_to_end(&mut body)
            .await
            .map_err(|e| Error::io(&path, e))?;
        Ok(body)
    }

    /// Every version of the file at `path`, oldest first.
    pub async fn versions(&self, path: impl IntoPath) -> Result<Vec<FileVersion>> {
        let (here, file) = self.file_at(path).await?;
        file.versions().await.at(&here)
    }

    /// The latest version of the file at `path` (see [`File::latest`]).
    pub async fn latest(&self, path: impl IntoPath) -> Result<Option<FileVersion>> {
        let (here, file) = self.file_at(path).await?;
        file.latest().await.at(&here)
    }

    /// The versions that make up the series at `path` (see [`File::members`]), oldest first.
    pub async fn members(&self, path: impl IntoPath) -> Result<Vec<FileVersion>> {
        let (here, file) = self.file_at(path).await?;
        file.members().await.at(&here)
    }

    /// The file at `path` (any `@vN` ignored, symlinks followed), and its path for errors.
    async fn file_at(&self, path: impl IntoPath) -> Result<(String, Arc<dyn File>)> {
        let path = path.into_path()?;
        let (parents, name, node) = self.found(&path.without_version(), true).await?;
        let here = child_path(&parents, &name);
        match node.kind() {
            NodeKind::File(file) => Ok((here, file.clone())),
            _ => Err(Error::is_a_directory(here)),
        }
    }

    /// Metadata of the node at `path`, symlinks followed. `name@vN` describes version N.
    pub async fn metadata(&self, path: impl IntoPath) -> Result<Metadata> {
        let path = path.into_path()?;
        self.metadata_of(&path, true).await
    }

    /// Metadata of the node at `path`; a symlink at the end is described, not followed.
    pub async fn symlink_metadata(&self, path: impl IntoPath) -> Result<Metadata> {
        let path = path.into_path()?;
        self.metadata_of(&path, false).await
    }

    async fn metadata_of(&self, path: &Path, follow: bool) -> Result<Metadata> {
        let (parents, name, node) = self.found(&path.without_version(), follow).await?;
        let here = child_path(&parents, &name);
        let mut meta = Metadata {
            id: node.id(),
            entry_type: node.entry_type(),
            version: None,
            latest: 0,
            size: 0,
            blake3: None,
            modified_micros: None,
        };
        match node.kind() {
            NodeKind::File(file) => {
                let latest = file.latest().await.at(&here)?;
                let latest = latest
                    .ok_or_else(|| Error::internal(format!("{here}: a file without versions")))?;
                let chosen = match path.version() {
                    Some(n) if n != latest.version => file
                        .versions()
                        .await
                        .at(&here)?
                        .into_iter()
                        .find(|v| v.version == n)
                        .ok_or(Error::VersionNotFound {
                            path: here.clone(),
                            version: n,
                            latest: latest.version,
                        })?,
                    _ => latest.clone(),
                };
                meta.version = Some(chosen.version);
                meta.latest = latest.version;
                meta.size = chosen.size;
                meta.blake3 = Some(chosen.blake3);
                meta.modified_micros = Some(chosen.modified_micros);
            }
            NodeKind::Symlink(link) => {
                refuse_version(path, "describe")?;
                meta.size = link.target().await.at(&here)?.len() as u64;
            }
            NodeKind::Directory(_) => refuse_version(path, "describe")?,
        }
        Ok(meta)
    }

    /// The entries of the directory at `path`, sorted by name. A file is
    /// [`Error::NotADirectory`].
    pub async fn list(&self, path: impl IntoPath) -> Result<Vec<DirEntry>> {
        let path = path.into_path()?;
        let (parents, name, node) = self.found(&path, true).await?;
        let here = if parents.is_empty() {
            "/".to_string()
        } else {
            child_path(&parents, &name)
        };
        let dir = node.as_dir().ok_or_else(|| Error::not_a_directory(&here))?;
        let entries = dir.entries().await.at(&here)?;
        Ok(entries
            .into_iter()
            .map(|(name, node)| DirEntry {
                name,
                id: node.id(),
                entry_type: node.entry_type(),
                factory: node.factory().map(String::from),
            })
            .collect())
    }

    /// Removes the entry at `path` (a symlink itself, not its target). A directory with
    /// entries needs `recursive`; the root cannot be removed.
    pub async fn remove(&self, path: impl IntoPath, recursive: bool) -> Result<()> {
        let path = path.into_path()?;
        refuse_version(&path, "remove")?;
        if !matches!(path.components().last(), Some(Component::Name(_))) {
            return Err(Error::invalid_path(&path, "cannot remove '/', '.' or '..'"));
        }
        let (parents, name, node) = self.found(&path, false).await?;
        let here = child_path(&parents, &name);
        // A dynamic directory's entries are computed, not held: removing it unlinks its
        // configuration.
        if let Some(dir) = node.as_dir()
            && node.factory().is_none()
            && !recursive
            && !dir.entries().await.at(&here)?.is_empty()
        {
            return Err(Error::NotEmpty { path: here });
        }
        let parent = parent_dir(&parents);
        parent.remove(&name).await.at(&here)
    }

    /// Moves the entry at `src` to `dst`, atomically within the transaction. Nothing may
    /// be at `dst`; a directory cannot move into itself.
    pub async fn rename(&self, src: impl IntoPath, dst: impl IntoPath) -> Result<()> {
        let src = src.into_path()?;
        let dst = dst.into_path()?;
        refuse_version(&src, "move")?;
        refuse_version(&dst, "move to")?;
        for p in [&src, &dst] {
            if !matches!(p.components().last(), Some(Component::Name(_))) {
                return Err(Error::invalid_path(p, "cannot move '/', '.' or '..'"));
            }
        }
        let (src_parents, src_name, node) = self.found(&src, false).await?;
        let src_here = child_path(&src_parents, &src_name);
        let (dst_parents, dst_name) = match self.walk(&dst, false).await? {
            Lookup::Found {
                parents,
                name,
                node,
            } => {
                return Err(Error::AlreadyExists {
                    path: child_path(&parents, &name),
                    detail: Some(node.entry_type().to_string()),
                });
            }
            Lookup::Missing { parents, name } => (parents, name),
        };
        let dst_here = child_path(&dst_parents, &dst_name);
        validate_name(&dst_name)?;
        if dst_parents.iter().any(|f| f.node.id() == node.id()) {
            return Err(Error::invalid_path(
                &dst,
                format!("cannot move {src_here} into itself"),
            ));
        }
        let src_dir = parent_dir(&src_parents);
        let dst_dir = parent_dir(&dst_parents);
        // Attach first: a destination that refuses leaves the source untouched.
        dst_dir.attach(&dst_name, &node).await.at(&dst_here)?;
        if let Err(e) = src_dir.remove(&src_name).await {
            // Best effort to leave the transaction as it was; the error is what matters.
            let _ = dst_dir.remove(&dst_name).await;
            return Err(e.with_path(&src_here));
        }
        Ok(())
    }

    /// Makes a symlink at `path` pointing at `target` (which need not exist).
    pub async fn symlink(&self, target: &str, path: impl IntoPath) -> Result<()> {
        let path = path.into_path()?;
        refuse_version(&path, "create a symlink at")?;
        let parsed = Path::parse(target)?;
        if parsed.version().is_some() {
            return Err(Error::invalid_path(
                target,
                "a symlink cannot point at a version",
            ));
        }
        let (parents, name, here) = self.vacant(&path, false).await?;
        parent_dir(&parents)
            .create_symlink(&name, target)
            .await
            .map(drop)
            .at(&here)
    }

    /// The target of the symlink at `path`.
    pub async fn readlink(&self, path: impl IntoPath) -> Result<String> {
        let path = path.into_path()?;
        let (parents, name, node) = self.found(&path, false).await?;
        let here = child_path(&parents, &name);
        match node.kind() {
            NodeKind::Symlink(link) => link.target().await.at(&here),
            _ => Err(Error::invalid_path(&here, "not a symlink")),
        }
    }
}

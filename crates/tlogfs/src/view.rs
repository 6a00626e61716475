//! A committed pond version, read: the index of its data files, and node state decoded
//! from them on demand and cached.
//!
//! Every data file of the log holds the rows of exactly one node written by one commit, and
//! is named `part_id=<part>/<node>-<pond version>-<unique>.parquet`. The index maps
//! (partition, node) to that node's files in commit order, straight from the Delta
//! snapshot's file list, without opening any file. Reading a node opens only its own files:
//! a file's versions, or a directory's rows back to its last snapshot (see
//! [`crate::dir_content`]), never the rest of the log.
//!
//! # Loading without holding a lock across I/O
//!
//! Decoding is synchronous, and runs under the persistence's state lock; fetching a data
//! file is not, and must not. So a decoder that needs rows nobody has fetched returns
//! [`Error::NotLoaded`], naming the files ([`Missing`]); [`loaded`] runs a synchronous
//! operation, and on that error drops whatever it held, fetches the files (in parallel,
//! from the log's [`Store`]), and runs it again. Operations are written to read before
//! they change anything, so running one again is safe, and each run gets further: fetched
//! rows stay until their node's decoded state is cached, which stays for the view's life.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tinyfs::{DirEntry, EntryType, FileVersion, NodeId};

use crate::delta_log::FileTags;
use crate::dir_content::DirContent;
use crate::error::{Error, Result};
use crate::oplog::{self, OplogRow, PART_ID};
use crate::store::Store;

/// One data file of the log, as the index knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedFile {
    /// The pond version that added it.
    pub version: u64,
    /// Its path relative to the log directory.
    pub path: String,
    /// The BLAKE3 its `add` recorded (none for files written before hashes were), checked
    /// before it is decoded.
    pub hash: Option<blake3::Hash>,
    /// The rows its `add` recorded (none for files written before counts were).
    pub rows: Option<u64>,
}

/// The name of a data file for `node`, written by the commit of pond version `version`.
pub fn data_file_name(part: NodeId, node: NodeId, version: u64) -> String {
    format!(
        "{PART_ID}={part}/{node}-{version}-{}.parquet",
        uuid::Uuid::now_v7().simple()
    )
}

/// Parses a data file path back into (partition, node, pond version).
pub fn parse_data_file_name(path: &str) -> Option<(NodeId, NodeId, u64)> {
    let (dir, file) = path.split_once('/')?;
    let part = dir.strip_prefix(PART_ID)?.strip_prefix('=')?.parse().ok()?;
    let stem = file.strip_suffix(".parquet")?;
    let mut fields = stem.splitn(3, '-');
    let node = fields.next()?.parse().ok()?;
    let version = fields.next()?.parse().ok()?;
    fields.next()?;
    Some((part, node, version))
}

/// Every data file on disk under the log directory `log_dir` (whether or not a commit
/// references it): its path relative to `log_dir`, its host path and its metadata. Delta's
/// own files (`_delta_log/`) are not data files.
pub(crate) fn data_files_on_disk(
    log_dir: &Path,
) -> Result<Vec<(String, PathBuf, std::fs::Metadata)>> {
    let io = |p: &Path, e| Error::io(p.display(), e);
    let mut out = Vec::new();
    for part in std::fs::read_dir(log_dir).map_err(|e| io(log_dir, e))? {
        let part = part.map_err(|e| io(log_dir, e))?;
        let name = part.file_name().to_string_lossy().to_string();
        if !name.starts_with(&format!("{PART_ID}=")) || !part.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(part.path()).map_err(|e| io(&part.path(), e))? {
            let file = file.map_err(|e| io(&part.path(), e))?;
            let meta = file.metadata().map_err(|e| io(&file.path(), e))?;
            let rel = format!("{name}/{}", file.file_name().to_string_lossy());
            out.push((rel, file.path(), meta));
        }
    }
    Ok(out)
}

/// Where a file version's body is.
#[derive(Clone, Debug)]
pub enum Body {
    /// In the oplog row.
    Inline(Arc<[u8]>),
    /// In the content store, by hash.
    External(blake3::Hash),
}

/// One version of a file, as stored.
#[derive(Clone, Debug)]
pub struct VersionRec {
    /// Its metadata.
    pub meta: FileVersion,
    /// The file's type at this version.
    pub entry_type: EntryType,
    /// For a dynamic node, its factory; the body is then its configuration.
    pub factory: Option<String>,
    /// The body.
    pub body: Body,
    /// For a series version that names the members, their records (see
    /// [`crate::manifest`]), as stored.
    pub manifest: Option<String>,
    /// The transaction that wrote it.
    pub txn_id: String,
}

impl VersionRec {
    /// The oplog row for this version of `node`.
    pub fn to_row(&self, node: NodeId) -> OplogRow {
        OplogRow {
            node_id: node,
            version: self.meta.version as i64,
            entry_type: self.entry_type,
            factory: self.factory.clone(),
            content: match &self.body {
                Body::Inline(bytes) => Some(bytes.to_vec()),
                Body::External(_) => None,
            },
            blake3: Some(self.meta.blake3),
            size: Some(self.meta.size as i64),
            event_time: self.meta.event_time.clone(),
            members: self.meta.members.clone(),
            rows: self.meta.rows.map(|r| r as i64),
            compacts: self.meta.compacts.clone(),
            origin: self.meta.origin,
            manifest: self.manifest.clone(),
            txn_id: self.txn_id.clone(),
            written_at: self.meta.modified_micros,
        }
    }

    fn from_row(row: OplogRow, file: &str) -> Result<Self> {
        let corrupt = |detail: &str| Error::Corrupt {
            file: file.to_string(),
            detail: format!("node {} v{}: {detail}", row.node_id, row.version),
        };
        let blake3 = row
            .blake3
            .ok_or_else(|| corrupt("file row without blake3"))?;
        let size = row.size.ok_or_else(|| corrupt("file row without size"))?;
        let body = match row.content {
            Some(bytes) => Body::Inline(bytes.into()),
            None => Body::External(blake3),
        };
        Ok(VersionRec {
            meta: FileVersion {
                version: row.version as u64,
                size: size as u64,
                blake3,
                modified_micros: row.written_at,
                event_time: row.event_time,
                members: row.members,
                rows: row.rows.map(|r| r as u64),
                compacts: row.compacts,
                origin: row.origin,
            },
            entry_type: row.entry_type,
            factory: row.factory,
            body,
            manifest: row.manifest,
            txn_id: row.txn_id,
        })
    }
}

/// A directory's state at a version.
#[derive(Clone, Debug, Default)]
pub struct DirState {
    /// Its version (0 for the root before anything was put in it).
    pub version: i64,
    /// Its entries.
    pub entries: BTreeMap<String, DirEntry>,
}

/// Every version of one file, oldest first.
pub type FileHistory = Arc<Vec<VersionRec>>;

/// The rows of the log data files fetched for decoding, by path: shared by the views of
/// one log, since a data file never changes once written.
#[derive(Debug, Default)]
pub struct Fetched(Mutex<Held>);

/// The rows held, by data file path, with the file's bytes; and their total.
#[derive(Debug, Default)]
struct Held {
    rows: HashMap<String, (u64, Arc<Vec<OplogRow>>)>,
    bytes: u64,
}

/// Rows held are dropped, all at once, before a fetch would take them past this many bytes
/// of data files (a fetch's own files are always kept, so the operation that asked for
/// them finds them).
const FETCHED_MAX: u64 = 64 << 20;

/// How many data files are fetched at once.
const FETCH_PARALLEL: usize = 16;

/// Log data files a decoder needs that are not fetched yet (see the module docs).
#[derive(Debug)]
pub struct Missing {
    store: Store,
    fetched: Arc<Fetched>,
    files: Vec<IndexedFile>,
}

impl Missing {
    /// Fetches the files, each checked against its recorded BLAKE3, and keeps their rows.
    pub(crate) async fn fetch(self) -> Result<()> {
        let Missing {
            store,
            fetched,
            files,
        } = self;
        let rows: Vec<(String, u64, Vec<OplogRow>)> = futures::stream::iter(files)
            .map(|file| {
                let store = store.clone();
                async move {
                    // Counted by tests that bound what a command reads.
                    tracing::trace!(target: "tlogfs::log_file", path = %file.path, "reading a log data file");
                    let bytes = store.get(&file.path).await?.ok_or_else(|| {
                        Error::io(store.shown(&file.path), std::io::ErrorKind::NotFound.into())
                    })?;
                    let size = bytes.len() as u64;
                    let rows = if bytes.len() < 256 << 10 {
                        rows_of(bytes, &file.path, file.hash.as_ref())?
                    } else {
                        let (path, hash) = (file.path.clone(), file.hash);
                        tokio::task::spawn_blocking(move || rows_of(bytes, &path, hash.as_ref()))
                            .await
                            .map_err(|e| Error::internal(format!("decoding {}: {e}", file.path)))??
                    };
                    Ok::<_, Error>((file.path, size, rows))
                }
            })
            .buffer_unordered(FETCH_PARALLEL)
            .try_collect()
            .await?;
        let mut held = lock(&fetched.0);
        let adding: u64 = rows.iter().map(|(_, size, _)| size).sum();
        if held.bytes + adding > FETCHED_MAX {
            held.rows.clear();
            held.bytes = 0;
        }
        for (path, size, rows) in rows {
            if let Some((replaced, _)) = held.rows.insert(path, (size, Arc::new(rows))) {
                held.bytes -= replaced;
            }
            held.bytes += size;
        }
        Ok(())
    }
}

/// Runs `op` until it has every data file it needs: each time it stops for files not
/// fetched yet ([`Error::NotLoaded`]), fetches them and runs it again. `op` must read
/// before it changes anything (see the module docs).
pub(crate) async fn loaded<T>(mut op: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match op() {
            Err(Error::NotLoaded(missing)) => missing.fetch().await?,
            other => return other,
        }
    }
}

/// One committed pond version.
#[derive(Debug)]
pub struct View {
    version: u64,
    store: Store,
    fetched: Arc<Fetched>,
    index: HashMap<(NodeId, NodeId), Vec<IndexedFile>>,
    dirs: Mutex<HashMap<NodeId, Arc<DirState>>>,
    files: Mutex<HashMap<(NodeId, NodeId), FileHistory>>,
    latest: Mutex<HashMap<(NodeId, NodeId), Option<VersionRec>>>,
    members: Mutex<HashMap<(NodeId, NodeId), Option<FileHistory>>>,
}

impl View {
    /// A view of pond version `version` whose data files are `files` (keys in the log's
    /// `store`, each with its recorded tags), decoding rows from `fetched`. Paths pond did
    /// not write are an error naming them.
    pub(crate) fn new(
        version: u64,
        store: Store,
        fetched: Arc<Fetched>,
        files: impl IntoIterator<Item = (String, FileTags)>,
    ) -> Result<Self> {
        Self::indexed(version, store, fetched, HashMap::new(), files, &[])
    }

    /// The view of pond version `version`, which is this version plus the data files
    /// `added`, less `removed` (as a commit on top of it changes them). Decoded state is
    /// not carried over.
    pub fn with_changes(
        &self,
        version: u64,
        added: impl IntoIterator<Item = (String, FileTags)>,
        removed: &[String],
    ) -> Result<Self> {
        Self::indexed(
            version,
            self.store.clone(),
            self.fetched.clone(),
            self.index.clone(),
            added,
            removed,
        )
    }

    /// `index` with `files` added and `removed` removed, each node's files in commit
    /// order, as a view.
    fn indexed(
        version: u64,
        store: Store,
        fetched: Arc<Fetched>,
        mut index: HashMap<(NodeId, NodeId), Vec<IndexedFile>>,
        files: impl IntoIterator<Item = (String, FileTags)>,
        removed: &[String],
    ) -> Result<Self> {
        for path in removed {
            if let Some((part, node, _)) = parse_data_file_name(path)
                && let Some(files) = index.get_mut(&(part, node))
            {
                files.retain(|f| f.path != *path);
                if files.is_empty() {
                    index.remove(&(part, node));
                }
            }
        }
        let mut touched = Vec::new();
        for (path, tags) in files {
            let (part, node, file_version) =
                parse_data_file_name(&path).ok_or_else(|| Error::Corrupt {
                    file: path.clone(),
                    detail: "not a pond data file name".into(),
                })?;
            index.entry((part, node)).or_default().push(IndexedFile {
                version: file_version,
                path,
                hash: tags.hash,
                rows: tags.rows,
            });
            touched.push((part, node));
        }
        for key in touched {
            if let Some(files) = index.get_mut(&key) {
                files.sort_by(|a, b| a.version.cmp(&b.version).then_with(|| a.path.cmp(&b.path)));
            }
        }
        Ok(View {
            version,
            store,
            fetched,
            index,
            dirs: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
            latest: Mutex::new(HashMap::new()),
            members: Mutex::new(HashMap::new()),
        })
    }

    /// The pond version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Every data file, with its partition and node.
    pub fn files(&self) -> impl Iterator<Item = (NodeId, NodeId, &IndexedFile)> {
        self.index
            .iter()
            .flat_map(|((part, node), files)| files.iter().map(move |f| (*part, *node, f)))
    }

    /// The data files of node `node` in partition `part`, in commit order.
    pub fn node_files(&self, part: NodeId, node: NodeId) -> &[IndexedFile] {
        self.index.get(&(part, node)).map_or(&[], Vec::as_slice)
    }

    /// One data file's rows (checked against its recorded BLAKE3 when fetched), or
    /// [`Error::NotLoaded`] if they are not fetched yet.
    pub(crate) fn rows(&self, file: &IndexedFile) -> Result<Arc<Vec<OplogRow>>> {
        self.rows_of_files(std::slice::from_ref(file))
            .map(|mut rows| rows.pop().expect("one file"))
    }

    /// The rows of each of `files`, or [`Error::NotLoaded`] naming all of them that are not
    /// fetched yet.
    pub(crate) fn rows_of_files(&self, files: &[IndexedFile]) -> Result<Vec<Arc<Vec<OplogRow>>>> {
        let held = lock(&self.fetched.0);
        let mut out = Vec::with_capacity(files.len());
        let mut missing = Vec::new();
        for file in files {
            match held.rows.get(&file.path) {
                Some((_, rows)) => out.push(rows.clone()),
                None => missing.push(file.clone()),
            }
        }
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(Error::NotLoaded(Box::new(Missing {
                store: self.store.clone(),
                fetched: self.fetched.clone(),
                files: missing,
            })))
        }
    }

    /// Forgets the fetched rows of `files`, once what they decode to is cached.
    fn done_with(&self, files: &[IndexedFile]) {
        let mut held = lock(&self.fetched.0);
        for file in files {
            if let Some((size, _)) = held.rows.remove(&file.path) {
                held.bytes -= size;
            }
        }
    }

    /// The state of directory `dir`.
    pub(crate) fn dir(&self, dir: NodeId) -> Result<Arc<DirState>> {
        if let Some(state) = lock(&self.dirs).get(&dir) {
            return Ok(state.clone());
        }
        let files = self
            .index
            .get(&(dir, dir))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if files.is_empty() && dir != NodeId::ROOT {
            return Err(Error::internal(format!(
                "directory {dir} has no rows at pond version {}",
                self.version
            )));
        }
        // Newest first, back to the last snapshot; then apply oldest first. A small
        // directory's newest file is a snapshot; past it, the rest of the chain (at most a
        // snapshot interval of files) is fetched at once.
        let mut chain: Vec<(i64, DirContent)> = Vec::new();
        let mut used = 0;
        'files: for (i, file) in files.iter().enumerate().rev() {
            let rows = match self.rows(file) {
                Err(Error::NotLoaded(missing)) if !chain.is_empty() => {
                    let from =
                        (i + 1).saturating_sub(crate::dir_content::SNAPSHOT_INTERVAL as usize);
                    let more = self.rows_of_files(&files[from..=i]).err();
                    return Err(more.unwrap_or(Error::NotLoaded(missing)));
                }
                rows => rows?,
            };
            used += 1;
            let mut rows: Vec<&OplogRow> = rows.iter().collect();
            rows.sort_by_key(|r| std::cmp::Reverse(r.version));
            for row in rows {
                let content = row.content.as_deref().ok_or_else(|| Error::Corrupt {
                    file: file.path.clone(),
                    detail: format!("directory {dir} v{} has no content", row.version),
                })?;
                let content = DirContent::decode(content, &file.path)?;
                let snapshot = content.is_snapshot();
                chain.push((row.version, content));
                if snapshot {
                    break 'files;
                }
            }
        }
        let mut state = DirState::default();
        for (version, content) in chain.into_iter().rev() {
            content.apply(&mut state.entries);
            state.version = version;
        }
        let state = Arc::new(state);
        lock(&self.dirs).insert(dir, state.clone());
        self.done_with(&files[files.len() - used..]);
        Ok(state)
    }

    /// Every version of the file or symlink `node` stored in partition `part`, oldest
    /// first. Where two commits wrote the same version (a move copies a file's history),
    /// the later one's row is used.
    pub(crate) fn file(&self, part: NodeId, node: NodeId) -> Result<FileHistory> {
        if let Some(recs) = lock(&self.files).get(&(part, node)) {
            return Ok(recs.clone());
        }
        let files = self.index.get(&(part, node)).ok_or_else(|| {
            Error::internal(format!(
                "node {node} has no rows in partition {part} at pond version {}",
                self.version
            ))
        })?;
        let mut by_version: BTreeMap<i64, VersionRec> = BTreeMap::new();
        for (file, rows) in files.iter().zip(self.rows_of_files(files)?) {
            for row in rows.iter() {
                by_version.insert(row.version, VersionRec::from_row(row.clone(), &file.path)?);
            }
        }
        let recs = Arc::new(by_version.into_values().collect::<Vec<_>>());
        lock(&self.files).insert((part, node), recs.clone());
        self.done_with(files);
        Ok(recs)
    }

    /// The latest version of file `node` in partition `part`, reading only its newest data
    /// file (versions only grow, and a moved file's newest file copies all of them).
    /// Cached, like the version lists.
    pub(crate) fn latest_version(&self, part: NodeId, node: NodeId) -> Result<Option<VersionRec>> {
        if let Some(recs) = lock(&self.files).get(&(part, node)) {
            return Ok(recs.last().cloned());
        }
        if let Some(latest) = lock(&self.latest).get(&(part, node)) {
            return Ok(latest.clone());
        }
        let Some(last) = self.index.get(&(part, node)).and_then(|f| f.last()) else {
            return Ok(None);
        };
        let latest = match self.rows(last)?.iter().max_by_key(|r| r.version) {
            Some(row) => Some(VersionRec::from_row(row.clone(), &last.path)?),
            None => None,
        };
        lock(&self.latest).insert((part, node), latest.clone());
        Ok(latest)
    }

    /// The members of series `node` in partition `part`, oldest first, read from its
    /// newest data files back to the newest version that names them (see
    /// `manifest.rs`). `None` where that cannot tell and every version must be read:
    /// a series no version of which names its members, one written before manifests were,
    /// or a member whose body only its own row holds. Cached.
    pub(crate) fn series_members(&self, part: NodeId, node: NodeId) -> Result<Option<FileHistory>> {
        if let Some(found) = lock(&self.members).get(&(part, node)) {
            return Ok(found.clone());
        }
        let found = self.read_series_members(part, node)?;
        lock(&self.members).insert((part, node), found.clone());
        Ok(found)
    }

    /// A version of series `node` among the members [`series_members`](Self::series_members)
    /// found, if it found them; reads nothing.
    pub(crate) fn cached_member(
        &self,
        part: NodeId,
        node: NodeId,
        version: u64,
    ) -> Option<VersionRec> {
        let members = lock(&self.members);
        let found = members.get(&(part, node))?.as_ref()?;
        let i = found
            .binary_search_by_key(&version, |r| r.meta.version)
            .ok()?;
        Some(found[i].clone())
    }

    fn read_series_members(&self, part: NodeId, node: NodeId) -> Result<Option<FileHistory>> {
        // Newest file first; where two files hold a version, the newer one's row.
        let mut rows: BTreeMap<i64, (OplogRow, &str)> = BTreeMap::new();
        let mut reset = None;
        for file in self.node_files(part, node).iter().rev() {
            for row in self.rows(file)?.iter() {
                rows.entry(row.version)
                    .or_insert_with(|| (row.clone(), &file.path));
            }
            reset = rows
                .iter()
                .rev()
                .find(|(_, (r, _))| r.members.is_some())
                .map(|(v, _)| *v);
            if reset.is_some() {
                break;
            }
        }
        let Some(reset) = reset else {
            return Ok(None);
        };
        let (row, path) = &rows[&reset];
        let (Some(set), Some(text)) = (row.members.clone(), row.manifest.as_deref()) else {
            return Ok(None);
        };
        if row.entry_type != EntryType::FileSeries {
            return Ok(None);
        }
        let corrupt = |detail: String| Error::Corrupt {
            file: path.to_string(),
            detail: format!("node {node} v{reset}: {detail}"),
        };
        let manifest = crate::manifest::Manifest::decode(text).map_err(corrupt)?;
        let mut out = Vec::new();
        for member in manifest.members {
            if member.inline {
                match rows.get(&(member.version as i64)) {
                    Some((row, path)) => out.push(VersionRec::from_row(row.clone(), path)?),
                    None => return Ok(None),
                }
            } else {
                let meta = member.to_version().map_err(corrupt)?;
                out.push(VersionRec {
                    body: Body::External(meta.blake3),
                    meta,
                    entry_type: EntryType::FileSeries,
                    factory: None,
                    manifest: None,
                    txn_id: String::new(),
                });
            }
        }
        for (version, (row, path)) in rows.range(reset..) {
            if *version == reset && !set.contains(reset as u64) {
                continue;
            }
            out.push(VersionRec::from_row(row.clone(), path)?);
        }
        out.sort_by_key(|r| r.meta.version);
        let named: Vec<u64> = out.iter().map(|r| r.meta.version).collect();
        if !set
            .iter()
            .all(|v| v > reset as u64 || named.binary_search(&v).is_ok())
        {
            // A reset whose manifest misses one of its members: read everything.
            return Ok(None);
        }
        Ok(Some(Arc::new(out)))
    }

    /// The target of symlink `node` in partition `part`.
    pub(crate) fn symlink(&self, part: NodeId, node: NodeId) -> Result<String> {
        let files = self.index.get(&(part, node)).ok_or_else(|| {
            Error::internal(format!("symlink {node} has no rows in partition {part}"))
        })?;
        let last = files.last().expect("indexed nodes have files");
        let rows = self.rows(last)?;
        let row = rows
            .iter()
            .max_by_key(|r| r.version)
            .ok_or_else(|| Error::Corrupt {
                file: last.path.clone(),
                detail: "no rows".into(),
            })?;
        let target = row.content.clone().ok_or_else(|| Error::Corrupt {
            file: last.path.clone(),
            detail: format!("symlink {node} has no target"),
        })?;
        String::from_utf8(target).map_err(|_| Error::Corrupt {
            file: last.path.clone(),
            detail: format!("symlink {node} target is not UTF-8"),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads every row of the local data file at `path` (`name` for errors), for the tools
/// that walk a local log directly.
pub fn read_rows(
    path: &Path,
    name: &str,
    expected: Option<&blake3::Hash>,
) -> Result<Vec<OplogRow>> {
    // Counted by tests that bound what a command reads.
    tracing::trace!(target: "tlogfs::log_file", path = name, "reading a log data file");
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    rows_of(bytes::Bytes::from(bytes), name, expected)
}

/// Every row of the data file whose bytes are `file` (`name` for errors), checked first
/// against its `expected` BLAKE3.
pub fn rows_of(
    file: bytes::Bytes,
    name: &str,
    expected: Option<&blake3::Hash>,
) -> Result<Vec<OplogRow>> {
    let bytes = &file;
    // A damaged file is refused before it is decoded: its rows would be wrong, and some
    // damage makes the Parquet decoder panic.
    if let Some(expected) = expected
        && blake3::hash(bytes) != *expected
    {
        return Err(Error::Corrupt {
            file: name.to_string(),
            detail: "does not match its recorded BLAKE3 (run `pond verify`)".into(),
        });
    }
    // The oplog's schema is fixed: the Arrow schema embedded in the footer is not needed,
    // and a damaged one must not be decoded (arrow's IPC reader panics on some damage).
    let options =
        parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_skip_arrow_metadata(true);
    let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
        .and_then(|b| b.build())
        .map_err(|source| Error::Parquet {
            file: name.to_string(),
            source,
        })?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| Error::Corrupt {
            file: name.to_string(),
            detail: e.to_string(),
        })?;
        rows.extend(oplog::from_batch(&batch, name)?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_file_names_parse_back() {
        let part = NodeId::generate();
        let node = NodeId::generate();
        let name = data_file_name(part, node, 42);
        assert_eq!(parse_data_file_name(&name), Some((part, node, 42)));
        assert_eq!(parse_data_file_name("part-00000-abc.snappy.parquet"), None);
        assert_eq!(parse_data_file_name("part_id=zz/x-1-y.parquet"), None);
    }
}

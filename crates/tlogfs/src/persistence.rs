//! [`TlogPersistence`]: the tinyfs [`Persistence`] contract on a Delta Lake log.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use tinyfs::{
    AsyncReadSeek, Declared, DirEntry, EntryType, FileVersion, FileWriter, NodeId, NodeKey,
    Persistence, TxnMeta, WriteTarget,
};

use crate::blocks::BlockHasher;
use crate::content_store::ContentStore;
use crate::error::Error;
use crate::log_table::{Attempt, LogTable};
use crate::protocol::{ConflictKey, PondCommit};
use crate::txn::{PendingDir, PendingNode, Txn};
use crate::view::{Body, VersionRec, View};
use crate::writer::TlogWriter;

/// Bodies up to this many bytes are stored inline in the oplog row; larger ones go to
/// `content/`. Chosen by measurement (see the crate docs): below it, a separate file costs
/// more to write and open than the bytes cost in the row.
pub const INLINE_MAX: usize = 64 * 1024;

/// How many times a commit is rebuilt on a newer version before giving up.
const MAX_ATTEMPTS: u32 = 100;

type FsResult<T> = tinyfs::Result<T>;

/// A pond's filesystem storage: reads a committed version, and commits transactions to the
/// Delta log. Opened by [`crate::Pond`].
#[derive(Debug, Clone)]
pub struct TlogPersistence {
    pub(crate) inner: Arc<Inner>,
}

/// What every clone of a persistence shares.
#[derive(Debug)]
pub(crate) struct Inner {
    table: tokio::sync::Mutex<LogTable>,
    pub(crate) content: ContentStore,
    read_only: bool,
    pub(crate) inline_max: std::sync::atomic::AtomicUsize,
    pub(crate) state: Mutex<State>,
}

/// The view read and the transaction open, behind one lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) view: Arc<View>,
    pub(crate) txn: Option<Txn>,
    serial: u64,
    /// child → (parent, name), learned from every directory read: how paths are named in
    /// commit infos and errors.
    pub(crate) names: HashMap<NodeId, (NodeId, String)>,
}

pub(crate) fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub(crate) fn path_of(&self, node: NodeId) -> String {
        let mut parts = Vec::new();
        let mut at = node;
        while at != NodeId::ROOT && parts.len() < 4096 {
            match self.names.get(&at) {
                Some((parent, name)) => {
                    parts.push(name.clone());
                    at = *parent;
                }
                None => return format!("<node {}>", node.short()),
            }
        }
        parts.reverse();
        format!("/{}", parts.join("/"))
    }

    fn child_path(&self, dir: NodeId, name: &str) -> String {
        let parent = self.path_of(dir);
        if parent == "/" {
            format!("/{name}")
        } else {
            format!("{parent}/{name}")
        }
    }

    fn learn(&mut self, dir: NodeId, entries: impl IntoIterator<Item = DirEntry>) {
        for e in entries {
            self.names.insert(e.id, (dir, e.name));
        }
    }

    fn txn_mut(&mut self) -> crate::Result<&mut Txn> {
        self.txn
            .as_mut()
            .ok_or_else(|| tinyfs::Error::internal("change outside a transaction").into())
    }

    /// The committed version that holds `key`: the current one, or for a node this
    /// transaction put back, the earlier one it was put back from (see [`crate::links`]).
    fn committed(&self, key: NodeKey) -> &View {
        // A directory's files are under its own id, a file's under its directory's.
        let holds = |view: &View| {
            !view.node_files(key.parent, key.id).is_empty()
                || !view.node_files(key.id, key.id).is_empty()
        };
        if let Some(txn) = &self.txn
            && !holds(&self.view)
            && let Some(source) = txn
                .linked
                .iter()
                .filter_map(|l| l.source.as_deref())
                .find(|source| holds(source))
        {
            return source;
        }
        &self.view
    }

    /// The versions of the file at `key`: committed history plus pending ones.
    fn versions(&self, key: NodeKey) -> crate::Result<Vec<VersionRec>> {
        let pending = self.txn.as_ref().and_then(|t| t.nodes.get(&key));
        let mut out = Vec::new();
        let history = match pending {
            Some(p) => p.history,
            None => Some(key),
        };
        if let Some(from) = history {
            out.extend(
                self.committed(from)
                    .file(from.parent, from.id)?
                    .iter()
                    .cloned(),
            );
        }
        if let Some(p) = pending {
            out.extend(p.versions.iter().cloned());
        }
        Ok(out)
    }

    /// The latest version of file `key`: a pending one, else read from the newest of its
    /// data files only (see [`View::latest_version`]).
    fn latest(&self, key: NodeKey) -> crate::Result<Option<VersionRec>> {
        let pending = self.txn.as_ref().and_then(|t| t.nodes.get(&key));
        if let Some(last) = pending.and_then(|p| p.versions.last()) {
            return Ok(Some(last.clone()));
        }
        match pending.map_or(Some(key), |p| p.history) {
            Some(from) => self.committed(from).latest_version(from.parent, from.id),
            None => Ok(None),
        }
    }

    /// The members of series `key`: from its newest data files where no change to it is
    /// pending (see [`View::series_members`]), else from all its versions.
    fn members(&self, key: NodeKey) -> crate::Result<Vec<FileVersion>> {
        let pending = self.txn.as_ref().and_then(|t| t.nodes.get(&key));
        if pending.is_none()
            && let Some(members) = self.committed(key).series_members(key.parent, key.id)?
        {
            return Ok(members.iter().map(|r| r.meta.clone()).collect());
        }
        let all = self.versions(key)?.into_iter().map(|r| r.meta).collect();
        Ok(tinyfs::member_versions(all))
    }

    /// Version `version` of file `key`, and the latest version number; found without
    /// copying the others (and, for the latest or a member already found, without reading
    /// them).
    fn version(&self, key: NodeKey, version: u64) -> crate::Result<(Option<VersionRec>, u64)> {
        if let Some(latest) = self.latest(key)? {
            if latest.meta.version == version {
                return Ok((Some(latest), version));
            }
            let pending = self.txn.as_ref().and_then(|t| t.nodes.get(&key));
            if pending.is_none()
                && let Some(member) = self
                    .committed(key)
                    .cached_member(key.parent, key.id, version)
            {
                return Ok((Some(member), latest.meta.version));
            }
        }
        let pending = self.txn.as_ref().and_then(|t| t.nodes.get(&key));
        let history = match pending {
            Some(p) => p.history,
            None => Some(key),
        };
        let committed = match history {
            Some(from) => self.committed(from).file(from.parent, from.id)?,
            None => Arc::default(),
        };
        let written = pending.map(|p| p.versions.as_slice()).unwrap_or_default();
        let latest = written
            .last()
            .or(committed.last())
            .map_or(0, |v| v.meta.version);
        let find = |recs: &[VersionRec]| {
            recs.binary_search_by_key(&version, |r| r.meta.version)
                .ok()
                .map(|i| recs[i].clone())
        };
        Ok((find(written).or_else(|| find(&committed)), latest))
    }
}

impl TlogPersistence {
    pub(crate) fn new(
        table: LogTable,
        content: ContentStore,
        read_only: bool,
    ) -> crate::Result<Self> {
        let view = Arc::new(table.view()?);
        Ok(TlogPersistence {
            inner: Arc::new(Inner {
                table: tokio::sync::Mutex::new(table),
                content,
                read_only,
                inline_max: std::sync::atomic::AtomicUsize::new(INLINE_MAX),
                state: Mutex::new(State {
                    view,
                    txn: None,
                    serial: 0,
                    names: HashMap::new(),
                }),
            }),
        })
    }

    /// The committed view this persistence reads.
    pub fn view(&self) -> Arc<View> {
        lock(&self.inner.state).view.clone()
    }

    /// Runs `op` on the state, under its lock, until it has every log data file it needs:
    /// the lock is dropped while they are fetched (see [`crate::view::loaded`]).
    pub(crate) async fn with_state<T>(
        &self,
        mut op: impl FnMut(&mut State) -> crate::Result<T>,
    ) -> FsResult<T> {
        Ok(crate::view::loaded(|| op(&mut lock(&self.inner.state))).await?)
    }

    /// Sets the largest body stored inline (default [`INLINE_MAX`]); for measuring the
    /// trade-off, not for tuning a pond: both kinds of body read back either way.
    pub fn set_inline_max(&self, bytes: usize) {
        self.inner
            .inline_max
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// The content store.
    pub fn content(&self) -> &ContentStore {
        &self.inner.content
    }

    fn check_writable(&self) -> FsResult<()> {
        if self.inner.read_only {
            Err(tinyfs::Error::ReadOnly {
                path: String::new(),
                op: "change a pond opened at an earlier version",
            })
        } else {
            Ok(())
        }
    }

    async fn commit_txn(&self, txn: Txn) -> crate::Result<Option<u64>> {
        if txn.is_empty() {
            return Ok(None);
        }
        let mut table = self.inner.table.lock().await;
        let mut head = txn.base.clone();
        let mut checked = head.version();
        for attempt in 0..MAX_ATTEMPTS {
            // The table lags this persistence's view after its own commit; catch it up.
            if table.version()? < head.version() {
                table.update().await?;
            }
            if table.version()? > head.version() {
                // Others committed since `head`: continue on top of them unless they
                // touched what this transaction did.
                head = Arc::new(table.view()?);
                for version in checked + 1..=head.version() {
                    if let Err(e) = self.check_conflict(&table, &txn, version).await {
                        tracing::debug!(txn = %txn.id, version, error = %e, "conflict");
                        return Err(e);
                    }
                }
                tracing::debug!(
                    txn = %txn.id,
                    from = checked,
                    to = head.version(),
                    "rebased on commits made since"
                );
                checked = head.version();
            }
            if attempt > 0 {
                // Back off, growing with the attempts and drawn at random below that bound
                // ("full jitter"), so racing writers spread out rather than collide again.
                let bound = 5u64 << attempt.min(7);
                // A UUIDv7's last bytes are random.
                let random = uuid::Uuid::now_v7();
                let draw = u64::from(u16::from_le_bytes([
                    random.as_bytes()[14],
                    random.as_bytes()[15],
                ]));
                tokio::time::sleep(Duration::from_millis(draw % bound)).await;
            }
            let target = head.version() + 1;
            let written_at = tinyfs::now_micros();
            let relinks = crate::view::loaded(|| crate::links::relinks(&txn, &head)).await?;
            let mut adds = Vec::new();
            let mut removes = Vec::new();
            let mut superseded = relinks.dropped;
            let rows = crate::view::loaded(|| txn.rows(&head, written_at)).await?;
            for ((part, node), rows) in rows {
                if relinks.gone.contains(&(part, node)) || relinks.gone_dirs.contains(&part) {
                    // Under a directory this commit unlinks: nothing will read them.
                    continue;
                }
                if part == node && crate::merge::is_snapshot(&rows)? {
                    // A directory is read back to its last snapshot: its earlier files are
                    // history, which earlier pond versions still read from disk.
                    superseded.extend(head.node_files(part, node).iter().map(|f| f.path.clone()));
                }
                let (rows, merged, bodies) = crate::view::loaded(|| {
                    crate::merge::with_merged(&head, part, node, rows.clone())
                })
                .await?;
                let content = &self.inner.content;
                futures::stream::iter(bodies)
                    .map(|(hash, bytes)| content.store(hash, bytes))
                    .buffer_unordered(16)
                    .try_collect::<Vec<()>>()
                    .await?;
                adds.push(table.write_data_file(part, node, target, &rows).await?);
                removes.extend(merged);
            }
            let mut readds = Vec::new();
            for file in &relinks.readded {
                readds.push(table.readd(file).await?);
            }
            let info = self.commit_info(&txn);
            let all_adds: Vec<_> = adds.iter().chain(&readds).cloned().collect();
            match table
                .try_commit(all_adds.clone(), &removes, &superseded, info)
                .await?
            {
                Attempt::Committed(version) => {
                    // The new version is `head` plus what this commit changed; building it
                    // from those avoids re-reading the whole file list from the log.
                    let paths = all_adds
                        .iter()
                        .map(|a| (a.path.clone(), crate::log_table::add_tags(a)));
                    removes.extend(superseded);
                    let view = Arc::new(head.with_changes(version, paths, &removes)?);
                    lock(&self.inner.state).view = view;
                    tracing::debug!(
                        txn = %txn.id,
                        version,
                        attempts = attempt + 1,
                        data_files = all_adds.len(),
                        "committed"
                    );
                    return Ok(Some(version));
                }
                Attempt::Stale => {
                    tracing::debug!(txn = %txn.id, target, "another writer committed first; retrying");
                    // Never referenced: remove now rather than leave them for `maintain`.
                    for add in adds {
                        let _ = table.store().delete(&add.path).await;
                    }
                    table.update().await?;
                }
            }
        }
        Err(Error::Conflict {
            path: txn
                .paths
                .iter()
                .next()
                .cloned()
                .unwrap_or_else(|| "/".into()),
            detail: format!(
                "gave up after {MAX_ATTEMPTS} attempts: other writers keep committing first"
            ),
        })
    }

    async fn check_conflict(&self, table: &LogTable, txn: &Txn, version: u64) -> crate::Result<()> {
        let record = match table.recent_record(version) {
            Some(record) => Some(record),
            None => LogTable::commit_record(table.store(), version).await?,
        };
        let Some(record) = record else {
            return Ok(());
        };
        let path_hint = || {
            txn.paths
                .iter()
                .next()
                .cloned()
                .unwrap_or_else(|| "/".into())
        };
        let Some(pond) = record.pond else {
            if record.changes_data {
                return Err(Error::Conflict {
                    path: path_hint(),
                    detail: format!(
                        "pond version {version} was written by another program ({})",
                        record.operation.unwrap_or_default()
                    ),
                });
            }
            return Ok(());
        };
        if let Some(key) = txn.conflict_with(&pond.writes) {
            let state = lock(&self.inner.state);
            let path = describe_key(&state, key);
            let other = pond.command.join(" ");
            return Err(Error::Conflict {
                path,
                detail: format!(
                    "changed concurrently by pond version {version} (`{other}`); nothing was committed, try again"
                ),
            });
        }
        Ok(())
    }

    /// Links a new node `name` of `entry_type` (made by `factory`, if dynamic) into `dir`;
    /// `pending` records the node's own state in the transaction.
    async fn create_node(
        &self,
        dir: NodeKey,
        name: &str,
        entry_type: EntryType,
        factory: Option<&str>,
        pending: impl Fn(&mut Txn, NodeId),
    ) -> FsResult<NodeId> {
        self.check_writable()?;
        self.with_state(|state| {
            let path = state.child_path(dir.id, name);
            let id = NodeId::generate();
            let view = state.view.clone();
            let txn = state.txn_mut()?;
            let mut entry = DirEntry::new(name, id, entry_type);
            entry.factory = factory.map(String::from);
            link(txn, &view, dir.id, entry)?;
            pending(txn, id);
            txn.paths.insert(path);
            state.names.insert(id, (dir.id, name.to_string()));
            Ok(id)
        })
        .await
    }

    fn commit_info(&self, txn: &Txn) -> PondCommit {
        PondCommit {
            txn_id: txn.id.clone(),
            command: txn.meta.command.clone(),
            user: txn.meta.user.clone(),
            paths: txn.paths.clone(),
            writes: txn.writes.clone(),
            ..Default::default()
        }
    }
}

fn describe_key(state: &State, key: &ConflictKey) -> String {
    match key {
        ConflictKey::Entry { dir, name } => state.child_path(*dir, name),
        ConflictKey::Node(node) => state.path_of(*node),
        ConflictKey::List(_) => key.to_string(),
    }
}

#[async_trait]
impl Persistence for TlogPersistence {
    async fn begin(&self, meta: TxnMeta) -> FsResult<()> {
        let mut state = lock(&self.inner.state);
        if state.txn.is_some() {
            return Err(tinyfs::Error::internal("begin while a transaction is open"));
        }
        state.serial += 1;
        let txn = Txn::new(meta, state.serial, state.view.clone());
        state.txn = Some(txn);
        Ok(())
    }

    async fn commit(&self) -> FsResult<Option<u64>> {
        let txn = lock(&self.inner.state)
            .txn
            .take()
            .ok_or_else(|| tinyfs::Error::internal("commit without a transaction"))?;
        if !txn.is_empty() {
            self.check_writable()?;
        }
        Ok(self.commit_txn(txn).await?)
    }

    fn rollback(&self) {
        lock(&self.inner.state).txn = None;
    }

    async fn version(&self) -> FsResult<u64> {
        Ok(lock(&self.inner.state).view.version())
    }

    async fn dir_get(&self, dir: NodeKey, name: &str) -> FsResult<Option<DirEntry>> {
        self.with_state(|state| {
            let entry = match state.txn.as_ref().and_then(|t| t.dirs.get(&dir.id)) {
                Some(pending) => pending.entries.get(name).cloned(),
                None => state.committed(dir).dir(dir.id)?.entries.get(name).cloned(),
            };
            if let Some(txn) = state.txn.as_mut() {
                txn.reads.insert(ConflictKey::entry(dir.id, name));
            }
            if let Some(e) = &entry {
                state.learn(dir.id, [e.clone()]);
            }
            Ok(entry)
        })
        .await
    }

    async fn dir_entries(&self, dir: NodeKey) -> FsResult<Vec<DirEntry>> {
        self.with_state(|state| {
            let entries: Vec<DirEntry> = match state.txn.as_ref().and_then(|t| t.dirs.get(&dir.id))
            {
                Some(pending) => pending.entries.values().cloned().collect(),
                None => state
                    .committed(dir)
                    .dir(dir.id)?
                    .entries
                    .values()
                    .cloned()
                    .collect(),
            };
            if let Some(txn) = state.txn.as_mut() {
                txn.reads.insert(ConflictKey::List(dir.id));
            }
            state.learn(dir.id, entries.iter().cloned());
            Ok(entries)
        })
        .await
    }

    async fn create_directory(&self, dir: NodeKey, name: &str) -> FsResult<NodeId> {
        self.create_node(dir, name, EntryType::Directory, None, |txn, id| {
            txn.dirs.insert(
                id,
                PendingDir {
                    new: true,
                    ..Default::default()
                },
            );
        })
        .await
    }

    async fn create_symlink(&self, dir: NodeKey, name: &str, target: &str) -> FsResult<NodeId> {
        self.create_node(dir, name, EntryType::Symlink, None, |txn, id| {
            txn.nodes.insert(
                NodeKey { parent: dir.id, id },
                PendingNode {
                    target: Some(target.to_string()),
                    ..PendingNode::new(EntryType::Symlink)
                },
            );
            txn.writes.insert(ConflictKey::Node(id));
        })
        .await
    }

    async fn dir_remove(&self, dir: NodeKey, name: &str) -> FsResult<DirEntry> {
        self.check_writable()?;
        self.with_state(|state| {
            let path = state.child_path(dir.id, name);
            let view = state.view.clone();
            let txn = state.txn_mut()?;
            let pending = txn.dir_mut(&view, dir.id)?;
            let removed = pending
                .entries
                .remove(name)
                .ok_or_else(|| tinyfs::Error::not_found(&path))?;
            pending.changes.insert(name.to_string(), None);
            txn.writes.insert(ConflictKey::entry(dir.id, name));
            txn.paths.insert(path);
            txn.unlinked.push((dir.id, removed.clone()));
            Ok(removed)
        })
        .await
    }

    async fn dir_attach(
        &self,
        dir: NodeKey,
        name: &str,
        node: NodeKey,
        entry_type: EntryType,
        from: u64,
    ) -> FsResult<()> {
        self.check_writable()?;
        // A node read at an earlier version that the current one holds no file of was
        // unlinked since: it comes back with its files as they were then.
        let current = self.view();
        let source =
            if from < current.version() && !crate::links::is_live(&current, node, entry_type) {
                let table = self.inner.table.lock().await.at(from).await?;
                Some(Arc::new(table.view()?))
            } else {
                None
            };
        self.with_state(|state| {
            let path = state.child_path(dir.id, name);
            let view = state.view.clone();
            let txn = state.txn_mut()?;
            link(txn, &view, dir.id, DirEntry::new(name, node.id, entry_type))?;
            txn.linked.push(crate::txn::Linked {
                path: path.clone(),
                dir: dir.id,
                node,
                entry_type,
                source: source.clone(),
            });
            txn.paths.insert(path);
            txn.writes.insert(ConflictKey::Node(node.id));
            // Directories are their own partition and do not move; files and symlinks live in
            // their directory's partition, so a move to another directory copies their history.
            if entry_type != EntryType::Directory && node.parent != dir.id {
                let moved = match txn.nodes.remove(&node) {
                    Some(mut pending) => {
                        pending.moved = pending.history.is_some();
                        pending
                    }
                    None => PendingNode {
                        moved: true,
                        ..PendingNode::continuing(entry_type, node)
                    },
                };
                txn.nodes.insert(
                    NodeKey {
                        parent: dir.id,
                        id: node.id,
                    },
                    moved,
                );
            }
            state.names.insert(node.id, (dir.id, name.to_string()));
            Ok(())
        })
        .await
    }

    async fn file_versions(&self, file: NodeKey) -> FsResult<Vec<FileVersion>> {
        self.with_state(|state| Ok(state.versions(file)?.into_iter().map(|r| r.meta).collect()))
            .await
    }

    async fn file_latest(&self, file: NodeKey) -> FsResult<Option<FileVersion>> {
        self.with_state(|state| Ok(state.latest(file)?.map(|r| r.meta)))
            .await
    }

    async fn file_members(&self, file: NodeKey) -> FsResult<Vec<FileVersion>> {
        self.with_state(|state| state.members(file)).await
    }

    async fn file_reader(&self, file: NodeKey, version: u64) -> FsResult<Box<dyn AsyncReadSeek>> {
        let (rec, latest) = self
            .with_state(|state| state.version(file, version))
            .await?;
        let rec = rec.ok_or(tinyfs::Error::VersionNotFound {
            path: String::new(),
            version,
            latest,
        })?;
        match rec.body {
            Body::Inline(bytes) => Ok(Box::new(Cursor::new(bytes))),
            Body::External(hash) => {
                let reader = self
                    .inner
                    .content
                    .open(hash, rec.meta.size)
                    .await
                    .map_err(|e| {
                        tinyfs::Error::io(
                            format!("body {} of version {version}", hash.to_hex()),
                            std::io::Error::other(e.to_string()),
                        )
                    })?;
                Ok(Box::new(reader))
            }
        }
    }

    async fn file_writer(&self, target: WriteTarget) -> FsResult<Box<dyn FileWriter>> {
        self.check_writable()?;
        let serial = self
            .with_state(|state| {
                let view = state.view.clone();
                let txn = state.txn_mut()?;
                if let WriteTarget::New { dir, name, .. } = &target
                    && txn.dir_mut(&view, dir.id)?.entries.contains_key(name)
                {
                    return Err(tinyfs::Error::already_exists("").into());
                }
                Ok(txn.serial)
            })
            .await?;
        Ok(Box::new(TlogWriter {
            persistence: self.clone(),
            serial,
            target,
            declared: Declared::default(),
            hasher: BlockHasher::new(),
            size: 0,
            buffer: Vec::new(),
            spill: None,
        }))
    }

    async fn symlink_target(&self, link: NodeKey) -> FsResult<String> {
        self.with_state(|state| {
            if let Some(pending) = state.txn.as_ref().and_then(|t| t.nodes.get(&link)) {
                if let Some(target) = &pending.target {
                    return Ok(target.clone());
                }
                if let Some(from) = pending.history {
                    return state.committed(from).symlink(from.parent, from.id);
                }
            }
            state.committed(link).symlink(link.parent, link.id)
        })
        .await
    }

    async fn create_dynamic(
        &self,
        dir: NodeKey,
        name: &str,
        entry_type: EntryType,
        factory: &str,
        config: &[u8],
    ) -> FsResult<NodeId> {
        self.create_node(dir, name, entry_type, Some(factory), |txn, id| {
            let rec = config_rec(1, entry_type, factory, config, &txn.id);
            txn.nodes.insert(
                NodeKey { parent: dir.id, id },
                PendingNode {
                    versions: vec![rec],
                    ..PendingNode::new(entry_type)
                },
            );
            txn.writes.insert(ConflictKey::Node(id));
        })
        .await
    }

    async fn update_dynamic(&self, node: NodeKey, config: &[u8]) -> FsResult<()> {
        self.check_writable()?;
        self.with_state(|state| {
            let last = state
                .versions(node)?
                .pop()
                .ok_or_else(|| tinyfs::Error::internal(format!("node {} has no rows", node.id)))?;
            let Some(factory) = last.factory else {
                return Err(tinyfs::Error::internal(format!(
                    "node {} is not a dynamic node",
                    node.id
                ))
                .into());
            };
            let path = state.path_of(node.id);
            let txn = state.txn_mut()?;
            let rec = config_rec(
                last.meta.version + 1,
                last.entry_type,
                &factory,
                config,
                &txn.id,
            );
            txn.nodes
                .entry(node)
                .or_insert(PendingNode::continuing(last.entry_type, node))
                .versions
                .push(rec);
            txn.writes.insert(ConflictKey::Node(node.id));
            txn.paths.insert(path);
            Ok(())
        })
        .await
    }

    async fn dynamic_config(&self, node: NodeKey) -> FsResult<tinyfs::NodeConfig> {
        let last = self
            .with_state(|state| Ok(state.versions(node)?.pop()))
            .await?
            .ok_or_else(|| tinyfs::Error::internal(format!("node {} has no rows", node.id)))?;
        match (last.factory, last.body) {
            (Some(factory), Body::Inline(config)) => Ok(tinyfs::NodeConfig {
                factory,
                config: config.to_vec(),
                version: last.meta.version,
                modified_micros: last.meta.modified_micros,
            }),
            _ => Err(tinyfs::Error::internal(format!(
                "node {} is not a dynamic node",
                node.id
            ))),
        }
    }
}

/// Adds `entry` to directory `dir` in the transaction.
pub(crate) fn link(txn: &mut Txn, view: &View, dir: NodeId, entry: DirEntry) -> crate::Result<()> {
    let pending = txn.dir_mut(view, dir)?;
    let name = entry.name.clone();
    if pending.entries.contains_key(&name) {
        return Err(tinyfs::Error::already_exists("").into());
    }
    pending.entries.insert(name.clone(), entry.clone());
    pending.changes.insert(name.clone(), Some(entry));
    txn.writes.insert(ConflictKey::entry(dir, &name));
    Ok(())
}

/// A configuration version of a dynamic node, as a stored version record (configurations
/// are small: always inline).
fn config_rec(
    version: u64,
    entry_type: EntryType,
    factory: &str,
    config: &[u8],
    txn_id: &str,
) -> VersionRec {
    VersionRec {
        meta: FileVersion {
            version,
            size: config.len() as u64,
            blake3: blake3::hash(config),
            modified_micros: tinyfs::now_micros(),
            event_time: None,
            members: None,
            rows: None,
            compacts: None,
            origin: None,
        },
        entry_type,
        factory: Some(factory.to_string()),
        body: Body::Inline(config.into()),
        manifest: None,
        txn_id: txn_id.to_string(),
    }
}

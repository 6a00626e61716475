//! [`TlogWriter`]: how a body is written into a transaction: streamed, in memory up to the
//! inline limit and into `content/.incoming` beyond it, hashed as it goes, and on
//! `finish` recorded as the file's next version (or a new file's first).

use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use tinyfs::{
    Declared, DirEntry, EntryType, FileVersion, FileWriter, NodeId, NodeKey, WriteTarget,
};
use tokio::io::AsyncWrite;

use crate::blocks::BlockHasher;
use crate::manifest::{Manifest, Member};
use crate::persistence::{TlogPersistence, link};
use crate::protocol::ConflictKey;
use crate::txn::PendingNode;
use crate::view::{Body, VersionRec};

type FsResult<T> = tinyfs::Result<T>;

/// Streams one body: in memory up to the inline limit, then into `content/.incoming`.
///
/// The spill file is written with blocking `std::fs` calls from `poll_write`: writes of a
/// buffer's worth land in the page cache and return at once; the one slow call, the fsync,
/// runs in `finish` on a blocking thread.
pub(crate) struct TlogWriter {
    pub(crate) persistence: TlogPersistence,
    pub(crate) serial: u64,
    pub(crate) target: WriteTarget,
    pub(crate) declared: Declared,
    pub(crate) hasher: BlockHasher,
    pub(crate) size: u64,
    pub(crate) buffer: Vec<u8>,
    pub(crate) spill: Option<(PathBuf, std::fs::File)>,
}

impl AsyncWrite for TlogWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let inline_max = this
            .persistence
            .inner
            .inline_max
            .load(std::sync::atomic::Ordering::Relaxed);
        if this.spill.is_none() && this.buffer.len() + buf.len() > inline_max {
            let (path, mut file) = this
                .persistence
                .inner
                .content
                .incoming()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            file.write_all(&this.buffer)?;
            this.buffer = Vec::new();
            this.spill = Some((path, file));
        }
        match &mut this.spill {
            Some((_, file)) => file.write_all(buf)?,
            None => this.buffer.extend_from_slice(buf),
        }
        this.hasher.update(buf);
        this.size += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[async_trait]
impl FileWriter for TlogWriter {
    fn declared(&mut self) -> &mut Declared {
        &mut self.declared
    }

    async fn finish(self: Box<Self>) -> FsResult<FileVersion> {
        let TlogWriter {
            persistence,
            serial,
            target,
            declared,
            hasher,
            size,
            buffer,
            spill,
        } = *self;
        let (hash, cvs) = hasher.finalize();
        let body = match spill {
            None => Body::Inline(buffer.into()),
            Some((path, file)) => {
                persistence
                    .inner
                    .content
                    .store_incoming(path, file, hash, cvs)
                    .await?;
                Body::External(hash)
            }
        };
        persistence
            .with_state(|state| {
                let view = state.view.clone();
                let mut path = String::new();
                let txn = match state.txn.as_mut() {
                    Some(txn) if txn.serial == serial => txn,
                    _ => {
                        return Err(tinyfs::Error::internal(
                            "a file writer outlived its transaction",
                        )
                        .into());
                    }
                };
                let mut rec = VersionRec {
                    meta: declared.clone().version(size, hash),
                    entry_type: EntryType::FileData,
                    factory: None,
                    body: body.clone(),
                    manifest: None,
                    txn_id: txn.id.clone(),
                };
                let (key, is_new_name) = match &target {
                    WriteTarget::Version(key) => (*key, None),
                    WriteTarget::New {
                        dir,
                        name,
                        entry_type,
                    } => {
                        let id = NodeId::generate();
                        link(txn, &view, dir.id, DirEntry::new(name, id, *entry_type))?;
                        rec.entry_type = *entry_type;
                        txn.nodes.insert(
                            NodeKey { parent: dir.id, id },
                            PendingNode::new(*entry_type),
                        );
                        (NodeKey { parent: dir.id, id }, Some((dir.id, name.clone())))
                    }
                };
                if is_new_name.is_none() {
                    let pending = txn.nodes.get(&key);
                    let history = match pending {
                        Some(p) => p.history,
                        None => Some(key),
                    };
                    let mut latest: Option<(u64, EntryType)> = None;
                    if let Some(from) = history {
                        latest = view
                            .latest_version(from.parent, from.id)?
                            .map(|r| (r.meta.version, r.entry_type));
                    }
                    if let Some(last) = pending.and_then(|p| p.versions.last()) {
                        latest = Some((last.meta.version, last.entry_type));
                    }
                    let (last_version, entry_type) = latest.ok_or_else(|| {
                        crate::Error::from(tinyfs::Error::internal(format!(
                            "file {} has no versions",
                            key.id
                        )))
                    })?;
                    rec.meta.version = last_version + 1;
                    rec.entry_type = entry_type;
                    txn.nodes
                        .entry(key)
                        .or_insert(PendingNode::continuing(entry_type, key));
                }
                if rec.entry_type == EntryType::FileSeries
                    && let Some(set) = &rec.meta.members
                {
                    // The records of the members it names go in its row (see `manifest`).
                    let pending = txn.nodes.get(&key);
                    let mut known: Vec<VersionRec> = match pending.and_then(|p| p.history) {
                        Some(from) => view.file(from.parent, from.id)?.to_vec(),
                        None => Vec::new(),
                    };
                    known.extend(pending.map(|p| p.versions.clone()).unwrap_or_default());
                    let members = known
                        .iter()
                        .filter(|r| {
                            r.meta.version != rec.meta.version && set.contains(r.meta.version)
                        })
                        .map(|r| Member::of(&r.meta, matches!(r.body, Body::Inline(_))))
                        .collect();
                    rec.manifest = Some(Manifest { members }.encode());
                }
                txn.writes.insert(ConflictKey::Node(key.id));
                let meta = rec.meta.clone();
                txn.nodes
                    .get_mut(&key)
                    .expect("inserted above")
                    .versions
                    .push(rec);
                if let Some((dir, name)) = is_new_name {
                    state.names.insert(key.id, (dir, name));
                }
                path.push_str(&state.path_of(key.id));
                state.txn.as_mut().expect("checked").paths.insert(path);
                Ok(meta)
            })
            .await
    }
}

//! An in-memory [`Persistence`]: the reference implementation of the contract, used for
//! tests and as the model other persistences are checked against.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use async_trait::async_trait;
use tokio::io::AsyncWrite;

use crate::entry_type::EntryType;
use crate::error::{Error, Result};
use crate::node::{
    AsyncReadSeek, Declared, DirEntry, FileVersion, FileWriter, NodeConfig, now_micros,
};
use crate::node_id::NodeId;
use crate::persistence::{NodeKey, Persistence, TxnMeta, WriteTarget};

/// A persistence that keeps everything in memory. Cloning a state is cheap: bodies are
/// shared.
#[derive(Debug)]
pub struct MemoryPersistence {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    committed: Tree,
    version: u64,
    /// The open transaction: its working tree, and a serial so a writer from an earlier
    /// transaction cannot land in a later one.
    pending: Option<(Tree, u64)>,
    serial: u64,
}

#[derive(Clone, Debug, Default)]
struct Tree {
    nodes: HashMap<NodeId, MemNode>,
    changed: bool,
}

/// A file's versions, each with its body.
type Versions = Vec<(FileVersion, Arc<[u8]>)>;

#[derive(Clone, Debug)]
enum MemNode {
    Directory(BTreeMap<String, DirEntry>),
    File(Versions),
    Symlink(String),
    /// A dynamic node's configurations, oldest first.
    Dynamic(Vec<NodeConfig>),
}

impl Default for MemoryPersistence {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryPersistence {
    /// An empty filesystem at version 0: just the root directory.
    pub fn new() -> Self {
        let mut committed = Tree::default();
        committed
            .nodes
            .insert(NodeId::ROOT, MemNode::Directory(BTreeMap::new()));
        MemoryPersistence {
            state: Arc::new(Mutex::new(State {
                committed,
                version: 0,
                pending: None,
                serial: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave a half-applied change: no mutation
    // unwinds between its checks and its last write.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    fn read(&self) -> &Tree {
        self.pending
            .as_ref()
            .map(|(t, _)| t)
            .unwrap_or(&self.committed)
    }

    fn write(&mut self) -> Result<&mut Tree> {
        match &mut self.pending {
            Some((tree, _)) => {
                tree.changed = true;
                Ok(tree)
            }
            None => Err(Error::internal("change outside a transaction")),
        }
    }
}

impl Tree {
    fn dir(&self, key: NodeKey) -> Result<&BTreeMap<String, DirEntry>> {
        match self.nodes.get(&key.id) {
            Some(MemNode::Directory(entries)) => Ok(entries),
            Some(_) => Err(Error::internal(format!(
                "node {} is not a directory",
                key.id
            ))),
            None => Err(Error::internal(format!("no node {}", key.id))),
        }
    }

    fn dir_mut(&mut self, key: NodeKey) -> Result<&mut BTreeMap<String, DirEntry>> {
        match self.nodes.get_mut(&key.id) {
            Some(MemNode::Directory(entries)) => Ok(entries),
            Some(_) => Err(Error::internal(format!(
                "node {} is not a directory",
                key.id
            ))),
            None => Err(Error::internal(format!("no node {}", key.id))),
        }
    }

    fn file(&self, key: NodeKey) -> Result<&Versions> {
        match self.nodes.get(&key.id) {
            Some(MemNode::File(versions)) => Ok(versions),
            Some(_) => Err(Error::internal(format!("node {} is not a file", key.id))),
            None => Err(Error::internal(format!("no node {}", key.id))),
        }
    }

    fn link(&mut self, dir: NodeKey, entry: DirEntry) -> Result<()> {
        let entries = self.dir_mut(dir)?;
        if entries.contains_key(&entry.name) {
            return Err(Error::already_exists(""));
        }
        entries.insert(entry.name.clone(), entry);
        Ok(())
    }

    fn dynamic_mut(&mut self, key: NodeKey) -> Result<&mut Vec<NodeConfig>> {
        match self.nodes.get_mut(&key.id) {
            Some(MemNode::Dynamic(configs)) => Ok(configs),
            _ => Err(Error::internal(format!(
                "node {} is not a dynamic node",
                key.id
            ))),
        }
    }
}

#[async_trait]
impl Persistence for MemoryPersistence {
    async fn begin(&self, _meta: TxnMeta) -> Result<()> {
        let mut state = self.lock();
        if state.pending.is_some() {
            return Err(Error::internal("begin while a transaction is open"));
        }
        state.serial += 1;
        let mut tree = state.committed.clone();
        tree.changed = false;
        state.pending = Some((tree, state.serial));
        Ok(())
    }

    async fn commit(&self) -> Result<Option<u64>> {
        let mut state = self.lock();
        let Some((tree, _)) = state.pending.take() else {
            return Err(Error::internal("commit without a transaction"));
        };
        if !tree.changed {
            return Ok(None);
        }
        state.committed = tree;
        state.version += 1;
        Ok(Some(state.version))
    }

    fn rollback(&self) {
        let mut state = self.lock();
        state.pending = None;
    }

    async fn version(&self) -> Result<u64> {
        Ok(self.lock().version)
    }

    async fn dir_get(&self, dir: NodeKey, name: &str) -> Result<Option<DirEntry>> {
        Ok(self.lock().read().dir(dir)?.get(name).cloned())
    }

    async fn dir_entries(&self, dir: NodeKey) -> Result<Vec<DirEntry>> {
        Ok(self.lock().read().dir(dir)?.values().cloned().collect())
    }

    async fn create_directory(&self, dir: NodeKey, name: &str) -> Result<NodeId> {
        let mut state = self.lock();
        let tree = state.write()?;
        let id = NodeId::generate();
        tree.link(dir, DirEntry::new(name, id, EntryType::Directory))?;
        tree.nodes.insert(id, MemNode::Directory(BTreeMap::new()));
        Ok(id)
    }

    async fn create_symlink(&self, dir: NodeKey, name: &str, target: &str) -> Result<NodeId> {
        let mut state = self.lock();
        let tree = state.write()?;
        let id = NodeId::generate();
        tree.link(dir, DirEntry::new(name, id, EntryType::Symlink))?;
        tree.nodes.insert(id, MemNode::Symlink(target.to_string()));
        Ok(id)
    }

    async fn dir_remove(&self, dir: NodeKey, name: &str) -> Result<DirEntry> {
        let mut state = self.lock();
        let tree = state.write()?;
        tree.dir_mut(dir)?
            .remove(name)
            .ok_or_else(|| Error::not_found(""))
    }

    async fn dir_attach(
        &self,
        dir: NodeKey,
        name: &str,
        node: NodeKey,
        entry_type: EntryType,
        _from: u64,
    ) -> Result<()> {
        // Every node stays in memory, whatever the version it was read at.
        let mut state = self.lock();
        let tree = state.write()?;
        if !tree.nodes.contains_key(&node.id) {
            return Err(Error::internal(format!(
                "attach of unknown node {}",
                node.id
            )));
        }
        tree.link(dir, DirEntry::new(name, node.id, entry_type))
    }

    async fn file_versions(&self, file: NodeKey) -> Result<Vec<FileVersion>> {
        Ok(self
            .lock()
            .read()
            .file(file)?
            .iter()
            .map(|(v, _)| v.clone())
            .collect())
    }

    async fn file_reader(&self, file: NodeKey, version: u64) -> Result<Box<dyn AsyncReadSeek>> {
        let state = self.lock();
        let versions = state.read().file(file)?;
        let body = versions
            .iter()
            .find(|(v, _)| v.version == version)
            .map(|(_, body)| body.clone())
            .ok_or_else(|| Error::VersionNotFound {
                path: String::new(),
                version,
                latest: versions.last().map(|(v, _)| v.version).unwrap_or(0),
            })?;
        Ok(Box::new(Cursor::new(body)))
    }

    async fn file_writer(&self, target: WriteTarget) -> Result<Box<dyn FileWriter>> {
        let state = self.lock();
        let Some((tree, serial)) = &state.pending else {
            return Err(Error::internal("write outside a transaction"));
        };
        let serial = *serial;
        // Check now what can be checked, so the caller fails before streaming a body.
        match &target {
            WriteTarget::Version(key) => {
                tree.file(*key)?;
            }
            WriteTarget::New { dir, name, .. } => {
                if tree.dir(*dir)?.contains_key(name) {
                    return Err(Error::already_exists(""));
                }
            }
        }
        drop(state);
        Ok(Box::new(MemoryWriter {
            state: self.state.clone(),
            serial,
            target,
            body: Vec::new(),
            declared: Declared::default(),
        }))
    }

    async fn symlink_target(&self, link: NodeKey) -> Result<String> {
        match self.lock().read().nodes.get(&link.id) {
            Some(MemNode::Symlink(target)) => Ok(target.clone()),
            _ => Err(Error::internal(format!(
                "node {} is not a symlink",
                link.id
            ))),
        }
    }

    async fn create_dynamic(
        &self,
        dir: NodeKey,
        name: &str,
        entry_type: EntryType,
        factory: &str,
        config: &[u8],
    ) -> Result<NodeId> {
        let mut state = self.lock();
        let tree = state.write()?;
        let id = NodeId::generate();
        let mut entry = DirEntry::new(name, id, entry_type);
        entry.factory = Some(factory.to_string());
        tree.link(dir, entry)?;
        let first = NodeConfig {
            factory: factory.to_string(),
            config: config.to_vec(),
            version: 1,
            modified_micros: now_micros(),
        };
        tree.nodes.insert(id, MemNode::Dynamic(vec![first]));
        Ok(id)
    }

    async fn update_dynamic(&self, node: NodeKey, config: &[u8]) -> Result<()> {
        let mut state = self.lock();
        let configs = state.write()?.dynamic_mut(node)?;
        let last = configs
            .last()
            .cloned()
            .ok_or_else(|| Error::internal("a dynamic node without a configuration"))?;
        configs.push(NodeConfig {
            config: config.to_vec(),
            version: last.version + 1,
            modified_micros: now_micros(),
            ..last
        });
        Ok(())
    }

    async fn dynamic_config(&self, node: NodeKey) -> Result<NodeConfig> {
        match self.lock().read().nodes.get(&node.id) {
            Some(MemNode::Dynamic(configs)) => configs
                .last()
                .cloned()
                .ok_or_else(|| Error::internal("a dynamic node without a configuration")),
            _ => Err(Error::internal(format!(
                "node {} is not a dynamic node",
                node.id
            ))),
        }
    }
}

/// The writer of one body: it keeps the body in memory and applies it in `finish`.
struct MemoryWriter {
    state: Arc<Mutex<State>>,
    serial: u64,
    target: WriteTarget,
    body: Vec<u8>,
    declared: Declared,
}

impl AsyncWrite for MemoryWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.body).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[async_trait]
impl FileWriter for MemoryWriter {
    fn declared(&mut self) -> &mut Declared {
        &mut self.declared
    }

    async fn finish(self: Box<Self>) -> Result<FileVersion> {
        let MemoryWriter {
            state,
            serial,
            target,
            body,
            declared,
        } = *self;
        let mut state = lock(&state);
        if state.pending.as_ref().map(|(_, s)| *s) != Some(serial) {
            return Err(Error::internal("a file writer outlived its transaction"));
        }
        let tree = state.write()?;
        let mut version = declared.version(body.len() as u64, blake3::hash(&body));
        match target {
            WriteTarget::Version(key) => {
                let Some(MemNode::File(versions)) = tree.nodes.get_mut(&key.id) else {
                    return Err(Error::internal(format!("node {} is not a file", key.id)));
                };
                version.version = versions.last().map(|(v, _)| v.version + 1).unwrap_or(1);
                versions.push((version.clone(), body.into()));
            }
            WriteTarget::New {
                dir,
                name,
                entry_type,
            } => {
                let id = NodeId::generate();
                tree.link(dir, DirEntry::new(name, id, entry_type))?;
                tree.nodes
                    .insert(id, MemNode::File(vec![(version.clone(), body.into())]));
            }
        }
        Ok(version)
    }
}

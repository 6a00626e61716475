//! The [`Factory`] trait and the [`Registry`] of factories by name.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use tinyfs::ResultExt;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tinyfs::{EntryType, FS, NodeBuilder, NodeConfig, NodeId, NodeKind, WD};

use crate::csvdir::{CsvCache, CsvDirFactory};
use crate::derived::DerivedFactory;
use crate::dynamic_dir::DynamicDirFactory;
use crate::error::{Error, Result};
use crate::hostmount::HostmountFactory;

/// What a factory builds a node from.
#[derive(Clone, Debug)]
pub struct BuildContext {
    /// The filesystem the node was found in, at the version being read.
    pub fs: FS,
    /// The node.
    pub id: NodeId,
    /// The directory it was found in.
    pub parent: NodeId,
    /// Its configuration (version and time as stored).
    pub config: NodeConfig,
    /// The registry, for factories that build other nodes.
    pub registry: Arc<Registry>,
}

/// A kind of dynamic node: its configuration and how to build it.
///
/// `validate` and `build` parse the same typed configuration; `build` must not do the
/// node's work (list a host directory, convert a file) — nodes are built on every listing
/// of their directory, and do their work when read.
#[async_trait]
pub trait Factory: Send + Sync + fmt::Debug {
    /// The registered name (`hostmount`).
    fn name(&self) -> &'static str;

    /// One line saying what it makes.
    fn description(&self) -> &'static str;

    /// A configuration example, as YAML.
    fn example(&self) -> &'static str;

    /// What it makes: a directory, `file:table` or `file:series`.
    fn entry_type(&self) -> EntryType;

    /// Checks `config`; the error names the bad field and its line.
    fn validate(&self, registry: &Registry, config: &[u8]) -> Result<()>;

    /// The node.
    async fn build(&self, ctx: BuildContext) -> tinyfs::Result<NodeKind>;
}

/// Parses `config` (YAML) as `T`, the factory `factory`'s configuration. Unknown fields,
/// missing fields and wrong types are errors naming the field and line.
pub fn parse_config<T: DeserializeOwned>(factory: &str, config: &[u8]) -> Result<T> {
    serde_yaml_ng::from_slice(config).map_err(|e| Error::InvalidConfig {
        factory: factory.to_string(),
        detail: e.to_string(),
    })
}

/// Factories by name; builds dynamic nodes for a filesystem.
pub struct Registry {
    factories: BTreeMap<&'static str, Arc<dyn Factory>>,
    cache: Arc<CsvCache>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("factories", &self.factories.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Registers pond's factories: hostmount, csvdir, sql-derived-table, sql-derived-series,
/// dynamic-dir.
pub fn register_builtin_factories(registry: &mut Registry) {
    registry.register(Arc::new(HostmountFactory));
    registry.register(Arc::new(CsvDirFactory));
    registry.register(Arc::new(DerivedFactory::table()));
    registry.register(Arc::new(DerivedFactory::series()));
    registry.register(Arc::new(DynamicDirFactory));
}

impl Registry {
    /// An empty registry; csvdir materializations are cached under `cache_dir` (in a
    /// temporary directory removed with the process, when `None`).
    pub fn new(cache_dir: Option<PathBuf>) -> Self {
        Registry {
            factories: BTreeMap::new(),
            cache: Arc::new(CsvCache::new(cache_dir)),
        }
    }

    /// A registry of the built-in factories.
    pub fn builtin(cache_dir: Option<PathBuf>) -> Arc<Self> {
        let mut registry = Registry::new(cache_dir);
        register_builtin_factories(&mut registry);
        Arc::new(registry)
    }

    /// Adds `factory` under its name, replacing any of the same name.
    pub fn register(&mut self, factory: Arc<dyn Factory>) {
        self.factories.insert(factory.name(), factory);
    }

    /// The factory called `name`; an unknown name lists the known ones.
    pub fn get(&self, name: &str) -> Result<&Arc<dyn Factory>> {
        self.factories
            .get(name)
            .ok_or_else(|| Error::UnknownFactory {
                name: name.to_string(),
                known: self.factories.keys().map(|k| k.to_string()).collect(),
            })
    }

    /// Every factory, by name.
    pub fn factories(&self) -> impl Iterator<Item = &Arc<dyn Factory>> {
        self.factories.values()
    }

    /// Validates `config` for factory `name`; returns the entry type the node will have.
    pub fn validate(&self, name: &str, config: &[u8]) -> Result<EntryType> {
        let factory = self.get(name)?;
        factory.validate(self, config)?;
        Ok(factory.entry_type())
    }

    /// The csvdir cache.
    pub fn cache(&self) -> &Arc<CsvCache> {
        &self.cache
    }

    /// `fs`, with this registry building its dynamic nodes.
    pub fn install(self: &Arc<Self>, fs: &FS) -> FS {
        fs.with_builder(self.node_builder())
    }

    /// This registry as a tinyfs [`NodeBuilder`].
    pub fn node_builder(self: &Arc<Self>) -> Arc<dyn NodeBuilder> {
        Arc::new(Builder(self.clone()))
    }

    /// Builds node `id` from `config`, as found in `fs`.
    pub async fn build(
        self: &Arc<Self>,
        fs: &FS,
        id: NodeId,
        parent: NodeId,
        config: &NodeConfig,
    ) -> tinyfs::Result<NodeKind> {
        let factory = self.get(&config.factory)?.clone();
        factory
            .build(BuildContext {
                fs: fs.clone(),
                id,
                parent,
                config: config.clone(),
                registry: self.clone(),
            })
            .await
    }
}

/// The registry as a tinyfs [`NodeBuilder`].
#[derive(Debug)]
struct Builder(Arc<Registry>);

#[async_trait]
impl NodeBuilder for Builder {
    async fn build(
        &self,
        fs: &FS,
        id: NodeId,
        parent: NodeId,
        entry_type: EntryType,
        config: &NodeConfig,
    ) -> tinyfs::Result<NodeKind> {
        let made = self.0.get(&config.factory)?.entry_type();
        if made != entry_type {
            return Err(tinyfs::Error::internal(format!(
                "node {id} is stored as a {entry_type}, but `{}` makes a {made}",
                config.factory
            )));
        }
        self.0.build(fs, id, parent, config).await
    }
}

/// Builds the dynamic node at `path` in `root` and, for a table or series, plans it, so
/// that a query naming an unknown table, column or function, a pattern that matches
/// nothing, or a series without a timestamp column is refused when the node is made (its
/// transaction then rolled back) rather than at the first read. A directory is listed: a
/// host mount of a missing directory is refused.
pub async fn check_node(root: &WD, path: &str) -> pond_sql::Result<()> {
    let node = root.resolve(path).await?;
    match node.kind() {
        NodeKind::Directory(dir) => {
            dir.entries().await.at(path)?;
        }
        NodeKind::File(_) => {
            let session = pond_sql::PondSession::new(root.clone())?;
            let (table, scope) = session.open(path).await?;
            table.schema(&scope).await?;
            if node.entry_type() == EntryType::FileSeries
                && table.timestamp_column(&scope).await?.is_none()
            {
                return Err(pond_sql::Error::invalid(
                    path,
                    "a series needs a timestamp column and this query has none: select a timestamp or date column, or name it with timestamp_column",
                ));
            }
        }
        NodeKind::Symlink(_) => {}
    }
    Ok(())
}

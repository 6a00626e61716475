//! The [`Factory`] trait and the [`Registry`] of factories by name.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use tinyfs::ResultExt;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tinyfs::{EntryType, FS, NodeBuilder, NodeConfig, NodeId, NodeKind, WD};

use crate::error::{Error, Result};

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
/// of their directory, and do their work when read. A factory with a serde configuration
/// implements [`TypedFactory`] instead, and gets this from it.
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

    /// Checks `config`, and says what a node of it is (the factory's
    /// [`Factory::entry_type`], or a series where the configuration asks for one); the
    /// error names the bad field and its line.
    fn validate(&self, registry: &Registry, config: &[u8]) -> Result<EntryType>;

    /// The node.
    async fn build(&self, ctx: BuildContext) -> tinyfs::Result<NodeKind>;
}

/// A [`Factory`] whose configuration is a serde type: it says what it is and checks and
/// builds from the parsed configuration; parsing, and naming the factory in errors, is
/// done once for all (the blanket [`Factory`] implementation).
#[async_trait]
pub trait TypedFactory: Send + Sync + fmt::Debug {
    /// The configuration, as its YAML reads.
    type Config: DeserializeOwned + Send;

    /// See [`Factory::name`].
    fn name(&self) -> &'static str;

    /// See [`Factory::description`].
    fn description(&self) -> &'static str;

    /// See [`Factory::example`].
    fn example(&self) -> &'static str;

    /// See [`Factory::entry_type`].
    fn entry_type(&self) -> EntryType;

    /// What a node of `config` is: [`TypedFactory::entry_type`] unless the configuration
    /// decides.
    fn made(&self, config: &Self::Config) -> EntryType {
        let _ = config;
        self.entry_type()
    }

    /// What a configuration must satisfy beyond its shape; the error says what is wrong,
    /// naming the field (the factory's name is added).
    fn check(&self, _registry: &Registry, _config: &Self::Config) -> Result<(), String> {
        Ok(())
    }

    /// The node, from its checked configuration.
    async fn build(&self, ctx: BuildContext, config: Self::Config) -> tinyfs::Result<NodeKind>;
}

/// `bytes` parsed and checked as the configuration of `factory`.
fn typed_config<F: TypedFactory>(
    factory: &F,
    registry: &Registry,
    bytes: &[u8],
) -> Result<F::Config> {
    let config = parse_config(factory.name(), bytes)?;
    factory
        .check(registry, &config)
        .map_err(|detail| Error::InvalidConfig {
            factory: factory.name().to_string(),
            detail,
        })?;
    Ok(config)
}

#[async_trait]
impl<F: TypedFactory> Factory for F {
    fn name(&self) -> &'static str {
        TypedFactory::name(self)
    }

    fn description(&self) -> &'static str {
        TypedFactory::description(self)
    }

    fn example(&self) -> &'static str {
        TypedFactory::example(self)
    }

    fn entry_type(&self) -> EntryType {
        TypedFactory::entry_type(self)
    }

    fn validate(&self, registry: &Registry, config: &[u8]) -> Result<EntryType> {
        typed_config(self, registry, config).map(|config| self.made(&config))
    }

    async fn build(&self, ctx: BuildContext) -> tinyfs::Result<NodeKind> {
        let config = typed_config(self, &ctx.registry, &ctx.config.config)?;
        TypedFactory::build(self, ctx, config).await
    }
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
#[derive(Default)]
pub struct Registry {
    factories: BTreeMap<&'static str, Arc<dyn Factory>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("factories", &self.factories.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// A registry of the built-in factories (see [`crate::register_builtin_factories`]),
    /// csvdir's conversions cached under `cache_dir` (in a temporary directory removed
    /// with the process, when `None`).
    pub fn builtin(cache_dir: Option<PathBuf>) -> Arc<Self> {
        let mut registry = Registry::new();
        crate::register_builtin_factories(&mut registry, cache_dir);
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
        self.get(name)?.validate(self, config)
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
        // What this configuration makes: the factory's type, or what the configuration
        // asks for (a delta-table is a table or a series), checked only when it differs.
        let factory = self.0.get(&config.factory)?;
        let made = match factory.entry_type() {
            usual if usual == entry_type => usual,
            _ => factory.validate(&self.0, &config.config)?,
        };
        if made != entry_type {
            return Err(tinyfs::Error::internal(format!(
                "node {id} is stored as a {entry_type}, but `{}` makes a {made}",
                config.factory
            )));
        }
        self.0.build(fs, id, parent, config).await
    }
}

impl Registry {
    /// Makes the dynamic node `path` in `root` (the root of a transaction) from `config`
    /// for `factory`, or with `overwrite` stores a new configuration for the node there
    /// (which must be one of the same factory), and checks it ([`check_node`]): what
    /// `pond mknod` does. On an error the transaction is to be rolled back. The entry type
    /// made.
    pub async fn mknod(
        &self,
        root: &WD,
        factory: &str,
        path: &str,
        config: &[u8],
        overwrite: bool,
    ) -> Result<EntryType> {
        let entry_type = self.validate(factory, config)?;
        let refuse = |detail: String| Error::Mknod {
            path: path.to_string(),
            detail,
        };
        let existing = match root.dynamic_config(path).await {
            Ok(existing) => Some(existing),
            Err(e) if e.kind() == tinyfs::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        match (existing, overwrite) {
            (None, false) => {
                root.create_dynamic(path, entry_type, factory, config)
                    .await?
            }
            (None, true) => {
                return Err(refuse(
                    "no such node to overwrite; leave out --overwrite to make it".into(),
                ));
            }
            (Some(None), _) => {
                return Err(refuse("already exists and is not a dynamic node".into()));
            }
            (Some(Some(existing)), false) => {
                return Err(refuse(format!(
                    "already exists (a {} node); pass --overwrite to store a new configuration",
                    existing.factory
                )));
            }
            (Some(Some(existing)), true) if existing.factory != factory => {
                return Err(refuse(format!(
                    "is a {} node; --overwrite keeps the factory (remove it to change)",
                    existing.factory
                )));
            }
            (Some(Some(_)), true) => root.update_dynamic(path, config).await?,
        }
        check_node(root, path).await?;
        Ok(entry_type)
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

//! `dynamic-dir`: a directory of dynamic nodes, each with its own factory and
//! configuration.
//!
//! ```yaml
//! entries:
//!   - name: hourly.series
//!     factory: sql-derived-series
//!     config:
//!       patterns: {raw: /sensors/*.series}
//!       query: SELECT date_trunc('hour', timestamp) AS timestamp, avg(level) AS level FROM raw GROUP BY 1
//!   - name: incoming
//!     factory: hostmount
//!     config: {directory: /srv/incoming}
//! ```
//!
//! Each entry's configuration is validated by its factory when the directory is. Entry
//! ids derive from the directory's id and the entry's name.

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use tinyfs::{Directory, EntryType, FS, Node, NodeConfig, NodeId, NodeKind};

use crate::error::Error;
use crate::registry::{BuildContext, Registry, TypedFactory};

/// The configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicDirConfig {
    /// The entries, in any order.
    pub entries: Vec<EntryConfig>,
}

/// One entry of a dynamic directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryConfig {
    /// Its name in the directory.
    pub name: String,
    /// The factory that builds it.
    pub factory: String,
    /// Its configuration, in the factory's form.
    pub config: serde_yaml_ng::Value,
}

/// The `dynamic-dir` factory.
#[derive(Debug)]
pub struct DynamicDirFactory;

/// The YAML of `entry`'s configuration; the error names the entry.
fn entry_bytes(entry: &EntryConfig) -> Result<Vec<u8>, String> {
    serde_yaml_ng::to_string(&entry.config)
        .map(String::into_bytes)
        .map_err(|e| format!("entry {:?}: {e}", entry.name))
}

#[async_trait]
impl TypedFactory for DynamicDirFactory {
    type Config = DynamicDirConfig;

    fn name(&self) -> &'static str {
        "dynamic-dir"
    }

    fn description(&self) -> &'static str {
        "a directory of dynamic nodes, each with its own factory and configuration"
    }

    fn example(&self) -> &'static str {
        "entries:\n  - name: incoming\n    factory: hostmount\n    config: {directory: /srv/incoming}\n"
    }

    fn entry_type(&self) -> EntryType {
        EntryType::Directory
    }

    fn check(&self, registry: &Registry, config: &DynamicDirConfig) -> Result<(), String> {
        let mut names = BTreeSet::new();
        for entry in &config.entries {
            tinyfs::validate_name(&entry.name).map_err(|e| format!("entries: {e}"))?;
            if !names.insert(entry.name.as_str()) {
                return Err(format!("entries: {:?} appears twice", entry.name));
            }
            registry
                .validate(&entry.factory, &entry_bytes(entry)?)
                .map_err(|e| format!("entry {:?}: {e}", entry.name))?;
        }
        Ok(())
    }

    async fn build(&self, ctx: BuildContext, config: DynamicDirConfig) -> tinyfs::Result<NodeKind> {
        Ok(NodeKind::Directory(Arc::new(DynamicDir {
            fs: ctx.fs,
            id: ctx.id,
            config,
            base: ctx.config,
            registry: ctx.registry,
        })))
    }
}

/// A built dynamic directory.
#[derive(Debug)]
struct DynamicDir {
    fs: FS,
    id: NodeId,
    config: DynamicDirConfig,
    base: NodeConfig,
    registry: Arc<Registry>,
}

impl DynamicDir {
    async fn build(&self, entry: &EntryConfig) -> tinyfs::Result<Node> {
        let id = NodeId::derived(&[&self.id.as_u128().to_be_bytes(), entry.name.as_bytes()]);
        let config = NodeConfig {
            factory: entry.factory.clone(),
            config: entry_bytes(entry).map_err(|detail| Error::InvalidConfig {
                factory: "dynamic-dir".into(),
                detail,
            })?,
            ..self.base.clone()
        };
        let kind = self.registry.build(&self.fs, id, self.id, &config).await?;
        // Marked dynamic, so `**` does not walk into a host mount declared here.
        Ok(Node::dynamic(id, self.id, kind, &entry.factory))
    }
}

#[async_trait]
impl Directory for DynamicDir {
    async fn get(&self, name: &str) -> tinyfs::Result<Option<Node>> {
        match self.config.entries.iter().find(|e| e.name == name) {
            Some(entry) => self.build(entry).await.map(Some),
            None => Ok(None),
        }
    }

    async fn entries(&self) -> tinyfs::Result<Vec<(String, Node)>> {
        let mut out = Vec::with_capacity(self.config.entries.len());
        for entry in &self.config.entries {
            out.push((entry.name.clone(), self.build(entry).await?));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

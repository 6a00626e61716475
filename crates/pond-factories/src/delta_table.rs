//! `delta-table`: a Delta table written by another tool, read in place as a pond file.
//!
//! ```yaml
//! location: /srv/exports/readings   # a host path, a file:// URL or s3://BUCKET/PREFIX
//! version: 12                       # optional: read this Delta version (default: the newest)
//! entry_type: series                # optional: table (default) or series
//! timestamp_column: time            # optional, for a series: found by name otherwise
//! ```
//!
//! The node is a read-only `file:table` (or `file:series`) scanned by `deltalake`'s own
//! DataFusion provider, with Delta's file skipping, projection and deletion vectors; the
//! table is opened (its log read) when the node is read, never when it is listed.
//! `PATH@vN` reads Delta version N, and `describe` shows the version read and the newest.
//! Nothing pond does writes to the table.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::TableProvider;
use pond_sql::{External, FileTable, Scope};
use serde::Deserialize;
use tinyfs::{EntryType, NodeKind};

use crate::csvdir::Kind;
use crate::derived::computed_node;
use crate::registry::{BuildContext, Registry, TypedFactory};

/// The configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaTableConfig {
    /// Where the table is: a host path (absolute), a `file://` URL or `s3://BUCKET/PREFIX`.
    pub location: String,
    /// The Delta version read; the newest when absent.
    #[serde(default)]
    pub version: Option<u64>,
    /// `table` or `series`.
    #[serde(default)]
    pub entry_type: Option<Kind>,
    /// A series' timestamp column.
    #[serde(default)]
    pub timestamp_column: Option<String>,
}

impl DeltaTableConfig {
    fn entry_type(&self) -> EntryType {
        match self.entry_type {
            Some(Kind::Series) => EntryType::FileSeries,
            _ => EntryType::FileTable,
        }
    }
}

/// The `delta-table` factory.
#[derive(Debug)]
pub struct DeltaTableFactory;

#[async_trait]
impl TypedFactory for DeltaTableFactory {
    type Config = DeltaTableConfig;

    fn name(&self) -> &'static str {
        "delta-table"
    }

    fn description(&self) -> &'static str {
        "a Delta table written by another tool, read in place (read-only; @vN is its Delta version)"
    }

    fn example(&self) -> &'static str {
        "location: /srv/exports/readings\n"
    }

    fn entry_type(&self) -> EntryType {
        EntryType::FileTable
    }

    fn made(&self, config: &DeltaTableConfig) -> EntryType {
        config.entry_type()
    }

    fn check(&self, _registry: &Registry, config: &DeltaTableConfig) -> Result<(), String> {
        let location = &config.location;
        if !location.contains("://") && !std::path::Path::new(location).is_absolute() {
            return Err(format!(
                "location: {location} is relative; write the host path from / (a node has no working directory)"
            ));
        }
        if config.timestamp_column.is_some() && config.entry_type != Some(Kind::Series) {
            return Err("timestamp_column: only with entry_type: series".into());
        }
        Ok(())
    }

    async fn build(&self, ctx: BuildContext, config: DeltaTableConfig) -> tinyfs::Result<NodeKind> {
        let table = Arc::new(DeltaTable {
            version: config.version,
            config: Arc::new(config),
        });
        Ok(computed_node(&ctx, table))
    }
}

/// A built delta-table node, at the configured version or `@vN`'s.
#[derive(Debug)]
struct DeltaTable {
    config: Arc<DeltaTableConfig>,
    version: Option<u64>,
}

impl DeltaTable {
    async fn open(&self) -> pond_sql::Result<tlogfs::DeltaSource> {
        tlogfs::open_delta(&self.config.location, self.version)
            .await
            .map_err(|e| match e {
                tlogfs::Error::Location { location, detail } => {
                    pond_sql::Error::invalid(location, detail)
                }
                other => pond_sql::Error::Fs(other.into()),
            })
    }
}

#[async_trait]
impl FileTable for DeltaTable {
    fn entry_type(&self) -> EntryType {
        self.config.entry_type()
    }

    async fn provider(&self, _scope: &Scope) -> pond_sql::Result<Arc<dyn TableProvider>> {
        Ok(self.open().await?.provider)
    }

    async fn timestamp_column(&self, scope: &Scope) -> pond_sql::Result<Option<String>> {
        if self.config.entry_type() != EntryType::FileSeries {
            return Ok(None);
        }
        let schema = self.provider(scope).await?.schema();
        pond_sql::find_timestamp_column(
            &schema,
            self.config.timestamp_column.as_deref(),
            scope.current(),
        )
        .map(Some)
    }

    async fn at_version(&self, version: u64, _shown: &str) -> pond_sql::Result<Arc<dyn FileTable>> {
        Ok(Arc::new(DeltaTable {
            config: self.config.clone(),
            version: Some(version),
        }))
    }

    async fn external(&self) -> pond_sql::Result<Option<External>> {
        let source = self.open().await?;
        Ok(Some(External {
            kind: "Delta".into(),
            location: self.config.location.clone(),
            version: source.version,
            latest: source.latest,
        }))
    }
}

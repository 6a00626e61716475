//! Delta tables written by other tools (Spark, Python `deltalake`, DuckDB), read by pond
//! and never written: the `delta-table` factory's storage side. Here, because tlogfs is
//! the one crate that speaks Delta.
//!
//! The table is scanned by `deltalake`'s own DataFusion provider, so its file skipping
//! (partition values and per-file statistics in the log), projection and deletion vectors
//! are Delta's.

use std::sync::Arc;

use deltalake::datafusion::catalog::TableProvider;

use crate::error::{Error, Result};
use crate::log_table::delta_location;
use crate::store::Store;

/// A Delta table opened at one of its versions.
#[derive(Debug)]
pub struct DeltaSource {
    /// The table at `version`, as DataFusion scans it.
    pub provider: Arc<dyn TableProvider>,
    /// The version read.
    pub version: u64,
    /// The table's newest version.
    pub latest: u64,
}

/// Opens the Delta table at `location` (a host path, a `file://` URL, or `s3://` configured
/// by the `AWS_*` variables) at `version`, or at its newest version.
pub async fn open_delta(location: &str, version: Option<u64>) -> Result<DeltaSource> {
    let store = Store::open(location)?;
    let failed = |what: String| move |e| Error::delta(what, e);
    let (url, log_store) = delta_location(&store)?;
    let mut table = match log_store {
        Some(log_store) => deltalake::DeltaTable::new(log_store),
        None => deltalake::DeltaTableBuilder::from_url(url.clone())
            .and_then(|b| b.build())
            .map_err(failed(format!("opening the Delta table at {location}")))?,
    };
    table
        .load()
        .await
        .map_err(failed(format!("reading the Delta log at {location}")))?;
    let latest = table.version().unwrap_or_default();
    if let Some(version) = version
        && version != latest
    {
        if version > latest {
            return Err(Error::Location {
                location: location.to_string(),
                detail: format!(
                    "the Delta table has no version {version} (the newest is {latest})"
                ),
            });
        }
        table.load_version(version).await.map_err(failed(format!(
            "reading version {version} of the Delta table at {location}"
        )))?;
    }
    let provider = table
        .table_provider()
        .await
        .map_err(|e| Error::delta(format!("scanning the Delta table at {location}"), e.into()))?;
    Ok(DeltaSource {
        provider,
        version: table.version().unwrap_or(latest),
        latest,
    })
}

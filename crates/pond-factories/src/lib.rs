//! pond-factories: dynamic nodes, computed on access from a YAML configuration stored in
//! the pond's log.
//!
//! A [`Registry`] maps a factory name to a [`Factory`]: a typed configuration (validated
//! before anything is written; an error names the bad field and its line) and a node
//! constructor. Installed on a [`tinyfs::FS`] with [`Registry::install`], it builds every
//! stored dynamic node the filesystem reaches. The built-in factories
//! ([`register_builtin_factories`]):
//!
//! - `hostmount` — a read-only, live mirror of a host directory ([`hostmount`]).
//! - `csvdir` — CSV files matching a pond glob, each as a table, converted once into a
//!   Parquet cache keyed by the source's version and hash ([`csvdir`]).
//! - `sql-derived-table` / `sql-derived-series` — a read-only SQL query over pond tables
//!   named by globs, planned as a view so chains inline ([`derived`]).
//! - `dynamic-dir` — a directory of other dynamic nodes ([`dynamic_dir`]).
//! - `temporal-reduce` — rollups of series at several resolutions, exact and computed once
//!   per input version ([`reduce`]).
//! - `timeseries-join` — series on one time axis, exact or as-of, stitched across
//!   instrument swaps ([`join`]).
//! - `delta-table` — a Delta table written by another tool, read in place
//!   ([`delta_table`]).
//!
//! ```no_run
//! # async fn demo(fs: tinyfs::FS) -> Result<(), Box<dyn std::error::Error>> {
//! let registry = pond_factories::Registry::builtin(Some("pond/cache".into()));
//! let config = b"directory: /srv/instruments\n";
//! let entry_type = registry.validate("hostmount", config)?;
//! let tx = fs.begin(tinyfs::TxnMeta::default()).await?;
//! tx.root().create_dynamic("/mnt", entry_type, "hostmount", config).await?;
//! tx.commit().await?;
//! let fs = registry.install(&fs);
//! let host_files = fs.root().list("/mnt").await?;
//! # Ok(()) }
//! ```

mod cache_dir;
mod csv_cache;
pub mod csvdir;
pub mod delta_table;
pub mod derived;
pub mod dynamic_dir;
mod error;
pub mod hostmount;
pub mod join;
pub mod reduce;
mod registry;

use std::path::PathBuf;
use std::sync::Arc;

pub use error::{Error, Result};
pub use registry::{BuildContext, Factory, Registry, TypedFactory, check_node, parse_config};

/// Registers pond's factories: hostmount, csvdir (its conversions cached under
/// `cache_dir`, or in a temporary directory removed with the process when `None`),
/// sql-derived-table, sql-derived-series, dynamic-dir, temporal-reduce (its partials cached
/// under `cache_dir` too), timeseries-join.
pub fn register_builtin_factories(registry: &mut Registry, cache_dir: Option<PathBuf>) {
    registry.register(Arc::new(hostmount::HostmountFactory));
    registry.register(Arc::new(csvdir::CsvDirFactory::new(cache_dir.clone())));
    registry.register(Arc::new(derived::DerivedFactory::table()));
    registry.register(Arc::new(derived::DerivedFactory::series()));
    registry.register(Arc::new(dynamic_dir::DynamicDirFactory));
    registry.register(Arc::new(reduce::ReduceFactory::new(cache_dir)));
    registry.register(Arc::new(join::JoinFactory));
    registry.register(Arc::new(delta_table::DeltaTableFactory));
}

//! pond-sql: pond files as tables.
//!
//! A `file:table` or `file:series` is both bytes and a table. This crate holds the table
//! side:
//!
//! - [`FileTable`]: what every structured file is as a table (stored, or computed by a
//!   factory and wrapped in a [`ComputedFile`]); [`file_table`] finds it for a path.
//! - [`PondTable`]: a stored table or series as a DataFusion `TableProvider`: one Parquet
//!   scan over its versions through the [`PondObjectStore`], versions pruned by their
//!   recorded time range before any body is opened; [`PondTable::read_in_order`] and
//!   [`read_table`] read it whole, versions oldest first.
//! - [`PondSession`]: SQL over a pond, pond paths as table names.
//! - [`import_file`]: host files imported as tables and series (Parquet, and CSV, JSON
//!   lines and workbook sheets, compressed or not: [`ReadOptions`]), appends conformed to
//!   the series' schema ([`conform`]); [`compact_series`] merges a series' small
//!   versions; [`undo`] puts paths back as an earlier pond version had them.
//! - [`parquet_writer`]: the one place pond writes Parquet.
//! - [`find_timestamp_column`], [`EventTimeRange`]: a series' event-time column and range.
//!
//! ```no_run
//! # async fn demo(wd: &tinyfs::WD) -> pond_sql::Result<()> {
//! use futures::TryStreamExt;
//! let options = pond_sql::ImportOptions {
//!     entry_type: tinyfs::EntryType::FileSeries,
//!     timestamp_column: None,
//!     read: pond_sql::ReadOptions::default(),
//!     skip_duplicate: false,
//! };
//! pond_sql::import_file(wd, "weather.csv".as_ref(), "/weather.series", &options, &mut |_, _| {}).await?;
//! let table = pond_sql::read_table(wd, "/weather.series").await?;
//! let batches: Vec<_> = table.try_collect().await?;
//! # Ok(()) }
//! ```

mod compact;
pub mod conform;
mod context;
mod csv;
mod csv_infer;
mod error;
mod event_time;
mod excel;
mod export;
mod file_table;
mod formats;
mod import;
mod import_plan;
mod in_order;
mod json_infer;
mod jsonl;
mod materialize;
mod object_store;
pub mod parquet_writer;
mod read;
mod summary;
mod sync;
mod table;
pub mod undo;
mod window;

pub use compact::{Compaction, compact_series};
pub use conform::UTC;
pub use context::{PondSession, explain, stream};
pub use csv::{CsvTime, check_timezone};
pub use error::{Error, Result};
pub use event_time::{
    COMMON_NAMES, EventTimeRange, find_timestamp_column, footer_event_time, overlaps, time_bounds,
};
pub use export::{
    ExportFormat, ExportJob, Exported, csv_writer, export_file, export_hive, export_plan,
    export_to, utc_as_text,
};
pub use file_table::{
    ComputedFile, External, FileTable, Scope, file_table, file_table_of, is_computed,
};
pub use formats::{
    FORMAT_NAMES, FileFormat, FormatOption, Nested, ReadOptions, table_name, to_parquet,
};
pub use import::{ImportOptions, Imported, import_file};
pub use import_plan::{ImportJob, ImportPlan, import_plan};
pub use object_store::{POND_OBJECT_STORE_URL, PondObjectStore, object_path};
pub use parquet_writer::{
    series_writer_properties, write_parquet, write_parquet_blocking, writer_properties,
};
pub use read::{
    ResolvedTable, TableVersion, members_schema, merge_schemas, read_table, table_members,
    table_type, table_versions, version_footers, version_rows,
};
pub use summary::TableSummary;
pub use sync::{Change, SyncItem, SyncOptions, Synced, sync_item, sync_plan};
pub use table::{PondTable, no_rows};
pub use undo::{Restored, restore_path, restore_paths};
pub use window::{TimeWindow, Windowed, parse_instant, parse_instant_at};

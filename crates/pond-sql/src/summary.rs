//! [`TableSummary`]: what a table is, from metadata only (the log, footers, a plan, a
//! conversion's index): its schema, rows, event-time range and versions. What `pond
//! describe` shows of a table, and what a page about it will.

use arrow::datatypes::SchemaRef;
use tinyfs::{EntryType, FileVersion};

use crate::context::PondSession;
use crate::error::Result;
use crate::file_table::is_computed;
use crate::read::{members_schema, table_members, version_rows};

/// A table's summary. No row is read to make it.
#[derive(Clone, Debug)]
pub struct TableSummary {
    /// `file:table` or `file:series`.
    pub entry_type: EntryType,
    /// Its schema (a series' versions merged by column name).
    pub schema: SchemaRef,
    /// How many rows it has, where known without computing it.
    pub rows: Option<u64>,
    /// A series' timestamp column.
    pub timestamp_column: Option<String>,
    /// The first and last instant of its timestamp column (microseconds since the epoch),
    /// where recorded.
    pub range: Option<(i64, i64)>,
    /// The stored versions that make it up, oldest first, each with its rows (none for a
    /// computed table).
    pub versions: Vec<(FileVersion, u64)>,
}

impl PondSession {
    /// The summary of the table at `path` (`name@vN` for one stored version).
    pub async fn summary(&self, path: &str) -> Result<TableSummary> {
        let wd = self.scope().wd().clone();
        let bare = tinyfs::Path::parse(path)?.without_version();
        let node = wd.resolve(&bare).await?;
        let computed = node.as_file().is_some_and(|f| is_computed(f.as_ref()));
        if computed {
            // Computed on read: the schema comes from its plan, and what its node knows
            // of its rows once computed (a csvdir entry, from its index).
            let (table, scope) = self.open(path).await?;
            let known = match node.as_file() {
                Some(f) => f.versions().await?.pop(),
                None => None,
            };
            return Ok(TableSummary {
                entry_type: table.entry_type(),
                schema: table.schema(&scope).await?,
                rows: known.as_ref().and_then(|v| v.rows),
                timestamp_column: table.timestamp_column(&scope).await?,
                range: known
                    .and_then(|v| v.event_time)
                    .map(|t| (t.min_micros, t.max_micros)),
                versions: Vec::new(),
            });
        }
        let (entry_type, versions) = table_members(&wd, path).await?;
        let schema = members_schema(&wd, path, &versions).await?;
        let rows = version_rows(&wd, path, &versions).await?;
        let (mut timestamp_column, mut range) = (None, None);
        if entry_type == EntryType::FileSeries {
            let ranges: Vec<_> = versions
                .iter()
                .filter_map(|v| v.event_time.as_ref())
                .collect();
            if let (Some(first), Some(lo), Some(hi)) = (
                ranges.first(),
                ranges.iter().map(|r| r.min_micros).min(),
                ranges.iter().map(|r| r.max_micros).max(),
            ) {
                timestamp_column = Some(first.column.clone());
                range = Some((lo, hi));
            }
        }
        Ok(TableSummary {
            entry_type,
            schema,
            rows: Some(rows.iter().sum()),
            timestamp_column,
            range,
            versions: versions.into_iter().zip(rows).collect(),
        })
    }
}

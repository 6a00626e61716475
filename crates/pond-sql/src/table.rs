//! [`PondTable`]: a `file:table` or `file:series` as a DataFusion table.
//!
//! The scan is DataFusion's own Parquet scan over the [`PondObjectStore`], so projection,
//! row-group and page pruning, and parallel range reads are native. A series is one scan
//! over all its versions; when the query filters the timestamp column, versions whose
//! recorded time range cannot match are dropped before any body is opened. Filters are
//! reported `Inexact`: DataFusion keeps its own filter above the scan and pushes the
//! predicate into the Parquet reader. Statistics (rows, and each column's min, max and
//! nulls) come from the footers, per version and merged for the table.

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::{ScalarValue, Statistics};
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use object_store::ObjectMeta;
use tinyfs::{EntryType, FileVersion, WD};

use crate::error::{Error, Result};
use crate::event_time::{overlaps, time_bounds};
use crate::object_store::{POND_OBJECT_STORE_URL, PondObjectStore};
use crate::read::{ResolvedTable, TableVersion, members_schema, members_schema_from};

/// One version in a table's scan, as the log records it: planning a scan prunes by its
/// recorded time range before any footer is read.
#[derive(Debug, Clone)]
struct TableFile {
    version: FileVersion,
    meta: ObjectMeta,
}

/// A version kept by a scan, with what its footer says.
#[derive(Debug, Clone)]
struct ScannedFile<'a> {
    file: &'a TableFile,
    /// Row count and per-column min, max and nulls, from the footer, in the table schema.
    statistics: Arc<Statistics>,
    /// Whether the footer says the rows are in time order (Parquet `sorting_columns`).
    sorted: bool,
    /// Whether some rows have no time (they sort last).
    null_times: bool,
}

/// A pond table or series, readable by DataFusion.
pub struct PondTable {
    path: String,
    entry_type: EntryType,
    table: ResolvedTable,
    schema: SchemaRef,
    files: Vec<TableFile>,
    statistics: Statistics,
    timestamp_column: Option<String>,
    store: Arc<PondObjectStore>,
}

impl std::fmt::Debug for PondTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PondTable")
            .field("path", &self.path)
            .field("entry_type", &self.entry_type)
            .field("versions", &self.files.len())
            .finish_non_exhaustive()
    }
}

impl PondTable {
    /// The table at `path` (`name@vN` for one version), its versions registered with
    /// `store`. Reads the version list and one footer (every footer of a series written
    /// before its versions carried the series' schema); a scan reads the footers of the
    /// versions it keeps.
    pub async fn open(wd: &WD, path: &str, store: &Arc<PondObjectStore>) -> Result<Self> {
        Self::open_resolved(wd, ResolvedTable::resolve(wd, path).await?, store).await
    }

    /// [`open`](Self::open) of a table already resolved.
    pub async fn open_resolved(
        wd: &WD,
        table: ResolvedTable,
        store: &Arc<PondObjectStore>,
    ) -> Result<Self> {
        let versions = table.members().await?;
        Self::of_versions(wd, table, versions, store).await
    }

    /// The table of `versions` (oldest first) of `table`: a series' run of members, say.
    pub(crate) async fn of_versions(
        wd: &WD,
        table: ResolvedTable,
        versions: Vec<FileVersion>,
        store: &Arc<PondObjectStore>,
    ) -> Result<Self> {
        // The latest member's footer gives the schema, and is kept for the scan.
        let schema = match versions.last() {
            Some(latest) => {
                let footer = table.footer(latest.clone()).await?;
                let schema = members_schema_from(wd, &table.path, &versions, &footer).await?;
                store.keep_footer(latest.blake3, (footer.metadata, footer.schema));
                schema
            }
            None => members_schema(wd, &table.path, &versions).await?,
        };
        let timestamp_column = crate::event_time::timestamp_column_of(versions.iter());
        // Rows are known from the log when every version recorded them.
        let rows: Option<u64> = versions.iter().map(|v| v.rows).sum();
        let statistics = Statistics {
            num_rows: rows.map_or(Precision::Absent, |r| Precision::Exact(r as usize)),
            ..Statistics::new_unknown(&schema)
        };
        let files = versions
            .into_iter()
            .map(|version| TableFile {
                meta: store.register(&table.path, table.file.clone(), version.clone()),
                version,
            })
            .collect();
        Ok(PondTable {
            path: table.path.clone(),
            entry_type: table.entry_type,
            table,
            schema,
            files,
            statistics,
            timestamp_column,
            store: store.clone(),
        })
    }

    /// The pond path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `file:table` or `file:series`.
    pub fn entry_type(&self) -> EntryType {
        self.entry_type
    }

    /// A series' timestamp column.
    pub fn timestamp_column(&self) -> Option<&str> {
        self.timestamp_column.as_deref()
    }

    /// The versions whose recorded time range can match `filters`.
    fn pruned(&self, filters: &[Expr]) -> Vec<&TableFile> {
        let Some(column) = &self.timestamp_column else {
            return self.files.iter().collect();
        };
        let bounds = time_bounds(filters, column);
        self.files
            .iter()
            .filter(|f| {
                f.version
                    .event_time
                    .as_ref()
                    .is_none_or(|t| overlaps(bounds, t))
            })
            .collect()
    }

    /// `kept` with their footers (read once per session, several at a time).
    async fn scanned<'a>(&self, kept: Vec<&'a TableFile>) -> Result<Vec<ScannedFile<'a>>> {
        let missing: Vec<FileVersion> = kept
            .iter()
            .filter(|f| self.store.footer(&f.version.blake3).is_none())
            .map(|f| f.version.clone())
            .collect();
        for read in self.table.footers(missing).await? {
            self.store
                .keep_footer(read.version.blake3, (read.metadata, read.schema));
        }
        kept.into_iter()
            .map(|file| {
                let (metadata, schema) = self
                    .store
                    .footer(&file.version.blake3)
                    .expect("every kept footer was just read");
                let v = TableVersion {
                    version: file.version.clone(),
                    metadata,
                    schema,
                };
                let at = || format!("{}@v{}", self.path, file.version.version);
                let statistics = version_statistics(&v, &self.schema)
                    .map_err(|source| Error::DataFusion { path: at(), source })?;
                let (sorted, null_times) = match &self.timestamp_column {
                    Some(column) => time_order(&v, column, &self.schema, &statistics),
                    None => (false, false),
                };
                Ok(ScannedFile {
                    file,
                    statistics: Arc::new(statistics),
                    sorted,
                    null_times,
                })
            })
            .collect()
    }
}

/// A version's footer statistics in the table schema: its own columns' (cast where the
/// table reads a column as a wider type), and all-null for columns it lacks.
fn version_statistics(
    v: &TableVersion,
    table: &SchemaRef,
) -> datafusion::error::Result<Statistics> {
    use datafusion::common::stats::{ColumnStatistics, Precision};
    let own = DFParquetMetadata::statistics_from_parquet_metadata(&v.metadata, &v.schema)?;
    let rows = own.num_rows;
    let columns = table
        .fields()
        .iter()
        .map(|field| match v.schema.index_of(field.name()) {
            Err(_) => ColumnStatistics {
                null_count: rows,
                ..ColumnStatistics::new_unknown()
            },
            Ok(i) => {
                let stats = own.column_statistics[i].clone();
                if v.schema.field(i).data_type() == field.data_type() {
                    return stats;
                }
                let cast = |p: Precision<ScalarValue>| match p {
                    Precision::Exact(value) => value
                        .cast_to(field.data_type())
                        .map_or(Precision::Absent, Precision::Exact),
                    _ => Precision::Absent,
                };
                ColumnStatistics {
                    null_count: stats.null_count,
                    max_value: cast(stats.max_value),
                    min_value: cast(stats.min_value),
                    ..ColumnStatistics::new_unknown()
                }
            }
        })
        .collect();
    Ok(Statistics {
        num_rows: rows,
        total_byte_size: own.total_byte_size,
        column_statistics: columns,
    })
}

/// Whether version `v` is in order of `column` by its footer, and whether some of its
/// rows have no time, by `statistics` (in the table's schema, `table`).
fn time_order(
    v: &TableVersion,
    column: &str,
    table: &Schema,
    statistics: &Statistics,
) -> (bool, bool) {
    use datafusion::common::stats::Precision;
    // The footer's own schema descriptor gives the leaf: no schema conversion per version.
    let Some(leaf) = v
        .metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().parts() == [column.to_string()])
    else {
        return (false, false);
    };
    let sorted = v.metadata.row_groups().iter().all(|rg| {
        rg.sorting_columns()
            .and_then(|c| c.first())
            .is_some_and(|c| c.column_idx as usize == leaf && !c.descending && !c.nulls_first)
    });
    let nulls = table
        .index_of(column)
        .ok()
        .and_then(|i| statistics.column_statistics.get(i))
        .map(|c| !matches!(c.null_count, Precision::Exact(0)))
        .unwrap_or(true);
    (sorted, nulls)
}

/// Versions in groups that each read in time order, one after another: a version joins
/// the first group whose last version ends no later than it starts (and has no rows
/// without a time); otherwise it starts a group. Appends in time order make one group;
/// each batch of late data at most one more.
fn time_ordered_groups<'a, 'b>(files: &'b [ScannedFile<'a>]) -> Vec<Vec<&'b ScannedFile<'a>>> {
    let mut groups: Vec<Vec<&ScannedFile>> = Vec::new();
    for f in files {
        let Some(t) = &f.file.version.event_time else {
            groups.push(vec![f]);
            continue;
        };
        let fits = groups.iter_mut().find(|g| {
            let last = g.last().expect("groups are not empty");
            !last.null_times
                && last
                    .file
                    .version
                    .event_time
                    .as_ref()
                    .is_some_and(|l| l.max_micros <= t.min_micros)
        });
        match fits {
            Some(group) => group.push(f),
            None => groups.push(vec![f]),
        }
    }
    groups
}

/// The scan of a table none of whose files can match: no rows, in the projected schema.
pub fn no_rows(
    schema: &SchemaRef,
    projection: Option<&Vec<usize>>,
) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
    let schema = match projection {
        Some(p) => Arc::new(schema.project(p)?),
        None => schema.clone(),
    };
    Ok(Arc::new(EmptyExec::new(schema)))
}

#[async_trait]
impl TableProvider for PondTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    fn statistics(&self) -> Option<Statistics> {
        Some(self.statistics.clone())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let kept = self.pruned(filters);
        tracing::debug!(
            path = %self.path,
            versions = self.files.len(),
            kept = kept.len(),
            "planning a scan: versions kept by their recorded time range"
        );
        if kept.is_empty() {
            return no_rows(&self.schema, projection);
        }
        let kept = self
            .scanned(kept)
            .await
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        // A series whose every version is in time order is declared so: each group reads in
        // time order, and a query ordered by time merges the groups instead of sorting.
        let ordering = match &self.timestamp_column {
            Some(column) if kept.iter().all(|f| f.sorted) => {
                let expr = datafusion::physical_expr::expressions::col(column, &self.schema)?;
                datafusion::physical_expr::LexOrdering::new(vec![
                    datafusion::physical_expr::PhysicalSortExpr::new(
                        expr,
                        arrow::compute::SortOptions {
                            descending: false,
                            nulls_first: false,
                        },
                    ),
                ])
            }
            _ => None,
        };
        let groups = match &ordering {
            Some(_) => time_ordered_groups(&kept),
            None => vec![kept.iter().collect()],
        };
        self.file_scan(state, &kept, groups, ordering, projection, limit)
            .await
    }
}

impl PondTable {
    /// Every row, versions oldest first and each in its stored order: one file group,
    /// executed as it is (no optimizer pass may split it across partitions). How a table
    /// reads as a whole (`cat`, exports, compaction's check), where order is what the user
    /// wrote.
    pub async fn read_in_order(&self, state: &dyn Session) -> Result<SendableRecordBatchStream> {
        let kept = self.scanned(self.files.iter().collect()).await?;
        let plan = if kept.is_empty() {
            no_rows(&self.schema, None)?
        } else {
            let group = vec![kept.iter().collect()];
            self.file_scan(state, &kept, group, None, None, None)
                .await?
        };
        Ok(plan.execute(0, state.task_ctx())?)
    }

    /// DataFusion's Parquet scan of `kept` in `groups` (one partition each), declared in
    /// `ordering`.
    async fn file_scan(
        &self,
        state: &dyn Session,
        kept: &[ScannedFile<'_>],
        groups: Vec<Vec<&ScannedFile<'_>>>,
        ordering: Option<datafusion::physical_expr::LexOrdering>,
        projection: Option<&Vec<usize>>,
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let format = ParquetFormat::default().with_options(state.default_table_options().parquet);
        let source = format.file_source(self.schema.clone().into());
        let file = |f: &ScannedFile| {
            PartitionedFile::new_from_meta(f.file.meta.clone())
                .with_statistics(f.statistics.clone())
        };
        let groups: Vec<FileGroup> = groups
            .iter()
            .map(|g| g.iter().map(|f| file(f)).collect())
            .collect();
        let statistics =
            Statistics::try_merge_iter(kept.iter().map(|f| f.statistics.as_ref()), &self.schema)?;
        let config =
            FileScanConfigBuilder::new(ObjectStoreUrl::parse(POND_OBJECT_STORE_URL)?, source)
                .with_file_groups(groups)
                .with_statistics(statistics)
                .with_output_ordering(ordering.into_iter().collect())
                .with_projection_indices(projection.cloned())?
                .with_limit(limit)
                .build();
        format.create_physical_plan(state, config).await
    }
}

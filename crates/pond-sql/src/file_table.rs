//! [`FileTable`]: a pond file seen as a table, static or dynamic.
//!
//! Every structured file is both bytes (the tinyfs [`File`]) and a table. [`file_table`]
//! finds the table side of a node: a stored `file:table` or `file:series` is read by
//! [`PondTable`]; a dynamic file (a csvdir entry, a derived table) is a [`ComputedFile`],
//! the one adapter that makes any [`FileTable`] a tinyfs file too, its bytes being the table
//! materialized as Parquet. Nothing else in pond asks what kind of file it holds.
//!
//! Tables are opened within a [`Scope`]: the pond being read, the object store the
//! session's scans read bodies through, and the path of the node being opened, which its
//! errors name. A derived node reading itself (directly or through others) is an error
//! naming the cycle, from [`tinyfs::cycle`], the one cycle check of every dynamic node.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::common::Statistics;
use datafusion::datasource::TableProvider;
use datafusion::physical_plan::SendableRecordBatchStream;
use tinyfs::{AsyncReadSeek, EntryType, File, FileVersion, Node, Path, ResultExt, WD};

use crate::context::PondSession;
use crate::error::{Error, Result};
use crate::object_store::PondObjectStore;

use crate::read::ResolvedTable;
use crate::table::PondTable;

/// A pond file as a table.
///
/// The provider's scan honours projection, filters and limit; `schema` and `statistics`
/// come from metadata only (Parquet footers, oplog columns, or a logical plan), never
/// from reading rows.
#[async_trait]
pub trait FileTable: Send + Sync + fmt::Debug {
    /// `file:table` or `file:series`.
    fn entry_type(&self) -> EntryType;

    /// The table as DataFusion reads it, opened in `scope`.
    async fn provider(&self, scope: &Scope) -> Result<Arc<dyn TableProvider>>;

    /// The event-time column `--time-start` and `--time-end` filter on, if any.
    async fn timestamp_column(&self, scope: &Scope) -> Result<Option<String>>;

    /// This table at version `version` of a history of its own (an external Delta
    /// table's), for `path@vN`. A computed table has none: it refuses, naming `shown`.
    async fn at_version(&self, version: u64, shown: &str) -> Result<Arc<dyn FileTable>> {
        let _ = version;
        Err(Error::invalid(
            shown,
            "a dynamic table has no stored versions; name it without @vN",
        ))
    }

    /// Where the rows live when outside the pond (an external Delta table), for
    /// `describe`.
    async fn external(&self) -> Result<Option<External>> {
        Ok(None)
    }

    /// The schema, from metadata.
    async fn schema(&self, scope: &Scope) -> Result<SchemaRef> {
        Ok(self.provider(scope).await?.schema())
    }

    /// Row count and per-column statistics, where known without reading rows.
    async fn statistics(&self, scope: &Scope) -> Result<Option<Statistics>> {
        Ok(self.provider(scope).await?.statistics())
    }

    /// Every row, in the table's natural order (a series' versions oldest first), opened
    /// in `scope` and read by `session`.
    async fn read(
        &self,
        session: &PondSession,
        scope: &Scope,
    ) -> Result<SendableRecordBatchStream> {
        let provider = self.provider(scope).await?;
        let df = session.context().read_table(provider).map_err(Error::Sql)?;
        crate::context::stream(df).await
    }
}

/// A table whose rows live outside the pond, read in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct External {
    /// What it is: `Delta`.
    pub kind: String,
    /// Where it is: a host path or a URL.
    pub location: String,
    /// The version read.
    pub version: u64,
    /// Its newest version.
    pub latest: u64,
}

/// Where tables are opened: the pond (at the version read), the store scans read bodies
/// through, and the path of the derived node being planned, which errors name (a node that
/// reads itself is caught by [`tinyfs::cycle`], the one cycle check for dynamic nodes).
#[derive(Clone)]
pub struct Scope {
    wd: WD,
    store: Arc<PondObjectStore>,
    current: Option<String>,
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl Scope {
    pub(crate) fn new(wd: WD, store: Arc<PondObjectStore>) -> Self {
        Scope {
            wd,
            store,
            current: None,
        }
    }

    /// The pond, as this scope reads it.
    pub fn wd(&self) -> &WD {
        &self.wd
    }

    /// The object store that serves pond bodies to the session's scans.
    pub fn store(&self) -> &Arc<PondObjectStore> {
        &self.store
    }

    /// The path of the node being opened, or `/` outside any.
    pub fn current(&self) -> &str {
        self.current.as_deref().unwrap_or("/")
    }

    /// This scope for opening the node at `path`.
    pub fn at(&self, path: &str) -> Scope {
        Scope {
            current: Some(path.to_string()),
            ..self.clone()
        }
    }
}

/// The table side of the file at `path` (symlinks followed; `name@vN` for one version of a
/// stored table). A file that is not a table, or a directory, is an error saying how to
/// make it one.
pub async fn file_table(wd: &WD, path: &str) -> Result<Arc<dyn FileTable>> {
    let parsed = Path::parse(path)?;
    let (canonical, node) = wd.resolve_canonical(&parsed.without_version()).await?;
    file_table_at(canonical, parsed.version(), &node, path).await
}

/// [`file_table`] of `node`, already found at `path` (a path a glob walked, say, which
/// may pass through symlinks: it is made canonical here).
pub async fn file_table_of(wd: &WD, path: &str, node: &Node) -> Result<Arc<dyn FileTable>> {
    let parsed = Path::parse(path)?;
    let canonical = if is_computed_node(node) {
        // Not needed for a computed table, which is not read by path.
        String::new()
    } else {
        wd.canonicalize(&parsed.without_version()).await?
    };
    file_table_at(canonical, parsed.version(), node, path).await
}

fn is_computed_node(node: &Node) -> bool {
    node.as_file().is_some_and(|f| is_computed(f.as_ref()))
}

/// The table side of `node`, found at the canonical path `canonical` and named `shown`
/// (for errors), at `version`: the lookup's one resolution passed down to the scan.
pub(crate) async fn file_table_at(
    canonical: String,
    version: Option<u64>,
    node: &Node,
    shown: &str,
) -> Result<Arc<dyn FileTable>> {
    if let Some(dynamic) = node
        .as_file()
        .and_then(|f| f.as_any().downcast_ref::<ComputedFile>())
    {
        return match version {
            Some(version) => dynamic.table.at_version(version, shown).await,
            None => Ok(dynamic.table.clone()),
        };
    }
    Ok(Arc::new(StoredTable {
        table: ResolvedTable::of(canonical, version, node, shown).await?,
    }))
}

/// Whether `file` is a table computed by a factory ([`ComputedFile`]: its size is unknown
/// until read). A host file under a hostmount is dynamic but not computed: it has bytes.
pub fn is_computed(file: &dyn File) -> bool {
    file.as_any().is::<ComputedFile>()
}

/// A stored `file:table` or `file:series`, resolved.
#[derive(Debug)]
struct StoredTable {
    table: ResolvedTable,
}

#[async_trait]
impl FileTable for StoredTable {
    fn entry_type(&self) -> EntryType {
        self.table.entry_type
    }

    async fn provider(&self, scope: &Scope) -> Result<Arc<dyn TableProvider>> {
        let table = PondTable::open_resolved(scope.wd(), self.table.clone(), scope.store());
        Ok(Arc::new(table.await?))
    }

    async fn timestamp_column(&self, _scope: &Scope) -> Result<Option<String>> {
        let versions = self.table.file.members().await.at(&self.table.path)?;
        Ok(crate::event_time::timestamp_column_of(versions.iter()))
    }

    /// Versions in order, each streamed from its body (DataFusion may interleave files
    /// across partitions; a plain read keeps the order a user wrote).
    async fn read(
        &self,
        session: &PondSession,
        scope: &Scope,
    ) -> Result<SendableRecordBatchStream> {
        let table = PondTable::open_resolved(scope.wd(), self.table.clone(), scope.store());
        table.await?.read_in_order(&session.context().state()).await
    }
}

/// A computed table as a tinyfs file: what a factory returns for a table it derives.
///
/// As a table it is the wrapped [`FileTable`]; as bytes it is that table materialized as
/// Parquet on each read. It has the one version its factory gives it — a derived node's
/// configuration version, a csvdir entry's source version — with size 0: the size of a
/// computed table is not known until it is computed.
#[derive(Debug)]
pub struct ComputedFile {
    table: Arc<dyn FileTable>,
    wd: WD,
    version: FileVersion,
}

impl ComputedFile {
    /// `table`, readable in the pond `wd` reads; `version` is what `versions` reports.
    pub fn new(table: Arc<dyn FileTable>, wd: WD, version: FileVersion) -> Self {
        ComputedFile { table, wd, version }
    }
}

#[async_trait]
impl File for ComputedFile {
    fn entry_type(&self) -> EntryType {
        self.table.entry_type()
    }

    async fn versions(&self) -> tinyfs::Result<Vec<FileVersion>> {
        Ok(vec![self.version.clone()])
    }

    async fn reader(&self, version: Option<u64>) -> tinyfs::Result<Box<dyn AsyncReadSeek>> {
        if let Some(v) = version
            && v != self.version.version
        {
            return Err(tinyfs::Error::VersionNotFound {
                path: String::new(),
                version: v,
                latest: self.version.version,
            });
        }
        let session = PondSession::new(self.wd.clone()).map_err(storage)?;
        let stream = self
            .table
            .read(&session, &session.scope())
            .await
            .map_err(storage)?;
        let file = crate::materialize::to_parquet_file(stream)
            .await
            .map_err(storage)?;
        Ok(Box::new(file))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn storage(e: Error) -> tinyfs::Error {
    tinyfs::Error::Storage {
        what: "materializing a computed table as Parquet".into(),
        source: Box::new(e),
    }
}

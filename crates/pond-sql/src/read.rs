//! Reading pond files as tables: a `file:table` version, or every version of a
//! `file:series` with their schemas merged by column name.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::stream;
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::file::metadata::ParquetMetaData;
use tinyfs::{EntryType, File, FileVersion, Node, NodeKind, Path, ResultExt, WD};

use crate::conform::merge_versions;
use crate::error::{Error, Result};
use crate::table::PondTable;

/// One stored version of a table file: which, and its Parquet footer.
#[derive(Debug, Clone)]
pub struct TableVersion {
    /// The version's metadata.
    pub version: FileVersion,
    /// Its Parquet metadata (read from the footer only).
    pub metadata: Arc<ParquetMetaData>,
    /// Its Arrow schema.
    pub schema: SchemaRef,
}

/// A table named by a path, resolved once: its canonical path (without a version), the
/// version the path names, the file, and what it is as a table. Everything below the
/// lookup (members, footers, scans) works from this, not from the path again.
#[derive(Clone, Debug)]
pub struct ResolvedTable {
    /// The canonical path, without `@vN`.
    pub path: String,
    /// The version `@vN` named, if any.
    pub version: Option<u64>,
    /// The file.
    pub file: Arc<dyn File>,
    /// `file:table` or `file:series` (a `file:data` whose bytes are Parquet reads as a
    /// `file:table`).
    pub entry_type: EntryType,
}

impl ResolvedTable {
    /// The table at `path` (`name@vN` for one version): one walk of the path.
    pub async fn resolve(wd: &WD, path: &str) -> Result<Self> {
        let parsed = Path::parse(path)?;
        let (canonical, node) = wd.resolve_canonical(&parsed.without_version()).await?;
        Self::of(canonical, parsed.version(), &node, path).await
    }

    /// The table `node` is, found at `canonical` (named `shown` by the caller, for
    /// errors), at `version`. A file that is not a table, or a directory, is an error that
    /// says how to make it one.
    pub async fn of(
        canonical: String,
        version: Option<u64>,
        node: &Node,
        shown: &str,
    ) -> Result<Self> {
        let file = match node.kind() {
            NodeKind::File(f) => f.clone(),
            _ => {
                return Err(Error::invalid(
                    shown,
                    format!(
                        "is a {}, not a table; a csvdir or sql-derived node makes tables",
                        node.entry_type()
                    ),
                ));
            }
        };
        let entry_type = match file.entry_type() {
            t if t.is_table() => t,
            _ if is_parquet(&file, version, &canonical).await? => EntryType::FileTable,
            t => {
                return Err(Error::invalid(
                    shown,
                    format!(
                        "is a {t}, not a table; import it as one with `pond copy --format table`, or \
                         present CSV files as tables with a csvdir"
                    ),
                ));
            }
        };
        Ok(ResolvedTable {
            path: canonical,
            version,
            file,
            entry_type,
        })
    }

    /// The versions that make up the table: the named or latest version of a
    /// `file:table`; the named version of a `file:series`, or its members (every version
    /// appended, less those an undo or compaction replaced). From the log: no body is read.
    pub async fn members(&self) -> Result<Vec<FileVersion>> {
        let at = &self.path;
        Ok(match (self.version, self.entry_type) {
            (Some(v), _) => {
                let all = self.file.versions().await.at(at)?;
                let latest = all.last().map(|v| v.version).unwrap_or(0);
                vec![all.into_iter().find(|x| x.version == v).ok_or(
                    tinyfs::Error::VersionNotFound {
                        path: at.clone(),
                        version: v,
                        latest,
                    },
                )?]
            }
            (None, EntryType::FileSeries) => self.file.members().await.at(at)?,
            (None, _) => self.file.latest().await.at(at)?.into_iter().collect(),
        })
    }

    /// The footer of `version`.
    pub(crate) async fn footer(&self, version: FileVersion) -> Result<TableVersion> {
        let at = format!("{}@v{}", self.path, version.version);
        // Counted by tests that bound what a command opens.
        tracing::trace!(target: "pond_sql::footer", path = %at, "reading a footer");
        let reader = self.file.reader(Some(version.version)).await.at(&at)?;
        let builder = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .map_err(|source| Error::Parquet {
                path: at.clone(),
                source,
            })?;
        Ok(TableVersion {
            metadata: builder.metadata().clone(),
            schema: builder.schema().clone(),
            version,
        })
    }

    /// The footers of `versions`, in order, several read at once.
    pub(crate) async fn footers(&self, versions: Vec<FileVersion>) -> Result<Vec<TableVersion>> {
        stream::iter(versions)
            .map(|version| self.footer(version))
            .buffered(FOOTER_READS)
            .try_collect()
            .await
    }
}

/// The entry type of the file at `path` as a table: a `file:table` or `file:series`, or a
/// `file:data` whose bytes are Parquet (a host file under a mount, say), read as a
/// `file:table`. Anything else is an error that says how to make it one.
pub async fn table_type(wd: &WD, path: &str) -> Result<EntryType> {
    Ok(ResolvedTable::resolve(wd, path).await?.entry_type)
}

/// Whether `version` (the latest if `None`) of `file` begins with Parquet's magic bytes.
async fn is_parquet(file: &Arc<dyn File>, version: Option<u64>, shown: &str) -> Result<bool> {
    use tokio::io::AsyncReadExt;
    let mut reader = file.reader(version).await.at(shown)?;
    let mut magic = [0u8; 4];
    match reader.read_exact(&mut magic).await {
        Ok(_) => Ok(&magic == b"PAR1"),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(Error::Io {
            path: shown.to_string(),
            source: e,
        }),
    }
}

/// The footer of `version` of the file at `path`.
pub(crate) async fn version_footer(
    wd: &WD,
    path: &Path,
    version: FileVersion,
) -> Result<TableVersion> {
    let table = ResolvedTable::resolve(wd, &path.without_version().to_string()).await?;
    table.footer(version).await
}

/// How many version footers are read at once.
const FOOTER_READS: usize = 16;

/// The footer entry that marks a series version written in the series' whole schema (as
/// every append since schemas were conformed is): that version's schema is the series'.
pub(crate) const SERIES_SCHEMA_KEY: &str = "pond.series_schema";

/// The versions that make up the table at `path` (see [`ResolvedTable::members`]).
pub async fn table_members(wd: &WD, path: &str) -> Result<(EntryType, Vec<FileVersion>)> {
    let table = ResolvedTable::resolve(wd, path).await?;
    Ok((table.entry_type, table.members().await?))
}

/// The footers of `versions` of the file at `path`, in order, several read at once.
pub async fn version_footers(
    wd: &WD,
    path: &str,
    versions: Vec<FileVersion>,
) -> Result<Vec<TableVersion>> {
    if versions.is_empty() {
        return Ok(Vec::new());
    }
    ResolvedTable::resolve(wd, path)
        .await?
        .footers(versions)
        .await
}

/// The rows of each of `versions` of the table at `path`: as the log records them, or
/// from the footer of a version written before rows were recorded.
pub async fn version_rows(wd: &WD, path: &str, versions: &[FileVersion]) -> Result<Vec<u64>> {
    let unknown: Vec<FileVersion> = versions
        .iter()
        .filter(|v| v.rows.is_none())
        .cloned()
        .collect();
    let mut read = version_footers(wd, path, unknown)
        .await?
        .into_iter()
        .map(|f| f.metadata.file_metadata().num_rows() as u64);
    Ok(versions
        .iter()
        .map(|v| v.rows.or_else(|| read.next()).unwrap_or(0))
        .collect())
}

/// The versions that make up the table at `path` (see [`table_members`]), with their
/// footers.
pub async fn table_versions(wd: &WD, path: &str) -> Result<(EntryType, Vec<TableVersion>)> {
    let (entry_type, chosen) = table_members(wd, path).await?;
    Ok((entry_type, version_footers(wd, path, chosen).await?))
}

/// The schema of the table at `path` made of `members` (oldest first): the latest
/// member's, when its footer says it is the series' whole schema (one footer read,
/// whatever the count); else every footer's, merged.
pub async fn members_schema(wd: &WD, path: &str, members: &[FileVersion]) -> Result<SchemaRef> {
    let Some(latest) = members.last() else {
        return Ok(Arc::new(arrow::datatypes::Schema::empty()));
    };
    let bare = Path::parse(path)?.without_version();
    let footer = version_footer(wd, &bare, latest.clone()).await?;
    members_schema_from(wd, path, members, &footer).await
}

/// [`members_schema`], given the latest member's footer.
pub(crate) async fn members_schema_from(
    wd: &WD,
    path: &str,
    members: &[FileVersion],
    footer: &TableVersion,
) -> Result<SchemaRef> {
    let whole = members.len() == 1
        || footer
            .metadata
            .file_metadata()
            .key_value_metadata()
            .is_some_and(|kv| kv.iter().any(|e| e.key == SERIES_SCHEMA_KEY));
    if whole {
        return merge_schemas(path, std::slice::from_ref(footer));
    }
    merge_schemas(path, &version_footers(wd, path, members.to_vec()).await?)
}

/// Merges version schemas by column name, in order of first appearance, by the read rules
/// of [`crate::conform`]: a column missing from a version reads as null there, and one
/// stored with different types reads as the type that holds both.
pub fn merge_schemas(path: &str, versions: &[TableVersion]) -> Result<SchemaRef> {
    merge_versions(
        path,
        versions
            .iter()
            .map(|v| (v.version.version, v.schema.as_ref())),
    )
}

/// Reads the table at `path` (see [`table_members`]) as one stream of batches, versions
/// oldest first ([`PondTable::read_in_order`], in a session of its own).
pub async fn read_table(wd: &WD, path: &str) -> Result<SendableRecordBatchStream> {
    let session = crate::PondSession::new(wd.clone())?;
    let table = PondTable::open(wd, path, session.scope().store()).await?;
    table.read_in_order(&session.context().state()).await
}

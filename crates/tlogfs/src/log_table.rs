//! The Delta table under `log/`: creating it, loading versions, writing data files and
//! committing them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use deltalake::TableProperty;
use deltalake::kernel::{Action, Add, CommitInfo, DataType, Remove, StructField};
use deltalake::protocol::SaveMode;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tinyfs::NodeId;

use crate::content_store::sync_dir;
use crate::delta_log::{self, FileTags};
use crate::error::{Error, Result};
use crate::integrity;
use crate::oplog::{self, OplogRow, PART_ID};
use crate::protocol::PondCommit;
use crate::view::{IndexedFile, View, data_file_name};

/// How often a commit also writes a Delta checkpoint, in commits. Opening a pond reads the
/// latest checkpoint and at most this many commit files after it.
pub const CHECKPOINT_INTERVAL: u64 = 100;

/// The Delta table of a pond: the version read and its data files.
#[derive(Debug)]
pub struct LogTable {
    dir: PathBuf,
    version: u64,
    files: BTreeMap<String, FileTags>,
}

/// The outcome of one commit attempt.
pub enum Attempt {
    /// Committed as this pond version.
    Committed(u64),
    /// Another writer committed first; nothing was committed.
    Stale,
}

fn url_of(dir: &Path) -> Result<url::Url> {
    let abs = std::fs::canonicalize(dir).map_err(|e| Error::io(dir.display(), e))?;
    url::Url::from_directory_path(&abs)
        .map_err(|()| Error::internal(format!("{} is not a usable table path", abs.display())))
}

impl LogTable {
    /// Creates the table in `dir` (which must not hold one) at version 0.
    pub async fn create(dir: &Path) -> Result<LogTable> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        let columns: Vec<StructField> = oplog::table_schema()
            .fields()
            .iter()
            .map(|f| {
                let data_type = match f.data_type() {
                    arrow::datatypes::DataType::Utf8 => DataType::STRING,
                    arrow::datatypes::DataType::Int64 => DataType::LONG,
                    arrow::datatypes::DataType::Binary => DataType::BINARY,
                    arrow::datatypes::DataType::Timestamp(_, _) => DataType::TIMESTAMP,
                    other => unreachable!("oplog column type {other} has no Delta mapping"),
                };
                StructField::new(f.name(), data_type, f.is_nullable())
            })
            .collect();
        deltalake::operations::create::CreateBuilder::new()
            .with_location(url_of(dir)?.to_string())
            .with_columns(columns)
            .with_partition_columns([PART_ID])
            .with_table_name("pond")
            .with_configuration_property(
                TableProperty::CheckpointInterval,
                Some(CHECKPOINT_INTERVAL.to_string()),
            )
            .with_configuration_property(TableProperty::EnableExpiredLogCleanup, Some("false"))
            // A checkpoint then carries no `remove` tombstones (Delta keeps them a week by
            // default), so its size follows the live files, not how many merges removed
            // files. Tombstones only guide a Delta VACUUM; pond reclaims files itself.
            .with_configuration_property(
                TableProperty::DeletedFileRetentionDuration,
                Some("interval 0 seconds"),
            )
            .with_save_mode(SaveMode::ErrorIfExists)
            .await
            .map_err(|e| Error::delta(format!("creating {}", dir.display()), e))?;
        Ok(LogTable {
            dir: dir.to_path_buf(),
            version: 0,
            files: BTreeMap::new(),
        })
    }

    /// Opens the table in `dir` at `version`, or the latest. Reads only the file list.
    pub async fn open(dir: &Path, version: Option<u64>) -> Result<LogTable> {
        let log = delta_log::read(dir, version)?;
        Ok(LogTable {
            dir: dir.to_path_buf(),
            version: log.version,
            files: log.files,
        })
    }

    /// The directory of the table.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The loaded version.
    pub fn version(&self) -> Result<u64> {
        Ok(self.version)
    }

    /// Reloads the latest version.
    pub async fn update(&mut self) -> Result<()> {
        let log = delta_log::read(&self.dir, None)?;
        self.version = log.version;
        self.files = log.files;
        Ok(())
    }

    /// A view of the loaded version.
    pub fn view(&self) -> Result<View> {
        View::new(
            self.version,
            &self.dir,
            self.files.iter().map(|(p, t)| (p.clone(), *t)),
        )
    }

    /// Writes a Delta checkpoint of the loaded version, unless it has one: a checkpoint,
    /// once the next commit has recorded its BLAKE3, is never rewritten.
    pub async fn checkpoint(&self) -> Result<()> {
        let version = self.version;
        let existing = crate::delta_log::checkpoint_path(&self.dir.join("_delta_log"), version);
        if existing.exists() {
            return Ok(());
        }
        deltalake::checkpoints::create_checkpoint_from_table_url_and_cleanup(
            url_of(&self.dir)?,
            version,
            Some(false),
            None,
        )
        .await
        .map_err(|e| Error::delta(format!("checkpointing pond version {version}"), e))
    }

    /// Writes `rows` (all of one node) as a data file for the commit of `version`, durably.
    pub fn write_data_file(
        &self,
        part: NodeId,
        node: NodeId,
        version: u64,
        rows: &[OplogRow],
    ) -> Result<Add> {
        let rel = data_file_name(part, node, version);
        let path = self.dir.join(&rel);
        let parent = path.parent().expect("data files are in a partition");
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent.display(), e))?;
        let batch = oplog::to_batch(rows)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let mut writer =
            ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).map_err(|source| {
                Error::Parquet {
                    file: rel.clone(),
                    source,
                }
            })?;
        writer.write(&batch).map_err(|source| Error::Parquet {
            file: rel.clone(),
            source,
        })?;
        let bytes = writer.into_inner().map_err(|source| Error::Parquet {
            file: rel.clone(),
            source,
        })?;
        let mut file =
            std::fs::File::create_new(&path).map_err(|e| Error::io(path.display(), e))?;
        std::io::Write::write_all(&mut file, &bytes).map_err(|e| Error::io(path.display(), e))?;
        file.sync_all().map_err(|e| Error::io(path.display(), e))?;
        sync_dir(parent)?;
        Ok(data_file_add(
            rel,
            part,
            bytes.len() as u64,
            &blake3::hash(&bytes),
            rows.len() as u64,
        ))
    }

    /// An `add` of `file`, a data file an earlier version held and the loaded one does not
    /// (a node put back): its rows become current again, as they were.
    pub(crate) fn readd(&self, file: &IndexedFile) -> Result<Add> {
        let path = self.dir.join(&file.path);
        let size = std::fs::metadata(&path)
            .map_err(|e| Error::io(path.display(), e))?
            .len();
        let (part, _, _) = crate::view::parse_data_file_name(&file.path)
            .ok_or_else(|| Error::internal(format!("{}: not a data file", file.path)))?;
        let (Some(hash), Some(rows)) = (file.hash, file.rows) else {
            return Err(Error::internal(format!(
                "{}: written before pond recorded hashes; it cannot be put back",
                file.path
            )));
        };
        Ok(data_file_add(file.path.clone(), part, size, &hash, rows))
    }

    /// Commits `adds`, and the removal of the data files `removes` (whose rows the adds
    /// hold again: `dataChange` false, so a Delta reader sees each row once) and `dropped`
    /// (whose rows are gone: `dataChange` true), on top of the loaded version, with `info`
    /// in the commit info under `pond`. `Stale` if another
    /// writer committed first. A removed file stays on disk: earlier versions read it.
    ///
    /// A pond commit only appends, so it is written the way Delta's own local log store
    /// writes one: the commit file is staged in `_delta_log`, fsynced, and hard-linked to
    /// its version's name, which fails if the name exists (put-if-absent, atomic). This
    /// needs only the loaded version, not Delta's snapshot of every data file, so a commit
    /// costs the same after ten thousand commits as after ten. The checkpoint is written
    /// every [`CHECKPOINT_INTERVAL`] commits.
    pub async fn try_commit(
        &mut self,
        adds: Vec<Add>,
        removes: &[String],
        dropped: &[String],
        mut info: PondCommit,
    ) -> Result<Attempt> {
        let version = self.version + 1;
        let delta_log = self.dir.join("_delta_log");
        info.previous = Some(integrity::previous(&delta_log, self.version)?);
        info.digest = Some(integrity::PLACEHOLDER.into());
        let now = chrono::Utc::now().timestamp_millis();
        let commit_info = CommitInfo {
            timestamp: Some(now),
            operation: Some("WRITE".into()),
            operation_parameters: Some(HashMap::from([
                ("mode".into(), "Append".into()),
                ("partitionBy".into(), format!("[\"{PART_ID}\"]").into()),
            ])),
            is_blind_append: Some(true),
            engine_info: Some(concat!("pond ", env!("CARGO_PKG_VERSION")).into()),
            info: HashMap::from([(POND_INFO.into(), to_json(&info)?)]),
            ..Default::default()
        };
        let mut actions = vec![Action::CommitInfo(commit_info)];
        actions.extend(adds.iter().cloned().map(Action::Add));
        let removals = removes
            .iter()
            .map(|p| (p, false))
            .chain(dropped.iter().map(|p| (p, true)));
        for (path, data_change) in removals {
            let (part, _, _) = crate::view::parse_data_file_name(path)
                .ok_or_else(|| Error::internal(format!("removing {path}: not a data file")))?;
            actions.push(Action::Remove(Remove {
                path: path.clone(),
                data_change,
                deletion_timestamp: Some(now),
                partition_values: Some(HashMap::from([(
                    PART_ID.to_string(),
                    Some(part.to_string()),
                )])),
                size: std::fs::metadata(self.dir.join(path))
                    .ok()
                    .map(|m| m.len() as i64),
                ..Default::default()
            }));
        }
        let mut text = String::new();
        for action in &actions {
            text.push_str(&serde_json::to_string(action).map_err(Error::internal)?);
            text.push('\n');
        }
        let text = integrity::seal(&text);
        let staging = delta_log.join(format!(".pond-staging-{}", uuid::Uuid::now_v7().simple()));
        let target = crate::delta_log::commit_path(&delta_log, version);
        let io = |path: &Path, e| Error::io(path.display(), e);
        {
            let mut file = std::fs::File::create_new(&staging).map_err(|e| io(&staging, e))?;
            std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| io(&staging, e))?;
            file.sync_all().map_err(|e| io(&staging, e))?;
        }
        let linked = std::fs::hard_link(&staging, &target);
        let _ = std::fs::remove_file(&staging);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(Attempt::Stale),
            Err(e) => return Err(io(&target, e)),
        }
        sync_dir(&delta_log)?;
        self.version = version;
        self.files
            .extend(adds.iter().map(|a| (a.path.clone(), add_tags(a))));
        for path in removes.iter().chain(dropped) {
            self.files.remove(path);
        }
        if (version + 1).is_multiple_of(CHECKPOINT_INTERVAL) {
            self.checkpoint().await?;
        }
        Ok(Attempt::Committed(version))
    }

    /// What the commit file of pond version `version` of the table in `dir` says, if the
    /// file exists. Reads that one file.
    pub fn commit_record(dir: &Path, version: u64) -> Result<Option<CommitRecord>> {
        let path = crate::delta_log::commit_path(&dir.join("_delta_log"), version);
        let Some(commit) = crate::delta_log::CommitFile::read(&path)? else {
            return Ok(None);
        };
        let info = commit.info.as_ref();
        let record = CommitRecord {
            timestamp_ms: info.and_then(|i| i.timestamp),
            operation: info.and_then(|i| i.operation.clone()),
            changes_data: !commit.adds.is_empty() || !commit.removes.is_empty(),
            pond: commit.pond,
        };
        Ok(Some(record))
    }
}

/// The key of pond's record ([`PondCommit`]) in a commit's info.
pub(crate) const POND_INFO: &str = "pond";

fn to_json(info: &PondCommit) -> Result<serde_json::Value> {
    serde_json::to_value(info).map_err(Error::internal)
}

/// What an `add` pond wrote records of its data file.
pub(crate) fn add_tags(add: &Add) -> FileTags {
    FileTags::from_map(|key| add.tags.as_ref()?.get(key)?.as_deref())
}

/// The `add` of data file `rel` in partition `part`: `size` bytes, whose BLAKE3 is `hash`,
/// holding `rows` rows.
fn data_file_add(rel: String, part: NodeId, size: u64, hash: &blake3::Hash, rows: u64) -> Add {
    Add {
        path: rel,
        partition_values: HashMap::from([(PART_ID.to_string(), Some(part.to_string()))]),
        size: size as i64,
        modification_time: chrono::Utc::now().timestamp_millis(),
        data_change: true,
        stats: Some(format!("{{\"numRecords\":{rows}}}")),
        // Delta readers ignore tags; `verify` checks the file against its hash.
        tags: Some(HashMap::from([
            (
                integrity::FILE_HASH_TAG.to_string(),
                Some(hash.to_hex().to_string()),
            ),
            (integrity::FILE_ROWS_TAG.to_string(), Some(rows.to_string())),
        ])),
        ..Default::default()
    }
}

/// What a commit file says about one pond version.
#[derive(Clone, Debug, Default)]
pub struct CommitRecord {
    /// When, in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
    /// Delta's name for the operation (`WRITE`, `CREATE TABLE`, `VACUUM START`...).
    pub operation: Option<String>,
    /// pond's own commit info, if pond wrote the commit.
    pub pond: Option<PondCommit>,
    /// Whether the commit added or removed data files.
    pub changes_data: bool,
}

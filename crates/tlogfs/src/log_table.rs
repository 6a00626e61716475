//! The Delta table under `log/`: creating it, loading versions, writing data files and
//! committing them, through the pond's [`Store`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use deltalake::TableProperty;
use deltalake::kernel::{Action, Add, CommitInfo, DataType, Remove, StructField};
use deltalake::protocol::SaveMode;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use tinyfs::NodeId;

use crate::delta_log::{self, FileTags};
use crate::error::{Error, Result};
use crate::integrity;
use crate::oplog::{self, OplogRow, PART_ID};
use crate::protocol::PondCommit;
use crate::store::Store;
use crate::view::{Fetched, IndexedFile, View, data_file_name};

/// How often a commit also writes a Delta checkpoint, in commits. Opening a pond reads the
/// latest checkpoint and at most this many commit files after it.
pub const CHECKPOINT_INTERVAL: u64 = 100;

/// The Delta table of a pond: the version read and its data files.
#[derive(Debug)]
pub struct LogTable {
    /// The store of the log (keys relative to `log/`).
    store: Store,
    /// The pond, as errors name it.
    pond: String,
    version: u64,
    files: BTreeMap<String, FileTags>,
    /// The rows fetched for the views of this table.
    fetched: Arc<Fetched>,
    /// The BLAKE3 of the loaded version's commit file, when this table read or wrote it:
    /// what the next commit records of its predecessor, without reading it again.
    head_hash: Option<blake3::Hash>,
    /// What the commits the last [`update`](Self::update) read say, by version: what a
    /// writer that lost a race checks for conflicts, without reading them again.
    recent: BTreeMap<u64, CommitRecord>,
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

/// Where Delta finds the table in `log`: its URL, and for an object store, the store
/// (Delta's own registry knows only local paths and memory).
pub(crate) fn delta_location(
    log: &Store,
) -> Result<(url::Url, Option<deltalake::logstore::LogStoreRef>)> {
    if let Some(dir) = log.local_dir() {
        return Ok((url_of(dir)?, None));
    }
    let (store, url) = log
        .object_store()
        .ok_or_else(|| Error::internal(format!("{}: no object store", log.url())))?;
    let scheme = url::Url::parse(&format!("{}://", url.scheme())).map_err(Error::internal)?;
    deltalake::logstore::logstore_factories()
        .entry(scheme)
        .or_insert_with(|| Arc::new(ObjectLogStores));
    let log_store = deltalake::logstore::logstore_with(store, &url, Default::default())
        .map_err(|e| Error::delta(format!("opening the Delta log at {url}"), e))?;
    Ok((url, Some(log_store)))
}

/// Delta's plain log store, for the schemes (such as `s3`) whose own log store pond does
/// not build in: pond gives Delta a configured object store, and writes its commits
/// itself, put-if-absent.
struct ObjectLogStores;

impl deltalake::logstore::LogStoreFactory for ObjectLogStores {
    fn with_options(
        &self,
        prefixed_store: deltalake::logstore::ObjectStoreRef,
        root_store: deltalake::logstore::ObjectStoreRef,
        location: &url::Url,
        options: &deltalake::logstore::StorageConfig,
    ) -> deltalake::DeltaResult<deltalake::logstore::LogStoreRef> {
        Ok(deltalake::logstore::default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

impl LogTable {
    /// Creates the table in the log store `store` (which must not hold one) at version 0;
    /// `pond` names the pond in errors.
    pub async fn create(store: Store, pond: &str) -> Result<LogTable> {
        if let Some(dir) = store.local_dir() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        }
        let (url, log_store) = delta_location(&store)?;
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
        let mut create =
            deltalake::operations::create::CreateBuilder::new().with_location(url.to_string());
        if let Some(log_store) = log_store {
            create = create.with_log_store(log_store);
        }
        create
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
            .map_err(|e| Error::delta(format!("creating {}", store.url()), e))?;
        Ok(LogTable {
            store,
            pond: pond.to_string(),
            version: 0,
            files: BTreeMap::new(),
            fetched: Arc::default(),
            head_hash: None,
            recent: BTreeMap::new(),
        })
    }

    /// Opens the table in the log store `store` at `version`, or the latest; `pond` names
    /// the pond in errors. Reads only the file list.
    pub async fn open(store: Store, pond: &str, version: Option<u64>) -> Result<LogTable> {
        let log = delta_log::read(&store, pond, version).await?;
        Ok(LogTable {
            store,
            pond: pond.to_string(),
            version: log.version,
            files: log.files,
            fetched: Arc::default(),
            head_hash: log.head_hash,
            recent: BTreeMap::new(),
        })
    }

    /// The table at `version`, sharing this one's fetched rows.
    pub async fn at(&self, version: u64) -> Result<LogTable> {
        let log = delta_log::read(&self.store, &self.pond, Some(version)).await?;
        Ok(LogTable {
            store: self.store.clone(),
            pond: self.pond.clone(),
            version: log.version,
            files: log.files,
            fetched: self.fetched.clone(),
            head_hash: log.head_hash,
            recent: BTreeMap::new(),
        })
    }

    /// The store of the log.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The loaded version.
    pub fn version(&self) -> Result<u64> {
        Ok(self.version)
    }

    /// Reloads the latest version.
    /// Reads only the commits made since the loaded version: a writer that lost a race
    /// catches up in a round trip or two, however long the log.
    pub async fn update(&mut self) -> Result<()> {
        let (version, commits) =
            delta_log::advance(&self.store, &mut self.files, self.version).await?;
        if let Some(last) = commits.last() {
            self.head_hash = last.hash;
        }
        self.recent = (self.version + 1..)
            .zip(commits.into_iter().map(CommitRecord::of))
            .collect();
        self.version = version;
        Ok(())
    }

    /// What the commit of pond version `version` says, if the last [`update`](Self::update)
    /// read it.
    pub fn recent_record(&self, version: u64) -> Option<CommitRecord> {
        self.recent.get(&version).cloned()
    }

    /// A view of the loaded version.
    pub fn view(&self) -> Result<View> {
        View::new(
            self.version,
            self.store.clone(),
            self.fetched.clone(),
            self.files.iter().map(|(p, t)| (p.clone(), *t)),
        )
    }

    /// Writes a Delta checkpoint of the loaded version, unless it has one: a checkpoint,
    /// once the next commit has recorded its BLAKE3, is never rewritten.
    pub async fn checkpoint(&self) -> Result<()> {
        let version = self.version;
        let failed = |e| Error::delta(format!("checkpointing pond version {version}"), e);
        let existing = delta_log::checkpoint_key(version);
        if self.store.size(&existing).await?.is_some() {
            return Ok(());
        }
        match delta_location(&self.store)? {
            (url, None) => deltalake::checkpoints::create_checkpoint_from_table_url_and_cleanup(
                url,
                version,
                Some(false),
                None,
            )
            .await
            .map_err(failed),
            (_, Some(log_store)) => {
                let mut table = deltalake::DeltaTable::new(log_store);
                table.load_version(version).await.map_err(failed)?;
                deltalake::checkpoints::create_checkpoint(&table, None)
                    .await
                    .map_err(failed)
            }
        }
    }

    /// Writes `rows` (all of one node) as a data file for the commit of `version`, durably.
    pub async fn write_data_file(
        &self,
        part: NodeId,
        node: NodeId,
        version: u64,
        rows: &[OplogRow],
    ) -> Result<Add> {
        let rel = data_file_name(part, node, version);
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
        let (size, hash) = (bytes.len() as u64, blake3::hash(&bytes));
        // The name is new (a UUIDv7), so nothing is replaced.
        self.store.put(&rel, bytes.into()).await?;
        Ok(data_file_add(rel, part, size, &hash, rows.len() as u64))
    }

    /// An `add` of `file`, a data file an earlier version held and the loaded one does not
    /// (a node put back): its rows become current again, as they were.
    pub(crate) async fn readd(&self, file: &IndexedFile) -> Result<Add> {
        let size = self.store.size(&file.path).await?.ok_or_else(|| {
            Error::io(
                self.store.shown(&file.path),
                std::io::ErrorKind::NotFound.into(),
            )
        })?;
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
    /// A pond commit only appends, so it is written the way Delta's own log stores write
    /// one: put-if-absent at its version's name ([`Store::create`]: locally a staged,
    /// fsynced file hard-linked to the name; on an object store a conditional put). This
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
        info.previous = Some(integrity::previous(&self.store, self.version, self.head_hash).await?);
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
        let removals: Vec<(&String, bool)> = removes
            .iter()
            .map(|p| (p, false))
            .chain(dropped.iter().map(|p| (p, true)))
            .collect();
        let sizes =
            futures::future::try_join_all(removals.iter().map(|(path, _)| self.store.size(path)))
                .await?;
        for ((path, data_change), size) in removals.into_iter().zip(sizes) {
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
                size: size.map(|s| s as i64),
                ..Default::default()
            }));
        }
        let mut text = String::new();
        for action in &actions {
            text.push_str(&serde_json::to_string(action).map_err(Error::internal)?);
            text.push('\n');
        }
        let text = integrity::seal(&text);
        let hash = blake3::hash(text.as_bytes());
        let key = delta_log::commit_key(version);
        if !self.store.create(&key, text.into()).await? {
            return Ok(Attempt::Stale);
        }
        self.version = version;
        self.head_hash = Some(hash);
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

    /// What the commit file of pond version `version` of the log in `log` says, if the
    /// file exists. Reads that one file.
    pub async fn commit_record(log: &Store, version: u64) -> Result<Option<CommitRecord>> {
        Ok(crate::delta_log::CommitFile::read(log, version)
            .await?
            .map(CommitRecord::of))
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

impl CommitRecord {
    /// What `commit` says.
    fn of(commit: crate::delta_log::CommitFile) -> CommitRecord {
        let info = commit.info.as_ref();
        CommitRecord {
            timestamp_ms: info.and_then(|i| i.timestamp),
            operation: info.and_then(|i| i.operation.clone()),
            changes_data: !commit.adds.is_empty() || !commit.removes.is_empty(),
            pond: commit.pond,
        }
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

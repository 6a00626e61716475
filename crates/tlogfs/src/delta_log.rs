//! Which data files a pond version has, read straight from `_delta_log`.
//!
//! Reading a pond needs only the version number and the paths of its data files. Loading
//! a Delta snapshot with `deltalake` also decodes every file's partition values and
//! statistics, which costs more the longer the history; this reads just the paths: the
//! `add.path` column of the latest checkpoint at or before the version, then the commit
//! files after it.

use std::collections::BTreeMap;

use arrow::array::{Array, MapArray, StringArray, StructArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::protocol::{LastCheckpoint, PondCommit};
use crate::store::Store;

/// A pond version and its data files (paths relative to the log directory).
#[derive(Debug, Clone)]
pub(crate) struct LogFiles {
    pub(crate) version: u64,
    /// Each data file, with what its `add` recorded of it.
    pub(crate) files: BTreeMap<String, FileTags>,
    /// The BLAKE3 of the version's commit file, if it was read (not only its checkpoint).
    pub(crate) head_hash: Option<blake3::Hash>,
}

/// What pond records of a data file in its `add` action's tags (which Delta readers
/// ignore); files written before a tag existed lack it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileTags {
    /// Its BLAKE3.
    pub hash: Option<blake3::Hash>,
    /// Its rows.
    pub rows: Option<u64>,
}

impl FileTags {
    /// The tags of an `add`, from its tag map.
    pub(crate) fn from_map<'a>(mut get: impl FnMut(&str) -> Option<&'a str>) -> FileTags {
        FileTags {
            hash: get(crate::integrity::FILE_HASH_TAG).and_then(|h| blake3::Hash::from_hex(h).ok()),
            rows: get(crate::integrity::FILE_ROWS_TAG).and_then(|r| r.parse().ok()),
        }
    }
}

/// How many commit files are read at once when a log is opened.
const READ_AHEAD: u64 = 8;

/// The key of the commit file of pond `version` in a log's store.
pub(crate) fn commit_key(version: u64) -> String {
    format!("_delta_log/{version:020}.json")
}

/// The key of the checkpoint of pond `version` in a log's store.
pub(crate) fn checkpoint_key(version: u64) -> String {
    format!("_delta_log/{version:020}.checkpoint.parquet")
}

/// The newest single-file checkpoint at or before `version` (the latest if `None`) of the
/// log in `log`.
async fn find_checkpoint(log: &Store, version: Option<u64>) -> Result<Option<u64>> {
    let last = "_delta_log/_last_checkpoint";
    let latest = match log.get(last).await? {
        Some(bytes) => {
            let info: LastCheckpoint =
                String::from_utf8_lossy(&bytes)
                    .parse()
                    .map_err(|e: serde_json::Error| Error::Corrupt {
                        file: log.shown(last),
                        detail: e.to_string(),
                    })?;
            Some(info.version)
        }
        None => None,
    };
    let exists =
        |c: u64| async move { Ok::<_, Error>(log.size(&checkpoint_key(c)).await?.is_some()) };
    let from = match (version, latest) {
        (None, Some(c)) if exists(c).await? => return Ok(Some(c)),
        (None, _) => return Ok(None),
        (Some(v), Some(c)) => v.min(c),
        (Some(v), None) => v,
    };
    // Checkpoints are at most CHECKPOINT_INTERVAL apart, so this probes few files.
    for c in (0..=from).rev() {
        if exists(c).await? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Adds the data files the checkpoint whose bytes are `file` (`name` for errors) holds to
/// `files`.
pub(crate) fn checkpoint_files(
    file: bytes::Bytes,
    name: &str,
    files: &mut BTreeMap<String, FileTags>,
) -> Result<()> {
    let parquet = |source| Error::Parquet {
        file: name.to_string(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
        file,
        parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_skip_arrow_metadata(true),
    )
    .map_err(parquet)?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), ["add.path", "add.tags"]);
    for batch in builder.with_projection(mask).build().map_err(parquet)? {
        let batch = batch.map_err(|e| Error::Corrupt {
            file: name.to_string(),
            detail: e.to_string(),
        })?;
        let Some(add) = batch
            .column_by_name("add")
            .and_then(|a| a.as_any().downcast_ref::<StructArray>())
        else {
            continue;
        };
        let Some(paths) = add
            .column_by_name("path")
            .and_then(|p| p.as_any().downcast_ref::<StringArray>())
        else {
            continue;
        };
        let tags = add
            .column_by_name("tags")
            .and_then(|t| t.as_any().downcast_ref::<MapArray>());
        for i in 0..add.len() {
            if add.is_valid(i) && paths.is_valid(i) {
                let tags = tags.map(|t| tags_at(t, i)).unwrap_or_default();
                files.insert(checked_data_file(decode(paths.value(i)), name)?, tags);
            }
        }
    }
    Ok(())
}

/// The tags in row `i` of an `add.tags` map.
fn tags_at(tags: &MapArray, i: usize) -> FileTags {
    if tags.is_null(i) {
        return FileTags::default();
    }
    let entries = tags.value(i);
    let (Some(keys), Some(values)) = (
        entries.column(0).as_any().downcast_ref::<StringArray>(),
        entries.column(1).as_any().downcast_ref::<StringArray>(),
    ) else {
        return FileTags::default();
    };
    FileTags::from_map(|key| {
        (0..keys.len())
            .find(|&k| keys.value(k) == key && values.is_valid(k))
            .map(|k| values.value(k))
    })
}

/// The data file an `add` in the log file `log_file` names (`path`, decoded): a damaged
/// name is an error naming the log file it came from.
fn checked_data_file(path: String, log_file: &str) -> Result<String> {
    if crate::view::parse_data_file_name(&path).is_none() {
        return Err(Error::Corrupt {
            file: log_file.to_string(),
            detail: format!("adds {path:?}, which is not a pond data file name"),
        });
    }
    Ok(path)
}

/// A data file path as `add.path` writes it (percent-encoded), decoded.
pub(crate) fn decode(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// One line of a commit file: the actions pond reads, as Delta writes them. Files are read
/// by path and tags only, so an `add` of another writer with fields pond does not know
/// still reads.
#[derive(serde::Deserialize)]
struct Action {
    #[serde(rename = "commitInfo")]
    commit_info: Option<deltalake::kernel::CommitInfo>,
    add: Option<FileAction>,
    remove: Option<FileAction>,
}

/// An `add` or a `remove`: the path (percent-encoded) and, for an add pond wrote, tags.
#[derive(serde::Deserialize)]
struct FileAction {
    path: String,
    #[serde(default)]
    tags: Option<BTreeMap<String, Option<String>>>,
}

/// What one commit file says: its commit info (and pond's record in it, if pond wrote
/// it), and the data files it adds (with the BLAKE3 hex recorded in their tags, if any,
/// and their tags) and removes, paths decoded.
#[derive(Debug, Default)]
pub(crate) struct CommitFile {
    pub(crate) info: Option<deltalake::kernel::CommitInfo>,
    pub(crate) pond: Option<PondCommit>,
    pub(crate) adds: Vec<(String, Option<String>, FileTags)>,
    pub(crate) removes: Vec<String>,
    /// The BLAKE3 of the file's bytes, when it was read from a store.
    pub(crate) hash: Option<blake3::Hash>,
}

impl CommitFile {
    /// Parses the text of a commit file; a line that is not a Delta action is an error
    /// (its text).
    pub(crate) fn parse(text: &str) -> std::result::Result<CommitFile, String> {
        let mut out = CommitFile::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let action: Action = serde_json::from_str(line).map_err(|e| e.to_string())?;
            if let Some(mut info) = action.commit_info {
                if let Some(pond) = info.info.remove(crate::log_table::POND_INFO) {
                    let pond = serde_json::from_value(pond)
                        .map_err(|e| format!("pond's commit info: {e}"))?;
                    out.pond = Some(pond);
                }
                out.info = Some(info);
            }
            if let Some(add) = action.add {
                let tags = add.tags.unwrap_or_default();
                let get = |key: &str| tags.get(key).and_then(|v| v.as_deref());
                let hex = get(crate::integrity::FILE_HASH_TAG).map(str::to_string);
                out.adds
                    .push((decode(&add.path), hex, FileTags::from_map(get)));
            }
            if let Some(remove) = action.remove {
                out.removes.push(decode(&remove.path));
            }
        }
        Ok(out)
    }

    /// Reads and parses the commit file of pond `version` of the log in `log`; `None` if
    /// there is none.
    pub(crate) async fn read(log: &Store, version: u64) -> Result<Option<CommitFile>> {
        let key = commit_key(version);
        let Some(bytes) = log.get(&key).await? else {
            return Ok(None);
        };
        let mut commit = CommitFile::parse(&String::from_utf8_lossy(&bytes)).map_err(|detail| {
            Error::Corrupt {
                file: log.shown(&key),
                detail,
            }
        })?;
        commit.hash = Some(blake3::hash(&bytes));
        Ok(Some(commit))
    }
}

fn apply_commit(
    commit: &CommitFile,
    file: &str,
    files: &mut BTreeMap<String, FileTags>,
) -> Result<()> {
    for (path, _, tags) in &commit.adds {
        files.insert(checked_data_file(path.clone(), file)?, *tags);
    }
    for path in &commit.removes {
        files.remove(path);
    }
    Ok(())
}

/// Applies to `files` the commits of the log in `log` from pond version `next` on (up to
/// `until`, if given), in order, up to the first that is not there; the version after the
/// last applied, and the commits applied, in order. Commit files are read a few at a time:
/// on an object store each read is a round trip.
async fn apply_commits(
    log: &Store,
    files: &mut BTreeMap<String, FileTags>,
    mut next: u64,
    until: Option<u64>,
) -> Result<(u64, Vec<CommitFile>)> {
    let mut applied = Vec::new();
    loop {
        let end = until.map_or(next + READ_AHEAD, |v| (v + 1).min(next + READ_AHEAD));
        if next >= end {
            return Ok((next, applied));
        }
        let commits =
            futures::future::try_join_all((next..end).map(|v| CommitFile::read(log, v))).await?;
        for commit in commits {
            let Some(commit) = commit else {
                return Ok((next, applied));
            };
            apply_commit(&commit, &log.shown(&commit_key(next)), files)?;
            applied.push(commit);
            next += 1;
        }
    }
}

/// Brings `files`, the data files of pond `version` of the log in `log`, up to its latest
/// version, reading only the commits since; that version, and the commits read (the
/// versions after `version`, in order).
pub(crate) async fn advance(
    log: &Store,
    files: &mut BTreeMap<String, FileTags>,
    version: u64,
) -> Result<(u64, Vec<CommitFile>)> {
    let (next, applied) = apply_commits(log, files, version + 1, None).await?;
    Ok((next - 1, applied))
}

/// The data files of pond `version`, or of the latest version, of the log in `log`
/// (the pond being `pond`, for errors).
pub(crate) async fn read(log: &Store, pond: &str, version: Option<u64>) -> Result<LogFiles> {
    let mut files = BTreeMap::new();
    let checkpoint = find_checkpoint(log, version).await?;
    if let Some(c) = checkpoint {
        let key = checkpoint_key(c);
        let bytes = log
            .get(&key)
            .await?
            .ok_or_else(|| Error::io(log.shown(&key), std::io::ErrorKind::NotFound.into()))?;
        checkpoint_files(bytes, &log.shown(&key), &mut files)?;
    }
    let (next, applied) =
        apply_commits(log, &mut files, checkpoint.map_or(0, |c| c + 1), version).await?;
    let Some(latest) = next.checked_sub(1) else {
        return Err(Error::NotAPond {
            path: pond.to_string(),
        });
    };
    if let Some(v) = version
        && latest < v
    {
        return Err(Error::NoSuchVersion { version: v, latest });
    }
    Ok(LogFiles {
        version: latest,
        files,
        head_hash: applied.last().and_then(|c| c.hash),
    })
}

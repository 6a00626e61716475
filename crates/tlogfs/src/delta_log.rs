//! Which data files a pond version has, read straight from `_delta_log`.
//!
//! Reading a pond needs only the version number and the paths of its data files. Loading
//! a Delta snapshot with `deltalake` also decodes every file's partition values and
//! statistics, which costs more the longer the history; this reads just the paths: the
//! `add.path` column of the latest checkpoint at or before the version, then the commit
//! files after it.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, MapArray, StringArray, StructArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::protocol::{LastCheckpoint, PondCommit};

/// A pond version and its data files (paths relative to the log directory).
#[derive(Debug, Clone)]
pub(crate) struct LogFiles {
    pub(crate) version: u64,
    /// Each data file, with what its `add` recorded of it.
    pub(crate) files: BTreeMap<String, FileTags>,
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

/// The commit file of pond `version` in the `_delta_log` directory `delta_log`.
pub(crate) fn commit_path(delta_log: &Path, version: u64) -> std::path::PathBuf {
    delta_log.join(format!("{version:020}.json"))
}

/// The checkpoint of pond `version` in the `_delta_log` directory `delta_log`.
pub(crate) fn checkpoint_path(delta_log: &Path, version: u64) -> std::path::PathBuf {
    delta_log.join(format!("{version:020}.checkpoint.parquet"))
}

/// The newest single-file checkpoint at or before `version` (the latest if `None`).
fn find_checkpoint(delta_log: &Path, version: Option<u64>) -> Result<Option<u64>> {
    let last = delta_log.join("_last_checkpoint");
    let latest = match std::fs::read_to_string(&last) {
        Ok(text) => {
            let info: LastCheckpoint =
                text.parse()
                    .map_err(|e: serde_json::Error| Error::Corrupt {
                        file: last.display().to_string(),
                        detail: e.to_string(),
                    })?;
            Some(info.version)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(last.display(), e)),
    };
    let from = match (version, latest) {
        (None, Some(c)) if checkpoint_path(delta_log, c).exists() => return Ok(Some(c)),
        (None, _) => return Ok(None),
        (Some(v), Some(c)) => v.min(c),
        (Some(v), None) => v,
    };
    // Checkpoints are at most CHECKPOINT_INTERVAL apart, so this probes few files.
    Ok((0..=from)
        .rev()
        .find(|c| checkpoint_path(delta_log, *c).exists()))
}

pub(crate) fn read_checkpoint(path: &Path, files: &mut BTreeMap<String, FileTags>) -> Result<()> {
    let name = path.display().to_string();
    let parquet = |source| Error::Parquet {
        file: name.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(&name, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
        file,
        parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_skip_arrow_metadata(true),
    )
    .map_err(parquet)?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), ["add.path", "add.tags"]);
    for batch in builder.with_projection(mask).build().map_err(parquet)? {
        let batch = batch.map_err(|e| Error::Corrupt {
            file: name.clone(),
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
                files.insert(checked_data_file(decode(paths.value(i)), path)?, tags);
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
fn checked_data_file(path: String, log_file: &Path) -> Result<String> {
    if crate::view::parse_data_file_name(&path).is_none() {
        return Err(Error::Corrupt {
            file: log_file.display().to_string(),
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

    /// Reads and parses the commit file at `path`; `None` if there is none.
    pub(crate) fn read(path: &Path) -> Result<Option<CommitFile>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path.display(), e)),
        };
        CommitFile::parse(&text)
            .map(Some)
            .map_err(|detail| Error::Corrupt {
                file: path.display().to_string(),
                detail,
            })
    }
}

fn apply_commit(
    commit: CommitFile,
    file: &Path,
    files: &mut BTreeMap<String, FileTags>,
) -> Result<()> {
    for (path, _, tags) in commit.adds {
        files.insert(checked_data_file(path, file)?, tags);
    }
    for path in commit.removes {
        files.remove(&path);
    }
    Ok(())
}

/// The data files of pond `version`, or of the latest version, of the log in `log_dir`.
pub(crate) fn read(log_dir: &Path, version: Option<u64>) -> Result<LogFiles> {
    let delta_log = log_dir.join("_delta_log");
    let mut files = BTreeMap::new();
    let checkpoint = find_checkpoint(&delta_log, version)?;
    if let Some(c) = checkpoint {
        read_checkpoint(&checkpoint_path(&delta_log, c), &mut files)?;
    }
    let mut next = checkpoint.map_or(0, |c| c + 1);
    while version.is_none_or(|v| next <= v) {
        let path = commit_path(&delta_log, next);
        match CommitFile::read(&path)? {
            Some(commit) => apply_commit(commit, &path, &mut files)?,
            None => break,
        }
        next += 1;
    }
    let Some(latest) = next.checked_sub(1) else {
        return Err(Error::NotAPond {
            path: log_dir.parent().unwrap_or(log_dir).display().to_string(),
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
    })
}

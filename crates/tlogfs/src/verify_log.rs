//! `verify` of the log itself: every commit file, checkpoint and data file, checked
//! against what the `integrity` module records of it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tinyfs::NodeId;

use crate::error::Result;
use crate::integrity::{Seal, check_seal, hash_file};
use crate::pond::VerifyReport;
use crate::protocol::LastCheckpoint;
use crate::view::parse_data_file_name;

/// What one commit says of other files.
#[derive(Default)]
struct Records {
    /// Data file → its recorded BLAKE3 (`None` for files written before hashes were), and
    /// the pond version that added it.
    data: BTreeMap<String, (Option<String>, u64)>,
    /// Pond version → the BLAKE3 its successor recorded of its commit file.
    commits: HashMap<u64, String>,
    /// Pond version → the BLAKE3 its successor recorded of its checkpoint.
    checkpoints: HashMap<u64, String>,
}

/// Checks the log under `log_dir` up to pond version `latest`, adding what it finds to
/// `report`; `names` maps nodes to their paths, for saying what a data file holds. With a
/// retention horizon, `kept` is it and the data files live at it: a file added before it
/// and not among them only earlier versions read, and retention deleted it. Returns the
/// data files found damaged (their rows cannot be trusted). Blocking.
pub(crate) fn check(
    log_dir: &Path,
    latest: u64,
    kept: Option<(u64, HashSet<String>)>,
    names: &HashMap<NodeId, String>,
    report: &mut VerifyReport,
) -> Result<HashSet<String>> {
    let delta_log = log_dir.join("_delta_log");
    let mut records = Records::default();
    let mut sealed_before = false;
    // Each commit file's BLAKE3, from the one read of it.
    let mut read: HashMap<u64, blake3::Hash> = HashMap::new();
    for version in 0..=latest {
        let path = crate::delta_log::commit_path(&delta_log, version);
        let shown = commit_shown(version);
        report.log_files += 1;
        let text = match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8({
                read.insert(version, blake3::hash(&bytes));
                bytes
            }) {
                Ok(text) => text,
                Err(_) => {
                    report.damaged.push(format!("{shown}: not UTF-8 text"));
                    continue;
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.damaged.push(format!("{shown}: missing"));
                continue;
            }
            Err(e) => return Err(crate::error::Error::io(path.display(), e)),
        };
        let Ok(commit) = crate::delta_log::CommitFile::parse(&text) else {
            report.damaged.push(format!("{shown}: not valid JSON"));
            continue;
        };
        let pond_commit = commit.pond.is_some();
        let previous = commit.pond.as_ref().and_then(|p| p.previous.clone());
        let has_previous = previous.is_some();
        if let Some(previous) = previous {
            if let Some(hash) = previous.commit {
                records.commits.insert(previous.version, hash);
            }
            if let Some(hash) = previous.checkpoint {
                records.checkpoints.insert(previous.version, hash);
            }
        }
        records.data.extend(
            commit
                .adds
                .into_iter()
                .map(|(path, hex, _)| (path, (hex, version))),
        );
        match check_seal(&text) {
            Seal::Intact => sealed_before = true,
            Seal::Broken => report
                .damaged
                .push(format!("{shown}: does not match its recorded BLAKE3")),
            // pond seals every commit it writes now: one without a seal after a sealed
            // one (or with the record of its predecessor) had its seal damaged.
            Seal::Absent if pond_commit && (sealed_before || has_previous) => report
                .damaged
                .push(format!("{shown}: its BLAKE3 record is damaged")),
            Seal::Absent => {}
        }
    }
    for (version, expected) in &records.commits {
        if let Some(actual) = read.get(version)
            && actual.to_hex().as_str() != expected
        {
            let shown = commit_shown(*version);
            if !report.damaged.iter().any(|d| d.starts_with(&shown)) {
                report.damaged.push(format!(
                    "{shown}: does not match the BLAKE3 pond version {} recorded",
                    version + 1
                ));
            }
        }
    }
    check_checkpoints(&delta_log, &records, report)?;
    let mut broken = HashSet::new();
    for (file, (expected, added)) in &records.data {
        if let Some((horizon, live)) = &kept
            && added <= horizon
            && !live.contains(file)
        {
            continue;
        }
        report.log_files += 1;
        let path = log_dir.join(file);
        let holds = match parse_data_file_name(file).and_then(|(_, node, _)| names.get(&node)) {
            Some(p) => format!(" (holds {p})"),
            None => String::new(),
        };
        let problem = match (hash_file(&path)?, expected) {
            (None, _) => Some("missing".to_string()),
            (Some(actual), Some(expected)) if actual.to_hex().as_str() != expected => {
                Some("does not match its recorded BLAKE3".to_string())
            }
            (Some(_), Some(_)) => None,
            // Written before data files' hashes were recorded: decode it whole.
            (Some(_), None) => decode_parquet(&path).err(),
        };
        if let Some(problem) = problem {
            report.damaged.push(format!("log/{file}{holds}: {problem}"));
            broken.insert(file.clone());
        }
    }
    Ok(broken)
}

/// A commit file as `verify` names it.
fn commit_shown(version: u64) -> String {
    format!("log/_delta_log/{version:020}.json (pond version {version})")
}

fn check_checkpoints(delta_log: &Path, records: &Records, report: &mut VerifyReport) -> Result<()> {
    let entries = std::fs::read_dir(delta_log)
        .map_err(|e| crate::error::Error::io(delta_log.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| crate::error::Error::io(delta_log.display(), e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(version) = name
            .strip_suffix(".checkpoint.parquet")
            .and_then(|v| v.parse::<u64>().ok())
        else {
            continue;
        };
        report.log_files += 1;
        let shown = format!("log/_delta_log/{name} (checkpoint of pond version {version})");
        let problem = match (records.checkpoints.get(&version), hash_file(&entry.path())?) {
            (_, None) => continue,
            (Some(expected), Some(actual)) => (actual.to_hex().as_str() != expected)
                .then(|| "does not match its recorded BLAKE3".to_string()),
            // Not yet recorded by a later commit: decode it whole.
            (None, Some(_)) => decode_parquet(&entry.path()).err(),
        };
        if let Some(problem) = problem {
            report.damaged.push(format!("{shown}: {problem}"));
        }
    }
    let last = delta_log.join("_last_checkpoint");
    if let Ok(text) = std::fs::read_to_string(&last) {
        report.log_files += 1;
        if let Err(problem) = check_last_checkpoint(delta_log, &text) {
            report
                .damaged
                .push(format!("log/_delta_log/_last_checkpoint: {problem}"));
        }
    }
    Ok(())
}

/// Whether `_last_checkpoint` (`text`) describes a checkpoint that exists, exactly: its
/// version, its actions, its bytes and its data files.
fn check_last_checkpoint(delta_log: &Path, text: &str) -> std::result::Result<(), String> {
    let info: LastCheckpoint = text.parse().map_err(|e| format!("does not decode: {e}"))?;
    let version = info.version;
    let path = crate::delta_log::checkpoint_path(delta_log, version);
    let bytes = std::fs::metadata(&path)
        .map_err(|_| {
            format!("names the checkpoint of pond version {version}, which does not exist")
        })?
        .len();
    let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
    let actions = ParquetRecordBatchReaderBuilder::try_new_with_options(
        file,
        parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_skip_arrow_metadata(true),
    )
    .map_err(|e| format!("its checkpoint does not decode: {e}"))?
    .metadata()
    .file_metadata()
    .num_rows() as u64;
    let mut files = std::collections::BTreeMap::new();
    crate::delta_log::read_checkpoint(&path, &mut files).map_err(|e| e.to_string())?;
    let expected = [
        ("size", info.size, actions),
        ("sizeInBytes", info.size_in_bytes, bytes),
        ("numOfAddFiles", info.num_of_add_files, files.len() as u64),
    ];
    for (key, said, actual) in expected {
        let said = said.ok_or_else(|| format!("has no {key}"))?;
        if said != actual {
            return Err(format!(
                "says {key} {said} but the checkpoint of pond version {version} has {actual}"
            ));
        }
    }
    Ok(())
}

/// Reads the Parquet file at `path` to the end: why it does not decode, if it does not.
fn decode_parquet(path: &Path) -> std::result::Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let options =
        parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_skip_arrow_metadata(true);
    let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
        .and_then(|b| b.build())
        .map_err(|e| format!("does not decode: {e}"))?;
    for batch in reader {
        batch.map_err(|e| format!("does not decode: {e}"))?;
    }
    Ok(())
}

//! `verify` of the log itself: every commit file, checkpoint and data file, checked
//! against what the `integrity` module records of it.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tinyfs::NodeId;

use crate::error::Result;
use crate::integrity::{Seal, check_seal};
use crate::pond::VerifyReport;
use crate::protocol::LastCheckpoint;
use crate::store::Store;
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

/// Checks the log in `log` up to pond version `latest`, adding what it finds to
/// `report`; `names` maps nodes to their paths, for saying what a data file holds. With a
/// retention horizon, `kept` is it and the data files live at it: a file added before it
/// and not among them only earlier versions read, and retention deleted it. Returns the
/// data files found damaged (their rows cannot be trusted).
pub(crate) async fn check(
    log: &Store,
    latest: u64,
    kept: Option<(u64, HashSet<String>)>,
    names: &HashMap<NodeId, String>,
    report: &mut VerifyReport,
) -> Result<HashSet<String>> {
    let mut records = Records::default();
    let mut sealed_before = false;
    // Each commit file's BLAKE3, from the one read of it.
    let mut read: HashMap<u64, blake3::Hash> = HashMap::new();
    for version in 0..=latest {
        let shown = commit_shown(version);
        report.log_files += 1;
        let text = match log.get(&crate::delta_log::commit_key(version)).await? {
            Some(bytes) => match String::from_utf8({
                read.insert(version, blake3::hash(&bytes));
                bytes.to_vec()
            }) {
                Ok(text) => text,
                Err(_) => {
                    report.damaged.push(format!("{shown}: not UTF-8 text"));
                    continue;
                }
            },
            None => {
                report.damaged.push(format!("{shown}: missing"));
                continue;
            }
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
    check_checkpoints(log, &records, report).await?;
    let mut broken = HashSet::new();
    for (file, (expected, added)) in &records.data {
        if let Some((horizon, live)) = &kept
            && added <= horizon
            && !live.contains(file)
        {
            continue;
        }
        report.log_files += 1;
        let holds = match parse_data_file_name(file).and_then(|(_, node, _)| names.get(&node)) {
            Some(p) => format!(" (holds {p})"),
            None => String::new(),
        };
        let bytes = log.get(file).await?;
        let problem = match (bytes, expected) {
            (None, _) => Some("missing".to_string()),
            (Some(bytes), Some(expected)) if blake3::hash(&bytes).to_hex().as_str() != expected => {
                Some("does not match its recorded BLAKE3".to_string())
            }
            (Some(_), Some(_)) => None,
            // Written before data files' hashes were recorded: decode it whole.
            (Some(bytes), None) => decode_parquet(bytes).err(),
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

async fn check_checkpoints(
    log: &Store,
    records: &Records,
    report: &mut VerifyReport,
) -> Result<()> {
    for key in log.list("_delta_log").await? {
        let name = key.rsplit('/').next().unwrap_or(&key).to_string();
        let Some(version) = name
            .strip_suffix(".checkpoint.parquet")
            .and_then(|v| v.parse::<u64>().ok())
        else {
            continue;
        };
        report.log_files += 1;
        let shown = format!("log/_delta_log/{name} (checkpoint of pond version {version})");
        let problem = match (records.checkpoints.get(&version), log.get(&key).await?) {
            (_, None) => continue,
            (Some(expected), Some(bytes)) => (blake3::hash(&bytes).to_hex().as_str() != expected)
                .then(|| "does not match its recorded BLAKE3".to_string()),
            // Not yet recorded by a later commit: decode it whole.
            (None, Some(bytes)) => decode_parquet(bytes).err(),
        };
        if let Some(problem) = problem {
            report.damaged.push(format!("{shown}: {problem}"));
        }
    }
    if let Some(text) = log.get("_delta_log/_last_checkpoint").await? {
        report.log_files += 1;
        let text = String::from_utf8_lossy(&text);
        if let Err(problem) = check_last_checkpoint(log, &text).await {
            report
                .damaged
                .push(format!("log/_delta_log/_last_checkpoint: {problem}"));
        }
    }
    Ok(())
}

/// Whether `_last_checkpoint` (`text`) describes a checkpoint that exists, exactly: its
/// version, its actions, its bytes and its data files.
async fn check_last_checkpoint(log: &Store, text: &str) -> std::result::Result<(), String> {
    let info: LastCheckpoint = text.parse().map_err(|e| format!("does not decode: {e}"))?;
    let version = info.version;
    let key = crate::delta_log::checkpoint_key(version);
    let file = log
        .get(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!("names the checkpoint of pond version {version}, which does not exist")
        })?;
    let bytes = file.len() as u64;
    let actions = ParquetRecordBatchReaderBuilder::try_new_with_options(
        file.clone(),
        parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_skip_arrow_metadata(true),
    )
    .map_err(|e| format!("its checkpoint does not decode: {e}"))?
    .metadata()
    .file_metadata()
    .num_rows() as u64;
    let mut files = std::collections::BTreeMap::new();
    crate::delta_log::checkpoint_files(file, &log.shown(&key), &mut files)
        .map_err(|e| e.to_string())?;
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

/// Reads the Parquet file `file` to the end: why it does not decode, if it does not.
fn decode_parquet(file: Bytes) -> std::result::Result<(), String> {
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

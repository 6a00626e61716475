//! [`Pond`]: a pond directory opened: its filesystem, history, verification and upkeep.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tinyfs::{FS, NodeId, TxnMeta};

use crate::content_store::{BodyCheck, ContentStore};
use crate::error::{Error, Result};
use crate::log_table::LogTable;
use crate::persistence::TlogPersistence;
use crate::retention::{Horizon, KeepHistory, RetentionReport};
use crate::store::Store;
use crate::view::View;

/// An open pond.
#[derive(Debug, Clone)]
pub struct Pond {
    /// Where the pond is: a local directory or an object store.
    store: Store,
    /// A local directory for what is not kept in the pond: the pond's own directory, or
    /// for a pond on an object store a working directory of this machine (incoming
    /// bodies, caches), named after the pond's URL.
    dir: PathBuf,
    persistence: TlogPersistence,
    fs: FS,
}

/// One commit, as `pond log` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The pond version it made.
    pub version: u64,
    /// When, in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
    /// Who.
    pub user: String,
    /// The command line, or Delta's operation for commits pond did not write.
    pub command: String,
    /// The paths it changed.
    pub paths: Vec<String>,
}

/// What [`Pond::verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// File versions checked.
    pub versions: usize,
    /// Bytes hashed.
    pub bytes: u64,
    /// Versions whose body does not hash to the recorded BLAKE3: (where, detail).
    pub mismatched: Vec<String>,
    /// Versions whose body is missing from `content/`.
    pub missing: Vec<String>,
    /// Log files checked: commit files, checkpoints and data files.
    pub log_files: usize,
    /// Damaged or missing log files: (which file, what it holds, what is wrong).
    pub damaged: Vec<String>,
}

impl VerifyReport {
    /// Whether every body was present and intact.
    pub fn is_ok(&self) -> bool {
        self.mismatched.is_empty() && self.missing.is_empty() && self.damaged.is_empty()
    }
}

/// What [`Pond::maintain`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaintainReport {
    /// The pond version a checkpoint was written for.
    pub checkpoint_version: u64,
    /// Unreferenced log data files deleted (left by interrupted commits).
    pub log_files_removed: Vec<String>,
    /// Unreferenced bodies deleted from `content/`, and their bytes.
    pub bodies_removed: usize,
    /// Bytes freed from `content/`.
    pub body_bytes_removed: u64,
}

impl Pond {
    /// The log directory of the pond at `dir`.
    pub fn log_dir(dir: &Path) -> PathBuf {
        dir.join("log")
    }

    /// Makes a new, empty pond in `dir` (created if missing). Refuses a directory that
    /// already holds a pond.
    pub async fn init(dir: &Path) -> Result<Pond> {
        Self::create(Store::local(dir)).await
    }

    /// Makes a new, empty pond at `store` (a local directory, made if missing, or a prefix
    /// of an object store). Refuses a place that already holds a pond.
    pub async fn create(store: Store) -> Result<Pond> {
        if Self::is_pond(&store).await? {
            return Err(Error::PondExists {
                path: store.url().to_string(),
            });
        }
        if let Some(dir) = store.local_dir() {
            for sub in ["log", "content", "cache"] {
                let path = dir.join(sub);
                std::fs::create_dir_all(&path).map_err(|e| Error::io(path.display(), e))?;
            }
        }
        let table = LogTable::create(store.child("log"), store.url()).await?;
        Self::from_table(store, table, false)
    }

    /// Opens the pond at `dir`, at its latest version.
    pub async fn open(dir: &Path) -> Result<Pond> {
        Self::connect(Store::local(dir)).await
    }

    /// Opens the pond at `store`, at its latest version.
    pub async fn connect(store: Store) -> Result<Pond> {
        Self::check_is_pond(&store).await?;
        let table = LogTable::open(store.child("log"), store.url(), None).await?;
        Self::from_table(store, table, false)
    }

    /// Opens the pond at `dir` as it was at pond version `version`, read-only.
    pub async fn open_at(dir: &Path, version: u64) -> Result<Pond> {
        Self::connect_at(Store::local(dir), version).await
    }

    /// Opens the pond at `store` as it was at pond version `version`, read-only.
    pub async fn connect_at(store: Store, version: u64) -> Result<Pond> {
        Self::check_is_pond(&store).await?;
        let log = store.child("log");
        if let Some(horizon) = crate::retention::read_horizon(&log).await?
            && version < horizon.version
        {
            return Err(Error::BeforeHorizon {
                version,
                horizon: horizon.version,
            });
        }
        let table = LogTable::open(log, store.url(), Some(version)).await?;
        Self::from_table(store, table, true)
    }

    /// Whether `store` holds a pond: locally its log directory, on an object store its
    /// log's first commit.
    async fn is_pond(store: &Store) -> Result<bool> {
        match store.local_dir() {
            Some(dir) => Ok(Self::log_dir(dir).join("_delta_log").is_dir()),
            None => Ok(store
                .size(&format!("log/{}", crate::delta_log::commit_key(0)))
                .await?
                .is_some()),
        }
    }

    async fn check_is_pond(store: &Store) -> Result<()> {
        if Self::is_pond(store).await? {
            Ok(())
        } else {
            Err(Error::NotAPond {
                path: store.url().to_string(),
            })
        }
    }

    fn from_table(store: Store, table: LogTable, read_only: bool) -> Result<Pond> {
        let (dir, content) = match store.local_dir() {
            Some(dir) => (dir.to_path_buf(), ContentStore::new(dir.join("content"))),
            None => {
                let dir = work_dir(store.url());
                let content = ContentStore::on(store.child("content"), dir.join("content"));
                (dir, content)
            }
        };
        let persistence = TlogPersistence::new(table, content, read_only)?;
        let fs = FS::new(Arc::new(persistence.clone()));
        Ok(Pond {
            store,
            dir,
            persistence,
            fs,
        })
    }

    /// The pond's local directory: the pond itself, or for a pond on an object store, this
    /// machine's working directory for it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the pond is.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The log directory, for the upkeep that works on a local pond only (maintain,
    /// retention); an error naming `what` for a pond on an object store.
    fn local_log_dir(&self, what: &str) -> Result<PathBuf> {
        match self.store.local_dir() {
            Some(dir) => Ok(Self::log_dir(dir)),
            None => Err(Error::Location {
                location: self.store.url().to_string(),
                detail: format!(
                    "{what} works on a local pond; clone this one (`pond clone`) to run it there"
                ),
            }),
        }
    }

    /// The filesystem.
    pub fn fs(&self) -> &FS {
        &self.fs
    }

    /// This pond with `builder` building its dynamic nodes (see [`tinyfs::NodeBuilder`]).
    pub fn with_node_builder(mut self, builder: Arc<dyn tinyfs::NodeBuilder>) -> Pond {
        self.fs = self.fs.with_builder(builder);
        self
    }

    /// Where disposable caches live (csvdir materializations): deleting it loses nothing.
    /// Always local: for a pond on an object store, in this machine's working directory.
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.join("cache")
    }

    /// The storage.
    pub fn persistence(&self) -> &TlogPersistence {
        &self.persistence
    }

    /// The pond version read.
    pub fn version(&self) -> u64 {
        self.persistence.view().version()
    }

    /// The last `limit` commits (all if `None`), newest first.
    pub async fn history(&self, limit: Option<usize>) -> Result<Vec<LogEntry>> {
        let mut out = Vec::new();
        for version in (0..=self.version()).rev() {
            if limit.is_some_and(|n| out.len() >= n) {
                break;
            }
            out.extend(self.log_entry(version).await?);
        }
        Ok(out)
    }

    /// The pond version current at `micros` (microseconds since the epoch): the newest whose
    /// commit was made at or before it. A binary search over commit times, reading about
    /// log2(versions) commit files, whatever the history's length; it takes commit times to
    /// rise with versions, as they do for commits of one clock (writers on machines whose
    /// clocks disagree can make the answer a neighbouring version). Versions whose commit
    /// files retention removed, or that record no time, count as older than any time asked
    /// for.
    pub async fn version_at(&self, micros: i64) -> Result<u64> {
        let at_ms = micros.div_euclid(1000);
        let made = async |v: u64| -> Result<Option<i64>> {
            Ok(self.log_entry(v).await?.and_then(|e| e.timestamp_ms))
        };
        // Invariant: `lo` was made at or before the time (or is not on record), `hi` after.
        let (mut lo, mut hi) = (0u64, self.version() + 1);
        if made(0).await?.is_some_and(|t| t > at_ms) {
            let first_at = made(0).await?.unwrap_or_default();
            return Err(Error::NoVersionAt {
                at: rfc3339(micros),
                first: 0,
                first_at: rfc3339(first_at.saturating_mul(1000)),
            });
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match made(mid).await? {
                Some(t) if t > at_ms => hi = mid,
                _ => lo = mid,
            }
        }
        if made(lo).await?.is_none() {
            // Every version up to the time is gone from the record.
            let mut first = None;
            for v in lo + 1..=self.version() {
                if let Ok(Some(t)) = made(v).await {
                    first = Some((v, t));
                    break;
                }
            }
            let Some((first, first_at)) = first else {
                return Err(Error::Internal(format!(
                    "no commit up to pond version {} records when it was made",
                    self.version()
                )));
            };
            return Err(Error::NoVersionAt {
                at: rfc3339(micros),
                first,
                first_at: rfc3339(first_at.saturating_mul(1000)),
            });
        }
        Ok(lo)
    }

    /// The commit that made pond version `version`, if its commit file is there. Reads that
    /// one file.
    pub async fn log_entry(&self, version: u64) -> Result<Option<LogEntry>> {
        let Some(record) = LogTable::commit_record(&self.store.child("log"), version).await? else {
            return Ok(None);
        };
        Ok(Some(match record.pond {
            Some(pond) => LogEntry {
                version,
                timestamp_ms: record.timestamp_ms,
                user: pond.user,
                command: pond.command.join(" "),
                paths: pond.paths.into_iter().collect(),
            },
            None => LogEntry {
                version,
                timestamp_ms: record.timestamp_ms,
                user: String::new(),
                command: match record.operation.as_deref() {
                    Some("CREATE TABLE") => "(pond created)".to_string(),
                    Some(op) => format!("({})", op.to_lowercase()),
                    None => "(unknown)".to_string(),
                },
                paths: Vec::new(),
            },
        }))
    }

    /// Every node's path in the current tree, for naming nodes in reports.
    async fn node_paths(&self) -> Result<HashMap<NodeId, String>> {
        let mut out = HashMap::new();
        for m in self.fs.root().glob("/**").await? {
            out.insert(m.node.id(), m.path);
        }
        Ok(out)
    }

    /// Checks every byte the pond stores: every commit file, checkpoint and data file of
    /// the log (see the `integrity` module), then re-hashes every body of every file
    /// version in the log, current and past.
    pub async fn verify(&self) -> Result<VerifyReport> {
        let view = self.persistence.view();
        // A damaged log can make the tree unwalkable; the checks below then name files
        // without the paths they hold.
        let names = self.node_paths().await.unwrap_or_default();
        let content = self.persistence.content().clone();
        let log = self.store.child("log");
        let files: Vec<(NodeId, String)> = view
            .files()
            .map(|(_, node, f)| (node, f.path.clone()))
            .collect();
        let latest = view.version();
        // Files only versions before the retention horizon read are gone by design.
        let kept = match self.horizon().await? {
            Some(h) => {
                let then = LogTable::open(log.clone(), self.store.url(), Some(h.version))
                    .await?
                    .view()?;
                Some((
                    h.version,
                    then.files().map(|(_, _, f)| f.path.clone()).collect(),
                ))
            }
            None => None,
        };
        let mut report = VerifyReport::default();
        let broken = crate::verify_log::check(&log, latest, kept, &names, &mut report).await?;
        let files: Vec<(NodeId, String)> = files
            .into_iter()
            .filter(|(_, file)| !broken.contains(file))
            .collect();
        let mut checked: HashSet<blake3::Hash> = HashSet::new();
        let mut seen: HashSet<(NodeId, i64, blake3::Hash)> = HashSet::new();
        // The stored bodies are most of the bytes hashed.
        let task = tinyfs::progress::start(
            "verifying bodies",
            tinyfs::progress::Unit::Bytes,
            content.stored_bytes().await?,
        );
        for (node, file) in files {
            // Damaged data files were reported above; these are read unchecked.
            let rows = match log.get(&file).await {
                Ok(Some(bytes)) => crate::view::rows_of(bytes, &file, None),
                Ok(None) => Err(Error::io(
                    log.shown(&file),
                    std::io::ErrorKind::NotFound.into(),
                )),
                Err(e) => Err(e),
            };
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    report.damaged.push(format!("log/{file}: {e}"));
                    continue;
                }
            };
            for row in rows {
                let Some(hash) = row.blake3 else { continue };
                if !seen.insert((node, row.version, hash)) {
                    continue;
                }
                report.versions += 1;
                let what = match names.get(&node) {
                    Some(path) => format!("{path}@v{}", row.version),
                    None => format!("node {} v{} (no longer linked)", node.short(), row.version),
                };
                match &row.content {
                    Some(inline) => {
                        report.bytes += inline.len() as u64;
                        if blake3::hash(inline) != hash {
                            report
                                .mismatched
                                .push(format!("{what}: inline body in log/{file}"));
                        }
                    }
                    // Each body once, however many versions hold it.
                    None if checked.insert(hash) => {
                        match content.check(&hash).await {
                            Ok(BodyCheck::Intact) => {}
                            Ok(BodyCheck::Damaged) => report.mismatched.push(format!(
                                "{what}: {} does not hash to {}",
                                content.shown(&hash),
                                hash.to_hex()
                            )),
                            Ok(BodyCheck::BlocksDamaged) => report.mismatched.push(format!(
                                "{what}: {}.blocks (the block hashes of an intact body) \
                                 does not match it",
                                content.shown(&hash)
                            )),
                            Err(Error::Io { source, .. })
                                if source.kind() == std::io::ErrorKind::NotFound =>
                            {
                                report
                                    .missing
                                    .push(format!("{what}: {} is missing", content.shown(&hash)));
                            }
                            Err(e) => return Err(e),
                        }
                        report.bytes += row.size.unwrap_or(0) as u64;
                        task.inc(row.size.unwrap_or(0) as u64);
                    }
                    None => {}
                }
            }
        }
        Ok(report)
    }

    /// The retention horizon: pond versions before it are gone (`None` if retention never
    /// ran, and every version is kept).
    pub async fn horizon(&self) -> Result<Option<Horizon>> {
        crate::retention::read_horizon(&self.store.child("log")).await
    }

    /// Gives up the history before the horizon `keep` asks for (see `retention.rs`):
    /// one commit, made by `meta`, drops the rows only earlier versions read, and the log
    /// data files only they read are deleted (if older than `grace`). The bodies the dropped
    /// rows held become unreferenced; [`maintain`](Self::maintain) then deletes them.
    pub async fn retain(
        &self,
        keep: KeepHistory,
        grace: Duration,
        meta: &TxnMeta,
    ) -> Result<RetentionReport> {
        let info = crate::protocol::PondCommit {
            txn_id: uuid::Uuid::now_v7().to_string(),
            command: meta.command.clone(),
            user: meta.user.clone(),
            ..Default::default()
        };
        crate::retention::retain(
            &self.local_log_dir("maintain --keep-history")?,
            keep,
            info,
            SystemTime::now() - grace,
        )
        .await
    }

    /// Checkpoints the log, and deletes log data files and bodies that no commit references
    /// and that are older than `grace` (the leftovers of interrupted commits and rollbacks;
    /// the grace period protects a commit still in flight).
    pub async fn maintain(&self, grace: Duration) -> Result<MaintainReport> {
        let log_dir = self.local_log_dir("maintain")?;
        let table = LogTable::open(self.store.child("log"), self.store.url(), None).await?;
        let mut report = MaintainReport {
            checkpoint_version: table.version()?,
            ..Default::default()
        };
        table.checkpoint().await?;

        let view: View = table.view()?;
        let referenced: HashSet<String> = view.files().map(|(_, _, f)| f.path.clone()).collect();
        let cutoff = SystemTime::now() - grace;
        let (removed, history) =
            remove_unreferenced_data_files(&log_dir, &referenced, cutoff).await?;
        report.log_files_removed = removed;

        // A body is referenced while any kept version reads it. A node the latest version
        // holds has every kept version in its live files (merges and retention rewrite
        // them whole); a removed node's rows are only in log files the latest version no
        // longer holds, which stay on disk until retention passes them.
        let recorded: HashMap<&str, blake3::Hash> = view
            .files()
            .filter_map(|(_, _, f)| Some((f.path.as_str(), f.hash?)))
            .collect();
        let mut hashes: HashSet<blake3::Hash> = HashSet::new();
        let live = view.files().map(|(_, _, f)| f.path.clone());
        let removed_nodes = history.into_iter().filter(|rel| {
            crate::view::parse_data_file_name(rel)
                .is_some_and(|(part, node, _)| view.node_files(part, node).is_empty())
        });
        let holders: Vec<String> = live.chain(removed_nodes).collect();
        let task = tinyfs::progress::start(
            "finding the bodies versions read",
            tinyfs::progress::Unit::Files,
            Some(holders.len() as u64),
        );
        for rel in holders {
            task.inc(1);
            let path = log_dir.join(&rel);
            for row in crate::view::read_rows(&path, &rel, recorded.get(rel.as_str()))? {
                if row.content.is_none()
                    && let Some(h) = row.blake3
                {
                    hashes.insert(h);
                }
            }
        }
        let content = self.persistence.content();
        for body in content.list()? {
            // Checked again at removal: a writer that found the body stored meanwhile
            // made it young.
            if !hashes.contains(&body.hash)
                && body.modified < cutoff
                && content.remove_older(&body.hash, cutoff)?
            {
                report.bodies_removed += 1;
                report.body_bytes_removed += body.size;
            }
        }
        for (path, modified) in content.stale_incoming()? {
            if modified < cutoff {
                std::fs::remove_file(&path).map_err(|e| Error::io(path.display(), e))?;
            }
        }
        Ok(report)
    }
}

/// Deletes data files under `log_dir` that no commit added (the leftovers of interrupted
/// commits) and that are older than `cutoff`. A file the latest version does not
/// reference may be one a later commit merged into another: the commit its name says
/// wrote it added it, and earlier versions read it, so it stays. Delta's own files
/// (`_delta_log/`) are never touched. Returns the files deleted, and those kept for
/// earlier versions.
async fn remove_unreferenced_data_files(
    log_dir: &Path,
    referenced: &HashSet<String>,
    cutoff: SystemTime,
) -> Result<(Vec<String>, Vec<String>)> {
    let log = crate::store::Store::local(log_dir);
    // Pond version → the data files its commit added (each commit file read once).
    let mut added: HashMap<u64, HashSet<String>> = HashMap::new();
    let (mut removed, mut history) = (BTreeMap::new(), Vec::new());
    for (rel, path, meta) in crate::view::data_files_on_disk(log_dir)? {
        if referenced.contains(&rel) {
            continue;
        }
        let committed = match crate::view::parse_data_file_name(&rel) {
            None => false,
            Some((_, _, version)) => {
                if let std::collections::hash_map::Entry::Vacant(e) = added.entry(version) {
                    e.insert(
                        crate::delta_log::CommitFile::read(&log, version)
                            .await?
                            .map(|c| c.adds.into_iter().map(|(p, _, _)| p).collect())
                            .unwrap_or_default(),
                    );
                }
                added[&version].contains(&rel)
            }
        };
        if committed {
            history.push(rel);
        } else if meta.modified().unwrap_or(SystemTime::now()) < cutoff {
            std::fs::remove_file(&path).map_err(|e| Error::io(path.display(), e))?;
            removed.insert(rel, ());
        }
    }
    Ok((removed.into_keys().collect(), history))
}

/// Microseconds since the epoch as RFC 3339 UTC.
fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| format!("{micros}µs"))
}

/// This machine's working directory for the pond at the URL `url`: below
/// `$XDG_CACHE_HOME/pond` (or `~/.cache/pond`), named after the URL's hash, so two ponds
/// never share one and nothing of the URL (which may name a bucket) is shown in a path.
fn work_dir(url: &str) -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    let name = blake3::hash(url.as_bytes()).to_hex();
    base.join("pond").join(&name[..16])
}

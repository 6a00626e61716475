//! Replicas: a pond, with every commit and every version of every file, in another store.
//!
//! A replica is itself a pond, laid out key for key as the one it copies (`log/…`,
//! `content/…`; never `cache/` or staging files). [`replicate`] brings one store's pond
//! into another: a push (pond → replica), a pull (replica → pond) and a clone (into an
//! empty store) are the same walk. It sends only what the destination lacks, newest
//! commits first found by comparing the two histories, and in an order that keeps the
//! destination a whole pond at every moment:
//!
//! 1. for each new commit's data files: the bodies their rows keep in `content/` (block
//!    hashes first), then the data file itself;
//! 2. the commit files, in version order, each created only if its key is free: the
//!    destination's head moves only when everything a commit references is there, and a
//!    commit another writer made meanwhile is never overwritten;
//! 3. checkpoints of the new versions, then `_last_checkpoint`, then the retention horizon.
//!
//! A copy killed at any moment leaves the destination at a version it had or one the copy
//! completed, with at most some objects no commit references yet; the next copy finds them
//! there and goes on. Every body is checked against its BLAKE3 (its name), and every data
//! file against the BLAKE3 its commit records, before it is written: damage is not copied.
//! Two histories that went different ways are refused, naming the first version where
//! they differ.
//!
//! [`compare`] walks the same objects and checks the destination has each, intact: what
//! `pond verify --remote` proves.

use std::collections::BTreeSet;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::delta_log::CommitFile;
use crate::error::{Error, Result};
use crate::store::Store;

const DELTA_LOG: &str = "log/_delta_log";
const HORIZON: &str = "log/_pond_horizon.json";
const LAST_CHECKPOINT: &str = "log/_delta_log/_last_checkpoint";

fn commit_key(version: u64) -> String {
    format!("{DELTA_LOG}/{version:020}.json")
}

fn checkpoint_key(version: u64) -> String {
    format!("{DELTA_LOG}/{version:020}.checkpoint.parquet")
}

fn body_key(hash: &blake3::Hash) -> String {
    let hex = hash.to_hex();
    format!("content/{}/{}", &hex[..2], hex.as_str())
}

/// What a [`replicate`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replicated {
    /// The destination's pond version before, `None` if it held no pond.
    pub before: Option<u64>,
    /// Its pond version now (the source's).
    pub after: u64,
    /// Commits written.
    pub commits: u64,
    /// Log data files written.
    pub data_files: u64,
    /// Bodies written.
    pub bodies: u64,
    /// Bytes written, every object counted.
    pub bytes: u64,
}

/// What a [`compare`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compared {
    /// The source's pond version, and the destination's.
    pub versions: (u64, Option<u64>),
    /// Objects checked in the destination.
    pub objects: u64,
    /// Bytes read from it.
    pub bytes: u64,
    /// What the destination lacks or holds damaged, one line each.
    pub problems: Vec<String>,
}

impl Compared {
    /// Whether the destination holds exactly the source's pond.
    pub fn equal(&self) -> bool {
        self.problems.is_empty() && Some(self.versions.0) == self.versions.1
    }
}

/// The pond version of the pond in `store`: its newest commit in an unbroken run from
/// version 0; `None` if it holds no pond.
pub async fn head(store: &Store) -> Result<Option<u64>> {
    let versions: BTreeSet<u64> = store
        .list(DELTA_LOG)
        .await?
        .iter()
        .filter_map(|key| {
            let name = key.rsplit('/').next()?;
            let digits = name.strip_suffix(".json")?;
            (digits.len() == 20).then(|| digits.parse().ok())?
        })
        .collect();
    Ok(versions
        .iter()
        .enumerate()
        .take_while(|(i, v)| *i as u64 == **v)
        .last()
        .map(|(_, v)| *v))
}

/// Whether the pond in `a` has every commit of the pond in `b` (and maybe more): the
/// history in `b` is the start of the one in `a`. Each commit records the BLAKE3 of the
/// one before, so one commit in common means the whole history before it is too.
pub async fn contains(a: &Store, b: &Store) -> Result<bool> {
    let (Some(head_a), head_b) = (head(a).await?, head(b).await?) else {
        return Ok(false);
    };
    Ok(match head_b {
        None => true,
        Some(v) if v > head_a => false,
        Some(v) => commit_bytes(a, v).await? == commit_bytes(b, v).await?,
    })
}

/// The commit file of `version` in `store`.
async fn commit_bytes(store: &Store, version: u64) -> Result<Bytes> {
    let key = commit_key(version);
    store.get(&key).await?.ok_or_else(|| Error::Corrupt {
        file: store.shown(&key),
        detail: "a commit file of the pond's history is missing".into(),
    })
}

/// Checks that the history in `to` (at `to_head`) is a prefix of the one in `from` (at
/// `from_head`), so `to` can be brought up to `from` by adding commits.
async fn check_prefix(from: &Store, from_head: u64, to: &Store, to_head: u64) -> Result<()> {
    let diverged = |detail: String| Error::Diverged {
        remote: to.url().to_string(),
        detail,
    };
    if to_head > from_head {
        return Err(diverged(format!(
            "it is at pond version {to_head}, ahead of {} at {from_head}: it has commits \
             the other lacks (bring them over first)",
            from.url()
        )));
    }
    if commit_bytes(from, to_head).await? == commit_bytes(to, to_head).await? {
        return Ok(());
    }
    // Find the first version where the two differ.
    let mut first = to_head;
    while first > 0 && commit_bytes(from, first - 1).await? != commit_bytes(to, first - 1).await? {
        first -= 1;
    }
    let made = |bytes: Bytes| {
        CommitFile::parse(&String::from_utf8_lossy(&bytes))
            .ok()
            .and_then(|c| c.pond)
            .map(|p| format!("`{}` by {}", p.command.join(" "), p.user))
            .unwrap_or_else(|| "another writer".into())
    };
    Err(diverged(format!(
        "the histories differ from pond version {first}: its version {first} was made by {}, \
         and {}'s by {}; neither can take the other's commits (copy the changes of one into \
         the other by hand, or clone one of them afresh)",
        made(commit_bytes(to, first).await?),
        from.url(),
        made(commit_bytes(from, first).await?)
    )))
}

/// One object the walk visits: its key, and how to tell it is intact.
struct Object {
    key: String,
    check: Check,
}

/// What the walk hands over of an object.
enum Payload {
    /// Its bytes (a commit, a log file, a checkpoint: small).
    Bytes(Bytes),
    /// A body of `size` bytes, to be streamed from the source: memory stays bounded
    /// whatever its size.
    Body {
        /// Its length in the source.
        size: u64,
    },
}

enum Check {
    /// Its bytes hash to this.
    Hash(blake3::Hash),
    /// Its bytes are these (a commit file: the next commit records its hash, not itself).
    Bytes(Bytes),
    /// Whatever it holds (checkpoints and the horizon are checked by `verify`).
    Any,
}

/// The objects of the commits `versions` of the pond in `from`, in the order a copy
/// writes them (see the module), with `from`'s bytes of each.
async fn objects(
    from: &Store,
    versions: std::ops::RangeInclusive<u64>,
    mut visit: impl AsyncFnMut(Object, Payload) -> Result<()>,
) -> Result<()> {
    // Files only versions before the retention horizon read were deleted by retention.
    let horizon: Option<u64> = match from.get(HORIZON).await? {
        Some(bytes) => Some(
            serde_json::from_slice::<crate::retention::Horizon>(&bytes)
                .map_err(|e| Error::Corrupt {
                    file: from.shown(HORIZON),
                    detail: e.to_string(),
                })?
                .version,
        ),
        None => None,
    };
    let gone_by_retention = |version: u64| horizon.is_some_and(|h| version <= h);
    let mut commits = Vec::new();
    let mut seen_bodies = std::collections::HashSet::new();
    for version in versions.clone() {
        let bytes = commit_bytes(from, version).await?;
        let commit = CommitFile::parse(&String::from_utf8_lossy(&bytes)).map_err(|detail| {
            Error::Corrupt {
                file: from.shown(&commit_key(version)),
                detail,
            }
        })?;
        for (path, _, tags) in commit.adds {
            let key = format!("log/{path}");
            let Some(file) = from.get(&key).await? else {
                if gone_by_retention(version) {
                    continue;
                }
                return Err(Error::Corrupt {
                    file: from.shown(&key),
                    detail: format!("missing, and pond version {version} added it"),
                });
            };
            let rows = crate::view::rows_of(file.clone(), &from.shown(&key), tags.hash.as_ref())?;
            for row in rows {
                let (None, Some(hash)) = (&row.content, row.blake3) else {
                    continue;
                };
                if !seen_bodies.insert(hash) {
                    continue;
                }
                let key = body_key(&hash);
                let Some(size) = from.size(&key).await? else {
                    if gone_by_retention(version) {
                        continue;
                    }
                    return Err(Error::Corrupt {
                        file: from.shown(&key),
                        detail: "a body the log references is missing".into(),
                    });
                };
                let blocks = format!("{key}.blocks");
                if let Some(cvs) = from.get(&blocks).await? {
                    visit(
                        Object {
                            key: blocks,
                            check: Check::Any,
                        },
                        Payload::Bytes(cvs),
                    )
                    .await?;
                }
                visit(
                    Object {
                        key,
                        check: Check::Hash(hash),
                    },
                    Payload::Body { size },
                )
                .await?;
            }
            let check = match tags.hash {
                Some(hash) => Check::Hash(hash),
                None => Check::Bytes(file.clone()),
            };
            visit(Object { key, check }, Payload::Bytes(file)).await?;
        }
        commits.push((version, bytes));
    }
    for (version, bytes) in commits {
        visit(
            Object {
                key: commit_key(version),
                check: Check::Bytes(bytes.clone()),
            },
            Payload::Bytes(bytes),
        )
        .await?;
    }
    for version in versions {
        let key = checkpoint_key(version);
        if let Some(bytes) = from.get(&key).await? {
            visit(
                Object {
                    key,
                    check: Check::Any,
                },
                Payload::Bytes(bytes),
            )
            .await?;
        }
    }
    for key in [LAST_CHECKPOINT, HORIZON] {
        if let Some(bytes) = from.get(key).await? {
            visit(
                Object {
                    key: key.to_string(),
                    check: Check::Any,
                },
                Payload::Bytes(bytes),
            )
            .await?;
        }
    }
    Ok(())
}

/// The pond version a `_last_checkpoint` or horizon file names.
fn version_named(bytes: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Named {
        version: u64,
    }
    serde_json::from_slice::<Named>(bytes)
        .ok()
        .map(|n| n.version)
}

/// Whether `to` already has a newer `_last_checkpoint` or horizon than `bytes` (its own
/// checkpoint, its own retention): then it keeps it.
async fn newer_there(to: &Store, key: &str, bytes: &[u8]) -> Result<bool> {
    Ok(match to.get(key).await? {
        Some(there) => version_named(&there) >= version_named(bytes),
        None => false,
    })
}

/// Whether `bytes`, read from `store` at `object.key`, are what `object` should be.
fn intact(object: &Object, bytes: &[u8]) -> bool {
    match &object.check {
        Check::Hash(hash) => blake3::hash(bytes) == *hash,
        Check::Bytes(expected) => bytes == expected.as_ref(),
        Check::Any => true,
    }
}

/// Brings the pond in `to` up to the pond in `from` (see the module): every commit `to`
/// lacks, with everything it references. `to` may be empty (a clone).
pub async fn replicate(from: &Store, to: &Store) -> Result<Replicated> {
    let Some(from_head) = head(from).await? else {
        return Err(Error::NotAPond {
            path: from.url().to_string(),
        });
    };
    let before = head(to).await?;
    if let Some(to_head) = before {
        check_prefix(from, from_head, to, to_head).await?;
    }
    let mut done = Replicated {
        before,
        after: from_head,
        ..Default::default()
    };
    let first = before.map_or(0, |v| v + 1);
    if first > from_head {
        return Ok(done);
    }
    let task = std::sync::Arc::new(tinyfs::progress::start(
        &format!("copying to {}", to.url()),
        tinyfs::progress::Unit::Bytes,
        None,
    ));
    objects(from, first..=from_head, async |object, payload| {
        let bytes = match payload {
            Payload::Bytes(bytes) => bytes,
            Payload::Body { size } => {
                let Check::Hash(hash) = object.check else {
                    return Err(Error::internal("a body without its hash"));
                };
                // Bodies never change under their names: one there (from a copy that was
                // killed) is kept, and checked by `compare`.
                if to.size(&object.key).await? == Some(size) {
                    return Ok(());
                }
                let shown = from.shown(&object.key);
                let counted = task.clone();
                let chunks = from
                    .stream(&object.key)
                    .await?
                    .ok_or_else(|| Error::Corrupt {
                        file: shown.clone(),
                        detail: "a body the log references is missing".into(),
                    })?
                    .inspect_ok(move |chunk| counted.inc(chunk.len() as u64))
                    .boxed();
                done.bytes += to.put_checked(&object.key, chunks, hash, &shown).await?;
                done.bodies += 1;
                return Ok(());
            }
        };
        if !intact(&object, &bytes) {
            return Err(Error::Corrupt {
                file: from.shown(&object.key),
                detail: "does not match the BLAKE3 the log records of it (run `pond verify`); \
                         nothing damaged was copied"
                    .into(),
            });
        }
        let is_commit = object.key.ends_with(".json") && object.key.starts_with(DELTA_LOG);
        let is_pointer = object.key == LAST_CHECKPOINT || object.key == HORIZON;
        if is_pointer && newer_there(to, &object.key, &bytes).await? {
            return Ok(());
        }
        if is_commit {
            if !to.create(&object.key, bytes.clone()).await? {
                // Taken: by this copy before it was killed, or by another writer.
                let there = to.get(&object.key).await?.unwrap_or_default();
                if there != bytes {
                    return Err(Error::Diverged {
                        remote: to.url().to_string(),
                        detail: format!(
                            "another writer committed {} meanwhile; nothing after it was \
                             copied (try again)",
                            object.key
                        ),
                    });
                }
                return Ok(());
            }
            done.commits += 1;
        } else if matches!(object.check, Check::Hash(_))
            && to.size(&object.key).await? == Some(bytes.len() as u64)
        {
            // Log files never change under their names either.
            return Ok(());
        } else {
            to.put(&object.key, bytes.clone()).await?;
            if object.key.ends_with(".parquet") && !object.key.starts_with(DELTA_LOG) {
                done.data_files += 1;
            }
        }
        done.bytes += bytes.len() as u64;
        task.inc(bytes.len() as u64);
        Ok(())
    })
    .await?;
    Ok(done)
}

/// Checks that `to` holds the pond in `from`: the same commits, and every data file and
/// body they reference, intact.
pub async fn compare(from: &Store, to: &Store) -> Result<Compared> {
    let Some(from_head) = head(from).await? else {
        return Err(Error::NotAPond {
            path: from.url().to_string(),
        });
    };
    let mut out = Compared {
        versions: (from_head, head(to).await?),
        ..Default::default()
    };
    objects(from, 0..=from_head, async |object, payload| {
        out.objects += 1;
        let differs = || {
            format!(
                "{}: differs from {}",
                to.shown(&object.key),
                from.shown(&object.key)
            )
        };
        match payload {
            Payload::Body { .. } => match to.stream(&object.key).await? {
                None => out
                    .problems
                    .push(format!("{}: missing", to.shown(&object.key))),
                Some(mut chunks) => {
                    let mut hasher = blake3::Hasher::new();
                    while let Some(chunk) = chunks.next().await {
                        let chunk = chunk?;
                        out.bytes += chunk.len() as u64;
                        hasher.update(&chunk);
                    }
                    if !matches!(object.check, Check::Hash(h) if h == hasher.finalize()) {
                        out.problems.push(differs());
                    }
                }
            },
            Payload::Bytes(_) => match to.get(&object.key).await? {
                None => out
                    .problems
                    .push(format!("{}: missing", to.shown(&object.key))),
                Some(bytes) => {
                    out.bytes += bytes.len() as u64;
                    if !intact(&object, &bytes) {
                        out.problems.push(differs());
                    }
                }
            },
        }
        Ok(())
    })
    .await?;
    Ok(out)
}

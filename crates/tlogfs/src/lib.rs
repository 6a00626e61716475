//! tlogfs: a pond's filesystem stored as a Delta Lake transaction log.
//!
//! [`Pond`] opens a pond: a local directory, or a prefix of an object store (S3, or memory
//! for tests), both reached through a [`store::Store`]; [`TlogPersistence`] implements the
//! tinyfs [`Persistence`](tinyfs::Persistence) contract on it, so every tinyfs operation
//! works on a pond and every change is one Delta commit. All of a pond's I/O goes through
//! the store, asynchronously; no lock is held while it waits (see `view.rs` for how the
//! synchronous decoding of log files is fed).
//!
//! # Layout
//!
//! The same keys locally and on an object store:
//!
//! ```text
//! <pond>/
//!   log/       the Delta table: the oplog (see `oplog`), _delta_log/ inside
//!   content/   bodies larger than INLINE_MAX or merged, by BLAKE3 (see `content_store`)
//!   cache/     disposable caches; deleting it loses nothing (for a pond on an object
//!              store, in a local working directory instead, with incoming bodies)
//! ```
//!
//! # The oplog, and why lookups do not slow down with history
//!
//! The table has one row per node version, partitioned by `part_id`: a directory's rows are
//! in its own partition, a file's or symlink's rows in the partition of the directory that
//! holds it, and so are a dynamic node's (its `factory` set, its YAML configuration the
//! content; a dynamic directory has no entries of its own to store). The columns are documented in the `oplog` module.
//!
//! Every commit writes one small Parquet file per node it changed, named
//! `part_id=<part>/<node>-<pond version>-<unique>.parquet`. Opening a version reads its file
//! list straight from `_delta_log` (the `add.path` column of the latest checkpoint, written
//! every [`CHECKPOINT_INTERVAL`] commits, plus at most that many commit files) and indexes
//! it by (partition, node) from the names alone. A commit appends one commit file,
//! put-if-absent, without loading Delta's snapshot. Reading a node then opens only that node's files:
//!
//! - a **directory** stores a full snapshot of its entries while it is small
//!   (≤ 64 entries), and deltas with a snapshot every 16 versions once it is larger, so
//!   finding a name reads one file for a small directory and at most 16 for a large one,
//!   whatever the directory's or the pond's history;
//! - a **file** reads the rows of its own versions (one per version, without other files'
//!   rows), and a **symlink** its last row.
//!
//! Decoded state is cached per read version ([`View`]).
//!
//! # Bodies
//!
//! A body up to [`INLINE_MAX`] bytes is stored in its row's `content`; a larger one streams
//! to `content/.incoming/`, is fsynced and renamed to `content/<hh>/<blake3>` (on an object
//! store: uploaded there, checked against its hash as it goes) before the commit that
//! references it; reads fetch it by 256 KiB block, each checked. A file's data files are merged as it gains versions (see
//! `merge`), and a merge moves the inline bodies it rewrites into `content/` too: a file of
//! one version keeps its small body in its row, a series of thousands keeps only metadata
//! in the log. A Parquet body there stays a plain Parquet file any reader can
//! open. Equal bodies are stored once.
//!
//! # Transactions and concurrency
//!
//! A transaction keeps its changes as intent (entries set or removed, file versions added).
//! Commit writes the data files and then the Delta commit, which is atomic (put-if-absent:
//! a hard link locally, a conditional put on an object store): before it, no
//! reader sees anything; a crash leaves at most unreferenced files, which `maintain` removes.
//! If another writer committed first, the commit infos in between are checked: each lists
//! the keys its transaction wrote (directory entries, nodes). When none is one this
//! transaction read or wrote, the commit is rebuilt on the new version and retried; otherwise
//! it fails with [`Error::Conflict`] naming the path. No update is lost. Each commit info
//! also records the transaction id (UUIDv7), the command line, the user and the paths
//! changed, which [`Pond::history`] reads back.
//!
//! # Deviations from the design note
//!
//! - Directories are partitioned by their own id rather than their parent's, so moving a
//!   directory never rewrites its history; a file moved to another directory has its rows
//!   copied into the new partition in the moving commit.
//! - Log data files are never compacted: rewriting them would break reading earlier pond
//!   versions once the originals were vacuumed. `maintain` checkpoints the log (which
//!   compacts the commit files Delta reads on open) and removes unreferenced leftovers.
//! - Expired-log cleanup is off: the commit files are the pond's history.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tinyfs::{EntryType, TxnMeta};
//! let pond = tlogfs::Pond::init(std::path::Path::new("/tmp/example-pond")).await?;
//! let tx = pond.fs().begin(TxnMeta::default()).await?;
//! tx.root().create_dir("/sensors").await?;
//! tx.root().write_file("/sensors/a.csv", EntryType::FileData, b"t,v\n").await?;
//! assert_eq!(tx.commit().await?, Some(1));
//! # Ok(()) }
//! ```

mod blocks;
mod content_store;
mod delta_log;
mod dir_content;
mod error;
mod external;
mod history;
mod integrity;
mod links;
mod log_table;
mod manifest;
mod merge;
mod oplog;
mod persistence;
mod pond;
pub mod protocol;
pub mod replica;
mod retention;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
mod txn;
mod verify_log;
mod view;
mod writer;

pub use content_store::{BodyCheck, ContentStore, StoredBody};
pub use delta_log::FileTags;
pub use error::{Error, Result};
pub use external::{DeltaSource, open_delta};
pub use history::{Change, PathChange};
pub use log_table::CHECKPOINT_INTERVAL;
pub use oplog::{OplogRow, file_schema, table_schema};
pub use persistence::{INLINE_MAX, TlogPersistence};
pub use pond::{LogEntry, MaintainReport, Pond, VerifyReport};
pub use retention::{Horizon, KeepHistory, RetentionReport};
#[doc(hidden)]
pub use view::Missing;
pub use view::View;

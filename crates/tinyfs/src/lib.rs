//! tinyfs: the filesystem model of a pond.
//!
//! A pond looks like a small Unix filesystem: directories, files and symlinks under one
//! root. Files keep every version ever written. Everything else in pond stands on the types
//! here:
//!
//! - [`Path`] — a path parsed once: absolute or relative, `.` and `..`, and `name@vN` for
//!   version N of a file.
//! - [`Node`] — a handle to a [`Directory`], [`File`] or [`Symlink`]. These traits are the
//!   extension point: stored nodes implement them through a [`Persistence`]; dynamic nodes
//!   (a host mount, a derived table) implement them directly.
//! - [`Persistence`] — how nodes are stored, with transactions; its documentation is the
//!   contract. [`MemoryPersistence`] is the reference implementation; tlogfs stores a pond in
//!   a Delta Lake log.
//! - [`FS`] and [`WD`] — a filesystem over a persistence, and the working directory every
//!   path operation goes through: resolve, create, read, write, list, [glob], remove,
//!   rename, symlinks, metadata.
//! - [`Error`] — one error type; [`Error::kind`] for matching.
//! - [`cycle::reading`] — the one cycle check for dynamic nodes that read other nodes.
//!
//! With the `testkit` feature, `tinyfs::testkit` holds the conformance suite and the model-based
//! property test that every persistence runs.
//!
//! ```
//! use tinyfs::{EntryType, FS, TxnMeta};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let fs = FS::memory();
//! let tx = fs.begin(TxnMeta::default()).await?;
//! let root = tx.root();
//! root.create_dir_all("/sensors/2024").await?;
//! root.write_file("/sensors/2024/a.csv", EntryType::FileData, b"t,v\n1,2\n").await?;
//! root.write_file("/sensors/2024/a.csv", EntryType::FileData, b"t,v\n1,3\n").await?;
//! assert_eq!(tx.commit().await?, Some(1));
//!
//! let root = fs.root();
//! assert_eq!(root.read_file("/sensors/2024/a.csv@v1").await?, b"t,v\n1,2\n");
//! let matches = root.glob("/sensors/*/*.csv").await?;
//! assert_eq!(matches[0].captures, ["2024", "a"]);
//! # Ok::<(), tinyfs::Error>(())
//! # }).unwrap();
//! ```

pub mod cycle;
mod entry_type;
mod error;
mod fs;
pub mod glob;
mod glob_walk;
mod memory;
mod node;
mod node_id;
mod path;
mod persistence;
pub mod progress;
mod version_set;
mod wd;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use entry_type::EntryType;
pub use error::{Error, ErrorKind, Result, ResultExt};
pub use fs::{FS, Transaction};
pub use glob_walk::GlobMatch;
pub use memory::MemoryPersistence;
pub use node::{
    AsyncReadSeek, Declared, DirEntry, Directory, EventTime, File, FileVersion, FileWriter, Node,
    NodeConfig, NodeKind, Origin, Symlink, now_micros,
};
pub use node_id::NodeId;
pub use path::{Component, IntoPath, MAX_NAME_LEN, Path, validate_name};
pub use persistence::{
    NodeBuilder, NodeKey, Persistence, StoredDirectory, StoredFile, StoredSymlink, TxnMeta,
    WriteTarget, stored_node, stored_root,
};
pub use version_set::{
    ParseVersionSetError, VersionSet, held_versions, member_versions, series_members,
};
pub use wd::{MAX_SYMLINKS, Metadata, WD};

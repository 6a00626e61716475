//! The tlogfs error type.

use std::fmt;

/// A tlogfs result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a pond's storage. Filesystem errors (a missing path, a name taken)
/// are [`Error::Fs`]; [`Error::kind`] maps every error to the shared kinds.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A filesystem error from tinyfs.
    #[error(transparent)]
    Fs(#[from] tinyfs::Error),
    /// The directory holds no pond.
    #[error("{path}: not a pond (no Delta log in {path}/log; run `pond init` to make one)")]
    NotAPond {
        /// The directory.
        path: String,
    },
    /// `init` found something already there.
    #[error("{path}: a pond already exists here")]
    PondExists {
        /// The directory.
        path: String,
    },
    /// A pond version that does not exist.
    #[error("pond version {version} does not exist (the pond is at version {latest})")]
    NoSuchVersion {
        /// The version asked for.
        version: u64,
        /// The latest version.
        latest: u64,
    },
    /// A time before the pond's first commit still on record.
    #[error(
        "the pond has no version as of {at}: its first commit on record is pond version {first}, made {first_at}"
    )]
    NoVersionAt {
        /// The time asked for (RFC 3339).
        at: String,
        /// The first pond version whose commit is on record.
        first: u64,
        /// When it was made (RFC 3339).
        first_at: String,
    },
    /// A pond version older than the retention horizon: its history was given up.
    #[error(
        "pond version {version} is before the retention horizon, pond version {horizon}: `maintain --keep-history` reclaimed the history it read"
    )]
    BeforeHorizon {
        /// The version asked for.
        version: u64,
        /// The oldest version still readable.
        horizon: u64,
    },
    /// A commit that made no change pond can undo (the pond's creation, or a commit
    /// another program wrote).
    #[error("pond version {version}: nothing to revert: {why}")]
    NothingToRevert {
        /// The pond version.
        version: u64,
        /// What the commit was.
        why: String,
    },
    /// Another writer changed what this transaction touched.
    #[error("{path}: conflict: {detail}")]
    Conflict {
        /// The path both changed.
        path: String,
        /// What happened.
        detail: String,
    },
    /// The Delta log could not be read or written.
    #[error("{what}: {source}")]
    Delta {
        /// What was being done.
        what: String,
        /// Delta's error.
        source: deltalake::DeltaTableError,
    },
    /// A data file of the log could not be read or written.
    #[error("{file}: {source}")]
    Parquet {
        /// The file.
        file: String,
        /// The Parquet error.
        source: parquet::errors::ParquetError,
    },
    /// A host file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The host path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An object store failed on an object.
    #[error("{object}: {source}")]
    Store {
        /// The object: its store's location and key.
        object: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// A location that names no store pond can use (an unknown scheme, a store that cannot
    /// create an object only if it is absent).
    #[error("{location}: {detail}")]
    Location {
        /// The location as given.
        location: String,
        /// Why it cannot be used.
        detail: String,
    },
    /// A replica cannot be brought up to date without losing commits: its history and the
    /// pond's went different ways, or it has commits the pond lacks.
    #[error("{remote}: {detail}")]
    Diverged {
        /// The replica.
        remote: String,
        /// How the histories differ, and what to do.
        detail: String,
    },
    /// A data file of the log holds something it should not.
    #[error("{file}: corrupt oplog file: {detail}")]
    Corrupt {
        /// The file.
        file: String,
        /// What is wrong.
        detail: String,
    },
    /// A broken invariant: a bug.
    #[error("internal error: {0} (this is a bug in pond)")]
    Internal(String),
    /// Log data files a decoder needs are not fetched yet: never returned to a caller
    /// (see `crate::view::loaded`).
    #[doc(hidden)]
    #[error(
        "internal error: log data files were read before they were fetched (this is a bug in pond)"
    )]
    NotLoaded(Box<crate::view::Missing>),
}

impl Error {
    /// The shared kind of this error.
    pub fn kind(&self) -> tinyfs::ErrorKind {
        use tinyfs::ErrorKind;
        match self {
            Error::Fs(e) => e.kind(),
            Error::NotAPond { .. }
            | Error::NoSuchVersion { .. }
            | Error::NoVersionAt { .. }
            | Error::BeforeHorizon { .. } => ErrorKind::NotFound,
            Error::PondExists { .. } => ErrorKind::AlreadyExists,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::NothingToRevert { .. } => ErrorKind::Unsupported,
            Error::Delta { .. }
            | Error::Parquet { .. }
            | Error::Io { .. }
            | Error::Store { .. }
            | Error::Location { .. } => ErrorKind::Io,
            Error::Diverged { .. } => ErrorKind::Conflict,
            // Damage on disk is the storage failing, not a bug in pond.
            Error::Corrupt { .. } => ErrorKind::Corrupt,
            Error::Internal(_) | Error::NotLoaded(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn internal(detail: impl fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }

    pub(crate) fn io(path: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn delta(what: impl fmt::Display, source: deltalake::DeltaTableError) -> Self {
        Error::Delta {
            what: what.to_string(),
            source,
        }
    }
}

impl From<Error> for tinyfs::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Fs(e) => e,
            Error::Conflict { path, detail } => tinyfs::Error::Conflict { path, detail },
            Error::Io { path, source } => tinyfs::Error::Io { path, source },
            Error::Corrupt { file, detail } => tinyfs::Error::Corrupt {
                path: file,
                detail: format!("corrupt oplog file: {detail}"),
            },
            Error::Internal(detail) => tinyfs::Error::Internal(detail),
            other => tinyfs::Error::Storage {
                what: "pond storage".into(),
                source: Box::new(other),
            },
        }
    }
}

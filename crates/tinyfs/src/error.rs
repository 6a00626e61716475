//! The one error type of tinyfs.
//!
//! Every error names the path it is about and says why, in one lowercase line:
//! `/a/b: not a directory`. Callers that need to branch match on [`Error::kind`], which
//! groups the variants into the kinds every pond crate shares.

use std::fmt;

/// A tinyfs result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a kind a caller can match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A path, entry or version does not exist.
    NotFound,
    /// Something already exists where a new entry was to be made.
    AlreadyExists,
    /// A directory was needed; something else was found.
    NotADirectory,
    /// A file or symlink was needed; a directory was found.
    IsADirectory,
    /// A directory to remove still has entries and removal was not recursive.
    NotEmpty,
    /// Resolving a path followed too many symlinks (a loop, or a chain that is too long).
    SymlinkLoop,
    /// A path or name is malformed, or an operation makes no sense for it (moving a
    /// directory into itself).
    InvalidPath,
    /// The node does not accept changes (a dynamic node, or a pond opened for reading).
    ReadOnly,
    /// A concurrent transaction changed what this one read.
    Conflict,
    /// A configuration was rejected.
    InvalidConfig,
    /// The node does not implement the operation.
    Unsupported,
    /// The host's I/O failed.
    Io,
    /// Stored data is damaged: a body or log file that does not match its recorded hash,
    /// or does not decode.
    Corrupt,
    /// Data does not read as what it is meant to be: a CSV cell not of its column's type,
    /// a file that is not Parquet, a batch that does not fit its series.
    InvalidData,
    /// A broken invariant: a bug, not a user error.
    Internal,
}

/// A tinyfs error. Display is one line: `PATH: why`.
///
/// Node implementations may leave `path` empty when they do not know the path they were
/// reached by; [`crate::WD`] fills it in with [`Error::with_path`] before returning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`ErrorKind::NotFound`].
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The path that does not exist.
        path: String,
    },
    /// A file exists but not the requested version.
    #[error("{path}: no version {version} ({})", versions_there(*.version, *.latest))]
    VersionNotFound {
        /// The file.
        path: String,
        /// The version asked for.
        version: u64,
        /// The latest version there is.
        latest: u64,
    },
    /// See [`ErrorKind::AlreadyExists`].
    #[error("{path}: already exists{}", detail_suffix(.detail))]
    AlreadyExists {
        /// The path that exists.
        path: String,
        /// More about what is there, if useful.
        detail: Option<String>,
    },
    /// See [`ErrorKind::NotADirectory`].
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The path that is not a directory.
        path: String,
    },
    /// See [`ErrorKind::IsADirectory`].
    #[error("{path}: is a directory")]
    IsADirectory {
        /// The path that is a directory.
        path: String,
    },
    /// See [`ErrorKind::NotEmpty`].
    #[error("{path}: directory not empty (remove it recursively)")]
    NotEmpty {
        /// The directory.
        path: String,
    },
    /// See [`ErrorKind::SymlinkLoop`].
    #[error("{path}: too many levels of symbolic links (more than {limit})")]
    SymlinkLoop {
        /// The path being resolved.
        path: String,
        /// How many symlinks resolution follows before giving up.
        limit: usize,
    },
    /// See [`ErrorKind::InvalidPath`].
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// See [`ErrorKind::ReadOnly`].
    #[error("{path}: read-only: cannot {op}")]
    ReadOnly {
        /// The node that refused.
        path: String,
        /// The operation refused (`create`, `write`, `remove`, ...).
        op: &'static str,
    },
    /// See [`ErrorKind::Conflict`].
    #[error("{path}: conflict: {detail}")]
    Conflict {
        /// What the conflicting transactions both touched.
        path: String,
        /// What happened.
        detail: String,
    },
    /// See [`ErrorKind::InvalidConfig`].
    #[error("{path}: invalid configuration: {detail}")]
    InvalidConfig {
        /// The node whose configuration is bad.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// See [`ErrorKind::Unsupported`].
    #[error("{path}: {op} is not supported by this node")]
    Unsupported {
        /// The node.
        path: String,
        /// The operation it does not implement.
        op: &'static str,
    },
    /// See [`ErrorKind::Io`].
    #[error("{path}: {source}")]
    Io {
        /// What was being read or written.
        path: String,
        /// The host error.
        source: std::io::Error,
    },
    /// See [`ErrorKind::Corrupt`].
    #[error("{path}: {detail}")]
    Corrupt {
        /// The damaged file or node.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The storage underneath failed (see [`ErrorKind::Io`]); `source` says how.
    #[error("{what}: {source}")]
    Storage {
        /// What was being done, and where.
        what: String,
        /// The storage's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// See [`ErrorKind::Internal`].
    #[error("internal error: {0} (this is a bug in pond)")]
    Internal(String),
}

/// Which versions a file has, said to someone who asked for `version`: one past the
/// latest was never written; one before it is no longer kept (retention reclaimed it, or
/// a computed file has only its latest).
fn versions_there(version: u64, latest: u64) -> String {
    if version == 0 || version > latest {
        format!("versions are v1 to v{latest}")
    } else {
        format!(
            "it is no longer kept; the latest is v{latest}, and `pond describe` lists the versions kept"
        )
    }
}

fn detail_suffix(detail: &Option<String>) -> String {
    detail
        .as_ref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

/// Naming the path a failed result is about: `dir.get(name).await.at(&path)?` fills in
/// the path of an error that has none yet (see [`Error::with_path`]).
pub trait ResultExt<T> {
    /// This result, its error (if any) naming `path` where it names none.
    fn at(self, path: impl fmt::Display) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn at(self, path: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.with_path(path))
    }
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } | Error::VersionNotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::NotADirectory { .. } => ErrorKind::NotADirectory,
            Error::IsADirectory { .. } => ErrorKind::IsADirectory,
            Error::NotEmpty { .. } => ErrorKind::NotEmpty,
            Error::SymlinkLoop { .. } => ErrorKind::SymlinkLoop,
            Error::InvalidPath { .. } => ErrorKind::InvalidPath,
            Error::ReadOnly { .. } => ErrorKind::ReadOnly,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::InvalidConfig { .. } => ErrorKind::InvalidConfig,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Io { .. } | Error::Storage { .. } => ErrorKind::Io,
            Error::Corrupt { .. } => ErrorKind::Corrupt,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// A [`Error::NotFound`] for `path`.
    pub fn not_found(path: impl fmt::Display) -> Self {
        Error::NotFound {
            path: path.to_string(),
        }
    }

    /// An [`Error::AlreadyExists`] for `path`.
    pub fn already_exists(path: impl fmt::Display) -> Self {
        Error::AlreadyExists {
            path: path.to_string(),
            detail: None,
        }
    }

    /// An [`Error::NotADirectory`] for `path`.
    pub fn not_a_directory(path: impl fmt::Display) -> Self {
        Error::NotADirectory {
            path: path.to_string(),
        }
    }

    /// An [`Error::IsADirectory`] for `path`.
    pub fn is_a_directory(path: impl fmt::Display) -> Self {
        Error::IsADirectory {
            path: path.to_string(),
        }
    }

    /// An [`Error::InvalidPath`] for `path`.
    pub fn invalid_path(path: impl fmt::Display, reason: impl fmt::Display) -> Self {
        Error::InvalidPath {
            path: path.to_string(),
            reason: reason.to_string(),
        }
    }

    /// A [`Error::ReadOnly`] refusal of `op`, path to be filled in by the caller.
    pub fn read_only(op: &'static str) -> Self {
        Error::ReadOnly {
            path: String::new(),
            op,
        }
    }

    /// An [`Error::Unsupported`] refusal of `op`, path to be filled in by the caller.
    pub fn unsupported(op: &'static str) -> Self {
        Error::Unsupported {
            path: String::new(),
            op,
        }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }

    /// An [`Error::Internal`].
    pub fn internal(detail: impl fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }

    /// Sets the path of an error whose path is still empty; other errors pass unchanged.
    pub fn with_path(mut self, at: impl fmt::Display) -> Self {
        let slot = match &mut self {
            Error::NotFound { path }
            | Error::VersionNotFound { path, .. }
            | Error::AlreadyExists { path, .. }
            | Error::NotADirectory { path }
            | Error::IsADirectory { path }
            | Error::NotEmpty { path }
            | Error::SymlinkLoop { path, .. }
            | Error::InvalidPath { path, .. }
            | Error::ReadOnly { path, .. }
            | Error::Conflict { path, .. }
            | Error::InvalidConfig { path, .. }
            | Error::Unsupported { path, .. }
            | Error::Corrupt { path, .. }
            | Error::Io { path, .. } => path,
            Error::Internal(_) | Error::Storage { .. } => return self,
        };
        if slot.is_empty() {
            *slot = at.to_string();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_name_the_path() {
        let e = Error::not_a_directory("/a");
        assert_eq!(e.to_string(), "/a: not a directory");
        let e = Error::read_only("write").with_path("/mnt/x.csv");
        assert_eq!(e.to_string(), "/mnt/x.csv: read-only: cannot write");
        assert_eq!(e.kind(), ErrorKind::ReadOnly);
        let e = Error::VersionNotFound {
            path: "/a.csv".into(),
            version: 9,
            latest: 2,
        };
        assert_eq!(
            e.to_string(),
            "/a.csv: no version 9 (versions are v1 to v2)"
        );
        let e = Error::VersionNotFound {
            path: "/a.csv".into(),
            version: 1,
            latest: 5,
        };
        assert_eq!(
            e.to_string(),
            "/a.csv: no version 1 (it is no longer kept; the latest is v5, and `pond describe` lists the versions kept)"
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn with_path_keeps_a_path_already_set() {
        let e = Error::not_found("/x").with_path("/y");
        assert_eq!(e.to_string(), "/x: no such file or directory");
    }
}

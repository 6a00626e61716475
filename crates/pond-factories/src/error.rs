//! The pond-factories error type.

/// A pond-factories result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong configuring or building a dynamic node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No factory has this name.
    #[error("no factory {name:?}; the factories are: {}", .known.join(", "))]
    UnknownFactory {
        /// The name asked for.
        name: String,
        /// The registered names.
        known: Vec<String>,
    },
    /// A configuration that does not validate.
    #[error("{factory} configuration: {detail}")]
    InvalidConfig {
        /// The factory.
        factory: String,
        /// What is wrong, naming the field and line where known.
        detail: String,
    },
    /// A node cannot be made, or configured again, at this path.
    #[error("{path}: {detail}")]
    Mknod {
        /// Where.
        path: String,
        /// Why not.
        detail: String,
    },
    /// The pond, or the node's table, failed (a query over an unknown table, say).
    #[error(transparent)]
    Table(#[from] pond_sql::Error),
}

impl From<tinyfs::Error> for Error {
    fn from(e: tinyfs::Error) -> Self {
        Error::Table(e.into())
    }
}

impl From<Error> for tinyfs::Error {
    fn from(e: Error) -> Self {
        tinyfs::Error::InvalidConfig {
            path: String::new(),
            detail: e.to_string(),
        }
    }
}

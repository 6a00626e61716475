//! The pond-sql error type.

/// A pond-sql result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong reading or writing a pond file as a table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A filesystem error.
    #[error(transparent)]
    Fs(#[from] tinyfs::Error),
    /// The input is not what the operation needs (a CSV that does not parse, a series
    /// without a timestamp column, a file that is not a table).
    #[error("{path}: {detail}")]
    InvalidInput {
        /// The file.
        path: String,
        /// What is wrong, and what to do.
        detail: String,
    },
    /// Versions of a series whose schemas cannot be merged.
    #[error(
        "{path}: version {version}: column {column:?} is {found}, but earlier versions have {expected}"
    )]
    SchemaMismatch {
        /// The series.
        path: String,
        /// The version that disagrees.
        version: u64,
        /// The column.
        column: String,
        /// Its type there.
        found: String,
        /// Its type before.
        expected: String,
    },
    /// Planning or running a query failed. Displays the root cause, without DataFusion's
    /// category prefixes; a pond error raised inside a query shows as itself.
    #[error("{}", sql_message(.0))]
    Sql(datafusion::error::DataFusionError),
    /// A query that cannot be planned, with what to do about it.
    #[error("{message} (hint: {hint})")]
    Query {
        /// Why it cannot be planned.
        message: String,
        /// What was probably meant.
        hint: String,
    },
    /// DataFusion failed on a file.
    #[error("{path}: {source}")]
    DataFusion {
        /// The file.
        path: String,
        /// DataFusion's error.
        source: datafusion::error::DataFusionError,
    },
    /// Parquet reading or writing failed.
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: String,
        /// The Parquet error.
        source: parquet::errors::ParquetError,
    },
    /// Arrow failed.
    #[error("{path}: {source}")]
    Arrow {
        /// The file.
        path: String,
        /// The Arrow error.
        source: arrow::error::ArrowError,
    },
    /// A time window asked of a table that has no timestamp column.
    #[error("{path}: a time window needs a series with a timestamp column; this is a {entry_type}")]
    NoTimeColumn {
        /// The table.
        path: String,
        /// What it is.
        entry_type: tinyfs::EntryType,
    },
    /// A host file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The host path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Error::Sql(e)
    }
}

/// The root cause of `e` as one line: a pond error as itself, a syntax error as the
/// parser's words (not its debug form), anything else without DataFusion's prefixes.
pub(crate) fn sql_message(e: &datafusion::error::DataFusionError) -> String {
    use datafusion::error::DataFusionError;
    use datafusion::sql::sqlparser::parser::ParserError;
    let text = match e.find_root() {
        DataFusionError::External(inner) => match inner.downcast_ref::<Error>() {
            Some(ours) => ours.to_string(),
            None => inner.to_string(),
        },
        DataFusionError::SQL(parse, _) => match parse.as_ref() {
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => {
                format!("SQL syntax: {m}")
            }
            ParserError::RecursionLimitExceeded => "SQL syntax: the query nests too deeply".into(),
        },
        other => other.message().to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Error {
    /// The shared kind of this error.
    pub fn kind(&self) -> tinyfs::ErrorKind {
        match self {
            Error::Fs(e) => e.kind(),
            Error::InvalidInput { .. } => tinyfs::ErrorKind::InvalidConfig,
            Error::NoTimeColumn { .. } => tinyfs::ErrorKind::Unsupported,
            Error::SchemaMismatch { .. } | Error::Parquet { .. } | Error::Arrow { .. } => {
                tinyfs::ErrorKind::InvalidData
            }
            // A pond error a query met keeps its kind (a damaged body is Corrupt).
            Error::Sql(e) | Error::DataFusion { source: e, .. } => match e.find_root() {
                datafusion::error::DataFusionError::External(inner) => {
                    if let Some(ours) = inner.downcast_ref::<Error>() {
                        ours.kind()
                    } else if let Some(fs) = inner.downcast_ref::<tinyfs::Error>() {
                        fs.kind()
                    } else {
                        tinyfs::ErrorKind::InvalidConfig
                    }
                }
                _ => tinyfs::ErrorKind::InvalidConfig,
            },
            Error::Io { .. } => tinyfs::ErrorKind::Io,
            Error::Query { .. } => tinyfs::ErrorKind::InvalidConfig,
        }
    }

    /// An [`Error::InvalidInput`] for `path`.
    pub fn invalid(path: impl std::fmt::Display, detail: impl std::fmt::Display) -> Self {
        Error::InvalidInput {
            path: path.to_string(),
            detail: detail.to_string(),
        }
    }
}

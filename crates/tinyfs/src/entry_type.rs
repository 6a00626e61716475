//! What kind of thing a directory entry is.

use std::fmt;
use std::str::FromStr;

/// The type of a node, as stored and as shown by `pond list -l`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryType {
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A file of bytes.
    FileData,
    /// A Parquet file; its latest version is the table.
    FileTable,
    /// A Parquet file; all its versions together are the table.
    FileSeries,
}

impl EntryType {
    /// Every entry type, in display order.
    pub const ALL: [EntryType; 5] = [
        EntryType::Directory,
        EntryType::Symlink,
        EntryType::FileData,
        EntryType::FileTable,
        EntryType::FileSeries,
    ];

    /// The stored name: `directory`, `symlink`, `file:data`, `file:table`, `file:series`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryType::Directory => "directory",
            EntryType::Symlink => "symlink",
            EntryType::FileData => "file:data",
            EntryType::FileTable => "file:table",
            EntryType::FileSeries => "file:series",
        }
    }

    /// Whether this is one of the file types.
    pub const fn is_file(self) -> bool {
        matches!(
            self,
            EntryType::FileData | EntryType::FileTable | EntryType::FileSeries
        )
    }

    /// Whether the file's body is Parquet that can be read as a table.
    pub const fn is_table(self) -> bool {
        matches!(self, EntryType::FileTable | EntryType::FileSeries)
    }
}

impl fmt::Display for EntryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for EntryType {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntryType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| crate::Error::internal(format!("unknown entry type {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in EntryType::ALL {
            assert_eq!(t.as_str().parse::<EntryType>().unwrap(), t);
        }
        assert!("file".parse::<EntryType>().is_err());
    }
}

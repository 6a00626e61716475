//! Where a factory's cache lives: the directory given (`<pond>/cache/<factory>/`), or a
//! temporary one made on first use and removed with the process.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A cache's directory.
#[derive(Debug)]
pub(crate) struct CacheDir {
    given: Option<PathBuf>,
    scratch: Mutex<Option<tempfile::TempDir>>,
}

impl CacheDir {
    /// `given`, or a temporary directory when `None`.
    pub(crate) fn new(given: Option<PathBuf>) -> Self {
        CacheDir {
            given,
            scratch: Mutex::new(None),
        }
    }

    /// The directory given, if one was: what outlives the process, and may be swept.
    pub(crate) fn given(&self) -> Option<&Path> {
        self.given.as_deref()
    }

    /// The directory, the temporary one made if none was given.
    pub(crate) fn path(&self) -> pond_sql::Result<PathBuf> {
        if let Some(dir) = &self.given {
            return Ok(dir.clone());
        }
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        if scratch.is_none() {
            *scratch = Some(tempfile::tempdir().map_err(|source| pond_sql::Error::Io {
                path: "a temporary cache directory".into(),
                source,
            })?);
        }
        Ok(scratch.as_ref().expect("set above").path().to_path_buf())
    }
}

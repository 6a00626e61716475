//! Putting paths back as an earlier pond version had them: what `pond revert` and
//! `pond restore` do, one path at a time, as new changes in the open transaction.
//!
//! History is never rewritten. A path that did not exist then is removed; one that was
//! removed is linked back with its history (a dynamic node is made again from its
//! configuration then); a file that changed gets its body then as a new version; a series
//! gets a version that names the versions it was made of then
//! ([`tinyfs::FileVersion::members`]), so the versions appended since stay readable as
//! `@vN` and `--as-of` but are no longer part of the series.

use std::fmt;

use tinyfs::{EntryType, Node, NodeKind, VersionSet, WD, series_members};

use crate::error::{Error, Result};
use crate::import::existing_series;
use crate::parquet_writer::{series_writer_properties, write_parquet, writer_properties};

/// What putting one path back did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restored {
    /// Nothing: it was already as it was then.
    Unchanged,
    /// It did not exist then, so it was removed (with everything below it).
    Removed,
    /// It existed then and not now (or now as another node): linked back, with its
    /// history, or made again from its configuration.
    Linked,
    /// A file or a dynamic node's configuration: its content then, as version `version`.
    Rewritten {
        /// The new version.
        version: u64,
    },
    /// A series: version `version` makes it the versions `members` again.
    Reset {
        /// The new version.
        version: u64,
        /// The versions that make up the series again.
        members: VersionSet,
    },
}

impl fmt::Display for Restored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Restored::Unchanged => f.write_str("unchanged"),
            Restored::Removed => f.write_str("removed"),
            Restored::Linked => f.write_str("put back"),
            Restored::Rewritten { version } => write!(f, "put back as v{version}"),
            Restored::Reset { version, members } => {
                write!(f, "put back as v{version} (the series is v{members} again)")
            }
        }
    }
}

/// Puts `path` in `now` (the root of an open transaction) back as `then` (the pond at an
/// earlier version) has it.
pub async fn restore_path(now: &WD, then: &WD, path: &str) -> Result<Restored> {
    let (was, is) = (then.get_entry(path).await?, now.get_entry(path).await?);
    match (was, is) {
        (None, None) => Ok(Restored::Unchanged),
        (None, Some(_)) => {
            now.remove(path, true).await?;
            Ok(Restored::Removed)
        }
        (Some(was), None) => {
            put_back(now, then, path, &was).await?;
            Ok(Restored::Linked)
        }
        (Some(was), Some(is))
            if was.id() == is.id()
                && was.entry_type() == is.entry_type()
                && was.factory() == is.factory() =>
        {
            rewrite(now, then, path, &was).await
        }
        (Some(was), Some(_)) => {
            now.remove(path, true).await?;
            put_back(now, then, path, &was).await?;
            Ok(Restored::Linked)
        }
    }
}

/// Puts back at `path` in `now` the node `was` that `then` has there.
async fn put_back(now: &WD, then: &WD, path: &str, was: &Node) -> Result<()> {
    match was.factory() {
        Some(factory) => {
            let config = then
                .dynamic_config(path)
                .await?
                .ok_or_else(|| tinyfs::Error::internal(format!("{path}: no configuration")))?;
            now.create_dynamic(path, was.entry_type(), factory, &config.config)
                .await?;
        }
        None => now.link(path, was).await?,
    }
    Ok(())
}

/// Makes the node at `path`, the same node in `now` as in `then`, hold what it held then.
async fn rewrite(now: &WD, then: &WD, path: &str, was: &Node) -> Result<Restored> {
    if was.factory().is_some() {
        let (Some(old), Some(new)) = (
            then.dynamic_config(path).await?,
            now.dynamic_config(path).await?,
        ) else {
            return Ok(Restored::Unchanged);
        };
        if old.config == new.config {
            return Ok(Restored::Unchanged);
        }
        now.update_dynamic(path, &old.config).await?;
        return Ok(Restored::Rewritten {
            version: new.version + 1,
        });
    }
    let NodeKind::File(_) = was.kind() else {
        // A directory's entries are paths of their own; a symlink's target never changes.
        return Ok(Restored::Unchanged);
    };
    let (old, new) = (then.versions(path).await?, now.versions(path).await?);
    if was.entry_type() == EntryType::FileSeries {
        let members = series_members(&old);
        if members == series_members(&new) {
            return Ok(Restored::Unchanged);
        }
        let version = reset_series(now, then, path, members.clone()).await?;
        return Ok(Restored::Reset { version, members });
    }
    let (Some(old), Some(new)) = (old.last(), new.last()) else {
        return Err(tinyfs::Error::internal(format!("{path}: a file without versions")).into());
    };
    if old.blake3 == new.blake3 {
        return Ok(Restored::Unchanged);
    }
    let at = format!("{path}@v{}", old.version);
    let io = |source| Error::Io {
        path: at.clone(),
        source,
    };
    let mut reader = then.open(at.as_str()).await?;
    let mut writer = now.file_writer(path, was.entry_type()).await?;
    if let Some(rows) = old.rows {
        writer.set_rows(rows);
    }
    tokio::io::copy(&mut reader, &mut writer)
        .await
        .map_err(io)?;
    tokio::io::AsyncWriteExt::flush(&mut writer)
        .await
        .map_err(io)?;
    Ok(Restored::Rewritten {
        version: writer.finish().await?.version,
    })
}

/// Appends to the series at `path` a version that makes it `members` again: no rows, in
/// the schema the series had in `then`.
async fn reset_series(now: &WD, then: &WD, path: &str, members: VersionSet) -> Result<u64> {
    let Some(series) = existing_series(then, path).await? else {
        return Err(tinyfs::Error::internal(format!("{path}: a series without members")).into());
    };
    let properties = match &series.column {
        Some(column) => series_writer_properties(&series.schema, column)?,
        None => writer_properties(),
    };
    let mut writer = now.file_writer(path, EntryType::FileSeries).await?;
    writer.set_members(members);
    writer.set_rows(0);
    let no_batches = futures::stream::empty::<Result<arrow::array::RecordBatch>>();
    write_parquet(&mut writer, series.schema, properties, no_batches, path).await?;
    Ok(writer.finish().await?.version)
}

/// Puts every path in `paths` back as `then` has it, in order, in the transaction whose
/// root is `now`: how a commit is undone (`then` is the pond before it, `paths` what it
/// changed). Paths already as they were are left out of the result.
pub async fn restore_paths(
    now: &WD,
    then: &WD,
    paths: &[String],
) -> Result<Vec<(String, Restored)>> {
    let mut out = Vec::new();
    for path in paths {
        match restore_path(now, then, path).await? {
            Restored::Unchanged => {}
            done => out.push((path.clone(), done)),
        }
    }
    Ok(out)
}

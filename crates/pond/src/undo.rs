//! The undo commands: revert, restore.

use std::io::Write;

use anyhow::{Result, bail};
use pond_sql::Restored;
use tinyfs::WD;

use crate::Ctx;

/// Undoes the commit of pond version `n` with a new commit.
pub(crate) async fn revert(ctx: &Ctx, n: u64) -> Result<()> {
    let pond = ctx.read(None).await?;
    let tlogfs::LogEntry { paths, command, .. } = pond.revert_paths(n).await?;
    let before = ctx.read(Some(crate::AsOf::Version(n - 1))).await?;
    let then = before.fs().root();
    let checked = pond.version();
    let (done, version) = ctx
        .write(async |root: &WD| {
            // The later commits were checked up to `checked`: one since could be undone.
            let base = root.fs().version().await?;
            if base != checked {
                bail!(
                    "the pond changed while reverting (pond version {base} was committed): nothing was changed, run the revert again"
                );
            }
            Ok(pond_sql::restore_paths(root, &then, &paths).await?)
        })
        .await?;
    let mut out = ctx.report();
    match version {
        Some(v) => writeln!(
            out,
            "reverted pond version {n} (`{command}`) in pond version {v}"
        )?,
        None => writeln!(
            out,
            "pond version {n} (`{command}`) is undone already: nothing changed"
        )?,
    }
    for (path, what) in done {
        writeln!(out, "  {path}: {what}")?;
    }
    Ok(())
}

/// Brings `path` back as it was at pond version `as_of`, with a new commit.
pub(crate) async fn restore(ctx: &Ctx, path: &str, as_of: u64) -> Result<()> {
    let parsed = tinyfs::Path::parse(path)?;
    if let Some(v) = parsed.version() {
        bail!(
            "{path}: name the path without @v{v}, and the pond version to restore from with --as-of"
        );
    }
    let earlier = ctx.read(Some(crate::AsOf::Version(as_of))).await?;
    let then = earlier.fs().root();
    if then.get_entry(path).await?.is_none() {
        bail!("{path}: did not exist at pond version {as_of}");
    }
    let (what, version) = ctx
        .write(async |root: &WD| Ok(pond_sql::restore_path(root, &then, path).await?))
        .await?;
    let mut out = ctx.report();
    match (what, version) {
        (Restored::Unchanged, _) | (_, None) => writeln!(
            out,
            "{path} is as it was at pond version {as_of} already: nothing changed"
        )?,
        (what, Some(v)) => writeln!(
            out,
            "restored {path} as of pond version {as_of} in pond version {v}: {what}"
        )?,
    }
    Ok(())
}

//! The filesystem commands: mkdir, rm, mv, ln.

use anyhow::{Result, bail};
use tinyfs::{NodeKind, WD};

use crate::Ctx;
use crate::output::has_wildcards;

pub(crate) async fn mkdir(ctx: &Ctx, parents: bool, paths: &[String]) -> Result<()> {
    ctx.write(async |root: &WD| {
        for path in paths {
            if parents {
                root.create_dir_all(path.as_str()).await?;
            } else {
                root.create_dir(path.as_str()).await?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// The paths `args` name: each glob expanded (it must match something), others as given.
pub(crate) async fn expand(root: &WD, args: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for arg in args {
        if has_wildcards(arg) {
            let matches = root.glob(arg).await?;
            if matches.is_empty() {
                bail!("{arg}: no match");
            }
            out.extend(matches.into_iter().map(|m| m.path));
        } else {
            out.push(arg.clone());
        }
    }
    Ok(out)
}

pub(crate) async fn rm(ctx: &Ctx, recursive: bool, paths: &[String]) -> Result<()> {
    ctx.write(async |root: &WD| {
        for path in expand(root, paths).await? {
            root.remove(path.as_str(), recursive).await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

pub(crate) async fn mv(ctx: &Ctx, src: &str, dest: &str) -> Result<()> {
    ctx.write(async |root: &WD| {
        let into_dir = matches!(
            root.get(dest).await?.as_ref().map(|n| n.kind()),
            Some(NodeKind::Directory(_))
        );
        if into_dir {
            let name = tinyfs::Path::parse(src)?
                .file_name()
                .map(String::from)
                .ok_or_else(|| anyhow::anyhow!("{src}: cannot move '/', '.' or '..'"))?;
            let target = format!("{}/{name}", dest.trim_end_matches('/'));
            root.rename(src, target.as_str()).await?;
        } else {
            root.rename(src, dest).await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

pub(crate) async fn ln(ctx: &Ctx, target: &str, path: &str) -> Result<()> {
    ctx.write(async |root: &WD| Ok(root.symlink(target, path).await?))
        .await?;
    Ok(())
}

pub(crate) async fn mknod(
    ctx: &Ctx,
    factory: &str,
    path: &str,
    config: &std::path::Path,
    overwrite: bool,
) -> Result<()> {
    use anyhow::Context;
    let bytes = crate::read_input(config)?;
    let registry = pond_factories::Registry::builtin(None);
    // Validate before anything is written: the error names the field and its line.
    let entry_type = registry
        .validate(factory, &bytes)
        .with_context(|| format!("{path}: {}", config.display()))?;
    let done = ctx
        .write(async |root: &WD| {
            registry
                .mknod(root, factory, path, &bytes, overwrite)
                .await?;
            Ok(())
        })
        .await?;
    use std::io::Write;
    let what = if overwrite { "configured" } else { "made" };
    if let ((), Some(v)) = done {
        writeln!(
            ctx.report(),
            "{what} {path} ({factory}, a {entry_type}) in pond version {v}"
        )?;
    }
    Ok(())
}

/// A factory as `factories --format` shows it.
#[derive(Debug, serde::Serialize)]
struct FactoryRecord {
    name: &'static str,
    #[serde(rename = "type")]
    entry_type: String,
    description: &'static str,
    example: &'static str,
}

pub(crate) fn factories(format: Option<crate::OutputFormat>) -> Result<()> {
    use std::io::Write;
    let registry = pond_factories::Registry::builtin(None);
    if let Some(format) = format.filter(|f| *f != crate::OutputFormat::Table) {
        let records: Vec<FactoryRecord> = registry
            .factories()
            .map(|f| FactoryRecord {
                name: f.name(),
                entry_type: f.entry_type().to_string(),
                description: f.description(),
                example: f.example(),
            })
            .collect();
        return crate::output::print_records(&records, format);
    }
    let mut out = std::io::stdout().lock();
    for factory in registry.factories() {
        writeln!(
            out,
            "{} ({}): {}",
            factory.name(),
            factory.entry_type(),
            factory.description()
        )?;
        for line in factory.example().lines() {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}

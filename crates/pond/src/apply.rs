//! `apply`: make the pond what a YAML file describes.
//!
//! The file holds one resource a document (documents are separated by `---`):
//!
//! | `kind` | fields | the pond has |
//! |---|---|---|
//! | `mkdir` | `path` | a directory (its parents made as needed) |
//! | `mknod` | `path`, `factory`, `config` | a dynamic node of that factory and configuration |
//! | `symlink` | `path`, `target` | a symbolic link to `target` |
//! | `sync` | `path`, `source`, and `format`, `glob` and the CSV settings of `pond sync` | the host directory `source` synced into `path` |
//!
//! Each resource is compared with the pond, documents in order, and only what differs is
//! changed, all in one commit: a second apply finds nothing to do and makes no commit. A
//! file with an error in any document changes nothing, and the error names the document
//! and field. `--prune` also removes the dynamic nodes, symlinks and empty directories no
//! document names; stored files are never pruned, nor anything below a sync's path.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use pond_factories::Registry;
use serde::Deserialize;
use serde_yaml_ng::Value;
use tinyfs::{NodeKind, WD};

use crate::{CopyFormat, Ctx, ReadArgs};

/// One document: a resource and where it was written.
struct Doc {
    /// `document N (kind PATH)`, as errors name it.
    at: String,
    resource: Resource,
}

enum Resource {
    Mkdir {
        path: String,
    },
    Mknod {
        path: String,
        factory: String,
        config: Value,
        /// `config` as the factory reads it (YAML text).
        bytes: Vec<u8>,
    },
    Symlink {
        path: String,
        target: String,
    },
    Sync {
        path: String,
        source: PathBuf,
        options: pond_sql::SyncOptions,
    },
}

impl Resource {
    fn path(&self) -> &str {
        match self {
            Resource::Mkdir { path }
            | Resource::Mknod { path, .. }
            | Resource::Symlink { path, .. }
            | Resource::Sync { path, .. } => path,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MkdirDoc {
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MknodDoc {
    path: String,
    factory: String,
    config: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SymlinkDoc {
    path: String,
    target: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncDoc {
    path: String,
    source: PathBuf,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    glob: Option<String>,
    #[serde(default)]
    timestamp_column: Option<String>,
    #[serde(default)]
    timestamp_format: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    delimiter: Option<String>,
    #[serde(default)]
    decimal: Option<String>,
    #[serde(default)]
    null_values: Vec<String>,
    #[serde(default)]
    input_format: Option<String>,
    #[serde(default)]
    nested: Option<String>,
    #[serde(default)]
    sheet: Option<String>,
    #[serde(default)]
    header_row: Option<u32>,
}

const KINDS: &str = "mkdir, mknod, symlink or sync";

/// The documents of `text`, read from `file` (host paths in them are relative to its
/// directory), each checked: nothing is applied unless every one is right.
fn parse(text: &str, file: &Path, registry: &Registry) -> Result<Vec<Doc>> {
    let base = match file.as_os_str() == "-" {
        true => PathBuf::from("."),
        false => file.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let mut docs: Vec<Doc> = Vec::new();
    for (i, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let n = i + 1;
        let value = Value::deserialize(document).map_err(|e| anyhow!("document {n}: {e}"))?;
        let mut map = match value {
            Value::Null => continue,
            Value::Mapping(map) => map,
            _ => bail!("document {n}: not a mapping of fields (kind: {KINDS}, path: ...)"),
        };
        let kind = match map.remove("kind") {
            Some(Value::String(kind)) => kind,
            Some(_) => bail!("document {n}: kind: not a name ({KINDS})"),
            None => bail!("document {n}: no `kind` field ({KINDS})"),
        };
        let fields = Value::Mapping(map);
        let (path, resource) = match kind.as_str() {
            "mkdir" => {
                let d: MkdirDoc = fields_of(fields, n, &kind)?;
                (d.path.clone(), Resource::Mkdir { path: d.path })
            }
            "mknod" => {
                let d: MknodDoc = fields_of(fields, n, &kind)?;
                let at = format!("document {n} (mknod {})", d.path);
                let bytes = serde_yaml_ng::to_string(&d.config)?.into_bytes();
                registry
                    .validate(&d.factory, &bytes)
                    .with_context(|| format!("{at}: config"))?;
                (
                    d.path.clone(),
                    Resource::Mknod {
                        path: d.path,
                        factory: d.factory,
                        config: d.config,
                        bytes,
                    },
                )
            }
            "symlink" => {
                let d: SymlinkDoc = fields_of(fields, n, &kind)?;
                (
                    d.path.clone(),
                    Resource::Symlink {
                        path: d.path,
                        target: d.target,
                    },
                )
            }
            "sync" => {
                let d: SyncDoc = fields_of(fields, n, &kind)?;
                let at = format!("document {n} (sync {})", d.path);
                let path = d.path.clone();
                let source = base.join(&d.source);
                if !source.is_dir() {
                    bail!("{at}: source: {}: no such directory", source.display());
                }
                let options = sync_options(d).with_context(|| at.clone())?;
                (
                    path.clone(),
                    Resource::Sync {
                        path,
                        source,
                        options,
                    },
                )
            }
            other => bail!("document {n}: kind: unknown kind {other:?} ({KINDS})"),
        };
        let at = format!("document {n} ({kind} {path})");
        let parsed = tinyfs::Path::parse(&path).with_context(|| format!("{at}: path"))?;
        if !parsed.is_absolute() {
            bail!("{at}: path: {path:?} is not absolute (it starts at /)");
        }
        if let Some(earlier) = docs.iter().find(|d| d.resource.path() == path) {
            bail!("{at}: path: {} names it too", earlier.at);
        }
        docs.push(Doc { at, resource });
    }
    Ok(docs)
}

/// A document's fields as `T`: an unknown, missing or mistyped field is named.
fn fields_of<T: serde::de::DeserializeOwned>(fields: Value, n: usize, kind: &str) -> Result<T> {
    let path = match &fields {
        Value::Mapping(map) => map.get("path").and_then(Value::as_str).map(String::from),
        _ => None,
    };
    serde_yaml_ng::from_value(fields).map_err(|e| match path {
        Some(path) => anyhow!("document {n} ({kind} {path}): {e}"),
        None => anyhow!("document {n} ({kind}): {e}"),
    })
}

fn sync_options(d: SyncDoc) -> Result<pond_sql::SyncOptions> {
    let format = match d.format.as_deref() {
        None | Some("data") => CopyFormat::Data,
        Some("table") => CopyFormat::Table,
        Some("series") => CopyFormat::Series,
        Some(other) => bail!("format: {other:?} is not data, table or series"),
    };
    let read = ReadArgs {
        input_format: match d.input_format.as_deref() {
            Some(text) => {
                Some(pond_sql::FileFormat::parse(text).map_err(|e| anyhow!("input_format: {e}"))?)
            }
            None => None,
        },
        nested: match d.nested.as_deref() {
            Some(text) => Some(pond_sql::Nested::parse(text).map_err(|e| anyhow!("nested: {e}"))?),
            None => None,
        },
        sheet: d.sheet,
        header_row: d.header_row,
        timestamp_column: d.timestamp_column,
        timestamp_format: d.timestamp_format,
        decimal: match d.decimal {
            Some(text) => crate::parse_decimal(&text).map_err(|e| anyhow!("decimal: {e}"))?,
            None => b'.',
        },
        timezone: d.timezone,
        delimiter: match d.delimiter {
            Some(text) => crate::parse_delimiter(&text).map_err(|e| anyhow!("delimiter: {e}"))?,
            None => b',',
        },
        null_values: d.null_values,
    };
    let (timestamp_column, read) = read.options()?;
    crate::sync::options(format, d.glob.as_deref(), timestamp_column, read)
}

/// What applying did, or would do.
#[derive(Default)]
struct Applied {
    lines: Vec<String>,
    failures: Vec<String>,
    series: Vec<String>,
}

impl Applied {
    fn say(&mut self, dry_run: bool, done: String, would: String) {
        self.lines.push(if dry_run { would } else { done });
    }
}

/// Applies `docs` in the transaction whose root is `root`.
async fn apply_docs(
    root: &WD,
    registry: &Registry,
    docs: &[Doc],
    prune: bool,
    dry_run: bool,
    progress: bool,
) -> Result<Applied> {
    let mut out = Applied::default();
    for doc in docs {
        let at = doc.at.as_str();
        match &doc.resource {
            Resource::Mkdir { path } => match root.get_entry(path.as_str()).await? {
                Some(node) if matches!(node.kind(), NodeKind::Directory(_)) => {}
                Some(node) => bail!("{at}: path: {path} exists and is a {}", node.entry_type()),
                None => {
                    root.create_dir_all(path.as_str()).await?;
                    out.say(
                        dry_run,
                        format!("made directory {path}"),
                        format!("would make directory {path}"),
                    );
                }
            },
            Resource::Mknod {
                path,
                factory,
                config,
                bytes,
            } => {
                let existing = root.get_entry(path.as_str()).await?;
                let overwrite = match existing.as_ref().map(|n| n.factory()) {
                    None => false,
                    Some(None) => bail!("{at}: path: {path} exists and is not a dynamic node"),
                    Some(Some(found)) if found != factory => bail!(
                        "{at}: factory: {path} is a {found} node, not {factory} (rm it, then apply)"
                    ),
                    Some(Some(_)) => {
                        let stored = root
                            .dynamic_config(path.as_str())
                            .await?
                            .map(|c| c.config)
                            .unwrap_or_default();
                        let same = serde_yaml_ng::from_slice::<Value>(&stored)
                            .is_ok_and(|stored| stored == *config);
                        if same {
                            continue;
                        }
                        true
                    }
                };
                if !overwrite {
                    make_parent(root, path, dry_run, &mut out).await?;
                }
                registry
                    .mknod(root, factory, path, bytes, overwrite)
                    .await
                    .with_context(|| at.to_string())?;
                match overwrite {
                    true => out.say(
                        dry_run,
                        format!("configured {path} ({factory}): a new configuration"),
                        format!("would configure {path} ({factory}): a new configuration"),
                    ),
                    false => out.say(
                        dry_run,
                        format!("made {path} ({factory})"),
                        format!("would make {path} ({factory})"),
                    ),
                }
            }
            Resource::Symlink { path, target } => {
                match root.get_entry(path.as_str()).await? {
                    Some(node) if node.as_symlink().is_some() => {
                        if root.readlink(path.as_str()).await? == *target {
                            continue;
                        }
                        root.remove(path.as_str(), false).await?;
                    }
                    Some(node) => {
                        bail!("{at}: path: {path} exists and is a {}", node.entry_type())
                    }
                    None => make_parent(root, path, dry_run, &mut out).await?,
                }
                root.symlink(target, path.as_str()).await?;
                out.say(
                    dry_run,
                    format!("linked {path} -> {target}"),
                    format!("would link {path} -> {target}"),
                );
            }
            Resource::Sync {
                path,
                source,
                options,
            } => {
                let mode = match dry_run {
                    true => crate::sync::Mode::Rehearse,
                    false => crate::sync::Mode::Do,
                };
                let report = crate::sync::run(root, options, source, path, mode, progress)
                    .await
                    .with_context(|| at.to_string())?;
                out.lines.extend(report.lines);
                out.failures.extend(report.failures);
                out.series.extend(report.series);
            }
        }
    }
    if prune {
        for path in prunable(root, docs).await? {
            root.remove(path.as_str(), true).await?;
            out.say(
                dry_run,
                format!("removed {path} (no document names it)"),
                format!("would remove {path} (no document names it)"),
            );
        }
    }
    Ok(out)
}

/// Makes the parent of `path` if it is missing, and says so.
async fn make_parent(root: &WD, path: &str, dry_run: bool, out: &mut Applied) -> Result<()> {
    let Some((parent, _)) = path.rsplit_once('/').filter(|(p, _)| !p.is_empty()) else {
        return Ok(());
    };
    if root.get_entry(parent).await?.is_none() {
        root.create_dir_all(parent).await?;
        out.say(
            dry_run,
            format!("made directory {parent}"),
            format!("would make directory {parent}"),
        );
    }
    Ok(())
}

/// What `--prune` removes, deepest first: dynamic nodes, symlinks, and directories left
/// empty, that no document names, above no path one names, and not below a sync's path.
async fn prunable(root: &WD, docs: &[Doc]) -> Result<Vec<String>> {
    let mut named = BTreeSet::new();
    let mut synced = Vec::new();
    for doc in docs {
        let path = doc.resource.path().trim_end_matches('/').to_string();
        let mut above = path.as_str();
        while let Some((parent, _)) = above.rsplit_once('/') {
            named.insert(if parent.is_empty() { "/" } else { parent }.to_string());
            above = parent;
        }
        if matches!(doc.resource, Resource::Sync { .. }) {
            synced.push(format!("{path}/"));
        }
        named.insert(path);
    }
    let mut removed = Vec::new();
    // Children before parents, so a directory counts as empty once they are gone.
    let matches = root.glob("/**").await?;
    let mut kept_below: BTreeSet<String> = BTreeSet::new();
    for m in matches.iter().rev() {
        let path = &m.path;
        let parent = match path.rsplit_once('/') {
            Some(("", _)) => "/".to_string(),
            Some((p, _)) => p.to_string(),
            None => "/".to_string(),
        };
        let keep = named.contains(path)
            || synced.iter().any(|s| path.starts_with(s.as_str()))
            || match m.node.kind() {
                _ if m.node.factory().is_some() => false,
                NodeKind::Symlink(_) => false,
                NodeKind::Directory(_) => kept_below.contains(path),
                NodeKind::File(_) => true,
            };
        if keep {
            kept_below.insert(parent);
        } else {
            removed.push(path.clone());
        }
    }
    Ok(removed)
}

/// `pond apply`. Returns whether every host file of every sync was synced.
pub(crate) async fn apply(ctx: &Ctx, file: &Path, dry_run: bool, prune: bool) -> Result<bool> {
    let text = String::from_utf8(crate::read_input(file)?)
        .map_err(|_| anyhow!("{}: not UTF-8 text", file.display()))?;
    let shown = match file.as_os_str() == "-" {
        true => "standard input".to_string(),
        false => file.display().to_string(),
    };
    let registry = Registry::builtin(None);
    let docs = parse(&text, file, &registry).with_context(|| shown.clone())?;
    let progress = ctx.shows_progress();
    let (applied, version) = ctx
        .change(!dry_run, async |root: &WD| {
            apply_docs(root, &registry, &docs, prune, dry_run, progress)
                .await
                .with_context(|| shown.clone())
        })
        .await?;
    let mut out = ctx.report();
    for line in &applied.lines {
        writeln!(out, "{line}")?;
    }
    for failure in &applied.failures {
        eprintln!("error: apply: {shown}: sync: {failure}");
    }
    if applied.lines.is_empty() {
        writeln!(
            out,
            "nothing to change: the pond is as {shown} describes it"
        )?;
    } else if dry_run {
        writeln!(out, "dry run: nothing was changed")?;
    }
    if let Some(v) = version {
        writeln!(out, "committed pond version {v}")?;
    }
    drop(out);
    if version.is_some() {
        for series in &applied.series {
            crate::copy::compact(ctx, series).await?;
        }
    }
    Ok(applied.failures.is_empty())
}

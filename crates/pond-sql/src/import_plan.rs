//! Which host files an import copies, and to which pond paths: what `pond copy SRC... DEST`
//! (and `-r`) plans before it imports anything.

use std::path::PathBuf;

use tinyfs::{NodeKind, WD};

use crate::error::{Error, Result};

/// One host file to import, and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportJob {
    /// The host file; `None` for standard input.
    pub source: Option<PathBuf>,
    /// The source as messages name it.
    pub shown: String,
    /// The pond path it goes to.
    pub dest: String,
}

/// What [`import_plan`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// The files to import, in order.
    pub jobs: Vec<ImportJob>,
    /// What a recursive walk passed over: neither a regular file nor a directory.
    pub skipped: Vec<PathBuf>,
}

/// The imports of `sources` (host paths, `-` for standard input) into `dest`: into the
/// directory `dest` when it is one (each source under its own name), else to `dest` itself
/// (one source only). A host directory needs `recursive`; its pond directories are made
/// in `root` (a transaction's root) as the walk finds them, in name order.
pub async fn import_plan(
    root: &WD,
    sources: &[String],
    dest: &str,
    recursive: bool,
) -> Result<ImportPlan> {
    let dest_is_dir = matches!(
        root.get(dest).await?.as_ref().map(|n| n.kind()),
        Some(NodeKind::Directory(_))
    );
    if sources.len() > 1 && !dest_is_dir {
        return Err(Error::invalid(
            dest,
            "not a directory (copying several sources needs an existing directory)",
        ));
    }
    let mut plan = ImportPlan::default();
    for src in sources {
        plan_source(root, src, dest, dest_is_dir, recursive, &mut plan).await?;
    }
    Ok(plan)
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

fn host_io(path: &std::path::Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Adds the jobs for one source, making pond directories for a recursive copy.
async fn plan_source(
    root: &WD,
    src: &str,
    dest: &str,
    dest_is_dir: bool,
    recursive: bool,
    plan: &mut ImportPlan,
) -> Result<()> {
    if src == "-" {
        if dest_is_dir {
            return Err(Error::invalid(
                "-",
                "standard input has no name; give a file path as the destination",
            ));
        }
        plan.jobs.push(ImportJob {
            source: None,
            shown: "standard input".into(),
            dest: dest.to_string(),
        });
        return Ok(());
    }
    let path = PathBuf::from(src);
    let meta = std::fs::metadata(&path).map_err(|source| Error::Io {
        path: src.to_string(),
        source,
    })?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::invalid(src, "no usable file name"))?
        .to_string();
    let target = if dest_is_dir {
        join(dest, &name)
    } else {
        dest.to_string()
    };
    if !meta.is_dir() {
        plan.jobs.push(ImportJob {
            source: Some(path),
            shown: src.to_string(),
            dest: target,
        });
        return Ok(());
    }
    if !recursive {
        return Err(Error::invalid(
            src,
            "is a directory (use -r to copy it and everything in it)",
        ));
    }
    root.create_dir_all(target.as_str()).await?;
    let mut stack = vec![(path, target)];
    while let Some((host, pond)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&host)
            .map_err(host_io(&host))?
            .collect::<std::io::Result<_>>()
            .map_err(host_io(&host))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let at = entry.path();
            let kind = entry.file_type().map_err(host_io(&at))?;
            let Some(name) = entry.file_name().to_str().map(String::from) else {
                return Err(Error::invalid(at.display(), "the name is not UTF-8"));
            };
            let to = join(&pond, &name);
            if kind.is_dir() {
                root.create_dir_all(to.as_str()).await?;
                stack.push((at, to));
            } else if kind.is_file() {
                plan.jobs.push(ImportJob {
                    shown: at.display().to_string(),
                    source: Some(at),
                    dest: to,
                });
            } else {
                plan.skipped.push(at);
            }
        }
    }
    Ok(())
}

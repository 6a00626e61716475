//! Replicas: `remote`, `push`, `pull`, `clone` and `verify --remote` (see
//! [`tlogfs::replica`]).
//!
//! A pond's remotes are names for replica locations, kept in `remotes.json` in the pond
//! directory: local to this copy of the pond, never in its log, so a replica does not carry
//! them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use tlogfs::replica;
use tlogfs::store::Store;

use crate::Ctx;
use crate::output::{bytes, count};

const REMOTES: &str = "remotes.json";

/// The remotes of the pond in `dir`, by name.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Remotes {
    remotes: BTreeMap<String, String>,
}

impl Remotes {
    fn read(dir: &Path) -> Result<Remotes> {
        let path = dir.join(REMOTES);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a list of remotes", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Remotes::default()),
            Err(e) => Err(e).with_context(|| path.display().to_string()),
        }
    }

    fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(REMOTES);
        let staged = dir.join(format!(".{REMOTES}.new"));
        let text = serde_json::to_vec_pretty(self)?;
        std::fs::write(&staged, text)
            .and_then(|()| std::fs::rename(&staged, &path))
            .with_context(|| path.display().to_string())
    }

    /// The remote `name` names, or the only one when `None`.
    fn pick(&self, name: Option<&str>) -> Result<(String, Store)> {
        let (name, url) = match name {
            Some(name) => (
                name,
                self.remotes.get(name).ok_or_else(|| {
                    anyhow!(
                        "no remote named {name:?} ({})",
                        self.known()
                            .unwrap_or_else(|| "add one with `pond remote add NAME URL`".into())
                    )
                })?,
            ),
            None => match self.remotes.iter().collect::<Vec<_>>().as_slice() {
                [(name, url)] => (name.as_str(), *url),
                [] => bail!("no remote: add one with `pond remote add NAME URL`"),
                _ => bail!(
                    "which remote? ({}; name one)",
                    self.known().unwrap_or_default()
                ),
            },
        };
        Ok((name.to_string(), Store::open(url)?))
    }

    fn known(&self) -> Option<String> {
        (!self.remotes.is_empty()).then(|| {
            let names: Vec<&str> = self.remotes.keys().map(String::as_str).collect();
            format!("the remotes are: {}", names.join(", "))
        })
    }
}

/// `pond remote add NAME URL`.
pub(crate) async fn add(ctx: &Ctx, name: &str, url: &str) -> Result<()> {
    let dir = ctx.dir()?;
    // Only a pond has remotes (this also names a mistyped --pond).
    ctx.read(None).await?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        bail!("{name:?}: a remote's name is letters, digits, `-`, `_` and `.`");
    }
    let store = Store::open(url)?;
    let mut remotes = Remotes::read(dir)?;
    if let Some(was) = remotes.remotes.get(name) {
        bail!("{name}: already a remote ({was}); remove it first to change it");
    }
    remotes.remotes.insert(name.to_string(), url.to_string());
    remotes.write(dir)?;
    writeln!(ctx.report(), "added remote {name}: {}", store.url())?;
    Ok(())
}

/// `pond remote remove NAME`.
pub(crate) fn remove(ctx: &Ctx, name: &str) -> Result<()> {
    let dir = ctx.dir()?;
    let mut remotes = Remotes::read(dir)?;
    if remotes.remotes.remove(name).is_none() {
        bail!("no remote named {name:?}");
    }
    remotes.write(dir)?;
    writeln!(
        ctx.report(),
        "removed remote {name} (the replica itself is untouched)"
    )?;
    Ok(())
}

/// `pond remote list`.
pub(crate) fn list(ctx: &Ctx) -> Result<()> {
    let remotes = Remotes::read(ctx.dir()?)?;
    let mut out = std::io::stdout().lock();
    for (name, url) in &remotes.remotes {
        writeln!(out, "{name}\t{url}")?;
    }
    Ok(())
}

fn what(done: &replica::Replicated) -> String {
    let bodies = match done.bodies {
        1 => "1 body".to_string(),
        n => format!("{n} bodies"),
    };
    format!(
        "{}, {}, {bodies}, {}",
        count(done.commits, "commit"),
        count(done.data_files, "log file"),
        bytes(done.bytes)
    )
}

/// The pond versions a copy brought: `pond version 7`, `pond versions 3-7`.
fn versions(done: &replica::Replicated) -> String {
    match done.before.map_or(0, |v| v + 1) {
        first if first == done.after => format!("pond version {first}"),
        first => format!("pond versions {first}-{}", done.after),
    }
}

/// If `a` has every commit of `b` and more, the two versions, as `pond version 9 against 7`.
async fn ahead(a: &Store, b: &Store) -> Result<Option<String>> {
    let (Some(head_a), Some(head_b)) = (replica::head(a).await?, replica::head(b).await?) else {
        return Ok(None);
    };
    if head_a <= head_b || !replica::contains(a, b).await? {
        return Ok(None);
    }
    Ok(Some(format!("pond version {head_a} against {head_b}")))
}

/// Which way a copy goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// This pond to the remote.
    Push,
    /// The remote to this pond.
    Pull,
}

/// `pond push [NAME]` and `pond pull [NAME]`.
pub(crate) async fn copy(ctx: &Ctx, name: Option<&str>, direction: Direction) -> Result<()> {
    let dir = ctx.dir()?;
    let (name, remote) = Remotes::read(dir)?.pick(name)?;
    let local = Store::local(dir);
    let (from, to, via) = match direction {
        Direction::Push => (&local, &remote, format!("to {name}")),
        Direction::Pull => (&remote, &local, format!("from {name}")),
    };
    let mut out = ctx.report();
    if let Some(ahead) = ahead(to, from).await.with_context(|| via.clone())? {
        match direction {
            Direction::Push => writeln!(
                out,
                "{name} is ahead of this pond ({ahead}): nothing to push; `pond pull {name}` brings its commits here"
            )?,
            Direction::Pull => writeln!(
                out,
                "this pond is ahead of {name} ({ahead}): nothing to pull; `pond push {name}` sends its commits there"
            )?,
        }
        return Ok(());
    }
    let done = replica::replicate(from, to)
        .await
        .with_context(|| via.clone())?;
    match (direction, done.before) {
        (Direction::Push, Some(v)) if v == done.after => {
            writeln!(out, "{name} is up to date (pond version {v})")?
        }
        (Direction::Pull, Some(v)) if v == done.after => {
            writeln!(out, "up to date with {name} (pond version {v})")?
        }
        (Direction::Push, _) => {
            writeln!(out, "pushed {} {via} ({})", versions(&done), what(&done))?
        }
        (Direction::Pull, _) => {
            writeln!(out, "pulled {} {via} ({})", versions(&done), what(&done))?
        }
    }
    Ok(())
}

/// `pond clone URL DIR`: a new pond in `dir` with every commit of the one at `url`, which
/// becomes its remote `origin`.
pub(crate) async fn clone(ctx: &Ctx, url: &str, dir: &PathBuf) -> Result<()> {
    let remote = Store::open(url)?;
    let empty = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(e).with_context(|| dir.display().to_string()),
    };
    if !empty {
        bail!("{}: not empty (clone into a new directory)", dir.display());
    }
    std::fs::create_dir_all(dir.join("cache"))
        .and_then(|()| std::fs::create_dir_all(dir.join("content")))
        .with_context(|| dir.display().to_string())?;
    let done = replica::replicate(&remote, &Store::local(dir)).await?;
    let mut remotes = Remotes::default();
    remotes
        .remotes
        .insert("origin".to_string(), url.to_string());
    remotes.write(dir)?;
    writeln!(
        ctx.report(),
        "cloned {url} into {} at pond version {} ({}); its remote `origin` is {url}",
        dir.display(),
        done.after,
        what(&done)
    )?;
    Ok(())
}

/// `pond verify --remote NAME`: whether the replica holds exactly this pond.
pub(crate) async fn verify(ctx: &Ctx, name: &str) -> Result<bool> {
    let dir = ctx.dir()?;
    let (name, remote) = Remotes::read(dir)?.pick(Some(name))?;
    let compared = replica::compare(&Store::local(dir), &remote).await?;
    let mut out = std::io::stdout().lock();
    for problem in &compared.problems {
        writeln!(out, "{problem}")?;
    }
    let (here, there) = compared.versions;
    match there {
        Some(v) if v != here => writeln!(
            out,
            "{name} is at pond version {v}, this pond at {here}: `pond push {name}` or `pond pull {name}`"
        )?,
        None => writeln!(out, "{name} holds no pond: `pond push {name}`")?,
        _ => {}
    }
    if compared.equal() {
        writeln!(
            out,
            "{name} holds this pond: every commit to pond version {here}, {} checked ({})",
            count(compared.objects, "object"),
            bytes(compared.bytes)
        )?;
    } else if !compared.problems.is_empty() {
        writeln!(
            out,
            "{name} differs from this pond: {} of {} objects",
            compared.problems.len(),
            compared.objects
        )?;
    }
    Ok(compared.equal())
}

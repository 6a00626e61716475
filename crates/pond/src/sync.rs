//! `sync`: a host directory's new and changed files into a pond directory (see
//! [`pond_sql::sync_plan`]); also what `apply` runs for a sync document.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use pond_sql::{Change, SyncItem, SyncOptions};
use tinyfs::{EntryType, WD};

use crate::output::{bytes, count};
use crate::{CopyFormat, Ctx};

/// The sync `format` and the rest ask for, checked.
pub(crate) fn options(
    format: CopyFormat,
    glob: Option<&str>,
    timestamp_column: Option<String>,
    read: pond_sql::ReadOptions,
) -> Result<SyncOptions> {
    if timestamp_column.is_some() && format != CopyFormat::Series {
        bail!("--timestamp-column is for --format series");
    }
    if format == CopyFormat::Data && read != pond_sql::ReadOptions::default() {
        bail!(
            "--timezone, --delimiter, --decimal, --null-value, --input-format, --nested, --sheet and --header-row are for --format table and series (data files are copied as bytes)"
        );
    }
    let glob = match glob {
        Some(text) => {
            Some(tinyfs::glob::Pattern::parse(text).map_err(|e| anyhow::anyhow!("--glob: {e}"))?)
        }
        None => None,
    };
    Ok(SyncOptions {
        entry_type: match format {
            CopyFormat::Data => EntryType::FileData,
            CopyFormat::Table => EntryType::FileTable,
            CopyFormat::Series => EntryType::FileSeries,
        },
        glob,
        timestamp_column,
        read,
    })
}

/// What a sync did, or would do.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// One line per file changed (or to change).
    pub(crate) lines: Vec<String>,
    /// `N added, N appended, ...`.
    pub(crate) summary: String,
    /// Host files that could not be synced, each with why; the others were.
    pub(crate) failures: Vec<String>,
    /// The series that took rows, to compact after the commit.
    pub(crate) series: Vec<String>,
}

/// How far a sync goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Plan only, and say what would be done.
    Plan,
    /// Do it, in a transaction that will be rolled back, and say what would be done (what
    /// comes after it in the transaction may need its files).
    Rehearse,
    /// Do it, and say what was done.
    Do,
}

/// Syncs `host_dir` into `pond_dir` in the transaction whose root is `root`, as far as
/// `mode` says. A host file that fails to import is reported and left out; the others are
/// synced.
pub(crate) async fn run(
    root: &WD,
    options: &SyncOptions,
    host_dir: &Path,
    pond_dir: &str,
    mode: Mode,
    progress: bool,
) -> Result<Report> {
    let plan = pond_sql::sync_plan(root, host_dir, pond_dir, options).await?;
    let mut report = Report::default();
    let mut counts = [0usize; 4];
    let todo = plan
        .iter()
        .filter(|i| i.change != Change::Unchanged)
        .count();
    // Shown, as every long task is, through the libraries' progress reporter.
    let bar = (progress && mode != Mode::Plan).then(|| {
        tinyfs::progress::start("syncing", tinyfs::progress::Unit::Files, Some(todo as u64))
    });
    for item in &plan {
        counts[slot(item.change)] += 1;
        if item.change == Change::Unchanged {
            continue;
        }
        if mode == Mode::Plan {
            report.lines.push(planned(item, options.entry_type));
            continue;
        }
        match pond_sql::sync_item(root, item, options, &mut |_, _| {}).await {
            Ok(Some(done)) => {
                report.lines.push(match mode {
                    Mode::Do => synced(item, options.entry_type, &done),
                    _ => planned(item, options.entry_type),
                });
                if options.entry_type == EntryType::FileSeries {
                    report.series.push(item.dest.clone());
                }
            }
            Ok(None) => {}
            Err(e) => {
                counts[slot(item.change)] -= 1;
                report.failures.push(e.to_string());
            }
        }
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    drop(bar);
    let changed = match options.entry_type {
        EntryType::FileSeries => "replaced",
        _ => "updated",
    };
    let names = ["added", "appended", changed, "unchanged"];
    let mut parts: Vec<String> = counts
        .iter()
        .zip(names)
        .filter(|(n, _)| **n > 0)
        .map(|(n, name)| format!("{n} {name}"))
        .collect();
    if !report.failures.is_empty() {
        parts.push(format!("{} failed", report.failures.len()));
    }
    if parts.is_empty() {
        parts.push("no host files".to_string());
    }
    report.summary = format!(
        "synced {} to {pond_dir}: {}",
        host_dir.display(),
        parts.join(", ")
    );
    Ok(report)
}

/// Where a change is counted: added, appended, replaced (a data or table file's new
/// version counts here), unchanged.
fn slot(change: Change) -> usize {
    match change {
        Change::New => 0,
        Change::Appended { .. } => 1,
        Change::Changed => 2,
        Change::Unchanged => 3,
    }
}

/// What a dry run says of `item`.
fn planned(item: &SyncItem, entry_type: EntryType) -> String {
    let size = bytes(item.origin.size);
    match item.change {
        Change::New => format!("would add {} ({size})", item.dest),
        Change::Appended { from, .. } => format!(
            "would append to {} ({} more)",
            item.dest,
            bytes(item.origin.size - from)
        ),
        Change::Changed if entry_type == EntryType::FileSeries => format!(
            "would replace the rows of {} ({size}: the host file did not only grow)",
            item.dest
        ),
        Change::Changed => format!("would update {} ({size})", item.dest),
        Change::Unchanged => format!("{} is unchanged", item.dest),
    }
}

/// What a sync says it did with `item`.
fn synced(item: &SyncItem, entry_type: EntryType, done: &pond_sql::Synced) -> String {
    let v = done.version.version;
    let what = match done.rows {
        Some(rows) => count(rows, "row"),
        None => bytes(done.version.size),
    };
    match item.change {
        Change::New => format!("added {} (v{v}, {what})", item.dest),
        Change::Appended { .. } => format!("appended to {} (v{v}, {what})", item.dest),
        Change::Changed if entry_type == EntryType::FileSeries => format!(
            "replaced the rows of {} (v{v}, {what}: the host file did not only grow)",
            item.dest
        ),
        Change::Changed => format!("updated {} (v{v}, {what})", item.dest),
        Change::Unchanged => format!("{} is unchanged", item.dest),
    }
}

/// Prints a report: its lines and summary to the report, failures to standard error.
pub(crate) fn print(ctx: &Ctx, report: &Report) -> Result<()> {
    let mut out = ctx.report();
    for line in &report.lines {
        writeln!(out, "{line}")?;
    }
    for failure in &report.failures {
        eprintln!("error: sync: {failure}");
    }
    writeln!(out, "{}", report.summary)?;
    Ok(())
}

/// `pond sync`. Returns whether every host file was synced.
pub(crate) async fn sync(
    ctx: &Ctx,
    options: &SyncOptions,
    host_dir: &Path,
    pond_dir: &str,
    dry_run: bool,
) -> Result<bool> {
    if dry_run {
        let pond = ctx.read(None).await?;
        let root = pond.fs().root();
        let report = run(&root, options, host_dir, pond_dir, Mode::Plan, false).await?;
        print(ctx, &report)?;
        writeln!(ctx.report(), "dry run: nothing was changed")?;
        return Ok(true);
    }
    let progress = ctx.shows_progress();
    let (report, version) = ctx
        .write(async |root: &WD| run(root, options, host_dir, pond_dir, Mode::Do, progress).await)
        .await?;
    print(ctx, &report)?;
    if let Some(v) = version {
        writeln!(ctx.report(), "committed pond version {v}")?;
    }
    for series in &report.series {
        crate::copy::compact(ctx, series).await?;
    }
    Ok(report.failures.is_empty())
}

//! `verify` and `maintain`.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::output::{bytes, count};
use crate::{Ctx, OutputFormat};

/// `verify`'s report as `--format json` prints it.
#[derive(Debug, serde::Serialize)]
struct VerifyRecord<'a> {
    intact: bool,
    file_versions: usize,
    bytes: u64,
    log_files: usize,
    mismatched: &'a [String],
    missing: &'a [String],
    damaged: &'a [String],
}

/// One problem as `verify --format csv` prints it.
#[derive(Debug, serde::Serialize)]
struct Problem<'a> {
    problem: &'static str,
    detail: &'a str,
}

/// Prints what `verify` found; `false` (a failing exit) on any problem.
pub(crate) async fn verify(ctx: &Ctx, format: Option<OutputFormat>) -> Result<bool> {
    let pond = ctx.read(None).await?;
    let report = pond.verify().await?;
    match format {
        Some(OutputFormat::Json | OutputFormat::Ndjson) => {
            let record = VerifyRecord {
                intact: report.is_ok(),
                file_versions: report.versions,
                bytes: report.bytes,
                log_files: report.log_files,
                mismatched: &report.mismatched,
                missing: &report.missing,
                damaged: &report.damaged,
            };
            writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::to_string(&record)?
            )?;
            return Ok(report.is_ok());
        }
        Some(format @ OutputFormat::Csv) => {
            let kinds = [
                ("mismatch", &report.mismatched),
                ("missing", &report.missing),
                ("damaged", &report.damaged),
            ];
            let problems: Vec<Problem> = kinds
                .iter()
                .flat_map(|(problem, details)| {
                    details.iter().map(|detail| Problem { problem, detail })
                })
                .collect();
            crate::output::print_records(&problems, format)?;
            return Ok(report.is_ok());
        }
        Some(OutputFormat::Parquet) => {
            anyhow::bail!(
                "--format parquet is not a format for a report: choose csv, json or ndjson"
            )
        }
        Some(OutputFormat::Table) | None => {}
    }
    let mut out = std::io::stdout().lock();
    for problem in &report.mismatched {
        writeln!(out, "MISMATCH {problem}")?;
    }
    for problem in &report.missing {
        writeln!(out, "MISSING  {problem}")?;
    }
    for problem in &report.damaged {
        writeln!(out, "DAMAGED  {problem}")?;
    }
    writeln!(
        ctx.report(),
        "verified {} ({}) and {}: {}",
        count(report.versions as u64, "file version"),
        bytes(report.bytes),
        count(report.log_files as u64, "log file"),
        if report.is_ok() {
            "all intact".to_string()
        } else {
            format!(
                "{} mismatched, {} missing, {} damaged log files",
                report.mismatched.len(),
                report.missing.len(),
                report.damaged.len()
            )
        }
    )?;
    Ok(report.is_ok())
}

pub(crate) async fn maintain(
    ctx: &Ctx,
    grace: Duration,
    keep_history: Option<tlogfs::KeepHistory>,
) -> Result<()> {
    // Series first, so the checkpoint below covers their compactions.
    let series = stored_series(&ctx.read(None).await?.fs().root()).await?;
    for path in &series {
        crate::copy::compact(ctx, path).await?;
    }
    if let Some(keep) = keep_history {
        let retained = ctx
            .read(None)
            .await?
            .retain(keep, grace, &ctx.meta())
            .await?;
        let mut out = ctx.report();
        writeln!(
            out,
            "kept history from pond version {}: dropped {} superseded file versions and {} removed nodes, deleted {} log files ({})",
            retained.horizon,
            retained.versions_dropped,
            retained.nodes_dropped,
            retained.log_files_removed,
            bytes(retained.log_bytes_removed)
        )?;
    }
    let pond = ctx.read(None).await?;
    let report = pond.maintain(grace).await?;
    let mut out = ctx.report();
    writeln!(
        out,
        "wrote a checkpoint at pond version {}",
        report.checkpoint_version
    )?;
    writeln!(
        out,
        "removed {} unreferenced log files",
        report.log_files_removed.len()
    )?;
    writeln!(
        out,
        "removed {} unreferenced bodies ({})",
        report.bodies_removed,
        bytes(report.body_bytes_removed)
    )?;
    if keep_history.is_some() {
        // Conversions of csvdir entries that are gone: nothing at the latest version reads
        // them (reading an earlier version converts its entries again). A csvdir that
        // cannot be listed keeps the whole cache: what it reads is not known.
        let swept = pond_factories::csvdir::sweep_cache(pond.fs(), pond.cache_dir(), grace).await;
        match swept {
            Ok(swept) => writeln!(
                out,
                "removed {} that no csvdir reads now and {} of interrupted conversions ({})",
                count(swept.entries, "cached conversion"),
                count(swept.partials, "leftover"),
                bytes(swept.bytes)
            )?,
            Err(e) => eprintln!("warning: kept the csvdir cache: {e}"),
        }
    }
    Ok(())
}

/// The path of every stored series (dynamic directories, such as host mounts, are not
/// entered: nothing in them is stored).
async fn stored_series(root: &tinyfs::WD) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut dirs = vec!["/".to_string()];
    while let Some(dir) = dirs.pop() {
        for entry in root.list(dir.as_str()).await? {
            if entry.factory.is_some() {
                continue;
            }
            let path = format!("{}/{}", dir.trim_end_matches('/'), entry.name);
            match entry.entry_type {
                tinyfs::EntryType::Directory => dirs.push(path),
                tinyfs::EntryType::FileSeries => out.push(path),
                _ => {}
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `pond serve`: the web app over the pond until the process is stopped.
pub(crate) async fn serve(
    ctx: &Ctx,
    addr: std::net::SocketAddr,
    timeout: std::time::Duration,
    max_rows: usize,
) -> Result<()> {
    let store = ctx.store()?;
    // Open once now, so a missing pond is an error before anything listens.
    tlogfs::Pond::connect(store.clone()).await?;
    let open: pond_serve::Opener = std::sync::Arc::new(move |as_of| {
        let store = store.clone();
        Box::pin(async move {
            let pond = match as_of {
                Some(v) => tlogfs::Pond::connect_at(store, v).await?,
                None => tlogfs::Pond::connect(store).await?,
            };
            Ok(crate::with_factories(pond))
        })
    });
    let limits = pond_serve::Limits {
        time: timeout,
        rows: max_rows,
        ..pond_serve::Limits::default()
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "serving the pond on http://{bound}/ (read-only; stop with Ctrl-C)"
    )?;
    if !bound.ip().is_loopback() {
        writeln!(
            out,
            "warning: {bound} is reachable from other machines, and pond serve asks no password"
        )?;
    }
    out.flush()?;
    drop(out);
    // Rollups are built on first read, which for years of readings takes longer than a
    // request may: build them now, beside the server.
    let warm = open.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let warmed = match warm(None).await {
            Ok(pond) => pond_serve::warm_rollups(&pond.fs().root()).await,
            Err(e) => Err(e),
        };
        match warmed {
            Ok(0) => {}
            Ok(n) => eprintln!(
                "{n} rollups ready in {:.1} s",
                started.elapsed().as_secs_f64()
            ),
            Err(e) => eprintln!("warning: building rollups: {e:#}"),
        }
    });
    axum::serve(listener, pond_serve::router(open, limits)?).await?;
    Ok(())
}

/// `pond site DIR`: the pages as static files.
pub(crate) async fn site(ctx: &Ctx, dir: &std::path::Path) -> Result<()> {
    let pond = ctx.read(None).await?;
    let report = pond_serve::write_site(&pond, dir).await?;
    writeln!(
        ctx.report(),
        "wrote {} files into {} ({} unchanged): pages of {} files and {} directories, {} charts",
        report.written,
        dir.display(),
        report.unchanged,
        report.files,
        report.directories,
        report.charts
    )?;
    Ok(())
}

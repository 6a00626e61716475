//! `copy` (host → pond) and `export` (pond → host).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use pond_sql::ImportOptions;
use tinyfs::{EntryType, WD};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::output::{bytes, count};
use crate::{CopyFormat, Ctx, ExportFormat};

/// Files at least this large get a progress bar on a terminal.
const PROGRESS_MIN_BYTES: u64 = 16 << 20;

fn progress(shown: bool, len: Option<u64>, what: &str) -> ProgressBar {
    if !shown || len.is_some_and(|l| l < PROGRESS_MIN_BYTES) {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
                .expect("a valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{msg} {spinner} {pos} rows").expect("a valid template"),
        ),
    };
    bar.with_message(what.to_string())
}

/// What `copy` was asked.
pub(crate) struct CopyOptions {
    pub(crate) format: CopyFormat,
    pub(crate) timestamp_column: Option<String>,
    pub(crate) read: pond_sql::ReadOptions,
    pub(crate) skip_duplicate: bool,
    pub(crate) recursive: bool,
    /// Whether to show progress (at a terminal, not `--quiet`).
    pub(crate) progress: bool,
}

/// The CSV timestamp column pond parses itself, if `--timestamp-column` joins a date
/// and a time column (`DATE+TIME`, made into `timestamp`) or `--timestamp-format` gives
/// its format.
pub(crate) fn csv_time(column: Option<&str>, format: Option<String>) -> Option<pond_sql::CsvTime> {
    let column = column?;
    match column.split_once('+') {
        Some((date, time)) => Some(pond_sql::CsvTime {
            columns: vec![date.to_string(), time.to_string()],
            name: "timestamp".to_string(),
            format,
        }),
        None => format.map(|format| pond_sql::CsvTime {
            columns: vec![column.to_string()],
            name: column.to_string(),
            format: Some(format),
        }),
    }
}

pub(crate) async fn copy(ctx: &Ctx, options: &CopyOptions, args: &[String]) -> Result<()> {
    let (sources, dest) = args.split_at(args.len() - 1);
    let dest = dest[0].as_str();
    let format = options.format;
    if options.timestamp_column.is_some() && format != CopyFormat::Series {
        bail!("--timestamp-column is for --format series");
    }
    if options.skip_duplicate && format != CopyFormat::Series {
        bail!("--skip-duplicate is for --format series");
    }
    if format == CopyFormat::Data && options.read != pond_sql::ReadOptions::default() {
        bail!(
            "--timezone, --delimiter, --decimal, --null-value, --input-format, --nested, --sheet and --header-row are for --format table and series (data files are copied as bytes)"
        );
    }
    let recursive = options.recursive;
    let (lines, version) = ctx
        .write(async |root: &WD| {
            let plan = pond_sql::import_plan(root, sources, dest, recursive).await?;
            for skipped in &plan.skipped {
                eprintln!("skipped {}: not a regular file", skipped.display());
            }
            let jobs = plan.jobs;
            let mut lines = Vec::new();
            for job in &jobs {
                lines.push(copy_one(root, job, options).await?);
            }
            Ok((lines, jobs))
        })
        .await?;
    let (lines, jobs) = lines;
    {
        let mut out = ctx.report();
        for line in lines {
            writeln!(out, "{line}")?;
        }
        if let Some(v) = version {
            writeln!(out, "committed pond version {v}")?;
        }
    }
    if format == CopyFormat::Series && version.is_some() {
        let mut dests: Vec<&str> = jobs.iter().map(|j| j.dest.as_str()).collect();
        dests.dedup();
        for dest in dests {
            compact(ctx, dest).await?;
        }
    }
    Ok(())
}

/// Compacts the series at `dest` if it has enough small versions (see
/// [`pond_sql::compact_series`]), as a commit of its own after the append: a compaction
/// that fails (it checks what it wrote) changes nothing, and the append stands.
pub(crate) async fn compact(ctx: &Ctx, dest: &str) -> Result<()> {
    let (done, version) = ctx
        .write(async |root: &WD| Ok(pond_sql::compact_series(root, dest).await?))
        .await
        .with_context(|| format!("compacting {dest} (the append itself is committed)"))?;
    let mut out = ctx.report();
    for c in &done {
        writeln!(
            out,
            "compacted {dest} v{} into v{} ({}, checked)",
            c.compacts,
            c.version,
            count(c.rows, "row")
        )?;
    }
    if let Some(v) = version {
        writeln!(out, "committed pond version {v}")?;
    }
    Ok(())
}

async fn copy_one(root: &WD, job: &pond_sql::ImportJob, copy: &CopyOptions) -> Result<String> {
    let ctx = || format!("{} to {}", job.shown, job.dest);
    let format = copy.format;
    match format {
        CopyFormat::Data => {
            let (reader, len): (Box<dyn AsyncRead + Unpin + Send>, Option<u64>) = match &job.source
            {
                Some(path) => {
                    let f = tokio::fs::File::open(path).await.with_context(ctx)?;
                    let len = f.metadata().await.with_context(ctx)?.len();
                    (Box::new(f), Some(len))
                }
                None => (Box::new(tokio::io::stdin()), None),
            };
            let version =
                copy_bytes(root, reader, len, &job.dest, &job.shown, copy.progress).await?;
            Ok(format!(
                "copied {} to {} (v{}, {})",
                job.shown,
                job.dest,
                version.version,
                bytes(version.size)
            ))
        }
        CopyFormat::Table | CopyFormat::Series => {
            // The importer reads a file (a CSV twice: to infer types, then the rows), so
            // standard input is streamed to a temporary one first.
            let spooled;
            let source: &Path = match &job.source {
                Some(path) => path,
                None => {
                    spooled = tempfile::NamedTempFile::new().context("spooling standard input")?;
                    let mut file = tokio::fs::File::from_std(
                        spooled.reopen().context("spooling standard input")?,
                    );
                    tokio::io::copy(&mut tokio::io::stdin(), &mut file)
                        .await
                        .context("spooling standard input")?;
                    file.flush().await.context("spooling standard input")?;
                    spooled.path()
                }
            };
            let options = ImportOptions {
                entry_type: if format == CopyFormat::Series {
                    EntryType::FileSeries
                } else {
                    EntryType::FileTable
                },
                timestamp_column: copy.timestamp_column.clone(),
                read: copy.read.clone(),
                skip_duplicate: copy.skip_duplicate,
            };
            // A spinner while the file's types are inferred (every row is read), then a
            // bar of the rows converted, of the rows inference counted.
            let big = std::fs::metadata(source).is_ok_and(|m| m.len() >= PROGRESS_MIN_BYTES);
            let bar = progress(copy.progress && big, None, &job.shown);
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            let imported =
                pond_sql::import_file(root, source, &job.dest, &options, &mut |rows, of| {
                    if let Some(of) = of
                        && bar.length() != Some(of)
                    {
                        bar.set_length(of);
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{msg} {bar:30} {percent:>3}% {human_pos}/{human_len} rows, {eta} left",
                            )
                            .expect("a valid template"),
                        );
                    }
                    bar.set_position(rows)
                })
                .await
                .with_context(ctx)?;
            bar.finish_and_clear();
            if imported.skipped {
                return Ok(format!(
                    "skipped {}: identical to {}@v{}",
                    job.shown, job.dest, imported.version.version
                ));
            }
            let mut line = format!(
                "copied {} to {} (v{}, {}, {}",
                job.shown,
                job.dest,
                imported.version.version,
                crate::output::count(imported.rows, "row"),
                bytes(imported.version.size)
            );
            if let Some(t) = &imported.version.event_time {
                line.push_str(&format!(
                    ", {} from {} to {}",
                    t.column,
                    crate::output::micros(t.min_micros),
                    crate::output::micros(t.max_micros)
                ));
            }
            line.push(')');
            Ok(line)
        }
    }
}

async fn copy_bytes(
    root: &WD,
    mut reader: Box<dyn AsyncRead + Unpin + Send>,
    len: Option<u64>,
    dest: &str,
    shown: &str,
    shown_progress: bool,
) -> Result<tinyfs::FileVersion> {
    let mut writer = root.file_writer(dest, EntryType::FileData).await?;
    let bar = progress(shown_progress, len.or(Some(0)), shown);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader
            .read(&mut buf)
            .await
            .with_context(|| shown.to_string())?;
        if n == 0 {
            break;
        }
        writer
            .write_all(&buf[..n])
            .await
            .with_context(|| dest.to_string())?;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(writer.finish().await?)
}

pub(crate) async fn export(
    ctx: &Ctx,
    format: ExportFormat,
    as_of: Option<crate::AsOf>,
    hive: bool,
    glob: &str,
    host_dir: &Path,
) -> Result<()> {
    let format = match format {
        ExportFormat::Parquet => pond_sql::ExportFormat::Parquet,
        ExportFormat::Csv => pond_sql::ExportFormat::Csv,
    };
    let pond = ctx.read(as_of).await?;
    let root = pond.fs().root();
    if host_dir.as_os_str() == "-" {
        if hive {
            bail!("--hive writes a directory of files, and standard output takes one file");
        }
        // One file, to standard output.
        let jobs = pond_sql::export_plan(&root, glob, host_dir, format).await?;
        let [job] = jobs.as_slice() else {
            bail!(
                "{glob}: matches {} files, and standard output takes one",
                jobs.len()
            );
        };
        if job.entry_type.is_table() && format == pond_sql::ExportFormat::Parquet {
            crate::output::refuse_binary_to_terminal("--format csv")
                .with_context(|| job.path.clone())?;
        }
        pond_sql::export_to(&root, job, format, tokio::io::stdout(), "standard output").await?;
        return Ok(());
    }
    let mut out = ctx.report();
    for job in pond_sql::export_plan(&root, glob, host_dir, format).await? {
        if hive && job.entry_type == EntryType::FileSeries {
            // A directory named after the series, the partitions below it.
            let dir = host_dir.join(job.path.trim_start_matches('/'));
            let rows = pond_sql::export_hive(&root, &job, &dir).await?;
            writeln!(
                out,
                "exported {} to {}/ ({}, partitioned by year and month)",
                job.path,
                dir.display(),
                crate::output::count(rows, "row")
            )?;
            continue;
        }
        let detail = match pond_sql::export_file(&root, &job, format).await? {
            pond_sql::Exported::Bytes(n) => bytes(n),
            pond_sql::Exported::Rows(n) => crate::output::count(n, "row"),
        };
        writeln!(
            out,
            "exported {} to {} ({detail})",
            job.path,
            job.host.display()
        )?;
    }
    Ok(())
}

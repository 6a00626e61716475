//! Import against DuckDB: `pond copy --format series` of one CSV ÷ DuckDB's
//! `COPY (SELECT * FROM read_csv(...)) TO '...parquet'` of the same file, whole process,
//! alternated, with each one's peak memory; the same text gzipped ÷ plain; and the same
//! rows as JSON lines (written by DuckDB) ÷ DuckDB's `read_json` of them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::{median, ms};

/// Runs `cmd` to its end: its wall time and peak resident memory (VmHWM, sampled from
/// /proc while it runs). Standard output is discarded; a failure is an error with its
/// standard error.
pub(crate) fn measure(mut cmd: Command) -> Result<(Duration, u64)> {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {cmd:?}"))?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kb * 1024);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let took = start.elapsed();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            std::io::Read::read_to_string(&mut stderr, &mut err)?;
        }
        bail!("{cmd:?} failed: {err}");
    }
    Ok((took, peak))
}

/// `source` as a CSV file: itself, or a Parquet file written out as one into `dir`
/// (vega_flights_3m.parquet makes about 100 MB).
pub(crate) async fn csv_of(source: &Path, dir: &Path) -> Result<PathBuf> {
    if source.extension().is_none_or(|e| e != "parquet") {
        return Ok(source.to_path_buf());
    }
    let out = dir.join("flights.csv");
    SessionContext::new()
        .read_parquet(
            source.to_str().context("UTF-8")?,
            ParquetReadOptions::default(),
        )
        .await?
        .write_csv(
            out.to_str().context("UTF-8")?,
            DataFrameWriteOptions::new().with_single_file_output(true),
            None,
        )
        .await?;
    Ok(out)
}

/// The DuckDB baseline: the file read by `reader` (`read_csv`, `read_json`) with its type
/// inference and written as Parquet.
fn duckdb(reader: &str, source: &Path, out: &Path) -> Command {
    let sql = format!(
        "COPY (SELECT * FROM {reader}('{}')) TO '{}' (FORMAT parquet)",
        source.display(),
        out.display()
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-c", &format!("import duckdb; duckdb.sql({sql:?})")]);
    cmd
}

/// The rows of the Parquet file `path`, by DuckDB.
fn duckdb_rows(path: &Path) -> Result<u64> {
    let out = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import duckdb; print(duckdb.execute(\"SELECT count(*) FROM read_parquet('{}')\").fetchone()[0])",
                path.display()
            ),
        ])
        .output()?;
    if !out.status.success() {
        bail!(
            "DuckDB (python3 -m pip install duckdb) could not count rows: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// `pond copy --format series source` into a new pond at `pond_dir`, whole process: its
/// time and peak memory.
fn import_into(bin: &Path, pond_dir: &Path, source: &Path) -> Result<(Duration, u64)> {
    let status = Command::new(bin)
        .arg("--pond")
        .arg(pond_dir)
        .arg("init")
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("pond init failed");
    }
    let mut copy = Command::new(bin);
    copy.arg("--pond")
        .arg(pond_dir)
        .args(["copy", "--format", "series"])
        .arg(source)
        .arg("/imported.series");
    measure(copy)
}

pub(crate) async fn run(bin: &Path, source: &Path, runs: usize) -> Result<()> {
    let work = tempfile::tempdir()?;
    let csv = csv_of(source, work.path()).await?;
    let csv_bytes = std::fs::metadata(&csv)?.len();
    // The same text gzipped, as a logger's daily rotation leaves it.
    let gz = work.path().join("source.csv.gz");
    {
        let mut encoder = flate2::write::GzEncoder::new(
            std::io::BufWriter::new(std::fs::File::create(&gz)?),
            flate2::Compression::default(),
        );
        std::io::copy(&mut std::fs::File::open(&csv)?, &mut encoder)?;
        encoder.finish()?;
    }
    // The same rows as JSON lines, one object a line, as DuckDB writes them.
    let jsonl = work.path().join("source.jsonl");
    let sql = format!(
        "COPY (SELECT * FROM read_csv('{}')) TO '{}' (FORMAT json)",
        csv.display(),
        jsonl.display()
    );
    measure({
        let mut cmd = Command::new("python3");
        cmd.args(["-c", &format!("import duckdb; duckdb.sql({sql:?})")]);
        cmd
    })?;
    let mut json = (Vec::new(), Vec::new());
    let mut duck_json = (Vec::new(), Vec::new());
    let mut pond = (Vec::new(), Vec::new());
    let mut gzipped = (Vec::new(), Vec::new());
    let mut duck = (Vec::new(), Vec::new());
    let (mut stored, mut pond_rows) = (0, 0);
    for run in 0..runs {
        let pond_dir = work.path().join(format!("pond{run}"));
        let (t, m) = import_into(bin, &pond_dir, &csv)?;
        pond.0.push(t);
        pond.1.push(m);
        stored = dir_bytes(&pond_dir.join("content"))?;
        if run == 0 {
            pond_rows = pond_count(bin, &pond_dir)?;
        }
        std::fs::remove_dir_all(&pond_dir)?;

        let (t, m) = import_into(bin, &pond_dir, &gz)?;
        gzipped.0.push(t);
        gzipped.1.push(m);
        if run == 0 && pond_count(bin, &pond_dir)? != pond_rows {
            bail!("the gzipped CSV imported other rows than the CSV");
        }
        std::fs::remove_dir_all(&pond_dir)?;

        let out = work.path().join(format!("duck{run}.parquet"));
        let (t, m) = measure(duckdb("read_csv", &csv, &out))?;
        duck.0.push(t);
        duck.1.push(m);
        if run == 0 {
            // Both read every row (checked once, outside the timings).
            let rows = duckdb_rows(&out)?;
            if rows != pond_rows {
                bail!("pond imported {pond_rows} rows, DuckDB {rows}");
            }
            println!(
                "both read {rows} rows; DuckDB's Parquet is {} MB",
                out.metadata()?.len() >> 20
            );
        }
        std::fs::remove_file(&out)?;

        let (t, m) = import_into(bin, &pond_dir, &jsonl)?;
        json.0.push(t);
        json.1.push(m);
        if run == 0 && pond_count(bin, &pond_dir)? != pond_rows {
            bail!("the JSON lines imported other rows than the CSV");
        }
        std::fs::remove_dir_all(&pond_dir)?;
        let (t, m) = measure(duckdb("read_json", &jsonl, &out))?;
        duck_json.0.push(t);
        duck_json.1.push(m);
        std::fs::remove_file(&out)?;
    }
    let (pt, pm) = (median(pond.0), median(pond.1));
    let (dt, dm) = (median(duck.0), median(duck.1));
    let mb = csv_bytes as f64 / (1 << 20) as f64;
    println!(
        "import {} ({mb:.0} MB), median of {runs}, whole process:",
        csv.display()
    );
    println!(
        "  pond copy --format series  {:>12}  {:>6.1} MB/s  peak {:>6} MB  stored {} MB",
        ms(pt),
        mb / pt.as_secs_f64(),
        pm >> 20,
        stored >> 20
    );
    let (gt, gm) = (median(gzipped.0), median(gzipped.1));
    println!(
        "  the same, gzipped ({} MB)  {:>12}  {:>6.1} MB/s of text  peak {:>6} MB",
        std::fs::metadata(&gz)?.len() >> 20,
        ms(gt),
        mb / gt.as_secs_f64(),
        gm >> 20
    );
    println!(
        "  gzipped throughput ÷ plain: {:.2} (goal ≥ 0.8)",
        pt.as_secs_f64() / gt.as_secs_f64()
    );
    println!(
        "  DuckDB COPY TO parquet     {:>12}  {:>6.1} MB/s  peak {:>6} MB",
        ms(dt),
        mb / dt.as_secs_f64(),
        dm >> 20
    );
    println!(
        "  pond throughput ÷ DuckDB's: {:.2} (goal ≥ 0.7); peak memory pond ÷ DuckDB: {:.2}",
        dt.as_secs_f64() / pt.as_secs_f64(),
        pm as f64 / dm as f64
    );
    let (jt, jm) = (median(json.0), median(json.1));
    let (djt, djm) = (median(duck_json.0), median(duck_json.1));
    let json_mb = std::fs::metadata(&jsonl)?.len() as f64 / (1 << 20) as f64;
    println!("the same rows as JSON lines ({json_mb:.0} MB):");
    println!(
        "  pond copy --format series  {:>12}  {:>6.1} MB/s  peak {:>6} MB",
        ms(jt),
        json_mb / jt.as_secs_f64(),
        jm >> 20
    );
    println!(
        "  DuckDB read_json to parquet {:>11}  {:>6.1} MB/s  peak {:>6} MB",
        ms(djt),
        json_mb / djt.as_secs_f64(),
        djm >> 20
    );
    println!(
        "  pond JSON lines throughput ÷ DuckDB's: {:.2}",
        djt.as_secs_f64() / jt.as_secs_f64()
    );
    Ok(())
}

/// The rows of the series pond imported into `pond_dir`.
fn pond_count(bin: &Path, pond_dir: &Path) -> Result<u64> {
    let out = Command::new(bin)
        .arg("--pond")
        .arg(pond_dir)
        .args([
            "cat",
            "--format",
            "csv",
            "--sql",
            "SELECT count(*) AS n FROM source",
            "/imported.series",
        ])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .nth(1)
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("counting pond's rows: {text}"))
}

fn dir_bytes(path: &Path) -> Result<u64> {
    let mut total = 0;
    if !path.exists() {
        return Ok(0);
    }
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

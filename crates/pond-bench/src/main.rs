//! pond's benchmarks. Each prints its figures and a ratio against a baseline measured in
//! the same run, so numbers from different machines compare by ratio.
//!
//! ```text
//! cargo build --release -p pond -p pond-bench
//! target/release/pond-bench history      # list '/**', cat, mkdir after N commits ÷ after 100
//! target/release/pond-bench latency      # one small transaction, whole process
//! target/release/pond-bench import FILE  # CSV → series vs DuckDB's CSV → Parquet
//! target/release/pond-bench inline       # inline bodies vs content/ files, by size
//! target/release/pond-bench verify       # pond verify of 1 GB ÷ hashing the bodies
//! target/release/pond-bench series FILE  # 30-version series vs DataFusion ListingTable
//! target/release/pond-bench chain FILE   # 3 derived series vs by hand vs materialized
//! target/release/pond-bench days         # a day's window over 1,000 daily CSVs ÷ over 10
//! target/release/pond-bench csvdir CSV   # csvdir cached read vs first read
//! target/release/pond-bench sync         # hourly sync of 1,000 files ÷ hashing them
//! target/release/pond-bench replica      # clone of 1 GB ÷ copying its files; pull of one version
//! target/release/pond-bench s3           # a pond on a local S3 server: window query, push, clone, writers
//! target/release/pond-bench rollup       # temporal-reduce of a year of minutes ÷ raw; after one more day ÷ cold
//! target/release/pond-bench serve        # pond serve: chart data of a year under 20 clients, p50/p99, bytes, RSS
//! ```

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use tinyfs::{EntryType, TxnMeta};
use tlogfs::Pond;

mod dynamic;
mod import;
mod objects;
mod replica;
mod rollup;
mod series;
mod serve;
mod sync;
mod verify;
mod versions;

#[derive(Debug, Parser)]
#[command(about = "pond benchmarks")]
struct Args {
    /// The pond binary to time (default: `pond` beside this one).
    #[arg(long, global = true)]
    pond_bin: Option<PathBuf>,
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// `pond list '/**'`, `cat` of a small file and `mkdir` after many commits ÷ after 100.
    History {
        /// Commits in the long history.
        #[arg(long, default_value_t = 10_000)]
        commits: usize,
    },
    /// Median whole-process latency of `pond mkdir` (one small transaction) ÷ `pond list`.
    Latency,
    /// Import a CSV as a series ÷ DuckDB's `COPY (SELECT * FROM read_csv(..)) TO parquet` of
    /// the same file (pip `duckdb`): time, peak memory, bytes stored.
    Import {
        /// The CSV file, or a Parquet file to write out as one (vega_flights_3m.parquet
        /// makes about 100 MB).
        csv: PathBuf,
        /// Runs of each, alternated; the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Write and read back bodies inline and in content/, by size.
    Inline,
    /// A series of many appended versions (an hour of readings each) ÷ the same rows in one
    /// version, whole process: append, last-day window, full aggregate, describe, list -l,
    /// with each one's peak memory
    Versions {
        /// Versions in the long series (the goal is stated at 10,000).
        #[arg(long, default_value_t = 1000)]
        versions: u64,
        /// Runs of each command; the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Build the pond in this new directory and keep it (to profile a command on it).
        #[arg(long)]
        keep: Option<std::path::PathBuf>,
    },
    /// `pond verify` of a pond of distinct bodies ÷ reading and hashing them in-process.
    Verify {
        /// The pond's size in MB.
        #[arg(long, default_value_t = 1024)]
        megabytes: usize,
    },
    /// A 30-version series from a Parquet file with a `date` column: pond ÷ DataFusion's
    /// ListingTable on the same files; a one-day range ÷ the full scan; describe of a large
    /// series ÷ a small one.
    Series {
        /// The Parquet file (vega_flights_3m.parquet: date, delay, distance, origin, destination).
        parquet: PathBuf,
        /// Copies of the file in the large series for `describe` (75 × 13 MB ≈ 1 GB).
        #[arg(long, default_value_t = 75)]
        copies: usize,
    },
    /// A chain of 3 derived series with a selective filter ÷ the same query by hand (time
    /// and peak memory), and ÷ materializing every level to Parquet.
    Chain {
        /// The Parquet file (vega_flights_3m.parquet), split into a 30-version series.
        parquet: PathBuf,
    },
    /// A one-day window of a derived series over a csvdir of many daily CSV files (and
    /// `describe` of one) ÷ the same over 10 files, once converted.
    Days {
        /// Daily CSV files in the large csvdir.
        #[arg(long, default_value_t = 1_000)]
        files: usize,
    },
    /// `pond sync` of an export directory of daily CSV files and one growing file: with
    /// nothing to do ÷ hashing the directory, after an hour's growth ÷ nothing to do, and
    /// after many synced appends ÷ after a few.
    Sync {
        /// Daily files (about 45 KB each) in the directory.
        #[arg(long, default_value_t = 1_000)]
        files: u64,
        /// Hours appended to the growing file and synced before the last measure.
        #[arg(long, default_value_t = 500)]
        appends: u64,
    },
    /// `pond clone` of a pond of about 1 GB ÷ copying its files (each fsynced), and a pull
    /// of one new version: bytes sent and time.
    Replica {
        /// The pond's size in MB.
        #[arg(long, default_value_t = 1024)]
        megabytes: usize,
    },
    /// A pond on an S3 server started here (Python's moto): a one-hour window of a 1 GB
    /// series there ÷ locally (bytes fetched, time), a push and an incremental push, a
    /// clone ÷ a plain copy of the objects, commit latency, 8 writers × 50 commits.
    S3 {
        /// The series' size in MB.
        #[arg(long, default_value_t = 1024)]
        megabytes: usize,
    },
    /// A year of one-minute readings appended daily, under a temporal-reduce: its daily
    /// rollup ÷ the same aggregate over the raw rows; the read after one more day ÷ a cold
    /// build; the cold build's peak memory.
    Rollup {
        /// Days of readings.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// `pond serve`: chart data of a year of one-minute readings at the default viewport
    /// under concurrent clients (p50, p99), bytes a response, the server's peak memory.
    Serve {
        /// Days of readings.
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 20)]
        clients: usize,
        /// Requests each client makes.
        #[arg(long, default_value_t = 25)]
        requests: usize,
    },
    /// A csvdir table's cached read ÷ its first read (which converts the CSV).
    Csvdir {
        /// The CSV (~100 MB, with a numeric `delay` column), or a Parquet file to write out
        /// as one (vega_flights_3m.parquet makes about 100 MB).
        csv: PathBuf,
    },
}

pub(crate) fn median<T: Ord + Copy>(mut samples: Vec<T>) -> T {
    samples.sort();
    samples[samples.len() / 2]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Runs `pond ARGS` on `pond_dir` `runs` times; the median wall time.
pub(crate) fn time_pond(
    bin: &Path,
    pond_dir: &Path,
    args: &[&str],
    runs: usize,
) -> Result<Duration> {
    let mut samples = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let status = Command::new(bin)
            .arg("--pond")
            .arg(pond_dir)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("running {}", bin.display()))?;
        samples.push(start.elapsed());
        if !status.success() {
            bail!("pond {args:?} failed");
        }
    }
    Ok(median(samples))
}

/// How a benchmark imports a series: `time` its timestamp column.
pub(crate) fn series_import(time: &str) -> pond_sql::ImportOptions {
    pond_sql::ImportOptions {
        entry_type: EntryType::FileSeries,
        timestamp_column: Some(time.into()),
        read: pond_sql::ReadOptions::default(),
        skip_duplicate: false,
    }
}

/// Imports `file` (CSV or Parquet) as the next version of the series `dest`, whose
/// timestamp column is `time`, in one commit.
pub(crate) async fn import_series(pond: &Pond, file: &Path, dest: &str, time: &str) -> Result<()> {
    let tx = pond.fs().begin(meta()).await?;
    pond_sql::import_file(&tx.root(), file, dest, &series_import(time), &mut |_, _| {}).await?;
    tx.commit().await?;
    Ok(())
}

/// Writes readings as a Parquet file at `path`: `times` (microseconds since the epoch) as
/// the UTC timestamp column `time`, and `values` as the column `value`.
pub(crate) fn write_readings(
    path: &Path,
    (time, times): (&str, Vec<i64>),
    (value, values): (&str, Vec<f64>),
) -> Result<()> {
    use arrow::array::{Float64Array, RecordBatch, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new(
            time,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new(value, DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
            std::sync::Arc::new(Float64Array::from(values)),
        ],
    )?;
    pond_sql::write_parquet_blocking(
        std::fs::File::create(path)?,
        schema,
        pond_sql::writer_properties(),
        [Ok::<_, pond_sql::Error>(batch)],
        &path.display().to_string(),
    )?;
    Ok(())
}

fn meta() -> TxnMeta {
    TxnMeta {
        command: vec!["pond-bench".into()],
        user: "bench".into(),
    }
}

/// Commits `n` changes: new versions of the existing files, and a scratch directory made
/// and removed in turn, so the tree stays the same while its history grows.
async fn churn(pond: &Pond, n: usize, files: &[String], dirs: usize) -> Result<()> {
    for i in 0..n {
        let tx = pond.fs().begin(meta()).await?;
        let root = tx.root();
        if i % 5 == 4 {
            let scratch = format!("/d{}/scratch", i % dirs);
            if root.exists(scratch.as_str()).await? {
                root.remove(scratch.as_str(), true).await?;
            } else {
                root.create_dir(scratch.as_str()).await?;
            }
        } else {
            let file = &files[(i * 7919) % files.len()];
            root.write_file(
                file.as_str(),
                EntryType::FileData,
                format!("v{i}\n").as_bytes(),
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

async fn history(bin: &Path, commits: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let pond = Pond::init(dir.path()).await?;
    let dirs = 10;
    let mut files = Vec::new();
    // 100 commits: 10 directories, then 90 files.
    for d in 0..dirs {
        let tx = pond.fs().begin(meta()).await?;
        tx.root().create_dir(format!("/d{d}").as_str()).await?;
        tx.commit().await?;
    }
    for f in 0..90 {
        let path = format!("/d{}/f{f}.csv", f % dirs);
        let tx = pond.fs().begin(meta()).await?;
        tx.root()
            .write_file(path.as_str(), EntryType::FileData, b"t,v\n")
            .await?;
        tx.commit().await?;
        files.push(path);
    }
    let small = files[0].as_str();
    let short = time_pond(bin, dir.path(), &["list", "/**"], 21)?;
    let cat_short = time_pond(bin, dir.path(), &["cat", small], 21)?;
    let write_short = time_mkdirs(bin, dir.path(), "early", 11)?;
    let start = Instant::now();
    churn(&pond, commits - 100, &files, dirs).await?;
    let building = start.elapsed();
    let long = time_pond(bin, dir.path(), &["list", "/**"], 21)?;
    let cat_long = time_pond(bin, dir.path(), &["cat", small], 21)?;
    let write_long = time_mkdirs(bin, dir.path(), "late", 11)?;
    println!(
        "history: {commits} commits made in {:.1} s ({} per commit)",
        building.as_secs_f64(),
        ms(building / (commits as u32 - 100))
    );
    println!("pond list '/**' after 100 commits:    {}", ms(short));
    println!("pond list '/**' after {commits} commits: {}", ms(long));
    println!(
        "ratio: {:.2} (goal <= 1.5)",
        long.as_secs_f64() / short.as_secs_f64()
    );
    println!("pond cat {small} after 100 commits:    {}", ms(cat_short));
    println!("pond cat {small} after {commits} commits: {}", ms(cat_long));
    println!(
        "ratio: {:.2} (goal <= 1.5)",
        cat_long.as_secs_f64() / cat_short.as_secs_f64()
    );
    println!(
        "pond mkdir (one commit) after ~100 commits:    {}",
        ms(write_short)
    );
    println!(
        "pond mkdir (one commit) after ~{commits} commits: {}",
        ms(write_long)
    );
    println!(
        "ratio: {:.2} (goal <= 1.5)",
        write_long.as_secs_f64() / write_short.as_secs_f64()
    );
    Ok(())
}

/// The median time of `runs` `pond mkdir` commands, each making a new directory.
fn time_mkdirs(bin: &Path, pond_dir: &Path, prefix: &str, runs: usize) -> Result<Duration> {
    let mut samples = Vec::new();
    for i in 0..runs {
        let name = format!("/{prefix}{i}");
        samples.push(time_pond(bin, pond_dir, &["mkdir", &name], 1)?);
    }
    Ok(median(samples))
}

async fn latency(bin: &Path) -> Result<()> {
    let dir = tempfile::tempdir()?;
    Pond::init(dir.path()).await?;
    let mut samples = Vec::new();
    for i in 0..31 {
        let name = format!("/m{i}");
        samples.push(time_pond(bin, dir.path(), &["mkdir", &name], 1)?);
    }
    let mkdir = median(samples);
    let list = time_pond(bin, dir.path(), &["list"], 31)?;
    println!("pond mkdir (one commit), median of 31: {}", ms(mkdir));
    println!("pond list (no commit), median of 31:   {}", ms(list));
    println!("ratio: {:.2}", mkdir.as_secs_f64() / list.as_secs_f64());
    Ok(())
}

async fn inline() -> Result<()> {
    println!(
        "{:>8}  {:>14}  {:>14}  {:>12}  {:>12}",
        "size", "write inline", "write content/", "read inline", "read content/"
    );
    for size in [
        1usize << 10,
        4 << 10,
        16 << 10,
        64 << 10,
        256 << 10,
        1 << 20,
    ] {
        let mut row = Vec::new();
        for inline in [true, false] {
            let dir = tempfile::tempdir()?;
            let pond = Pond::init(dir.path()).await?;
            pond.persistence()
                .set_inline_max(if inline { usize::MAX } else { 0 });
            let body = vec![7u8; size];
            let n = 50;
            let start = Instant::now();
            for i in 0..n {
                let tx = pond.fs().begin(meta()).await?;
                tx.root()
                    .write_file(format!("/f{i}").as_str(), EntryType::FileData, &body)
                    .await?;
                tx.commit().await?;
            }
            let write = start.elapsed() / n;
            let reopened = Pond::open(dir.path()).await?;
            let start = Instant::now();
            for i in 0..n {
                let got = reopened
                    .fs()
                    .root()
                    .read_file(format!("/f{i}").as_str())
                    .await?;
                assert_eq!(got.len(), size);
            }
            let read = start.elapsed() / n;
            row.push((write, read));
        }
        println!(
            "{:>8}  {:>14}  {:>14}  {:>12}  {:>12}",
            size,
            ms(row[0].0),
            ms(row[1].0),
            ms(row[0].1),
            ms(row[1].1)
        );
    }
    println!("(per file: one commit to write it; a fresh open to read it back)");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let bin = match args.pond_bin {
        Some(b) => b,
        None => std::env::current_exe()?
            .parent()
            .context("the bench binary has a directory")?
            .join("pond"),
    };
    match args.bench {
        Bench::History { commits } => history(&bin, commits.max(101)).await,
        Bench::Latency => latency(&bin).await,
        Bench::Import { csv, runs } => import::run(&bin, &csv, runs.max(1)).await,
        Bench::Inline => inline().await,
        Bench::Versions {
            versions,
            runs,
            keep,
        } => versions::run(&bin, versions.max(2), runs.max(1), keep.as_deref()).await,
        Bench::Verify { megabytes } => verify::run(&bin, megabytes.max(16)).await,
        Bench::Series { parquet, copies } => series::run(&bin, &parquet, copies).await,
        Bench::Chain { parquet } => dynamic::chain(&bin, &parquet).await,
        Bench::Csvdir { csv } => dynamic::csvdir(&bin, &csv).await,
        Bench::Days { files } => dynamic::days(&bin, files).await,
        Bench::Sync { files, appends } => sync::run(&bin, files, appends.max(10)),
        Bench::Replica { megabytes } => replica::run(&bin, megabytes.max(16)).await,
        Bench::S3 { megabytes } => objects::run(&bin, megabytes).await,
        Bench::Rollup { days } => rollup::run(&bin, days).await,
        Bench::Serve {
            days,
            clients,
            requests,
        } => serve::run(&bin, days, clients, requests).await,
    }
}

//! Benchmarks of dynamic nodes: a chain of derived series against the same query written
//! by hand and against materializing every level; csvdir's cached read against its first.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::TryStreamExt;
use pond_factories::Registry;
use pond_sql::PondSession;
use tinyfs::{EntryType, TxnMeta};
use tlogfs::Pond;

use crate::series::flights_pond;
use crate::{median, ms};

/// Three levels: a filter, another, and a projection with a third.
const LEVELS: [(&str, &str); 3] = [
    (
        "/d/long.series",
        "patterns: {f: /flights.series}\nquery: SELECT date, delay, distance, origin, destination FROM f WHERE distance > 100\n",
    ),
    (
        "/d/late.series",
        "patterns: {l: /d/long.series}\nquery: SELECT date, delay, origin, destination FROM l WHERE delay > 0\n",
    ),
    (
        "/d/away.series",
        "patterns: {l: /d/late.series}\nquery: SELECT date, origin, delay FROM l WHERE destination <> origin\n",
    ),
];

/// The selective query: one week, one origin.
const WHERE: &str =
    "date >= '2001-03-01T00:00:00' AND date < '2001-03-08T00:00:00' AND origin = 'SFO'";

fn chain_query() -> String {
    format!(
        "SELECT origin, count(*) AS n, avg(delay) AS d FROM \"/d/away.series\" WHERE {WHERE} GROUP BY origin"
    )
}

fn hand_query() -> String {
    format!(
        "SELECT origin, count(*) AS n, avg(delay) AS d FROM \"/flights.series\" WHERE distance > 100 AND delay > 0 AND destination <> origin AND {WHERE} GROUP BY origin"
    )
}

async fn collect(ctx: &SessionContext, sql: &str) -> Result<Vec<arrow::array::RecordBatch>> {
    Ok(ctx
        .sql(sql)
        .await?
        .execute_stream()
        .await?
        .try_collect()
        .await?)
}

/// The median times of queries `a` and `b`, run alternately `runs` times each, each in a
/// fresh session (planning included, as a command pays it). Alternating spreads the
/// machine's drift over both.
async fn time_pair(fs: &tinyfs::FS, a: &str, b: &str, runs: usize) -> Result<(Duration, Duration)> {
    let mut samples = (Vec::new(), Vec::new());
    for _ in 0..runs {
        for (sql, out) in [(a, &mut samples.0), (b, &mut samples.1)] {
            let start = Instant::now();
            let session = PondSession::new(fs.root())?;
            collect(session.context(), sql).await?;
            out.push(start.elapsed());
        }
    }
    Ok((median(samples.0), median(samples.1)))
}

/// The median times of queries `a` and `b`, run alternately `runs` times each in one
/// session (as a server answers), after a first run of each: tables and derived nodes are
/// opened and planned once per session.
async fn time_pair_warm(
    fs: &tinyfs::FS,
    a: &str,
    b: &str,
    runs: usize,
) -> Result<(Duration, Duration)> {
    let session = PondSession::new(fs.root())?;
    collect(session.context(), a).await?;
    collect(session.context(), b).await?;
    let mut samples = (Vec::new(), Vec::new());
    for _ in 0..runs {
        for (sql, out) in [(a, &mut samples.0), (b, &mut samples.1)] {
            let start = Instant::now();
            collect(session.context(), sql).await?;
            out.push(start.elapsed());
        }
    }
    Ok((median(samples.0), median(samples.1)))
}

/// The planning times of a query, medians: a fresh session, the logical plan (tables
/// opened, derived nodes planned), and the optimized physical plan.
#[derive(Default)]
struct Planning {
    session: Vec<Duration>,
    logical: Vec<Duration>,
    physical: Vec<Duration>,
}

impl Planning {
    fn line(mut self) -> String {
        format!(
            "session {} + logical {} + physical {}",
            ms(median(std::mem::take(&mut self.session))),
            ms(median(std::mem::take(&mut self.logical))),
            ms(median(std::mem::take(&mut self.physical)))
        )
    }
}

/// The planning times (no execution) of queries `a` and `b`, as [`time_pair`] measures
/// whole queries.
async fn time_plans(
    fs: &tinyfs::FS,
    a: &str,
    b: &str,
    runs: usize,
) -> Result<(Planning, Planning)> {
    let mut samples = (Planning::default(), Planning::default());
    for _ in 0..runs {
        for (sql, out) in [(a, &mut samples.0), (b, &mut samples.1)] {
            let start = Instant::now();
            let session = PondSession::new(fs.root())?;
            let made = Instant::now();
            let df = session.context().sql(sql).await?;
            let logical = Instant::now();
            df.create_physical_plan().await?;
            out.session.push(made - start);
            out.logical.push(logical - made);
            out.physical.push(logical.elapsed());
        }
    }
    Ok(samples)
}

/// The peak resident memory of `pond ARGS`.
fn peak_rss(bin: &Path, pond_dir: &Path, args: &[&str]) -> Result<u64> {
    let mut cmd = Command::new(bin);
    cmd.arg("--pond").arg(pond_dir).args(args);
    Ok(crate::import::measure(cmd)?.1)
}

pub(crate) async fn chain(bin: &Path, source: &Path) -> Result<()> {
    let work = tempfile::tempdir()?;
    let (pond, pond_dir, _) = flights_pond(source, work.path()).await?;
    let registry = Registry::builtin(Some(pond.cache_dir()));
    let fs = registry.install(pond.fs());
    let tx = fs.begin(TxnMeta::default()).await?;
    tx.root().create_dir("/d").await?;
    for (path, config) in LEVELS {
        let (root, config) = (tx.root(), config.as_bytes());
        registry
            .mknod(&root, "sql-derived-series", path, config, false)
            .await?;
    }
    tx.commit().await?;
    println!(
        "series: {} in 30 versions; a chain of 3 derived series over it",
        source.display()
    );

    // Same answer both ways, then time each.
    let session = PondSession::new(fs.root())?;
    let a = arrow::util::pretty::pretty_format_batches(
        &collect(session.context(), &chain_query()).await?,
    )?
    .to_string();
    let b = arrow::util::pretty::pretty_format_batches(
        &collect(session.context(), &hand_query()).await?,
    )?
    .to_string();
    if a != b {
        bail!("the chain and the hand-written query disagree:\n{a}\n{b}");
    }
    let runs = 41;
    let (chained, hand) = time_pair(&fs, &chain_query(), &hand_query(), runs).await?;
    println!(
        "selective query (one week, one origin), median of {runs}: chain {}  by hand {}",
        ms(chained),
        ms(hand)
    );
    println!(
        "  time ratio chain / by hand: {:.3} (goal <= 1.05)",
        chained.as_secs_f64() / hand.as_secs_f64()
    );
    let (chain_plan, hand_plan) = time_plans(&fs, &chain_query(), &hand_query(), runs).await?;
    println!(
        "  planning alone, medians: chain {}\n                          by hand {}",
        chain_plan.line(),
        hand_plan.line()
    );
    let (chained, hand) = time_pair_warm(&fs, &chain_query(), &hand_query(), runs).await?;
    println!(
        "the same in one session (each node planned once per session), median of {runs}: chain {}  by hand {}",
        ms(chained),
        ms(hand)
    );
    println!(
        "  time ratio chain / by hand: {:.3} (goal <= 1.05)",
        chained.as_secs_f64() / hand.as_secs_f64()
    );
    let mut chain_mem = Vec::new();
    let mut hand_mem = Vec::new();
    for _ in 0..5 {
        chain_mem.push(peak_rss(bin, &pond_dir, &["query", &chain_query()])?);
        hand_mem.push(peak_rss(bin, &pond_dir, &["query", &hand_query()])?);
    }
    chain_mem.sort();
    hand_mem.sort();
    let (cm, hm) = (chain_mem[2], hand_mem[2]);
    println!(
        "peak resident memory of `pond query`, median of 5: chain {:.1} MiB  by hand {:.1} MiB",
        cm as f64 / 1_048_576.0,
        hm as f64 / 1_048_576.0
    );
    println!("  memory ratio: {:.3} (goal <= 1.2)", cm as f64 / hm as f64);

    // Materializing each level to Parquet and reading it back, then the same query.
    let mut samples = Vec::new();
    for run in 0..3 {
        let start = Instant::now();
        let session = PondSession::new(fs.root())?;
        let mut ctx = session.context().clone();
        let mut input = "\"/flights.series\"".to_string();
        for (i, (_, config)) in LEVELS.iter().enumerate() {
            let query = config
                .split_once("query: ")
                .map(|(_, q)| q.trim())
                .context("a query")?;
            let from = query.split(" FROM ").nth(1).context("FROM")?;
            let table = from.split_whitespace().next().context("a table")?;
            let sql = query.replacen(&format!("FROM {table}"), &format!("FROM {input}"), 1);
            let out = work.path().join(format!("level{run}-{i}.parquet"));
            ctx.sql(&sql)
                .await?
                .write_parquet(
                    out.to_str().context("UTF-8")?,
                    DataFrameWriteOptions::new().with_single_file_output(true),
                    None,
                )
                .await?;
            ctx = SessionContext::new();
            ctx.register_parquet(
                "level",
                out.to_str().context("UTF-8")?,
                ParquetReadOptions::default(),
            )
            .await?;
            input = "level".into();
        }
        collect(
            &ctx,
            &format!(
                "SELECT origin, count(*) AS n, avg(delay) AS d FROM level WHERE {WHERE} GROUP BY origin"
            ),
        )
        .await?;
        samples.push(start.elapsed());
    }
    let materialized = median(samples);
    println!(
        "materializing each level to Parquet and querying the last, median of 3: {}",
        ms(materialized)
    );
    println!(
        "  speed-up of the chain: {:.1}x (goal >= 4x)",
        materialized.as_secs_f64() / chained.as_secs_f64()
    );
    Ok(())
}

pub(crate) async fn csvdir(bin: &Path, source: &Path) -> Result<()> {
    let work = tempfile::tempdir()?;
    // A Parquet source is written out as CSV first (vega_flights_3m: about 100 MB).
    let csv = crate::import::csv_of(source, work.path()).await?;
    let csv = csv.as_path();
    let pond_dir = work.path().join("pond");
    let pond = Pond::init(&pond_dir).await?;
    // Nodes are made as `pond mknod` makes them; their checks convert into a scratch cache,
    // so the pond's own is cold for the first read timed.
    let registry = Registry::builtin(None);
    let tx = registry
        .install(pond.fs())
        .begin(TxnMeta::default())
        .await?;
    let root = tx.root();
    root.create_dir("/raw").await?;
    let mut writer = root
        .file_writer("/raw/big.csv", EntryType::FileData)
        .await?;
    let mut file = tokio::fs::File::open(csv).await?;
    tokio::io::copy(&mut file, &mut writer).await?;
    writer.finish().await?;
    let config = b"source: /raw/*.csv\n";
    registry.mknod(&root, "csvdir", "/t", config, false).await?;
    tx.commit().await?;
    let size = std::fs::metadata(csv)?.len();
    println!("csvdir over {} ({} MB)", csv.display(), size >> 20);
    let args = [
        "cat",
        "--sql",
        "SELECT count(*) AS n, avg(delay) AS d FROM source",
        "/t/big",
    ];
    let run = || -> Result<Duration> {
        let start = Instant::now();
        let status = Command::new(bin)
            .arg("--pond")
            .arg(&pond_dir)
            .args(args)
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("pond {args:?} failed");
        }
        Ok(start.elapsed())
    };
    let mut first = Vec::new();
    let mut second = Vec::new();
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(pond_dir.join("cache"));
        first.push(run()?);
        for _ in 0..3 {
            second.push(run()?);
        }
    }
    let (first, second) = (median(first), median(second));
    println!(
        "whole-process `pond cat --sql`: first read (converts) {}  later reads (cached Parquet) {}",
        ms(first),
        ms(second)
    );
    println!(
        "  ratio later / first: {:.3} (goal <= 0.2)",
        second.as_secs_f64() / first.as_secs_f64()
    );
    Ok(())
}

/// A pond of the live-ingest recipe: a hostmount of `files` daily CSV files (24 hourly
/// rows each), a csvdir of them as series, and a derived series over the csvdir.
async fn days_pond(work: &Path, files: usize) -> Result<std::path::PathBuf> {
    let host = work.join(format!("host{files}"));
    std::fs::create_dir_all(&host)?;
    let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("a date");
    for day in 0..files {
        let date = start + chrono::Days::new(day as u64);
        let mut csv = String::from("timestamp,level\n");
        for hour in 0..24 {
            csv.push_str(&format!("{date}T{hour:02}:00:00Z,{}.5\n", day * 24 + hour));
        }
        std::fs::write(host.join(format!("{date}.csv")), csv)?;
    }
    let pond_dir = work.join(format!("pond{files}"));
    let pond = Pond::init(&pond_dir).await?;
    // Made as `pond mknod` makes them; their checks convert into a scratch cache, so the
    // pond's own is cold for the first read timed.
    let registry = Registry::builtin(None);
    let tx = registry
        .install(pond.fs())
        .begin(TxnMeta::default())
        .await?;
    let root = tx.root();
    let mount = format!("directory: {}\n", host.display());
    for (factory, path, config) in [
        ("hostmount", "/host", mount.as_str()),
        (
            "csvdir",
            "/days",
            "source: /host/*.csv\nentry_type: series\n",
        ),
        (
            "sql-derived-series",
            "/levels.series",
            "patterns: {d: /days/*}\nquery: SELECT timestamp, level FROM d\n",
        ),
    ] {
        registry
            .mknod(&root, factory, path, config.as_bytes(), false)
            .await?;
    }
    tx.commit().await?;
    Ok(pond_dir)
}

/// A one-day window of a derived series over a csvdir of `files` daily CSV files ÷ the
/// same over 10 files, once every file is converted (whole process), and `describe` of
/// one entry the same way.
pub(crate) async fn days(bin: &Path, files: usize) -> Result<()> {
    let work = tempfile::tempdir()?;
    let day = "2020-01-05";
    let window = [
        "cat",
        "/levels.series",
        "--time-start",
        "2020-01-05T00:00:00Z",
        "--time-end",
        "2020-01-05T23:59:59Z",
    ];
    let entry = format!("/days/{day}");
    let describe = ["describe", entry.as_str()];
    let mut rows = Vec::new();
    for n in [10, files] {
        let pond_dir = days_pond(work.path(), n).await?;
        let first = crate::time_pond(bin, &pond_dir, &["cat", "/levels.series"], 1)?;
        let window = crate::time_pond(bin, &pond_dir, &window, 11)?;
        let describe = crate::time_pond(bin, &pond_dir, &describe, 11)?;
        rows.push((n, first, window, describe));
    }
    println!(
        "{:>6}  {:>22}  {:>14}  {:>14}",
        "files", "first read (converts)", "one-day window", "describe"
    );
    for (n, first, window, describe) in &rows {
        println!(
            "{n:>6}  {:>22}  {:>14}  {:>14}",
            ms(*first),
            ms(*window),
            ms(*describe)
        );
    }
    let ((_, _, w0, d0), (_, _, w1, d1)) = (&rows[0], &rows[1]);
    println!(
        "ratio {files} files ÷ 10: window {:.2}, describe {:.2}",
        w1.as_secs_f64() / w0.as_secs_f64(),
        d1.as_secs_f64() / d0.as_secs_f64()
    );
    Ok(())
}

//! `temporal-reduce` over a year of one-minute readings appended a day at a time: a daily
//! rollup of the year ÷ the same aggregate over the raw rows; the read after one more day
//! ÷ a cold build of the rollup; peak memory of the cold build.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use pond_factories::Registry;
use pond_sql::PondSession;
use tinyfs::TxnMeta;
use tlogfs::Pond;

use crate::{median, ms};

const MINUTE: i64 = 60_000_000;
/// 2024-01-01T00:00:00Z.
const START: i64 = 1_704_067_200_000_000;

/// Day `day` of readings, a row a minute, as a Parquet file at `path`.
fn write_day(path: &Path, day: i64) -> Result<()> {
    let from = START + day * 1440 * MINUTE;
    let times: Vec<i64> = (0..1440).map(|i| from + i * MINUTE).collect();
    let values: Vec<f64> = (0..1440)
        .map(|i| ((day * 1440 + i) as f64 / 500.0).sin() * 10.0 + 5.0)
        .collect();
    crate::write_readings(path, ("timestamp", times), ("level", values))
}

pub(crate) async fn append_day(pond: &Pond, work: &Path, day: i64, dest: &str) -> Result<()> {
    let file = work.join("day.parquet");
    write_day(&file, day)?;
    crate::import_series(pond, &file, dest, "timestamp").await
}

const ROLLUP: &str = "SELECT count(*), sum(level_avg * \"rows\") FROM \"/reduced/level/1d.series\"";
const RAW: &str = "SELECT count(*), sum(level) FROM (SELECT date_trunc('day', timestamp) AS d, \
    avg(level) AS level FROM \"/level.series\" GROUP BY 1)";

/// Runs `sql` on a new session of `pond` (so nothing is planned twice): its time.
async fn time(pond: &Pond, registry: &Arc<Registry>, sql: &str) -> Result<Duration> {
    let fs = registry.install(pond.fs());
    let start = Instant::now();
    let session = PondSession::new(fs.root())?;
    let batches = session.context().sql(sql).await?.collect().await?;
    if batches.iter().map(|b| b.num_rows()).sum::<usize>() != 1 {
        bail!("{sql}: not one row");
    }
    Ok(start.elapsed())
}

pub(crate) async fn run(bin: &Path, days: i64) -> Result<()> {
    let work = tempfile::tempdir()?;
    let pond_dir = work.path().join("pond");
    let pond = Pond::init(&pond_dir).await?;
    let start = Instant::now();
    for day in 0..days {
        append_day(&pond, work.path(), day, "/level.series").await?;
    }
    println!(
        "rollup: {days} days of one-minute readings ({} rows), appended a day at a time, in {:.1} s",
        days * 1440,
        start.elapsed().as_secs_f64()
    );
    let cache = pond.cache_dir();
    let registry = Registry::builtin(Some(cache.clone()));
    let tx = registry
        .install(pond.fs())
        .begin(TxnMeta::default())
        .await?;
    let config =
        b"in_pattern: /*.series\nresolutions: [1h, 1d]\naggregations:\n  level: [avg, min, max]\n";
    registry
        .mknod(&tx.root(), "temporal-reduce", "/reduced", config, false)
        .await?;
    tx.commit().await?;

    // A cold build, whole process (for its peak memory), then the same in-process.
    let _ = std::fs::remove_dir_all(cache.join("temporal-reduce"));
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--pond").arg(&pond_dir).args(["query", ROLLUP]);
    let (cold_process, rss) = crate::import::measure(cmd)?;
    let _ = std::fs::remove_dir_all(cache.join("temporal-reduce"));
    let cold = time(&pond, &registry, ROLLUP).await?;
    let mut warm = Vec::new();
    let mut raw = Vec::new();
    for _ in 0..5 {
        warm.push(time(&pond, &registry, ROLLUP).await?);
        raw.push(time(&pond, &registry, RAW).await?);
    }
    let (warm, raw) = (median(warm), median(raw));
    append_day(&pond, work.path(), days, "/level.series").await?;
    let after = time(&pond, &registry, ROLLUP).await?;
    println!(
        "  daily rollup of the whole series: {} ; the same aggregate over the raw rows: {}",
        ms(warm),
        ms(raw)
    );
    println!(
        "  ratio rollup ÷ raw: {:.3} (goal ≤ 0.05)",
        warm.as_secs_f64() / raw.as_secs_f64()
    );
    println!(
        "  cold build (every version reduced): {} in-process, {} whole process, peak RSS {} MB",
        ms(cold),
        ms(cold_process),
        rss >> 20
    );
    println!(
        "  read after appending one more day: {} ; ratio ÷ cold build: {:.3} (goal ≤ 0.02)",
        ms(after),
        after.as_secs_f64() / cold.as_secs_f64()
    );

    // What a chart asks for: the year at the resolution that fits 2,000 points, whole
    // process, against the raw year.
    let cat = |args: &[&str]| -> Result<Duration> {
        let mut samples = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let out = std::process::Command::new(bin)
                .arg("--pond")
                .arg(&pond_dir)
                .args(["-q", "cat", "--format", "csv"])
                .args(args)
                .output()?;
            if !out.status.success() {
                bail!(
                    "pond cat {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            samples.push(start.elapsed());
        }
        Ok(median(samples))
    };
    let auto = cat(&["--resolution", "auto", "/level.series"])?;
    let whole = cat(&["/level.series"])?;
    println!(
        "  cat --resolution auto of the series (picks 1d for 2,000 points): {} ; cat of the raw \
         rows: {} ; ratio {:.3}",
        ms(auto),
        ms(whole),
        auto.as_secs_f64() / whole.as_secs_f64()
    );
    Ok(())
}

//! Years of appends: a series of many appended versions against the same rows in one
//! version, whole process, each command's time and peak memory.
//!
//! The data is an instrument's: a reading a minute (time, temperature, level), one hour
//! per version. The long series is built by importing each hour as its own commit, and
//! compacting when due, as `pond copy --format series` does; the short one holds the same
//! rows in one version.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Result;
use tlogfs::Pond;

use crate::import::measure;
use crate::{median, meta, ms};

/// Rows per version: one hour, a reading a minute.
const ROWS: u64 = 60;

/// The CSV of hour `hour` (from 2024-01-01T00:00Z), one reading a minute.
fn hour_csv(hour: u64) -> String {
    let mut csv = String::from("time,temp,level\n");
    for minute in 0..ROWS {
        let t = (hour * 60 + minute) as f64;
        let when =
            chrono::DateTime::from_timestamp(1_704_067_200 + (hour * 3600 + minute * 60) as i64, 0)
                .expect("in range")
                .format("%Y-%m-%dT%H:%M:%SZ");
        csv.push_str(&format!(
            "{when},{:.3},{:.2}\n",
            12.0 + (t / 1440.0 * std::f64::consts::TAU).sin() * 4.0,
            100.0 + (t / 97.0).cos() * 3.0
        ));
    }
    csv
}

/// Imports hours `hours` into `dest`, each its own commit, each followed by the
/// compaction commit `pond copy` makes when one is due.
async fn append_hours(
    pond: &Pond,
    dir: &Path,
    dest: &str,
    hours: std::ops::Range<u64>,
) -> Result<()> {
    let options = crate::series_import("time");
    let file = dir.join("hour.csv");
    for hour in hours {
        std::fs::write(&file, hour_csv(hour))?;
        let tx = pond.fs().begin(meta()).await?;
        pond_sql::import_file(&tx.root(), &file, dest, &options, &mut |_, _| {}).await?;
        tx.commit().await?;
        let tx = pond.fs().begin(meta()).await?;
        pond_sql::compact_series(&tx.root(), dest).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// One command's time and peak memory: the median of `runs` whole-process runs.
fn pond_cmd(bin: &Path, pond: &Path, args: &[&str], runs: usize) -> Result<(Duration, u64)> {
    let mut times = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..runs {
        let mut cmd = Command::new(bin);
        cmd.arg("--pond").arg(pond).args(args);
        let (t, m) = measure(cmd)?;
        times.push(t);
        peaks.push(m);
    }
    Ok((median(times), median(peaks)))
}

/// Appends the next `runs` hours to `dest` with `pond copy`, each timed.
fn time_appends(
    bin: &Path,
    pond: &Path,
    work: &Path,
    dest: &str,
    first_hour: u64,
    runs: usize,
) -> Result<(Duration, u64)> {
    let mut times = Vec::new();
    let mut peaks = Vec::new();
    for hour in first_hour..first_hour + runs as u64 {
        let file = work.join(format!("append-{hour}.csv"));
        std::fs::write(&file, hour_csv(hour))?;
        let mut cmd = Command::new(bin);
        cmd.arg("--pond")
            .arg(pond)
            .args(["copy", "--format", "series"])
            .arg(&file)
            .arg(dest);
        let (t, m) = measure(cmd)?;
        times.push(t);
        peaks.push(m);
    }
    Ok((median(times), median(peaks)))
}

pub(crate) async fn run(bin: &Path, versions: u64, runs: usize, keep: Option<&Path>) -> Result<()> {
    let work = tempfile::tempdir()?;
    let dir = match keep {
        Some(dir) => dir.to_path_buf(),
        None => work.path().join("pond"),
    };
    let pond = Pond::init(&dir).await?;
    let start = Instant::now();
    append_hours(&pond, work.path(), "/long.series", 0..versions).await?;
    let built = start.elapsed();
    // The same rows as one version.
    let all = work.path().join("all.csv");
    let mut csv = String::from("time,temp,level\n");
    for hour in 0..versions {
        csv.push_str(hour_csv(hour).split_once('\n').expect("a header").1);
    }
    std::fs::write(&all, csv)?;
    crate::import_series(&pond, &all, "/short.series", "time").await?;
    drop(pond);
    println!(
        "versions: /long.series built of {versions} appended versions ({} rows each) in {:.1} s; /short.series the same {} rows in one",
        ROWS,
        built.as_secs_f64(),
        versions * ROWS
    );

    // The last day of the long series.
    let end = chrono::DateTime::from_timestamp(1_704_067_200 + (versions * 3600) as i64, 0)
        .expect("in range");
    let (from, to) = (
        (end - chrono::Duration::days(1))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    let aggregate = "SELECT count(*) AS n, avg(temp) AS t, max(level) AS l FROM source";
    let commands: Vec<(&str, Vec<String>)> = vec![
        (
            "last-day window",
            vec![
                "cat".into(),
                "--time-start".into(),
                from,
                "--time-end".into(),
                to,
            ],
        ),
        (
            "full aggregate",
            vec!["cat".into(), "--sql".into(), aggregate.into()],
        ),
        ("describe", vec!["describe".into()]),
        ("list -l", vec!["list".into(), "-l".into()]),
    ];
    println!(
        "{:<22} {:>12} {:>12} {:>7}   {:>8} {:>8} {:>7}",
        "command",
        "1 version",
        format!("{versions} versions"),
        "ratio",
        "RSS 1",
        "RSS N",
        "ratio"
    );
    let row = |name: &str, short: (Duration, u64), long: (Duration, u64)| {
        println!(
            "{name:<22} {:>12} {:>12} {:>7.2}   {:>6} MB {:>6} MB {:>7.2}",
            ms(short.0),
            ms(long.0),
            long.0.as_secs_f64() / short.0.as_secs_f64(),
            short.1 >> 20,
            long.1 >> 20,
            long.1 as f64 / short.1 as f64
        );
    };
    for (name, args) in &commands {
        let with = |path: &'static str| {
            let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
            a.push(path);
            a
        };
        let short = pond_cmd(bin, &dir, &with("/short.series"), runs)?;
        let long = pond_cmd(bin, &dir, &with("/long.series"), runs)?;
        row(name, short, long);
    }
    // Appends: the first ones, to a new series, against the last ones, to the long one.
    let first = time_appends(bin, &dir, work.path(), "/new.series", 0, runs)?;
    let last = time_appends(bin, &dir, work.path(), "/long.series", versions, runs)?;
    row("append one version", first, last);
    println!("(goals at 10,000 versions: append ≤ 1.3, every other ratio ≤ 1.5)");
    Ok(())
}

//! `pond sync` of an instrument's export directory, the hourly job: the first sync, a sync
//! with nothing to do ÷ reading and hashing the directory in one process (the floor of any
//! sync by content hash), a sync after one file grew by an hour ÷ one with nothing to do,
//! and that again after hundreds of synced appends ÷ after one.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::{median, ms, time_pond};

/// One day of readings, every minute: about 45 KB.
fn day_csv(day: u64) -> String {
    let mut text = String::from("time,level,temperature\n");
    for minute in 0..1440 {
        text.push_str(&hour_line(day * 1440 + minute));
    }
    text
}

fn hour_line(minute: u64) -> String {
    let (day, rest) = (minute / 1440, minute % 1440);
    format!(
        "2020-{:02}-{:02}T{:02}:{:02}:00Z,{}.{},{}\n",
        1 + day / 28 % 12,
        1 + day % 28,
        rest / 60,
        rest % 60,
        minute % 97,
        minute % 10,
        minute % 31
    )
}

/// Reads and hashes every file in `dir`.
fn hash_dir(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let file = std::fs::File::open(entry?.path())?;
        blake3::Hasher::new().update_reader(file)?;
    }
    Ok(())
}

/// Appends an hour of minutes to the live file.
fn grow(live: &Path, hour: u64) -> Result<()> {
    let mut file = std::fs::OpenOptions::new().append(true).open(live)?;
    for minute in hour * 60..(hour + 1) * 60 {
        file.write_all(hour_line(minute).as_bytes())?;
    }
    Ok(())
}

pub(crate) fn run(bin: &Path, files: u64, appends: u64) -> Result<()> {
    let work = tempfile::tempdir()?;
    let host = work.path().join("export");
    std::fs::create_dir(&host)?;
    for day in 0..files {
        std::fs::write(host.join(format!("day{day:05}.csv")), day_csv(day))?;
    }
    let live = host.join("live.csv");
    std::fs::write(&live, "time,level,temperature\n")?;
    grow(&live, 0)?;
    let bytes: u64 = std::fs::read_dir(&host)?
        .map(|e| Ok(e?.metadata()?.len()))
        .sum::<Result<u64>>()?;
    let pond = work.path().join("pond");
    time_pond(bin, &pond, &["init"], 1)?;
    let host_arg = host.to_string_lossy().to_string();
    let sync = [
        "sync",
        "-q",
        "--format",
        "series",
        host_arg.as_str(),
        "/sensors",
    ];

    let start = Instant::now();
    time_pond(bin, &pond, &sync, 1)?;
    let first = start.elapsed();
    println!(
        "first sync of {} files ({:.1} MB) as series: {}",
        files + 1,
        bytes as f64 / 1e6,
        ms(first)
    );

    let runs = 5;
    let idle = time_pond(bin, &pond, &sync, runs)?;
    let mut hashing = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        hash_dir(&host)?;
        hashing.push(start.elapsed());
    }
    let hashing = median(hashing);
    println!(
        "sync with nothing to do: {}; reading and hashing the directory: {}; ratio {:.2}",
        ms(idle),
        ms(hashing),
        ratio(idle, hashing)
    );

    let grown = |from: u64| -> Result<Duration> {
        let mut samples = Vec::new();
        for hour in from..from + runs as u64 {
            grow(&live, hour)?;
            let start = Instant::now();
            time_pond(bin, &pond, &sync, 1)?;
            samples.push(start.elapsed());
        }
        Ok(median(samples))
    };
    let early = grown(1)?;
    println!(
        "sync after the live file grew by an hour: {}; ÷ nothing to do: {:.2}",
        ms(early),
        ratio(early, idle)
    );
    for hour in 1 + runs as u64..appends {
        grow(&live, hour)?;
        time_pond(bin, &pond, &sync, 1)?;
    }
    let late = grown(appends)?;
    let idle_late = time_pond(bin, &pond, &sync, runs)?;
    println!(
        "after {} synced appends: grown by an hour {} (÷ after {}: {:.2}), nothing to do {} (÷ before: {:.2})",
        appends + runs as u64,
        ms(late),
        1 + runs,
        ratio(late, early),
        ms(idle_late),
        ratio(idle_late, idle)
    );
    Ok(())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

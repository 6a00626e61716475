//! `pond serve` under load: chart data of a year of one-minute readings at the default
//! viewport, p50 and p99 latency under concurrent clients on loopback, bytes per
//! response, and the server's peak memory; once where a temporal-reduce rolls the series
//! up, once where the server decimates the raw rows.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pond_factories::Registry;
use tinyfs::TxnMeta;
use tlogfs::Pond;

use crate::ms;

const MINUTE: i64 = 60_000_000;
/// 2024-01-01T00:00:00Z, where the readings start.
const START: i64 = 1_704_067_200_000_000;

/// `GET path` from `host`: the status and the body's length.
fn get(host: &str, path: &str) -> Result<(u16, usize)> {
    let mut stream = TcpStream::connect(host)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no header")?;
    let status = std::str::from_utf8(&raw[9..12])?.parse()?;
    Ok((status, raw.len() - split - 4))
}

/// A value at quantile `q` of sorted `samples`.
fn quantile(samples: &[Duration], q: f64) -> Duration {
    samples[((samples.len() - 1) as f64 * q).round() as usize]
}

/// `clients` threads each asking `requests` times for `path(client, request)`:
/// latencies (sorted), bytes of the last response, and the wall time of it all.
fn load(
    host: &str,
    path: fn(&str, usize) -> String,
    base: &str,
    clients: usize,
    requests: usize,
) -> Result<(Vec<Duration>, usize, Duration)> {
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let (host, base) = (host.to_string(), base.to_string());
            std::thread::spawn(move || -> Result<(Vec<Duration>, usize)> {
                let mut out = Vec::with_capacity(requests);
                let mut bytes = 0;
                for request in 0..requests {
                    let path = path(&base, client * requests + request);
                    let at = Instant::now();
                    let (status, size) = get(&host, &path)?;
                    if status != 200 {
                        bail!("{path}: status {status}");
                    }
                    out.push(at.elapsed());
                    bytes = size;
                }
                Ok((out, bytes))
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut bytes = 0;
    for t in threads {
        let (samples, size) = t
            .join()
            .map_err(|_| anyhow::anyhow!("a client panicked"))??;
        all.extend(samples);
        bytes = size;
    }
    all.sort();
    Ok((all, bytes, start.elapsed()))
}

/// The peak resident memory of process `pid`, from /proc.
fn peak_rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("no VmHWM value")?
        .parse()?;
    Ok(kib * 1024)
}

pub(crate) async fn run(bin: &Path, days: i64, clients: usize, requests: usize) -> Result<()> {
    let work = tempfile::tempdir()?;
    let pond_dir = work.path().join("pond");
    let pond = Pond::init(&pond_dir).await?;
    let start = Instant::now();
    for day in 0..days {
        crate::rollup::append_day(&pond, work.path(), day, "/level.series").await?;
        crate::rollup::append_day(&pond, work.path(), day, "/plain.series").await?;
    }
    let registry = Registry::builtin(Some(pond.cache_dir()));
    let tx = registry
        .install(pond.fs())
        .begin(TxnMeta::default())
        .await?;
    let config = b"in_pattern: /level.series\nresolutions: [15m, 1h, 1d]\naggregations:\n  level: [avg, min, max]\n";
    registry
        .mknod(&tx.root(), "temporal-reduce", "/reduced", config, false)
        .await?;
    tx.commit().await?;
    println!(
        "serve: two series of {days} days of one-minute readings ({} rows each, a version a day), one under a temporal-reduce (15m, 1h, 1d), made in {:.1} s",
        days * 1440,
        start.elapsed().as_secs_f64()
    );

    // The rollups' cold build, as `pond serve` makes it when it starts.
    let started = Instant::now();
    let warmed = pond_serve::warm_rollups(&registry.install(pond.fs()).root()).await?;
    println!(
        "  building {warmed} rollups (every version reduced once, coarser levels folded): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut server = Command::new(bin)
        .arg("--pond")
        .arg(&pond_dir)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(server.stdout.take().context("stdout")?).read_line(&mut line)?;
    let host = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .context("the server's address")?
        .trim_end_matches('/')
        .to_string();
    let result = (|| -> Result<()> {
        // The same viewport for every client (as viewers of one dashboard ask), then a
        // different window each request (a year starting a minute later each time), which
        // no answer kept serves.
        let same: fn(&str, usize) -> String = |base, _| base.to_string();
        let distinct: fn(&str, usize) -> String = |base, i| {
            let start = START + i as i64 * MINUTE;
            format!("{base}&start={start}&end={}", start + 364 * 1440 * MINUTE)
        };
        for (base, what) in [
            ("/api/chart/level.series?width=1000", "rollup"),
            ("/api/chart/plain.series?width=1000", "decimated"),
            (
                "/api/chart/level.series?width=1000&start=2024-06-01T00:00:00Z&end=2024-06-08T00:00:00Z",
                "a week, rollup",
            ),
        ] {
            let at = Instant::now();
            let (status, bytes) = get(&host, base)?;
            if status != 200 {
                bail!("{base}: status {status}");
            }
            let first = at.elapsed();
            println!(
                "  {what}: {base}\n    first request {} ({:.1} KB)",
                ms(first),
                bytes as f64 / 1000.0
            );
            for (path, how) in [(same, "the same viewport"), (distinct, "distinct windows")] {
                if what.starts_with("a week") && how == "distinct windows" {
                    continue;
                }
                let (samples, bytes, wall) = load(&host, path, base, clients, requests)?;
                let n = samples.len();
                println!(
                    "    {how}, {clients} clients x {requests}: p50 {}  p99 {}  max {}  ({:.0} requests/s); {:.1} KB a response (goal <= 100 KB)",
                    ms(quantile(&samples, 0.5)),
                    ms(quantile(&samples, 0.99)),
                    ms(samples[n - 1]),
                    n as f64 / wall.as_secs_f64(),
                    bytes as f64 / 1000.0
                );
            }
            println!(
                "    server peak RSS so far: {:.1} MiB",
                peak_rss(server.id())? as f64 / 1_048_576.0
            );
        }
        Ok(())
    })();
    let _ = server.kill();
    let _ = server.wait();
    result
}

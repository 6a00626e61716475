//! A pond on an S3 server (moto's, started on 127.0.0.1 as the tests start it): a window
//! query on a 1 GB series there ÷ on the same pond locally, in bytes fetched and time; a
//! push of it and an incremental push; a clone ÷ a plain copy of its objects; commit
//! latency; and eight writers committing at once.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use arrow::array::RecordBatch;
use futures::TryStreamExt;
use pond_sql::PondSession;
use tinyfs::{EntryType, TxnMeta};
use tlogfs::Pond;
use tlogfs::store::Store;
use tlogfs::testkit::S3Server;

use crate::{median, ms};

/// Rows a day: one every 80 ms.
const ROWS_A_DAY: i64 = 1_080_000;
/// What a day of the series takes in Parquet, about.
const DAY_MB: usize = 8;
const DAY_MICROS: i64 = 86_400_000_000;
/// 2024-01-01T00:00:00Z.
const START: i64 = 1_704_067_200_000_000;

/// Writes day `day` of the series (time, value; values that do not compress) as a Parquet
/// file at `path`.
fn write_day(path: &Path, day: i64) -> Result<()> {
    let step = DAY_MICROS / ROWS_A_DAY;
    let from = START + day * DAY_MICROS;
    let times: Vec<i64> = (0..ROWS_A_DAY).map(|i| from + i * step).collect();
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ day as u64;
    let values: Vec<f64> = (0..ROWS_A_DAY)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect();
    crate::write_readings(path, ("time", times), ("value", values))
}

/// Imports day `day` into `/s.series` of `pond`, from a Parquet file in `work`.
async fn import_day(pond: &Pond, work: &Path, day: i64) -> Result<()> {
    let file = work.join(format!("day{day}.parquet"));
    write_day(&file, day)?;
    crate::import_series(pond, &file, "/s.series", "time").await?;
    std::fs::remove_file(&file)?;
    Ok(())
}

/// One hour of day 20, aggregated.
const WINDOW: &str = "SELECT count(*) AS n, avg(value) AS v FROM \"/s.series\" \
    WHERE time >= '2024-01-21T06:00:00Z' AND time < '2024-01-21T07:00:00Z'";

/// Runs [`WINDOW`] on a new connection to `store`: the time of the query (after opening),
/// and the bytes it fetched, with those opening fetched.
async fn window(store: Store) -> Result<(Duration, u64, u64)> {
    let pond = Pond::connect(store).await?;
    let opened = pond.store().bytes_fetched();
    let start = Instant::now();
    let session = PondSession::new(pond.fs().root())?;
    let batches: Vec<RecordBatch> = session
        .context()
        .sql(WINDOW)
        .await?
        .execute_stream()
        .await?
        .try_collect()
        .await?;
    let took = start.elapsed();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows != 1 {
        bail!("the window query gave {rows} rows");
    }
    Ok((took, pond.store().bytes_fetched() - opened, opened))
}

/// Copies every object below `from` into the directory `to` as a plain object-store copy
/// does (list, get, write, fsync): its bytes.
async fn plain_copy(from: &Store, to: &Path) -> Result<u64> {
    let mut bytes = 0;
    for key in from.list("").await? {
        let Some(data) = from.get(&key).await? else {
            continue;
        };
        let path = to.join(&key);
        std::fs::create_dir_all(path.parent().expect("a key has a directory"))?;
        let mut file = std::fs::File::create(&path)?;
        std::io::Write::write_all(&mut file, &data)?;
        file.sync_all()?;
        bytes += data.len() as u64;
    }
    Ok(bytes)
}

pub(crate) async fn run(bin: &Path, megabytes: usize) -> Result<()> {
    let server = S3Server::start();
    let work = tempfile::tempdir()?;
    let local = work.path().join("pond");
    let days = (megabytes.div_ceil(DAY_MB) as i64).max(24);
    let pond = Pond::init(&local).await?;
    for day in 0..days {
        import_day(&pond, work.path(), day).await?;
    }
    let body_bytes: u64 = pond
        .fs()
        .root()
        .versions("/s.series")
        .await?
        .iter()
        .map(|v| v.size)
        .sum();
    println!(
        "s3: a series of {days} daily versions, {} MB of Parquet, on a local S3 server",
        body_bytes >> 20
    );

    // Push it all.
    let remote = server.store("bench");
    let start = Instant::now();
    let pushed = tlogfs::replica::replicate(&Store::local(&local), &remote).await?;
    let took = start.elapsed();
    println!(
        "  push of the whole pond: {} ({:.0} MB/s, {} MB sent)",
        ms(took),
        pushed.bytes as f64 / (1 << 20) as f64 / took.as_secs_f64(),
        pushed.bytes >> 20
    );

    // The window query, there and here.
    let runs = 5;
    let mut there = Vec::new();
    let mut here = Vec::new();
    let (mut fetched, mut opening) = (0, 0);
    for _ in 0..runs {
        let (t, f, o) = window(server.store("bench")).await?;
        there.push(t);
        (fetched, opening) = (f, o);
        here.push(window(Store::local(&local)).await?.0);
    }
    let (there, here) = (median(there), median(here));
    println!(
        "  one hour's window: on S3 {} fetching {:.2} MB (opening the pond fetched {:.1} KB more); \
         locally {}",
        ms(there),
        fetched as f64 / (1 << 20) as f64,
        opening as f64 / 1024.0,
        ms(here)
    );
    println!(
        "  ratio bytes fetched ÷ body bytes: {:.4} (goal ≤ 0.05); time on S3 ÷ locally: {:.2}",
        fetched as f64 / body_bytes as f64,
        there.as_secs_f64() / here.as_secs_f64()
    );

    // One more day, pushed.
    import_day(&pond, work.path(), days).await?;
    let version_bytes = pond
        .fs()
        .root()
        .versions("/s.series")
        .await?
        .last()
        .map_or(0, |v| v.size);
    let start = Instant::now();
    let pushed = tlogfs::replica::replicate(&Store::local(&local), &remote).await?;
    let took = start.elapsed();
    println!(
        "  incremental push of one new version ({:.1} MB): {} sent in {}; ratio sent ÷ version: {:.3} (goal ≤ 1.5 + the log)",
        version_bytes as f64 / (1 << 20) as f64,
        pushed.bytes,
        ms(took),
        pushed.bytes as f64 / version_bytes as f64
    );

    // A clone ÷ a plain copy of the objects.
    let clone = work.path().join("clone");
    let url = server.url("bench");
    let start = Instant::now();
    let out = std::process::Command::new(bin)
        .args(["clone", &url, &clone.to_string_lossy()])
        .envs(server.env())
        .output()?;
    let cloned = start.elapsed();
    if !out.status.success() {
        bail!(
            "pond clone failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let start = Instant::now();
    let copied = plain_copy(&remote, &work.path().join("plain")).await?;
    let plain = start.elapsed();
    println!(
        "  pond clone (whole process) {}  plain object copy {} ({} MB); ratio {:.2} (goal ≤ 1.3)",
        ms(cloned),
        ms(plain),
        copied >> 20,
        cloned.as_secs_f64() / plain.as_secs_f64()
    );
    drop(pond);

    // Commit latency, one writer.
    let pond = Pond::connect(server.store("bench")).await?;
    let mut samples = Vec::new();
    for i in 0..50 {
        let start = Instant::now();
        let tx = pond.fs().begin(TxnMeta::default()).await?;
        tx.root()
            .write_file(
                "/note.txt",
                EntryType::FileData,
                format!("{i}\n").as_bytes(),
            )
            .await?;
        tx.commit().await?;
        samples.push(start.elapsed());
    }
    println!(
        "  commit of a small file on S3, median of 50: {}",
        ms(median(samples))
    );

    // Eight writers at once, each through its own connection.
    let (writers, commits) = (8u64, 50u64);
    let base = Pond::connect(server.store("bench")).await?.version();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = server.store("bench");
        tasks.push(tokio::spawn(async move {
            let pond = Pond::connect(store).await?;
            let mut acknowledged = Vec::new();
            for c in 0..commits {
                let tx = pond.fs().begin(TxnMeta::default()).await?;
                tx.root()
                    .write_file(
                        format!("/writer{w}.txt").as_str(),
                        EntryType::FileData,
                        format!("{c}\n").as_bytes(),
                    )
                    .await?;
                if let Some(v) = tx.commit().await? {
                    acknowledged.push(v);
                }
            }
            anyhow::Ok(acknowledged)
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await??);
    }
    let took = start.elapsed();
    let pond = Pond::connect(server.store("bench")).await?;
    let mut present = 0;
    for w in 0..writers {
        present += pond
            .fs()
            .root()
            .versions(format!("/writer{w}.txt").as_str())
            .await?
            .len() as u64;
    }
    acknowledged.sort();
    acknowledged.dedup();
    println!(
        "  {writers} writers × {commits} commits at once: {} acknowledged, {} versions present, \
         pond version {} → {}, in {} ({:.1} commits/s)",
        acknowledged.len(),
        present,
        base,
        pond.version(),
        ms(took),
        (writers * commits) as f64 / took.as_secs_f64()
    );
    if acknowledged.len() as u64 != writers * commits || present != writers * commits {
        bail!("an acknowledged commit is missing");
    }
    Ok(())
}

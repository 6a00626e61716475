//! The series benchmark: pond's scan against DataFusion's own ListingTable over the same
//! Parquet files, in the same process and run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::TryStreamExt;
use pond_sql::PondSession;
use tinyfs::{EntryType, TxnMeta};
use tlogfs::Pond;

use crate::{median, ms, time_pond};

const AGGREGATE: &str =
    "SELECT origin, count(*) AS n, avg(delay) AS d FROM {t} GROUP BY origin ORDER BY origin";
const ONE_DAY: &str = "SELECT origin, count(*) AS n, avg(delay) AS d FROM {t} WHERE date >= '2001-03-01T00:00:00' AND date < '2001-03-02T00:00:00' GROUP BY origin ORDER BY origin";

async fn run_sql(ctx: &SessionContext, sql: &str) -> Result<(Duration, usize)> {
    let start = Instant::now();
    let batches: Vec<_> = ctx
        .sql(sql)
        .await?
        .execute_stream()
        .await?
        .try_collect()
        .await?;
    Ok((start.elapsed(), batches.iter().map(|b| b.num_rows()).sum()))
}

async fn best_of(ctx: &SessionContext, sql: &str, runs: usize) -> Result<Duration> {
    let mut samples = Vec::new();
    for _ in 0..runs {
        samples.push(run_sql(ctx, sql).await?.0);
    }
    Ok(median(samples))
}

/// Splits `source` into `parts` Parquet files by its `date` column, in `dir`.
/// A DataFusion session with the Parquet file or directory `path` as table `name`.
async fn parquet_context(name: &str, path: &Path) -> Result<SessionContext> {
    let ctx = SessionContext::new();
    ctx.register_parquet(
        name,
        path.to_str().context("UTF-8 path")?,
        ParquetReadOptions::default(),
    )
    .await?;
    Ok(ctx)
}

async fn split(source: &Path, dir: &Path, parts: usize) -> Result<Vec<std::path::PathBuf>> {
    let ctx = parquet_context("src", source).await?;
    let bounds = ctx
        .sql("SELECT CAST(min(date) AS BIGINT) AS lo, CAST(max(date) AS BIGINT) AS hi FROM (SELECT arrow_cast(date, 'Timestamp(Microsecond, None)') AS date FROM src)")
        .await?
        .collect()
        .await?;
    let col = |i: usize| {
        bounds[0]
            .column(i)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .expect("bigint")
            .value(0)
    };
    let (lo, hi) = (col(0), col(1) + 1);
    let step = (hi - lo + parts as i64 - 1) / parts as i64;
    let mut files = Vec::new();
    for i in 0..parts as i64 {
        let (a, b) = (lo + i * step, (lo + (i + 1) * step).min(hi));
        let sql = format!(
            "SELECT * FROM src WHERE arrow_cast(date, 'Timestamp(Microsecond, None)') >= arrow_cast({a}, 'Timestamp(Microsecond, None)') AND arrow_cast(date, 'Timestamp(Microsecond, None)') < arrow_cast({b}, 'Timestamp(Microsecond, None)') ORDER BY date"
        );
        let path = dir.join(format!("part-{i:02}.parquet"));
        write_parquet(&ctx.sql(&sql).await?.collect().await?, &path)?;
        files.push(path);
    }
    Ok(files)
}

/// The first `rows` rows of `source`, as Parquet at `dest`.
async fn write_slice(source: &Path, dest: &Path, rows: usize) -> Result<()> {
    let ctx = parquet_context("src", source).await?;
    let batches = ctx
        .sql(&format!("SELECT * FROM src LIMIT {rows}"))
        .await?
        .collect()
        .await?;
    write_parquet(&batches, dest)
}

fn write_parquet(batches: &[arrow::array::RecordBatch], dest: &Path) -> Result<()> {
    let schema = batches
        .first()
        .map(|b| b.schema())
        .context("no rows to write")?;
    let batches = batches.iter().cloned().map(Ok::<_, pond_sql::Error>);
    let file = std::fs::File::create(dest)?;
    let properties = pond_sql::writer_properties();
    pond_sql::write_parquet_blocking(file, schema, properties, batches, "the sample")?;
    Ok(())
}

async fn import_all(pond: &Pond, files: &[std::path::PathBuf], dest: &str) -> Result<()> {
    for file in files {
        crate::import_series(pond, file, dest, "date").await?;
    }
    Ok(())
}

/// `dest` made of `copies` versions, each the Parquet file `file`: imported once, then its
/// body appended again as is with the same recorded range (an import would refuse a
/// version with the rows of one the series has). Identical bodies are stored once: what
/// this measures is reading metadata, not bytes.
async fn repeat_version(pond: &Pond, file: &Path, dest: &str, copies: usize) -> Result<()> {
    import_all(pond, &[file.to_path_buf()], dest).await?;
    let root = pond.fs().root();
    let first = root.versions(dest).await?.remove(0);
    let body = std::fs::read(file)?;
    let tx = pond.fs().begin(TxnMeta::default()).await?;
    for _ in 1..copies {
        let mut writer = tx.root().file_writer(dest, EntryType::FileSeries).await?;
        if let Some(range) = &first.event_time {
            writer.set_event_time(range.clone());
        }
        if let Some(rows) = first.rows {
            writer.set_rows(rows);
        }
        tokio::io::AsyncWriteExt::write_all(&mut writer, &body).await?;
        writer.finish().await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A pond in `work` holding `source` as `/flights.series`, 30 versions split by date;
/// returns it, its directory, and the directory of the 30 Parquet files.
pub(crate) async fn flights_pond(
    source: &Path,
    work: &Path,
) -> Result<(Pond, std::path::PathBuf, std::path::PathBuf)> {
    let parts_dir = work.join("parts");
    std::fs::create_dir_all(&parts_dir)?;
    let files = split(source, &parts_dir, 30).await?;
    let pond_dir = work.join("pond");
    let pond = Pond::init(&pond_dir).await?;
    import_all(&pond, &files, "/flights.series").await?;
    Ok((pond, pond_dir, parts_dir))
}

pub(crate) async fn run(bin: &Path, source: &Path, copies: usize) -> Result<()> {
    let work = tempfile::tempdir()?;
    let (pond, pond_dir, parts_dir) = flights_pond(source, work.path()).await?;
    println!(
        "series: {} split into 30 versions by date",
        source.display()
    );

    let listing = parquet_context("flights", &parts_dir).await?;
    let session = PondSession::new(pond.fs().root())?;
    let pond_ctx = session.context();
    let pond_name = "\"/flights.series\"";
    let runs = 7;
    // Warm both (page cache, footers), then measure each several times.
    run_sql(&listing, &AGGREGATE.replace("{t}", "flights")).await?;
    run_sql(pond_ctx, &AGGREGATE.replace("{t}", pond_name)).await?;
    let native = best_of(&listing, &AGGREGATE.replace("{t}", "flights"), runs).await?;
    let ours = best_of(pond_ctx, &AGGREGATE.replace("{t}", pond_name), runs).await?;
    println!(
        "GROUP BY origin, median of {runs}: pond {}  DataFusion ListingTable {}",
        ms(ours),
        ms(native)
    );
    println!(
        "  ratio pond / ListingTable: {:.3} (goal <= 1.10)",
        ours.as_secs_f64() / native.as_secs_f64()
    );

    let day = best_of(pond_ctx, &ONE_DAY.replace("{t}", pond_name), runs).await?;
    println!("one-day range {} vs full scan {}", ms(day), ms(ours));
    println!(
        "  ratio one day / full: {:.3} (goal <= 0.05)",
        day.as_secs_f64() / ours.as_secs_f64()
    );
    let native_day = best_of(&listing, &ONE_DAY.replace("{t}", "flights"), runs).await?;
    println!(
        "  (the same range on ListingTable, which cannot skip files by the recorded range: {})",
        ms(native_day)
    );

    // describe reads metadata only: a ~1 GB series against a ~1 MB one with as many
    // versions, in the same pond (describe reads one footer per version, whatever its size).
    let slice = work.path().join("slice.parquet");
    write_slice(source, &slice, 1000).await?;
    repeat_version(&pond, &slice, "/small.series", copies).await?;
    repeat_version(&pond, source, "/big.series", copies).await?;
    let big_bytes: u64 = pond
        .fs()
        .root()
        .versions("/big.series")
        .await?
        .iter()
        .map(|v| v.size)
        .sum();
    let small_bytes: u64 = pond
        .fs()
        .root()
        .versions("/small.series")
        .await?
        .iter()
        .map(|v| v.size)
        .sum();
    let d_big = time_pond(bin, &pond_dir, &["describe", "/big.series"], 11)?;
    let d_small = time_pond(bin, &pond_dir, &["describe", "/small.series"], 11)?;
    println!(
        "describe ({copies} versions each): {} MB series {}  vs  {:.1} MB series {}",
        big_bytes >> 20,
        ms(d_big),
        small_bytes as f64 / 1_048_576.0,
        ms(d_small)
    );
    println!(
        "  ratio: {:.2} (goal <= 1.5)",
        d_big.as_secs_f64() / d_small.as_secs_f64()
    );
    Ok(())
}

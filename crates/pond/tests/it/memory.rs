//! A query over a series far larger than the memory it runs in.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Float64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use crate::support::TestPond;

const ROWS_PER_VERSION: i64 = 2_000_000;
const VERSIONS: i64 = 4;
/// Two 8-byte columns: what the series takes decoded in memory.
const DECODED_BYTES: u64 = (ROWS_PER_VERSION * VERSIONS * 16) as u64;

/// Writes one version: a timestamp per second and a slowly varying value. It compresses
/// to little on disk; decoded it is 32 MB.
fn write_version(path: &std::path::Path, version: i64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("value", DataType::Float64, false),
    ]));
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
    let start = version * ROWS_PER_VERSION;
    for chunk in (0..ROWS_PER_VERSION).step_by(500_000) {
        let n = 500_000.min(ROWS_PER_VERSION - chunk);
        let ts = (start + chunk..start + chunk + n).map(|s| s * 1_000_000);
        let value = (start + chunk..start + chunk + n).map(|i| (i % 1000) as f64);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(TimestampMicrosecondArray::from_iter_values(ts)),
                Arc::new(Float64Array::from_iter_values(value)),
            ],
        )
        .unwrap();
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
}

/// The peak resident memory of `child`, in bytes, sampled from /proc until it exits.
fn peak_rss(mut child: std::process::Child) -> (std::process::ExitStatus, u64, String) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kb * 1024);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    (status, peak, out)
}

#[test]
fn a_series_larger_than_memory_streams() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: peak memory cannot be measured here");
        return;
    }
    let pond = TestPond::new();
    for v in 0..VERSIONS {
        let host = pond.host(&format!("v{v}.parquet"));
        write_version(&host, v);
        pond.ok(&[
            "copy",
            "--format",
            "series",
            host.to_str().unwrap(),
            "/big.series",
        ]);
    }
    // The same query on a one-row series: what the process needs without the data.
    std::fs::write(
        pond.host("one.csv"),
        "timestamp,value\n2024-01-01T00:00:00,1\n",
    )
    .unwrap();
    pond.ok(&["copy", "--format", "series", "one.csv", "/one.series"]);
    // `pond ARGS`, its peak resident memory and what it printed.
    let measured = |args: &[&str]| {
        let child = pond
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (status, peak, out) = peak_rss(child);
        assert!(status.success(), "pond {args:?} failed");
        (peak, out)
    };
    let query = |path: &str| {
        measured(&[
            "cat",
            "--format",
            "csv",
            "--sql",
            "SELECT count(*) AS n, sum(value) AS total FROM source",
            path,
        ])
    };
    let (baseline, _) = query("/one.series");
    let (peak, out) = query("/big.series");
    eprintln!(
        "peak resident memory: {peak} bytes, {baseline} for one row; series decoded: {DECODED_BYTES} bytes"
    );
    let total: u64 = (0..ROWS_PER_VERSION * VERSIONS)
        .map(|i| (i % 1000) as u64)
        .sum();
    assert_eq!(
        out,
        format!("n,total\n{},{total}.0\n", ROWS_PER_VERSION * VERSIONS)
    );
    // Collecting the series would need all of it resident at once; streaming needs a few
    // batches and column chunks per partition.
    assert!(
        peak < baseline + DECODED_BYTES / 2,
        "peak resident memory {peak} bytes grew by more than half the series' decoded size \
         {DECODED_BYTES} over the {baseline} bytes of a one-row query"
    );

    // A pretty table of the whole series, as a terminal gets it, keeps the rows it shows
    // and counts the rest.
    let (peak, out) = measured(&["cat", "--format", "table", "/big.series"]);
    eprintln!("peak resident memory of the table: {peak} bytes");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("| ")).count(),
        41,
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "{} rows (40 shown)\n",
            ROWS_PER_VERSION * VERSIONS
        )),
        "{out}"
    );
    assert!(
        peak < baseline + DECODED_BYTES / 2,
        "peak resident memory {peak} bytes of a table grew by more than half the series' \
         decoded size {DECODED_BYTES} over the {baseline} bytes of a one-row query"
    );
}

//! Other engines read what pond stores: DuckDB (Python's `duckdb`, which `.ci/run`
//! installs) sees a series' time column as instants, not integers, and Python's
//! `deltalake` reads the log as a Delta table.

use std::process::Command;

use crate::support::TestPond;

/// Runs `sql` in DuckDB and returns what it printed.
pub(crate) fn duckdb(sql: &str) -> String {
    let script = format!(
        "import duckdb\nfor row in duckdb.sql({sql:?}).fetchall():\n    print('|'.join(str(v) for v in row))\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs (install it, and `pip install duckdb`)");
    assert!(
        out.status.success(),
        "duckdb failed (is the Python package installed? `pip install duckdb`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn duckdb_reads_series_times_as_instants() {
    let pond = TestPond::new();
    pond.copy_series(
        "time,level\n2024-01-01T02:00:00+02:00,1.5\n2024-01-01T01:00:00Z,2\n2024-01-01 03:00:00,3\n",
        "/s.series",
    );
    let exported = pond.host("out");
    pond.ok(&["export", "/s.series", exported.to_str().unwrap()]);
    let file = exported.join("s.series.parquet");
    let rows = duckdb(&format!(
        "SELECT typeof(time), epoch(time)::BIGINT, level FROM read_parquet('{}')",
        file.display()
    ));
    // Offsets applied, a naive time taken as UTC, rows in time order.
    assert_eq!(
        rows,
        "TIMESTAMP WITH TIME ZONE|1704067200|1.5\n\
         TIMESTAMP WITH TIME ZONE|1704070800|2.0\n\
         TIMESTAMP WITH TIME ZONE|1704078000|3.0\n"
    );

    // The bytes `cat --format parquet` prints are the same kind of file.
    let out = pond
        .command(&["cat", "--format", "parquet", "/s.series"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = pond.host("printed.parquet");
    std::fs::write(&printed, &out.stdout).unwrap();
    let rows = duckdb(&format!(
        "SELECT typeof(time), count(*) FROM read_parquet('{}') GROUP BY 1",
        printed.display()
    ));
    assert_eq!(rows, "TIMESTAMP WITH TIME ZONE|3\n");
}

/// After appends that merge a series' log data files (and a `maintain`), Python's
/// `deltalake` replays the log to the live data files, and DuckDB reads each version once
/// in them.
#[test]
fn delta_readers_read_the_log_after_merges() {
    let pond = TestPond::new();
    let versions = 37;
    for i in 0..versions {
        pond.copy_series(
            &format!(
                "time,v\n2024-01-{:02}T{:02}:00:00Z,{i}\n",
                1 + i / 24,
                i % 24
            ),
            "/s.series",
        );
    }
    pond.ok(&["maintain"]);
    let script = format!(
        r#"
import duckdb, deltalake
t = deltalake.DeltaTable({log:?})
files = t.file_uris()
n, d, v = duckdb.execute(f"SELECT count(*), count(DISTINCT version), max(version) FROM read_parquet({{files}}) WHERE entry_type = 'file:series'").fetchone()
print(n, d, v)
print(len(files), t.version())
"#,
        log = pond.path().join("log").display().to_string()
    );
    let read = || {
        let out = Command::new("python3")
            .args(["-c", &script])
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "deltalake failed (`pip install deltalake duckdb`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let text = read();
    let mut lines = text.lines();
    // The appended versions and the compactions between them, each once.
    let describe = pond.ok(&["describe", "/s.series"]);
    let all = describe
        .lines()
        .find_map(|l| l.strip_prefix("versions:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    assert!(all.parse::<u64>().unwrap() > versions, "{describe}");
    assert_eq!(lines.next(), Some(format!("{all} {all} {all}").as_str()));
    let (files, version) = lines.next().unwrap().split_once(' ').unwrap();
    assert_eq!(
        version,
        pond.ok(&["log", "-n", "1"])
            .split_whitespace()
            .next()
            .unwrap()
            .trim_start_matches('v')
    );
    // The series' rows are in 37 = 0b100101 → 3 files; the rest are directories'.
    assert!(
        files.parse::<usize>().unwrap() < 20,
        "{files} live data files"
    );

    // Retention drops the versions compacted before the horizon and deletes the files
    // only earlier versions read: the readers still replay the log, and see the rows kept.
    let out = pond.ok(&["maintain", "--grace", "0s", "--keep-history", "1"]);
    assert!(out.contains("superseded file versions"), "{out}");
    let text = read();
    let (n, rest) = text.split_once(' ').unwrap();
    let (d, rest) = rest.split_once(' ').unwrap();
    let latest = rest.lines().next().unwrap();
    assert_eq!(n, d, "each version once: {text}");
    assert_eq!(latest, all, "{text}");
    assert!(
        n.parse::<u64>().unwrap() < all.parse::<u64>().unwrap(),
        "{text}"
    );
    let rows = pond.ok(&[
        "cat",
        "--sql",
        "SELECT count(*) AS n FROM source",
        "/s.series",
    ]);
    assert!(rows.contains("37"), "{rows}");
}

/// `export --hive` writes a series as `year=/month=` directories that DuckDB reads as one
/// table with the partition columns, every row once; a second export into the same
/// directory is refused rather than doubling the rows.
#[test]
fn duckdb_reads_a_hive_partitioned_export() {
    let pond = TestPond::new();
    pond.copy_testdata_series("sea_surface_temperature.csv", "/sst.series");
    let out = pond.host("hive");
    let said = pond.ok(&["export", "--hive", "/sst.series", out.to_str().unwrap()]);
    assert!(
        said.contains("(19226 rows, partitioned by year and month)"),
        "{said}"
    );
    let rows = duckdb(&format!(
        "SELECT year, month, count(*), min(\"time (UTC)\") FROM read_parquet('{}/sst.series/**/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY ALL",
        out.display()
    ));
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(lines.len(), 14, "{rows}");
    assert!(
        lines[0].starts_with("2016|02|720|2016-02-15 00:00:00"),
        "{rows}"
    );
    let total: u64 = lines
        .iter()
        .map(|l| l.split('|').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 19226);
    let err = pond.fails(&["export", "--hive", "/sst.series", out.to_str().unwrap()]);
    assert!(err.contains("is not empty"), "{err}");
}

/// Runs `code`, a Python script using `deltalake`; what it printed.
pub(crate) fn deltalake(code: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", code])
        .output()
        .expect("python3 runs (install it, and `pip install deltalake`)");
    assert!(
        out.status.success(),
        "deltalake failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The `storage_options` of Python's `deltalake` for a store on `server`, as the inside of
/// a Python dict.
fn storage_options(server: &tlogfs::testkit::S3Server) -> String {
    server
        .env()
        .iter()
        .map(|(k, v)| format!("{k:?}: {v:?}, "))
        .collect()
}

/// A replica pushed to an S3 server is a Delta table there: Python's `deltalake`, with its
/// own S3 client, replays its log to the same version and the same live data files as the
/// local pond's.
#[test]
fn deltalake_reads_a_replica_on_s3_as_the_pond() {
    let server = tlogfs::testkit::S3Server::start();
    let pond = TestPond::new();
    pond.copy_testdata_series("weather_head.csv", "/weather.series");
    pond.copy_testdata_series("weather_next.csv", "/weather.series");
    pond.ok(&["mkdir", "/notes"]);
    let url = server.url("interop");
    pond.ok_with_env(&["remote", "add", "s3", &url], server.env());
    pond.ok_with_env(&["push"], server.env());
    let options = storage_options(&server);
    let script = |table: &str, remote: bool| {
        let options = if remote {
            format!(", storage_options={{{options}}}")
        } else {
            String::new()
        };
        format!(
            r#"
import deltalake
t = deltalake.DeltaTable({table:?}{options})
files = sorted(f.split("/log/", 1)[1] for f in t.file_uris())
print(t.version(), len(files), files)
"#
        )
    };
    let there = deltalake(&script(&format!("{url}/log"), true));
    let here = deltalake(&script(&pond.path().join("log").to_string_lossy(), false));
    assert!(there.starts_with("3 "), "{there}");
    assert_eq!(there, here);
}

/// A pond whose home is an S3 server, past its first checkpoint (which pond writes there
/// through Delta): Python's `deltalake` reads its log to the same version and the same
/// live data files pond reads.
#[test]
fn deltalake_reads_a_pond_made_on_s3() {
    let server = tlogfs::testkit::S3Server::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let files = runtime.block_on(async {
        let pond = tlogfs::Pond::create(server.store("made-there"))
            .await
            .unwrap();
        for i in 0..101 {
            let tx = pond.fs().begin(tinyfs::TxnMeta::default()).await.unwrap();
            tx.root()
                .write_file(
                    &format!("/f{}", i % 7),
                    tinyfs::EntryType::FileData,
                    format!("{i}\n").as_bytes(),
                )
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let mut files: Vec<String> = pond
            .persistence()
            .view()
            .files()
            .map(|(_, _, f)| f.path.clone())
            .collect();
        files.sort();
        files
    });
    assert!(
        runtime
            .block_on(
                server
                    .store("made-there")
                    .size("log/_delta_log/00000000000000000099.checkpoint.parquet")
            )
            .unwrap()
            .is_some()
    );
    let options = storage_options(&server);
    let url = server.url("made-there/log");
    let code = format!(
        r#"
import deltalake
t = deltalake.DeltaTable({url:?}, storage_options={{{options}}})
for f in sorted(f.split("/log/", 1)[1] for f in t.file_uris()):
    print(f)
print(t.version())
"#
    );
    let text = deltalake(&code);
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.pop(), Some("101"));
    assert_eq!(lines, files);
}

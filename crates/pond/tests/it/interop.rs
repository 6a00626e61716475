//! Another engine reads pond's Parquet: DuckDB (Python's `duckdb`, which `.ci/run`
//! installs) sees a series' time column as instants, not integers.

use std::process::Command;

use crate::support::TestPond;

/// Runs `sql` in DuckDB and returns what it printed.
fn duckdb(sql: &str) -> String {
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
    let file = exported.join("s.series");
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

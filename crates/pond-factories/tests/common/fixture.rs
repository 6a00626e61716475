//! A pond on disk holding the tables and series the SQL tests query.
//!
//! | path | what |
//! |---|---|
//! | `/weather.series` | `weather_head.csv` in two versions (rows 1–100, 101–200), then a third with a `note` column and without most others |
//! | `/titanic.table` | `titanic.csv` (v1), then its first 10 rows (v2) |
//! | `/co2.series` | `co2_monthly.csv`, timestamp column `Date` (a date) |
//! | `/sst.series` | `sea_surface_temperature.csv`, timestamp column `time (UTC)` |
//! | `/mixed.series` | column `v` as integers (v1), then as text (v2, written as a body, as pond before one schema per series could): read as text |
//! | `/raw.csv` | `titanic.csv` as `file:data` |
//! | `/csv/in/*.csv` | `file:data`: `lincoln_weather_quoted.csv`; `crlf.csv` (CRLF, `NA`, no final newline) |
//! | `/csv/tables` | csvdir over `/csv/in/*.csv` |
//! | `/derived/hourly.series` | sql-derived-series: hourly mean of `/sst.series` |
//! | `/derived/warm.series` | sql-derived-series: the hours of `hourly` above 10 °C |
//! | `/derived/fahrenheit.series` | sql-derived-series: `warm` in °F |
//! | `/derived/ewr.series` → `/derived/ewr_cold.series` | derived from `/weather.series` (three versions): EWR rows, then those below 40 °F |
//! | `/derived/classes.table` | sql-derived-table: passengers per class of `/titanic.table` |
//! | `/derived/loop_a.table` ⇄ `/derived/loop_b.table` | each reads the other: a cycle |
//! | `/dst.series` | eight readings around Oslo's change to summer time (2024-03-31T01:00Z), in two versions (the second late: a reading in an old bucket, and a missing value) |
//! | `/rollups/dst` | temporal-reduce of `/dst.series`: 30m, 1d, 1w, 1month in Europe/Oslo, every aggregation of `v` |
//! | `/rollups/sst` | temporal-reduce of `/sst.series`: 1h, 1d, 1w, 1month in America/New_York, every aggregation of the temperature |
//!
//! Reads through [`session`], which builds dynamic nodes with pond's factories.

use std::path::{Path, PathBuf};

use pond_sql::ImportOptions;
use tinyfs::{EntryType, TxnMeta, WD};
use tlogfs::Pond;

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

async fn import(root: &WD, source: &Path, dest: &str, entry_type: EntryType, column: Option<&str>) {
    let options = ImportOptions {
        entry_type,
        timestamp_column: column.map(String::from),
        read: pond_sql::ReadOptions::default(),
        skip_duplicate: false,
    };
    pond_sql::import_file(root, source, dest, &options, &mut |_, _| {})
        .await
        .unwrap_or_else(|e| panic!("importing {} to {dest}: {e}", source.display()));
}

/// A second version of `/mixed.series` whose `v` is text, stored as a body directly:
/// imports now refuse it, but ponds written before may hold such versions.
async fn legacy_text_version(root: &WD) {
    use std::sync::Arc;

    use arrow::array::{RecordBatch, StringArray, TimestampSecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let schema = Arc::new(Schema::new(vec![
        Field::new("t", DataType::Timestamp(TimeUnit::Second, None), true),
        Field::new("v", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampSecondArray::from(vec![1_577_923_200])),
            Arc::new(StringArray::from(vec!["one"])),
        ],
    )
    .unwrap();
    let mut writer = root
        .file_writer("/mixed.series", EntryType::FileSeries)
        .await
        .unwrap();
    let mut parquet = parquet::arrow::AsyncArrowWriter::try_new(&mut writer, schema, None).unwrap();
    parquet.write(&batch).await.unwrap();
    parquet.close().await.unwrap();
    writer.set_event_time(tinyfs::EventTime {
        column: "t".into(),
        min_micros: 1_577_923_200_000_000,
        max_micros: 1_577_923_200_000_000,
    });
    writer.finish().await.unwrap();
}

/// The fixture pond, in `dir`; one commit per import.
pub async fn build(dir: &Path) -> Pond {
    let pond = Pond::init(dir).await.expect("init");
    let weather = std::fs::read_to_string(testdata("weather_head.csv")).unwrap();
    let lines: Vec<&str> = weather.lines().collect();
    let part = |rows: &[&str]| format!("{}\n{}\n", lines[0], rows.join("\n"));
    let scratch = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = scratch.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let steps: Vec<(PathBuf, &str, EntryType, Option<&str>)> = vec![
        (
            write("w1.csv", &part(&lines[1..101])),
            "/weather.series",
            EntryType::FileSeries,
            None,
        ),
        (
            write("w2.csv", &part(&lines[101..201])),
            "/weather.series",
            EntryType::FileSeries,
            None,
        ),
        (
            write(
                "w3.csv",
                "origin,time_hour,temp,note\nEWR,2013-02-01T00:00:00Z,30.5,late\n",
            ),
            "/weather.series",
            EntryType::FileSeries,
            None,
        ),
        (
            testdata("titanic.csv"),
            "/titanic.table",
            EntryType::FileTable,
            None,
        ),
        (
            write(
                "t2.csv",
                &std::fs::read_to_string(testdata("titanic.csv"))
                    .unwrap()
                    .lines()
                    .take(11)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            "/titanic.table",
            EntryType::FileTable,
            None,
        ),
        (
            testdata("co2_monthly.csv"),
            "/co2.series",
            EntryType::FileSeries,
            None,
        ),
        (
            testdata("sea_surface_temperature.csv"),
            "/sst.series",
            EntryType::FileSeries,
            None,
        ),
        (
            write(
                "dst1.csv",
                "t,v\n2024-03-30T22:30:00Z,1\n2024-03-30T23:00:00Z,2\n2024-03-31T00:30:00Z,4\n\
                 2024-03-31T01:00:00Z,8\n2024-03-31T21:59:00Z,16\n2024-03-31T22:00:00Z,32\n",
            ),
            "/dst.series",
            EntryType::FileSeries,
            Some("t"),
        ),
        (
            write(
                "dst2.csv",
                "t,v\n2024-03-30T22:45:00Z,\n2024-03-31T12:00:00Z,64\n",
            ),
            "/dst.series",
            EntryType::FileSeries,
            Some("t"),
        ),
        (
            write("m1.csv", "t,v\n2020-01-01T00:00:00Z,1\n"),
            "/mixed.series",
            EntryType::FileSeries,
            Some("t"),
        ),
    ];
    for (source, dest, entry_type, column) in steps {
        let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
        import(&tx.root(), &source, dest, entry_type, column).await;
        tx.commit().await.unwrap();
    }
    let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
    legacy_text_version(&tx.root()).await;
    tx.commit().await.unwrap();
    let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
    let raw = std::fs::read(testdata("titanic.csv")).unwrap();
    tx.root()
        .write_file("/raw.csv", EntryType::FileData, &raw)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
    let root = tx.root();
    root.create_dir_all("/csv/in").await.unwrap();
    root.create_dir("/derived").await.unwrap();
    let lincoln = std::fs::read(testdata("lincoln_weather_quoted.csv")).unwrap();
    root.write_file("/csv/in/lincoln.csv", EntryType::FileData, &lincoln)
        .await
        .unwrap();
    root.write_file(
        "/csv/in/crlf.csv",
        EntryType::FileData,
        b"id,reading\r\n1,2.5\r\n2,NA\r\n3,4",
    )
    .await
    .unwrap();
    root.create_dir("/rollups").await.unwrap();
    let nodes: [(&str, &str, &str); 11] = [
        (
            "temporal-reduce",
            "/rollups/dst",
            "in_pattern: /dst.series\nresolutions: [30m, 1d, 1w, 1month]\ntimezone: Europe/Oslo\n\
             aggregations:\n  v: [count, sum, avg, min, max, first, last, stddev, variance]\n",
        ),
        (
            "temporal-reduce",
            "/rollups/sst",
            "in_pattern: /sst.series\nresolutions: [1h, 1d, 1w, 1month]\ntimezone: America/New_York\n\
             aggregations:\n  \"*\": [count, sum, avg, min, max, first, last, stddev, variance]\n",
        ),
        ("csvdir", "/csv/tables", "source: /csv/in/*.csv\n"),
        (
            "sql-derived-series",
            "/derived/hourly.series",
            "patterns:\n  sst: /sst.series\nquery: |\n  SELECT date_trunc('hour', \"time (UTC)\") AS timestamp,\n         avg(\"temperature (celsius)\") AS temperature\n  FROM sst GROUP BY 1\n",
        ),
        (
            "sql-derived-series",
            "/derived/warm.series",
            "patterns:\n  hourly: /derived/hourly.series\nquery: SELECT timestamp, temperature FROM hourly WHERE temperature > 10\n",
        ),
        (
            "sql-derived-series",
            "/derived/fahrenheit.series",
            "patterns:\n  warm: /derived/warm.series\nquery: SELECT timestamp, temperature * 1.8 + 32 AS fahrenheit FROM warm\n",
        ),
        (
            "sql-derived-series",
            "/derived/ewr.series",
            "patterns:\n  w: /weather.series\nquery: SELECT time_hour, temp, humid FROM w WHERE origin = 'EWR'\n",
        ),
        (
            "sql-derived-series",
            "/derived/ewr_cold.series",
            "patterns:\n  e: /derived/ewr.series\nquery: SELECT time_hour, temp FROM e WHERE temp < 40\n",
        ),
        (
            "sql-derived-table",
            "/derived/classes.table",
            "patterns:\n  t: /titanic.table\nquery: SELECT class, count(*) AS passengers FROM t GROUP BY 1 ORDER BY 1\n",
        ),
        (
            "sql-derived-table",
            "/derived/loop_a.table",
            "patterns:\n  b: /derived/loop_b.table\nquery: SELECT * FROM b\n",
        ),
        (
            "sql-derived-table",
            "/derived/loop_b.table",
            "patterns:\n  a: /derived/loop_a.table\nquery: SELECT * FROM a\n",
        ),
    ];
    let registry = pond_factories::Registry::builtin(None);
    for (factory, path, config) in nodes {
        let entry_type = registry
            .validate(factory, config.as_bytes())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        root.create_dynamic(path, entry_type, factory, config.as_bytes())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    pond
}

/// A session over `pond` whose dynamic nodes are built by pond's factories, caching
/// csvdir conversions in `cache`.
pub fn session(pond: &Pond, cache: &Path) -> pond_sql::PondSession {
    let registry = pond_factories::Registry::builtin(Some(cache.to_path_buf()));
    pond_sql::PondSession::new(registry.install(pond.fs()).root()).unwrap()
}

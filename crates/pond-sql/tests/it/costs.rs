//! What reading a long series costs, counted (see [`crate::counting`]), not timed: a
//! series of 10,000 versions, an hour each, read the way `describe` and a one-day window
//! query read it.

use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::AsyncArrowWriter;
use pond_sql::PondSession;
use tinyfs::{EntryType, EventTime, TxnMeta};
use tlogfs::Pond;

use crate::counting;

/// 2024-01-01T00:00:00Z.
const START: i64 = 1_704_067_200_000_000;
const HOUR: i64 = 3_600_000_000;

/// `/s.series` of `versions` one-row versions, hour `i` in version `i + 1`, written 100 to
/// a commit (as fast appends would be, without an import's checks per version).
async fn long_series(pond: &Pond, versions: i64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("v", DataType::Float64, true),
    ]));
    let properties = pond_sql::series_writer_properties(&schema, "time").unwrap();
    for first in (0..versions).step_by(100) {
        let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
        for i in first..(first + 100).min(versions) {
            let t = START + i * HOUR;
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(TimestampMicrosecondArray::from(vec![t]).with_timezone("UTC")),
                    Arc::new(Float64Array::from(vec![i as f64])),
                ],
            )
            .unwrap();
            let mut writer = tx
                .root()
                .file_writer("/s.series", EntryType::FileSeries)
                .await
                .unwrap();
            let mut out =
                AsyncArrowWriter::try_new(&mut writer, schema.clone(), Some(properties.clone()))
                    .unwrap();
            out.write(&batch).await.unwrap();
            out.close().await.unwrap();
            writer.set_event_time(EventTime {
                column: "time".into(),
                min_micros: t,
                max_micros: t,
            });
            writer.set_rows(1);
            writer.finish().await.unwrap();
        }
        tx.commit().await.unwrap();
    }
}

fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

// One thread, so every read of the test is counted on it.
#[tokio::test(flavor = "current_thread")]
async fn a_long_series_costs_what_a_short_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let versions = 10_000;
    long_series(&Pond::init(dir.path()).await.unwrap(), versions).await;
    // A fresh process's view: nothing decoded yet.
    let pond = Pond::open(dir.path()).await.unwrap();
    let root = pond.fs().root();
    counting::take();

    // What describe reads: the version list (a few log files, not 10,000) and one footer.
    let (_, members) = pond_sql::table_members(&root, "/s.series").await.unwrap();
    assert_eq!(members.len(), versions as usize);
    let schema = pond_sql::members_schema(&root, "/s.series", &members)
        .await
        .unwrap();
    assert_eq!(schema.fields().len(), 2);
    let rows: u64 = members.iter().map(|v| v.rows.unwrap()).sum();
    assert_eq!(rows, versions as u64);
    let reads = counting::take();
    assert_eq!(reads.footers, 1, "{reads:?}");
    // The root's files, and the series' merged ones: at most log2(100 commits) + 1.
    assert!(reads.log_files <= 8, "{reads:?}");

    // A one-day window opens the 24 versions of that day, and no other footer or body.
    let session = PondSession::new(root.clone()).unwrap();
    let end = START + versions * HOUR;
    let sql = format!(
        r#"SELECT count(*) AS n, min(v) AS first FROM "/s.series" WHERE time >= '{}' AND time < '{}'"#,
        rfc3339(end - 24 * HOUR),
        rfc3339(end)
    );
    let text = crate::time_travel::query(&session, &sql).await;
    assert!(text.contains("| 24 | 9976.0 |"), "{text}");
    let reads = counting::take();
    // The latest version's footer for the schema, then the day's.
    assert!(reads.footers <= 25, "{reads:?}");
    assert_eq!(reads.objects.len(), 24, "{reads:?}");
    assert!(reads.log_files <= 8, "{reads:?}");
}

/// A series appended batch by batch and compacted as `pond copy` does: its members are
/// found in its newest log files (the newest compaction's manifest and what followed it),
/// not by reading every version's row, and they are the members every version folds to.
#[tokio::test(flavor = "current_thread")]
async fn members_are_read_from_the_newest_log_files() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(&dir.path().join("pond")).await.unwrap();
    let csv = dir.path().join("hour.csv");
    let options = pond_sql::ImportOptions {
        entry_type: EntryType::FileSeries,
        timestamp_column: Some("time".into()),
        csv: pond_sql::CsvOptions::default(),
        skip_duplicate: false,
    };
    for hour in 0..150 {
        let t = rfc3339(START + hour * HOUR);
        std::fs::write(&csv, format!("time,v\n{t},{hour}\n")).unwrap();
        let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
        pond_sql::import_file(&tx.root(), &csv, "/s.series", &options, &mut |_| {})
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
        pond_sql::compact_series(&tx.root(), "/s.series")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let live = pond
        .persistence()
        .view()
        .files()
        .filter(|(part, node, _)| part != node)
        .count();
    let pond = Pond::open(&dir.path().join("pond")).await.unwrap();
    let root = pond.fs().root();
    counting::take();
    let (_, members) = pond_sql::table_members(&root, "/s.series").await.unwrap();
    let reads = counting::take();
    let total: u64 = members.iter().map(|v| v.rows.unwrap()).sum();
    assert_eq!(total, 150);
    // The root's file, and fewer of the series' files than it has.
    assert!(
        reads.log_files < live,
        "{} log files read for the members; the series has {live}",
        reads.log_files
    );
    let all = root.versions("/s.series").await.unwrap();
    assert!(all.len() > 150, "compactions happened");
    assert_eq!(members, tinyfs::member_versions(all));
}

/// The live-ingest recipe (a csvdir of daily CSV files under a derived series): once
/// converted, a one-day window opens that day's conversion and no other, describing an
/// entry opens none, and no CSV is read again — its temporal index knows each
/// conversion's range.
#[tokio::test(flavor = "current_thread")]
async fn a_window_over_many_csv_files_opens_the_days_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(&dir.path().join("pond")).await.unwrap();
    let cache = dir.path().join("cache");
    let days = 400;
    let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
    let root = tx.root();
    root.create_dir("/in").await.unwrap();
    for day in 0..days {
        let mut csv = String::from("time,level\n");
        for hour in 0..24 {
            let t = START + (day * 24 + hour) * HOUR;
            csv.push_str(&format!("{},{}\n", rfc3339(t), day * 100 + hour));
        }
        root.write_file(
            format!("/in/day{day:03}.csv").as_str(),
            EntryType::FileData,
            csv.as_bytes(),
        )
        .await
        .unwrap();
    }
    let registry = pond_factories::Registry::builtin(None);
    for (factory, path, config) in [
        ("csvdir", "/days", "source: /in/*.csv\nentry_type: series\n"),
        (
            "sql-derived-series",
            "/levels.series",
            "patterns:\n  d: /days/*\nquery: SELECT time, level FROM d\n",
        ),
    ] {
        let entry_type = registry.validate(factory, config.as_bytes()).unwrap();
        root.create_dynamic(path, entry_type, factory, config.as_bytes())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let day = 217;
    let window = format!(
        r#"SELECT count(*) AS n, min(level) AS first FROM "/levels.series" WHERE time >= '{}' AND time < '{}'"#,
        rfc3339(START + day * 24 * HOUR),
        rfc3339(START + (day + 1) * 24 * HOUR)
    );
    let expected = format!("| 24 | {} |", day * 100);

    counting::take();
    let session = crate::fixture::session(&pond, &cache);
    let text = crate::time_travel::query(&session, &window).await;
    assert!(text.contains(&expected), "{text}");
    let first = counting::take();
    assert_eq!(first.converted, days as usize, "{first:?}");
    assert_eq!(first.conversions, 1, "{first:?}");

    // A new process: the conversions are on disk, and only the day's is opened.
    let session = crate::fixture::session(&pond, &cache);
    let text = crate::time_travel::query(&session, &window).await;
    assert!(text.contains(&expected), "{text}");
    let reads = counting::take();
    assert_eq!((reads.converted, reads.conversions), (0, 1), "{reads:?}");

    // An entry's schema, rows and range come from its index.
    let session = crate::fixture::session(&pond, &cache);
    let (table, scope) = session.open("/days/day009").await.unwrap();
    assert_eq!(table.schema(&scope).await.unwrap().fields().len(), 2);
    let node = session.scope().wd().resolve("/days/day009").await.unwrap();
    let version = node
        .as_file()
        .unwrap()
        .versions()
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(version.rows, Some(24));
    let range = version.event_time.unwrap();
    assert_eq!(
        (range.min_micros, range.max_micros),
        (START + 9 * 24 * HOUR, START + (9 * 24 + 23) * HOUR)
    );
    let reads = counting::take();
    assert_eq!((reads.converted, reads.conversions), (0, 0), "{reads:?}");

    // Indexes lost (a cache from before them, or damaged ones): made again from the
    // Parquet footers, the CSV files not read again, and the answer the same.
    for entry in std::fs::read_dir(cache.join("csvdir")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "index") {
            std::fs::write(&path, b"torn").unwrap();
        }
    }
    let session = crate::fixture::session(&pond, &cache);
    let text = crate::time_travel::query(&session, &window).await;
    assert!(text.contains(&expected), "{text}");
    let reads = counting::take();
    assert_eq!((reads.converted, reads.conversions), (0, 1), "{reads:?}");
    let text =
        crate::time_travel::query(&session, r#"SELECT count(*) AS n FROM "/levels.series""#).await;
    assert!(text.contains(&format!("| {} |", days * 24)), "{text}");
}

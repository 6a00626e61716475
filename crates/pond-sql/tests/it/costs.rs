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

use crate::query::{HOUR, START, rfc3339};

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
    let text = crate::query(&session, &sql).await;
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
        read: pond_sql::ReadOptions::default(),
        skip_duplicate: false,
    };
    for hour in 0..150 {
        let t = rfc3339(START + hour * HOUR);
        std::fs::write(&csv, format!("time,v\n{t},{hour}\n")).unwrap();
        let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
        pond_sql::import_file(&tx.root(), &csv, "/s.series", &options, &mut |_, _| {})
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

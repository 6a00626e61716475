//! What a csvdir costs, counted (see `counting`), not timed.

use tinyfs::{EntryType, TxnMeta};
use tlogfs::Pond;

use crate::query::{HOUR, START, rfc3339};

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

    crate::counting::take();
    let session = crate::fixture::session(&pond, &cache);
    let text = crate::query(&session, &window).await;
    assert!(text.contains(&expected), "{text}");
    let first = crate::counting::take();
    assert_eq!(first.converted, days as usize, "{first:?}");
    assert_eq!(first.conversions, 1, "{first:?}");

    // A new process: the conversions are on disk, and only the day's is opened.
    let session = crate::fixture::session(&pond, &cache);
    let text = crate::query(&session, &window).await;
    assert!(text.contains(&expected), "{text}");
    let reads = crate::counting::take();
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
    let reads = crate::counting::take();
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
    let text = crate::query(&session, &window).await;
    assert!(text.contains(&expected), "{text}");
    let reads = crate::counting::take();
    assert_eq!((reads.converted, reads.conversions), (0, 1), "{reads:?}");
    let text = crate::query(&session, r#"SELECT count(*) AS n FROM "/levels.series""#).await;
    assert!(text.contains(&format!("| {} |", days * 24)), "{text}");
}

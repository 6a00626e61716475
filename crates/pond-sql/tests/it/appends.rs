//! What an append to a long series reads: the version list and one footer, not one
//! footer per version. Footer reads are counted from pond-sql's trace events
//! (see [`crate::counting`]).

use tinyfs::{EntryType, TxnMeta};
use tlogfs::Pond;

/// The footers this thread has read since the last call.
fn footers_read() -> usize {
    crate::counting::take().footers
}

async fn append(pond: &Pond, csv: &std::path::Path) -> pond_sql::Imported {
    let options = pond_sql::ImportOptions {
        entry_type: EntryType::FileSeries,
        timestamp_column: None,
        read: pond_sql::ReadOptions::default(),
        skip_duplicate: false,
    };
    let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
    let imported = pond_sql::import_file(&tx.root(), csv, "/s.series", &options, &mut |_, _| {})
        .await
        .unwrap();
    tx.commit().await.unwrap();
    imported
}

// One thread, so every footer read of the test is counted on it.
#[tokio::test(flavor = "current_thread")]
async fn an_append_reads_one_footer_whatever_the_version_count() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(&dir.path().join("pond")).await.unwrap();
    let csv = dir.path().join("day.csv");
    let versions = 40;
    for i in 0..versions {
        let (month, day) = (1 + i / 28, 1 + i % 28);
        std::fs::write(
            &csv,
            format!("time,temp\n2024-{month:02}-{day:02}T00:00:00Z,{i}.5\n"),
        )
        .unwrap();
        append(&pond, &csv).await;
    }
    footers_read();

    // Planning a read of the whole series opens every version's footer: the counter works.
    let root = pond.fs().root();
    pond_sql::table_versions(&root, "/s.series").await.unwrap();
    assert_eq!(footers_read(), versions as usize);

    // An append that widens the schema reads the latest version's footer only.
    std::fs::write(&csv, "time,temp,salinity\n2024-03-01T00:00:00Z,1,35.5\n").unwrap();
    let imported = append(&pond, &csv).await;
    assert_eq!(imported.version.version, versions as u64 + 1);
    assert_eq!(footers_read(), 1);

    // And the next append sees the widened schema from that one footer: its batch without
    // the new column is conformed to it.
    std::fs::write(&csv, "time,temp\n2024-03-02T00:00:00Z,2\n").unwrap();
    append(&pond, &csv).await;
    assert_eq!(footers_read(), 1);
    let (_, all) = pond_sql::table_versions(&pond.fs().root(), "/s.series")
        .await
        .unwrap();
    let latest = all.last().unwrap();
    assert!(latest.schema.field_with_name("salinity").is_ok());
    assert!(matches!(
        latest.schema.field_with_name("temp").unwrap().data_type(),
        arrow::datatypes::DataType::Float64
    ));
}

//! A pond on disk holding the tables and series the SQL tests query.
//!
//! | path | what |
//! |---|---|
//! | `/weather.series` | `weather_head.csv` in two versions (rows 1–100, 101–200), then a third with a `note` column and without most others |
//! | `/titanic.table` | `titanic.csv` (v1), then its first 10 rows (v2) |
//! | `/co2.series` | `co2_monthly.csv`, timestamp column `Date` (a date) |
//! | `/sst.series` | `sea_surface_temperature.csv`, timestamp column `time (UTC)` |
//! | `/mixed.series` | column `v` as integers (v1), then as text (v2): not mergeable |
//! | `/raw.csv` | `titanic.csv` as `file:data` |

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
    };
    pond_sql::import_file(root, source, dest, &options, &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("importing {} to {dest}: {e}", source.display()));
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
            write("m1.csv", "t,v\n2020-01-01T00:00:00Z,1\n"),
            "/mixed.series",
            EntryType::FileSeries,
            Some("t"),
        ),
        (
            write("m2.csv", "t,v\n2020-01-02T00:00:00Z,one\n"),
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
    let raw = std::fs::read(testdata("titanic.csv")).unwrap();
    tx.root()
        .write_file("/raw.csv", EntryType::FileData, &raw)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    pond
}

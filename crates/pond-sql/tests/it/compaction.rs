//! Compaction and retention against a model: random appends (in order, late, overlapping,
//! widening the schema), each followed by the compaction `pond copy` runs, now and then a
//! retention run, and every read checked against what was appended: the series now, every
//! `@vN`, and the series at earlier pond versions (those before the horizon refused).

use pond_sql::{ImportOptions, PondSession};
use tinyfs::{EntryType, TxnMeta};
use tlogfs::Pond;

/// A small deterministic generator (64-bit LCG), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// The rows of `sql`, one `time|v` line each.
async fn rows(pond: &Pond, sql: &str) -> Vec<String> {
    let session = PondSession::new(pond.fs().root()).unwrap();
    let text = crate::query(&session, sql).await;
    text.lines()
        .filter(|l| l.starts_with("| ") && !l.contains(" time "))
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>()[1..3].join("|"))
        .collect()
}

/// Sorts `time|v` rows as `ORDER BY time, v` does: times as text (RFC 3339 of one form),
/// values as numbers.
fn sort(rows: &mut [String]) {
    let key = |r: &String| {
        let (t, v) = r.split_once('|').unwrap();
        (t.to_string(), v.parse::<f64>().unwrap())
    };
    rows.sort_by(|a, b| key(a).partial_cmp(&key(b)).unwrap());
}

fn time(minute: u64) -> String {
    format!(
        "2024-01-{:02}T{:02}:{:02}:00Z",
        1 + minute / 1440,
        minute / 60 % 24,
        minute % 60
    )
}

#[tokio::test]
async fn compacted_series_read_as_appended() {
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().join("pond");
    let mut pond = Pond::init(&at).await.unwrap();
    let csv = dir.path().join("batch.csv");
    let options = ImportOptions {
        entry_type: EntryType::FileSeries,
        timestamp_column: Some("time".into()),
        read: pond_sql::ReadOptions::default(),
        skip_duplicate: false,
    };
    let mut rng = Rng(7);
    // (version, pond version of its commit) → its rows as `time|v`, sorted; and (pond
    // version, all rows) after each step.
    let mut appended: Vec<((u64, u64), Vec<String>)> = Vec::new();
    let (mut horizon, mut dropped) = (0, 0);
    let mut then: Vec<(u64, Vec<String>)> = Vec::new();
    let mut compactions = 0;
    let mut clock = 0u64;
    for step in 0..70u64 {
        let n = 1 + rng.below(12);
        // Mostly later than everything so far; sometimes late, overlapping what is stored.
        let start = if rng.below(5) == 0 {
            rng.below(clock.max(1))
        } else {
            clock
        };
        let widen = step >= 40 && rng.below(3) == 0;
        let mut text = String::from(if widen { "time,v,extra\n" } else { "time,v\n" });
        let mut batch = Vec::new();
        for j in 0..n {
            let t = time(start + j * (1 + rng.below(3)));
            let v = format!("{}.5", step * 100 + j);
            text.push_str(&format!("{t},{v}"));
            text.push_str(if widen { ",7\n" } else { "\n" });
            batch.push(format!("{t}|{v}"));
        }
        clock = clock.max(start + n * 3);
        std::fs::write(&csv, &text).unwrap();
        let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
        let imported =
            pond_sql::import_file(&tx.root(), &csv, "/s.series", &options, &mut |_, _| {})
                .await
                .unwrap();
        let committed = tx.commit().await.unwrap().unwrap();
        sort(&mut batch);
        appended.push(((imported.version.version, committed), batch));

        let tx = pond.fs().begin(TxnMeta::default()).await.unwrap();
        compactions += pond_sql::compact_series(&tx.root(), "/s.series")
            .await
            .unwrap()
            .len();
        tx.commit().await.unwrap();

        if step % 23 == 22 {
            // Keep a random stretch of recent history; then sweep what it let go.
            let keep = tlogfs::KeepHistory::Versions(1 + rng.below(30));
            let report = pond
                .retain(keep, std::time::Duration::ZERO, &TxnMeta::default())
                .await
                .unwrap();
            assert!(report.horizon >= horizon);
            horizon = report.horizon;
            dropped += report.versions_dropped;
            pond = Pond::open(&at).await.unwrap();
            pond.maintain(std::time::Duration::ZERO).await.unwrap();
        }

        // The members as the newest versions' manifest gives them, from a fresh view, are
        // those every version folds to.
        let fresh = Pond::open(&at).await.unwrap();
        let root = fresh.fs().root();
        let folded = tinyfs::member_versions(root.versions("/s.series").await.unwrap());
        let fresh = Pond::open(&at).await.unwrap();
        let found = fresh.fs().root().members("/s.series").await.unwrap();
        assert_eq!(found, folded, "members after step {step}");

        let mut all: Vec<String> = appended.iter().flat_map(|(_, r)| r.clone()).collect();
        sort(&mut all);
        let now = rows(&pond, r#"SELECT time, v FROM "/s.series" ORDER BY time, v"#).await;
        assert_eq!(now, all, "the series after step {step}");
        then.push((pond.version(), all));
    }
    assert!(compactions >= 8, "{compactions} compactions");
    assert!(dropped > 0 && horizon > 0, "retention dropped nothing");

    // A version appended from the horizon on reads as appended; one before it may be gone
    // (compacted into a body that holds its rows), and then it says so.
    for ((version, committed), batch) in &appended {
        let sql = format!(r#"SELECT time, v FROM "/s.series@v{version}" ORDER BY time, v"#);
        let session = PondSession::new(pond.fs().root()).unwrap();
        match session.sql(&sql).await {
            Ok(_) => assert_eq!(&rows(&pond, &sql).await, batch, "@v{version}"),
            Err(e) => {
                assert!(
                    *committed < horizon,
                    "@v{version} (pond version {committed}): {e}"
                );
                assert!(e.to_string().contains("no version"), "{e}");
            }
        }
    }
    for (version, all) in then.iter().step_by(3) {
        let sql = r#"SELECT time, v FROM "/s.series" ORDER BY time, v"#;
        match Pond::open_at(&at, *version).await {
            Ok(earlier) => {
                assert!(*version >= horizon, "pond version {version} opened");
                assert_eq!(
                    &rows(&earlier, sql).await,
                    all,
                    "as of pond version {version}"
                );
            }
            Err(e) => {
                assert!(*version < horizon, "{e}");
                assert!(
                    e.to_string().contains("before the retention horizon"),
                    "{e}"
                );
            }
        }
    }
    assert!(pond.verify().await.unwrap().is_ok());
}

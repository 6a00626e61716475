//! What only a log on disk shows: reopening, time travel, where bodies go, other readers.

use std::path::Path;

use tinyfs::{EntryType, ErrorKind, TxnMeta};
use tlogfs::{Error, INLINE_MAX, Pond};

fn meta(cmd: &str) -> TxnMeta {
    TxnMeta {
        command: cmd.split(' ').map(String::from).collect(),
        user: "tester".into(),
    }
}

/// Commits `body` as the next version of `path` (in `/d`, made if missing), by `cmd`.
pub(crate) async fn write(pond: &Pond, cmd: &str, path: &str, body: &[u8]) -> u64 {
    let tx = pond.fs().begin(meta(cmd)).await.unwrap();
    tx.root().create_dir_all("/d").await.unwrap();
    tx.root()
        .write_file(path, EntryType::FileData, body)
        .await
        .unwrap();
    tx.commit().await.unwrap().unwrap()
}

#[tokio::test]
async fn a_reopened_pond_has_every_commit_and_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(dir.path()).await.unwrap();
    assert_eq!(pond.version(), 0);
    assert_eq!(write(&pond, "pond copy a", "/d/a", b"one").await, 1);
    assert_eq!(write(&pond, "pond copy a", "/d/a", b"two").await, 2);
    drop(pond);

    let pond = Pond::open(dir.path()).await.unwrap();
    let root = pond.fs().root();
    assert_eq!(root.read_file("/d/a").await.unwrap(), b"two");
    assert_eq!(root.read_file("/d/a@v1").await.unwrap(), b"one");
    let log = pond.history(None).await.unwrap();
    let versions: Vec<u64> = log.iter().map(|e| e.version).collect();
    assert_eq!(versions, [2, 1, 0]);
    assert_eq!(log[0].command, "pond copy a");
    assert_eq!(log[0].user, "tester");
    assert_eq!(log[0].paths, ["/d/a"]);
    assert_eq!(log[1].paths, ["/d", "/d/a"]);
    assert_eq!(log[2].command, "(pond created)");
    assert_eq!(pond.history(Some(1)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn earlier_versions_read_as_they_were_and_refuse_changes() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(dir.path()).await.unwrap();
    write(&pond, "w", "/d/a", b"one").await;
    write(&pond, "w", "/d/b", b"bee").await;
    let tx = pond.fs().begin(meta("rm")).await.unwrap();
    tx.root().remove("/d", true).await.unwrap();
    tx.commit().await.unwrap();

    let at1 = Pond::open_at(dir.path(), 1).await.unwrap();
    let names: Vec<String> = at1
        .fs()
        .root()
        .list("/d")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["a"]);
    let at2 = Pond::open_at(dir.path(), 2).await.unwrap();
    assert_eq!(at2.fs().root().read_file("/d/b").await.unwrap(), b"bee");
    assert!(!pond.fs().root().exists("/d").await.unwrap());
    let at0 = Pond::open_at(dir.path(), 0).await.unwrap();
    assert!(at0.fs().root().list("/").await.unwrap().is_empty());

    let tx = at2.fs().begin(meta("w")).await.unwrap();
    let err = tx.root().create_dir("/x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReadOnly);
    assert!(err.to_string().contains("/x: read-only"), "{err}");
    match Pond::open_at(dir.path(), 9).await {
        Err(e @ Error::NoSuchVersion { .. }) => {
            assert_eq!(
                e.to_string(),
                "pond version 9 does not exist (the pond is at version 3)"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn small_bodies_are_inline_large_ones_are_plain_files_by_hash() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(dir.path()).await.unwrap();
    let small = vec![7u8; 100];
    let large: Vec<u8> = (0..INLINE_MAX * 3).map(|i| (i % 253) as u8).collect();
    write(&pond, "w", "/d/small", &small).await;
    write(&pond, "w", "/d/large", &large).await;
    write(&pond, "w", "/d/same", &large).await;
    let bodies = pond.persistence().content().list().unwrap();
    assert_eq!(
        bodies.len(),
        1,
        "equal bodies are stored once, small ones not at all"
    );
    let hash = blake3::hash(&large);
    assert_eq!(bodies[0].hash, hash);
    let on_disk = pond.persistence().content().path_of(&hash);
    assert_eq!(std::fs::read(&on_disk).unwrap(), large);
    assert!(on_disk.starts_with(dir.path().join("content")));
    let pond = Pond::open(dir.path()).await.unwrap();
    assert_eq!(pond.fs().root().read_file("/d/large").await.unwrap(), large);
    assert_eq!(pond.fs().root().read_file("/d/small").await.unwrap(), small);
}

#[tokio::test]
async fn init_and_open_refuse_what_is_not_theirs() {
    let dir = tempfile::tempdir().unwrap();
    Pond::init(dir.path()).await.unwrap();
    let err = Pond::init(dir.path()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert!(
        err.to_string().ends_with("a pond already exists here"),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    let err = Pond::open(empty.path()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("not a pond"), "{err}");
    assert!(Pond::open(Path::new("/nonexistent/pond")).await.is_err());
}

/// `sql` over the log of the pond in `dir` as the Delta table `oplog`, read by `deltalake`
/// (not by pond), printed; and the table's version.
async fn delta_sql(dir: &Path, sql: &str) -> (String, Option<u64>) {
    use deltalake::datafusion::prelude::SessionContext;
    let url =
        url::Url::from_directory_path(std::fs::canonicalize(dir.join("log")).unwrap()).unwrap();
    let table = deltalake::open_table(url).await.unwrap();
    let ctx = SessionContext::new();
    ctx.register_table("oplog", table.table_provider().await.unwrap())
        .unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    (text, table.version())
}

#[tokio::test]
async fn the_log_is_a_delta_table_other_readers_can_query() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(dir.path()).await.unwrap();
    write(&pond, "w", "/d/a", b"one").await;
    write(&pond, "w", "/d/a", b"two").await;

    let (text, version) = delta_sql(
        dir.path(),
        "SELECT entry_type, count(*) AS n, max(version) AS v FROM oplog GROUP BY entry_type ORDER BY entry_type",
    )
    .await;
    assert_eq!(version, Some(2));
    // Root v1 and v2 are not needed: /d was made once; the root changed once.
    assert!(text.contains("| directory  | 2 | 1 |"), "{text}");
    assert!(text.contains("| file:data  | 2 | 2 |"), "{text}");
    let (text, _) = delta_sql(
        dir.path(),
        "SELECT count(DISTINCT part_id) AS parts FROM oplog",
    )
    .await;
    assert!(text.contains("| 2     |"), "root and /d: {text}");
}

/// A file written 300 times keeps a handful of data files, not 300: each commit merges
/// the newest ones into the file it writes, moving the small bodies it rewrites into
/// `content/`. Every version, now and at every earlier pond version, reads as written;
/// Delta readers see each version once; `maintain` keeps the merged-away files earlier
/// versions read.
#[tokio::test]
async fn many_versions_keep_few_data_files_and_read_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(dir.path()).await.unwrap();
    let n = 300u64;
    let mut at = Vec::new();
    for i in 1..=n {
        at.push(write(&pond, "w", "/d/f", format!("body {i}").as_bytes()).await);
    }
    let view = pond.persistence().view();
    let live = view.files().filter(|(part, node, _)| part != node).count();
    // 300 = 0b100101100: one file per set bit.
    assert_eq!(live, n.count_ones() as usize, "live data files of /d/f");
    pond.maintain(std::time::Duration::ZERO).await.unwrap();
    drop(pond);

    let pond = Pond::open(dir.path()).await.unwrap();
    let root = pond.fs().root();
    for i in [1, 2, 3, 4, 5, 127, 128, 129, 255, 256, 300] {
        let body = format!("body {i}");
        assert_eq!(
            root.read_file(&format!("/d/f@v{i}")).await.unwrap(),
            body.as_bytes()
        );
        let then = Pond::open_at(dir.path(), at[i as usize - 1]).await.unwrap();
        let then = then.fs().root();
        assert_eq!(
            then.read_file("/d/f").await.unwrap(),
            body.as_bytes(),
            "as of v{i}"
        );
        assert_eq!(then.versions("/d/f").await.unwrap().len() as u64, i);
    }
    assert!(pond.verify().await.unwrap().is_ok());

    let (text, _) = delta_sql(
        dir.path(),
        "SELECT count(*) AS n, count(DISTINCT version) AS d FROM oplog WHERE entry_type = 'file:data'",
    )
    .await;
    assert!(text.contains("| 300 | 300 |"), "{text}");
    // Only a version not yet merged (the newest, in a file of its own) keeps its body in
    // the log; 300 ends in binary 0, so the newest was merged too.
    let (text, _) = delta_sql(
        dir.path(),
        "SELECT count(content) AS inline FROM oplog WHERE entry_type = 'file:data'",
    )
    .await;
    assert!(text.contains("| 0      |"), "{text}");
    assert_eq!(pond.persistence().content().list().unwrap().len(), 300);
}

#[tokio::test]
async fn checkpoints_are_written_as_the_log_grows_and_opening_uses_them() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(dir.path()).await.unwrap();
    let interval = tlogfs::CHECKPOINT_INTERVAL;
    for i in 0..interval {
        let tx = pond.fs().begin(meta("w")).await.unwrap();
        tx.root()
            .write_file("/f", EntryType::FileData, format!("{i}").as_bytes())
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let checkpoint = dir
        .path()
        .join("log/_delta_log")
        .join(format!("{:020}.checkpoint.parquet", interval - 1));
    assert!(
        checkpoint.exists(),
        "no checkpoint at version {}",
        interval - 1
    );
    // The merges removed files at nearly every commit; the checkpoint lists only what is
    // live (the protocol, the metadata, the root's file and /f's few), no tombstones.
    let file = std::fs::File::open(&checkpoint).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let (mut rows, mut removes) = (0, 0);
    for batch in reader {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        removes += batch.num_rows() - batch.column_by_name("remove").unwrap().null_count();
    }
    assert_eq!(removes, 0, "tombstones in the checkpoint");
    // /f had been written interval - 1 times: one file per set bit.
    assert_eq!(rows, 3 + (interval - 1).count_ones() as usize);
    let pond = Pond::open(dir.path()).await.unwrap();
    assert_eq!(pond.version(), interval);
    let root = pond.fs().root();
    assert_eq!(root.versions("/f").await.unwrap().len() as u64, interval);
    assert_eq!(root.read_file("/f@v1").await.unwrap(), b"0");
    assert_eq!(pond.history(None).await.unwrap().len() as u64, interval + 1);
}

/// A directory changed 300 times keeps the files back to its last snapshot live, not
/// 300; every earlier version still lists what it held then.
#[tokio::test]
async fn a_busy_directory_keeps_few_live_data_files() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(dir.path()).await.unwrap();
    let mut at = Vec::new();
    for i in 0..300 {
        let tx = pond.fs().begin(meta("w")).await.unwrap();
        tx.root()
            .write_file(format!("/f{i}").as_str(), EntryType::FileData, b"x")
            .await
            .unwrap();
        at.push(tx.commit().await.unwrap().unwrap());
    }
    let view = pond.persistence().view();
    let root_files = view
        .node_files(tinyfs::NodeId::ROOT, tinyfs::NodeId::ROOT)
        .len();
    // Over 64 entries a directory writes deltas with a snapshot every 16 versions.
    assert!(root_files <= 16, "{root_files} live files for the root");
    for i in [0usize, 63, 64, 150, 299] {
        let then = Pond::open_at(dir.path(), at[i]).await.unwrap();
        let names = then.fs().root().list("/").await.unwrap();
        assert_eq!(names.len(), i + 1, "as of the write of /f{i}");
    }
    assert!(pond.verify().await.unwrap().is_ok());
}

/// The number of data files the current version of `pond` holds, and of its partitions.
fn live(pond: &Pond) -> (usize, usize) {
    let view = pond.persistence().view();
    let parts: std::collections::HashSet<_> = view.files().map(|(part, _, _)| part).collect();
    (view.files().count(), parts.len())
}

/// A removed node's data files leave the table (so a pond that makes and removes a
/// scratch directory every hour costs what it holds, not what it ever held), stay on disk
/// for earlier versions, and come back as they were when the node is put back; a node is
/// linked at one path at a time.
#[tokio::test]
async fn removed_nodes_leave_the_table_and_come_back_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(dir.path()).await.unwrap();
    write(&pond, "w", "/d/keep", b"kept").await;
    let (files_before, parts_before) = live(&pond);
    let mut before_rm = 0;
    for round in 0..40 {
        let tx = pond.fs().begin(meta("scratch")).await.unwrap();
        let root = tx.root();
        root.create_dir_all("/s/sub").await.unwrap();
        for v in 0..3 {
            let body = format!("round {round} v{v}");
            root.write_file("/s/sub/a", EntryType::FileData, body.as_bytes())
                .await
                .unwrap();
        }
        root.write_file("/s/b", EntryType::FileData, b"bee")
            .await
            .unwrap();
        root.symlink("/s/b", "/s/link").await.unwrap();
        before_rm = tx.commit().await.unwrap().unwrap();
        let tx = pond.fs().begin(meta("rm -r /s")).await.unwrap();
        tx.root().remove("/s", true).await.unwrap();
        tx.commit().await.unwrap().unwrap();
    }
    let (files, parts) = live(&pond);
    assert_eq!(
        parts, parts_before,
        "no partition of a removed directory is live"
    );
    // The root's own files grow to one snapshot's worth at most.
    assert!(files <= files_before + 16, "{files} live files");
    let (text, _) = delta_sql(dir.path(), "SELECT count(DISTINCT part_id) AS n FROM oplog").await;
    assert!(text.contains(&format!("| {parts_before} ")), "{text}");

    // Earlier versions read what was there.
    let then = Pond::open_at(dir.path(), before_rm).await.unwrap();
    assert_eq!(
        then.fs().root().read_file("/s/sub/a").await.unwrap(),
        b"round 39 v2"
    );

    // Put back: the directory with everything under it.
    let tx = pond.fs().begin(meta("restore /s")).await.unwrap();
    let s = then.fs().root().get_entry("/s").await.unwrap().unwrap();
    tx.root().link("/s", &s).await.unwrap();
    // Read in the same transaction, below the node put back.
    assert_eq!(
        tx.root().read_file("/s/sub/a").await.unwrap(),
        b"round 39 v2"
    );
    tx.commit().await.unwrap().unwrap();
    let root = pond.fs().root();
    assert_eq!(root.read_file("/s/sub/a").await.unwrap(), b"round 39 v2");
    assert_eq!(root.read_file("/s/sub/a@v1").await.unwrap(), b"round 39 v0");
    assert_eq!(root.readlink("/s/link").await.unwrap(), "/s/b");
    let reopened = Pond::open(dir.path()).await.unwrap();
    assert_eq!(
        reopened.fs().root().read_file("/s/sub/a@v2").await.unwrap(),
        b"round 39 v1"
    );
    assert_eq!(
        live(&pond).1,
        parts_before + 2,
        "/s and /s/sub are live again"
    );
    let data_rows = || async {
        let sql = "SELECT count(*) AS n FROM oplog WHERE entry_type = 'file:data'";
        delta_sql(dir.path(), sql).await.0
    };
    // /d/keep, /s/sub/a (3 versions), /s/b.
    assert!(data_rows().await.contains("| 5 "), "{}", data_rows().await);

    // A node linked once already is not linked again; put back into another directory
    // after its removal, a file has its history copied there.
    let b = then.fs().root().get_entry("/s/b").await.unwrap().unwrap();
    let tx = pond.fs().begin(meta("link")).await.unwrap();
    tx.root().link("/d/b", &b).await.unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("\"/d/b\": this node is linked at another path"),
        "{err}"
    );
    let tx = pond.fs().begin(meta("rm")).await.unwrap();
    tx.root().remove("/s/b", false).await.unwrap();
    tx.commit().await.unwrap().unwrap();
    assert!(data_rows().await.contains("| 4 "), "{}", data_rows().await);
    let tx = pond.fs().begin(meta("link")).await.unwrap();
    tx.root().link("/d/b", &b).await.unwrap();
    tx.commit().await.unwrap().unwrap();
    assert_eq!(root.read_file("/d/b").await.unwrap(), b"bee");
    assert!(data_rows().await.contains("| 5 "), "{}", data_rows().await);

    // A file moved to another directory leaves its old key.
    let tx = pond.fs().begin(meta("mv")).await.unwrap();
    tx.root().rename("/d/b", "/s/b2").await.unwrap();
    let moved = tx.commit().await.unwrap().unwrap();
    assert!(
        data_rows().await.contains("| 5 "),
        "moved, not copied: {}",
        data_rows().await
    );
    assert_eq!(root.read_file("/s/b2").await.unwrap(), b"bee");

    // Linking back a node the current version holds elsewhere is refused, and changes
    // nothing.
    let before = Pond::open_at(dir.path(), moved - 1).await.unwrap();
    let old_b = before.fs().root().get_entry("/d/b").await.unwrap().unwrap();
    let sub = before
        .fs()
        .root()
        .get_entry("/s/sub")
        .await
        .unwrap()
        .unwrap();
    for (path, node) in [("/d/b", &old_b), ("/d/sub", &sub)] {
        let tx = pond.fs().begin(meta("link")).await.unwrap();
        let err = match tx.root().link(path, node).await {
            Err(e) => e,
            Ok(()) => tx.commit().await.unwrap_err(),
        };
        assert!(
            err.to_string().contains("linked at another path"),
            "{path}: {err}"
        );
    }
    assert_eq!(pond.persistence().view().version(), moved);
    assert!(pond.verify().await.unwrap().is_ok());
}

/// A log data file damaged on disk is refused as corrupt (a kind a caller can tell from a
/// bug or a missing path), naming the file.
#[tokio::test]
async fn a_damaged_log_file_reads_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(dir.path()).await.unwrap();
    write(&pond, "w", "/d/a", b"one").await;
    drop(pond);
    let root_part = dir
        .path()
        .join("log/part_id=00000000000000000000000000000000");
    let mut files: Vec<_> = std::fs::read_dir(&root_part)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let newest = files.last().unwrap();
    let mut bytes = std::fs::read(newest).unwrap();
    bytes[40] ^= 1;
    std::fs::write(newest, bytes).unwrap();

    let pond = Pond::open(dir.path()).await.unwrap();
    let err = pond.fs().root().list("/").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
    let name = newest.file_name().unwrap().to_string_lossy().to_string();
    assert!(err.to_string().contains(&name), "{err}");
}

#[tokio::test]
async fn the_version_at_a_time_is_the_newest_made_by_then() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(dir.path()).await.unwrap();
    for i in 1..=9u8 {
        std::thread::sleep(std::time::Duration::from_millis(5));
        write(&pond, "pond copy a", "/d/a", &[i]).await;
    }
    let made: Vec<(u64, i64)> = pond
        .history(None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.version, e.timestamp_ms.unwrap() * 1000))
        .collect();
    for &(version, at) in &made {
        // At the instant of a commit, and just before the next one, it is that version,
        // unless another was made in the same millisecond.
        let newest_then = made.iter().filter(|(_, t)| *t <= at).map(|(v, _)| *v).max();
        let found = pond.version_at(at).await.unwrap();
        assert_eq!(found, newest_then.unwrap());
        assert!(found >= version);
    }
    assert_eq!(pond.version_at(i64::MAX / 2).await.unwrap(), 9);
    let before = made.iter().map(|(_, t)| *t).min().unwrap() - 1_000;
    let err = pond.version_at(before).await.unwrap_err();
    assert!(
        err.to_string().contains("the pond has no version as of"),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

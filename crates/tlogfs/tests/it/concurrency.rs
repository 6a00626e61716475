//! Concurrent writers, made to interleave deterministically in one process: two handles on
//! one pond directory, each with a transaction open at the same base version, committing
//! one after the other (the second finds the first's commit in its way).

use tinyfs::{EntryType, ErrorKind, TxnMeta};
use tlogfs::Pond;

fn meta(cmd: &str) -> TxnMeta {
    TxnMeta {
        command: cmd.split(' ').map(String::from).collect(),
        user: "tester".into(),
    }
}

/// A pond in `dir` with `/a/f` and `/b` made; two handles on it.
async fn two_handles(dir: &std::path::Path) -> (Pond, Pond) {
    let pond = Pond::init(dir).await.unwrap();
    let tx = pond.fs().begin(meta("setup")).await.unwrap();
    tx.root().create_dir_all("/a").await.unwrap();
    tx.root().create_dir_all("/b").await.unwrap();
    tx.root()
        .write_file("/a/f", EntryType::FileData, b"zero")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    drop(pond);
    (
        Pond::open(dir).await.unwrap(),
        Pond::open(dir).await.unwrap(),
    )
}

/// Changes to different paths, even in one directory, do not conflict: the second commit
/// is rebuilt on the first and lands after it, and both are there.
#[tokio::test]
async fn disjoint_changes_rebase_and_both_land() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = two_handles(dir.path()).await;
    let first = one.fs().begin(meta("first")).await.unwrap();
    let second = two.fs().begin(meta("second")).await.unwrap();
    first
        .root()
        .write_file("/a/x", EntryType::FileData, b"from one")
        .await
        .unwrap();
    second
        .root()
        .write_file("/a/y", EntryType::FileData, b"from two")
        .await
        .unwrap();
    second
        .root()
        .write_file("/b/z", EntryType::FileData, b"also two")
        .await
        .unwrap();
    assert_eq!(first.commit().await.unwrap(), Some(2));
    // The second started at version 1 too: it is rebased onto 2.
    assert_eq!(second.commit().await.unwrap(), Some(3));

    let pond = Pond::open(dir.path()).await.unwrap();
    let root = pond.fs().root();
    assert_eq!(root.read_file("/a/x").await.unwrap(), b"from one");
    assert_eq!(root.read_file("/a/y").await.unwrap(), b"from two");
    assert_eq!(root.read_file("/b/z").await.unwrap(), b"also two");
    let names: Vec<String> = root
        .list("/a")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["f", "x", "y"]);
    let log = pond.history(None).await.unwrap();
    assert_eq!(log[0].command, "second");
    assert_eq!(log[1].command, "first");
}

/// Two writes of the same file: the first to commit wins; the second fails with a conflict
/// naming the path and the command it lost to, and leaves nothing behind.
#[tokio::test]
async fn the_same_file_written_twice_conflicts_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = two_handles(dir.path()).await;
    let first = one.fs().begin(meta("pond copy one /a/f")).await.unwrap();
    let second = two.fs().begin(meta("pond copy two /a/f")).await.unwrap();
    first
        .root()
        .write_file("/a/f", EntryType::FileData, b"one")
        .await
        .unwrap();
    second
        .root()
        .write_file("/a/f", EntryType::FileData, b"two")
        .await
        .unwrap();
    assert_eq!(first.commit().await.unwrap(), Some(2));
    let err = second.commit().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("/a/f: conflict:") && text.contains("`pond copy one /a/f`"),
        "{text}"
    );

    let pond = Pond::open(dir.path()).await.unwrap();
    assert_eq!(pond.version(), 2);
    let root = pond.fs().root();
    assert_eq!(root.read_file("/a/f").await.unwrap(), b"one");
    assert_eq!(root.versions("/a/f").await.unwrap().len(), 2);
}

/// A commit another Delta writer made in between: one that changes no data (table
/// properties) is committed over; pond does not guess at one that changes data.
#[tokio::test]
async fn a_foreign_delta_commit_is_rebased_over_only_when_it_changes_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let (one, _) = two_handles(dir.path()).await;
    let url = url::Url::from_directory_path(std::fs::canonicalize(dir.path().join("log")).unwrap())
        .unwrap();

    let tx = one.fs().begin(meta("pond copy x /a/x")).await.unwrap();
    tx.root()
        .write_file("/a/x", EntryType::FileData, b"x")
        .await
        .unwrap();
    let table = deltalake::open_table(url.clone()).await.unwrap();
    let table = table
        .set_tbl_properties()
        .with_properties(
            [(
                "delta.logRetentionDuration".to_string(),
                "interval 30 days".to_string(),
            )]
            .into(),
        )
        .await
        .unwrap();
    assert_eq!(table.version(), Some(2));
    assert_eq!(tx.commit().await.unwrap(), Some(3));
    let pond = Pond::open(dir.path()).await.unwrap();
    assert_eq!(pond.fs().root().read_file("/a/x").await.unwrap(), b"x");

    // A foreign commit that removes a data file pond wrote: refused, naming what wrote it.
    let tx = pond.fs().begin(meta("pond copy y /a/y")).await.unwrap();
    tx.root()
        .write_file("/a/y", EntryType::FileData, b"y")
        .await
        .unwrap();
    let table = deltalake::open_table(url).await.unwrap();
    let victim = table
        .get_file_uris()
        .unwrap()
        .next()
        .expect("the pond has data files");
    let victim = victim[victim.find("part_id=").unwrap()..].to_string();
    let remove = deltalake::kernel::Remove {
        path: victim,
        data_change: true,
        deletion_timestamp: Some(0),
        ..Default::default()
    };
    deltalake::kernel::transaction::CommitBuilder::default()
        .with_actions(vec![deltalake::kernel::Action::Remove(remove)])
        .build(
            Some(table.snapshot().unwrap()),
            table.log_store(),
            deltalake::protocol::DeltaOperation::Delete { predicate: None },
        )
        .await
        .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(
        err.to_string()
            .contains("written by another program (DELETE)"),
        "{err}"
    );
}

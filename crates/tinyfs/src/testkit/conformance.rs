//! The conformance cases: every operation, and every error it can report.

use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::{EntryType, ErrorKind, FS, Transaction, TxnMeta, WD};

/// One named conformance case.
#[derive(Debug)]
pub struct Case {
    /// What the case checks.
    pub name: &'static str,
    /// The case, on a fresh, empty filesystem.
    pub run: fn(FS) -> BoxFuture<'static, ()>,
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every conformance case.
        pub static CASES: &[Case] = &[$(Case { name: stringify!($name), run: |fs| Box::pin($name(fs)) }),*];
    };
}

cases!(
    root_is_an_empty_directory,
    create_dir_and_list,
    create_dir_errors,
    create_dir_all_makes_parents,
    write_read_and_versions,
    version_errors,
    entry_types_are_kept,
    series_versions_keep_event_time,
    series_versions_keep_members,
    versions_keep_their_origin,
    write_errors,
    streaming_writer_and_seek,
    dropped_writer_leaves_nothing,
    read_errors,
    remove_files_and_dirs,
    remove_errors,
    rename_within_and_across_dirs,
    rename_errors,
    removed_nodes_link_back,
    symlinks_resolve,
    symlink_errors_and_loops,
    dot_and_dotdot,
    relative_working_directories,
    names_at_the_limits,
    glob_wildcards_and_captures,
    glob_recursive,
    glob_survives_symlink_cycles,
    commit_makes_changes_visible,
    rollback_discards_everything,
    version_numbering,
    transaction_misuse,
    many_entries_stay_sorted,
    dynamic_nodes_store_and_build,
);

fn meta() -> TxnMeta {
    TxnMeta {
        command: vec!["testkit".into()],
        user: "test".into(),
    }
}

async fn begin(fs: &FS) -> (Transaction, WD) {
    let tx = fs.begin(meta()).await.expect("begin");
    let root = tx.root();
    (tx, root)
}

/// Asserts that `result` failed with `kind`, and that its message mentions `mentions`.
#[track_caller]
fn fails<T>(result: crate::Result<T>, kind: ErrorKind, mentions: &str) {
    match result {
        Ok(_) => panic!("expected {kind:?} mentioning {mentions:?}, got Ok"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "wrong kind for error: {e}");
            let msg = e.to_string();
            assert!(
                msg.contains(mentions),
                "error {msg:?} should mention {mentions:?}"
            );
            assert!(!msg.contains('\n'), "error {msg:?} should be one line");
        }
    }
}

async fn names(wd: &WD, path: &str) -> Vec<String> {
    wd.list(path)
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.name)
        .collect()
}

async fn root_is_an_empty_directory(fs: FS) {
    let root = fs.root();
    assert!(names(&root, "/").await.is_empty());
    let meta = root.metadata("/").await.unwrap();
    assert_eq!(meta.entry_type, EntryType::Directory);
    assert_eq!(meta.id, crate::NodeId::ROOT);
    assert_eq!(root.path(), "/");
    assert_eq!(fs.version().await.unwrap(), 0);
}

async fn create_dir_and_list(fs: FS) {
    let (tx, root) = begin(&fs).await;
    let a = root.create_dir("/a").await.unwrap();
    assert_eq!(a.path(), "/a");
    root.create_dir("/a/b").await.unwrap();
    a.create_dir("c").await.unwrap();
    root.write_file("/a/f", EntryType::FileData, b"x")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let root = fs.root();
    let listing = root.list("/a").await.unwrap();
    let got: Vec<(String, EntryType)> = listing
        .iter()
        .map(|e| (e.name.clone(), e.entry_type))
        .collect();
    assert_eq!(
        got,
        [
            ("b".to_string(), EntryType::Directory),
            ("c".to_string(), EntryType::Directory),
            ("f".to_string(), EntryType::FileData),
        ]
    );
    assert_eq!(names(&root, "/").await, ["a"]);
    let b = root.metadata("/a/b").await.unwrap();
    assert_eq!(b.id, listing[0].id);
    assert_eq!(b.entry_type, EntryType::Directory);
}

async fn create_dir_errors(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    root.create_dir("/a").await.unwrap();
    root.write_file("/f", EntryType::FileData, b"")
        .await
        .unwrap();
    fails(root.create_dir("/a").await, ErrorKind::AlreadyExists, "/a");
    fails(root.create_dir("/f").await, ErrorKind::AlreadyExists, "/f");
    fails(root.create_dir("/").await, ErrorKind::AlreadyExists, "/");
    fails(root.create_dir("/x/y").await, ErrorKind::NotFound, "/x");
    fails(
        root.create_dir("/f/y").await,
        ErrorKind::NotADirectory,
        "/f",
    );
    fails(
        root.create_dir("/a/y@v1").await,
        ErrorKind::InvalidPath,
        "y@v1",
    );
    fails(
        root.create_dir("/a//y").await,
        ErrorKind::InvalidPath,
        "/a//y",
    );
    fails(root.create_dir("").await, ErrorKind::InvalidPath, "empty");
}

async fn create_dir_all_makes_parents(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    let wd = root.create_dir_all("/a/b/c").await.unwrap();
    assert_eq!(wd.path(), "/a/b/c");
    assert_eq!(names(&root, "/a/b").await, ["c"]);
    // Existing directories are fine, the whole way.
    root.create_dir_all("/a/b/c").await.unwrap();
    root.create_dir_all("/a/b/d").await.unwrap();
    assert_eq!(names(&root, "/a/b").await, ["c", "d"]);
    root.write_file("/a/f", EntryType::FileData, b"")
        .await
        .unwrap();
    fails(
        root.create_dir_all("/a/f/g").await,
        ErrorKind::NotADirectory,
        "/a/f",
    );
    fails(
        root.create_dir_all("/a/f").await,
        ErrorKind::NotADirectory,
        "/a/f",
    );
}

async fn write_read_and_versions(fs: FS) {
    let (tx, root) = begin(&fs).await;
    let v1 = root
        .write_file("/f", EntryType::FileData, b"one")
        .await
        .unwrap();
    let v2 = root
        .write_file("/f", EntryType::FileData, b"second")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (tx, root) = begin(&fs).await;
    let v3 = root
        .write_file("/f", EntryType::FileData, b"")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((v1.version, v2.version, v3.version), (1, 2, 3));
    assert_eq!(v2.size, 6);
    assert_eq!(v2.blake3, blake3::hash(b"second"));
    assert_eq!(v3.size, 0);
    let root = fs.root();
    assert_eq!(root.read_file("/f@v1").await.unwrap(), b"one");
    assert_eq!(root.read_file("/f@v2").await.unwrap(), b"second");
    assert_eq!(root.read_file("/f").await.unwrap(), b"");
    let versions = root.versions("/f").await.unwrap();
    assert_eq!(versions, [v1.clone(), v2.clone(), v3.clone()]);
    assert!(
        versions
            .windows(2)
            .all(|w| w[0].modified_micros <= w[1].modified_micros)
    );
    let meta = root.metadata("/f").await.unwrap();
    assert_eq!(meta.version, Some(3));
    assert_eq!(meta.latest, 3);
    assert_eq!(meta.size, 0);
    let meta = root.metadata("/f@v1").await.unwrap();
    assert_eq!(meta.version, Some(1));
    assert_eq!(meta.size, 3);
    assert_eq!(meta.blake3, Some(blake3::hash(b"one")));
    assert_eq!(meta.modified_micros, Some(v1.modified_micros));
}

async fn version_errors(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    root.write_file("/f", EntryType::FileData, b"a")
        .await
        .unwrap();
    root.write_file("/f", EntryType::FileData, b"b")
        .await
        .unwrap();
    root.create_dir("/d").await.unwrap();
    fails(
        root.read_file("/f@v3").await,
        ErrorKind::NotFound,
        "/f: no version 3",
    );
    fails(
        root.metadata("/f@v9").await,
        ErrorKind::NotFound,
        "v1 to v2",
    );
    // A path may name v0 (an external Delta table's first version); a stored file's
    // versions start at v1.
    fails(
        root.read_file("/f@v0").await,
        ErrorKind::NotFound,
        "no version 0 (versions are v1 to v2)",
    );
    fails(
        root.metadata("/d@v1").await,
        ErrorKind::InvalidPath,
        "version",
    );
    fails(
        root.write_file("/f@v1", EntryType::FileData, b"").await,
        ErrorKind::InvalidPath,
        "version",
    );
}

async fn entry_types_are_kept(fs: FS) {
    let (tx, root) = begin(&fs).await;
    root.write_file("/t", EntryType::FileTable, b"PAR1")
        .await
        .unwrap();
    root.write_file("/s", EntryType::FileSeries, b"PAR1")
        .await
        .unwrap();
    root.write_file("/s", EntryType::FileSeries, b"PAR1")
        .await
        .unwrap();
    root.symlink("/t", "/l").await.unwrap();
    tx.commit().await.unwrap();
    let root = fs.root();
    let types: Vec<EntryType> = root
        .list("/")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry_type)
        .collect();
    assert_eq!(
        types,
        [
            EntryType::Symlink,
            EntryType::FileSeries,
            EntryType::FileTable
        ]
    );
    assert_eq!(
        root.metadata("/l").await.unwrap().entry_type,
        EntryType::FileTable
    );
    assert_eq!(
        root.symlink_metadata("/l").await.unwrap().entry_type,
        EntryType::Symlink
    );
    assert_eq!(root.metadata("/s").await.unwrap().latest, 2);
}

async fn series_versions_keep_event_time(fs: FS) {
    let (tx, root) = begin(&fs).await;
    let range = crate::EventTime {
        column: "time_hour".into(),
        min_micros: 1_356_998_400_000_000,
        max_micros: 1_357_084_800_000_000,
    };
    let mut w = root.create_file("/s", EntryType::FileSeries).await.unwrap();
    w.set_event_time(range.clone());
    w.write_all(b"PAR1").await.unwrap();
    let v1 = w.finish().await.unwrap();
    assert_eq!(v1.event_time.as_ref(), Some(&range));
    let v2 = root
        .write_file("/s", EntryType::FileSeries, b"PAR1")
        .await
        .unwrap();
    assert_eq!(v2.event_time, None);
    tx.commit().await.unwrap();
    let versions = fs.root().versions("/s").await.unwrap();
    assert_eq!(versions[0].event_time.as_ref(), Some(&range));
    assert_eq!(versions[1].event_time, None);
}

async fn series_versions_keep_members(fs: FS) {
    let (tx, root) = begin(&fs).await;
    for _ in 0..3 {
        root.write_file("/s", EntryType::FileSeries, b"PAR1")
            .await
            .unwrap();
    }
    let members: crate::VersionSet = [1, 3].into_iter().collect();
    let mut w = root.file_writer("/s", EntryType::FileSeries).await.unwrap();
    w.set_members(members.clone());
    w.write_all(b"PAR1").await.unwrap();
    assert_eq!(w.finish().await.unwrap().members.as_ref(), Some(&members));
    tx.commit().await.unwrap();
    let (tx, root) = begin(&fs).await;
    root.write_file("/s", EntryType::FileSeries, b"PAR1")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let versions = fs.root().versions("/s").await.unwrap();
    assert_eq!(versions[3].members.as_ref(), Some(&members));
    assert!(versions.iter().take(3).all(|v| v.members.is_none()));
    assert_eq!(crate::series_members(&versions).to_string(), "1,3,5");
}

async fn versions_keep_their_origin(fs: FS) {
    let origin = crate::Origin {
        size: 5_000_000_000,
        blake3: blake3::hash(b"host file"),
    };
    let (tx, root) = begin(&fs).await;
    root.write_file("/s", EntryType::FileSeries, b"PAR1")
        .await
        .unwrap();
    let mut w = root.file_writer("/s", EntryType::FileSeries).await.unwrap();
    w.set_origin(origin);
    // A version that resets the members: its record names the others.
    w.set_members([1, 2].into_iter().collect());
    w.write_all(b"PAR1").await.unwrap();
    assert_eq!(w.finish().await.unwrap().origin, Some(origin));
    tx.commit().await.unwrap();
    let (tx, root) = begin(&fs).await;
    let mut w = root.file_writer("/s", EntryType::FileSeries).await.unwrap();
    w.set_origin(origin);
    w.set_members([1, 2, 3].into_iter().collect());
    w.write_all(b"PAR1").await.unwrap();
    w.finish().await.unwrap();
    tx.commit().await.unwrap();
    let versions = fs.root().versions("/s").await.unwrap();
    let origins: Vec<_> = versions.iter().map(|v| v.origin).collect();
    assert_eq!(origins, [None, Some(origin), Some(origin)]);
    let latest = fs.root().latest("/s").await.unwrap().unwrap();
    assert_eq!(latest.origin, Some(origin));
    let members = fs.root().members("/s").await.unwrap();
    let origins: Vec<_> = members.iter().map(|v| v.origin).collect();
    assert_eq!(origins, [None, Some(origin), Some(origin)]);
}

async fn write_errors(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    root.create_dir("/d").await.unwrap();
    root.write_file("/f", EntryType::FileData, b"")
        .await
        .unwrap();
    fails(
        root.write_file("/d", EntryType::FileData, b"").await,
        ErrorKind::IsADirectory,
        "/d",
    );
    fails(
        root.write_file("/f/x", EntryType::FileData, b"").await,
        ErrorKind::NotADirectory,
        "/f",
    );
    fails(
        root.write_file("/nope/x", EntryType::FileData, b"").await,
        ErrorKind::NotFound,
        "/nope",
    );
    fails(
        root.write_file("/f", EntryType::FileTable, b"").await,
        ErrorKind::AlreadyExists,
        "file:data",
    );
    fails(
        root.create_file("/f", EntryType::FileData).await,
        ErrorKind::AlreadyExists,
        "/f",
    );
    fails(
        root.write_file("/d/x", EntryType::Directory, b"").await,
        ErrorKind::InvalidPath,
        "not a file type",
    );
    // A failed write changes nothing.
    assert_eq!(root.versions("/f").await.unwrap().len(), 1);
    assert_eq!(names(&root, "/d").await.len(), 0);
}

async fn streaming_writer_and_seek(fs: FS) {
    let (tx, root) = begin(&fs).await;
    let body: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    let mut w = root.create_file("/big", EntryType::FileData).await.unwrap();
    for chunk in body.chunks(64 * 1024) {
        w.write_all(chunk).await.unwrap();
    }
    let version = w.finish().await.unwrap();
    assert_eq!(version.size, body.len() as u64);
    assert_eq!(version.blake3, blake3::hash(&body));
    tx.commit().await.unwrap();
    let mut r = fs.root().open("/big").await.unwrap();
    r.seek(std::io::SeekFrom::Start(700_001)).await.unwrap();
    let mut buf = [0u8; 10];
    r.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf[..], &body[700_001..700_011]);
    r.seek(std::io::SeekFrom::End(-3)).await.unwrap();
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).await.unwrap();
    assert_eq!(tail, &body[body.len() - 3..]);
}

async fn dropped_writer_leaves_nothing(fs: FS) {
    let (tx, root) = begin(&fs).await;
    let mut w = root.create_file("/f", EntryType::FileData).await.unwrap();
    w.write_all(b"abandoned").await.unwrap();
    drop(w);
    assert!(!root.exists("/f").await.unwrap());
    root.write_file("/g", EntryType::FileData, b"kept")
        .await
        .unwrap();
    let mut w = root.file_writer("/g", EntryType::FileData).await.unwrap();
    w.write_all(b"abandoned").await.unwrap();
    drop(w);
    tx.commit().await.unwrap();
    assert!(!fs.root().exists("/f").await.unwrap());
    assert_eq!(fs.root().versions("/g").await.unwrap().len(), 1);
}

async fn read_errors(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    root.create_dir("/d").await.unwrap();
    root.write_file("/d/f", EntryType::FileData, b"")
        .await
        .unwrap();
    fails(root.read_file("/nope").await, ErrorKind::NotFound, "/nope");
    fails(
        root.read_file("/d/nope").await,
        ErrorKind::NotFound,
        "/d/nope",
    );
    fails(root.read_file("/x/y/z").await, ErrorKind::NotFound, "/x");
    fails(root.read_file("/d").await, ErrorKind::IsADirectory, "/d");
    fails(root.list("/d/f").await, ErrorKind::NotADirectory, "/d/f");
    fails(root.list("/d/f/g").await, ErrorKind::NotADirectory, "/d/f");
    fails(
        root.read_file("/d/f/g").await,
        ErrorKind::NotADirectory,
        "/d/f",
    );
    fails(
        root.open_dir("/d/f").await,
        ErrorKind::NotADirectory,
        "/d/f",
    );
    fails(root.metadata("/nope").await, ErrorKind::NotFound, "/nope");
    fails(root.versions("/d").await, ErrorKind::IsADirectory, "/d");
    assert!(root.get("/nope").await.unwrap().is_none());
    fails(root.get("/nope/x").await, ErrorKind::NotFound, "/nope");
}

async fn remove_files_and_dirs(fs: FS) {
    let (tx, root) = begin(&fs).await;
    root.create_dir_all("/a/b/c").await.unwrap();
    root.write_file("/a/b/c/f", EntryType::FileData, b"1")
        .await
        .unwrap();
    root.write_file("/a/g", EntryType::FileData, b"2")
        .await
        .unwrap();
    root.create_dir("/e").await.unwrap();
    root.symlink("/a/g", "/l").await.unwrap();
    tx.commit().await.unwrap();

    let (tx, root) = begin(&fs).await;
    root.remove("/a/g", false).await.unwrap();
    root.remove("/e", false).await.unwrap();
    root.remove("/l", false).await.unwrap();
    root.remove("/a", true).await.unwrap();
    tx.commit().await.unwrap();
    assert!(names(&fs.root(), "/").await.is_empty());

    // A name can be used again: a new node, whose versions start over.
    let (tx, root) = begin(&fs).await;
    root.write_file("/g", EntryType::FileData, b"1")
        .await
        .unwrap();
    root.write_file("/g", EntryType::FileData, b"2")
        .await
        .unwrap();
    root.remove("/g", false).await.unwrap();
    let v = root
        .write_file("/g", EntryType::FileTable, b"3")
        .await
        .unwrap();
    assert_eq!(v.version, 1);
    // Removing a symlink removes the link, not its target.
    root.symlink("g", "/link").await.unwrap();
    root.remove("/link", false).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(fs.root().read_file("/g").await.unwrap(), b"3");
}

async fn remove_errors(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    root.create_dir_all("/a/b").await.unwrap();
    root.write_file("/f", EntryType::FileData, b"")
        .await
        .unwrap();
    fails(root.remove("/a", false).await, ErrorKind::NotEmpty, "/a");
    fails(
        root.remove("/nope", false).await,
        ErrorKind::NotFound,
        "/nope",
    );
    fails(
        root.remove("/f/x", false).await,
        ErrorKind::NotADirectory,
        "/f",
    );
    fails(root.remove("/", true).await, ErrorKind::InvalidPath, "/");
    fails(
        root.remove("/a/..", true).await,
        ErrorKind::InvalidPath,
        "..",
    );
    fails(
        root.remove("/f@v1", false).await,
        ErrorKind::InvalidPath,
        "version",
    );
    assert_eq!(names(&root, "/").await, ["a", "f"]);
}

async fn rename_within_and_across_dirs(fs: FS) {
    let (tx, root) = begin(&fs).await;
    root.create_dir_all("/a/sub").await.unwrap();
    root.create_dir("/b").await.unwrap();
    root.write_file("/a/f", EntryType::FileTable, b"v1")
        .await
        .unwrap();
    root.write_file("/a/f", EntryType::FileTable, b"v2")
        .await
        .unwrap();
    root.write_file("/a/sub/g", EntryType::FileData, b"g")
        .await
        .unwrap();
    let id = root.metadata("/a/f").await.unwrap().id;
    tx.commit().await.unwrap();

    let (tx, root) = begin(&fs).await;
    root.rename("/a/f", "/a/f2").await.unwrap();
    root.rename("/a/f2", "/b/f3").await.unwrap();
    root.rename("/a/sub", "/b/sub2").await.unwrap();
    tx.commit().await.unwrap();

    let root = fs.root();
    assert_eq!(names(&root, "/a").await, Vec::<String>::new());
    assert_eq!(names(&root, "/b").await, ["f3", "sub2"]);
    let meta = root.metadata("/b/f3").await.unwrap();
    assert_eq!(meta.id, id, "a move keeps the node");
    assert_eq!(meta.entry_type, EntryType::FileTable);
    assert_eq!(root.read_file("/b/f3@v1").await.unwrap(), b"v1");
    assert_eq!(root.read_file("/b/sub2/g").await.unwrap(), b"g");

    // Versions continue after a move.
    let (tx, root) = begin(&fs).await;
    let v = root
        .write_file("/b/f3", EntryType::FileTable, b"v3")
        .await
        .unwrap();
    assert_eq!(v.version, 3);
    tx.commit().await.unwrap();
    assert_eq!(fs.root().versions("/b/f3").await.unwrap().len(), 3);
}

async fn rename_errors(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    root.create_dir_all("/a/b").await.unwrap();
    root.write_file("/f", EntryType::FileData, b"")
        .await
        .unwrap();
    root.write_file("/g", EntryType::FileData, b"")
        .await
        .unwrap();
    fails(
        root.rename("/f", "/g").await,
        ErrorKind::AlreadyExists,
        "/g",
    );
    fails(
        root.rename("/f", "/f").await,
        ErrorKind::AlreadyExists,
        "/f",
    );
    fails(
        root.rename("/nope", "/x").await,
        ErrorKind::NotFound,
        "/nope",
    );
    fails(
        root.rename("/f", "/nope/x").await,
        ErrorKind::NotFound,
        "/nope",
    );
    fails(
        root.rename("/f", "/g/x").await,
        ErrorKind::NotADirectory,
        "/g",
    );
    fails(
        root.rename("/a", "/a/b/c").await,
        ErrorKind::InvalidPath,
        "into itself",
    );
    fails(
        root.rename("/a", "/a/x").await,
        ErrorKind::InvalidPath,
        "into itself",
    );
    fails(root.rename("/", "/x").await, ErrorKind::InvalidPath, "/");
    fails(
        root.rename("/f", "/x@v2").await,
        ErrorKind::InvalidPath,
        "version",
    );
    assert_eq!(names(&root, "/").await, ["a", "f", "g"]);
    assert_eq!(names(&root, "/a").await, ["b"]);
}

async fn removed_nodes_link_back(fs: FS) {
    let (tx, root) = begin(&fs).await;
    root.create_dir_all("/d/e").await.unwrap();
    for body in [b"one".as_slice(), b"two"] {
        root.write_file("/d/e/f", EntryType::FileData, body)
            .await
            .unwrap();
        root.write_file("/d/h", EntryType::FileData, body)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let (tx, root) = begin(&fs).await;
    assert!(root.get_entry("/nope/f").await.unwrap().is_none());
    let file = root.get_entry("/d/h").await.unwrap().unwrap();
    let dir = root.get_entry("/d/e").await.unwrap().unwrap();
    root.remove("/d/e", true).await.unwrap();
    root.remove("/d/h", false).await.unwrap();
    tx.commit().await.unwrap();
    let (tx, root) = begin(&fs).await;
    root.link("/d/e", &dir).await.unwrap();
    root.link("/d/g", &file).await.unwrap();
    fails(
        root.link("/d/g", &file).await,
        ErrorKind::AlreadyExists,
        "/d/g",
    );
    fails(
        root.link("/d/e/inner", &dir).await,
        ErrorKind::InvalidPath,
        "inside itself",
    );
    tx.commit().await.unwrap();
    let root = fs.root();
    assert_eq!(root.read_file("/d/e/f").await.unwrap(), b"two");
    assert_eq!(root.read_file("/d/e/f@v1").await.unwrap(), b"one");
    assert_eq!(root.read_file("/d/g@v1").await.unwrap(), b"one");
    assert_eq!(root.versions("/d/g").await.unwrap().len(), 2);
    assert_eq!(names(&root, "/d").await, ["e", "g"]);
}

async fn symlinks_resolve(fs: FS) {
    let (tx, root) = begin(&fs).await;
    root.create_dir_all("/data/raw").await.unwrap();
    root.write_file("/data/raw/x.csv", EntryType::FileData, b"x")
        .await
        .unwrap();
    root.symlink("/data/raw", "/abs").await.unwrap();
    root.symlink("raw/x.csv", "/data/rel").await.unwrap();
    root.symlink("../data/raw", "/data/up").await.unwrap();
    root.symlink("/data/rel", "/chain").await.unwrap();
    root.symlink("/nowhere", "/dangling").await.unwrap();
    tx.commit().await.unwrap();
    let root = fs.root();
    assert_eq!(root.read_file("/abs/x.csv").await.unwrap(), b"x");
    assert_eq!(root.read_file("/data/rel").await.unwrap(), b"x");
    assert_eq!(root.read_file("/data/up/x.csv").await.unwrap(), b"x");
    assert_eq!(root.read_file("/chain").await.unwrap(), b"x");
    assert_eq!(root.readlink("/data/rel").await.unwrap(), "raw/x.csv");
    assert_eq!(names(&root, "/abs").await, ["x.csv"]);
    assert_eq!(
        root.canonicalize("/abs/x.csv").await.unwrap(),
        "/data/raw/x.csv"
    );
    // `..` after a link applies to where the link led.
    assert_eq!(root.read_file("/abs/../rel").await.unwrap(), b"x");
    assert_eq!(
        root.symlink_metadata("/dangling").await.unwrap().size,
        "/nowhere".len() as u64
    );
    fails(
        root.read_file("/dangling").await,
        ErrorKind::NotFound,
        "/nowhere",
    );
    // Writing through a dangling link creates its target, as on Unix.
    let (tx, root) = begin(&fs).await;
    root.write_file("/dangling", EntryType::FileData, b"made")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(fs.root().read_file("/nowhere").await.unwrap(), b"made");
}

async fn symlink_errors_and_loops(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    root.write_file("/f", EntryType::FileData, b"")
        .await
        .unwrap();
    root.symlink("/b", "/a").await.unwrap();
    root.symlink("/a", "/b").await.unwrap();
    root.symlink("self", "/self").await.unwrap();
    fails(root.read_file("/a").await, ErrorKind::SymlinkLoop, "/a");
    fails(
        root.list("/self").await,
        ErrorKind::SymlinkLoop,
        "symbolic links",
    );
    fails(root.read_file("/a/x").await, ErrorKind::SymlinkLoop, "/a/x");
    // A chain longer than the limit is a loop too.
    root.write_file("/target", EntryType::FileData, b"t")
        .await
        .unwrap();
    let mut prev = "/target".to_string();
    for i in 0..crate::MAX_SYMLINKS {
        let name = format!("/l{i}");
        root.symlink(&prev, name.as_str()).await.unwrap();
        prev = name;
    }
    assert_eq!(
        root.read_file(format!("/l{}", crate::MAX_SYMLINKS - 1))
            .await
            .unwrap(),
        b"t"
    );
    root.symlink(&prev, "/too_long").await.unwrap();
    fails(
        root.read_file("/too_long").await,
        ErrorKind::SymlinkLoop,
        "/too_long",
    );
    // Errors of making and reading links.
    fails(
        root.symlink("/x", "/f").await,
        ErrorKind::AlreadyExists,
        "/f",
    );
    fails(
        root.symlink("/x", "/a").await,
        ErrorKind::AlreadyExists,
        "/a",
    );
    fails(
        root.symlink("", "/e").await,
        ErrorKind::InvalidPath,
        "empty",
    );
    fails(
        root.symlink("/f@v1", "/e").await,
        ErrorKind::InvalidPath,
        "version",
    );
    fails(
        root.readlink("/f").await,
        ErrorKind::InvalidPath,
        "not a symlink",
    );
    fails(root.readlink("/nope").await, ErrorKind::NotFound, "/nope");
    // A loop is still removable and renamable: the last component is not followed.
    root.rename("/a", "/a2").await.unwrap();
    root.remove("/a2", false).await.unwrap();
    assert_eq!(root.readlink("/b").await.unwrap(), "/a");
}

async fn dot_and_dotdot(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    root.create_dir_all("/a/b").await.unwrap();
    root.write_file("/a/b/f", EntryType::FileData, b"f")
        .await
        .unwrap();
    assert_eq!(root.read_file("/a/./b/../b/f").await.unwrap(), b"f");
    assert_eq!(root.read_file("/../../a/b/f").await.unwrap(), b"f");
    assert_eq!(root.canonicalize("/a/b/..").await.unwrap(), "/a");
    assert_eq!(root.canonicalize("/..").await.unwrap(), "/");
    assert_eq!(names(&root, "/a/b/../..").await, ["a"]);
    root.write_file("/a/./g", EntryType::FileData, b"g")
        .await
        .unwrap();
    assert_eq!(names(&root, "/a").await, ["b", "g"]);
}

async fn relative_working_directories(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    let a = root.create_dir_all("/a/b").await.unwrap();
    assert_eq!(a.path(), "/a/b");
    a.write_file("f", EntryType::FileData, b"rel")
        .await
        .unwrap();
    a.create_dir("c").await.unwrap();
    assert_eq!(root.read_file("/a/b/f").await.unwrap(), b"rel");
    let c = a.open_dir("c").await.unwrap();
    assert_eq!(c.path(), "/a/b/c");
    assert_eq!(c.read_file("../f").await.unwrap(), b"rel");
    assert_eq!(c.read_file("/a/b/f").await.unwrap(), b"rel");
    let up = c.open_dir("../..").await.unwrap();
    assert_eq!(up.path(), "/a");
    assert_eq!(names(&up, ".").await, ["b"]);
    c.rename("../f", "moved").await.unwrap();
    assert_eq!(root.read_file("/a/b/c/moved").await.unwrap(), b"rel");
    assert_eq!(c.glob("*").await.unwrap()[0].path, "/a/b/c/moved");
}

async fn names_at_the_limits(fs: FS) {
    let (tx, root) = begin(&fs).await;
    let long = "n".repeat(crate::MAX_NAME_LEN);
    for name in [
        "with space",
        "ünïcödé ✓",
        "a@b",
        "tab\there",
        ".hidden",
        long.as_str(),
    ] {
        root.write_file(
            format!("/{name}").as_str(),
            EntryType::FileData,
            name.as_bytes(),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let root = fs.root();
    assert_eq!(
        root.read_file("/ünïcödé ✓").await.unwrap(),
        "ünïcödé ✓".as_bytes()
    );
    assert_eq!(root.list("/").await.unwrap().len(), 6);
    let (_tx, root) = begin(&fs).await;
    let too_long = format!("/{}", "n".repeat(crate::MAX_NAME_LEN + 1));
    fails(
        root.write_file(too_long.as_str(), EntryType::FileData, b"")
            .await,
        ErrorKind::InvalidPath,
        "at most 255 bytes",
    );
    fails(
        root.write_file("/nul\0", EntryType::FileData, b"").await,
        ErrorKind::InvalidPath,
        "NUL",
    );
    fails(
        root.create_dir("/x@v3").await,
        ErrorKind::InvalidPath,
        "@v3",
    );
}

async fn glob_wildcards_and_captures(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    root.create_dir_all("/sensors/site1").await.unwrap();
    root.create_dir_all("/sensors/site2").await.unwrap();
    root.create_dir_all("/sensors/other").await.unwrap();
    for f in [
        "/sensors/site1/temp_2024.csv",
        "/sensors/site1/flow_2024.csv",
        "/sensors/site2/temp_2025.csv",
        "/sensors/site2/notes.txt",
        "/sensors/other/temp_2024.csv",
    ] {
        root.write_file(f, EntryType::FileData, b"").await.unwrap();
    }
    let got = |matches: Vec<crate::GlobMatch>| -> Vec<(String, Vec<String>)> {
        matches.into_iter().map(|m| (m.path, m.captures)).collect()
    };
    assert_eq!(
        got(root.glob("/sensors/site?/*_*.csv").await.unwrap()),
        [
            (
                "/sensors/site1/flow_2024.csv".into(),
                vec!["1".into(), "flow".into(), "2024".into()]
            ),
            (
                "/sensors/site1/temp_2024.csv".into(),
                vec!["1".into(), "temp".into(), "2024".into()]
            ),
            (
                "/sensors/site2/temp_2025.csv".into(),
                vec!["2".into(), "temp".into(), "2025".into()]
            ),
        ]
    );
    assert_eq!(root.glob("/sensors/site[2-9]/*").await.unwrap().len(), 2);
    assert_eq!(root.glob("/sensors/[!s]*/*").await.unwrap().len(), 1);
    assert_eq!(root.glob("/sensors/*/[tf]*").await.unwrap().len(), 4);
    assert!(root.glob("/sensors/*/*.parquet").await.unwrap().is_empty());
    assert!(root.glob("/nope/*").await.unwrap().is_empty());
    // A literal pattern matches the one path, a directory included.
    let m = root.glob("/sensors/site1").await.unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].node.entry_type(), EntryType::Directory);
    // Relative patterns start at the working directory.
    let site2 = root.open_dir("/sensors/site2").await.unwrap();
    assert_eq!(
        got(site2.glob("*.txt").await.unwrap())[0].0,
        "/sensors/site2/notes.txt"
    );
    fails(
        root.glob("/sensors/[ab").await,
        ErrorKind::InvalidPath,
        "unclosed",
    );
}

async fn glob_recursive(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    root.create_dir_all("/a/b/c").await.unwrap();
    for f in ["/x.csv", "/a/x.csv", "/a/b/c/x.csv", "/a/b/y.txt"] {
        root.write_file(f, EntryType::FileData, b"").await.unwrap();
    }
    let paths =
        |m: Vec<crate::GlobMatch>| -> Vec<String> { m.into_iter().map(|m| m.path).collect() };
    // At the start: any depth, including none.
    assert_eq!(
        paths(root.glob("/**/x.csv").await.unwrap()),
        ["/a/b/c/x.csv", "/a/x.csv", "/x.csv"]
    );
    let m = root.glob("**/x.csv").await.unwrap();
    let caps: Vec<Vec<String>> = m.into_iter().map(|m| m.captures).collect();
    assert_eq!(
        caps,
        [vec!["a/b/c".to_string()], vec!["a".into()], vec!["".into()]]
    );
    // In the middle, with a wildcard after it.
    assert_eq!(
        paths(root.glob("/a/**/*.csv").await.unwrap()),
        ["/a/b/c/x.csv", "/a/x.csv"]
    );
    // At the end: everything below, not the directory itself.
    assert_eq!(
        paths(root.glob("/a/**").await.unwrap()),
        ["/a/b", "/a/b/c", "/a/b/c/x.csv", "/a/b/y.txt", "/a/x.csv"]
    );
    assert_eq!(root.glob("/**").await.unwrap().len(), 7);
    let m = root.glob("/a/**").await.unwrap();
    assert_eq!(m[2].captures, ["b/c/x.csv"]);
    // `**` more than once matches each path once.
    assert_eq!(
        paths(root.glob("/**/b/**/x.csv").await.unwrap()),
        ["/a/b/c/x.csv"]
    );
}

async fn glob_survives_symlink_cycles(fs: FS) {
    let (_tx, root) = begin(&fs).await;
    root.create_dir_all("/a/b").await.unwrap();
    root.write_file("/a/b/f", EntryType::FileData, b"")
        .await
        .unwrap();
    root.symlink("/a", "/a/b/up").await.unwrap();
    root.symlink("loop2", "/a/loop1").await.unwrap();
    root.symlink("loop1", "/a/loop2").await.unwrap();
    let all: Vec<String> = root
        .glob("/**")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.path)
        .collect();
    assert_eq!(
        all,
        ["/a", "/a/b", "/a/b/f", "/a/b/up", "/a/loop1", "/a/loop2"]
    );
    // A link in the middle of a pattern is followed once per segment, as resolution does.
    let via: Vec<String> = root
        .glob("/a/b/up/b/*")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.path)
        .collect();
    assert_eq!(via, ["/a/b/up/b/f", "/a/b/up/b/up"]);
    assert!(root.glob("/a/loop1/*").await.unwrap().is_empty());
}

async fn commit_makes_changes_visible(fs: FS) {
    let (tx, root) = begin(&fs).await;
    root.create_dir("/d").await.unwrap();
    root.write_file("/d/f", EntryType::FileData, b"x")
        .await
        .unwrap();
    // Inside the transaction, its own changes are visible.
    assert_eq!(fs.root().read_file("/d/f").await.unwrap(), b"x");
    assert_eq!(tx.commit().await.unwrap(), Some(1));
    assert_eq!(fs.version().await.unwrap(), 1);
    assert_eq!(fs.root().read_file("/d/f").await.unwrap(), b"x");
}

async fn rollback_discards_everything(fs: FS) {
    let (tx, root) = begin(&fs).await;
    root.create_dir("/kept").await.unwrap();
    root.write_file("/kept/f", EntryType::FileData, b"1")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (tx, root) = begin(&fs).await;
    root.create_dir("/gone").await.unwrap();
    root.write_file("/kept/f", EntryType::FileData, b"2")
        .await
        .unwrap();
    root.write_file("/kept/g", EntryType::FileData, b"new")
        .await
        .unwrap();
    root.rename("/kept/f", "/gone/f").await.unwrap();
    tx.rollback();
    let root = fs.root();
    assert_eq!(names(&root, "/").await, ["kept"]);
    assert_eq!(names(&root, "/kept").await, ["f"]);
    assert_eq!(root.versions("/kept/f").await.unwrap().len(), 1);
    assert_eq!(fs.version().await.unwrap(), 1);

    // Dropping a transaction rolls it back too.
    {
        let (_tx, root) = begin(&fs).await;
        root.remove("/kept", true).await.unwrap();
    }
    assert_eq!(names(&fs.root(), "/").await, ["kept"]);
    // And the next transaction starts clean.
    let (tx, root) = begin(&fs).await;
    root.write_file("/kept/f", EntryType::FileData, b"2")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(fs.root().versions("/kept/f").await.unwrap().len(), 2);
}

async fn version_numbering(fs: FS) {
    assert_eq!(fs.version().await.unwrap(), 0);
    let (tx, _root) = begin(&fs).await;
    assert_eq!(
        tx.commit().await.unwrap(),
        None,
        "an empty commit commits nothing"
    );
    assert_eq!(fs.version().await.unwrap(), 0);
    for expected in 1..=3 {
        let (tx, root) = begin(&fs).await;
        root.create_dir(format!("/d{expected}").as_str())
            .await
            .unwrap();
        assert_eq!(tx.commit().await.unwrap(), Some(expected));
    }
    // A transaction whose every change failed commits nothing.
    let (tx, root) = begin(&fs).await;
    assert!(root.create_dir("/d1").await.is_err());
    assert_eq!(tx.commit().await.unwrap(), None);
    assert_eq!(fs.version().await.unwrap(), 3);
}

async fn transaction_misuse(fs: FS) {
    let root = fs.root();
    fails(
        root.create_dir("/x").await,
        ErrorKind::Internal,
        "outside a transaction",
    );
    fails(
        root.write_file("/x", EntryType::FileData, b"").await,
        ErrorKind::Internal,
        "outside a transaction",
    );
    let (tx, _root) = begin(&fs).await;
    fails(fs.begin(meta()).await, ErrorKind::Internal, "transaction");
    tx.rollback();
    // A writer cannot outlive its transaction.
    let (tx, root) = begin(&fs).await;
    let mut w = root
        .create_file("/late", EntryType::FileData)
        .await
        .unwrap();
    w.write_all(b"x").await.unwrap();
    tx.rollback();
    fails(w.finish().await, ErrorKind::Internal, "transaction");
    assert!(!fs.root().exists("/late").await.unwrap());
}

async fn many_entries_stay_sorted(fs: FS) {
    let (tx, root) = begin(&fs).await;
    root.create_dir("/d").await.unwrap();
    let mut expected = Vec::new();
    for i in (0..300).rev() {
        let name = format!("f{i:04}");
        root.write_file(
            format!("/d/{name}").as_str(),
            EntryType::FileData,
            name.as_bytes(),
        )
        .await
        .unwrap();
        expected.push(name);
    }
    tx.commit().await.unwrap();
    expected.sort();
    let root = fs.root();
    assert_eq!(names(&root, "/d").await, expected);
    assert_eq!(root.read_file("/d/f0123").await.unwrap(), b"f0123");
    assert_eq!(root.glob("/d/f01*").await.unwrap().len(), 100);
}

/// Builds `echo` nodes: a read-only directory with one file, `config`, holding the node's
/// configuration.
#[derive(Debug)]
struct EchoBuilder;

#[derive(Debug)]
struct EchoDir {
    id: crate::NodeId,
    config: Vec<u8>,
}

#[derive(Debug)]
struct EchoFile(Vec<u8>);

#[async_trait::async_trait]
impl crate::NodeBuilder for EchoBuilder {
    async fn build(
        &self,
        _fs: &FS,
        id: crate::NodeId,
        _parent: crate::NodeId,
        entry_type: EntryType,
        config: &crate::NodeConfig,
    ) -> crate::Result<crate::NodeKind> {
        assert_eq!(entry_type, EntryType::Directory);
        if config.factory != "echo" {
            return Err(crate::Error::InvalidConfig {
                path: String::new(),
                detail: format!("unknown factory `{}`", config.factory),
            });
        }
        Ok(crate::NodeKind::Directory(std::sync::Arc::new(EchoDir {
            id,
            config: config.config.clone(),
        })))
    }
}

#[async_trait::async_trait]
impl crate::Directory for EchoDir {
    async fn get(&self, name: &str) -> crate::Result<Option<crate::Node>> {
        Ok(self
            .entries()
            .await?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, node)| node))
    }

    async fn entries(&self) -> crate::Result<Vec<(String, crate::Node)>> {
        let file = crate::NodeKind::File(std::sync::Arc::new(EchoFile(self.config.clone())));
        let id = crate::NodeId::derived(&[&self.id.as_u128().to_be_bytes(), b"config"]);
        Ok(vec![("config".into(), crate::Node::new(id, self.id, file))])
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[async_trait::async_trait]
impl crate::File for EchoFile {
    fn entry_type(&self) -> EntryType {
        EntryType::FileData
    }

    async fn versions(&self) -> crate::Result<Vec<crate::FileVersion>> {
        Ok(vec![crate::FileVersion {
            version: 1,
            size: self.0.len() as u64,
            blake3: blake3::hash(&self.0),
            modified_micros: 0,
            event_time: None,
            members: None,
            rows: None,
            compacts: None,
            origin: None,
        }])
    }

    async fn reader(&self, _version: Option<u64>) -> crate::Result<Box<dyn crate::AsyncReadSeek>> {
        Ok(Box::new(std::io::Cursor::new(self.0.clone())))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

async fn dynamic_nodes_store_and_build(fs: FS) {
    let (tx, root) = begin(&fs).await;
    root.create_dir("/d").await.unwrap();
    root.create_dynamic("/d/e", EntryType::Directory, "echo", b"one")
        .await
        .unwrap();
    fails(
        root.create_dynamic("/d/e", EntryType::Directory, "echo", b"x")
            .await,
        ErrorKind::AlreadyExists,
        "/d/e",
    );
    fails(
        root.create_dynamic("/nope/e", EntryType::Directory, "echo", b"x")
            .await,
        ErrorKind::NotFound,
        "/nope",
    );
    tx.commit().await.unwrap();

    // Listing shows the factory; the configuration reads back, versioned.
    let root = fs.root();
    let listed = root.list("/d").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].entry_type, EntryType::Directory);
    assert_eq!(listed[0].factory.as_deref(), Some("echo"));
    let config = root.dynamic_config("/d/e").await.unwrap().unwrap();
    assert_eq!(
        (
            config.factory.as_str(),
            config.config.as_slice(),
            config.version
        ),
        ("echo", &b"one"[..], 1)
    );
    assert_eq!(root.dynamic_config("/d").await.unwrap(), None);

    // Without a builder the node is there but cannot be read, and says why.
    fails(root.list("/d/e").await, ErrorKind::InvalidConfig, "echo");
    // A builder makes it live; `**` does not enter it, naming it does.
    let built = fs.with_builder(std::sync::Arc::new(EchoBuilder)).root();
    assert_eq!(built.read_file("/d/e/config").await.unwrap(), b"one");
    let all: Vec<String> = built
        .glob("/**")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.path)
        .collect();
    assert_eq!(all, ["/d", "/d/e"]);
    let inside: Vec<String> = built
        .glob("/d/e/**")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.path)
        .collect();
    assert_eq!(inside, ["/d/e/config"]);
    fails(
        built.write_file("/d/e/x", EntryType::FileData, b"x").await,
        ErrorKind::ReadOnly,
        "/d/e/x",
    );

    // Overwrite stores the next version; rollback discards one.
    let (tx, root) = begin(&fs).await;
    root.update_dynamic("/d/e", b"two").await.unwrap();
    fails(
        root.update_dynamic("/d", b"x").await,
        ErrorKind::InvalidConfig,
        "/d",
    );
    tx.commit().await.unwrap();
    let (tx, root) = begin(&fs).await;
    root.update_dynamic("/d/e", b"three").await.unwrap();
    tx.rollback();
    let config = fs.root().dynamic_config("/d/e").await.unwrap().unwrap();
    assert_eq!((config.config.as_slice(), config.version), (&b"two"[..], 2));
    let built = fs.with_builder(std::sync::Arc::new(EchoBuilder)).root();
    assert_eq!(built.read_file("/d/e/config").await.unwrap(), b"two");

    // Removing it unlinks the configuration.
    let (tx, root) = begin(&fs).await;
    root.remove("/d/e", false).await.unwrap();
    tx.commit().await.unwrap();
    assert!(fs.root().list("/d").await.unwrap().is_empty());
}

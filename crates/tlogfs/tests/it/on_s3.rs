//! A pond whose only home is an S3 server (started on 127.0.0.1 by the test): bodies that
//! stream up and are read back by range, checkpoints and time travel, and many writers
//! committing at once, each through its own connection.

use std::sync::OnceLock;

use tinyfs::{EntryType, ErrorKind, TxnMeta};
use tlogfs::Pond;
use tlogfs::testkit::S3Server;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// One server for this module's tests; each test has its own prefix.
fn server() -> &'static S3Server {
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    SERVER.get_or_init(S3Server::start)
}

fn meta(cmd: &str) -> TxnMeta {
    TxnMeta {
        command: cmd.split(' ').map(String::from).collect(),
        user: "tester".into(),
    }
}

/// A new connection to the pond at `prefix`, with its own count of bytes fetched.
async fn connect(prefix: &str) -> Pond {
    Pond::connect(server().store(prefix)).await.unwrap()
}

/// Bytes of a body: not compressible, not repeating at block boundaries.
fn body(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A body of many blocks is uploaded whole and read back whole from another connection;
/// a read of its last bytes fetches one block, not the body; and a byte damaged on the
/// server is refused, never returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_up_and_are_read_by_range() {
    let prefix = "bodies";
    let pond = Pond::create(server().store(prefix)).await.unwrap();
    let bytes = body(3 << 20);
    let tx = pond.fs().begin(meta("write")).await.unwrap();
    tx.root()
        .write_file("/big.bin", EntryType::FileData, &bytes)
        .await
        .unwrap();
    assert_eq!(tx.commit().await.unwrap(), Some(1));
    drop(pond);

    let pond = connect(prefix).await;
    assert_eq!(pond.fs().root().read_file("/big.bin").await.unwrap(), bytes);

    let pond = connect(prefix).await;
    let opened = pond.store().bytes_fetched();
    let mut reader = pond.fs().root().open("/big.bin").await.unwrap();
    reader.seek(std::io::SeekFrom::End(-100)).await.unwrap();
    let mut tail = Vec::new();
    reader.read_to_end(&mut tail).await.unwrap();
    assert_eq!(tail, bytes[bytes.len() - 100..]);
    let fetched = pond.store().bytes_fetched() - opened;
    // The one 256 KiB block read, its block hashes (32 bytes a block), and the two small
    // log data files that find the file (the root's entries, the file's versions).
    assert!(
        ((256 << 10)..=(256 << 10) + 12 * 32 + (32 << 10)).contains(&fetched),
        "{fetched} bytes fetched to read 100"
    );

    // Damage one byte of the stored body, in its second block.
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let key = format!("content/{}/{hash}", &hash[..2]);
    let store = server().store(prefix);
    let mut stored = store.get(&key).await.unwrap().unwrap().to_vec();
    stored[300_000] ^= 0x01;
    store.put(&key, stored.into()).await.unwrap();
    let pond = connect(prefix).await;
    let mut reader = pond.fs().root().open("/big.bin").await.unwrap();
    let mut first = vec![0; 256 << 10];
    reader.read_exact(&mut first).await.unwrap();
    assert_eq!(first, bytes[..256 << 10]);
    let err = reader.read_u8().await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("bytes 262144..524288"), "{err}");
}

/// Past a checkpoint, a pond on S3 opens at its latest version and at earlier ones, and
/// reads each as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_on_s3_checkpoint_and_travel_in_time() {
    let prefix = "history";
    let pond = Pond::create(server().store(prefix)).await.unwrap();
    for i in 1..=105u32 {
        let tx = pond.fs().begin(meta(&format!("write {i}"))).await.unwrap();
        tx.root()
            .write_file("/n.txt", EntryType::FileData, i.to_string().as_bytes())
            .await
            .unwrap();
        assert_eq!(tx.commit().await.unwrap(), Some(u64::from(i)));
    }
    let store = server().store(prefix);
    let checkpoint = "log/_delta_log/00000000000000000099.checkpoint.parquet";
    assert!(store.size(checkpoint).await.unwrap().is_some());

    let pond = connect(prefix).await;
    assert_eq!(pond.version(), 105);
    assert_eq!(pond.fs().root().read_file("/n.txt").await.unwrap(), b"105");
    assert_eq!(
        pond.fs().root().versions("/n.txt").await.unwrap().len(),
        105
    );
    let then = Pond::connect_at(server().store(prefix), 50).await.unwrap();
    assert_eq!(then.fs().root().read_file("/n.txt").await.unwrap(), b"50");
    let log = pond.history(Some(2)).await.unwrap();
    assert_eq!(log[0].command, "write 105");

    // The pond is there, and not twice.
    let err = Pond::create(server().store(prefix)).await.unwrap_err();
    assert!(err.to_string().contains("a pond already exists"), "{err}");
    let err = Pond::connect(server().store("nothing-here"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a pond"), "{err}");
}

/// Writers on one S3 pond, each with its own connection, committing at once: changes to
/// different files all land (rebased over each other), and a second write of one file
/// fails naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_on_s3_lose_no_commit() {
    let prefix = "writers";
    let pond = Pond::create(server().store(prefix)).await.unwrap();
    let tx = pond.fs().begin(meta("setup")).await.unwrap();
    tx.root()
        .write_file("/shared", EntryType::FileData, b"zero")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (writers, commits) = (8, 6);
    let mut tasks = Vec::new();
    for w in 0..writers {
        tasks.push(tokio::spawn(async move {
            let pond = connect(prefix).await;
            let mut made = Vec::new();
            for c in 0..commits {
                let tx = pond.fs().begin(meta(&format!("w{w} c{c}"))).await.unwrap();
                tx.root()
                    .write_file(
                        &format!("/w{w}-{c}"),
                        EntryType::FileData,
                        format!("{w}/{c}").as_bytes(),
                    )
                    .await
                    .unwrap();
                made.push(tx.commit().await.unwrap().unwrap());
            }
            made
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.extend(task.await.unwrap());
    }
    versions.sort();
    let expected: Vec<u64> = (2..2 + writers * commits).collect();
    assert_eq!(
        versions, expected,
        "every commit acknowledged once, in order"
    );

    let pond = connect(prefix).await;
    let names = pond.fs().root().list("/").await.unwrap();
    assert_eq!(names.len() as u64, 1 + writers * commits);
    for w in 0..writers {
        for c in 0..commits {
            let read = pond
                .fs()
                .root()
                .read_file(&format!("/w{w}-{c}"))
                .await
                .unwrap();
            assert_eq!(read, format!("{w}/{c}").as_bytes());
        }
    }

    // Two connections write the same file: the second to commit fails, naming it.
    let (one, two) = (connect(prefix).await, connect(prefix).await);
    let first = one.fs().begin(meta("pond copy one /shared")).await.unwrap();
    let second = two.fs().begin(meta("pond copy two /shared")).await.unwrap();
    for (tx, text) in [(&first, "one"), (&second, "two")] {
        tx.root()
            .write_file("/shared", EntryType::FileData, text.as_bytes())
            .await
            .unwrap();
    }
    first.commit().await.unwrap();
    let err = second.commit().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().starts_with("/shared: conflict:"), "{err}");
    let pond = connect(prefix).await;
    assert_eq!(pond.fs().root().read_file("/shared").await.unwrap(), b"one");
}

/// `verify` checks a pond on S3 as it checks a local one: intact, then a damaged body and
/// a damaged log data file are named; `maintain`, which needs a local pond, says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checks_a_pond_on_s3_and_maintain_says_where_it_runs() {
    let prefix = "upkeep";
    let pond = Pond::create(server().store(prefix)).await.unwrap();
    let bytes = body(600_000);
    let tx = pond.fs().begin(meta("write")).await.unwrap();
    tx.root()
        .write_file("/big.bin", EntryType::FileData, &bytes)
        .await
        .unwrap();
    tx.root()
        .write_file("/small.txt", EntryType::FileData, b"small")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let report = pond.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.versions, 2);
    assert!(report.log_files >= 3, "{report:?}");

    let store = server().store(prefix);
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let key = format!("content/{}/{hash}", &hash[..2]);
    let mut stored = store.get(&key).await.unwrap().unwrap().to_vec();
    stored[10] ^= 0x01;
    store.put(&key, stored.into()).await.unwrap();
    let data_file = store
        .list("log")
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.ends_with(".parquet") && !k.contains("_delta_log"))
        .unwrap();
    let mut damaged = store.get(&data_file).await.unwrap().unwrap().to_vec();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x01;
    store.put(&data_file, damaged.into()).await.unwrap();

    let report = connect(prefix).await.verify().await.unwrap();
    assert!(!report.is_ok());
    let found = format!("{:?} {:?}", report.mismatched, report.damaged);
    assert!(found.contains(&hash), "{found}");
    assert!(
        found.contains(data_file.trim_start_matches("log/")),
        "{found}"
    );

    let err = pond
        .maintain(std::time::Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("maintain works on a local pond"),
        "{err}"
    );
}

//! Replicas: a pond copied with its whole history to another store, incrementally, through
//! interruptions, and never over a history that went another way.

use bytes::Bytes;
use tlogfs::replica::{compare, head, replicate};
use tlogfs::store::Store;
use tlogfs::{INLINE_MAX, Pond};

/// Commits `body` as the next version of `path` (a large body goes to `content/`).
async fn write(pond: &Pond, path: &str, body: &[u8]) -> u64 {
    crate::durability::write(pond, "pond copy", path, body).await
}

fn big(seed: u8) -> Vec<u8> {
    (0..INLINE_MAX * 5).map(|i| (i as u8) ^ seed).collect()
}

async fn read(dir: &std::path::Path, path: &str, version: Option<u64>) -> Vec<u8> {
    let pond = match version {
        Some(v) => Pond::open_at(dir, v).await.unwrap(),
        None => Pond::open(dir).await.unwrap(),
    };
    pond.fs().root().read_file(path).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_holds_every_version_and_takes_only_what_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(&dir.path().join("pond")).await.unwrap();
    write(&pond, "/d/small", b"one").await;
    write(&pond, "/d/big", &big(1)).await;
    write(&pond, "/d/big", &big(2)).await;
    let local = Store::local(&dir.path().join("pond"));

    // A replica on a local disk is itself a pond, with every version.
    let copy = dir.path().join("replica");
    let replica = Store::local(&copy);
    let done = replicate(&local, &replica).await.unwrap();
    assert_eq!((done.before, done.after, done.commits), (None, 3, 4));
    assert_eq!(done.bodies, 2);
    assert_eq!(read(&copy, "/d/big", None).await, big(2));
    assert_eq!(read(&copy, "/d/big", Some(2)).await, big(1));
    let verified = Pond::open(&copy).await.unwrap().verify().await.unwrap();
    assert!(verified.is_ok(), "{verified:?}");
    assert!(compare(&local, &replica).await.unwrap().equal());

    // Up to date: nothing sent.
    let again = replicate(&local, &replica).await.unwrap();
    assert_eq!((again.commits, again.bytes), (0, 0));

    // One new version: one commit, its log file and its body.
    write(&pond, "/d/big", &big(3)).await;
    let more = replicate(&local, &replica).await.unwrap();
    assert_eq!((more.before, more.after, more.commits), (Some(3), 4, 1));
    assert_eq!(more.bodies, 1);
    assert!(more.bytes < (INLINE_MAX * 5) as u64 + 20_000, "{more:?}");
    assert_eq!(read(&copy, "/d/big", None).await, big(3));

    // And the other way: a pull into a pond that is behind.
    let behind = dir.path().join("behind");
    let back = Store::local(&behind);
    replicate(&replica, &back).await.unwrap();
    assert_eq!(head(&back).await.unwrap(), Some(4));
    assert_eq!(read(&behind, "/d/small", None).await, b"one");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_cut_short_leaves_a_pond_and_the_next_one_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(&dir.path().join("pond")).await.unwrap();
    for i in 0..5 {
        write(&pond, "/d/big", &big(i)).await;
    }
    let local = Store::local(&dir.path().join("pond"));
    let replica = Store::open("memory://replicas-cut/pond").unwrap();
    replicate(&local, &replica).await.unwrap();
    // As if killed after the bodies, log files and first commits of versions 3-5 went,
    // and before the rest: the replica is at version 2, with orphans.
    let copy = dir.path().join("cut");
    replicate(&replica, &Store::local(&copy)).await.unwrap();
    for v in [3u64, 4, 5] {
        std::fs::remove_file(copy.join(format!("log/_delta_log/{v:020}.json"))).unwrap();
    }
    let cut = Store::local(&copy);
    assert_eq!(head(&cut).await.unwrap(), Some(2));
    assert_eq!(read(&copy, "/d/big", None).await, big(1));
    let done = replicate(&local, &cut).await.unwrap();
    assert_eq!((done.before, done.commits, done.bodies), (Some(2), 3, 0));
    assert_eq!(read(&copy, "/d/big", None).await, big(4));
    assert!(compare(&local, &cut).await.unwrap().equal());
    // The in-memory replica checks out too.
    assert!(compare(&local, &replica).await.unwrap().equal());
}

#[tokio::test(flavor = "multi_thread")]
async fn histories_that_went_apart_are_refused_and_damage_is_not_copied() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(&dir.path().join("pond")).await.unwrap();
    write(&pond, "/d/a", b"one").await;
    let local = Store::local(&dir.path().join("pond"));
    let other_dir = dir.path().join("other");
    replicate(&local, &Store::local(&other_dir)).await.unwrap();
    // Each commits version 2 on its own.
    write(&pond, "/d/a", b"two here").await;
    let other = Pond::open(&other_dir).await.unwrap();
    write(&other, "/d/a", b"two there").await;
    let err = replicate(&local, &Store::local(&other_dir))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the histories differ from pond version 2"),
        "{err}"
    );
    assert_eq!(read(&other_dir, "/d/a", None).await, b"two there");
    // Ahead: the replica has a commit the pond lacks.
    write(&other, "/d/a", b"three there").await;
    let fresh = dir.path().join("fresh");
    replicate(&Store::local(&other_dir), &Store::local(&fresh))
        .await
        .unwrap();
    let err = replicate(&local, &Store::local(&fresh))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ahead of"), "{err}");

    // A damaged body is not sent.
    write(&pond, "/d/big", &big(9)).await;
    let hash = blake3::hash(&big(9)).to_hex().to_string();
    let body = dir
        .path()
        .join(format!("pond/content/{}/{hash}", &hash[..2]));
    let mut bytes = std::fs::read(&body).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&body, &bytes).unwrap();
    let target = Store::open("memory://replicas-damage/pond").unwrap();
    let err = replicate(&local, &target).await.unwrap_err().to_string();
    assert!(err.contains("nothing damaged was copied"), "{err}");
    assert_eq!(
        target
            .get(&format!("content/{}/{hash}", &hash[..2]))
            .await
            .unwrap(),
        None::<Bytes>
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_on_s3_is_pushed_to_cloned_from_and_checked() {
    let server = tlogfs::testkit::S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::init(&dir.path().join("pond")).await.unwrap();
    write(&pond, "/d/small", b"one").await;
    write(&pond, "/d/big", &big(1)).await;
    let local = Store::local(&dir.path().join("pond"));
    let s3 = server.store("station");
    let done = replicate(&local, &s3).await.unwrap();
    assert_eq!((done.before, done.after, done.bodies), (None, 2, 1));
    write(&pond, "/d/big", &big(2)).await;
    let more = replicate(&local, &s3).await.unwrap();
    assert_eq!((more.before, more.commits, more.bodies), (Some(2), 1, 1));
    assert!(compare(&local, &s3).await.unwrap().equal());

    let clone = dir.path().join("clone");
    replicate(&s3, &Store::local(&clone)).await.unwrap();
    assert_eq!(read(&clone, "/d/big", None).await, big(2));
    assert_eq!(read(&clone, "/d/big", Some(2)).await, big(1));
    assert!(
        Pond::open(&clone)
            .await
            .unwrap()
            .verify()
            .await
            .unwrap()
            .is_ok()
    );
}

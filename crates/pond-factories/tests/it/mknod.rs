//! `Registry::mknod`: the rules of making and configuring a dynamic node, as a library
//! user meets them.

use pond_factories::{Error, Registry};
use tinyfs::{EntryType, TxnMeta};
use tlogfs::Pond;

#[tokio::test]
async fn mknod_makes_configures_and_refuses_what_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    let pond = Pond::init(&dir.path().join("pond")).await.unwrap();
    let registry = Registry::builtin(None);
    let fs = registry.install(pond.fs());
    let mount = format!("directory: {}\n", host.display());

    let tx = fs.begin(TxnMeta::default()).await.unwrap();
    let root = tx.root();
    let made = registry
        .mknod(&root, "hostmount", "/mnt", mount.as_bytes(), false)
        .await;
    assert_eq!(made.unwrap(), EntryType::Directory);
    root.create_dir("/plain").await.unwrap();
    tx.commit().await.unwrap();

    let tx = fs.begin(TxnMeta::default()).await.unwrap();
    let root = tx.root();
    let refused = |r: Result<EntryType, Error>| r.unwrap_err().to_string();
    let again = registry
        .mknod(&root, "hostmount", "/mnt", mount.as_bytes(), false)
        .await;
    assert!(refused(again).starts_with("/mnt: already exists (a hostmount node)"));
    let other = registry
        .mknod(&root, "csvdir", "/mnt", b"source: /x/*.csv\n", true)
        .await;
    assert!(refused(other).starts_with("/mnt: is a hostmount node"));
    let plain = registry
        .mknod(&root, "hostmount", "/plain", mount.as_bytes(), true)
        .await;
    assert!(refused(plain).contains("not a dynamic node"));
    let missing = registry
        .mknod(&root, "hostmount", "/nope", mount.as_bytes(), true)
        .await;
    assert!(refused(missing).starts_with("/nope: no such node to overwrite"));
    // Checked before it is kept: a mount of a missing directory is refused.
    let gone = b"directory: /no/such/host/dir\n";
    assert!(
        registry
            .mknod(&root, "hostmount", "/gone", gone, false)
            .await
            .is_err()
    );
    let bad = registry
        .mknod(&root, "hostmount", "/rel", b"directory: rel\n", false)
        .await;
    assert!(refused(bad).contains("not an absolute path"));
    // A new configuration for the same factory is stored.
    let other_host = dir.path().join("other");
    std::fs::create_dir_all(&other_host).unwrap();
    let moved = format!("directory: {}\n", other_host.display());
    registry
        .mknod(&root, "hostmount", "/mnt", moved.as_bytes(), true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let config = fs.root().dynamic_config("/mnt").await.unwrap().unwrap();
    assert_eq!(config.config, moved.as_bytes());
}

//! The tinyfs conformance kit and model-based property test, on ponds in temp directories,
//! in memory (`memory://`) and on a real S3 server.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use tinyfs::FS;
use tinyfs::testkit::{self, model};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A fresh pond in a new directory below `parent`.
async fn fresh_fs(parent: &Path) -> FS {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = parent.join(format!("pond{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    tlogfs::Pond::init(&dir).await.expect("init").fs().clone()
}

/// A fresh pond at a new prefix of the store at `url` (`memory://NAME` or `s3://...`).
async fn fresh_fs_at(url: &str, settings: &[(&str, String)]) -> FS {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let url = format!("{url}/pond{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let store = tlogfs::store::Store::open_with(&url, &settings).expect("a store");
    tlogfs::Pond::create(store)
        .await
        .expect("create")
        .fs()
        .clone()
}

#[test]
fn tlogfs_passes_the_conformance_kit() {
    let parent = tempfile::tempdir().expect("tempdir");
    runtime().block_on(testkit::run_all(|| fresh_fs(parent.path())));
}

#[test]
fn tlogfs_in_memory_passes_the_conformance_kit() {
    runtime().block_on(testkit::run_all(|| fresh_fs_at("memory://kit", &[])));
}

#[test]
fn tlogfs_on_s3_passes_the_conformance_kit() {
    let server = tlogfs::testkit::S3Server::start();
    let settings = server.settings();
    let url = server.url("kit");
    runtime().block_on(testkit::run_all(|| fresh_fs_at(&url, &settings)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn tlogfs_matches_the_model(ops in model::ops(24)) {
        let parent = tempfile::tempdir().expect("tempdir");
        runtime().block_on(async {
            model::check(fresh_fs(parent.path()).await, &ops).await;
        });
    }

    #[test]
    fn tlogfs_in_memory_matches_the_model(ops in model::ops(24)) {
        runtime().block_on(async {
            model::check(fresh_fs_at("memory://model", &[]).await, &ops).await;
        });
    }
}

proptest! {
    // Each case is a new pond on a real S3 server: fewer cases, one server.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn tlogfs_on_s3_matches_the_model(ops in model::ops(24)) {
        static SERVER: std::sync::OnceLock<tlogfs::testkit::S3Server> = std::sync::OnceLock::new();
        let server = SERVER.get_or_init(tlogfs::testkit::S3Server::start);
        runtime().block_on(async {
            model::check(fresh_fs_at(&server.url("model"), &server.settings()).await, &ops).await;
        });
    }
}

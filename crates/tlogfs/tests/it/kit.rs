//! The tinyfs conformance kit and model-based property test, on ponds in temp directories.

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

#[test]
fn tlogfs_passes_the_conformance_kit() {
    let parent = tempfile::tempdir().expect("tempdir");
    runtime().block_on(testkit::run_all(|| fresh_fs(parent.path())));
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
}

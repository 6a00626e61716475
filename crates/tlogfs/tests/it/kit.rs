//! The tinyfs conformance kit and model-based property test, on ponds in temp directories.

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

/// A fresh pond in its own temp directory, kept until the process exits.
async fn fresh_fs() -> FS {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    tlogfs::Pond::init(&dir).await.expect("init").fs().clone()
}

#[test]
fn tlogfs_passes_the_conformance_kit() {
    runtime().block_on(testkit::run_all(fresh_fs));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn tlogfs_matches_the_model(ops in model::ops(24)) {
        runtime().block_on(async {
            model::check(fresh_fs().await, &ops).await;
        });
    }
}

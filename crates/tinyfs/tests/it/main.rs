//! tinyfs integration tests: the conformance kit and the model-based property test, on the
//! in-memory persistence.

use proptest::prelude::*;
use tinyfs::FS;
use tinyfs::testkit::{self, model};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime")
}

#[test]
fn memory_passes_the_conformance_kit() {
    runtime().block_on(testkit::run_all(|| async { FS::memory() }));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn memory_matches_the_model(ops in model::ops(40)) {
        runtime().block_on(model::check(FS::memory(), &ops));
    }
}

//! Tests every [`Persistence`](crate::Persistence) must pass (feature `testkit`).
//!
//! - [`conformance`]: one case per operation and per error, each on a fresh filesystem.
//!   Run them all with [`run_all`]:
//!
//!   ```no_run
//!   # async fn demo() {
//!   tinyfs::testkit::run_all(|| async { tinyfs::FS::memory() }).await;
//!   # }
//!   ```
//!
//! - [`model`]: random operation sequences applied to a filesystem and to a plain
//!   `BTreeMap` model, with the observable state compared after every step.
//!
//! Cases assert with `assert!` and panic on failure; `run_all` runs every case, then
//! panics naming each one that failed.

pub mod conformance;
pub mod model;

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use crate::FS;

pub use conformance::{CASES, Case};

/// Runs every conformance case, each on a filesystem from `make`, and panics listing the
/// cases that failed.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = FS>,
{
    let mut failed = Vec::new();
    for case in CASES {
        let fs = make().await;
        if let Err(panic) = AssertUnwindSafe((case.run)(fs)).catch_unwind().await {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} conformance cases failed:\n{}",
        failed.len(),
        CASES.len(),
        failed.join("\n")
    );
}

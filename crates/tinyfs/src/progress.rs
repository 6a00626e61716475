//! Progress of long work (a conversion, an export, a verification), for whoever shows it.
//!
//! The libraries report what they are doing through [`start`]; a program that shows
//! progress installs one [`Reporter`] for the process with [`set_reporter`] (the `pond`
//! command line draws bars on a terminal). Without a reporter, reporting does nothing.
//!
//! ```
//! use tinyfs::progress::{self, Unit};
//! let rows = 1_000_000;
//! let task = progress::start("converting /raw/a.csv", Unit::Rows, Some(rows));
//! for _ in 0..10 {
//!     task.inc(rows / 10);
//! }
//! // Dropped: finished.
//! ```

use std::sync::OnceLock;

/// What a task counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Bytes read or written.
    Bytes,
    /// Rows converted or written.
    Rows,
    /// Files done.
    Files,
}

/// Shows tasks: installed once per process with [`set_reporter`].
pub trait Reporter: Send + Sync + 'static {
    /// A task started: `what` it is (`converting /raw/a.csv`), what it counts, and how many
    /// of those there are, when known.
    fn start(&self, what: &str, unit: Unit, total: Option<u64>) -> Box<dyn Shown>;
}

/// One task as a [`Reporter`] shows it.
pub trait Shown: Send + Sync {
    /// `n` more are done.
    fn inc(&self, n: u64);
    /// The task ended (done, or given up).
    fn finish(&self);
}

static REPORTER: OnceLock<Box<dyn Reporter>> = OnceLock::new();

/// Installs the process's reporter; `false` if one already was (it stays).
pub fn set_reporter(reporter: Box<dyn Reporter>) -> bool {
    REPORTER.set(reporter).is_ok()
}

/// Starts reporting a task; it ends when the returned [`Task`] is dropped.
pub fn start(what: &str, unit: Unit, total: Option<u64>) -> Task {
    Task(REPORTER.get().map(|r| r.start(what, unit, total)))
}

/// A task being reported (or not, without a reporter).
pub struct Task(Option<Box<dyn Shown>>);

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("shown", &self.0.is_some())
            .finish()
    }
}

impl Task {
    /// `n` more are done.
    pub fn inc(&self, n: u64) {
        if let Some(shown) = &self.0 {
            shown.inc(n);
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(shown) = &self.0 {
            shown.finish();
        }
    }
}

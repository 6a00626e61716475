//! Progress bars on a terminal: how the long tasks the libraries report (see
//! [`tinyfs::progress`]) are shown. A task gets a bar once it is seen to be long: at once
//! when its size says so, else after a second; a quick one never draws.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tinyfs::progress::{Reporter, Shown, Unit};

/// How long a task runs before it gets a bar whatever its size.
const PATIENCE: Duration = Duration::from_secs(1);

/// The bars of the tasks running, on standard error.
pub(crate) struct Bars {
    multi: MultiProgress,
}

impl Bars {
    pub(crate) fn new() -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        }
    }
}

impl Reporter for Bars {
    fn start(&self, what: &str, unit: Unit, total: Option<u64>) -> Box<dyn Shown> {
        let (template, big) = match unit {
            Unit::Bytes => (
                "{msg} {bar:30} {percent:>3}% {bytes}/{total_bytes}, {bytes_per_sec}, {eta} left",
                16 << 20,
            ),
            Unit::Rows => (
                "{msg} {bar:30} {percent:>3}% {human_pos}/{human_len} rows, {per_sec}, {eta} left",
                100_000,
            ),
            Unit::Files => (
                "{msg} {bar:30} {percent:>3}% {human_pos}/{human_len} files, {eta} left",
                1_000,
            ),
        };
        let template = match (total, unit) {
            (Some(_), _) => template,
            (None, Unit::Bytes) => "{msg} {spinner} {bytes}, {bytes_per_sec}",
            (None, Unit::Rows) => "{msg} {spinner} {human_pos} rows, {per_sec}",
            (None, Unit::Files) => "{msg} {spinner} {human_pos} files",
        };
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden())
            .with_style(ProgressStyle::with_template(template).expect("a valid template"))
            .with_message(what.to_string());
        Box::new(Task {
            bar,
            multi: self.multi.clone(),
            started: Instant::now(),
            big: total.is_some_and(|t| t >= big),
            shown: AtomicBool::new(false),
        })
    }
}

struct Task {
    bar: ProgressBar,
    multi: MultiProgress,
    started: Instant,
    big: bool,
    shown: AtomicBool,
}

impl Shown for Task {
    fn inc(&self, n: u64) {
        self.bar.inc(n);
        if !self.shown.load(Ordering::Relaxed)
            && (self.big || self.started.elapsed() >= PATIENCE)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.multi.add(self.bar.clone());
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
        if self.shown.load(Ordering::Relaxed) {
            self.multi.remove(&self.bar);
        }
    }
}

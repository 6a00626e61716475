//! Counting what a command reads, from trace events: Parquet footers
//! (`pond_sql::footer`), log data files (`tlogfs::log_file`), file versions a scan
//! reads (`pond_sql::object`, by path), and csvdir conversions made
//! (`pond_factories::convert`) and opened (`pond_factories::conversion`). Counted per thread, so run a counting test on a
//! current-thread runtime.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Once;

/// What this thread has read since the last [`take`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    pub footers: usize,
    pub log_files: usize,
    /// The distinct file versions a scan read bytes of.
    pub objects: BTreeSet<String>,
    /// CSV files converted to Parquet.
    pub converted: usize,
    /// Converted Parquet files opened by a scan.
    pub conversions: usize,
}

thread_local! {
    static READS: RefCell<Reads> = RefCell::new(Reads::default());
}

const TARGETS: [&str; 5] = [
    "pond_sql::footer",
    "tlogfs::log_file",
    "pond_sql::object",
    "pond_factories::convert",
    "pond_factories::conversion",
];

/// Installed as the global subscriber, so tests on other threads neither count here nor
/// change which callsites are enabled.
struct Counter;

struct Path(Option<String>);

impl tracing::field::Visit for Path {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "path" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl tracing::Subscriber for Counter {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        TARGETS.contains(&metadata.target())
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        READS.with(|r| {
            let mut r = r.borrow_mut();
            match event.metadata().target() {
                "pond_sql::footer" => r.footers += 1,
                "tlogfs::log_file" => r.log_files += 1,
                "pond_factories::convert" => r.converted += 1,
                "pond_factories::conversion" => r.conversions += 1,
                _ => {
                    let mut path = Path(None);
                    event.record(&mut path);
                    r.objects.extend(path.0);
                }
            }
        });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// What this thread has read since the last call.
pub fn take() -> Reads {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(Counter).expect("no other subscriber");
    });
    READS.with(|r| r.take())
}

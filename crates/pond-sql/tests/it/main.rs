//! pond-sql integration tests: the sqllogictest suite in `tests/slt/*.slt`, run over a
//! pond on disk filled from `testdata/`, and what a query shows about time travel.

mod appends;
mod compaction;
mod costs;
mod counting;
mod fixture;
mod slt;
mod time_travel;

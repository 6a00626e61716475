//! pond-sql integration tests: imports and appends, compaction, and what reading costs,
//! counted. (The SQL suite, and tests of dynamic nodes, are pond-factories' tests: they
//! need its factories.)

mod appends;
mod compaction;
mod costs;
mod counting;
mod plans;
mod query;

pub use query::query;

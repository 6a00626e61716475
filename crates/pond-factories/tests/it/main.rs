//! pond-factories integration tests: dynamic nodes over a pond on disk, what they cost,
//! and what time travel shows of them. (The SQL suite is the `sql` test target.)

mod costs;
mod mknod;
// pond-sql's read counters and query helper, to count what a csvdir opens.
#[path = "../../../pond-sql/tests/it/counting.rs"]
mod counting;
#[path = "../common/fixture.rs"]
mod fixture;
#[path = "../../../pond-sql/tests/it/query.rs"]
mod query;
mod time_travel;

pub use query::query;

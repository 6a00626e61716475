//! What a query returns, printed, and times for test data: shared by pond-sql's and
//! pond-factories' tests.

use futures::TryStreamExt;
use pond_sql::PondSession;

/// What `sql` returns in `session`, as a printed table.
pub async fn query(session: &PondSession, sql: &str) -> String {
    let df = session.sql(sql).await.unwrap();
    let table = pond_sql::stream(df).await.unwrap();
    let batches: Vec<_> = table.try_collect().await.unwrap();
    arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string()
}

/// 2024-01-01T00:00:00Z, in microseconds since the epoch.
pub const START: i64 = 1_704_067_200_000_000;
/// An hour, in microseconds.
pub const HOUR: i64 = 3_600_000_000;

/// `micros` since the epoch as RFC 3339, to the second.
pub fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

//! What a query returns, printed: shared by pond-sql's and pond-factories' tests.

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

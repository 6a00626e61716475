//! `@vN` and earlier pond versions, as tables.

use pond_sql::PondSession;

use crate::query;
use tlogfs::Pond;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_pond_versions_read_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let pond = crate::fixture::build(dir.path()).await;
    let now = PondSession::new(pond.fs().root()).unwrap();
    assert!(
        query(&now, r#"SELECT count(*) AS n FROM "/weather.series""#)
            .await
            .contains("| 201 |")
    );
    // Pond version 1 held only the first weather version; version 4 also the first titanic.
    let v1 = Pond::open_at(dir.path(), 1).await.unwrap();
    let then = PondSession::new(v1.fs().root()).unwrap();
    assert!(
        query(&then, r#"SELECT count(*) AS n FROM "/weather.series""#)
            .await
            .contains("| 100 |")
    );
    let err = then
        .sql(r#"SELECT * FROM "/titanic.table""#)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/titanic.table: no such file or directory"),
        "{err}"
    );
    let v4 = Pond::open_at(dir.path(), 4).await.unwrap();
    let then = PondSession::new(v4.fs().root()).unwrap();
    assert!(
        query(&then, r#"SELECT count(*) AS n FROM "/titanic.table""#)
            .await
            .contains("| 1313 |")
    );
}

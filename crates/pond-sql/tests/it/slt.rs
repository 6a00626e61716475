//! Runs every `tests/slt/*.slt` file against the fixture pond.
//!
//! Values print as Arrow displays them, NULL as `NULL`; a multi-line value (an `EXPLAIN`
//! plan) is one row per line, so plans read in `.slt` files as they do in a terminal.
//! Queries go through `PondSession::sql`, so they are held to its read-only rules.
//! `POND_SLT_COMPLETE=1 cargo test -p pond-sql` rewrites the expected results.

use std::path::Path;

use arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::TryStreamExt;
use pond_sql::PondSession;
use sqllogictest::{DBOutput, DefaultColumnType};

struct PondDb {
    session: PondSession,
}

#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for PondDb {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let err = |e: &dyn std::fmt::Display| DbError(e.to_string());
        let df = self.session.sql(sql).await.map_err(|e| err(&e))?;
        let table = pond_sql::stream(df).await.map_err(|e| err(&e))?;
        let columns = table.schema().fields().len();
        let batches: Vec<_> = table
            .map_err(pond_sql::Error::from)
            .try_collect()
            .await
            .map_err(|e| err(&e))?;
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(&e))?;
            for i in 0..batch.num_rows() {
                let cells: Vec<String> =
                    formatters.iter().map(|f| f.value(i).to_string()).collect();
                let height = cells
                    .iter()
                    .map(|c| c.lines().count().max(1))
                    .max()
                    .unwrap_or(1);
                for line in 0..height {
                    // A continuation line carries only the cells that go on.
                    let row: Vec<String> = cells
                        .iter()
                        .map(|c| c.lines().nth(line).unwrap_or("").trim_end().to_string())
                        .filter(|c| line == 0 || !c.is_empty())
                        .collect();
                    rows.push(row);
                }
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; columns],
            rows,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "pond"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_suite() {
    let dir = tempfile::tempdir().unwrap();
    let pond = crate::fixture::build(&dir.path().join("pond")).await;
    let cache = dir.path().join("cache");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    for file in files {
        let session = crate::fixture::session(&pond, &cache);
        // Plans are compared line by line: only the physical plan, with a fixed
        // parallelism so they read the same on every machine.
        for setting in [
            "SET datafusion.explain.physical_plan_only = true",
            "SET datafusion.execution.target_partitions = 2",
        ] {
            session
                .context()
                .sql(setting)
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
        }
        let mut runner = sqllogictest::Runner::new(move || {
            let session = session.clone();
            async move { Ok(PondDb { session }) }
        });
        if std::env::var_os("POND_SLT_COMPLETE").is_some() {
            // Rewrites the expected results from what pond answers now; review the diff.
            runner
                .update_test_file(
                    &file,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                )
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        } else {
            runner
                .run_file_async(&file)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
    }
}

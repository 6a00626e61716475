//! The SQL suite: every `tests/slt/*.slt` file run against the fixture pond (see
//! `tests/common/fixture.rs`), each reported as it finishes.
//!
//! ```text
//! cargo test -p pond-factories --test sql                  # every file
//! cargo test -p pond-factories --test sql -- derived       # files whose name contains it
//! cargo test -p pond-factories --test sql -- --complete    # rewrite the expected results
//! ```
//!
//! Values print as Arrow displays them, NULL as `NULL`; a multi-line value (an `EXPLAIN`
//! plan) is one row per line, so plans read in `.slt` files as they do in a terminal.
//! Queries go through `PondSession::sql`, so they are held to its read-only rules.
//! `--complete` (or `POND_SLT_COMPLETE=1`) rewrites the expected results from what pond
//! answers now: review the diff.

// A test runner reports on standard output.
#![allow(clippy::print_stdout)]

#[path = "../common/fixture.rs"]
mod fixture;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

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

/// What the command line asks for: name filters (a file runs if its name contains any,
/// or if there are none) and whether to rewrite the files. Flags the test harness takes
/// (`--nocapture`, `--test-threads`, ...) mean nothing here and are let through.
struct Args {
    filters: Vec<String>,
    complete: bool,
    list: bool,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            filters: Vec::new(),
            complete: std::env::var_os("POND_SLT_COMPLETE").is_some(),
            list: false,
        };
        let mut given = std::env::args().skip(1);
        while let Some(arg) = given.next() {
            match arg.as_str() {
                "--complete" => args.complete = true,
                "--list" => args.list = true,
                // Harness options that take a value.
                "--test-threads" | "--format" | "--skip" | "--color" | "-Z" => {
                    given.next();
                }
                flag if flag.starts_with('-') => {}
                filter => args.filters.push(filter.to_string()),
            }
        }
        args
    }

    fn selects(&self, file: &Path) -> bool {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// The suite's files, sorted.
fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

/// Runs (or with `complete`, rewrites) `file` in a fresh session over `pond`.
async fn run_file(
    pond: &tlogfs::Pond,
    cache: &Path,
    file: &Path,
    complete: bool,
) -> Result<(), String> {
    let session = fixture::session(pond, cache);
    // Plans are compared line by line: only the physical plan, with a fixed parallelism so
    // they read the same on every machine.
    for setting in [
        "SET datafusion.explain.physical_plan_only = true",
        "SET datafusion.execution.target_partitions = 2",
    ] {
        let set = session.context().sql(setting).await;
        set.map_err(|e| e.to_string())?
            .collect()
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut runner = sqllogictest::Runner::new(move || {
        let session = session.clone();
        async move { Ok(PondDb { session }) }
    });
    if complete {
        runner
            .update_test_file(
                file,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::default_column_validator,
            )
            .await
            .map_err(|e| e.to_string())
    } else {
        runner.run_file_async(file).await.map_err(|e| e.to_string())
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let files: Vec<PathBuf> = slt_files()
        .into_iter()
        .filter(|f| args.selects(f))
        .collect();
    if args.list {
        for file in &files {
            println!(
                "{}: test",
                file.file_name().unwrap_or_default().to_string_lossy()
            );
        }
        return ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let failed = runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let pond = fixture::build(&dir.path().join("pond")).await;
        let cache = dir.path().join("cache");
        println!("\nrunning {} sqllogictest files", files.len());
        let mut failed = Vec::new();
        for file in &files {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            match run_file(&pond, &cache, file, args.complete).await {
                Ok(()) if args.complete => println!("slt {name} ... rewritten"),
                Ok(()) => println!("slt {name} ... ok"),
                Err(e) => {
                    println!("slt {name} ... FAILED\n{e}");
                    failed.push(name.into_owned());
                }
            }
        }
        failed
    });
    if failed.is_empty() {
        println!("\nslt result: ok. {} passed; 0 failed", files.len());
        ExitCode::SUCCESS
    } else {
        println!(
            "\nslt result: FAILED. {} passed; {} failed: {}",
            files.len() - failed.len(),
            failed.len(),
            failed.join(", ")
        );
        ExitCode::FAILURE
    }
}

//! Compaction: a series' many small versions become few large bodies.
//!
//! A series appended hourly has thousands of versions of a few dozen rows each; a query of
//! all of it opens every one. Compaction writes a run of them again as one version, in time
//! order, with row groups sized for pruning, and makes it the run's replacement among the
//! members (see [`tinyfs::FileVersion::members`]); it records which versions it holds
//! ([`tinyfs::FileVersion::compacts`]). Nothing is deleted: every `@vN` and every earlier
//! pond version reads as before, and the series reads the same rows.
//!
//! Which versions to compact is a binary counter over row counts, as for the log's data
//! files: going back from the newest member, each earlier member joins the run while it is
//! no larger than the run so far, and a run of at least [`FANOUT`] members is compacted.
//! Steady appends are compacted every [`FANOUT`] appends, and sizes then at least double
//! from each member to the one before it: a series of N rows keeps at most
//! `log2(N / FANOUT) + FANOUT` members, and each row is written again at most
//! `log2(N / FANOUT)` times, whatever the batches' sizes. A member of [`DONE_ROWS`] rows or
//! more is not compacted again.
//!
//! A compaction reads what it wrote back and compares it, row by row and value by value,
//! with the versions it replaces, before its transaction may commit.

use crate::parquet_writer::{Next, write_parquet_inspected};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tinyfs::{EntryType, FileVersion, VersionSet, WD};

use crate::conform::Conformer;
use crate::error::{Error, Result};
use crate::event_time::EventTimeRange;
use crate::table::PondTable;

/// The fewest members a compaction replaces.
const FANOUT: usize = 8;

/// The rows of a member large enough never to be compacted again.
const DONE_ROWS: u64 = 1 << 22;

/// Rows per row group of a compacted body: large enough to read fast, small enough that a
/// time window skips most of a large body by its row groups' statistics.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// One compaction written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compaction {
    /// The version written.
    pub version: u64,
    /// The versions it replaces (and holds the rows of).
    pub compacts: VersionSet,
    /// Its rows.
    pub rows: u64,
}

/// Where in `rows` (the members' row counts, oldest first) the next compaction's run is,
/// if there is one (see the module's documentation).
fn next_run(rows: &[u64]) -> Option<std::ops::Range<usize>> {
    let mut held = 0u64;
    let mut start = rows.len();
    for (i, &r) in rows.iter().enumerate().rev() {
        if r >= DONE_ROWS || (start < rows.len() && r > held) {
            break;
        }
        held += r;
        start = i;
    }
    (rows.len() - start >= FANOUT).then_some(start..rows.len())
}

/// Compacts the series at `path` in the current transaction while a run is due; what it
/// wrote, oldest first (nothing for a series that needs none).
pub async fn compact_series(wd: &WD, path: &str) -> Result<Vec<Compaction>> {
    let mut done = Vec::new();
    loop {
        let members = wd.members(path).await?;
        let rows = crate::read::version_rows(wd, path, &members).await?;
        let Some(run) = next_run(&rows) else {
            return Ok(done);
        };
        let next = wd.latest(path).await?.map_or(1, |v| v.version + 1);
        done.push(compact_run(wd, path, &members, run, next).await?);
    }
}

/// The rows of `run`, in version order, conformed to `schema`: one scan of the run.
async fn run_batches(
    wd: &WD,
    path: &str,
    run: &[FileVersion],
    schema: &SchemaRef,
) -> Result<BoxStream<'static, Result<RecordBatch>>> {
    let session = crate::PondSession::new(wd.clone())?;
    let store = session.scope().store().clone();
    let resolved = crate::read::ResolvedTable::resolve(wd, path).await?;
    let table = PondTable::of_versions(wd, resolved, run.to_vec(), &store).await?;
    let batches = table.read_in_order(&session.context().state()).await?;
    Ok(conformed(batches, schema, path))
}

/// `batches` conformed to `schema` (`shown` names them in errors).
fn conformed(
    batches: SendableRecordBatchStream,
    schema: &SchemaRef,
    shown: &str,
) -> BoxStream<'static, Result<RecordBatch>> {
    let mut conformer = Conformer::new(schema.clone(), shown);
    batches
        .map_err(Error::Sql)
        .and_then(move |b| std::future::ready(conformer.conform(&b)))
        .boxed()
}

/// Writes the members `members[run]` of the series at `path` as its version `next`, and
/// checks it.
async fn compact_run(
    wd: &WD,
    path: &str,
    members: &[FileVersion],
    run: std::ops::Range<usize>,
    next: u64,
) -> Result<Compaction> {
    let schema = crate::read::members_schema(wd, path, members).await?;
    let column = crate::event_time::timestamp_column_of(members.iter())
        .ok_or_else(|| Error::invalid(path, "a series without a timestamp column"))?;
    let replaced = &members[run.clone()];
    let compacts: VersionSet = replaced.iter().map(|v| v.version).collect();
    let mut kept: VersionSet = members
        .iter()
        .map(|v| v.version)
        .filter(|v| !compacts.contains(*v))
        .collect();
    kept.insert(next);
    let sorted = || async {
        crate::import::sort_by_time(
            schema.clone(),
            run_batches(wd, path, replaced, &schema).await?,
            &column,
        )
    };

    let properties = crate::parquet_writer::series_properties(&schema, &column)?
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    // The series holds the same rows after as before: it is still what the latest
    // version's host file made it.
    let origin = wd.latest(path).await?.and_then(|v| v.origin);
    let mut writer = wd.file_writer(path, EntryType::FileSeries).await?;
    let mut range = EventTimeRange::new(&column);
    let rows = write_parquet_inspected(
        &mut writer,
        schema.clone(),
        properties,
        sorted().await?,
        path,
        |batch| {
            range.update(batch, path)?;
            Ok(Next::Write)
        },
    )
    .await?
    .rows;
    if let Some(range) = range.finish() {
        writer.set_event_time(range);
    }
    writer.set_rows(rows);
    writer.set_members(kept);
    writer.set_compacts(compacts.clone());
    if let Some(origin) = origin {
        writer.set_origin(origin);
    }
    let version = writer.finish().await?;
    if version.version != next {
        return Err(tinyfs::Error::internal(format!(
            "{path}: compaction wrote v{} where v{next} was expected",
            version.version
        ))
        .into());
    }

    // The body as stored, read back, against the versions it replaces.
    let at = format!("{path}@v{next}");
    let stored = conformed(crate::read::read_table(wd, &at).await?, &schema, &at);
    if !crate::import::same_rows(sorted().await?, stored).await? {
        return Err(Error::invalid(
            path,
            format!(
                "compacting v{compacts} read back different rows than it was given; nothing was changed"
            ),
        ));
    }
    Ok(Compaction {
        version: next,
        compacts,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_the_newest_members_no_larger_than_what_follows() {
        assert_eq!(next_run(&[60; 7]), None);
        assert_eq!(next_run(&[60; 8]), Some(0..8));
        assert_eq!(next_run(&[480, 60, 60, 60, 60, 60, 60, 60]), None);
        assert_eq!(next_run(&[481, 60, 60, 60, 60, 60, 60, 60, 60]), Some(1..9));
        assert_eq!(next_run(&[480, 60, 60, 60, 60, 60, 60, 60, 60]), Some(0..9));
        // Sizes that vary a lot still compact.
        assert_eq!(next_run(&[1, 100, 1, 100, 1, 100, 1, 100]), Some(0..8));
        assert_eq!(next_run(&[DONE_ROWS, 1, 1, 1, 1, 1, 1, 1, 1]), Some(1..9));
    }

    /// What appends of `sizes` leave: the members, and the rows written again.
    fn appends(sizes: impl Iterator<Item = u64>) -> (Vec<u64>, u64) {
        let mut members: Vec<u64> = Vec::new();
        let mut written = 0u64;
        for size in sizes {
            members.push(size);
            while let Some(run) = next_run(&members) {
                let total: u64 = members[run.clone()].iter().sum();
                written += total;
                members.splice(run, [total]);
            }
        }
        (members, written)
    }

    #[test]
    fn years_of_appends_keep_few_members_and_rewrite_each_row_a_few_times() {
        // 10,000 hours of 58 to 62 rows; then batches of 1 or 100 rows alternately.
        for sizes in [
            (0..10_000u64).map(|i| 58 + i % 5).collect::<Vec<_>>(),
            (0..10_000u64)
                .map(|i| if i % 2 == 0 { 1 } else { 100 })
                .collect(),
        ] {
            let rows: u64 = sizes.iter().sum();
            let (members, written) = appends(sizes.into_iter());
            assert_eq!(members.iter().sum::<u64>(), rows);
            let bound = (rows / FANOUT as u64).ilog2() as usize + 1;
            assert!(members.len() <= bound + FANOUT, "{members:?}");
            assert!(written <= rows * bound as u64, "{written} of {rows}");
        }
    }
}

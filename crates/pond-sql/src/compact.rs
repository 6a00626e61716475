//! Compaction: a series' many small versions become few large bodies.
//!
//! A series appended hourly has thousands of versions of a few dozen rows each; a query of
//! all of it opens every one. Compaction writes a run of them again as one version, in time
//! order, with row groups sized for pruning, and makes it the run's replacement among the
//! members (see [`tinyfs::FileVersion::members`]); it records which versions it holds
//! ([`tinyfs::FileVersion::compacts`]). Nothing is deleted: every `@vN` and every earlier
//! pond version reads as before, and the series reads the same rows.
//!
//! The runs are size-tiered: a version's tier is the number of digits of its row count in
//! base [`FANOUT`], and when the newest [`FANOUT`] members are of one tier they are
//! compacted into one of the next. Appends of a steady size thus leave at most
//! `FANOUT - 1` members of each tier, a few dozen for years of hourly batches, and each
//! row is written again once per tier.
//!
//! A compaction reads what it wrote back and compares it, row by row and value by value,
//! with the versions it replaces, before its transaction may commit.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::AsyncArrowWriter;
use tinyfs::{EntryType, FileVersion, VersionSet, WD};

use crate::conform::Conformer;
use crate::error::{Error, Result};
use crate::event_time::EventTimeRange;

/// How many members of one tier are compacted into one of the next.
pub const FANOUT: usize = 8;

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

/// The tier of a version of `rows` rows.
fn tier(rows: u64) -> u32 {
    rows.max(1).ilog(FANOUT as u64)
}

/// Where in `rows` (the members' row counts, oldest first) the next compaction's run is:
/// the newest [`FANOUT`] consecutive members of one tier, if any.
fn next_run(rows: &[u64]) -> Option<std::ops::Range<usize>> {
    (FANOUT..=rows.len())
        .rev()
        .map(|end| end - FANOUT..end)
        .find(|run| {
            let t = tier(rows[run.start]);
            rows[run.clone()].iter().all(|&r| tier(r) == t)
        })
}

/// Compacts the series at `path` in the current transaction while [`FANOUT`] members of
/// one tier are found; what it wrote, oldest first (nothing for a series that needs none).
pub async fn compact_series(wd: &WD, path: &str) -> Result<Vec<Compaction>> {
    let mut done = Vec::new();
    loop {
        let all = wd.versions(path).await?;
        let members = tinyfs::member_versions(all.clone());
        let rows = member_rows(wd, path, &members).await?;
        let Some(run) = next_run(&rows) else {
            return Ok(done);
        };
        let next = all.last().map_or(1, |v| v.version + 1);
        done.push(compact_run(wd, path, &members, run, next).await?);
    }
}

/// The rows of each of `members`: as recorded, or from the footer.
async fn member_rows(wd: &WD, path: &str, members: &[FileVersion]) -> Result<Vec<u64>> {
    let unknown: Vec<FileVersion> = members
        .iter()
        .filter(|v| v.rows.is_none())
        .cloned()
        .collect();
    let mut read = crate::read::version_footers(wd, path, unknown)
        .await?
        .into_iter()
        .map(|f| f.metadata.file_metadata().num_rows() as u64);
    Ok(members
        .iter()
        .map(|v| v.rows.or_else(|| read.next()).unwrap_or(0))
        .collect())
}

/// The rows of `run`, each version conformed to `schema`, in version order.
async fn run_batches(
    wd: &WD,
    path: &str,
    run: &[FileVersion],
    schema: &SchemaRef,
) -> Result<BoxStream<'static, Result<RecordBatch>>> {
    let mut streams = Vec::with_capacity(run.len());
    for v in run {
        let at = format!("{path}@v{}", v.version);
        let mut conformer = Conformer::new(schema.clone(), at.as_str());
        let table = crate::read::read_table(wd, &at).await?;
        streams.push(
            table
                .batches
                .and_then(move |b| std::future::ready(conformer.conform(&b))),
        );
    }
    Ok(stream::iter(streams).flatten().boxed())
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

    let properties = crate::import::series_properties(&schema, &column)?
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut writer = wd.file_writer(path, EntryType::FileSeries).await?;
    let mut range = EventTimeRange::new(&column);
    let mut rows = 0u64;
    {
        let parquet = |source| Error::Parquet {
            path: path.to_string(),
            source,
        };
        let mut out = AsyncArrowWriter::try_new(&mut writer, schema.clone(), Some(properties))
            .map_err(parquet)?;
        let mut batches = sorted().await?;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            range.update(&batch, path)?;
            rows += batch.num_rows() as u64;
            out.write(&batch).await.map_err(parquet)?;
        }
        out.close().await.map_err(parquet)?;
    }
    let expected: u64 = replaced.iter().filter_map(|v| v.rows).sum();
    if let Some(range) = range.finish() {
        writer.set_event_time(range);
    }
    writer.set_rows(rows);
    writer.set_members(kept);
    writer.set_compacts(compacts.clone());
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
    let stored = crate::read::read_table(wd, &at).await?;
    let mut conformer = Conformer::new(schema.clone(), at.as_str());
    let stored = stored
        .batches
        .and_then(move |b| std::future::ready(conformer.conform(&b)))
        .boxed();
    let counted = replaced.iter().all(|v| v.rows.is_some());
    if (counted && expected != rows) || !crate::import::same_rows(sorted().await?, stored).await? {
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
    fn runs_are_the_newest_members_of_one_tier() {
        // Tier 1 is 8..63 rows.
        assert_eq!(next_run(&[60; 7]), None);
        assert_eq!(next_run(&[60; 8]), Some(0..8));
        assert_eq!(next_run(&[480, 60, 60, 60, 60, 60, 60, 60, 60]), Some(1..9));
        assert_eq!(next_run(&[60, 60, 60, 60, 60, 60, 60, 60, 480]), Some(0..8));
        assert_eq!(next_run(&[480, 60, 60, 60, 60, 60, 60, 60]), None);
        assert_eq!(tier(0), 0);
        assert_eq!(tier(7), 0);
        assert_eq!(tier(8), 1);
        assert_eq!(tier(480), 2);
    }

    /// Steady appends keep fewer than FANOUT members per tier.
    #[test]
    fn steady_appends_keep_few_members() {
        let mut members: Vec<u64> = Vec::new();
        let mut written = 0u64;
        for i in 0..10_000u64 {
            // About an hour a minute: 58 to 62 rows.
            members.push(58 + i % 5);
            while let Some(run) = next_run(&members) {
                let total: u64 = members[run.clone()].iter().sum();
                written += total;
                members.splice(run, [total]);
            }
        }
        assert!(members.len() <= 5 * (FANOUT - 1), "{members:?}");
        assert_eq!(members.iter().sum::<u64>(), 600_000);
        assert!(members.len() >= 2);
        // Each row written again once per tier it passes (60 rows start in tier 1).
        assert!(written <= 600_000 * 5, "{written}");
    }
}

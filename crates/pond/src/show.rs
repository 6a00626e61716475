//! The reading commands: list, cat, describe, log.

use std::io::Write;

use anyhow::{Result, anyhow, bail};
use tinyfs::{EntryType, WD};

use crate::output::{bytes, count, has_wildcards, micros, print_table, table_format, when};
use crate::{Ctx, OutputFormat};

/// What `list` shows, as paths: a directory's entries, a glob's matches, or one file.
async fn listing(root: &WD, arg: &str) -> Result<Vec<String>> {
    if has_wildcards(arg) {
        return Ok(root.glob(arg).await?.into_iter().map(|m| m.path).collect());
    }
    let path = root.canonicalize(arg).await?;
    if root.resolve(path.as_str()).await?.as_dir().is_none() {
        return Ok(vec![path]);
    }
    let prefix = path.trim_end_matches('/');
    Ok(root
        .list(path.as_str())
        .await?
        .into_iter()
        .map(|e| format!("{prefix}/{}", e.name))
        .collect())
}

pub(crate) async fn list(
    ctx: &Ctx,
    long: bool,
    format: Option<OutputFormat>,
    as_of: Option<crate::AsOf>,
    arg: &str,
) -> Result<()> {
    let pond = ctx.read(as_of).await?;
    let root = pond.fs().root();
    let paths = listing(&root, arg).await?;
    if let Some(format) = format.filter(|f| *f != OutputFormat::Table) {
        let mut records = Vec::with_capacity(paths.len());
        for path in paths {
            records.push(pond_serve::facts::listed(&root, path).await?);
        }
        return crate::output::print_records(&records, format);
    }
    let mut out = std::io::stdout().lock();
    for path in paths {
        if !long {
            writeln!(out, "{path}")?;
            continue;
        }
        let entry = pond_serve::facts::listed(&root, path).await?;
        let dash = || "-".to_string();
        // A stored file's time, blank if it has none; "-" for everything else.
        let modified = entry
            .version
            .map(|_| entry.modified_micros.map(when).unwrap_or_default());
        let suffix = match (&entry.target, &entry.factory, &entry.error) {
            (Some(target), _, _) => format!(" -> {target}"),
            (_, Some(factory), Some(error)) => format!(" ({factory}: {error})"),
            (_, Some(factory), None) => format!(" ({factory})"),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:<11} {:>10} {:>4}  {:<19}  {}{suffix}",
            entry.entry_type,
            entry.size.map(|s| s.to_string()).unwrap_or_else(dash),
            entry.version.map(|v| format!("v{v}")).unwrap_or_else(dash),
            modified.unwrap_or_else(dash),
            entry.path
        )?;
    }
    Ok(())
}

/// What `cat` was asked beyond the file itself.
pub(crate) struct CatQuery {
    pub(crate) sql: Option<String>,
    pub(crate) time_start: Option<String>,
    pub(crate) time_end: Option<String>,
    pub(crate) explain: bool,
    /// Rows a pretty table shows (0: all).
    pub(crate) max_rows: usize,
    /// A rollup to read instead: `auto` or a resolution.
    pub(crate) resolution: Option<String>,
    /// With `auto`, the most buckets.
    pub(crate) points: u64,
}

impl CatQuery {
    fn is_plain(&self) -> bool {
        self.sql.is_none()
            && self.time_start.is_none()
            && self.time_end.is_none()
            && self.resolution.is_none()
            && !self.explain
    }
}

pub(crate) async fn cat(
    ctx: &Ctx,
    format: Option<OutputFormat>,
    as_of: Option<crate::AsOf>,
    path: &str,
    query: CatQuery,
) -> Result<()> {
    let pond = ctx.read(as_of).await?;
    let root = pond.fs().root();
    let parsed = tinyfs::Path::parse(path)?;
    let node = root.resolve(&parsed.without_version()).await?;
    let entry_type = node.entry_type();
    if entry_type == EntryType::Directory {
        bail!("{path}: is a directory (list it with `pond list {path}`)");
    }
    if entry_type == EntryType::FileData && query.is_plain() {
        // A data file prints as its bytes; one whose bytes are Parquet can print as rows.
        let parquet = format.is_some() && pond_sql::table_type(&root, path).await.is_ok();
        match (format, parquet) {
            (None, _) => return copy_to_stdout(&root, path).await,
            (Some(OutputFormat::Parquet), true) => {
                crate::output::refuse_binary_to_terminal(crate::output::TEXT_FORMATS)?;
                return copy_to_stdout(&root, path).await;
            }
            (Some(_), true) => {}
            (Some(f), false) => bail!(
                "{path}: --format {} is for tables and series; this is a file:data, printed as its bytes",
                f.name()
            ),
        }
    }
    if entry_type == EntryType::FileTable
        && format == Some(OutputFormat::Parquet)
        && query.is_plain()
    {
        // A table's Parquet is its body: print it unchanged.
        crate::output::refuse_binary_to_terminal(crate::output::TEXT_FORMATS)?;
        return copy_to_stdout(&root, path).await;
    }
    let parse = |t: &Option<String>| {
        t.as_deref()
            .map(pond_sql::parse_instant)
            .transpose()
            .map_err(|e| anyhow!(e))
    };
    let window = pond_sql::TimeWindow {
        start: parse(&query.time_start)?,
        end: parse(&query.time_end)?,
    };
    if window.is_empty() {
        bail!(
            "--time-start {} is not before --time-end {}: the range is empty",
            query.time_start.as_deref().unwrap_or_default(),
            query.time_end.as_deref().unwrap_or_default()
        );
    }
    let rollup = match &query.resolution {
        Some(resolution) => {
            Some(pick_rollup(ctx, &root, path, resolution, &window, query.points).await?)
        }
        None => None,
    };
    let path = rollup.as_deref().unwrap_or(path);
    let session = pond_sql::PondSession::new(root.clone())?;
    let opened = match session.open_window(path, window).await {
        Err(pond_sql::Error::NoTimeColumn { path, entry_type }) => bail!(
            "{path}: --time-start and --time-end need a series with a timestamp column; this is a {entry_type}"
        ),
        opened => opened?,
    };
    // A series prints in time order when no query says otherwise; a table in stored order.
    let df = if query.sql.is_none() && opened.timestamp_column.is_some() {
        opened.in_time_order()?
    } else if query.is_plain() && !query.explain {
        let table = opened.table.read(&session, &opened.scope).await?;
        return print_table(table, table_format(format), query.max_rows).await;
    } else {
        opened.frame
    };
    match &query.sql {
        Some(sql) => {
            session.register("source", df.into_view())?;
            run_sql(&session, sql, format, query.explain, query.max_rows).await
        }
        None => print_frame(df, format, query.explain, query.max_rows).await,
    }
}

/// The rollup of the series at `path` that `--resolution` (`auto`, or a resolution) asks
/// for over `window`, reported on standard error.
async fn pick_rollup(
    ctx: &Ctx,
    root: &WD,
    path: &str,
    resolution: &str,
    window: &pond_sql::TimeWindow,
    points: u64,
) -> Result<String> {
    let parsed = tinyfs::Path::parse(path)?;
    if parsed.version().is_some() {
        bail!("{path}: --resolution reads the series as it is now; leave out @v");
    }
    let canonical = root.canonicalize(&parsed).await?;
    if root.resolve(&parsed).await?.entry_type() != EntryType::FileSeries {
        bail!("{path}: --resolution is for a series");
    }
    let rollups = pond_factories::reduce::rollups_of(root, &canonical).await?;
    if rollups.is_empty() {
        bail!(
            "{path}: no temporal-reduce rolls up this series (make one with \
             `pond mknod temporal-reduce`; see `pond factories`)"
        );
    }
    let chosen = if resolution == "auto" {
        if points == 0 {
            bail!("--points 0: ask for at least one bucket");
        }
        // The window, its open ends from the series' own time range (from the log's
        // record of its members, not a list of every version).
        let session = pond_sql::PondSession::new(root.clone())?;
        let (lo, hi) = session.summary(path).await?.range.unwrap_or((0, 0));
        let start = window.start.unwrap_or(lo);
        let end = window.end.unwrap_or(hi.saturating_add(1));
        let span = end.saturating_sub(start);
        pond_factories::reduce::finest_fitting(&rollups, span, points as i64)
            .unwrap_or(rollups.last().expect("not empty"))
    } else {
        rollups
            .iter()
            .find(|r| r.resolution == resolution)
            .ok_or_else(|| {
                let known: Vec<&str> = rollups.iter().map(|r| r.resolution.as_str()).collect();
                anyhow!(
                    "{path}: no rollup at {resolution}; its rollups are at {}",
                    known.join(", ")
                )
            })?
    };
    if !ctx.is_quiet() {
        eprintln!("reading {} ({} buckets)", chosen.path, chosen.resolution);
    }
    Ok(chosen.path.clone())
}

async fn copy_to_stdout(root: &WD, path: &str) -> Result<()> {
    let mut reader = root.open(path).await?;
    let mut stdout = tokio::io::stdout();
    tokio::io::copy(&mut reader, &mut stdout).await?;
    tokio::io::AsyncWriteExt::flush(&mut stdout).await?;
    Ok(())
}

async fn run_sql(
    session: &pond_sql::PondSession,
    sql: &str,
    format: Option<OutputFormat>,
    explain: bool,
    max_rows: usize,
) -> Result<()> {
    print_frame(session.sql(sql).await?, format, explain, max_rows).await
}

/// Prints `df`'s rows in `format`, or its plan.
async fn print_frame(
    df: datafusion::dataframe::DataFrame,
    format: Option<OutputFormat>,
    explain: bool,
    max_rows: usize,
) -> Result<()> {
    if explain {
        let plan = pond_sql::explain(df).await?;
        write!(std::io::stdout().lock(), "{plan}")?;
        return Ok(());
    }
    print_table(pond_sql::stream(df).await?, table_format(format), max_rows).await
}

/// `query --tables GLOB`: the pond's tables and series GLOB matches, by path, as
/// `information_schema.tables` lists them.
pub(crate) async fn tables(
    ctx: &Ctx,
    format: Option<OutputFormat>,
    as_of: Option<crate::AsOf>,
    max_rows: usize,
    glob: &str,
) -> Result<()> {
    let pond = ctx.read(as_of).await?;
    let session = pond_sql::PondSession::new(pond.fs().root())?;
    session.list_tables(glob).await?;
    let sql = "SELECT table_name AS path, table_type AS kind FROM information_schema.tables \
               WHERE table_schema = 'public' ORDER BY path";
    run_sql(&session, sql, format, false, max_rows).await
}

pub(crate) async fn query(
    ctx: &Ctx,
    format: Option<OutputFormat>,
    as_of: Option<crate::AsOf>,
    explain: bool,
    max_rows: usize,
    sql: &str,
) -> Result<()> {
    let pond = ctx.read(as_of).await?;
    let session = pond_sql::PondSession::new(pond.fs().root())?;
    run_sql(&session, sql, format, explain, max_rows).await
}

pub(crate) async fn describe(
    ctx: &Ctx,
    format: Option<OutputFormat>,
    as_of: Option<crate::AsOf>,
    path: &str,
) -> Result<()> {
    let pond = ctx.read(as_of).await?;
    let d = pond_serve::facts::described(&pond.fs().root(), path).await?;
    let mut out = std::io::stdout().lock();
    match format {
        Some(OutputFormat::Json | OutputFormat::Ndjson) => {
            writeln!(out, "{}", serde_json::to_string(&d)?)?;
            return Ok(());
        }
        Some(f @ (OutputFormat::Csv | OutputFormat::Parquet)) => bail!(
            "--format {} does not hold a description: choose json or ndjson",
            f.name()
        ),
        Some(OutputFormat::Table) | None => {}
    }
    writeln!(out, "path:      {}", d.path)?;
    writeln!(out, "type:      {}", d.entry_type)?;
    writeln!(out, "node:      {}", d.node)?;
    if let (Some(factory), Some(config)) = (&d.factory, &d.config) {
        writeln!(out, "factory:   {factory}")?;
        writeln!(
            out,
            "config:    v{} written {}",
            config.version, config.written
        )?;
        for line in config.text.lines() {
            writeln!(out, "  {line}")?;
        }
    }
    if let Some(n) = d.entries {
        writeln!(out, "entries:   {n}")?;
    }
    if let Some(e) = &d.external {
        let kind = e.kind.to_lowercase();
        let (version, latest) = (e.version, e.latest);
        writeln!(
            out,
            "{kind}:     {}, version {version} (newest {latest})",
            e.location
        )?;
    }
    if let Some(e) = &d.entries_error {
        writeln!(out, "entries:   unavailable: {e}")?;
    }
    if let (Some(latest), Some(showing)) = (d.latest, d.showing) {
        let members = d
            .members
            .as_ref()
            .map(|set| format!("; the series is v{set}"))
            .unwrap_or_default();
        writeln!(out, "versions:  {latest} (showing v{showing}{members})")?;
    }
    if let Some(size) = d.size {
        writeln!(out, "size:      {} ({size} bytes)", bytes(size))?;
    }
    if let Some(hash) = &d.blake3 {
        writeln!(out, "blake3:    {hash}")?;
    }
    if let Some(m) = &d.modified {
        writeln!(out, "modified:  {m}")?;
    }
    if let Some(o) = &d.origin {
        writeln!(
            out,
            "synced:    from a host file of {} ({} bytes, blake3 {})",
            bytes(o.size),
            o.size,
            o.blake3
        )?;
    }
    let Some(schema) = &d.schema else {
        return Ok(());
    };
    let scope = if d.versions.len() > 1 {
        format!(" (in {} versions)", d.versions.len())
    } else {
        String::new()
    };
    if let Some(rows) = d.rows {
        writeln!(out, "rows:      {rows}{scope}")?;
    }
    if let Some(column) = &d.timestamp_column {
        writeln!(out, "timestamp: {column}")?;
    }
    if let Some([lo, hi]) = &d.range {
        writeln!(out, "range:     {lo} to {hi}{scope}")?;
    }
    for (i, r) in d.rollups.iter().enumerate() {
        let label = if i == 0 { "rollups:" } else { "" };
        writeln!(out, "{label:<10} {} {}", r.resolution, r.path)?;
    }
    writeln!(out, "schema:")?;
    for column in schema {
        let null = if column.nullable { "" } else { " not null" };
        writeln!(out, "  {}: {}{null}", column.name, column.data_type)?;
    }
    if d.versions.len() > 1 {
        // The newest versions; `pond log PATH` has the whole history.
        let shown = d.versions.len().min(DESCRIBED_VERSIONS);
        let earlier = d.versions.len() - shown;
        if earlier > 0 {
            writeln!(
                out,
                "versions:  (the newest {shown}; {} before them)",
                count(earlier as u64, "version")
            )?;
        } else {
            writeln!(out, "versions:")?;
        }
        for v in d.versions.iter().skip(earlier) {
            let mut range = match (&v.start, &v.end) {
                (Some(start), Some(end)) => format!("{start} to {end}"),
                _ => String::new(),
            };
            if let Some(compacts) = &v.compacts {
                range.push_str(&format!(" (compacts v{compacts})"));
            }
            writeln!(
                out,
                "  v{:<4} {:>15}  {:>10}  {range}",
                v.version,
                count(v.rows, "row"),
                bytes(v.size)
            )?;
        }
    }
    Ok(())
}

/// How many of a series' versions `describe` lists.
const DESCRIBED_VERSIONS: usize = 20;

/// One path's change as `diff --format` shows it.
#[derive(Debug, serde::Serialize)]
struct Changed {
    /// `added`, `removed` or `changed`.
    change: String,
    #[serde(rename = "type")]
    entry_type: String,
    path: String,
    /// For a file: its latest version before and after (0: none).
    version_before: Option<u64>,
    version_after: Option<u64>,
    /// For a series: its rows before and after.
    rows_before: Option<u64>,
    rows_after: Option<u64>,
    /// For a series an undo left with only some of its versions: those versions.
    members: Option<String>,
}

pub(crate) async fn diff(
    ctx: &Ctx,
    format: Option<OutputFormat>,
    a: crate::AsOf,
    b: Option<crate::AsOf>,
) -> Result<()> {
    let (before, after) = (ctx.read(Some(a)).await?, ctx.read(b).await?);
    let changes = tlogfs::Pond::diff(&before, &after).await?;
    let (before, after) = (before.fs().root(), after.fs().root());
    let mut records = Vec::with_capacity(changes.len());
    for c in changes {
        let (was, is) = c.versions;
        let mut record = Changed {
            change: c.change.to_string(),
            entry_type: c.entry_type.to_string(),
            path: c.path.clone(),
            version_before: c.entry_type.is_file().then_some(was),
            version_after: c.entry_type.is_file().then_some(is),
            rows_before: None,
            rows_after: None,
            members: None,
        };
        if c.entry_type == EntryType::FileSeries && c.change != tlogfs::Change::Removed && is > was
        {
            record.rows_before = Some(series_rows(&before, &c.path).await?);
            record.rows_after = Some(series_rows(&after, &c.path).await?);
            record.members = partial_members(&after, &c.path)
                .await?
                .map(|set| set.to_string());
        }
        records.push(record);
    }
    if let Some(format) = format.filter(|f| *f != OutputFormat::Table) {
        return crate::output::print_records(&records, format);
    }
    let mut out = std::io::stdout().lock();
    for r in records {
        let mut detail = String::new();
        if let (Some(was), Some(is)) = (r.version_before, r.version_after)
            && r.change != "removed"
            && is > was
        {
            detail = if is - was == 1 {
                format!("  v{is}")
            } else {
                format!("  v{}..v{is}", was + 1)
            };
            if let (Some(old), Some(new)) = (r.rows_before, r.rows_after) {
                let (sign, n) = if new >= old {
                    ("+", new - old)
                } else {
                    ("-", old - new)
                };
                detail.push_str(&format!(", {sign}{}", count(n, "row")));
                if let Some(set) = &r.members {
                    detail.push_str(&format!(" (the series is v{set})"));
                }
            }
        }
        let mark = match r.change.as_str() {
            "added" => "+",
            "removed" => "-",
            _ => "~",
        };
        writeln!(out, "{mark} {:<11} {}{detail}", r.entry_type, r.path)?;
    }
    Ok(())
}

/// The versions that make up the series at `path`, when an undo left some out.
async fn partial_members(root: &WD, path: &str) -> Result<Option<tinyfs::VersionSet>> {
    let all = root
        .versions(tinyfs::Path::parse(path)?.without_version())
        .await?;
    let set = tinyfs::series_members(&all);
    Ok((set.len() != all.len() as u64).then_some(set))
}

/// The rows of the series at `path` in `root`, from its footers; 0 where it is not one.
async fn series_rows(root: &WD, path: &str) -> Result<u64> {
    if !root.exists(path).await.unwrap_or(false) {
        return Ok(0);
    }
    let (_, versions) = pond_sql::table_members(root, path).await?;
    Ok(pond_sql::version_rows(root, path, &versions)
        .await?
        .iter()
        .sum())
}

/// One commit as `log --format` shows it.
#[derive(Debug, serde::Serialize)]
struct Commit {
    /// The pond version it made.
    version: u64,
    /// When, RFC 3339 UTC.
    time: Option<String>,
    user: String,
    command: String,
    /// With a path: whether the commit added, changed or removed it.
    change: Option<String>,
    /// The paths it changed.
    paths: Vec<String>,
}

/// A [`Commit`] as a CSV row: its paths one field, `;` between them.
#[derive(Debug, serde::Serialize)]
struct CommitRow {
    version: u64,
    time: Option<String>,
    user: String,
    command: String,
    change: Option<String>,
    paths: String,
}

fn print_commits(records: Vec<Commit>, format: OutputFormat) -> Result<()> {
    if format != OutputFormat::Csv {
        return crate::output::print_records(&records, format);
    }
    let rows: Vec<CommitRow> = records
        .into_iter()
        .map(|c| CommitRow {
            version: c.version,
            time: c.time,
            user: c.user,
            command: c.command,
            change: c.change,
            paths: c.paths.join(";"),
        })
        .collect();
    crate::output::print_records(&rows, format)
}

pub(crate) async fn log(
    ctx: &Ctx,
    limit: Option<usize>,
    format: Option<OutputFormat>,
    path: Option<&str>,
) -> Result<()> {
    let pond = ctx.read(None).await?;
    let format = format.filter(|f| *f != OutputFormat::Table);
    let at = |entry: &tlogfs::LogEntry| entry.timestamp_ms.map(|ms| ms.saturating_mul(1000));
    if let Some(path) = path {
        let canonical = match pond.fs().root().canonicalize(path).await {
            Ok(p) => p,
            // A path that no longer exists still has a history.
            Err(_) => tinyfs::Path::parse(path)?.without_version().to_string(),
        };
        let history = pond.path_history(&canonical, limit).await?;
        if let Some(format) = format {
            let records: Vec<Commit> = history
                .into_iter()
                .map(|(entry, change)| Commit {
                    version: entry.version,
                    time: at(&entry).map(micros),
                    user: entry.user.clone(),
                    command: entry.command.clone(),
                    change: Some(change.change.to_string()),
                    paths: entry.paths,
                })
                .collect();
            return print_commits(records, format);
        }
        let mut out = std::io::stdout().lock();
        for (entry, change) in history {
            writeln!(
                out,
                "v{:<5} {}  {:<8}  {:<7}  {}",
                entry.version,
                at(&entry).map(when).unwrap_or_default(),
                if entry.user.is_empty() {
                    "-"
                } else {
                    entry.user.as_str()
                },
                change.change,
                entry.command
            )?;
        }
        return Ok(());
    }
    let history = pond.history(limit).await?;
    if let Some(format) = format {
        let records: Vec<Commit> = history
            .into_iter()
            .map(|entry| Commit {
                version: entry.version,
                time: at(&entry).map(micros),
                user: entry.user,
                command: entry.command,
                change: None,
                paths: entry.paths,
            })
            .collect();
        return print_commits(records, format);
    }
    let mut out = std::io::stdout().lock();
    for entry in history {
        let at = at(&entry).map(when).unwrap_or_default();
        let user = if entry.user.is_empty() {
            "-"
        } else {
            entry.user.as_str()
        };
        writeln!(
            out,
            "v{:<5} {at}  {user:<8}  {}",
            entry.version, entry.command
        )?;
        for path in entry.paths {
            writeln!(out, "        {path}")?;
        }
    }
    Ok(())
}

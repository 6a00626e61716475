//! What pond shows of a path: a listing's entry and a description, as records that print
//! as text or JSON (`pond list -l`, `pond describe`) and that the web app and the static
//! site render.

use anyhow::Result;
use tinyfs::{EntryType, WD};

/// Microseconds since the epoch as RFC 3339 UTC, to the second when whole.
pub fn micros(us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(t) if us % 1_000_000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => format!("{us}µs"),
    }
}

/// A byte count for people: `812 B`, `1.2 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// One entry as `list -l` and `list --format` show it.
#[derive(Debug, Default, serde::Serialize)]
pub struct Listed {
    /// Its canonical path.
    pub path: String,
    /// `directory`, `file:series`, …
    #[serde(rename = "type")]
    pub entry_type: String,
    /// The latest version's size in bytes (a stored file).
    pub size: Option<u64>,
    /// The latest version (a stored file).
    pub version: Option<u64>,
    /// When the latest version was written (a stored file): RFC 3339 UTC in records.
    #[serde(rename = "modified", serialize_with = "rfc3339")]
    pub modified_micros: Option<i64>,
    /// The factory of a dynamic node.
    pub factory: Option<String>,
    /// A symlink's target.
    pub target: Option<String>,
    /// Why a dynamic node cannot be built.
    pub error: Option<String>,
}

/// Microseconds since the epoch as [`micros`] writes them, for a record.
fn rfc3339<S: serde::Serializer>(us: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&us.map(micros), s)
}

/// `path` as `list -l` shows it.
pub async fn listed(root: &WD, path: String) -> Result<Listed> {
    let node = root.get(path.as_str()).await.ok().flatten();
    let factory = node.as_ref().and_then(|n| n.factory()).map(str::to_string);
    let mut entry = Listed {
        path,
        factory,
        ..Listed::default()
    };
    let meta = match root.symlink_metadata(entry.path.as_str()).await {
        Ok(meta) => meta,
        // A dynamic node that cannot be built is listed with the reason.
        Err(e) if entry.factory.is_some() => {
            let node = node.as_ref().expect("a dynamic node");
            entry.entry_type = node.entry_type().to_string();
            entry.error = Some(e.to_string());
            return Ok(entry);
        }
        Err(e) => return Err(e.into()),
    };
    entry.entry_type = meta.entry_type.to_string();
    let computed = node
        .as_ref()
        .and_then(|n| n.as_file())
        .is_some_and(|f| pond_sql::is_computed(f.as_ref()));
    if meta.entry_type.is_file() && !computed {
        entry.size = Some(meta.size);
        entry.version = Some(meta.latest);
        entry.modified_micros = meta.modified_micros;
    }
    if meta.entry_type == EntryType::Symlink {
        entry.target = Some(root.readlink(entry.path.as_str()).await?);
    }
    Ok(entry)
}

/// What `describe` shows of a node; `describe --format json` prints it as it is.
#[derive(Debug, Default, serde::Serialize)]
pub struct Described {
    /// Its canonical path.
    pub path: String,
    /// `directory`, `file:series`, …
    #[serde(rename = "type")]
    pub entry_type: String,
    /// Its node id.
    pub node: String,
    /// A dynamic node's factory.
    pub factory: Option<String>,
    /// A dynamic node's configuration.
    pub config: Option<ConfigRecord>,
    /// How many entries a directory has.
    pub entries: Option<usize>,
    /// Why a directory's entries cannot be listed.
    pub entries_error: Option<String>,
    /// A stored file's latest version.
    pub latest: Option<u64>,
    /// The version described.
    pub showing: Option<u64>,
    /// A series an undo left with some of its versions: those.
    pub members: Option<String>,
    /// Bytes of the version described.
    pub size: Option<u64>,
    /// The BLAKE3 of the version described.
    pub blake3: Option<String>,
    /// When it was written, RFC 3339 UTC.
    pub modified: Option<String>,
    /// The host file a sync made the latest version from.
    pub origin: Option<OriginRecord>,
    /// A table's or series' rows.
    pub rows: Option<u64>,
    /// A series' timestamp column.
    pub timestamp_column: Option<String>,
    /// A series' first and last instant.
    pub range: Option<[String; 2]>,
    /// A table's or series' columns.
    pub schema: Option<Vec<ColumnRecord>>,
    /// A stored series' versions that make it up, oldest first.
    pub versions: Vec<VersionRecord>,
    /// The rollups temporal-reduce nodes make of a series, finest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rollups: Vec<RollupRecord>,
    /// Where the rows live, when outside the pond (a delta-table node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalRecord>,
}

/// A table read in place from outside the pond.
#[derive(Debug, serde::Serialize)]
pub struct ExternalRecord {
    /// `Delta`.
    pub kind: String,
    /// A host path or URL.
    pub location: String,
    /// The version read.
    pub version: u64,
    /// The newest version.
    pub latest: u64,
}

/// A rollup of a series.
#[derive(Debug, serde::Serialize)]
pub struct RollupRecord {
    /// Its resolution, as configured.
    pub resolution: String,
    /// Its canonical path.
    pub path: String,
}

/// The host file a sync read.
#[derive(Debug, serde::Serialize)]
pub struct OriginRecord {
    /// Bytes of the version described.
    pub size: u64,
    /// The BLAKE3 of the version described.
    pub blake3: String,
}

/// A dynamic node's configuration.
#[derive(Debug, serde::Serialize)]
pub struct ConfigRecord {
    /// The version.
    pub version: u64,
    /// When the configuration was written.
    pub written: String,
    /// The configuration, as written.
    pub text: String,
}

/// A column.
#[derive(Debug, serde::Serialize)]
pub struct ColumnRecord {
    /// The column's name.
    pub name: String,
    /// Its Arrow type.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether it may hold nulls.
    pub nullable: bool,
}

/// A version of a series.
#[derive(Debug, serde::Serialize)]
pub struct VersionRecord {
    /// The version.
    pub version: u64,
    /// Rows.
    pub rows: u64,
    /// Bytes of the version described.
    pub size: u64,
    /// Its first instant.
    pub start: Option<String>,
    /// Its last instant.
    pub end: Option<String>,
    /// The versions a compaction holds.
    pub compacts: Option<String>,
}

/// What `describe` shows of `path`.
pub async fn described(root: &WD, path: &str) -> Result<Described> {
    let bare = tinyfs::Path::parse(path)?.without_version();
    let canonical = root.canonicalize(&bare).await?;
    let node = root.resolve(&bare).await?;
    let mut d = Described {
        path: canonical.clone(),
        entry_type: node.entry_type().to_string(),
        node: node.id().to_string(),
        ..Described::default()
    };
    if let Some(config) = root.dynamic_config(&bare).await? {
        d.factory = Some(config.factory.clone());
        d.config = Some(ConfigRecord {
            version: config.version,
            written: micros(config.modified_micros),
            text: String::from_utf8_lossy(&config.config).into_owned(),
        });
    }
    let file = match node.kind() {
        tinyfs::NodeKind::Directory(dir) => {
            match dir.entries().await {
                Ok(entries) => d.entries = Some(entries.len()),
                Err(e) => d.entries_error = Some(e.with_path(&canonical).to_string()),
            }
            return Ok(d);
        }
        tinyfs::NodeKind::File(file) => file.clone(),
        tinyfs::NodeKind::Symlink(_) => return Ok(d),
    };
    let session = pond_sql::PondSession::new(root.clone())?;
    if pond_sql::is_computed(file.as_ref()) {
        // Computed on read: no stored versions or size. `@vN` names a version of a
        // history of the table's own (an external Delta table's).
        let named = match tinyfs::Path::parse(path)?.version() {
            Some(v) => format!("{canonical}@v{v}"),
            None => canonical.clone(),
        };
        summarize(&mut d, &session.summary(&named).await?);
        let table = pond_sql::file_table(root, &named).await?;
        d.external = table.external().await?.map(|e| ExternalRecord {
            kind: e.kind,
            location: e.location,
            version: e.version,
            latest: e.latest,
        });
        return Ok(d);
    }
    let meta = root.metadata(path).await?;
    // Versions are numbered from 1: the latest's number is how many were written (some
    // may since be gone to retention), found without listing them.
    d.latest = Some(meta.latest);
    d.showing = Some(meta.version.unwrap_or(0));
    if meta.entry_type == EntryType::FileSeries {
        let set: tinyfs::VersionSet = root
            .members(&bare)
            .await?
            .iter()
            .map(|v| v.version)
            .collect();
        if set.len() != meta.latest {
            d.members = Some(set.to_string());
        }
    }
    d.size = Some(meta.size);
    d.blake3 = meta.blake3.map(|h| h.to_hex().to_string());
    d.modified = meta.modified_micros.map(micros);
    if meta.version == Some(meta.latest) {
        d.origin = root
            .latest(&bare)
            .await?
            .and_then(|v| v.origin)
            .map(|o| OriginRecord {
                size: o.size,
                blake3: o.blake3.to_hex().to_string(),
            });
    }
    if !meta.entry_type.is_table() {
        return Ok(d);
    }
    let summary = session.summary(path).await?;
    summarize(&mut d, &summary);
    if summary.entry_type == EntryType::FileSeries {
        d.rollups = pond_factories::reduce::rollups_of(root, &canonical)
            .await?
            .into_iter()
            .map(|r| RollupRecord {
                resolution: r.resolution,
                path: r.path,
            })
            .collect();
    }
    if summary.entry_type == EntryType::FileSeries {
        d.versions = summary
            .versions
            .iter()
            .map(|(v, rows)| VersionRecord {
                version: v.version,
                rows: *rows,
                size: v.size,
                start: v.event_time.as_ref().map(|t| micros(t.min_micros)),
                end: v.event_time.as_ref().map(|t| micros(t.max_micros)),
                compacts: v.compacts.as_ref().map(|c| c.to_string()),
            })
            .collect();
    }
    Ok(d)
}

/// A table's rows, timestamp column, range and schema into `d`.
fn summarize(d: &mut Described, summary: &pond_sql::TableSummary) {
    d.rows = summary.rows;
    d.timestamp_column = summary.timestamp_column.clone();
    d.range = summary.range.map(|(lo, hi)| [micros(lo), micros(hi)]);
    d.schema = Some(
        summary
            .schema
            .fields()
            .iter()
            .map(|f| ColumnRecord {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                nullable: f.is_nullable(),
            })
            .collect(),
    );
}

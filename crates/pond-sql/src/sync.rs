//! Sync: a host directory copied into a pond directory file by file, again and again, as
//! the daily job of an instrument site does.
//!
//! Each host file goes to the pond path of the same relative name. The pond file's latest
//! version records the host file it was made from (its [`Origin`]: length and BLAKE3 when
//! read), and the host file now is compared with it:
//!
//! | the host file | what a sync does |
//! |---|---|
//! | has no pond file yet | imports it as the file's first version |
//! | is as recorded (a data file: hashes to the pond file's body) | nothing |
//! | grew by appending: its first bytes hash as recorded, and they end a line | a series appends only the new rows (a CSV's header line, then what was appended) |
//! | changed otherwise, or the pond file has no record of it | a new version of the whole file; for a series, one that replaces its rows (earlier versions stay in its history) |
//!
//! A data or table file takes a new version of the whole file whenever it changed.
//! So after a sync each pond file holds what its host file holds, and a second sync
//! finds nothing to do. Host files are never removed from the pond when they disappear
//! from the host, and names beginning with `.` are passed over.
//!
//! What is imported is read once more, into a private snapshot checked against the hash
//! the plan saw: a host file changing while it is synced is reported, not half-imported.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use tinyfs::{EntryType, FileVersion, NodeKind, Origin, WD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::formats::{FileFormat, ReadOptions};
use crate::import::{ImportOptions, Provenance, import_as};

/// How to sync.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// What the pond files are: `file:data` (bytes as they are), `file:table` or
    /// `file:series` (CSV converted, Parquet checked).
    pub entry_type: EntryType,
    /// Which host files, by their path below the host directory; a pattern without `/`
    /// matches a file name at any depth. `None`: every file.
    pub glob: Option<tinyfs::glob::Pattern>,
    /// For a series, its timestamp column; found by name when `None`.
    pub timestamp_column: Option<String>,
    /// How files other than Parquet are read.
    pub read: ReadOptions,
}

/// How a host file differs from its pond file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// There is no pond file yet.
    New,
    /// The host file is as the pond file's latest version records it.
    Unchanged,
    /// The host file grew by appending since it was synced at `from` bytes: a series
    /// appends what follows.
    Appended {
        /// The length synced before.
        from: u64,
        /// Whether its first line (a CSV header) goes before what follows.
        header: bool,
    },
    /// The host file changed otherwise, or the pond file has no record of it.
    Changed,
}

/// One host file, and what a sync does with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncItem {
    /// The host file.
    pub host: PathBuf,
    /// Its pond path.
    pub dest: String,
    /// The host file as the plan read it.
    pub origin: Origin,
    /// What it is to the pond file.
    pub change: Change,
}

/// A version a sync wrote.
#[derive(Clone, Debug)]
pub struct Synced {
    /// The version.
    pub version: FileVersion,
    /// The rows it added (a table's or series'), or `None` for a data file.
    pub rows: Option<u64>,
}

/// What syncing `host_dir` into the pond directory `pond_dir` would do, file by file in
/// path order (unchanged files too). Reads and hashes every host file the glob selects;
/// writes nothing.
pub async fn sync_plan(
    root: &WD,
    host_dir: &Path,
    pond_dir: &str,
    options: &SyncOptions,
) -> Result<Vec<SyncItem>> {
    if !options.entry_type.is_file() {
        return Err(Error::invalid(
            pond_dir,
            format!("cannot sync files as {}", options.entry_type),
        ));
    }
    let dir_exists = match root.get(pond_dir).await? {
        None => false,
        Some(node) if matches!(node.kind(), NodeKind::Directory(_)) => true,
        Some(_) => return Err(Error::invalid(pond_dir, "not a directory")),
    };
    let walked = {
        let (host_dir, glob) = (host_dir.to_path_buf(), options.glob.clone());
        blocking(move || walk(&host_dir, glob.as_ref())).await?
    };
    let mut items = Vec::with_capacity(walked.len());
    for (relative, host) in walked {
        let dest = format!("{}/{relative}", pond_dir.trim_end_matches('/'));
        let latest = match dir_exists {
            true => latest_of(root, &dest, options.entry_type).await?,
            false => None,
        };
        let prefix = latest.as_ref().and_then(|v| v.origin).map(|o| o.size);
        let read = {
            let (host, read) = (host.clone(), options.read.clone());
            blocking(move || read_host(&host, prefix, &read)).await?
        };
        let change = classify(options.entry_type, latest.as_ref(), &read);
        items.push(SyncItem {
            host,
            dest,
            origin: read.origin,
            change,
        });
    }
    Ok(items)
}

/// Does what `item` plans, in the transaction whose root is `root`: the pond file's next
/// version, recorded with the host file it was made from. `on_rows` is told the rows read
/// so far (of how many, when known). An unchanged item writes nothing (`None`).
pub async fn sync_item(
    root: &WD,
    item: &SyncItem,
    options: &SyncOptions,
    on_rows: &mut (dyn FnMut(u64, Option<u64>) + Send),
) -> Result<Option<Synced>> {
    if item.change == Change::Unchanged {
        return Ok(None);
    }
    if let Some((parent, _)) = item.dest.rsplit_once('/')
        && !parent.is_empty()
    {
        root.create_dir_all(parent).await?;
    }
    let shown = item.host.display().to_string();
    if options.entry_type == EntryType::FileData {
        let version = copy_data(root, item, &shown).await?;
        return Ok(Some(Synced {
            version,
            rows: None,
        }));
    }
    let snapshot = {
        let (host, origin, change) = (item.host.clone(), item.origin, item.change);
        blocking(move || snapshot(&host, origin, change)).await?
    };
    let provenance = Provenance {
        shown: match item.change {
            Change::Appended { .. } => format!("{shown} (the lines appended since the last sync)"),
            _ => shown,
        },
        origin: Some(item.origin),
        replace: item.change == Change::Changed,
    };
    // The snapshot has no name: the host file's says its format.
    let mut read = options.read.clone();
    read.format = read
        .format
        .or_else(|| FileFormat::of_name(&item.host.display().to_string()));
    let options = ImportOptions {
        entry_type: options.entry_type,
        timestamp_column: options.timestamp_column.clone(),
        read,
        skip_duplicate: false,
    };
    let imported = import_as(
        root,
        snapshot.path(),
        &provenance,
        &item.dest,
        &options,
        on_rows,
    )
    .await?;
    Ok(Some(Synced {
        version: imported.version,
        rows: Some(imported.rows),
    }))
}

/// The latest version of the pond file at `dest`, which must be a file of `entry_type`.
async fn latest_of(root: &WD, dest: &str, entry_type: EntryType) -> Result<Option<FileVersion>> {
    let Some(node) = root.get(dest).await? else {
        return Ok(None);
    };
    match node.as_file().map(|f| f.entry_type()) {
        Some(found) if found == entry_type => Ok(root.latest(dest).await?),
        Some(found) => Err(Error::invalid(
            dest,
            format!(
                "is a {found}, and this sync makes {entry_type} files (give --format to match)"
            ),
        )),
        None => Err(Error::invalid(dest, "exists, and is not a file")),
    }
}

/// What a host file is now.
struct HostRead {
    origin: Origin,
    /// The hash of its first `n` bytes, `n` the length synced before (when the file is at
    /// least that long), and whether those bytes end a line.
    prefix: Option<(blake3::Hash, bool)>,
    /// How it grows by appending.
    growth: Growth,
}

/// How a host file grows by appending, as a series reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Growth {
    /// Not by appending: Parquet, a workbook and a compressed file are rewritten whole.
    Rewritten,
    /// By lines after a header line (CSV): an append is the header and the new lines.
    AfterHeader,
    /// By lines that are each a row (JSON lines, CSV without a header).
    Lines,
}

impl Growth {
    /// How the host file `host`, whose first bytes are `head`, grows, read as `read` says.
    fn of(host: &Path, head: &[u8], read: &ReadOptions) -> Growth {
        let lines = |format| match format {
            FileFormat::Csv if read.has_header => Growth::AfterHeader,
            FileFormat::Csv | FileFormat::JsonLines => Growth::Lines,
            FileFormat::Excel => Growth::Rewritten,
        };
        if head.starts_with(b"PAR1") || crate::formats::Compression::of_head(head).is_some() {
            return Growth::Rewritten;
        }
        let named = read
            .format
            .or_else(|| FileFormat::of_name(&host.display().to_string()));
        lines(named.unwrap_or_else(|| FileFormat::of_head(head)))
    }
}

fn classify(entry_type: EntryType, latest: Option<&FileVersion>, now: &HostRead) -> Change {
    let Some(latest) = latest else {
        return Change::New;
    };
    if latest.origin == Some(now.origin)
        || (entry_type == EntryType::FileData
            && (latest.size, latest.blake3) == (now.origin.size, now.origin.blake3))
    {
        return Change::Unchanged;
    }
    match (latest.origin, now.prefix) {
        (Some(was), Some((hash, ends_line)))
            if entry_type == EntryType::FileSeries
                && hash == was.blake3
                && ends_line
                && now.growth != Growth::Rewritten
                && was.size < now.origin.size =>
        {
            Change::Appended {
                from: was.size,
                header: now.growth == Growth::AfterHeader,
            }
        }
        _ => Change::Changed,
    }
}

/// Reads `host` through, hashing it, and its first `prefix` bytes on their own; `read`
/// says how a series reads it.
fn read_host(host: &Path, prefix: Option<u64>, read: &ReadOptions) -> Result<HostRead> {
    let io = io_error(host);
    let mut file = std::fs::File::open(host).map_err(&io)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    let mut head = [0u8; 512];
    let mut found = None;
    let mut last = None;
    loop {
        // Stop at the prefix's end, so its hash can be taken there.
        let want = match prefix {
            Some(p) if found.is_none() && p > size => (p - size).min(buf.len() as u64) as usize,
            _ => buf.len(),
        };
        if let Some(p) = prefix
            && found.is_none()
            && p == size
            && p > 0
        {
            found = Some((hasher.finalize(), last == Some(b'\n')));
        }
        let n = file.read(&mut buf[..want]).map_err(&io)?;
        if n == 0 {
            break;
        }
        if size < head.len() as u64 {
            let take = (head.len() - size as usize).min(n);
            head[size as usize..size as usize + take].copy_from_slice(&buf[..take]);
        }
        hasher.update(&buf[..n]);
        size += n as u64;
        last = Some(buf[n - 1]);
    }
    Ok(HostRead {
        origin: Origin {
            size,
            blake3: hasher.finalize(),
        },
        prefix: found,
        growth: Growth::of(host, &head[..(size as usize).min(head.len())], read),
    })
}

/// A private copy of the host file's first `origin.size` bytes (for an append, its first
/// line and then what follows the bytes synced before), checked against `origin`.
fn snapshot(host: &Path, origin: Origin, change: Change) -> Result<tempfile::NamedTempFile> {
    let io = io_error(host);
    let mut out = tempfile::NamedTempFile::new().map_err(&io)?;
    let mut file = std::fs::File::open(host).map_err(&io)?.take(origin.size);
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    // For an append: the header line is still to be copied until its newline is seen.
    let (from, mut in_header) = match change {
        Change::Appended { from, header } => (from, header),
        _ => (0, false),
    };
    loop {
        let n = file.read(&mut buf).map_err(&io)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        hasher.update(chunk);
        let end = at + n as u64;
        if in_header {
            let line = chunk.iter().position(|&b| b == b'\n').map(|i| i + 1);
            let header = line.unwrap_or(n);
            out.write_all(&chunk[..header]).map_err(&io)?;
            in_header = line.is_none();
        }
        if end > from {
            let skip = from.saturating_sub(at) as usize;
            out.write_all(&chunk[skip..]).map_err(&io)?;
        }
        at = end;
    }
    out.flush().map_err(&io)?;
    if (at, hasher.finalize()) != (origin.size, origin.blake3) {
        return Err(changed_while_syncing(host));
    }
    Ok(out)
}

/// Copies the host file's bytes as the next version of a data file, checking them against
/// the hash the plan saw.
async fn copy_data(root: &WD, item: &SyncItem, shown: &str) -> Result<FileVersion> {
    let io = io_error(&item.host);
    let file = tokio::fs::File::open(&item.host).await.map_err(&io)?;
    let mut file = file.take(item.origin.size);
    let mut writer = root.file_writer(&item.dest, EntryType::FileData).await?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).await.map_err(&io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        writer
            .write_all(&buf[..n])
            .await
            .map_err(|source| Error::Io {
                path: item.dest.clone(),
                source,
            })?;
    }
    if hasher.finalize() != item.origin.blake3 {
        // The writer, dropped unfinished, leaves nothing.
        return Err(changed_while_syncing(Path::new(shown)));
    }
    writer.set_origin(item.origin);
    Ok(writer.finish().await?)
}

fn changed_while_syncing(host: &Path) -> Error {
    Error::invalid(
        host.display(),
        "changed while it was being synced, and nothing of it was imported (sync again)",
    )
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| tinyfs::Error::internal(format!("a host file task: {e}")))?
}

/// The regular files below `dir` that `glob` selects (by relative path; by name at any
/// depth if it has no `/`), as (relative path, host path), in path order. Names beginning
/// with `.` are passed over, and symlinks to directories are not followed.
fn walk(dir: &Path, glob: Option<&tinyfs::glob::Pattern>) -> Result<Vec<(String, PathBuf)>> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Io {
            path: p.display().to_string(),
            source,
        }
    };
    if !std::fs::metadata(dir).map_err(io(dir))?.is_dir() {
        return Err(Error::invalid(dir.display(), "not a directory"));
    }
    let by_name = glob.is_some_and(|g| !g.as_str().trim_matches('/').contains('/'));
    let selects = |relative: &str, name: &str| match glob {
        None => true,
        Some(g) if by_name => g.matches_path(name),
        Some(g) => g.matches_path(relative),
    };
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((host, prefix)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&host)
            .map_err(io(&host))?
            .collect::<std::io::Result<_>>()
            .map_err(io(&host))?;
        entries.sort_by_key(|e| e.file_name());
        // Directories after the files, in reverse, so the stack pops them in order.
        let mut dirs = Vec::new();
        for entry in entries {
            let at = entry.path();
            let Some(name) = entry.file_name().to_str().map(String::from) else {
                return Err(Error::invalid(at.display(), "the name is not UTF-8"));
            };
            if name.starts_with('.') {
                continue;
            }
            let relative = format!("{prefix}{name}");
            let kind = entry.file_type().map_err(io(&at))?;
            if kind.is_dir() {
                dirs.push((at, format!("{relative}/")));
            } else if (kind.is_file() || (kind.is_symlink() && at.is_file()))
                && selects(&relative, &name)
            {
                out.push((relative, at));
            }
        }
        stack.extend(dirs.into_iter().rev());
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], prefix: Option<u64>) -> HostRead {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, bytes).unwrap();
        read_host(&path, prefix, &ReadOptions::default()).unwrap()
    }

    #[test]
    fn a_host_read_hashes_the_file_and_the_prefix_synced_before() {
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        for at in [1u64, 7, 1 << 20, (1 << 20) + 1, 2_999_999, 3_000_000] {
            let r = read(&big, Some(at));
            assert_eq!(r.origin.size, 3_000_000);
            assert_eq!(r.origin.blake3, blake3::hash(&big));
            let (hash, ends_line) = r.prefix.unwrap();
            assert_eq!(hash, blake3::hash(&big[..at as usize]), "prefix {at}");
            assert_eq!(ends_line, big[at as usize - 1] == b'\n');
        }
        // A file shorter than what was synced has no such prefix.
        assert!(read(b"ab\n", Some(4)).prefix.is_none());
        assert_eq!(read(b"PAR1....", None).growth, Growth::Rewritten);
        assert_eq!(read(b"\x1f\x8b\x08....", None).growth, Growth::Rewritten);
        assert_eq!(read(b"t,v\n1,2\n", None).growth, Growth::AfterHeader);
        assert_eq!(read(b"{\"t\": 1}\n", None).growth, Growth::Lines);
    }

    #[test]
    fn an_append_snapshot_is_the_header_and_the_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        let text = b"t,v\n1,a\n2,b\n3,c\n";
        std::fs::write(&path, text).unwrap();
        let origin = Origin {
            size: text.len() as u64,
            blake3: blake3::hash(text),
        };
        let appended = Change::Appended {
            from: 8,
            header: true,
        };
        let snap = snapshot(&path, origin, appended).unwrap();
        assert_eq!(std::fs::read(snap.path()).unwrap(), b"t,v\n2,b\n3,c\n");
        let lines = Change::Appended {
            from: 8,
            header: false,
        };
        let snap = snapshot(&path, origin, lines).unwrap();
        assert_eq!(std::fs::read(snap.path()).unwrap(), b"2,b\n3,c\n");
        let whole = snapshot(&path, origin, Change::Changed).unwrap();
        assert_eq!(std::fs::read(whole.path()).unwrap(), text);
        // Bytes appended after the plan read the file are left for the next sync.
        std::fs::write(&path, b"t,v\n1,a\n2,b\n3,c\n4,d\n").unwrap();
        let snap = snapshot(&path, origin, appended).unwrap();
        assert_eq!(std::fs::read(snap.path()).unwrap(), b"t,v\n2,b\n3,c\n");
        // A file rewritten since is refused.
        std::fs::write(&path, b"t,v\n1,a\n2,X\n3,c\n").unwrap();
        let err = snapshot(&path, origin, Change::Changed).unwrap_err();
        assert!(
            err.to_string()
                .contains("changed while it was being synced")
        );
    }
}

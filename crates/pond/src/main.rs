//! `pond`: the command line of a pond. Parses arguments, calls the libraries, prints.

mod apply;
mod copy;
mod examples;
mod fsops;
mod output;
mod progress;
mod remote;
mod show;
mod sync;
mod undo;
mod upkeep;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use tinyfs::{TxnMeta, WD};
use tlogfs::Pond;

/// A small, local-first data lake: a versioned filesystem of data files, tables and time
/// series in one directory, with every change a transaction in a Delta Lake log.
#[derive(Debug, Parser)]
#[command(name = "pond", version, about, max_term_width = 100)]
struct Cli {
    /// The pond: a directory (a path or a file:// URL) or s3://BUCKET/PREFIX, configured
    /// by the AWS_* variables (default: $POND).
    #[arg(long, env = "POND", global = true, value_name = "POND")]
    pond: Option<PathBuf>,

    /// Print no report of what was done, and no progress: only what was asked for
    /// (rows, listings), problems found, and errors.
    #[arg(short = 'q', long, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

/// How `copy` stores what it imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CopyFormat {
    /// The bytes as they are (`file:data`).
    Data,
    /// A Parquet table (`file:table`); CSV is converted.
    Table,
    /// A Parquet time series (`file:series`); CSV is converted; needs a timestamp column.
    Series,
}

/// How `cat` prints a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// A pretty table (the default on a terminal).
    Table,
    /// CSV with a header (the default in a pipe).
    Csv,
    /// A JSON array of objects, one per row (nulls kept).
    Json,
    /// One JSON object per line (nulls kept).
    Ndjson,
    /// Parquet bytes.
    Parquet,
}

impl OutputFormat {
    /// The format as the command line spells it (`ndjson`).
    pub(crate) fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// How `export` writes tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    /// Parquet.
    Parquet,
    /// CSV with a header.
    Csv,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a new, empty pond.
    #[command(after_help = examples::INIT)]
    Init,
    /// Make directories.
    #[command(after_help = examples::MKDIR)]
    Mkdir {
        /// Make parents as needed; existing directories are fine.
        #[arg(short = 'p', long)]
        parents: bool,
        /// Directories to make.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Copy host files into the pond (`-` reads standard input).
    #[command(after_help = examples::COPY)]
    Copy {
        /// How to store them.
        #[arg(long, value_enum, default_value_t = CopyFormat::Data)]
        format: CopyFormat,
        #[command(flatten)]
        read: ReadArgs,
        /// Skip a batch identical to a version the series already has, instead of refusing it.
        #[arg(long)]
        skip_duplicate: bool,
        /// Copy host directories and everything in them.
        #[arg(short = 'r', long)]
        recursive: bool,
        /// Host files, then the pond destination: an existing directory, or a file name.
        #[arg(required = true, num_args = 2.., value_name = "SRC... DEST")]
        args: Vec<String>,
    },
    /// Bring a host directory's new and changed files into a pond directory, in one
    /// commit: new files are copied, changed ones get a new version (a series whose host
    /// file grew appends only the new rows), unchanged ones are left; again, it does nothing.
    #[command(after_help = examples::SYNC)]
    Sync {
        /// How to store the files.
        #[arg(long, value_enum, default_value_t = CopyFormat::Data)]
        format: CopyFormat,
        /// Only the host files GLOB matches: a name pattern at any depth (`*.csv`), or a
        /// path below HOST_DIR (`2024/*/*.csv`). Names beginning with `.` are passed over.
        #[arg(long, value_name = "GLOB")]
        glob: Option<String>,
        /// Print what would be done, and change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        read: ReadArgs,
        /// The host directory (read through, every file hashed).
        host_dir: PathBuf,
        /// The pond directory (made if missing); host paths are kept below it.
        pond_dir: String,
    },
    /// Make the pond what a YAML file describes: directories, dynamic nodes, symlinks and
    /// syncs, one a document, in one commit; applied again, it changes nothing.
    #[command(after_help = examples::APPLY)]
    Apply {
        /// The file (`-` reads standard input).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
        /// Print the changes it would make, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also remove dynamic nodes, symlinks and empty directories the file does not
        /// name (never a stored file, nor anything below a sync's directory).
        #[arg(long)]
        prune: bool,
    },
    /// Write pond files out to a host directory (a series as one file of all versions).
    #[command(after_help = examples::EXPORT)]
    Export {
        /// How to write tables and series; data files are written as they are.
        #[arg(long, value_enum, default_value_t = ExportFormat::Parquet)]
        format: ExportFormat,
        /// Read the pond as it was at pond version N, or at a time (RFC 3339, a local date
        /// or time, -1d, yesterday: the version current then).
        #[arg(long, value_name = "N|TIME", value_parser = parse_as_of, allow_hyphen_values = true)]
        as_of: Option<AsOf>,
        /// Write each series as a directory of Parquet files partitioned by time,
        /// `year=YYYY/month=MM/`, for engines that prune by directory.
        #[arg(long, conflicts_with = "format")]
        hive: bool,
        /// What to export (a path or a glob; directories bring everything below them).
        glob: String,
        /// Where to write; pond paths are kept below it (`-`: one file to standard output).
        host_dir: PathBuf,
    },
    /// List entries: a directory's, or every match of a glob.
    #[command(after_help = examples::LIST)]
    List {
        /// Show type, size, versions and modification time.
        #[arg(short = 'l', long)]
        long: bool,
        /// Print entries as csv, json or ndjson records (all of -l's fields), for programs.
        #[arg(long, value_enum)]
        format: Option<OutputFormat>,
        /// Read the pond as it was at pond version N, or at a time (RFC 3339, a local date
        /// or time, -1d, yesterday: the version current then).
        #[arg(long, value_name = "N|TIME", value_parser = parse_as_of, allow_hyphen_values = true)]
        as_of: Option<AsOf>,
        /// A directory, file or glob (default: /).
        glob: Option<String>,
    },
    /// Print a file: bytes as they are; tables and series as rows.
    #[command(after_help = examples::CAT)]
    Cat {
        /// How to print a table.
        #[arg(long, value_enum)]
        format: Option<OutputFormat>,
        /// A query over the file, which is the table `source`.
        #[arg(long, value_name = "SQL")]
        sql: Option<String>,
        /// Only rows at or after this time, by the series' timestamp column: RFC 3339
        /// (2024-05-01T06:00:00Z), a local date or time (2024-05-01, 2024-05-01T08:00, in
        /// the zone TZ names), or relative to now (-6h, -1d, yesterday, today-7d).
        #[arg(long, value_name = "T", allow_hyphen_values = true)]
        time_start: Option<String>,
        /// Only rows before this time (the same forms).
        #[arg(long, value_name = "T", allow_hyphen_values = true)]
        time_end: Option<String>,
        /// Print the physical plan instead of the rows.
        #[arg(long)]
        explain: bool,
        /// Rows a table format shows (the rest are counted); 0 shows all.
        #[arg(long, value_name = "N", default_value_t = 40)]
        max_rows: usize,
        /// Read a rollup of the series that a temporal-reduce makes instead: `auto` picks
        /// the finest whose buckets over the time window number at most --points; or name
        /// one (1h).
        #[arg(long, value_name = "auto|RES")]
        resolution: Option<String>,
        /// With --resolution auto: the most buckets to read.
        #[arg(long, value_name = "N", default_value_t = 2000)]
        points: u64,
        /// Read the pond as it was at pond version N, or at a time (RFC 3339, a local date
        /// or time, -1d, yesterday: the version current then).
        #[arg(long, value_name = "N|TIME", value_parser = parse_as_of, allow_hyphen_values = true)]
        as_of: Option<AsOf>,
        /// The file; `name@vN` for version N.
        path: String,
    },
    /// Run SQL over the pond: every pond path is a table (quote it: "/sensors/a.series").
    #[command(after_help = examples::QUERY)]
    Query {
        /// How to print the result.
        #[arg(long, value_enum)]
        format: Option<OutputFormat>,
        /// Read the pond as it was at pond version N, or at a time (RFC 3339, a local date
        /// or time, -1d, yesterday: the version current then).
        #[arg(long, value_name = "N|TIME", value_parser = parse_as_of, allow_hyphen_values = true)]
        as_of: Option<AsOf>,
        /// Print the physical plan instead of the rows.
        #[arg(long)]
        explain: bool,
        /// Rows a table format shows (the rest are counted); 0 shows all.
        #[arg(long, value_name = "N", default_value_t = 40)]
        max_rows: usize,
        /// List the pond's tables and series that GLOB matches (default: every one `/**`
        /// reaches), by path, instead of running a query.
        #[arg(
            long,
            value_name = "GLOB",
            num_args = 0..=1,
            default_missing_value = "/**",
            conflicts_with_all = ["sql", "file"]
        )]
        tables: Option<String>,
        /// Read the query from FILE (`-` for standard input).
        #[arg(
            short = 'f',
            long = "file",
            value_name = "FILE",
            conflicts_with = "sql"
        )]
        file: Option<PathBuf>,
        /// The query (`-` reads it from standard input).
        #[arg(required_unless_present_any = ["file", "tables"])]
        sql: Option<String>,
    },
    /// Describe a file: type, versions, size, hash, schema, rows, time range.
    #[command(after_help = examples::DESCRIBE)]
    Describe {
        /// Print the description as one json (or ndjson) object, for programs.
        #[arg(long, value_enum)]
        format: Option<OutputFormat>,
        /// Read the pond as it was at pond version N, or at a time (RFC 3339, a local date
        /// or time, -1d, yesterday: the version current then).
        #[arg(long, value_name = "N|TIME", value_parser = parse_as_of, allow_hyphen_values = true)]
        as_of: Option<AsOf>,
        /// The file or directory; `name@vN` for version N.
        path: String,
    },
    /// Show the history of changes, newest first; with PATH, only the commits that
    /// added, changed or removed it.
    #[command(after_help = examples::LOG)]
    Log {
        /// Show only the last N.
        #[arg(short = 'n', value_name = "N")]
        limit: Option<usize>,
        /// Print commits as csv, json or ndjson records, for programs.
        #[arg(long, value_enum)]
        format: Option<OutputFormat>,
        /// One path's history.
        path: Option<String>,
    },
    /// List the paths added, removed and changed from pond version A to B (default: the
    /// latest); for a series, the versions and rows added.
    #[command(after_help = examples::DIFF)]
    Diff {
        /// Print the changes as csv, json or ndjson records, for programs.
        #[arg(long, value_enum)]
        format: Option<OutputFormat>,
        /// The earlier pond version, or a time (the version current then).
        #[arg(value_parser = parse_as_of, allow_hyphen_values = true)]
        a: AsOf,
        /// The later pond version or time (default: the latest).
        #[arg(value_parser = parse_as_of, allow_hyphen_values = true)]
        b: Option<AsOf>,
    },
    /// Undo the commit that made pond version N: a new commit puts every path it changed
    /// back as it was before (refused when a later commit changed one of them). History
    /// stays: `--as-of` still reads what was undone.
    #[command(after_help = examples::REVERT)]
    Revert {
        /// The pond version whose commit to undo.
        version: u64,
    },
    /// Bring PATH back as it was at pond version N, as a new change: a file's body then
    /// is its next version, a series is the versions it had then, a removed file or
    /// directory is put back with its history.
    #[command(after_help = examples::RESTORE)]
    Restore {
        /// The pond version to restore from, or a time (the version current then).
        #[arg(long, value_name = "N|TIME", value_parser = parse_as_of, allow_hyphen_values = true)]
        as_of: AsOf,
        /// The file or directory.
        path: String,
    },
    /// Remove entries.
    #[command(after_help = examples::RM)]
    Rm {
        /// Remove directories and everything in them.
        #[arg(short = 'r', long)]
        recursive: bool,
        /// Paths or globs to remove.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Move or rename an entry (into DEST if it is a directory).
    #[command(after_help = examples::MV)]
    Mv {
        /// What to move.
        src: String,
        /// Where to.
        dest: String,
    },
    /// Make a symbolic link.
    #[command(after_help = examples::LN)]
    Ln {
        /// Make a symbolic link (the only kind pond has).
        #[arg(short = 's', long)]
        symbolic: bool,
        /// What the link points at.
        target: String,
        /// The link.
        path: String,
    },
    /// Make a dynamic node: FACTORY builds it on access from the YAML in --config.
    #[command(after_help = examples::MKNOD)]
    Mknod {
        /// The factory (see `pond factories`).
        factory: String,
        /// Where the node goes.
        path: String,
        /// The node's YAML configuration (`-` reads standard input).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Replace the configuration of an existing node of the same factory (a new
        /// configuration version).
        #[arg(long)]
        overwrite: bool,
    },
    /// List the factories mknod can use, each with a configuration example.
    #[command(after_help = examples::FACTORIES)]
    Factories {
        /// Print the factories as csv, json or ndjson records, for programs.
        #[arg(long, value_enum)]
        format: Option<OutputFormat>,
    },
    /// Re-hash every stored body and report mismatches and missing bodies.
    #[command(after_help = examples::VERIFY)]
    Verify {
        /// Print the report as one json (or ndjson) object, or its problems as csv rows.
        #[arg(long, value_enum, conflicts_with = "remote")]
        format: Option<OutputFormat>,
        /// Instead, check that remote NAME holds exactly this pond: every commit, and every
        /// log file and body they reference, intact.
        #[arg(long, value_name = "NAME")]
        remote: Option<String>,
    },
    /// Name, list or forget the replicas this pond pushes to and pulls from.
    #[command(after_help = examples::REMOTE)]
    Remote {
        #[command(subcommand)]
        action: RemoteAction,
    },
    /// Send the commits a replica lacks, with every file version they hold; the replica's
    /// history moves only once everything is there.
    #[command(after_help = examples::PUSH)]
    Push {
        /// The remote (default: the only one).
        name: Option<String>,
    },
    /// Bring in the commits a replica has and this pond lacks (never over commits of this
    /// pond's own that the replica lacks).
    #[command(after_help = examples::PULL)]
    Pull {
        /// The remote (default: the only one).
        name: Option<String>,
    },
    /// Make a new pond in DIR with every commit of the pond at URL, which becomes its
    /// remote `origin`.
    #[command(after_help = examples::CLONE)]
    Clone {
        /// The pond to copy: a path, a file:// URL or s3://BUCKET/PREFIX.
        url: String,
        /// A new (or empty) directory.
        dir: PathBuf,
    },
    /// Serve a read-only web app over the pond: the tree, file pages with charts, a SQL
    /// console, the history, and the JSON API under them.
    #[command(after_help = examples::SERVE)]
    Serve {
        /// The address to listen on (port 0: any free one). Anything but a loopback
        /// address makes the pond readable from other machines, without a password.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// The longest a request may take before it is answered with an error.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        timeout: std::time::Duration,
        /// The most rows a page, a preview or a query's answer holds.
        #[arg(long, default_value_t = 10_000)]
        max_rows: usize,
    },
    /// Write the web app's pages, with the data their charts draw, as a static site in
    /// DIR; files whose bytes would not change are left as they are.
    #[command(after_help = examples::SITE)]
    Site {
        /// The site's directory (made if missing).
        dir: PathBuf,
    },
    /// Checkpoint the log and remove what no commit references.
    #[command(after_help = examples::MAINTAIN)]
    Maintain {
        /// Keep unreferenced files younger than this (e.g. 30s, 10m, 1h, 2d).
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        grace: std::time::Duration,
        /// Give up history older than this: a duration (30d: pond versions of the last 30
        /// days) or a count (100: the newest 100 pond versions). Older versions can no
        /// longer be read; what only they held is reclaimed. Default: keep everything.
        #[arg(long, value_name = "DURATION|VERSIONS", value_parser = parse_keep_history)]
        keep_history: Option<tlogfs::KeepHistory>,
    },
    /// Print a shell completion script for pond.
    #[command(after_help = examples::COMPLETIONS)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print pond's manual page (roff), or write one page per command into a directory.
    #[command(after_help = examples::MAN)]
    Man {
        /// Write pond.1 and a pond-COMMAND.1 for every command here instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// What `pond remote` does.
#[derive(Debug, Subcommand)]
enum RemoteAction {
    /// Name a replica: a path, a file:// URL or s3://BUCKET/PREFIX (configured by the AWS_*
    /// variables); its pond is made by the first push.
    Add {
        /// The name (`origin`, `backup`).
        name: String,
        /// Where the replica is.
        url: String,
    },
    /// List the remotes: name and location.
    List,
    /// Forget a remote (the replica itself is untouched).
    Remove {
        /// The name.
        name: String,
    },
}

/// How files are read as tables (for `--format table` and `series`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ReadArgs {
    /// The input's format: csv, jsonl or excel (default: by the file's extension, else
    /// its first bytes). Compressed files (gzip, zstd, bzip2) are read as their contents.
    #[arg(long, value_name = "FORMAT", value_parser = pond_sql::FileFormat::parse)]
    pub(crate) input_format: Option<pond_sql::FileFormat>,
    /// JSON lines: nested objects as `a.b` columns (flatten, the default) or struct columns.
    #[arg(long, value_name = "HOW", value_parser = pond_sql::Nested::parse)]
    pub(crate) nested: Option<pond_sql::Nested>,
    /// Workbooks: the sheet to read (default: the first).
    #[arg(long, value_name = "NAME")]
    pub(crate) sheet: Option<String>,
    /// Workbooks: the row (from 1, as the spreadsheet shows it) naming the columns; rows
    /// above it, such as a title, are skipped (default: the first row with a value).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) header_row: Option<u32>,
    /// The event-time column of a series (default: found by name); DATE+TIME joins a
    /// date column and a time column of a CSV into one named `timestamp`.
    #[arg(long, value_name = "NAME")]
    pub(crate) timestamp_column: Option<String>,
    /// The format of the CSV timestamp column's text, in strftime syntax (such as
    /// "%d.%m.%Y %H:%M"; with DATE+TIME, of the two joined by a space).
    #[arg(long, value_name = "FORMAT", requires = "timestamp_column")]
    pub(crate) timestamp_format: Option<String>,
    /// The CSV decimal separator: . or , (a decimal comma needs another --delimiter).
    #[arg(long, value_name = "CHAR", default_value = ".", value_parser = parse_decimal)]
    pub(crate) decimal: u8,
    /// The time zone of input times written without an offset (IANA name such as
    /// Europe/Oslo, or +02:00; default UTC). Times with an offset keep it.
    #[arg(long, value_name = "ZONE")]
    pub(crate) timezone: Option<String>,
    /// The CSV field delimiter: one character, or `tab`.
    #[arg(long, value_name = "CHAR", default_value = ",", value_parser = parse_delimiter)]
    pub(crate) delimiter: u8,
    /// A CSV value read as null (repeat for several; default: empty and NA).
    #[arg(long = "null-value", value_name = "TEXT")]
    pub(crate) null_values: Vec<String>,
}

impl ReadArgs {
    /// The timestamp column and the reading these ask for, checked.
    pub(crate) fn options(self) -> Result<(Option<String>, pond_sql::ReadOptions)> {
        let defaults = pond_sql::ReadOptions::default();
        let time = copy::csv_time(self.timestamp_column.as_deref(), self.timestamp_format);
        let timestamp_column = time
            .as_ref()
            .map(|t| t.name.clone())
            .or(self.timestamp_column);
        let read = pond_sql::ReadOptions {
            delimiter: self.delimiter,
            null_values: if self.null_values.is_empty() {
                defaults.null_values.clone()
            } else {
                self.null_values
            },
            timezone: self.timezone,
            decimal: self.decimal,
            time,
            format: self.input_format,
            nested: self.nested.unwrap_or_default(),
            sheet: self.sheet,
            header_row: self.header_row,
            ..defaults
        };
        if let Some(zone) = &read.timezone {
            pond_sql::check_timezone(zone).map_err(|e| anyhow::anyhow!("--timezone: {e}"))?;
        }
        Ok((timestamp_column, read))
    }
}

/// A pond version named on the command line: its number, or a time, which names the
/// version current then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AsOf {
    /// Pond version N.
    Version(u64),
    /// The version current at this instant (microseconds since the epoch).
    Time(i64),
}

fn parse_as_of(text: &str) -> Result<AsOf, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(AsOf::Version)
            .map_err(|_| format!("{text:?} is not a pond version"));
    }
    pond_sql::parse_instant(text)
        .map(AsOf::Time)
        .map_err(|e| format!("{e}, or a pond version number"))
}

fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "\\t" | "\t" | "tab" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
        _ => Err(format!("{text:?} is not one ASCII character (or `tab`)")),
    }
}

fn parse_decimal(text: &str) -> Result<u8, String> {
    match text {
        "." | "," => Ok(text.as_bytes()[0]),
        _ => Err(format!("{text:?} is not a decimal separator (. or ,)")),
    }
}

fn parse_keep_history(text: &str) -> Result<tlogfs::KeepHistory, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u64>() {
            Ok(0) | Err(_) => Err(format!(
                "{text:?}: keep at least 1 pond version (the current one)"
            )),
            Ok(n) => Ok(tlogfs::KeepHistory::Versions(n)),
        };
    }
    let age = parse_duration(text).map_err(|e| format!("{e}, or a number of pond versions"))?;
    Ok(tlogfs::KeepHistory::Since(
        std::time::SystemTime::now() - age,
    ))
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 10m, 1h or 2d"))?;
    let seconds = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use s, m, h or d)"
            ));
        }
    };
    Ok(std::time::Duration::from_secs(seconds))
}

/// What every command needs: where the pond is, and who is asking.
pub(crate) struct Ctx {
    pond: Option<PathBuf>,
    command_line: Vec<String>,
    quiet: bool,
}

impl Ctx {
    /// Where a command reports what it did: standard output, or nowhere with `--quiet`.
    pub(crate) fn report(&self) -> Box<dyn Write> {
        if self.quiet {
            Box::new(std::io::sink())
        } else {
            Box::new(std::io::stdout().lock())
        }
    }

    /// Whether `--quiet` asks for no report.
    pub(crate) fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Whether progress may be shown: not with `--quiet`, and only to a terminal.
    pub(crate) fn shows_progress(&self) -> bool {
        !self.quiet && std::io::stderr().is_terminal()
    }

    /// The pond's directory, for the commands that work on a local pond only (replicas
    /// are made from and brought to one).
    pub(crate) fn dir(&self) -> Result<&std::path::Path> {
        match &self.pond {
            Some(p) if is_url(p) => bail!(
                "{}: this command works on a local pond (a path or file://); \
                 bring this one here with `pond clone {} DIR`",
                p.display(),
                p.display()
            ),
            Some(p) => Ok(p),
            None => bail!(NO_POND),
        }
    }

    /// Where the pond is: a local directory, or a prefix of an object store.
    pub(crate) fn store(&self) -> Result<tlogfs::store::Store> {
        let Some(pond) = &self.pond else {
            bail!(NO_POND)
        };
        if !is_url(pond) {
            return Ok(tlogfs::store::Store::local(pond));
        }
        let text = pond.to_string_lossy();
        if text.starts_with("memory://") {
            bail!("{text}: a memory:// pond lives in one process; give a directory or s3://");
        }
        Ok(tlogfs::store::Store::open(&text)?)
    }

    /// Opens the pond to read, at `as_of` or the latest version, its dynamic nodes built
    /// by the built-in factories.
    pub(crate) async fn read(&self, as_of: Option<AsOf>) -> Result<Pond> {
        let store = self.store()?;
        let pond = match as_of {
            Some(as_of) => Pond::connect_at(store, self.version(as_of).await?).await?,
            None => Pond::connect(store).await?,
        };
        Ok(with_factories(pond))
    }

    /// The pond version `as_of` names.
    pub(crate) async fn version(&self, as_of: AsOf) -> Result<u64> {
        match as_of {
            AsOf::Version(v) => Ok(v),
            AsOf::Time(micros) => Ok(Pond::connect(self.store()?)
                .await?
                .version_at(micros)
                .await?),
        }
    }

    /// Who is running which command: what a commit records.
    pub(crate) fn meta(&self) -> TxnMeta {
        TxnMeta {
            command: self.command_line.clone(),
            user: user(),
        }
    }

    /// Runs `change` in one transaction: committed if it succeeds, rolled back otherwise.
    pub(crate) async fn write<T>(
        &self,
        change: impl AsyncFnOnce(&WD) -> Result<T>,
    ) -> Result<(T, Option<u64>)> {
        self.change(true, change).await
    }

    /// Runs `change` in one transaction, committed if it succeeds and `commit` (the new
    /// pond version, if it changed anything), rolled back otherwise: what a dry run is.
    pub(crate) async fn change<T>(
        &self,
        commit: bool,
        change: impl AsyncFnOnce(&WD) -> Result<T>,
    ) -> Result<(T, Option<u64>)> {
        let pond = with_factories(Pond::connect(self.store()?).await?);
        let tx = pond.fs().begin(self.meta()).await?;
        let value = change(&tx.root()).await?;
        if !commit {
            tx.rollback();
            return Ok((value, None));
        }
        let version = tx.commit().await?;
        Ok((value, version))
    }
}

/// What a command that needs a pond says without one.
const NO_POND: &str = "no pond given: pass --pond DIR or set POND=DIR (make one with `pond init`)";

/// The bytes of host file `path`, or of standard input for `-`.
pub(crate) fn read_input(path: &std::path::Path) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).context("standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| path.display().to_string())
    }
}

/// `path`, or the local directory a `file://` URL names.
fn local_path(path: PathBuf) -> PathBuf {
    let text = path.to_string_lossy();
    if !text.starts_with("file://") {
        return path;
    }
    match tlogfs::store::Store::open(&text) {
        Ok(store) => store.local_dir().map(PathBuf::from).unwrap_or(path),
        Err(_) => path,
    }
}

/// Whether `path` is written as a URL (`scheme://...`) rather than a local path, so that
/// a pond is never made in a directory named `s3:`.
fn is_url(path: &std::path::Path) -> bool {
    let text = path.to_string_lossy();
    text.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

pub(crate) fn with_factories(pond: Pond) -> Pond {
    let registry = pond_factories::Registry::builtin(Some(pond.cache_dir()));
    pond.with_node_builder(registry.node_builder())
}

/// Who is running pond: `$USER`, `$LOGNAME`, else the name of `$HOME`.
fn user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            let home = PathBuf::from(std::env::var_os("HOME")?);
            Some(home.file_name()?.to_str()?.to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

async fn run(cli: Cli) -> Result<bool> {
    let ctx = Ctx {
        pond: cli.pond.map(local_path),
        quiet: cli.quiet,
        // The program as `pond`, wherever it was run from; the arguments as given.
        command_line: std::iter::once("pond".to_string())
            .chain(std::env::args().skip(1))
            .collect(),
    };
    if ctx.shows_progress() {
        tinyfs::progress::set_reporter(Box::new(progress::Bars::new()));
    }
    match cli.command {
        Command::Completions { shell } => {
            // Into memory first: the generator panics on a failed write (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "pond", &mut script);
            std::io::stdout().write_all(&script)?;
        }
        Command::Man { dir } => match dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir)
                    .and_then(|()| clap_mangen::generate_to(Cli::command(), &dir))
                    .with_context(|| format!("man: {}", dir.display()))?;
            }
            None => {
                let mut page = Vec::new();
                clap_mangen::Man::new(Cli::command()).render(&mut page)?;
                std::io::stdout().write_all(&page)?;
            }
        },
        Command::Init => {
            let store = ctx.store()?;
            let pond = Pond::create(store).await.context("init")?;
            writeln!(
                ctx.report(),
                "initialized an empty pond in {}",
                pond.store().url()
            )?;
        }
        Command::Mkdir { parents, paths } => {
            fsops::mkdir(&ctx, parents, &paths).await.context("mkdir")?
        }
        Command::Copy {
            format,
            read,
            skip_duplicate,
            recursive,
            args,
        } => {
            let (timestamp_column, read) = read.options().context("copy")?;
            let options = copy::CopyOptions {
                format,
                timestamp_column,
                read,
                skip_duplicate,
                recursive,
                progress: ctx.shows_progress(),
            };
            copy::copy(&ctx, &options, &args).await.context("copy")?
        }
        Command::Sync {
            format,
            glob,
            dry_run,
            read,
            host_dir,
            pond_dir,
        } => {
            let (timestamp_column, read) = read.options().context("sync")?;
            let options =
                sync::options(format, glob.as_deref(), timestamp_column, read).context("sync")?;
            return sync::sync(&ctx, &options, &host_dir, &pond_dir, dry_run)
                .await
                .context("sync");
        }
        Command::Apply {
            file,
            dry_run,
            prune,
        } => {
            return apply::apply(&ctx, &file, dry_run, prune)
                .await
                .context("apply");
        }
        Command::Export {
            format,
            as_of,
            hive,
            glob,
            host_dir,
        } => copy::export(&ctx, format, as_of, hive, &glob, &host_dir)
            .await
            .context("export")?,
        Command::List {
            long,
            format,
            as_of,
            glob,
        } => show::list(&ctx, long, format, as_of, glob.as_deref().unwrap_or("/"))
            .await
            .context("list")?,
        Command::Cat {
            format,
            sql,
            time_start,
            time_end,
            explain,
            max_rows,
            resolution,
            points,
            as_of,
            path,
        } => {
            let query = show::CatQuery {
                sql,
                time_start,
                time_end,
                explain,
                max_rows,
                resolution,
                points,
            };
            show::cat(&ctx, format, as_of, &path, query)
                .await
                .context("cat")?
        }
        Command::Query {
            format,
            as_of,
            explain,
            max_rows,
            tables,
            file,
            sql,
        } => {
            if let Some(glob) = tables {
                return show::tables(&ctx, format, as_of, max_rows, &glob)
                    .await
                    .context("query")
                    .map(|()| true);
            }
            let sql = match (sql, file) {
                (Some(sql), _) if sql != "-" => sql,
                (_, file) => {
                    let from = file.unwrap_or_else(|| PathBuf::from("-"));
                    String::from_utf8(read_input(&from).context("query")?)
                        .with_context(|| format!("query: {}: not UTF-8 text", from.display()))?
                }
            };
            show::query(&ctx, format, as_of, explain, max_rows, &sql)
                .await
                .context("query")?
        }
        Command::Describe {
            format,
            as_of,
            path,
        } => show::describe(&ctx, format, as_of, &path)
            .await
            .context("describe")?,
        Command::Log {
            limit,
            format,
            path,
        } => show::log(&ctx, limit, format, path.as_deref())
            .await
            .context("log")?,
        Command::Diff { format, a, b } => show::diff(&ctx, format, a, b).await.context("diff")?,
        Command::Revert { version } => undo::revert(&ctx, version).await.context("revert")?,
        Command::Restore { as_of, path } => {
            let version = ctx.version(as_of).await.context("restore")?;
            undo::restore(&ctx, &path, version)
                .await
                .context("restore")?
        }
        Command::Rm { recursive, paths } => {
            fsops::rm(&ctx, recursive, &paths).await.context("rm")?
        }
        Command::Mv { src, dest } => fsops::mv(&ctx, &src, &dest).await.context("mv")?,
        Command::Ln {
            symbolic,
            target,
            path,
        } => {
            if !symbolic {
                bail!("ln: pond has only symbolic links; use `pond ln -s TARGET PATH`");
            }
            fsops::ln(&ctx, &target, &path).await.context("ln")?
        }
        Command::Mknod {
            factory,
            path,
            config,
            overwrite,
        } => fsops::mknod(&ctx, &factory, &path, &config, overwrite)
            .await
            .context("mknod")?,
        Command::Factories { format } => fsops::factories(format)?,
        Command::Verify {
            remote: Some(name), ..
        } => return remote::verify(&ctx, &name).await.context("verify"),
        Command::Verify { format, .. } => {
            return upkeep::verify(&ctx, format).await.context("verify");
        }
        Command::Remote { action } => match action {
            RemoteAction::Add { name, url } => {
                remote::add(&ctx, &name, &url).await.context("remote")?
            }
            RemoteAction::List => remote::list(&ctx).context("remote")?,
            RemoteAction::Remove { name } => remote::remove(&ctx, &name).context("remote")?,
        },
        Command::Push { name } => remote::copy(&ctx, name.as_deref(), remote::Direction::Push)
            .await
            .context("push")?,
        Command::Pull { name } => remote::copy(&ctx, name.as_deref(), remote::Direction::Pull)
            .await
            .context("pull")?,
        Command::Clone { url, dir } => remote::clone(&ctx, &url, &dir).await.context("clone")?,
        Command::Maintain {
            grace,
            keep_history,
        } => upkeep::maintain(&ctx, grace, keep_history)
            .await
            .context("maintain")?,
        Command::Serve {
            addr,
            timeout,
            max_rows,
        } => upkeep::serve(&ctx, addr, timeout, max_rows)
            .await
            .context("serve")?,
        Command::Site { dir } => upkeep::site(&ctx, &dir).await.context("site")?,
    }
    Ok(true)
}

/// One line: each cause in the chain, skipping those whose text an outer one already shows
/// (library errors often print their source inline).
fn render(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

/// Diagnostics on standard error when `POND_LOG` asks for them: a level alone
/// (`POND_LOG=debug`: commits, rebases, conflicts, scan planning) is pond's own crates at
/// that level; anything else is a `tracing` filter over every crate
/// (`POND_LOG=tlogfs=debug,datafusion=info`: targets and levels).
fn start_logging() -> Result<(), String> {
    const POND_CRATES: [&str; 5] = ["pond", "tinyfs", "tlogfs", "pond_sql", "pond_factories"];
    let Some(given) = std::env::var_os("POND_LOG") else {
        return Ok(());
    };
    let given = given.to_string_lossy();
    let directives = match given.parse::<tracing::Level>() {
        Ok(level) => POND_CRATES.map(|c| format!("{c}={level}")).join(","),
        Err(_) => given.to_string(),
    };
    let filter: tracing_subscriber::filter::Targets = directives
        .parse()
        .map_err(|e| format!("POND_LOG={given}: {e}"))?;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .without_time(),
        )
        .with(filter)
        .init();
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = start_logging() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", render(&e));
            ExitCode::FAILURE
        }
    }
}

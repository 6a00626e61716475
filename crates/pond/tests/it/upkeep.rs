//! verify finds damaged and missing bodies; maintain removes what nothing references.

use crate::support::{Rng, TestPond, write};

fn body(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(seed)).collect()
}

#[test]
fn verify_reports_mismatched_and_missing_bodies() {
    let pond = TestPond::new();
    for (name, seed) in [("a", 3u8), ("b", 5), ("c", 7)] {
        let host = pond.host(name);
        write(&host, &body(seed, 100_000));
        pond.ok(&["copy", host.to_str().unwrap(), &format!("/{name}")]);
    }
    let ok = pond.ok(&["verify"]);
    assert_eq!(
        ok,
        "verified 3 file versions (293.0 KiB) and 10 log files: all intact\n"
    );

    let store = pond.path().join("content");
    let path_of = |data: &[u8]| {
        let hex = blake3_hex(data);
        store.join(&hex[..2]).join(hex)
    };
    std::fs::write(path_of(&body(3, 100_000)), b"damaged").unwrap();
    std::fs::remove_file(path_of(&body(5, 100_000))).unwrap();
    let out = pond.run(&["verify"]);
    assert!(!out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("MISMATCH /a@v1: "), "{text}");
    assert!(text.contains("MISSING  /b@v1: "), "{text}");
    assert!(
        text.ends_with("1 mismatched, 1 missing, 0 damaged log files\n"),
        "{text}"
    );
    let err = pond.fails(&["cat", "/b"]);
    assert!(err.contains("No such file or directory"), "{err}");
}

#[test]
fn maintain_removes_orphans_and_keeps_everything_referenced() {
    let pond = TestPond::new();
    let host = pond.host("kept");
    write(&host, &body(9, 200_000));
    pond.ok(&["copy", host.to_str().unwrap(), "/kept"]);
    // What an interrupted commit leaves: a body and a log data file no commit names.
    let orphan = pond.path().join("content").join("ab").join("ab".repeat(32));
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"orphan").unwrap();
    let stray = pond
        .path()
        .join("log")
        .join(format!("part_id={}", "0".repeat(32)))
        .join(format!("{}-99-stray.parquet", "0".repeat(32)));
    std::fs::write(&stray, b"PAR1").unwrap();

    let young = pond.ok(&["maintain"]);
    assert!(
        young.contains("removed 0 unreferenced log files"),
        "{young}"
    );
    assert!(
        orphan.exists() && stray.exists(),
        "the grace period protects young files"
    );

    let out = pond.ok(&["maintain", "--grace", "0s"]);
    assert!(
        out.starts_with("wrote a checkpoint at pond version 1\n"),
        "{out}"
    );
    assert!(out.contains("removed 1 unreferenced log files"), "{out}");
    assert!(out.contains("removed 1 unreferenced bodies (6 B)"), "{out}");
    assert!(!orphan.exists() && !stray.exists());
    assert!(pond.ok(&["verify"]).contains("all intact"));
    assert_eq!(pond.run(&["cat", "/kept"]).stdout, body(9, 200_000));
    assert!(
        pond.path()
            .join("log/_delta_log/00000000000000000001.checkpoint.parquet")
            .exists(),
        "maintain writes a Delta checkpoint"
    );
}

#[test]
fn without_a_pond_the_error_says_how_to_name_one() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pond"))
        .args(["list"])
        .env_remove("POND")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: list: no pond given: pass --pond DIR or set POND=DIR (make one with `pond init`)\n"
    );
}

fn blake3_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Every file under `dir`, recursively.
fn files_below(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_below(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn verify_reports_every_single_bit_flip_in_any_stored_file() {
    let pond = TestPond::new();
    // Bodies inline and in content/ (one large enough to have block hashes), a series,
    // directories, a checkpoint and commits on both sides of it.
    let big = pond.host("big.bin");
    write(&big, &body(7, 600 << 10));
    let small = pond.host("small.bin");
    write(&small, b"a small body");
    pond.ok(&["mkdir", "-p", "/a/b"]);
    pond.ok(&["copy", big.to_str().unwrap(), "/a/big.bin"]);
    pond.ok(&["copy", small.to_str().unwrap(), "/a/b/small.bin"]);
    pond.copy_series(
        "time,v\n2024-01-01T00:00:00Z,1\n2024-01-01T01:00:00Z,2\n",
        "/s.series",
    );
    pond.ok(&["maintain"]);
    pond.ok(&["copy", small.to_str().unwrap(), "/small2.bin"]);
    pond.ok(&["mkdir", "/c"]);
    assert!(pond.ok(&["verify"]).contains("all intact"));

    let mut stored = Vec::new();
    for part in ["log", "content"] {
        files_below(&pond.path().join(part), &mut stored);
    }
    stored.retain(|p| !p.components().any(|c| c.as_os_str() == ".incoming"));
    stored.sort();
    let mut rng = Rng::new();
    let mut missed = Vec::new();
    for trial in 0..40 {
        let victim = &stored[rng.below(stored.len() as u64) as usize];
        let len = std::fs::metadata(victim).unwrap().len();
        if len == 0 {
            continue;
        }
        let offset = rng.below(len);
        let bit = rng.below(8) as u8;
        let copy = pond.host(&format!("trial{trial}"));
        copy_tree(&pond.path(), &copy);
        let rel = victim.strip_prefix(pond.path()).unwrap();
        let target = copy.join(rel);
        let mut bytes = std::fs::read(&target).unwrap();
        bytes[offset as usize] ^= 1 << bit;
        std::fs::write(&target, bytes).unwrap();
        let out = pond
            .command(&["--pond", copy.to_str().unwrap(), "verify"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Damage is reported (a failing exit) and named, or the pond refuses to open
        // with an error; it never verifies as intact.
        if out.status.success() || stdout.contains("all intact") {
            missed.push(format!("{} byte {offset} bit {bit}", rel.display()));
        } else {
            let name = rel.file_name().unwrap().to_string_lossy().to_string();
            let named = stdout.contains(&name) || stderr.contains(&name);
            assert!(named, "{}: {stdout}{stderr}", rel.display());
        }
        std::fs::remove_dir_all(&copy).unwrap();
    }
    assert!(missed.is_empty(), "verify missed: {missed:?}");
}

/// The file in `content/` that holds the body of `path` (its only version).
fn body_file(pond: &TestPond, path: &str) -> std::path::PathBuf {
    let out = pond.ok(&["describe", path]);
    let hash = out
        .split_whitespace()
        .find(|w| w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no body hash in: {out}"));
    pond.path().join("content").join(&hash[..2]).join(hash)
}

#[test]
fn a_read_of_a_damaged_body_fails_naming_it_and_returns_no_damaged_bytes() {
    let pond = TestPond::new();
    // A series of 100,000 rows of noise: a body of several blocks.
    let mut csv = String::from("time,v\n");
    let mut x: u64 = 1;
    for i in 0..100_000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (day, h, m, s) = (1 + i / 86400, i / 3600 % 24, i / 60 % 60, i % 60);
        let v = (x >> 11) as f64 / 1e9;
        csv.push_str(&format!("2024-01-{day:02}T{h:02}:{m:02}:{s:02}Z,{v}\n"));
    }
    pond.copy_series(&csv, "/s.series");
    let big = pond.host("big.bin");
    let bytes = body(3, 900 << 10);
    write(&big, &bytes);
    pond.ok(&["copy", big.to_str().unwrap(), "/big.bin"]);
    let sum = "SELECT count(*) AS n, sum(v) AS s FROM source";
    let before = pond.ok(&["cat", "--sql", sum, "/s.series"]);
    let whole = pond.command(&["cat", "/big.bin"]).output().unwrap();
    assert!(
        whole.status.success() && whole.stdout == bytes,
        "cat of the intact body"
    );

    for (path, read) in [
        ("/s.series", vec!["cat", "--sql", sum]),
        ("/big.bin", vec!["cat"]),
    ] {
        let file = body_file(&pond, path);
        let mut damaged = std::fs::read(&file).unwrap();
        assert!(damaged.len() > 512 << 10, "{path}: {} bytes", damaged.len());
        let at = damaged.len() / 2;
        damaged[at] ^= 0x04;
        std::fs::write(&file, &damaged).unwrap();
        let mut args = read.clone();
        args.push(path);
        let out = pond.command(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{path} read though damaged");
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            stderr.contains(&name) && stderr.contains("damaged"),
            "{path}: {stderr}"
        );
        assert!(!stderr.contains("bug in pond"), "{stderr}");
        // What was written before the error is the body's undamaged start.
        assert!(
            out.stdout.len() <= at,
            "{path}: damaged bytes were returned"
        );
        if path == "/big.bin" {
            assert_eq!(out.stdout, bytes[..out.stdout.len()]);
        }
    }
    assert!(before.contains("100000"), "{before}");
}

#[test]
fn a_read_refuses_a_damaged_log_file_naming_it() {
    let pond = TestPond::new();
    pond.ok(&["mkdir", "/a"]);
    pond.ok(&["mkdir", "/b"]);
    // After a checkpoint, hashes come from it rather than from the commit files.
    pond.ok(&["maintain"]);
    let mut files = Vec::new();
    files_below(
        &pond
            .path()
            .join("log/part_id=00000000000000000000000000000000"),
        &mut files,
    );
    files.sort();
    let newest = files.last().unwrap();
    let mut bytes = std::fs::read(newest).unwrap();
    bytes[40] ^= 1;
    std::fs::write(newest, bytes).unwrap();
    let err = pond.fails(&["list", "/"]);
    let name = newest.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        err.contains(&name) && err.contains("does not match its recorded BLAKE3"),
        "{err}"
    );
    assert!(!err.contains("bug in pond"), "{err}");
}

/// The CSV of hour `hour` of a series, `rows` readings a minute apart.
fn hour_csv(hour: usize, rows: usize) -> String {
    let mut csv = String::from("time,v\n");
    for m in 0..rows {
        csv.push_str(&format!(
            "2024-01-{:02}T{:02}:{m:02}:00Z,{hour}.{m}\n",
            1 + hour / 24,
            hour % 24
        ));
    }
    csv
}

/// The pond version a command committed first (`committed pond version N`).
fn first_commit(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("committed pond version "))
        .unwrap_or_else(|| panic!("no commit in: {out}"))
        .to_string()
}

#[test]
fn a_compacted_series_still_refuses_duplicates_and_maintain_compacts() {
    let pond = TestPond::new();
    let mut out = String::new();
    for hour in 0..8 {
        out = pond.copy_series(&hour_csv(hour, 2), "/s.series");
    }
    assert!(
        out.contains("compacted /s.series v1-8 into v9 (16 rows, checked)"),
        "{out}"
    );
    // The batch of v3 is held by v9 now, and still a duplicate.
    let again = pond.host("again.csv");
    write(&again, hour_csv(2, 2).as_bytes());
    let again = again.to_str().unwrap();
    let err = pond.fails(&["copy", "--format", "series", again, "/s.series"]);
    assert!(err.contains("has the same rows as version 3"), "{err}");
    let skipped = pond.ok(&[
        "copy",
        "--format",
        "series",
        "--skip-duplicate",
        again,
        "/s.series",
    ]);
    assert!(skipped.contains("identical to /s.series@v3"), "{skipped}");
    // The eighth append cannot be reverted alone: its compaction changed the series since.
    let err = pond.fails(&["revert", &first_commit(&out)]);
    assert!(err.contains("/s.series"), "{err}");

    // Undo the compaction: the series is its eight versions again, until maintain.
    let compaction = out
        .lines()
        .last()
        .unwrap()
        .trim_start_matches("committed pond version ");
    pond.ok(&["revert", compaction]);
    assert!(
        pond.ok(&["describe", "/s.series"])
            .contains("the series is v1-8")
    );
    let maintained = pond.ok(&["maintain"]);
    assert!(
        maintained.contains("compacted /s.series v1-8 into v11 (16 rows, checked)"),
        "{maintained}"
    );
    // One more hour: describe lists the two versions, the compaction marked.
    pond.copy_series(&hour_csv(8, 2), "/s.series");
    let describe = pond.ok(&["describe", "/s.series"]);
    assert!(
        describe.contains("rows:      18 (in 2 versions)"),
        "{describe}"
    );
    assert!(describe.contains("(compacts v1-8)"), "{describe}");
    assert!(pond.ok(&["verify"]).contains("verified 12 file versions"));
}

#[test]
fn describe_lists_a_series_newest_versions() {
    let pond = TestPond::new();
    // Each batch smaller than the one before: no run to compact ever forms.
    for hour in 0..22 {
        pond.copy_series(&hour_csv(hour, 50 - hour), "/s.series");
    }
    let describe = pond.ok(&["describe", "/s.series"]);
    assert!(
        describe.contains("versions:  (the newest 20; 2 versions before them)"),
        "{describe}"
    );
    assert!(
        !describe.contains("  v2 ") && describe.contains("  v3 "),
        "{describe}"
    );
    assert!(describe.contains("  v22 "), "{describe}");
}

#[test]
fn verify_counts_in_words() {
    let pond = TestPond::new();
    let one = pond.host("one.bin");
    write(&one, b"one body");
    pond.ok(&["copy", one.to_str().unwrap(), "/one.bin"]);
    let out = pond.ok(&["verify"]);
    assert!(out.starts_with("verified 1 file version ("), "{out}");
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            dir_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// `rm -r` of a large tree, then `maintain`: by default every version stays (the tree reads
/// as of before the rm); with `--keep-history` the pond shrinks back, versions before the
/// horizon are refused naming it, and what is kept reads and verifies as before.
#[test]
fn keep_history_reclaims_removed_files_and_superseded_versions() {
    let pond = TestPond::new();
    pond.ok(&["mkdir", "/big"]);
    for (name, seed) in [("a", 3u8), ("b", 5), ("c", 7)] {
        let host = pond.host(name);
        write(&host, &body(seed, 1_000_000));
        pond.ok(&["copy", host.to_str().unwrap(), &format!("/big/{name}")]);
    }
    let small = pond.host("small");
    for i in 0..5u8 {
        write(&small, &body(11 + i, 100_000));
        pond.ok(&["copy", small.to_str().unwrap(), "/small"]);
    }
    let before_rm = 9;
    pond.ok(&["rm", "-r", "/big"]);
    let content = pond.path().join("content");
    assert!(dir_bytes(&content) > 3_000_000);

    let out = pond.ok(&["maintain", "--grace", "0s"]);
    assert!(out.contains("removed 0 unreferenced bodies"), "{out}");
    let then = pond.run(&["cat", "/big/b", "--as-of", &before_rm.to_string()]);
    assert!(then.status.success());
    assert_eq!(then.stdout, body(5, 1_000_000));

    let out = pond.ok(&["maintain", "--grace", "0s", "--keep-history", "1"]);
    assert!(
        out.starts_with(
            "kept history from pond version 10: dropped 4 superseded file versions and 4 removed nodes"
        ),
        "{out}"
    );
    assert!(out.contains("removed 7 unreferenced bodies"), "{out}");
    assert!(dir_bytes(&content) < 200_000, "{}", dir_bytes(&content));
    let err = pond.fails(&["cat", "/big/b", "--as-of", &before_rm.to_string()]);
    assert!(
        err.contains("pond version 9 is before the retention horizon, pond version 10"),
        "{err}"
    );
    assert_eq!(pond.run(&["cat", "/small"]).stdout, body(15, 100_000));
    let err = pond.fails(&["cat", "/small@v1"]);
    assert!(err.contains("no version 1 (it is no longer kept"), "{err}");
    assert!(pond.ok(&["list", "-l", "/small"]).contains(" v5 "));
    assert!(pond.ok(&["verify"]).contains("all intact"));
    // What is left keeps working: another version, another retention run.
    pond.ok(&["copy", small.to_str().unwrap(), "/again"]);
    let out = pond.ok(&["maintain", "--grace", "0s", "--keep-history", "30d"]);
    assert!(
        out.starts_with("kept history from pond version 10:"),
        "{out}"
    );
    assert!(pond.ok(&["verify"]).contains("all intact"));
    let err = pond.fails(&["maintain", "--keep-history", "0"]);
    assert!(err.contains("keep at least 1 pond version"), "{err}");
}

/// The conversions in a pond's csvdir cache, by extension.
fn cached(pond: &TestPond, extension: &str) -> usize {
    let dir = pond.path().join("cache/csvdir");
    std::fs::read_dir(dir)
        .map(|listing| {
            listing
                .filter(|e| {
                    let name = e.as_ref().unwrap().file_name();
                    let name = name.to_string_lossy();
                    !name.starts_with('.') && name.ends_with(extension)
                })
                .count()
        })
        .unwrap_or(0)
}

/// `--keep-history` also sweeps the csvdir cache: conversions of a source since changed, of
/// a source removed, of a csvdir removed and of an interrupted conversion go; those the
/// latest version reads stay and are not converted again.
#[test]
fn keep_history_sweeps_cached_conversions_nothing_reads() {
    let pond = TestPond::new();
    pond.ok(&["mkdir", "/in"]);
    let csv = |name: &str, value: u32| {
        let host = pond.host(name);
        write(
            &host,
            format!("id,value\n1,{value}\n2,{}\n", value + 1).as_bytes(),
        );
        pond.ok(&["copy", host.to_str().unwrap(), &format!("/in/{name}")]);
    };
    for (name, value) in [("a.csv", 10), ("b.csv", 20), ("c.csv", 30)] {
        csv(name, value);
    }
    pond.ok(&[
        "mknod",
        "csvdir",
        "/tables",
        "--config",
        &pond.config("source: /in/*.csv\n"),
    ]);
    pond.ok(&[
        "mknod",
        "csvdir",
        "/others",
        "--config",
        &pond.config("source: /in/c.csv\n"),
    ]);
    let sum = |table: &str| pond.ok(&["cat", table, "--sql", "SELECT sum(value) AS s FROM source"]);
    for table in ["/tables/a", "/tables/b", "/tables/c", "/others/c"] {
        sum(table);
    }
    assert_eq!(cached(&pond, ".parquet"), 4);
    assert_eq!(cached(&pond, ".index"), 4);

    csv("a.csv", 100); // a new version of a: its old conversion is read by nothing now
    pond.ok(&["rm", "/in/b.csv"]);
    pond.ok(&["rm", "/others"]);
    assert!(sum("/tables/a").contains("201"));
    assert_eq!(cached(&pond, ".parquet"), 5);
    let leftover = pond.path().join("cache/csvdir/.0190a3b2c4d5e6f7.parquet");
    write(&leftover, b"half a conversion");

    // Without --keep-history nothing in the cache is touched.
    let out = pond.ok(&["maintain", "--grace", "0s"]);
    assert!(!out.contains("cached conversion"), "{out}");
    assert_eq!(cached(&pond, ".parquet"), 5);

    // A young entry is kept through the grace period.
    let out = pond.ok(&["maintain", "--keep-history", "1"]);
    assert!(out.contains("removed 0 cached conversions"), "{out}");
    assert_eq!(cached(&pond, ".parquet"), 5);

    let out = pond.ok(&["maintain", "--grace", "0s", "--keep-history", "1"]);
    assert!(
        out.contains(
            "removed 3 cached conversions that no csvdir reads now and 1 leftover of interrupted conversions"
        ),
        "{out}"
    );
    assert_eq!(cached(&pond, ".parquet"), 2);
    assert_eq!(cached(&pond, ".index"), 2);
    assert!(!leftover.exists());

    // What is left is read from the cache, with no conversion (which would rename a new
    // file into place).
    let entries = || {
        let mut out: Vec<(String, u64)> = std::fs::read_dir(pond.path().join("cache/csvdir"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let inode = std::os::unix::fs::MetadataExt::ino(&e.metadata().unwrap());
                (e.file_name().to_string_lossy().into_owned(), inode)
            })
            .collect();
        out.sort();
        out
    };
    let kept = entries();
    assert!(sum("/tables/c").contains("61"));
    assert!(sum("/tables/a").contains("201"));
    assert_eq!(entries(), kept);

    // A csvdir that cannot be listed keeps the whole cache, and maintain still finishes.
    let config = pond.config("source: /in/**/*.csv\n");
    pond.ok(&["mknod", "csvdir", "/broken", "--config", &config]);
    pond.ok(&["mkdir", "/in/d"]);
    let host = pond.host("again.csv");
    write(&host, b"id,value\n1,1\n");
    pond.ok(&["copy", host.to_str().unwrap(), "/in/d/a.csv"]);
    write(&leftover, b"half a conversion");
    let run = pond.run(&["maintain", "--grace", "0s", "--keep-history", "1"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.starts_with("warning: kept the csvdir cache: ") && stderr.contains("\"a\""),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("wrote a checkpoint"));
    assert!(leftover.exists());
}

/// `POND_LOG=debug` shows pond's commits and scan planning on stderr, not DataFusion's
/// chatter; a filter that does not parse is refused.
#[test]
fn pond_log_shows_commits_and_scans() {
    let pond = TestPond::new();
    let run = pond
        .command(&["mkdir", "/x"])
        .env("POND_LOG", "debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("tlogfs::persistence: committed"),
        "{stderr}"
    );
    assert!(stderr.contains("version=1"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colours into a pipe: {stderr}"
    );

    pond.copy_series("time,v\n2024-01-01T00:00:00Z,1\n", "/s.series");
    let run = pond
        .command(&["cat", "/s.series"])
        .env("POND_LOG", "debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("planning a scan"), "{stderr}");
    assert!(!stderr.contains("datafusion"), "{stderr}");

    let err = pond
        .command(&["list"])
        .env("POND_LOG", "tlogfs=loud")
        .output()
        .unwrap();
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).starts_with("error: POND_LOG=tlogfs=loud: "));
}

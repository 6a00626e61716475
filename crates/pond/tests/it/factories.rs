//! Dynamic nodes through the command line: host mounts stay live and read-only, csvdir
//! converts once and invalidates exactly, and a rejected configuration changes nothing.

use crate::support::{TestPond, write};

fn mount(pond: &TestPond, at: &str, host: &std::path::Path) {
    let config = pond.config(&format!("directory: {}\n", host.display()));
    pond.ok(&["mknod", "hostmount", at, "--config", &config]);
}

#[test]
fn hostmount_is_a_live_read_only_mirror() {
    let pond = TestPond::new();
    let host = pond.host("instruments");
    std::fs::create_dir_all(host.join("2024")).unwrap();
    write(&host.join("a.csv"), b"t,v\n1,2\n");
    write(&host.join("2024/b.csv"), b"t,v\n3,4\n");
    std::fs::write(pond.host("outside.txt"), b"secret").unwrap();
    std::os::unix::fs::symlink(pond.host("outside.txt"), host.join("escape.txt")).unwrap();
    std::os::unix::fs::symlink(pond.dir.path(), host.join("up")).unwrap();
    mount(&pond, "/mnt", &host);

    // Host symlinks are not shown, so nothing outside the directory can be reached.
    assert_eq!(pond.ok(&["list", "/mnt"]), "/mnt/2024\n/mnt/a.csv\n");
    assert!(
        pond.fails(&["cat", "/mnt/escape.txt"])
            .contains("/mnt/escape.txt: no such file")
    );
    assert!(
        pond.fails(&["cat", "/mnt/up/outside.txt"])
            .contains("no such file")
    );
    assert_eq!(pond.ok(&["cat", "/mnt/2024/b.csv"]), "t,v\n3,4\n");
    assert_eq!(pond.ok(&["cat", "/mnt/2024/../a.csv"]), "t,v\n1,2\n");

    // Live: a host change shows at once; node ids are stable across reads.
    let id = |path: &str| {
        pond.ok(&["describe", path])
            .lines()
            .find_map(|l| l.strip_prefix("node:").map(|v| v.trim().to_string()))
            .unwrap()
    };
    let before = id("/mnt/a.csv");
    write(&host.join("c.csv"), b"t,v\n5,6\n");
    assert_eq!(pond.ok(&["list", "/mnt/*.csv"]), "/mnt/a.csv\n/mnt/c.csv\n");
    assert_eq!(id("/mnt/a.csv"), before);

    // A host Parquet file reads as a table; a CSV says how to make it one.
    pond.ok(&[
        "copy",
        "--format",
        "table",
        host.join("a.csv").to_str().unwrap(),
        "/a.table",
    ]);
    pond.ok(&["export", "/a.table", host.join("2024").to_str().unwrap()]);
    let sql = [
        "cat",
        "--sql",
        "SELECT sum(v) AS s FROM source",
        "/mnt/2024/a.table.parquet",
    ];
    assert_eq!(pond.ok(&sql), "s\n2\n");
    let err = pond.fails(&["cat", "--sql", "SELECT 1", "/mnt/a.csv"]);
    assert!(
        err.contains("/mnt/a.csv: is a file:data, not a table") && err.contains("csvdir"),
        "{err}"
    );

    // Read-only: every change fails naming the path, and the host is untouched.
    let csv = pond.host("new.csv");
    write(&csv, b"x\n1\n");
    let err = pond.fails(&["copy", csv.to_str().unwrap(), "/mnt/new.csv"]);
    assert!(err.contains("/mnt/new.csv: read-only"), "{err}");
    assert!(
        pond.fails(&["mkdir", "/mnt/d"])
            .contains("/mnt/d: read-only")
    );
    assert!(
        pond.fails(&["rm", "/mnt/a.csv"])
            .contains("/mnt/a.csv: read-only")
    );
    assert!(host.join("a.csv").exists() && !host.join("new.csv").exists());

    // A missing host directory is an error on access, naming both paths.
    std::fs::rename(&host, pond.host("moved")).unwrap();
    let err = pond.fails(&["list", "/mnt"]);
    assert!(
        err.contains("/mnt: host path") && err.contains("instruments"),
        "{err}"
    );
    // The mount itself can still be described and removed.
    assert!(
        pond.ok(&["describe", "/mnt"])
            .contains("factory:   hostmount")
    );
    pond.ok(&["rm", "/mnt"]);
    assert_eq!(pond.ok(&["list", "/"]), "/a.table\n");
}

#[test]
fn csvdir_converts_once_and_invalidates_exactly() {
    let pond = TestPond::new();
    let csv = pond.host("a.csv");
    write(
        &csv,
        b"t,v\n2024-01-01T00:00:00Z,1\n2024-01-02T00:00:00Z,NA\n",
    );
    pond.ok(&["mkdir", "/in"]);
    pond.ok(&["copy", csv.to_str().unwrap(), "/in/a.csv"]);
    let config = pond.config("source: /in/*.csv\nentry_type: series\n");
    pond.ok(&["mknod", "csvdir", "/tables", "--config", &config]);
    let cache = pond.path().join("cache/csvdir");
    let cached = || -> Vec<_> {
        let mut names: Vec<_> = std::fs::read_dir(&cache)
            .map(|d| {
                d.map(|e| e.unwrap().file_name())
                    .filter(|n| n.to_string_lossy().ends_with(".parquet"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    assert!(cached().is_empty(), "nothing is converted before a read");

    let sum = [
        "cat",
        "--sql",
        "SELECT count(*) AS n, sum(v) AS s FROM source",
        "/tables/a",
    ];
    assert_eq!(pond.ok(&sum), "n,s\n2,1\n");
    let first = cached();
    assert_eq!(first.len(), 1);
    let modified = std::fs::metadata(cache.join(&first[0]))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(pond.ok(&sum), "n,s\n2,1\n");
    assert_eq!(cached(), first, "a second read converts nothing");
    let again = std::fs::metadata(cache.join(&first[0]))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(modified, again);

    // A new source version is a new key.
    write(
        &csv,
        b"t,v\n2024-01-01T00:00:00Z,1\n2024-01-02T00:00:00Z,2\n",
    );
    pond.ok(&["copy", csv.to_str().unwrap(), "/in/a.csv"]);
    assert_eq!(pond.ok(&sum), "n,s\n2,3\n");
    assert_eq!(cached().len(), 2);

    // A damaged entry is converted again.
    for name in cached() {
        std::fs::write(cache.join(name), b"").unwrap();
    }
    assert_eq!(pond.ok(&sum), "n,s\n2,3\n");

    // The cache is disposable, and the table is a series with time-range options.
    std::fs::remove_dir_all(pond.path().join("cache")).unwrap();
    let day = ["cat", "--time-start", "2024-01-02", "/tables/a"];
    assert_eq!(pond.ok(&day), "t,v\n2024-01-02T00:00:00Z,2\n");
    // Once converted, describe shows the rows and range its index keeps.
    let described = pond.ok(&["describe", "/tables/a"]);
    assert!(described.contains("rows:      2\n"), "{described}");
    assert!(
        described.contains("range:     2024-01-01T00:00:00Z to 2024-01-02T00:00:00Z\n"),
        "{described}"
    );
}

#[test]
fn a_rejected_configuration_changes_nothing() {
    let pond = TestPond::new();
    let log = || pond.ok(&["log"]);
    let before = log();
    let bad = pond.host("bad.yaml");
    write(&bad, b"source: /in/*.csv\ndelimiter: ';'\nheader: true\n");
    let err = pond.fails(&["mknod", "csvdir", "/t", "--config", bad.to_str().unwrap()]);
    assert!(
        err.contains("unknown field `header`") && err.contains("line 3"),
        "{err}"
    );
    let err = pond.fails(&["mknod", "nosuch", "/t", "--config", bad.to_str().unwrap()]);
    assert!(
        err.contains("csvdir, delta-table, dynamic-dir, hostmount"),
        "{err}"
    );
    write(&bad, b"patterns: {a: /a.table}\nquery: DELETE FROM a\n");
    let err = pond.fails(&[
        "mknod",
        "sql-derived-table",
        "/t",
        "--config",
        bad.to_str().unwrap(),
    ]);
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(log(), before);
    assert_eq!(pond.ok(&["list", "/"]), "");
    let valid = pond.config("source: /raw/*.csv\n");
    pond.ok(&["mknod", "csvdir", "/csv", "--config", &valid]);
}

#[test]
fn loops_and_overwrites_fail_cleanly() {
    let pond = TestPond::new();
    // A csvdir whose source reaches back into itself is an error, not an endless walk,
    // and it is found when the node is made: nothing is committed.
    let config = pond.host("self.yaml");
    write(&config, b"source: /csv/*\n");
    let err = pond.fails(&[
        "mknod",
        "csvdir",
        "/csv",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(
        err.contains("dynamic nodes form a cycle: csvdir of /csv/* -> csvdir of /csv/*"),
        "{err}"
    );
    assert_eq!(pond.ok(&["list", "/"]), "");
    let valid = pond.config("source: /raw/*.csv\n");
    pond.ok(&["mknod", "csvdir", "/csv", "--config", &valid]);
    // Two csvdirs that read each other: the second is refused, naming the cycle.
    let reads_b = pond.config("source: /b/*\n");
    pond.ok(&["mknod", "csvdir", "/a", "--config", &reads_b]);
    let reads_a = pond.config("source: /a/*\n");
    let err = pond.fails(&["mknod", "csvdir", "/b", "--config", &reads_a]);
    assert!(
        err.contains(
            "dynamic nodes form a cycle: csvdir of /a/* -> csvdir of /b/* -> csvdir of /a/*"
        ),
        "{err}"
    );
    assert_eq!(pond.ok(&["list", "/"]), "/a\n/csv\n");

    // --overwrite needs a node to overwrite, of the same factory.
    let err = pond.fails(&[
        "mknod",
        "--overwrite",
        "csvdir",
        "/other",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(err.contains("/other: no such node to overwrite"), "{err}");
    let mount = pond.host("mount.yaml");
    write(
        &mount,
        format!("directory: {}\n", pond.dir.path().display()).as_bytes(),
    );
    let err = pond.fails(&[
        "mknod",
        "--overwrite",
        "hostmount",
        "/csv",
        "--config",
        mount.to_str().unwrap(),
    ]);
    assert!(err.contains("/csv: is a csvdir node"), "{err}");

    // A relative glob has no working directory to start from.
    write(&config, b"source: in/*.csv\n");
    let err = pond.fails(&[
        "mknod",
        "csvdir",
        "/rel",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(err.contains("source: in/*.csv is relative"), "{err}");
}

#[test]
fn unbuildable_nested_and_piped_nodes() {
    let pond = TestPond::new();
    // A node whose factory this pond binary does not know (written by another program)
    // is listed with the reason, and can still be removed.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let stored = tlogfs::Pond::open(&pond.path()).await.unwrap();
        let tx = stored.fs().begin(tinyfs::TxnMeta::default()).await.unwrap();
        tx.root()
            .create_dynamic("/old", tinyfs::EntryType::FileTable, "retired", b"x: 1\n")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    });
    let listed = pond.ok(&["list", "-l", "/"]);
    assert!(
        listed.contains("/old (retired: ") && listed.contains("no factory \"retired\""),
        "{listed}"
    );
    let err = pond.fails(&["cat", "/old"]);
    assert!(
        err.contains("/old: invalid configuration: no factory \"retired\""),
        "{err}"
    );
    pond.ok(&["rm", "/old"]);

    // A configuration can come from standard input; a host mount inside a dynamic-dir is
    // not entered by `**`, and is when named.
    let host = pond.host("h");
    std::fs::create_dir_all(&host).unwrap();
    write(&host.join("a.csv"), b"id,note\n1,NA\n2,x\n");
    let yaml = format!(
        "entries:\n  - name: m\n    factory: hostmount\n    config: {{directory: {}}}\n",
        host.display()
    );
    pond.ok_with_input(
        &["mknod", "dynamic-dir", "/views", "--config", "-"],
        yaml.as_bytes(),
    );
    assert_eq!(pond.ok(&["list", "/**"]), "/views\n");
    assert_eq!(pond.ok(&["list", "/views/**"]), "/views/m\n");
    assert_eq!(pond.ok(&["list", "/views/m/**"]), "/views/m/a.csv\n");

    // `null_values: []` keeps NA as text; the default reads it as null.
    for (name, extra) in [("plain", ""), ("literal", "null_values: []\n")] {
        let config = pond.config(&format!("source: /views/m/*.csv\n{extra}"));
        pond.ok(&["mknod", "csvdir", &format!("/{name}"), "--config", &config]);
    }
    let nulls = |dir: &str| {
        pond.ok(&[
            "cat",
            "--sql",
            "SELECT count(note) AS n FROM source",
            &format!("/{dir}/a"),
        ])
    };
    assert_eq!(nulls("plain"), "n\n1\n");
    assert_eq!(nulls("literal"), "n\n2\n");

    // A host Parquet file prints as rows when a table format is asked for.
    pond.ok(&[
        "copy",
        "--format",
        "table",
        host.join("a.csv").to_str().unwrap(),
        "/a.table",
    ]);
    pond.ok(&["export", "/a.table", host.to_str().unwrap()]);
    assert_eq!(
        pond.ok(&["cat", "--format", "csv", "/views/m/a.table.parquet"]),
        "id,note\n1,\n2,x\n"
    );
}

/// Listing the pond's tables opens none: a derived node whose input is gone is listed as
/// a view, and only reading it fails.
#[test]
fn tables_are_listed_without_being_opened() {
    let pond = TestPond::new();
    pond.copy_series("timestamp,v\n2024-01-01T00:00:00Z,1\n", "/w.series");
    let config = pond.config("patterns: {r: /w*.series}\nquery: SELECT * FROM r\n");
    pond.ok(&[
        "mknod",
        "sql-derived-series",
        "/d.series",
        "--config",
        &config,
    ]);
    pond.ok(&["rm", "/w.series"]);
    assert_eq!(
        pond.ok(&["query", "--tables"]),
        "path,kind\n/d.series,VIEW\n"
    );
    let shown = pond.ok(&["query", "SHOW TABLES"]);
    assert!(shown.contains("pond,public,/d.series,VIEW"), "{shown}");
    let err = pond.fails(&["cat", "/d.series"]);
    assert!(err.contains("matches no file"), "{err}");
}

//! Backups and replicas from the command line: a pond pushed to a directory on another
//! disk, read there as a pond, cloned, pulled, and checked.

use crate::support::TestPond;

#[test]
fn a_pond_pushed_to_a_backup_is_a_pond_and_comes_back_by_clone_and_pull() {
    let pond = TestPond::new();
    pond.copy_testdata_series("weather_head.csv", "/weather.series");
    let backup = pond.host("backup");
    let backup_arg = backup.to_string_lossy().to_string();
    let out = pond.ok(&["remote", "add", "backup", &backup_arg]);
    assert_eq!(out, format!("added remote backup: {backup_arg}\n"));
    assert_eq!(
        pond.ok(&["remote", "list"]),
        format!("backup\t{backup_arg}\n")
    );

    let out = pond.ok(&["push"]);
    assert!(
        out.starts_with("pushed pond versions 0-1 to backup (2 commits"),
        "{out}"
    );
    assert_eq!(
        pond.ok(&["push", "backup"]),
        "backup is up to date (pond version 1)\n"
    );
    let out = pond.ok(&["verify", "--remote", "backup"]);
    assert!(
        out.starts_with("backup holds this pond: every commit to pond version 1"),
        "{out}"
    );

    // The backup is a pond: read it directly.
    let rows = |dir: &str| {
        pond.ok(&[
            "--pond",
            dir,
            "query",
            "SELECT count(*) AS n, max(temp) AS t FROM \"/weather.series\"",
        ])
    };
    assert_eq!(rows(&backup_arg), rows(&pond.path().to_string_lossy()));

    // A clone of it has every version, and `origin` to pull from.
    let station = pond.host("station");
    let station_arg = station.to_string_lossy().to_string();
    let out = pond.ok(&["clone", &backup_arg, &station_arg]);
    assert!(out.contains("at pond version 1"), "{out}");
    assert_eq!(rows(&station_arg), rows(&backup_arg));
    assert!(
        pond.fails(&["clone", &backup_arg, &station_arg])
            .contains("not empty")
    );

    // New readings here, pushed; the clone pulls them.
    pond.copy_testdata_series("weather_next.csv", "/weather.series");
    let out = pond.ok(&["push"]);
    assert!(
        out.starts_with("pushed pond version 2 to backup (1 commit"),
        "{out}"
    );
    let out = pond.ok(&["--pond", &station_arg, "pull"]);
    assert!(
        out.starts_with("pulled pond version 2 from origin"),
        "{out}"
    );
    assert_eq!(rows(&station_arg), rows(&pond.path().to_string_lossy()));
    let at_v1 = pond.ok(&[
        "--pond",
        &station_arg,
        "cat",
        "--format",
        "csv",
        "/weather.series@v1",
    ]);
    assert_eq!(at_v1.lines().count(), 201);

    // Both change on their own: the next push is refused, naming where they parted.
    pond.ok(&["mkdir", "/here"]);
    pond.ok(&["--pond", &station_arg, "mkdir", "/there"]);
    pond.ok(&["--pond", &station_arg, "push"]);
    let err = pond.fails(&["push"]);
    assert!(
        err.contains("the histories differ from pond version 3"),
        "{err}"
    );
    let out = pond.run(&["verify", "--remote", "backup"]);
    assert!(!out.status.success());

    let err = pond.fails(&["remote", "add", "s3", "s3://bucket/pond"]);
    assert!(err.contains("s3://"), "{err}");
    assert!(
        pond.fails(&["push", "nope"])
            .contains("no remote named \"nope\"")
    );
}

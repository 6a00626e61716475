//! `pond sync` as a daily job meets it: a logger's file growing batch by batch, a line
//! caught half written, a file rewritten, and a pond that must end up holding what the
//! host holds.

use crate::support::{Rng, TestPond, write};

fn testdata(name: &str) -> String {
    let path = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).expect("testdata")
}

/// The pond version the log shows last.
fn head(pond: &TestPond) -> String {
    pond.ok(&["log", "-n", "1", "--format", "csv"])
        .lines()
        .nth(1)
        .expect("a commit")
        .split(',')
        .next()
        .expect("a version")
        .to_string()
}

/// `pond sync --format series logger /raw`.
const SYNC: [&str; 5] = ["sync", "--format", "series", "logger", "/raw"];

#[test]
fn a_series_synced_batch_by_batch_equals_one_import_of_the_whole_file() {
    // The buoy's 19,226 half-hourly readings, arriving in 30 batches of random size, so
    // the series compacts along the way (each compaction must keep what was synced).
    let text = testdata("sea_surface_temperature.csv");
    let lines: Vec<&str> = text.lines().collect();
    let pond = TestPond::new();
    std::fs::create_dir(pond.host("logger")).unwrap();
    let host = pond.host("logger/buoy.csv");
    let mut rng = Rng::new();
    let mut cuts: Vec<usize> = (0..29)
        .map(|_| 1 + rng.below(lines.len() as u64 - 1) as usize)
        .collect();
    cuts.push(lines.len());
    cuts.sort();
    let mut appended = 0;
    for (i, cut) in cuts.iter().enumerate() {
        write(&host, format!("{}\n", lines[..*cut].join("\n")).as_bytes());
        let out = pond.ok(&[&["-q"], &SYNC[..]].concat());
        assert!(out.is_empty(), "-q prints nothing: {out}");
        if i > 0 && cuts[i - 1] < *cut {
            appended += 1;
        }
    }
    assert!(appended > 20, "{appended} appends");
    // Nothing more to do, and no commit for it.
    let before = head(&pond);
    let out = pond.ok(&SYNC);
    assert_eq!(out, "synced logger to /raw: 1 unchanged\n");
    assert_eq!(head(&pond), before);

    pond.copy_testdata_series("sea_surface_temperature.csv", "/whole.series");
    let all = |path: &str| {
        pond.ok(&[
            "query",
            &format!("SELECT * FROM \"{path}\" ORDER BY \"time (UTC)\""),
        ])
    };
    let synced = all("/raw/buoy.csv");
    assert_eq!(synced.lines().count(), 19_227);
    assert_eq!(synced, all("/whole.series"));
    let json = pond.ok(&["describe", "--format", "json", "/raw/buoy.csv"]);
    assert!(
        json.contains("\"compacts\":\""),
        "compacted along the way: {json}"
    );
    let described = pond.ok(&["describe", "/raw/buoy.csv"]);
    assert!(
        described.contains(&format!("({} bytes, blake3 ", text.len())),
        "{described}"
    );
}

#[test]
fn a_line_caught_half_written_is_synced_once_it_is_whole() {
    let pond = TestPond::new();
    std::fs::create_dir(pond.host("logger")).unwrap();
    let host = pond.host("logger/level.csv");
    let sync = || pond.run(&SYNC);
    write(&host, b"time,level\n2024-05-01T00:00:00Z,1.5\n");
    assert!(sync().status.success());

    // The logger is writing its next line: too few fields, so nothing is appended.
    write(
        &host,
        b"time,level\n2024-05-01T00:00:00Z,1.5\n2024-05-01T01:00:00Z",
    );
    let out = sync();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("level.csv (the lines appended since the last sync)"),
        "{err}"
    );
    let rows = || pond.ok(&["query", "SELECT count(*) AS n FROM \"/raw/level.csv\""]);
    assert_eq!(rows(), "n\n1\n");

    // A half line that parses (a value cut short) is taken as it is; when the line is
    // finished, the series is replaced by the whole file, so no cut value survives.
    write(
        &host,
        b"time,level\n2024-05-01T00:00:00Z,1.5\n2024-05-01T01:00:00Z,1.",
    );
    assert!(sync().status.success());
    write(
        &host,
        b"time,level\n2024-05-01T00:00:00Z,1.5\n2024-05-01T01:00:00Z,1.75\n",
    );
    let out = pond.ok(&SYNC);
    assert!(out.contains("replaced the rows of /raw/level.csv"), "{out}");
    let values = pond.ok(&[
        "query",
        "SELECT level FROM \"/raw/level.csv\" ORDER BY time",
    ]);
    assert_eq!(values, "level\n1.5\n1.75\n");
}

#[test]
fn bad_files_are_reported_and_the_good_ones_synced() {
    let pond = TestPond::new();
    std::fs::create_dir(pond.host("logger")).unwrap();
    write(
        &pond.host("logger/a.csv"),
        b"time,v\n2024-01-01T00:00:00Z,1\n",
    );
    write(&pond.host("logger/b.csv"), b"time,v\nnot a time,1\n");
    let out = pond.run(&SYNC);
    assert!(!out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.contains("added /raw/a.csv (v1, 1 row)"), "{stdout}");
    assert!(stdout.contains("1 added, 1 failed"), "{stdout}");
    assert!(
        stderr.contains("error: sync: ") && stderr.contains("b.csv"),
        "{stderr}"
    );
    assert_eq!(pond.ok(&["list", "/raw"]), "/raw/a.csv\n");
    // Fixed, it syncs; a is left alone.
    write(
        &pond.host("logger/b.csv"),
        b"time,v\n2024-01-01T00:00:00Z,2\n",
    );
    let out = pond.ok(&SYNC);
    assert!(out.contains("1 added, 1 unchanged"), "{out}");
}

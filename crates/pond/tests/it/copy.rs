//! copy: whole host directories, standard input, and big files streamed to content/.

use crate::support::{TestPond, write};

#[test]
fn copy_r_brings_a_host_tree_and_skips_host_symlinks() {
    let pond = TestPond::new();
    let src = pond.host("site");
    std::fs::create_dir_all(src.join("2024/jan")).unwrap();
    write(&src.join("notes.txt"), b"notes");
    write(&src.join("2024/jan/a.csv"), b"t,v\n1,2\n");
    std::os::unix::fs::symlink("/etc/passwd", src.join("2024/link")).unwrap();
    let err = pond.fails(&["copy", src.to_str().unwrap(), "/site"]);
    assert!(err.contains("is a directory (use -r"), "{err}");

    let out = pond.run(&["copy", "-r", src.to_str().unwrap(), "/"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("skipped"),
        "host symlinks are skipped, and said so"
    );
    assert_eq!(
        pond.ok(&["list", "/site/**"]),
        "/site/2024\n/site/2024/jan\n/site/2024/jan/a.csv\n/site/notes.txt\n"
    );
    assert_eq!(pond.ok(&["cat", "/site/2024/jan/a.csv"]), "t,v\n1,2\n");
}

#[test]
fn standard_input_becomes_a_file_or_a_table_or_a_query() {
    let pond = TestPond::new();
    pond.ok_with_input(
        &["copy", "--format", "table", "-", "/in.table"],
        b"site,level\nA,1.5\nB,NA\n",
    );
    assert_eq!(
        pond.ok(&["cat", "--format", "csv", "/in.table"]),
        "site,level\nA,1.5\nB,\n"
    );
    let err = pond.fails(&["copy", "-", "/"]);
    assert!(err.contains("standard input has no name"), "{err}");

    // A query from standard input, as `query -` or `query -f -`.
    let sql = b"SELECT site FROM \"/in.table\" WHERE level IS NULL";
    for args in [&["query", "-"][..], &["query", "-f", "-"]] {
        assert_eq!(pond.ok_with_input(args, sql), "site\nB\n");
    }
}

#[test]
fn a_big_body_streams_to_content_and_reads_back_whole() {
    let pond = TestPond::new();
    let body: Vec<u8> = (0..20_000_000u32).map(|i| (i % 241) as u8).collect();
    let host = pond.host("big.bin");
    write(&host, &body);
    pond.ok(&["copy", host.to_str().unwrap(), "/big.bin"]);
    assert_eq!(pond.run(&["cat", "/big.bin"]).stdout, body);
    let hash = blake3::hash(&body).to_hex().to_string();
    let stored = pond.path().join("content").join(&hash[..2]).join(&hash);
    assert_eq!(std::fs::metadata(stored).unwrap().len(), body.len() as u64);
    let described = pond.ok(&["describe", "/big.bin"]);
    assert!(
        described.contains(&format!("blake3:    {hash}")),
        "{described}"
    );
}

#[test]
fn dates_and_times_without_an_offset_are_local_to_tz() {
    let pond = TestPond::new();
    pond.copy_testdata_series("weather_head.csv", "/w.series");
    let first_hour = |tz: &str, start: &str| {
        let out = pond
            .command(&[
                "cat",
                "--sql",
                "SELECT min(time_hour) AS t FROM source",
                "--time-start",
                start,
                "/w.series",
            ])
            .env("TZ", tz)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        first_hour("UTC", "2013-01-01T07:00"),
        "t\n2013-01-01T07:00:00Z\n"
    );
    // New York is five hours behind UTC in January.
    assert_eq!(
        first_hour("America/New_York", "2013-01-01T07:00"),
        "t\n2013-01-01T12:00:00Z\n"
    );
    assert_eq!(
        first_hour("America/New_York", "2013-01-02"),
        "t\n2013-01-02T05:00:00Z\n"
    );
    // An offset says which zone itself.
    assert_eq!(
        first_hour("America/New_York", "2013-01-01T07:00:00Z"),
        "t\n2013-01-01T07:00:00Z\n"
    );
}

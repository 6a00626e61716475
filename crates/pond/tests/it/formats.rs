//! More kinds of file as tables: CSV compressed with gzip, zstd or bzip2 reads as its
//! text, through `copy` and csvdir alike; a truncated or damaged one is refused, naming
//! the file, and changes nothing.

use std::io::Write;

use crate::support::{TestPond, write};

/// `text` compressed as `kind` (`gz`, `zst` or `bz2`).
fn compress(kind: &str, text: &[u8]) -> Vec<u8> {
    match kind {
        "gz" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(text).unwrap();
            e.finish().unwrap()
        }
        "zst" => zstd::encode_all(text, 3).unwrap(),
        "bz2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
            e.write_all(text).unwrap();
            e.finish().unwrap()
        }
        other => panic!("{other}"),
    }
}

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Every row of `path`, as CSV, in time order.
fn rows(pond: &TestPond, path: &str) -> String {
    pond.ok(&[
        "query",
        "--format",
        "csv",
        &format!("SELECT * FROM \"{path}\" ORDER BY 1"),
    ])
}

#[test]
fn compressed_csv_imports_as_its_text() {
    let pond = TestPond::new();
    let text = testdata("sea_surface_temperature.csv");
    write(&pond.host("sst.csv"), &text);
    pond.ok(&["copy", "--format", "series", "sst.csv", "/plain.series"]);
    let plain = rows(&pond, "/plain.series");
    assert_eq!(plain.lines().count(), 19_227, "a header and every reading");
    for kind in ["gz", "zst", "bz2"] {
        let name = format!("sst.csv.{kind}");
        let bytes = compress(kind, &text);
        assert!(bytes.len() < text.len() / 2, "{kind} compresses");
        write(&pond.host(&name), &bytes);
        let dest = format!("/sst_{kind}.series");
        pond.ok(&["copy", "--format", "series", &name, &dest]);
        assert_eq!(rows(&pond, &dest), plain, "{kind}");
        // The name does not decide: the first bytes do.
        let hidden = format!("sst_{kind}.dat");
        write(&pond.host(&hidden), &bytes);
        let table = format!("/sst_{kind}.table");
        pond.ok(&["copy", "--format", "table", &hidden, &table]);
        assert_eq!(rows(&pond, &table), plain, "{kind} as a table");
    }
    // Several gzip members (as `cat a.gz b.gz` makes) read as one text.
    let lines: Vec<&str> = std::str::from_utf8(&text).unwrap().lines().collect();
    let (head, tail) = lines.split_at(10_000);
    let mut two = compress("gz", format!("{}\n", head.join("\n")).as_bytes());
    two.extend(compress("gz", format!("{}\n", tail.join("\n")).as_bytes()));
    write(&pond.host("two.csv.gz"), &two);
    pond.ok(&["copy", "--format", "series", "two.csv.gz", "/two.series"]);
    assert_eq!(rows(&pond, "/two.series"), plain);
}

#[test]
fn a_csvdir_reads_compressed_files() {
    let pond = TestPond::new();
    let text = testdata("lincoln_weather_quoted.csv");
    pond.ok(&["mkdir", "/in"]);
    for kind in ["gz", "zst", "bz2"] {
        let name = format!("lincoln_{kind}.csv.{kind}");
        write(&pond.host(&name), &compress(kind, &text));
        pond.ok(&["copy", &name, &format!("/in/{name}")]);
    }
    let config = pond.config("source: /in/*.csv.*\n");
    pond.ok(&["mknod", "csvdir", "/tables", "--config", &config]);
    assert_eq!(
        pond.ok(&["list", "/tables"]),
        "/tables/lincoln_bz2\n/tables/lincoln_gz\n/tables/lincoln_zst\n"
    );
    for kind in ["gz", "zst", "bz2"] {
        let count = pond.ok(&[
            "query",
            "--format",
            "csv",
            &format!("SELECT count(*) AS n FROM \"/tables/lincoln_{kind}\""),
        ]);
        assert_eq!(count, "n\n366\n", "{kind}");
    }
}

#[test]
fn a_truncated_or_damaged_compressed_csv_is_refused_and_changes_nothing() {
    let pond = TestPond::new();
    let text = testdata("sea_surface_temperature.csv");
    let before = pond.ok(&["log", "--format", "csv"]);
    for (kind, name) in [("gz", "gzip"), ("zst", "zstd"), ("bz2", "bzip2")] {
        let bytes = compress(kind, &text);
        let file = format!("cut.csv.{kind}");
        write(&pond.host(&file), &bytes[..bytes.len() / 2]);
        let err = pond.fails(&["copy", "--format", "series", &file, "/cut.series"]);
        assert!(
            err.contains(&format!(
                "{file}: its {name} stream ends early: the file is truncated"
            )),
            "{kind}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    // A gzip header over bytes that are not a deflate stream.
    let mut damaged = compress("gz", &text);
    for b in &mut damaged[20..200] {
        *b ^= 0x5a;
    }
    write(&pond.host("bad.csv.gz"), &damaged);
    let err = pond.fails(&["copy", "--format", "series", "bad.csv.gz", "/bad.series"]);
    assert!(
        err.contains("bad.csv.gz: its gzip stream is damaged"),
        "{err}"
    );
    assert_eq!(
        pond.ok(&["log", "--format", "csv"]),
        before,
        "nothing changed"
    );
}

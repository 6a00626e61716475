//! What a terminal shows: pond run in a pseudo-terminal of a given width (util-linux
//! `script`), as a person at a narrow terminal would see it.

use crate::support::TestPond;

/// What `pond ARGS` prints in a terminal `cols` wide.
fn at_terminal(pond: &TestPond, cols: u16, args: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_pond");
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("stty cols {cols} rows 50; {bin} {args}"),
            "/dev/null",
        ])
        .env("POND", pond.path())
        .current_dir(pond.dir.path())
        .output()
        .expect("run script (util-linux)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().replace("\r\n", "\n")
}

#[test]
fn a_terminal_gets_a_table_that_fits() {
    let pond = TestPond::new();
    pond.copy_testdata_series("weather_head.csv", "/weather.series");

    // 15 columns do not fit 80: the middle ones give way to one `…` column, and the
    // first 40 of 200 rows show.
    let out = at_terminal(&pond, 80, "cat /weather.series");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.iter().all(|l| l.chars().count() <= 80), "{out}");
    assert!(lines[1].starts_with("| origin | year |"), "{out}");
    assert!(
        lines[1].contains(" … ") && lines[1].ends_with("| time_hour            |"),
        "{out}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("| EWR")).count(),
        40,
        "{out}"
    );
    assert!(
        out.ends_with("200 rows (40 shown), 15 columns (7 shown)\n"),
        "{out}"
    );
    // A NULL is NULL, not blank.
    let out = at_terminal(
        &pond,
        200,
        "cat --max-rows 1 --sql 'SELECT wind_gust FROM source' /weather.series",
    );
    assert!(out.contains("| NULL      |"), "{out}");
    // Parquet is not written to a terminal.
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!(
                "{} cat --format parquet /weather.series",
                env!("CARGO_BIN_EXE_pond")
            ),
            "/dev/null",
        ])
        .env("POND", pond.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Parquet is binary"), "{text}");
    assert!(!text.contains("PAR1"), "{text}");
}

#[test]
fn a_long_import_shows_its_progress_at_a_terminal_only() {
    let pond = TestPond::new();
    // About 20 MB: past the size that gets a bar.
    let mut csv = String::from("timestamp,v\n");
    for i in 0..600_000u64 {
        csv.push_str(&format!(
            "2024-01-{:02}T{:02}:{:02}:{:02}Z,{i}.25\n",
            1 + i / 86_400 % 28,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60
        ));
    }
    std::fs::write(pond.host("big.csv"), csv).unwrap();
    let out = at_terminal(&pond, 120, "copy --format series big.csv /big.series");
    assert!(out.contains("% ") && out.contains("/600,000 rows"), "{out}");
    let out = at_terminal(&pond, 120, "-q copy --format series big.csv /quiet.series");
    assert!(!out.contains("rows"), "{out}");

    // Export, the first read of a csvdir entry, and verify, each with its bar.
    let out = at_terminal(&pond, 120, "export --format csv /big.series out");
    assert!(
        out.contains("exporting /big.series") && out.contains("/600,000 rows"),
        "{out}"
    );
    pond.ok(&["mkdir", "/raw"]);
    pond.ok(&["copy", "big.csv", "/raw/big.csv"]);
    let config = pond.config("source: /raw/*.csv\n");
    pond.ok(&["mknod", "csvdir", "/csv", "--config", &config]);
    let out = at_terminal(&pond, 120, "query 'SELECT count(*) FROM \"/csv/big\"'");
    assert!(
        out.contains("converting /raw/big.csv") && out.contains("/600,000 rows"),
        "{out}"
    );
    let out = at_terminal(&pond, 120, "verify");
    assert!(
        out.contains("verifying bodies") && out.contains("MiB/"),
        "{out}"
    );
    // In a pipe, none of it.
    let out = pond.ok(&["export", "--format", "csv", "/big.series", "piped"]);
    assert!(
        !out.contains("exporting /big.series ") && !out.contains('%'),
        "{out}"
    );
}

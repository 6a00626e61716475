//! More kinds of file as tables, each checked against the same data read from CSV: CSV
//! compressed with gzip, zstd or bzip2; JSON lines (nested objects flattened or kept as
//! structs); a workbook's sheet below a title; a Delta table written by Python's
//! `deltalake`, read in place. Truncated and malformed inputs are refused, naming the
//! file and the line or cell, and change nothing.

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

/// `weather_head.csv` as a logger would export it as JSON lines: the wind nested, `NA`
/// values left out, numbers written as the CSV writes them, a blank line in the middle.
fn weather_jsonl() -> String {
    let text = String::from_utf8(testdata("weather_head.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut out = String::new();
    for (n, line) in lines.enumerate() {
        let (mut fields, mut wind) = (Vec::new(), Vec::new());
        for (name, value) in header.iter().zip(line.split(',')) {
            if value == "NA" {
                continue;
            }
            let value = match *name {
                "origin" | "time_hour" => format!("{value:?}"),
                _ => value.to_string(),
            };
            match name.strip_prefix("wind_") {
                Some(key) => wind.push(format!("\"{key}\": {value}")),
                None => fields.push(format!("\"{name}\": {value}")),
            }
        }
        fields.push(format!("\"wind\": {{{}}}", wind.join(", ")));
        out.push_str(&format!("{{{}}}\n", fields.join(", ")));
        if n == 100 {
            out.push('\n');
        }
    }
    out
}

/// The weather columns in CSV's order, from a table whose wind columns are `wind`'s.
fn weather_as_csv(table: &str, wind: &str) -> String {
    format!(
        "SELECT origin, year, month, day, hour, temp, dewp, humid, {wind}, precip, pressure, visib, time_hour FROM \"{table}\" ORDER BY time_hour, origin"
    )
}

const CSV_WIND: &str = "wind_dir, wind_speed, wind_gust";

/// The wind columns to 10 decimals: a workbook holds 15 significant digits
/// (`10.357019999999999` in the CSV is `10.35702` in the workbook made from it, as in Excel).
const ROUNDED_WIND: &str =
    "wind_dir, round(wind_speed, 10) AS wind_speed, round(wind_gust, 10) AS wind_gust";

/// `weather_head.csv` imported as `/csv.series`: its rows as [`weather_as_csv`] reads
/// them, the wind columns as `wind` says.
fn weather_from_csv(pond: &TestPond, wind: &str) -> String {
    write(&pond.host("weather.csv"), &testdata("weather_head.csv"));
    pond.ok(&["copy", "--format", "series", "weather.csv", "/csv.series"]);
    let rows = pond.ok(&[
        "query",
        "--format",
        "csv",
        &weather_as_csv("/csv.series", wind),
    ]);
    assert_eq!(rows.lines().count(), 201, "a header and 200 readings");
    rows
}

#[test]
fn json_lines_read_as_the_same_rows_as_csv() {
    let pond = TestPond::new();
    let expected = weather_from_csv(&pond, CSV_WIND);

    let jsonl = weather_jsonl();
    write(&pond.host("logger.jsonl"), jsonl.as_bytes());
    pond.ok(&["copy", "--format", "series", "logger.jsonl", "/json.series"]);
    let flat = "\"wind.dir\" AS wind_dir, \"wind.speed\" AS wind_speed, \"wind.gust\" AS wind_gust";
    let query = weather_as_csv("/json.series", flat);
    assert_eq!(pond.ok(&["query", "--format", "csv", &query]), expected);
    let described = pond.ok(&["describe", "/json.series"]);
    assert!(described.contains("timestamp: time_hour"), "{described}");
    assert!(described.contains("  wind.speed: Float64"), "{described}");

    // Nested objects kept as structs; compressed, with a name that says nothing.
    write(&pond.host("logger.dat"), &compress("zst", jsonl.as_bytes()));
    pond.ok(&[
        "copy",
        "--format",
        "series",
        "--input-format",
        "jsonl",
        "--nested",
        "struct",
        "logger.dat",
        "/struct.series",
    ]);
    let nested = "wind['dir'] AS wind_dir, wind['speed'] AS wind_speed, wind['gust'] AS wind_gust";
    let query = weather_as_csv("/struct.series", nested);
    assert_eq!(pond.ok(&["query", "--format", "csv", &query]), expected);

    // A csvdir reads JSON lines as a series too, by their extension.
    pond.ok(&["mkdir", "/in"]);
    pond.ok(&["copy", "logger.jsonl", "/in/logger.jsonl"]);
    let config = pond.config("source: /in/*.jsonl\nentry_type: series\n");
    pond.ok(&["mknod", "csvdir", "/logs", "--config", &config]);
    assert_eq!(pond.ok(&["list", "/logs"]), "/logs/logger\n");
    let query = weather_as_csv("/logs/logger", flat);
    assert_eq!(pond.ok(&["query", "--format", "csv", &query]), expected);

    // DuckDB's own JSON reader agrees on the file's values.
    let host = pond.host("logger.jsonl");
    let duck = crate::interop::duckdb(&format!(
        "SELECT count(*), round(sum(temp), 6), count(wind.gust) FROM read_json('{}')",
        host.display()
    ));
    let ours = pond.ok(&[
        "query", "--format", "csv",
        "SELECT count(*) AS n, round(sum(temp), 6) AS t, count(\"wind.gust\") AS g FROM \"/json.series\"",
    ]);
    let ours = ours.lines().nth(1).unwrap().replace(',', "|");
    assert_eq!(duck.trim(), ours);
}

#[test]
fn a_malformed_json_line_is_named_and_changes_nothing() {
    let pond = TestPond::new();
    let before = pond.ok(&["log", "--format", "csv"]);
    let good = weather_jsonl();
    let mut lines: Vec<&str> = good.lines().collect();
    let broken = lines[56].replacen('}', ",}", 1);
    lines[56] = &broken;
    write(&pond.host("bad.jsonl"), lines.join("\n").as_bytes());
    let err = pond.fails(&["copy", "--format", "series", "bad.jsonl", "/bad.series"]);
    assert!(err.contains("bad.jsonl: line 57, column "), "{err}");
    assert!(err.contains("not JSON"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    write(&pond.host("array.jsonl"), b"{\"a\": 1}\n[1, 2]\n");
    let err = pond.fails(&["copy", "--format", "table", "array.jsonl", "/a.table"]);
    assert!(
        err.contains("array.jsonl: line 2: an array, not a JSON object"),
        "{err}"
    );
    // An option of another format is refused, not ignored.
    write(&pond.host("ok.jsonl"), b"{\"a\": 1}\n");
    let err = pond.fails(&[
        "copy",
        "--format",
        "table",
        "--delimiter",
        ";",
        "ok.jsonl",
        "/ok.table",
    ]);
    assert!(
        err.contains("ok.jsonl: delimiter is not an option of JSON lines"),
        "{err}"
    );
    let gz = compress("gz", good.as_bytes());
    write(&pond.host("cut.jsonl.gz"), &gz[..gz.len() / 2]);
    let err = pond.fails(&["copy", "--format", "series", "cut.jsonl.gz", "/cut.series"]);
    assert!(err.contains("its gzip stream ends early"), "{err}");
    assert_eq!(
        pond.ok(&["log", "--format", "csv"]),
        before,
        "nothing changed"
    );
}

#[test]
fn a_workbook_sheet_below_a_title_reads_as_the_csv_it_was_made_from() {
    let pond = TestPond::new();
    let expected = weather_from_csv(&pond, ROUNDED_WIND);

    // testdata/make_workbook.py: notes on the first sheet; on "Readings" a title in row 1,
    // the header in row 3, NA as empty cells, times as date cells.
    write(&pond.host("weather.xlsx"), &testdata("weather_head.xlsx"));
    pond.ok(&[
        "copy",
        "--format",
        "series",
        "--sheet",
        "Readings",
        "--header-row",
        "3",
        "weather.xlsx",
        "/xlsx.series",
    ]);
    let query = weather_as_csv("/xlsx.series", ROUNDED_WIND);
    assert_eq!(pond.ok(&["query", "--format", "csv", &query]), expected);
    let schema = |path: &str| {
        let described = pond.ok(&["describe", path]);
        described.split("schema:").nth(1).unwrap().to_string()
    };
    assert_eq!(
        schema("/xlsx.series"),
        schema("/csv.series"),
        "the same types"
    );

    // The first sheet by default; a sheet that is not there is named with those that are.
    pond.ok(&["copy", "--format", "table", "weather.xlsx", "/about.table"]);
    assert_eq!(
        pond.ok(&[
            "query",
            "--format",
            "csv",
            "SELECT count(*) AS n FROM \"/about.table\""
        ]),
        "n\n1\n",
        "a header row and one row of notes"
    );
    let before = pond.ok(&["log", "--format", "csv"]);
    let err = pond.fails(&[
        "copy",
        "--format",
        "table",
        "--sheet",
        "Data",
        "weather.xlsx",
        "/x.table",
    ]);
    assert!(
        err.contains("weather.xlsx: no sheet \"Data\" (sheets: About, Readings)"),
        "{err}"
    );

    // A csvdir of workbooks; a given schema a cell does not fit names the cell.
    pond.ok(&["mkdir", "/in"]);
    pond.ok(&["copy", "weather.xlsx", "/in/weather.xlsx"]);
    let config =
        pond.config("source: /in/*.xlsx\nsheet: Readings\nheader_row: 3\nentry_type: series\n");
    pond.ok(&["mknod", "csvdir", "/books", "--config", &config]);
    let query = weather_as_csv("/books/weather", ROUNDED_WIND);
    assert_eq!(pond.ok(&["query", "--format", "csv", &query]), expected);
    let mut columns: Vec<String> = ["origin"]
        .iter()
        .map(|c| format!("  - {{name: {c}, type: float64}}"))
        .collect();
    for c in ["year", "month", "day", "hour"] {
        columns.push(format!("  - {{name: {c}, type: int64}}"));
    }
    for c in [
        "temp",
        "dewp",
        "humid",
        "wind_dir",
        "wind_speed",
        "wind_gust",
        "precip",
        "pressure",
        "visib",
    ] {
        columns.push(format!("  - {{name: {c}, type: float64}}"));
    }
    columns.push("  - {name: time_hour, type: timestamp}".into());
    let config = pond.config(&format!(
        "source: /in/*.xlsx\nsheet: Readings\nheader_row: 3\nschema:\n{}\n",
        columns.join("\n")
    ));
    pond.ok(&["mknod", "csvdir", "/typed", "--config", &config]);
    let err = pond.fails(&["cat", "/typed/weather"]);
    assert!(
        err.contains(
            "sheet \"Readings\": cell A4 (column \"origin\") holds \"EWR\", which is not Float64"
        ),
        "{err}"
    );
    let err = pond.fails(&[
        "copy",
        "--format",
        "table",
        "--nested",
        "struct",
        "weather.xlsx",
        "/x.table",
    ]);
    assert!(
        err.contains("nested is not an option of a workbook"),
        "{err}"
    );
    let mut cut = testdata("weather_head.xlsx");
    cut.truncate(cut.len() / 2);
    write(&pond.host("cut.xlsx"), &cut);
    let err = pond.fails(&["copy", "--format", "table", "cut.xlsx", "/cut.table"]);
    assert!(err.contains("cut.xlsx: not a workbook pond reads"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    let after: Vec<String> = pond
        .ok(&["log", "--format", "csv"])
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        after.len(),
        before.lines().count() + 4,
        "a mkdir, a copy and two mknods, nothing else"
    );
}

/// Writes (or appends, `mode`) `sql`'s rows to the Delta table at `dir` with Python's
/// `deltalake`, through DuckDB's Arrow stream.
fn write_delta(dir: &std::path::Path, sql: &str, mode: &str) {
    crate::interop::deltalake(&format!(
        "import duckdb, deltalake\ndeltalake.write_deltalake({:?}, duckdb.sql({sql:?}), mode={mode:?})\n",
        dir.display().to_string()
    ));
}

#[test]
fn an_external_delta_table_reads_in_place_at_each_version() {
    let pond = TestPond::new();
    let csv = pond.host("sst.csv");
    write(&csv, &testdata("sea_surface_temperature.csv"));
    let table = pond.host("buoy");
    let select = |range: &str| {
        format!(
            "SELECT \"time (UTC)\"::TIMESTAMPTZ AS time, \"temperature (celsius)\" AS temperature FROM read_csv('{}') WHERE {range}",
            csv.display()
        )
    };
    write_delta(&table, &select("\"time (UTC)\" < '2017-01-01'"), "error");
    let config = pond.config(&format!(
        "location: {}\nentry_type: series\n",
        table.display()
    ));
    let made = pond.ok(&["mknod", "delta-table", "/buoy.series", "--config", &config]);
    assert!(made.contains("(delta-table, a file:series)"), "{made}");
    pond.ok(&["copy", "--format", "series", "sst.csv", "/sst.series"]);
    let both = |path: &str, range: &str| {
        pond.ok(&[
            "query", "--format", "csv",
            &format!("SELECT count(*) AS n, round(avg(\"temperature (celsius)\"), 9) AS t FROM \"/sst.series\" WHERE {range} UNION ALL SELECT count(*), round(avg(temperature), 9) FROM \"{path}\""),
        ])
    };
    let counts = both("/buoy.series", "\"time (UTC)\" < '2017-01-01'");
    let lines: Vec<&str> = counts.lines().skip(1).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0], lines[1],
        "the Delta table holds what the CSV does"
    );
    assert_eq!(lines_count(&counts), "15384", "{counts}");

    // Another tool appends: pond reads the new version with nothing to do; @v0 and a
    // pinned version read the first.
    write_delta(&table, &select("\"time (UTC)\" >= '2017-01-01'"), "append");
    let all = both("/buoy.series", "true");
    let lines: Vec<&str> = all.lines().skip(1).collect();
    assert_eq!(lines[0], lines[1], "{all}");
    assert!(lines[0].starts_with("19226,"), "{all}");
    let first = both("/buoy.series@v0", "\"time (UTC)\" < '2017-01-01'");
    assert_eq!(first, counts);
    let described = pond.ok(&["describe", "/buoy.series"]);
    assert!(
        described.contains(&format!(
            "delta:     {}, version 1 (newest 1)",
            table.display()
        )),
        "{described}"
    );
    assert!(described.contains("timestamp: time"), "{described}");
    assert!(described.contains("  temperature: Float64"), "{described}");
    let described = pond.ok(&["describe", "/buoy.series@v0"]);
    assert!(described.contains("version 0 (newest 1)"), "{described}");
    let pinned = pond.config(&format!("location: {}\nversion: 0\n", table.display()));
    pond.ok(&["mknod", "delta-table", "/first.table", "--config", &pinned]);
    let n = pond.ok(&[
        "query",
        "--format",
        "csv",
        "SELECT count(*) AS n FROM \"/first.table\"",
    ]);
    assert_eq!(n, format!("n\n{}\n", lines_count(&counts)));
    // A time window reads what it reads of the same series stored in the pond.
    let window = |path: &str| {
        pond.ok(&[
            "cat",
            "--format",
            "csv",
            path,
            "--time-start",
            "2017-03-21T00:00:00Z",
            "--time-end",
            "2017-03-22T00:00:00Z",
        ])
    };
    let delta = window("/buoy.series");
    // Delta's own scan, which skips the first version's file by the log's statistics.
    let explain = pond.ok(&[
        "cat",
        "/buoy.series",
        "--time-start",
        "2017-03-21T00:00:00Z",
        "--explain",
    ]);
    assert!(explain.contains("DeltaScanExec"), "{explain}");
    assert_eq!(explain.matches(".parquet").count(), 1, "{explain}");
    assert!(delta.lines().count() > 48, "{delta}");
    assert_eq!(
        delta.lines().skip(1).collect::<Vec<_>>(),
        window("/sst.series").lines().skip(1).collect::<Vec<_>>()
    );

    let before = pond.ok(&["log", "--format", "csv"]);
    let err = pond.fails(&["cat", "/buoy.series@v7"]);
    assert!(
        err.contains("the Delta table has no version 7 (the newest is 1)"),
        "{err}"
    );
    let err = pond.fails(&["copy", "--format", "series", "sst.csv", "/buoy.series"]);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    let missing = pond.config("location: /no/such/table\n");
    let err = pond.fails(&["mknod", "delta-table", "/gone.table", "--config", &missing]);
    assert!(err.contains("/no/such/table"), "{err}");
    let relative = pond.config("location: buoy\n");
    let err = pond.fails(&["mknod", "delta-table", "/rel.table", "--config", &relative]);
    assert!(err.contains("location: buoy is relative"), "{err}");
    assert_eq!(
        pond.ok(&["log", "--format", "csv"]),
        before,
        "nothing changed"
    );
}

/// The first count in `both`'s output.
fn lines_count(both: &str) -> String {
    both.lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_synced_json_lines_file_appends_its_new_lines_and_a_compressed_one_is_replaced() {
    let pond = TestPond::new();
    std::fs::create_dir(pond.host("logger")).unwrap();
    let jsonl = weather_jsonl();
    let lines: Vec<&str> = jsonl.lines().filter(|l| !l.is_empty()).collect();
    let host = pond.host("logger/weather.jsonl");
    let zipped = pond.host("logger/weather.jsonl.gz");
    let sync = ["sync", "--format", "series", "logger", "/raw"];
    let count = |path: &str| {
        pond.ok(&[
            "query",
            "--format",
            "csv",
            &format!(
                "SELECT count(*) AS n, count(DISTINCT time_hour || origin) AS d FROM \"{path}\""
            ),
        ])
    };
    for (i, cut) in [60, 150, 200].into_iter().enumerate() {
        let text = format!("{}\n", lines[..cut].join("\n"));
        write(&host, text.as_bytes());
        write(&zipped, &compress("gz", text.as_bytes()));
        let out = pond.ok(&sync);
        if i > 0 {
            assert!(out.contains("appended to /raw/weather.jsonl"), "{out}");
            assert!(
                out.contains("replaced the rows of /raw/weather.jsonl.gz"),
                "a compressed file is rewritten whole: {out}"
            );
        }
        // Every reading once: the first line is not taken for a header.
        assert_eq!(count("/raw/weather.jsonl"), format!("n,d\n{cut},{cut}\n"));
        assert_eq!(
            count("/raw/weather.jsonl.gz"),
            format!("n,d\n{cut},{cut}\n")
        );
    }
    let described = pond.ok(&["describe", "/raw/weather.jsonl"]);
    assert!(described.contains("versions:  3"), "{described}");
}

#[test]
fn a_csvdir_reads_the_format_it_is_told_and_refuses_options_of_others() {
    let pond = TestPond::new();
    write(&pond.host("logger.log"), weather_jsonl().as_bytes());
    pond.ok(&["mkdir", "/in"]);
    pond.ok(&["copy", "logger.log", "/in/logger.log"]);
    let before = pond.ok(&["log", "--format", "csv"]);
    for (extra, field) in [
        ("delimiter: ';'\n", "delimiter"),
        ("sheet: Readings\n", "sheet"),
        ("has_header: false\n", "has_header"),
    ] {
        let config = pond.config(&format!("source: /in/*.log\nformat: jsonl\n{extra}"));
        let err = pond.fails(&["mknod", "csvdir", "/logs", "--config", &config]);
        assert!(
            err.contains(&format!("{field}: not an option of jsonl files")),
            "{err}"
        );
    }
    assert_eq!(
        pond.ok(&["log", "--format", "csv"]),
        before,
        "nothing changed"
    );
    // The name says nothing of the format; the configuration does.
    let config = pond.config("source: /in/*.log\nformat: jsonl\nnested: struct\n");
    pond.ok(&["mknod", "csvdir", "/logs", "--config", &config]);
    assert_eq!(pond.ok(&["list", "/logs"]), "/logs/logger.log\n");
    let count = pond.ok(&[
        "query",
        "--format",
        "csv",
        "SELECT count(*) AS n, count(wind['gust']) AS g FROM \"/logs/logger.log\"",
    ]);
    let gusts = weather_jsonl().matches("\"gust\"").count();
    assert_eq!(count, format!("n,g\n200,{gusts}\n"));
    // Told CSV, it reads the same file as CSV, though its first bytes say JSON.
    let config = pond.config("source: /in/*.log\nformat: csv\n");
    pond.ok(&["mknod", "csvdir", "/as_csv", "--config", &config]);
    // (JSON lines are not CSV: its lines have other numbers of fields.)
    let err = pond.fails(&["cat", "/as_csv/logger.log"]);
    assert!(
        err.contains("Csv error: incorrect number of fields"),
        "{err}"
    );
}

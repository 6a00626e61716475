//! `temporal-reduce` from the command line: every aggregation at every resolution equals
//! the same aggregate computed over the raw rows, through appends, late data, compaction
//! and revert; each version is reduced once; calendar days follow DST.

use crate::support::TestPond;

/// Hourly readings of `v` from `start` (hours after 2024-03-28T00:00:00Z) for `hours`
/// hours, at `minute` past each hour; every seventh value is missing.
fn readings(start: u32, hours: u32, minute: u32) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2024-03-28T00:00:00Z").unwrap();
    let mut csv = String::from("t,v\n");
    for h in start..start + hours {
        let t = base + chrono::Duration::minutes(i64::from(h) * 60 + i64::from(minute));
        let v = if h % 7 == 3 {
            String::new()
        } else {
            format!("{:.3}", f64::from((h * 37 + minute) % 101) / 7.0 - 4.0)
        };
        csv.push_str(&format!("{},{v}\n", t.format("%Y-%m-%dT%H:%M:%SZ")));
    }
    csv
}

const AGGS: &str = "count, sum, min, max, avg, stddev, variance, first, last";

/// The rollup at `resolution`, as CSV rows without the header.
fn rollup(pond: &TestPond, resolution: &str) -> String {
    let sql = format!(
        "SELECT timestamp, \"rows\", v_count, v_sum, v_min, v_max, v_avg, v_stddev, \
         v_variance, v_first, v_last \
         FROM \"/reduced/s/{resolution}.series\" ORDER BY 1"
    );
    body(&pond.ok(&["query", "--format", "csv", &sql]))
}

/// The same aggregates over the raw rows, bucketed by `bucket` (SQL over `t`).
fn raw(pond: &TestPond, bucket: &str) -> String {
    let sql = format!(
        "SELECT {bucket} AS b, count(*), count(v), sum(v), min(v), max(v), avg(v), \
         stddev(v), var_samp(v), \
         first_value(v ORDER BY t) FILTER (WHERE v IS NOT NULL), \
         last_value(v ORDER BY t) FILTER (WHERE v IS NOT NULL) \
         FROM \"/s.series\" GROUP BY 1 ORDER BY 1"
    );
    body(&pond.ok(&["query", "--format", "csv", &sql]))
}

fn body(csv: &str) -> String {
    csv.lines().skip(1).collect::<Vec<_>>().join("\n")
}

const UTC: &str = "'Timestamp(Microsecond, Some(\"UTC\"))'";

fn local(unit: &str) -> String {
    format!(
        "arrow_cast(date_trunc('{unit}', arrow_cast(t, 'Timestamp(Microsecond, Some(\"Europe/Oslo\"))')), {UTC})"
    )
}

fn minutes(n: u32) -> String {
    format!(
        "arrow_cast(date_bin(INTERVAL '{n} minutes', arrow_cast(t, 'Timestamp(Microsecond, None)'), TIMESTAMP '1970-01-01T00:00:00'), {UTC})"
    )
}

/// Every resolution against the raw rows.
fn check_all(pond: &TestPond, when: &str) {
    for (resolution, bucket) in [
        ("15m", minutes(15)),
        ("6h", minutes(360)),
        ("1d", local("day")),
        ("1w", local("week")),
        ("1month", local("month")),
    ] {
        let (got, want) = (rollup(pond, resolution), raw(pond, &bucket));
        assert!(!got.is_empty(), "{when}: {resolution} is empty");
        assert!(
            same(&got, &want),
            "{when}: {resolution}\n rollup:\n{got}\n raw:\n{want}"
        );
    }
}

/// Whether two CSV bodies hold the same values: text exactly, numbers to 1e-9 of their
/// size (sums merged in another order may differ in the last bits, never more).
fn same(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            let (x, y): (Vec<&str>, Vec<&str>) = (x.split(',').collect(), y.split(',').collect());
            x.len() == y.len()
                && x.iter()
                    .zip(&y)
                    .all(|(p, q)| match (p.parse::<f64>(), q.parse::<f64>()) {
                        (Ok(p), Ok(q)) => (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0),
                        _ => p == q,
                    })
        })
}

/// How many input versions reading `path` reduced from their rows (the rest came from
/// the cache, or were folded from a finer resolution's partials).
fn reductions(pond: &TestPond, path: &str) -> usize {
    reduce_log(pond, path).matches("reducing a version").count()
}

/// What reading `path` logged of temporal-reduce's work.
fn reduce_log(pond: &TestPond, path: &str) -> String {
    let out = pond
        .command(&["cat", "--format", "csv", path])
        .env("POND_LOG", "pond_factories::reduce=debug")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Appends the CSV `csv` (written to the host file `name`) to the series `/s.series`;
/// what `copy` printed.
fn append(pond: &TestPond, name: &str, csv: &str) -> String {
    pond.append_t(name, "/s.series", csv)
}

#[test]
fn temporal_reduce_is_exact_through_appends_late_data_compaction_and_revert() {
    let pond = TestPond::new();
    // Four days, one version a day, across the night Oslo moves to summer time
    // (2024-03-31T01:00:00Z).
    for day in 0..4 {
        append(&pond, &format!("day{day}.csv"), &readings(day * 24, 24, 0));
    }
    let config = pond.config(&format!(
        "in_pattern: /*.series\ntime_column: t\nresolutions: [15m, 6h, 1d, 1w, 1month]\n\
         aggregations:\n  v: [{AGGS}]\ntimezone: Europe/Oslo\n"
    ));
    pond.ok(&["mknod", "temporal-reduce", "/reduced", "--config", &config]);
    assert_eq!(
        pond.ok(&["list", "/reduced/s"]),
        "/reduced/s/15m.series\n/reduced/s/1d.series\n/reduced/s/1month.series\n\
         /reduced/s/1w.series\n/reduced/s/6h.series\n"
    );
    check_all(&pond, "four days");

    // Local days start at 23:00Z in winter and 22:00Z in summer; the day summer time
    // starts has 23 hours (and the first, from 00:00Z, 23 readings).
    let days = pond.ok(&[
        "query",
        "--format",
        "csv",
        "SELECT timestamp, \"rows\" FROM \"/reduced/s/1d.series\" ORDER BY 1",
    ]);
    assert_eq!(
        body(&days),
        "2024-03-27T23:00:00Z,23\n2024-03-28T23:00:00Z,24\n2024-03-29T23:00:00Z,24\n\
         2024-03-30T23:00:00Z,23\n2024-03-31T22:00:00Z,2"
    );

    // Each version's rows are read once for every resolution: a second read reduces
    // nothing, a new version only itself, and its coarser partials fold from finer ones:
    // 1d from 15m (6h buckets straddle Oslo's midnight, 23:00Z), 1month from 1d.
    assert_eq!(
        reductions(&pond, "/reduced/s/1d.series"),
        0,
        "cached by the check"
    );
    append(&pond, "day4.csv", &readings(4 * 24, 24, 0));
    let log = reduce_log(&pond, "/reduced/s/1month.series");
    assert_eq!(log.matches("reducing a version").count(), 1, "{log}");
    for (from, to) in [("15m", "1d"), ("1d", "1month")] {
        assert!(
            log.contains(&format!("from=\"{from}\" to=\"{to}\""))
                || log.contains(&format!("from={from} to={to}")),
            "{from} folded into {to}: {log}"
        );
    }
    for resolution in ["15m", "6h", "1d", "1w"] {
        assert_eq!(
            reductions(&pond, &format!("/reduced/s/{resolution}.series")),
            0,
            "{resolution}"
        );
    }
    check_all(&pond, "a fifth day");

    // Late readings, at half past the hour on the first two days: they land in old
    // buckets, which change exactly as the raw rows do.
    append(&pond, "late.csv", &readings(10, 30, 30));
    assert_eq!(reductions(&pond, "/reduced/s/1d.series"), 1);
    check_all(&pond, "late data");

    // Enough appends that the series compacts: the compaction's version replaces the
    // ones it holds, and nothing is counted twice.
    let mut compacted = false;
    for day in 5..14 {
        let out = append(&pond, &format!("day{day}.csv"), &readings(day * 24, 24, 0));
        compacted |= out.contains("compacted /s.series");
    }
    assert!(compacted, "the appends compacted the series");
    check_all(&pond, "after compaction");

    // Reverting the last append takes its rows out of every bucket.
    let log = pond.ok(&["log", "-n", "1", "/s.series"]);
    let last: String = log[1..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    pond.ok(&["revert", &last]);
    check_all(&pond, "after revert");
}

/// A time range on a rollup reaches its partials: of a merge of 10,000 one-minute
/// buckets (three row groups), a query of the last 160 minutes reads one row group and
/// only the partials of the column it asks for.
#[test]
fn a_time_range_on_a_rollup_prunes_its_partials() {
    let pond = TestPond::new();
    let mut csv = String::from("t,v,w\n");
    let base = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap();
    for i in 0..10_000 {
        let t = base + chrono::Duration::minutes(i);
        csv.push_str(&format!(
            "{},{},{}\n",
            t.format("%Y-%m-%dT%H:%M:%SZ"),
            i % 97,
            i % 13
        ));
    }
    append(&pond, "minutes.csv", &csv);
    let config = pond
        .config("in_pattern: /*.series\nresolutions: [1m, 1h]\naggregations:\n  \"*\": [max]\n");
    pond.ok(&["mknod", "temporal-reduce", "/reduced", "--config", &config]);
    let range = "timestamp >= '2024-01-07T20:00:00Z'";
    let sql = format!("SELECT count(*), max(v_max) FROM \"/reduced/s/1m.series\" WHERE {range}");
    assert_eq!(
        body(&pond.ok(&["query", "--format", "csv", &sql])),
        "160,96.0"
    );
    let plan = pond.ok(&["query", &format!("EXPLAIN ANALYZE {sql}")]);
    let scan = plan
        .lines()
        .find(|l| l.contains("DataSourceExec"))
        .unwrap_or_else(|| panic!("no scan in\n{plan}"));
    assert!(
        scan.contains("row_groups_pruned_statistics=3 total \u{2192} 1 matched"),
        "{scan}"
    );
    assert!(scan.contains("projection=[bucket, v__max]"), "{scan}");
}

#[test]
fn temporal_reduce_configuration_errors_name_the_field() {
    let pond = TestPond::new();
    for (yaml, expected) in [
        (
            "in_pattern: /*.series\nresolutions: [1fortnight]\naggregations: {v: [avg]}\n",
            "unknown unit \"fortnight\"",
        ),
        (
            "in_pattern: /*.series\nresolutions: [2d]\naggregations: {v: [avg]}\n",
            "only 1d is supported",
        ),
        (
            "in_pattern: /*.series\nresolutions: [1h]\naggregations: {v: [median]}\n",
            "unknown variant `median`",
        ),
        (
            "in_pattern: /*.series\nresolutions: [1h]\naggregations: {v: [avg]}\ntimezone: Mars/Olympus\n",
            "unknown time zone",
        ),
        (
            "in_pattern: sensors/*.series\nresolutions: [1h]\naggregations: {v: [avg]}\n",
            "is relative",
        ),
    ] {
        let config = pond.config(yaml);
        let err = pond.fails(&["mknod", "temporal-reduce", "/r", "--config", &config]);
        assert!(err.contains(expected), "{yaml}: {err}");
    }
    // A column the input does not have is named when read.
    append(&pond, "a.csv", &readings(0, 5, 0));
    let config = pond.config(
        "in_pattern: /*.series\ntime_column: t\nresolutions: [1h]\naggregations: {level: [avg]}\n",
    );
    pond.ok(&["mknod", "temporal-reduce", "/r", "--config", &config]);
    let err = pond.fails(&["cat", "/r/s/1h.series"]);
    assert!(err.contains("no column \"level\""), "{err}");

    // A column that is not a number, and two inputs that would share a name.
    pond.append_t(
        "notes.csv",
        "/notes.series",
        "t,note\n2024-03-28T00:00:00Z,calm\n",
    );
    let config = pond.config(
        "in_pattern: /notes.series\ntime_column: t\nresolutions: [1h]\naggregations: {note: [avg]}\n",
    );
    pond.ok(&["mknod", "temporal-reduce", "/n", "--config", &config]);
    let err = pond.fails(&["cat", "/n/notes/1h.series"]);
    assert!(
        err.contains("aggregations: note is") && err.contains("not a number"),
        "{err}"
    );
    pond.ok(&["mkdir", "/more"]);
    pond.append_t("s2.csv", "/more/s.series", &readings(0, 5, 0));
    let config = pond.config(
        "in_pattern: /**/s.series\ntime_column: t\nresolutions: [1h]\naggregations: {v: [avg]}\n",
    );
    let err = pond.fails(&["mknod", "temporal-reduce", "/twice", "--config", &config]);
    assert!(err.contains("would both be reduced as \"s\""), "{err}");

    // What --resolution needs: a series as it is now, rolled up, and a point or more.
    let err = pond.fails(&["cat", "--resolution", "auto", "/s.series@v1"]);
    assert!(err.contains("leave out @v"), "{err}");
    pond.ok(&["copy", "notes.csv", "/plain.csv"]);
    let err = pond.fails(&["cat", "--resolution", "auto", "/plain.csv"]);
    assert!(err.contains("--resolution is for a series"), "{err}");
    let err = pond.fails(&["cat", "--resolution", "auto", "--points", "0", "/s.series"]);
    assert!(err.contains("--points 0"), "{err}");
}

/// Which rollup `cat --resolution ...` read, from what it reports on standard error, and
/// how many rows it printed.
fn picked(pond: &TestPond, args: &[&str]) -> (String, usize) {
    let mut all = vec!["cat", "--format", "csv"];
    all.extend(args);
    let out = pond.run(&all);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{args:?}: {err}");
    let rows = String::from_utf8_lossy(&out.stdout).lines().count() - 1;
    (err.trim_end().to_string(), rows)
}

#[test]
fn cat_picks_the_finest_rollup_that_fits_and_describe_lists_them() {
    let pond = TestPond::new();
    // Ten days, hourly: over them 15-minute buckets number 960, hours 240, days 10.
    append(&pond, "a.csv", &readings(0, 240, 0));
    let config = pond.config(
        "in_pattern: /*.series\ntime_column: t\nresolutions: [1d, 15m, 1h]\naggregations: {v: [avg]}\n",
    );
    pond.ok(&["mknod", "temporal-reduce", "/reduced", "--config", &config]);
    let fifteen = "reading /reduced/s/15m.series (15m buckets)";
    let hour = "reading /reduced/s/1h.series (1h buckets)";
    let day = "reading /reduced/s/1d.series (1d buckets)";
    assert_eq!(
        picked(&pond, &["--resolution", "auto", "/s.series"]),
        (fifteen.into(), 240)
    );
    assert_eq!(
        picked(
            &pond,
            &["--resolution", "auto", "--points", "500", "/s.series"]
        ),
        (hour.into(), 240)
    );
    assert_eq!(
        picked(
            &pond,
            &["--resolution", "auto", "--points", "20", "/s.series"]
        ),
        (day.into(), 10)
    );
    // Nothing fits: the coarsest.
    assert_eq!(
        picked(
            &pond,
            &["--resolution", "auto", "--points", "3", "/s.series"]
        )
        .0,
        day
    );
    // The window decides: one day fits hours in 30 points, and only its rows are read.
    let window = [
        "--resolution",
        "auto",
        "--points",
        "30",
        "--time-start",
        "2024-03-29T00:00:00Z",
        "--time-end",
        "2024-03-30T00:00:00Z",
        "/s.series",
    ];
    assert_eq!(picked(&pond, &window), (hour.into(), 24));
    assert_eq!(
        picked(&pond, &["--resolution", "1d", "/s.series"]),
        (day.into(), 10)
    );
    let err = pond.fails(&["cat", "--resolution", "2h", "/s.series"]);
    assert!(
        err.contains("no rollup at 2h; its rollups are at 15m, 1h, 1d"),
        "{err}"
    );

    let described = pond.ok(&["describe", "/s.series"]);
    assert!(
        described.contains(
            "rollups:   15m /reduced/s/15m.series\n           1h /reduced/s/1h.series\n           1d /reduced/s/1d.series\n"
        ),
        "{described}"
    );
    let json = pond.ok(&["describe", "--format", "json", "/s.series"]);
    assert!(
        json.contains(r#""rollups":[{"resolution":"15m","path":"/reduced/s/15m.series"}"#),
        "{json}"
    );

    // A series nothing rolls up.
    pond.ok(&["mkdir", "/elsewhere"]);
    pond.append_t("b.csv", "/elsewhere/other.series", &readings(0, 5, 0));
    let err = pond.fails(&["cat", "--resolution", "auto", "/elsewhere/other.series"]);
    assert!(
        err.contains("no temporal-reduce rolls up this series"),
        "{err}"
    );
}

/// `timeseries-join`: exact and as-of matching on one time axis, a tolerance, a sensor
/// swapped at a time stitched into one set of columns with no duplicate at the seam.
#[test]
fn timeseries_join_matches_exactly_or_as_of_and_stitches_a_swap() {
    let pond = TestPond::new();
    pond.ok(&["mkdir", "/s"]);
    let series = |name: &str, column: &str, rows: &[(&str, &str)]| {
        let mut csv = format!("t,{column}\n");
        for (t, v) in rows {
            csv.push_str(&format!("2024-06-01T{t}:00Z,{v}\n"));
        }
        pond.append_t(&format!("{name}.csv"), &format!("/s/{name}.series"), &csv);
    };
    series(
        "air",
        "temp",
        &[("00:00", "10"), ("00:10", "11"), ("00:20", "12")],
    );
    // The old water sensor reads until 00:10 (its 00:10 reading is past its range), the
    // new one from 00:10.
    series(
        "old",
        "level",
        &[("00:00", "1.0"), ("00:05", "1.5"), ("00:10", "9.9")],
    );
    series("new", "level", &[("00:10", "2.0"), ("00:22", "2.5")]);
    let join = |extra: &str| {
        pond.config(&format!(
            "inputs:\n  - {{pattern: /s/air.series, prefix: air}}\n  \
             - {{pattern: /s/old.series, prefix: water, range: {{end: 2024-06-01T00:10:00Z}}}}\n  \
             - {{pattern: /s/new.series, prefix: water, range: {{begin: 2024-06-01T00:10:00Z}}}}\n{extra}"
        ))
    };
    pond.ok(&[
        "mknod",
        "timeseries-join",
        "/exact.series",
        "--config",
        &join(""),
    ]);
    pond.ok(&[
        "mknod",
        "timeseries-join",
        "/asof.series",
        "--config",
        &join("match: asof\ntolerance: 5m\n"),
    ]);
    let rows = |path: &str| {
        body(&pond.ok(&[
            "query",
            "--format",
            "csv",
            &format!("SELECT timestamp, air_temp, water_level FROM \"{path}\" ORDER BY 1"),
        ]))
    };
    assert_eq!(
        rows("/exact.series"),
        "2024-06-01T00:00:00Z,10,1.0\n2024-06-01T00:05:00Z,,1.5\n\
         2024-06-01T00:10:00Z,11,2.0\n2024-06-01T00:20:00Z,12,\n2024-06-01T00:22:00Z,,2.5"
    );
    // As of: the latest reading at or before each time, at most 5 minutes old.
    assert_eq!(
        rows("/asof.series"),
        "2024-06-01T00:00:00Z,10,1.0\n2024-06-01T00:05:00Z,10,1.5\n\
         2024-06-01T00:10:00Z,11,2.0\n2024-06-01T00:20:00Z,12,\n2024-06-01T00:22:00Z,12,2.5"
    );
    // A join feeds a temporal-reduce.
    let config = pond.config(
        "in_pattern: /asof.series\nresolutions: [1h]\naggregations: {water_level: [max, count]}\n",
    );
    pond.ok(&["mknod", "temporal-reduce", "/r", "--config", &config]);
    assert_eq!(
        body(&pond.ok(&[
            "query",
            "--format",
            "csv",
            "SELECT timestamp, \"rows\", water_level_max, water_level_count FROM \"/r/asof/1h.series\""
        ])),
        "2024-06-01T00:00:00Z,5,2.5,4"
    );
    // And a rollup feeds a join.
    let config = pond.config("inputs:\n  - {pattern: /r/asof/1h.series, prefix: hourly}\n");
    pond.ok(&[
        "mknod",
        "timeseries-join",
        "/hourly.series",
        "--config",
        &config,
    ]);
    assert_eq!(
        body(&pond.ok(&[
            "query",
            "--format",
            "csv",
            "SELECT timestamp, hourly_water_level_max FROM \"/hourly.series\""
        ])),
        "2024-06-01T00:00:00Z,2.5"
    );
    // An input that matches nothing, and one prefix whose inputs disagree on a type.
    let config = pond.config("inputs:\n  - {pattern: /s/none*.series, prefix: x}\n");
    let err = pond.fails(&[
        "mknod",
        "timeseries-join",
        "/none.series",
        "--config",
        &config,
    ]);
    assert!(err.contains("/s/none*.series matches no series"), "{err}");
    series("text", "temp", &[("01:00", "warm")]);
    let config = pond.config(
        "inputs:\n  - {pattern: /s/air.series, prefix: air, range: {end: 2024-06-01T01:00:00Z}}\n  \
         - {pattern: /s/text.series, prefix: air, range: {begin: 2024-06-01T01:00:00Z}}\n",
    );
    let err = pond.fails(&[
        "mknod",
        "timeseries-join",
        "/mixed.series",
        "--config",
        &config,
    ]);
    assert!(err.contains("column temp is"), "{err}");
    for (yaml, expected) in [
        (
            "inputs:\n  - {pattern: /s/old.series, prefix: w}\n  - {pattern: /s/new.series, prefix: w}\n",
            "overlap in time",
        ),
        (
            "inputs:\n  - {pattern: /s/air.series, prefix: air}\ntolerance: 5m\n",
            "only match: asof has one",
        ),
        (
            "inputs:\n  - {pattern: /s/air.series, prefix: \"a-b\"}\n",
            "use letters, digits and _",
        ),
    ] {
        let err = pond.fails(&[
            "mknod",
            "timeseries-join",
            "/bad.series",
            "--config",
            &pond.config(yaml),
        ]);
        assert!(err.contains(expected), "{yaml}: {err}");
    }
}

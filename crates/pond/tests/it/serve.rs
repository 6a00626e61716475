//! `pond serve` and `pond site`: the pages and JSON API over HTTP on 127.0.0.1, the
//! budgets, and a real browser (Debian's headless Chromium, driven by playwright-core)
//! drawing charts, zooming, querying and meeting a bad path.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::support::{TestPond, write};

/// Ten days of one-minute readings of `temp` (one spike of 1000 at 2024-06-05T20:40Z)
/// and `level`, from 2024-06-01T00:00Z, in two versions (the days before and after the
/// 6th); a rollup of them at 1h and 1d; hourly `air` readings, with a spike, that no
/// rollup covers; and a small table.
fn pond_with_series() -> TestPond {
    let pond = TestPond::new();
    pond.ok(&["mkdir", "/sensors"]);
    let base = chrono::DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z").unwrap();
    let mut parts = [
        String::from("t,temp,level\n"),
        String::from("t,temp,level\n"),
    ];
    for i in 0..14_400i64 {
        let t = base + chrono::Duration::minutes(i);
        let temp = if i == 7_000 {
            1000.0
        } else {
            10.0 + (i % 1440) as f64 / 100.0
        };
        let level = (i % 60) as f64 / 10.0;
        let part = usize::from(i >= 7_200);
        parts[part].push_str(&format!(
            "{},{temp},{level}\n",
            t.format("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    for (i, part) in parts.iter().enumerate() {
        pond.append_t(&format!("buoy{i}.csv"), "/sensors/buoy.series", part);
    }
    let mut air = String::from("t,air\n");
    for h in 0..240i64 {
        let t = base + chrono::Duration::hours(h);
        let v = if h == 100 { 99.0 } else { (h % 24) as f64 };
        air.push_str(&format!("{},{v}\n", t.format("%Y-%m-%dT%H:%M:%SZ")));
    }
    pond.append_t("air.csv", "/sensors/air.series", &air);
    write(
        &pond.host("sites.csv"),
        b"site,name\n1,North\n2,South\n3,East\n",
    );
    pond.ok(&["copy", "--format", "table", "sites.csv", "/sites.table"]);
    let config = pond.config(
        "in_pattern: /sensors/buoy.series\nresolutions: [1h, 1d]\n\
         aggregations:\n  temp: [min, max, avg]\n  level: [avg]\n",
    );
    pond.ok(&["mknod", "temporal-reduce", "/rollups", "--config", &config]);
    pond
}

/// A running `pond serve`, stopped when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `command`; its URL is what `url` finds in the first line it prints.
    fn start(mut command: Command, url: impl Fn(&str) -> Option<String>) -> Served {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = url(&line).unwrap_or_else(|| panic!("no address in {line:?}"));
        Served { child, url }
    }
}

/// `pond serve --addr 127.0.0.1:0 EXTRA…` on `pond`, once it says where it listens.
fn serve(pond: &TestPond, extra: &[&str]) -> Served {
    let mut args = vec!["serve", "--addr", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Served::start(pond.command(&args), |line| {
        line.split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(|w| w.trim_end_matches('/').to_string())
    })
}

/// An HTTP response: status, headers (lowercased names), body.
struct Response {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Response {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// `GET url` (an `http://127.0.0.1:PORT/…` URL), over a connection of its own.
fn get(url: &str) -> Response {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(host).expect("connect");
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
        if path.is_empty() { "/" } else { path }
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..end]).unwrap().trim(), 16)
                .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[end + 2..end + 2 + size]);
            rest = &rest[end + 4 + size..];
        }
        body = out;
    }
    let status = head[9..12].parse().unwrap();
    Response {
        status,
        headers: head,
        body,
    }
}

/// `text` as a query string value.
fn q(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The largest number in a chart's values.
fn peak(chart: &serde_json::Value) -> f64 {
    chart["values"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c.as_array().unwrap())
        .filter_map(|v| v.as_f64())
        .fold(f64::MIN, f64::max)
}

#[test]
fn serve_answers_pages_and_the_json_api_read_only_and_within_budgets() {
    let pond = pond_with_series();
    let before = pond.ok(&["log", "--format", "csv"]);
    let server = serve(&pond, &[]);
    let url = &server.url;

    // The tree, a file's page, the history.
    let root = get(&format!("{url}/p/"));
    assert_eq!(root.status, 200);
    assert!(
        root.headers.contains("content-type: text/html"),
        "{}",
        root.headers
    );
    for shown in [
        ">sensors/<",
        ">rollups/<",
        "temporal-reduce",
        ">sites.table<",
    ] {
        assert!(root.text().contains(shown), "{shown} in {}", root.text());
    }
    let page = get(&format!("{url}/p/sensors/buoy.series")).text();
    for shown in [
        "14400",
        "file:series",
        "div class=\"chart\"",
        "/rollups/buoy/1h.series",
    ] {
        assert!(page.contains(shown), "{shown} in the series page");
    }
    assert!(
        page.contains("href=\"/p/sensors/buoy.series@v1\""),
        "versions link their pages"
    );
    let v1_page = get(&format!("{url}/p/sensors/buoy.series@v1")).text();
    assert!(v1_page.contains("showing v1"), "{v1_page}");
    let table = get(&format!("{url}/p/sites.table")).text();
    assert!(table.contains(">versions<") && table.contains("href=\"/p/sites.table@v1\""));
    assert!(
        get(&format!("{url}/log"))
            .text()
            .contains("mknod temporal-reduce")
    );
    assert!(
        get(&format!("{url}/assets/uPlot.iife.min.js"))
            .text()
            .contains("uPlot")
    );

    // The JSON API.
    let list = get(&format!("{url}/api/list/sensors")).json();
    let paths: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/sensors/air.series", "/sensors/buoy.series"]);
    let described = get(&format!("{url}/api/describe/sensors/buoy.series")).json();
    assert_eq!(described["rows"], 14_400);
    assert_eq!(described["rollups"][0]["resolution"], "1h");
    let rows = get(&format!("{url}/api/rows/sites.table?limit=2")).json();
    assert_eq!(rows["columns"], serde_json::json!(["site", "name"]));
    assert_eq!(
        rows["rows"],
        serde_json::json!([["1", "North"], ["2", "South"]])
    );
    assert_eq!(rows["more"], true);

    // Charts: the whole range from the 1h rollup (240 buckets fit 1,000 pixels), its
    // minimum and maximum keeping the spike; a two-hour window raw, every reading; a
    // series without a rollup decimated to two points a pixel, its spike kept.
    let whole = get(&format!("{url}/api/chart/sensors/buoy.series?width=1000")).json();
    assert_eq!(whole["resolution"], "1h", "{whole}");
    assert_eq!(whole["source"], "/rollups/buoy/1h.series");
    assert_eq!(
        whole["columns"],
        serde_json::json!(["temp min", "temp max", "level"])
    );
    assert_eq!(whole["t"].as_array().unwrap().len(), 240);
    assert_eq!(peak(&whole), 1000.0);
    let narrow = get(&format!(
        "{url}/api/chart/sensors/buoy.series?width=1000&columns=temp&start=2024-06-05T20:00:00Z&end=2024-06-05T22:00:00Z"
    ))
    .json();
    assert_eq!(narrow["resolution"], "raw", "{narrow}");
    assert_eq!(narrow["t"].as_array().unwrap().len(), 120);
    assert_eq!(peak(&narrow), 1000.0);
    let day = get(&format!(
        "{url}/api/chart/sensors/buoy.series?width=300&start=2024-06-03T00:00:00Z&end=2024-06-04T00:00:00Z"
    ))
    .json();
    assert_eq!(
        day["resolution"], "1h",
        "1,440 readings do not fit 300 pixels"
    );
    assert_eq!(day["t"].as_array().unwrap().len(), 24);
    let air = get(&format!("{url}/api/chart/sensors/air.series?width=50")).json();
    assert_eq!(air["resolution"], "decimated", "{air}");
    let points = air["t"].as_array().unwrap().len();
    assert!(
        (90..=100).contains(&points),
        "{points} points for 50 pixels"
    );
    assert_eq!(peak(&air), 99.0);
    let forced = get(&format!(
        "{url}/api/chart/sensors/buoy.series?resolution=1d"
    ))
    .json();
    assert_eq!(forced["t"].as_array().unwrap().len(), 10);

    // Narrower than the coarsest rollup: its daily minima and maxima, decimated, still
    // hold the spike.
    let tiny = get(&format!(
        "{url}/api/chart/sensors/buoy.series?width=10&columns=temp&start=2024-05-01T00:00:00Z&end=2024-07-01T00:00:00Z"
    ))
    .json();
    assert_eq!(tiny["resolution"], "1d, decimated", "{tiny}");
    assert_eq!(tiny["source"], "/rollups/buoy/1d.series");
    assert!(tiny["t"].as_array().unwrap().len() <= 20, "{tiny}");
    assert_eq!(peak(&tiny), 1000.0);

    // One version of the series: its own rows (the first five days), and no rollup.
    let v1 = get(&format!(
        "{url}/api/chart/sensors/buoy.series@v1?width=1000"
    ))
    .json();
    assert_eq!(v1["path"], "/sensors/buoy.series@v1");
    assert_eq!(v1["resolution"], "decimated", "{v1}");
    assert_eq!(
        v1["range"][1], 1_717_631_940_000_000i64,
        "2024-06-05T23:59:00Z"
    );

    // Queries: JSON, CSV and Parquet.
    let sql = q("SELECT count(*) AS n, max(temp) AS top FROM \"/sensors/buoy.series\"");
    let answer = get(&format!("{url}/api/query?sql={sql}")).json();
    assert_eq!(answer["rows"], serde_json::json!([["14400", "1000.0"]]));
    let csv = get(&format!("{url}/api/query?format=csv&sql={sql}"));
    assert_eq!(csv.text(), "n,top\n14400,1000.0\n");
    assert!(csv.headers.contains("attachment"), "{}", csv.headers);
    let parquet = get(&format!("{url}/api/query?format=parquet&sql={sql}"));
    assert!(parquet.body.starts_with(b"PAR1") && parquet.body.ends_with(b"PAR1"));

    // History, and an earlier pond version.
    let log = get(&format!("{url}/api/log?limit=2")).json();
    assert!(
        log[0]["command"].as_str().unwrap().contains("mknod"),
        "{log}"
    );
    let first_copy = get(&format!("{url}/api/log/3")).json();
    assert_eq!(
        first_copy["paths"],
        serde_json::json!(["/sensors/buoy.series"])
    );
    let earlier = get(&format!("{url}/api/describe/sensors/buoy.series?as_of=2")).json();
    assert_eq!(earlier["rows"], 7_200);

    // Errors: one line, the right status, nothing changed.
    let missing = get(&format!("{url}/p/no/such.series"));
    assert_eq!(missing.status, 404);
    // The first part of the path that is missing is named.
    assert!(
        missing.text().contains("/no: no such file or directory"),
        "{}",
        missing.text()
    );
    let escape = get(&format!("{url}/p/..%2F..%2F..%2Fetc%2Fpasswd"));
    assert_eq!(escape.status, 404, "{}", escape.text());
    assert!(!escape.text().contains("root:"));
    let api_missing = get(&format!("{url}/api/describe/nope"));
    assert_eq!(api_missing.status, 404);
    assert!(
        api_missing.json()["error"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    let table_chart = get(&format!("{url}/api/chart/sites.table"));
    assert_eq!(table_chart.status, 400);
    assert!(table_chart.text().contains("a chart is drawn of a series"));
    let write = get(&format!(
        "{url}/api/query?sql={}",
        q("DROP TABLE \"/sites.table\"")
    ));
    assert_eq!(write.status, 400, "{}", write.text());
    assert!(get(&format!("{url}/api/log/999")).status == 404);
    assert_eq!(
        pond.ok(&["log", "--format", "csv"]),
        before,
        "serving changed the pond"
    );
}

#[test]
fn a_heavy_query_runs_out_of_its_budget_and_the_server_goes_on() {
    let pond = pond_with_series();
    let server = serve(&pond, &["--timeout", "1s", "--max-rows", "5"]);
    let url = &server.url;
    // The row budget: five rows, and the rest left out.
    let many = get(&format!(
        "{url}/api/query?sql={}",
        q("SELECT temp FROM \"/sensors/buoy.series\"")
    ))
    .json();
    assert_eq!(many["rows"].as_array().unwrap().len(), 5);
    assert_eq!(many["truncated"], true);
    let heavy = q(
        "SELECT count(*) FROM \"/sensors/buoy.series\" a, \"/sensors/buoy.series\" b WHERE a.temp + b.temp > 0",
    );
    let answer = get(&format!("{url}/api/query?sql={heavy}"));
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert!(
        answer
            .text()
            .contains("longer than the server's 1 s budget"),
        "{}",
        answer.text()
    );
    // Pages and listings are answered while the runaway scan finishes on the scans'
    // threads (a scan that computes without yielding stops at its next yield).
    assert_eq!(get(&format!("{url}/api/list/")).status, 200);
    assert_eq!(get(&format!("{url}/p/sensors")).status, 200);
}

/// A client that sends half a request and waits, and one that asks for a page and never
/// reads it, hold nothing others need.
#[test]
fn slow_clients_do_not_hold_the_server() {
    let pond = pond_with_series();
    let server = serve(&pond, &[]);
    let host = server.url.trim_start_matches("http://").to_string();
    let mut stalled = TcpStream::connect(&host).unwrap();
    write!(stalled, "GET /p/ HTTP/1.1\r\nHost: {host}\r\n").unwrap();
    let mut unread = Vec::new();
    for _ in 0..8 {
        let mut c = TcpStream::connect(&host).unwrap();
        write!(
            c,
            "GET /api/rows/sensors/buoy.series?limit=10000 HTTP/1.1\r\nHost: {host}\r\n\r\n"
        )
        .unwrap();
        unread.push(c);
    }
    let answer = get(&format!(
        "{}/api/query?sql={}",
        server.url,
        q("SELECT count(*) FROM \"/sensors/buoy.series\"")
    ));
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["rows"], serde_json::json!([["14400"]]));
    drop((stalled, unread));
}

/// A static file server (Python's) on 127.0.0.1 over `dir`, stopped when dropped.
fn static_server(dir: &Path) -> Served {
    let mut command = Command::new("python3");
    command
        .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
        .current_dir(dir);
    // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
    Served::start(command, |line| {
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)?;
        Some(format!("http://127.0.0.1:{port}"))
    })
}

#[test]
fn site_writes_the_pages_and_rewrites_only_what_changed() {
    let pond = pond_with_series();
    let site = pond.host("site");
    let site_arg = site.to_string_lossy().into_owned();
    let first = pond.ok(&["site", &site_arg]);
    assert!(first.contains("0 unchanged"), "{first}");
    for file in [
        "index.html",
        "p/sensors/index.html",
        "p/sensors/buoy.series.html",
        "p/rollups/buoy/1h.series.html",
        "data/sensors/buoy.series.json",
        "log.html",
        "log/1.html",
        "assets/uPlot.iife.min.js",
        "assets/uPlot.LICENSE.txt",
    ] {
        assert!(site.join(file).exists(), "{file} in {first}");
    }
    let levels: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("data/sensors/buoy.series.json")).unwrap())
            .unwrap();
    let resolutions: Vec<&str> = levels["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["resolution"].as_str().unwrap())
        .collect();
    assert_eq!(
        resolutions,
        ["1h", "1d", "1h"],
        "the rollups, then an overview"
    );
    let page = std::fs::read_to_string(site.join("p/sensors/buoy.series.html")).unwrap();
    assert!(
        page.contains("<base href=\"../../\">"),
        "links from the site's root"
    );
    assert!(page.contains("href=\"assets/pond.css\""));

    let again = pond.ok(&["site", &site_arg]);
    assert!(again.starts_with("wrote 0 files"), "{again}");
    let index = std::fs::metadata(site.join("index.html"))
        .unwrap()
        .modified()
        .unwrap();
    let mut air = String::from("t,air\n");
    air.push_str("2024-06-11T00:00:00Z,5\n");
    pond.append_t("air2.csv", "/sensors/air.series", &air);
    let changed = pond.ok(&["site", &site_arg]);
    let written: usize = changed
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{changed}"));
    // The air series' page and data, its directory's listing, the history and the new
    // commit's page; nothing else.
    assert!((4..=8).contains(&written), "{changed}");
    assert_eq!(
        std::fs::metadata(site.join("index.html"))
            .unwrap()
            .modified()
            .unwrap(),
        index,
        "the root's page did not change"
    );
}

/// Where the browser test leaves its screenshots.
fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_real_browser_draws_zooms_queries_and_meets_a_bad_path() {
    let pond = pond_with_series();
    let site = pond.host("site");
    pond.ok(&["site", &site.to_string_lossy()]);
    let server = serve(&pond, &[]);
    let files = static_server(&site);
    let shots = screenshots();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/check.mjs");
    let out = Command::new("node")
        .arg(&script)
        .args([
            server.url.as_str(),
            files.url.as_str(),
            "/sensors/buoy.series",
            "/sensors/air.series",
        ])
        .arg(&shots)
        .output()
        .expect("node runs tests/browser/check.mjs (npm ci --prefix crates/pond/tests/browser)");
    assert!(
        out.status.success(),
        "the browser script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("screenshots in {}", shots.display());
    assert_eq!(
        facts["tree"],
        serde_json::json!(["rollups/", "sensors/", "sites.table"]),
        "{facts}"
    );
    // The whole range: 240 hourly buckets; the preview's first page of rows.
    assert_eq!(facts["chart"]["resolution"], "1h", "{facts}");
    assert_eq!(facts["chart"]["points"], 240);
    assert_eq!(facts["chart"]["canvas"], true);
    assert_eq!(facts["preview_rows"], 100);
    // A tenth of ten days is a day of readings: finer than the hourly buckets, and what
    // the browser asked the server for.
    assert_eq!(facts["zoomed"]["resolution"], "raw", "{facts}");
    let zoomed = facts["zoomed"]["points"].as_u64().unwrap();
    assert!((1_000..=2_000).contains(&zoomed), "{facts}");
    assert!(
        facts["zoom_request"].as_str().unwrap().contains("start="),
        "{facts}"
    );
    let legend = facts["multi"]["legend"].to_string();
    assert!(
        legend.contains("/sensors/buoy.series") && legend.contains("/sensors/air.series"),
        "{facts}"
    );
    assert_eq!(facts["console"], serde_json::json!(["14400"]), "{facts}");
    assert!(
        facts["console_error"]
            .as_str()
            .unwrap()
            .contains("no such file or directory"),
        "{facts}"
    );
    assert_eq!(facts["bad_status"], 404);
    assert!(
        facts["bad_text"]
            .as_str()
            .unwrap()
            .contains("/no: no such file or directory"),
        "{facts}"
    );
    assert!(
        facts["static_chart"]["points"].as_u64().unwrap() > 0,
        "{facts}"
    );
    assert_eq!(facts["page_errors"], serde_json::json!([]), "{facts}");
    for shot in [
        "tree", "series", "zoomed", "multi", "console", "error", "static",
    ] {
        assert!(shots.join(format!("{shot}.png")).exists(), "{shot}.png");
    }
}

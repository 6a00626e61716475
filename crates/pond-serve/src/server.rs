//! `pond serve`: the pages and the JSON API under them, over HTTP.
//!
//! Read-only by construction: the server opens the pond for reading, queries go through
//! [`PondSession::sql`]'s read-only rules, and the only other things it serves are its
//! own embedded assets. Each request runs within a time budget and returns at most a row
//! budget; a response is built whole before it is sent, so a slow client holds no pond
//! state while it reads.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use axum::Router;
use axum::extract::{Path as UrlPath, Query, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use pond_sql::PondSession;
use serde::{Deserialize, Serialize};
use tinyfs::{EntryType, WD};
use tlogfs::Pond;

use crate::chart::{ChartRequest, chart_data};
use crate::facts::{Described, Listed, described, listed, micros};
use crate::pages::{self, Links, PAGE_ROWS, Preview};

/// Opens the pond: as it is now (`None`), or at a pond version.
pub type Opener = Arc<dyn Fn(Option<u64>) -> BoxFuture<'static, Result<Pond>> + Send + Sync>;

/// What one request may cost.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Time a request may take before it is answered with an error.
    pub time: Duration,
    /// Rows a page, a preview or a query's JSON may hold.
    pub rows: usize,
    /// Rows a download (CSV, Parquet) may hold.
    pub download_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time: Duration::from_secs(10),
            rows: 10_000,
            download_rows: 1_000_000,
        }
    }
}

/// How long the pond as it is now is reused before it is opened again: a new commit
/// shows within this.
const FRESH: Duration = Duration::from_secs(1);

struct App {
    open: Opener,
    limits: Limits,
    latest: Mutex<Option<(Instant, Arc<Pond>)>>,
    /// Chart answers by pond version and request: a pond version never changes, so
    /// viewers of one chart share one computation.
    charts: Mutex<lru::LruCache<String, Arc<Vec<u8>>>>,
    /// Chart computations and queries running at once: one a core, so that many
    /// clients' scans queue (within their time budget) instead of holding memory each.
    heavy: Arc<tokio::sync::Semaphore>,
    /// Where scans run: a runtime of their own, so that a scan computing without
    /// yielding holds one of its threads, never the server's, and a budget's timer fires.
    scans: Scans,
}

/// The scans' runtime, shut down without waiting when the server goes.
struct Scans(Option<tokio::runtime::Runtime>);

impl Drop for Scans {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Chart answers kept.
const CHARTS_KEPT: usize = 64;

impl App {
    /// The pond, as it is now or at `as_of`.
    async fn pond(&self, as_of: Option<u64>) -> Result<Arc<Pond>> {
        if as_of.is_none() {
            let latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, pond)) = latest.as_ref()
                && at.elapsed() < FRESH
            {
                return Ok(pond.clone());
            }
        }
        let pond = Arc::new((self.open)(as_of).await?);
        if as_of.is_none() {
            *self.latest.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((Instant::now(), pond.clone()));
        }
        Ok(pond)
    }

    /// `work`, a scan, in its turn, on the scans' runtime; aborted (at its next yield)
    /// when the request gives up on it.
    async fn heavy<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let turn = self.heavy.clone().acquire_owned().await?;
        let scans = self
            .scans
            .0
            .as_ref()
            .expect("the scans' runtime lives as long as the server");
        let task = Aborting(scans.spawn(async move {
            let _turn = turn;
            work.await
        }));
        task.await?
    }

    /// `work` within the time budget.
    async fn budget<T>(&self, what: &str, work: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.limits.time, work).await {
            Ok(result) => result,
            Err(_) => Err(anyhow!(
                "{what} took longer than the server's {} s budget",
                self.limits.time.as_secs()
            )),
        }
    }
}

/// A task, aborted when dropped: when the request awaiting it runs out of its budget.
struct Aborting<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for Aborting<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for Aborting<T> {
    type Output = std::result::Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

/// The server's routes over the pond `open` opens.
pub fn router(open: Opener, limits: Limits) -> std::io::Result<Router> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let app = Arc::new(App {
        open,
        limits,
        latest: Mutex::new(None),
        charts: Mutex::new(lru::LruCache::new(
            std::num::NonZeroUsize::new(CHARTS_KEPT).expect("not zero"),
        )),
        heavy: Arc::new(tokio::sync::Semaphore::new(cores)),
        scans: Scans(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(cores)
                .thread_name("pond-scan")
                .enable_all()
                .build()?,
        )),
    });
    Ok(Router::new()
        .route("/", get(|| async { Redirect::to("/p/") }))
        .route("/p/", get(root_page))
        .route("/p/{*path}", get(path_page))
        .route("/log", get(log_page))
        .route("/log/{version}", get(version_page))
        .route("/sql", get(console_page))
        .route("/chart", get(chart_page))
        .route("/assets/{name}", get(asset))
        .route("/api/list/", get(api_list_root))
        .route("/api/list/{*path}", get(api_list))
        .route("/api/describe/{*path}", get(api_describe))
        .route("/api/rows/{*path}", get(api_rows))
        .route("/api/chart/{*path}", get(api_chart))
        .route("/api/query", get(api_query))
        .route("/api/log", get(api_log))
        .route("/api/log/{version}", get(api_version))
        .fallback(|| async { Failure::page(StatusCode::NOT_FOUND, "no such page".into()) })
        .with_state(app))
}

/// An error answered as a page or as JSON, with a status that says what kind it is.
struct Failure {
    status: StatusCode,
    message: String,
    json: bool,
}

impl Failure {
    fn page(status: StatusCode, message: String) -> Failure {
        Failure {
            status,
            message,
            json: false,
        }
    }

    /// `e` as a page (or JSON): not found, a bad request, or over budget.
    fn from(e: anyhow::Error, json: bool) -> Failure {
        let message = format!("{e:#}");
        let status = if message.contains("no such file or directory")
            || message.contains("no such version")
            || message.contains("not found")
        {
            StatusCode::NOT_FOUND
        } else if message.contains("budget") {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::BAD_REQUEST
        };
        Failure {
            status,
            message,
            json,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if self.json {
            let body = serde_json::json!({ "error": self.message });
            (self.status, axum::Json(body)).into_response()
        } else {
            let page = pages::error(&Links::Server, self.status.as_u16(), &self.message);
            (self.status, page).into_response()
        }
    }
}

type Page = std::result::Result<Response, Failure>;

/// A page's or API call's options: `as_of` a pond version, `offset` a page of rows.
#[derive(Debug, Default, Deserialize)]
struct PathQuery {
    as_of: Option<u64>,
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn root_page(State(app): State<Arc<App>>, Query(q): Query<PathQuery>) -> Page {
    path_page(State(app), UrlPath(String::new()), Query(q)).await
}

async fn path_page(
    State(app): State<Arc<App>>,
    UrlPath(path): UrlPath<String>,
    Query(q): Query<PathQuery>,
) -> Page {
    let path = format!("/{path}");
    let work = async {
        let pond = app.pond(q.as_of).await?;
        let root = pond.fs().root();
        let bare = tinyfs::Path::parse(&path)?.without_version();
        let node = root.resolve(&bare).await?;
        if node.as_dir().is_some() {
            let entries = entries(&root, &path).await?;
            return Ok(pages::directory(&Links::Server, &path, &entries));
        }
        let d = described(&root, &path).await?;
        let offset = q.offset.unwrap_or(0);
        let (preview, preview_error) = if d.schema.is_some() {
            match preview(&root, &path, &d, offset, PAGE_ROWS).await {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(format!("{e:#}"))),
            }
        } else {
            (None, None)
        };
        let chart =
            (d.entry_type == EntryType::FileSeries.to_string()).then(|| chart_url(&path, q.as_of));
        let history = history(&root, &d).await?;
        Ok(pages::file(
            &Links::Server,
            &d,
            &history,
            preview.as_ref(),
            preview_error.as_deref(),
            chart.as_deref(),
        ))
    };
    match app.budget(&path, work).await {
        Ok(page) => Ok(page.into_response()),
        Err(e) => Err(Failure::from(e, false)),
    }
}

/// The newest versions of a stored file that is not a series, newest first (a series'
/// page lists the versions that make it up, from its description).
pub(crate) async fn history(root: &WD, d: &Described) -> Result<Vec<tinyfs::FileVersion>> {
    if d.latest.is_none() || d.entry_type == EntryType::FileSeries.to_string() {
        return Ok(Vec::new());
    }
    let mut versions = root.versions(d.path.as_str()).await?;
    versions.reverse();
    versions.truncate(pages::PAGE_VERSIONS);
    Ok(versions)
}

/// The chart API's URL for the series at `path`.
fn chart_url(path: &str, as_of: Option<u64>) -> String {
    let mut url = format!("/api/chart/{}", pages::encode(path.trim_start_matches('/')));
    if let Some(v) = as_of {
        url.push_str(&format!("?as_of={v}"));
    }
    url
}

/// A directory's entries (or one file's), as `list -l` shows them.
pub(crate) async fn entries(root: &WD, path: &str) -> Result<Vec<Listed>> {
    let canonical = root.canonicalize(&tinyfs::Path::parse(path)?).await?;
    let node = root.resolve(canonical.as_str()).await?;
    if node.as_dir().is_none() {
        return Ok(vec![listed(root, canonical).await?]);
    }
    let prefix = canonical.trim_end_matches('/');
    let mut out = Vec::new();
    for e in root.list(canonical.as_str()).await? {
        out.push(listed(root, format!("{prefix}/{}", e.name)).await?);
    }
    Ok(out)
}

/// `limit` rows of the table at `path` from `offset`: a series in time order, a table in
/// stored order.
pub(crate) async fn preview(
    root: &WD,
    path: &str,
    d: &Described,
    offset: usize,
    limit: usize,
) -> Result<Preview> {
    let session = PondSession::new(root.clone())?;
    let order = match &d.timestamp_column {
        Some(t) if d.entry_type == EntryType::FileSeries.to_string() => {
            format!(" ORDER BY {}", ident(t))
        }
        _ => String::new(),
    };
    let sql = format!(
        "SELECT * FROM {}{order} LIMIT {} OFFSET {offset}",
        ident(path),
        limit + 1
    );
    let (columns, mut rows, _) = rows_of(&session, &sql, limit + 1).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok(Preview {
        columns,
        rows,
        offset,
        more,
    })
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The rows of `sql`, as text, at most `budget` of them; whether there were more.
async fn rows_of(
    session: &PondSession,
    sql: &str,
    budget: usize,
) -> Result<(Vec<String>, Vec<Vec<Option<String>>>, bool)> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let df = session.sql(sql).await?;
    let columns: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut stream = pond_sql::stream(df).await?;
    let options = FormatOptions::default();
    let mut rows = Vec::new();
    let mut truncated = false;
    while let Some(batch) = stream.try_next().await.map_err(pond_sql::Error::from)? {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            if rows.len() == budget {
                truncated = true;
                break;
            }
            rows.push(
                batch
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(c, f)| c.is_valid(i).then(|| f.value(i).to_string()))
                    .collect(),
            );
        }
        if truncated {
            break;
        }
    }
    Ok((columns, rows, truncated))
}

#[derive(Debug, Default, Deserialize)]
struct LogQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

/// Commits a history page shows.
const LOG_PAGE: usize = 50;

/// The newest `limit` commits at or before `before`, and the version before them.
pub(crate) async fn commits(
    pond: &Pond,
    before: Option<u64>,
    limit: usize,
) -> Result<(Vec<tlogfs::LogEntry>, Option<u64>)> {
    let top = before.unwrap_or(pond.version()).min(pond.version());
    let mut out = Vec::new();
    let mut v = top as i64;
    while v >= 0 && out.len() < limit {
        out.extend(pond.log_entry(v as u64).await?);
        v -= 1;
    }
    Ok((out, (v >= 0).then_some(v as u64)))
}

async fn log_page(State(app): State<Arc<App>>, Query(q): Query<LogQuery>) -> Page {
    let work = async {
        let pond = app.pond(None).await?;
        let (entries, older) = commits(&pond, q.before, q.limit.unwrap_or(LOG_PAGE)).await?;
        Ok(pages::log(&Links::Server, &entries, older))
    };
    match app.budget("the history", work).await {
        Ok(page) => Ok(page.into_response()),
        Err(e) => Err(Failure::from(e, false)),
    }
}

async fn version_page(State(app): State<Arc<App>>, UrlPath(version): UrlPath<String>) -> Page {
    let work = async {
        let entry = log_entry(&app, &version).await?;
        Ok(pages::version(&Links::Server, &entry))
    };
    match app.budget("a version", work).await {
        Ok(page) => Ok(page.into_response()),
        Err(e) => Err(Failure::from(e, false)),
    }
}

async fn log_entry(app: &App, version: &str) -> Result<tlogfs::LogEntry> {
    let v: u64 = version
        .trim_start_matches('v')
        .parse()
        .map_err(|_| anyhow!("{version:?} is not a pond version (a number)"))?;
    let pond = app.pond(None).await?;
    if v > pond.version() {
        bail!("no such version: v{v} (the pond is at v{})", pond.version());
    }
    pond.log_entry(v)
        .await?
        .ok_or_else(|| anyhow!("pond version {v}: its commit is not found (removed by retention)"))
}

#[derive(Debug, Default, Deserialize)]
struct ConsoleQuery {
    sql: Option<String>,
}

async fn console_page(Query(q): Query<ConsoleQuery>) -> Response {
    pages::console(q.sql.as_deref().unwrap_or("")).into_response()
}

/// `/chart?path=A&path=B`: several series on one chart.
async fn chart_page(RawQuery(query): RawQuery) -> Page {
    let paths: Vec<String> = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.strip_prefix("path="))
        .map(percent_decode)
        .collect();
    if paths.is_empty() {
        return Err(Failure::page(
            StatusCode::BAD_REQUEST,
            "name the series to draw: /chart?path=/a.series&path=/b.series".into(),
        ));
    }
    let urls: Vec<String> = paths.iter().map(|p| chart_url(p, None)).collect();
    Ok(pages::multi_chart(&paths, &urls.join("|")).into_response())
}

/// `text` with `+` and `%XX` decoded, as a query string encodes it.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The embedded assets: uPlot (MIT, vendored from npm) and pond's own script and style.
pub(crate) const ASSETS: [(&str, &str, &str); 5] = [
    (
        "uPlot.iife.min.js",
        "text/javascript",
        include_str!("../assets/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css",
        include_str!("../assets/vendor/uplot/uPlot.min.css"),
    ),
    (
        "uPlot.LICENSE.txt",
        "text/plain",
        include_str!("../assets/vendor/uplot/LICENSE"),
    ),
    (
        "pond.js",
        "text/javascript",
        include_str!("../assets/pond.js"),
    ),
    ("pond.css", "text/css", include_str!("../assets/pond.css")),
];

async fn asset(UrlPath(name): UrlPath<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => ([(header::CONTENT_TYPE, *kind)], *body).into_response(),
        None => {
            Failure::page(StatusCode::NOT_FOUND, format!("no such asset: {name}")).into_response()
        }
    }
}

type Api = std::result::Result<Response, Failure>;

/// `work`, within the budget, as JSON.
async fn json<T: Serialize>(app: &App, what: &str, work: impl Future<Output = Result<T>>) -> Api {
    match app.budget(what, work).await {
        Ok(value) => Ok(axum::Json(value).into_response()),
        Err(e) => Err(Failure::from(e, true)),
    }
}

async fn api_list_root(State(app): State<Arc<App>>, Query(q): Query<PathQuery>) -> Api {
    api_list(State(app), UrlPath(String::new()), Query(q)).await
}

async fn api_list(
    State(app): State<Arc<App>>,
    UrlPath(path): UrlPath<String>,
    Query(q): Query<PathQuery>,
) -> Api {
    let path = format!("/{path}");
    json(&app, &path.clone(), async {
        let pond = app.pond(q.as_of).await?;
        entries(&pond.fs().root(), &path).await
    })
    .await
}

async fn api_describe(
    State(app): State<Arc<App>>,
    UrlPath(path): UrlPath<String>,
    Query(q): Query<PathQuery>,
) -> Api {
    let path = format!("/{path}");
    json(&app, &path.clone(), async {
        let pond = app.pond(q.as_of).await?;
        described(&pond.fs().root(), &path).await
    })
    .await
}

async fn api_rows(
    State(app): State<Arc<App>>,
    UrlPath(path): UrlPath<String>,
    Query(q): Query<PathQuery>,
) -> Api {
    let path = format!("/{path}");
    let limit = q.limit.unwrap_or(PAGE_ROWS).min(app.limits.rows);
    json(&app, &path.clone(), async {
        let pond = app.pond(q.as_of).await?;
        let root = pond.fs().root();
        let d = described(&root, &path).await?;
        if d.schema.is_none() {
            bail!("{path}: a {} has no rows", d.entry_type);
        }
        preview(&root, &path, &d, q.offset.unwrap_or(0), limit).await
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
struct ChartQuery {
    as_of: Option<u64>,
    start: Option<String>,
    end: Option<String>,
    width: Option<usize>,
    columns: Option<String>,
    resolution: Option<String>,
}

/// An instant given as microseconds since the epoch or RFC 3339.
fn instant(text: &str) -> Result<i64> {
    if let Ok(us) = text.parse::<f64>() {
        return Ok(us as i64);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|_| anyhow!("{text:?} is not a time (microseconds since the epoch, or RFC 3339)"))
}

async fn api_chart(
    State(app): State<Arc<App>>,
    UrlPath(path): UrlPath<String>,
    Query(q): Query<ChartQuery>,
) -> Api {
    let path = format!("/{path}");
    let work = async {
        let pond = app.pond(q.as_of).await?;
        let key = format!(
            "{}|{path}|{:?}|{:?}|{:?}|{:?}|{:?}",
            pond.version(),
            q.start,
            q.end,
            q.width,
            q.columns,
            q.resolution
        );
        let cached = app
            .charts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(body) = cached {
            return Ok(body);
        }
        let request = ChartRequest {
            path: path.clone(),
            start: q.start.as_deref().map(instant).transpose()?,
            end: q.end.as_deref().map(instant).transpose()?,
            width: q.width.unwrap_or(1000),
            columns: q
                .columns
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(|c| c.split(',').map(String::from).collect()),
            resolution: q
                .resolution
                .clone()
                .filter(|r| !r.is_empty() && r != "auto"),
        };
        let scanned = pond.clone();
        let data = app
            .heavy(async move { chart_data(&scanned.fs().root(), &request).await })
            .await?;
        let body = Arc::new(serde_json::to_vec(&data)?);
        app.charts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(key, body.clone());
        Ok(body)
    };
    match app.budget(&path, work).await {
        Ok(body) => Ok((
            [(header::CONTENT_TYPE, "application/json")],
            body.as_ref().clone(),
        )
            .into_response()),
        Err(e) => Err(Failure::from(e, true)),
    }
}

#[derive(Debug, Default, Deserialize)]
struct QueryQuery {
    sql: Option<String>,
    format: Option<String>,
    as_of: Option<u64>,
}

/// A query's answer as JSON.
#[derive(Debug, Serialize)]
struct Answer {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
    /// Whether rows past the budget were left out.
    truncated: bool,
    elapsed_ms: u64,
}

async fn api_query(State(app): State<Arc<App>>, Query(q): Query<QueryQuery>) -> Api {
    let Some(sql) = q.sql.filter(|s| !s.trim().is_empty()) else {
        return Err(Failure::from(anyhow!("no query: give ?sql=SELECT …"), true));
    };
    let format = q.format.unwrap_or_else(|| "json".into());
    let started = Instant::now();
    match format.as_str() {
        "json" => {
            json(&app, "the query", async {
                let pond = app.pond(q.as_of).await?;
                let (sql, budget) = (sql.clone(), app.limits.rows);
                let (columns, rows, truncated) = app
                    .heavy(async move {
                        let session = PondSession::new(pond.fs().root())?;
                        rows_of(&session, &sql, budget).await
                    })
                    .await?;
                Ok(Answer {
                    columns,
                    rows,
                    truncated,
                    elapsed_ms: started.elapsed().as_millis() as u64,
                })
            })
            .await
        }
        "csv" | "parquet" => {
            let work = async {
                let pond = app.pond(q.as_of).await?;
                let (sql, format, budget) = (sql.clone(), format.clone(), app.limits.download_rows);
                app.heavy(async move {
                    let session = PondSession::new(pond.fs().root())?;
                    download(&session, &sql, &format, budget).await
                })
                .await
            };
            match app.budget("the query", work).await {
                Ok((kind, body)) => Ok((
                    [
                        (header::CONTENT_TYPE, kind.to_string()),
                        (
                            header::CONTENT_DISPOSITION,
                            format!("attachment; filename=\"query.{format}\""),
                        ),
                    ],
                    body,
                )
                    .into_response()),
                Err(e) => Err(Failure::from(e, true)),
            }
        }
        other => Err(Failure::from(
            anyhow!("format {other:?}: choose json, csv or parquet"),
            true,
        )),
    }
}

/// The rows of `sql` as a CSV or Parquet file, refused past `budget` rows.
async fn download(
    session: &PondSession,
    sql: &str,
    format: &str,
    budget: usize,
) -> Result<(&'static str, Vec<u8>)> {
    let df = session.sql(sql).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mut stream = pond_sql::stream(df).await?;
    let mut batches = Vec::new();
    let mut rows = 0;
    while let Some(batch) = stream.try_next().await.map_err(pond_sql::Error::from)? {
        rows += batch.num_rows();
        if rows > budget {
            bail!(
                "the result has more than {budget} rows, the most a download holds; narrow the query"
            );
        }
        batches.push(batch);
    }
    let mut out = Vec::new();
    if format == "csv" {
        let mut writer = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut out);
        for b in &batches {
            writer.write(b)?;
        }
        drop(writer);
        Ok(("text/csv", out))
    } else {
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut out, schema, None)?;
        for b in &batches {
            writer.write(b)?;
        }
        writer.close()?;
        Ok(("application/vnd.apache.parquet", out))
    }
}

/// A commit as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct CommitRecord {
    version: u64,
    time: Option<String>,
    user: String,
    command: String,
    paths: Vec<String>,
}

impl From<tlogfs::LogEntry> for CommitRecord {
    fn from(e: tlogfs::LogEntry) -> Self {
        CommitRecord {
            version: e.version,
            time: e.timestamp_ms.map(|ms| micros(ms.saturating_mul(1000))),
            user: e.user,
            command: e.command,
            paths: e.paths,
        }
    }
}

async fn api_log(State(app): State<Arc<App>>, Query(q): Query<LogQuery>) -> Api {
    json(&app, "the history", async {
        let pond = app.pond(None).await?;
        let limit = q.limit.unwrap_or(LOG_PAGE).min(app.limits.rows);
        let (entries, _) = commits(&pond, q.before, limit).await?;
        Ok(entries
            .into_iter()
            .map(CommitRecord::from)
            .collect::<Vec<_>>())
    })
    .await
}

async fn api_version(State(app): State<Arc<App>>, UrlPath(version): UrlPath<String>) -> Api {
    json(&app, "a version", async {
        Ok(CommitRecord::from(log_entry(&app, &version).await?))
    })
    .await
}

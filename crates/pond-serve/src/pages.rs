//! The pages, as HTML: the same for the server and the static site, but for their links.

use maud::{DOCTYPE, Markup, html};

use crate::facts::{Described, Listed, bytes, micros};

/// Where a page's links go.
#[derive(Clone, Debug)]
pub enum Links {
    /// The server's routes: `/p/PATH`, `/log`, `/sql`, the JSON API.
    Server,
    /// Files of a static site, relative to its root (each page sets `<base>` to it):
    /// `p/PATH.html`, a directory's `p/PATH/index.html`, `log.html`.
    Static {
        /// From the page to the site's root: `../../`, or empty at the root.
        base: String,
    },
}

impl Links {
    fn is_static(&self) -> bool {
        matches!(self, Links::Static { .. })
    }

    /// The page of the pond path `path` (a directory's when `dir`).
    pub fn page(&self, path: &str, dir: bool) -> String {
        let trimmed = path.trim_matches('/');
        match self {
            Links::Server if trimmed.is_empty() => "/p/".into(),
            Links::Server => format!("/p/{}", encode(trimmed)),
            Links::Static { .. } if trimmed.is_empty() => "index.html".into(),
            Links::Static { .. } if dir => format!("p/{}/index.html", encode(trimmed)),
            Links::Static { .. } => format!("p/{}.html", encode(trimmed)),
        }
    }

    fn log(&self) -> String {
        match self {
            Links::Server => "/log".into(),
            Links::Static { .. } => "log.html".into(),
        }
    }

    fn version(&self, v: u64) -> String {
        match self {
            Links::Server => format!("/log/{v}"),
            Links::Static { .. } => format!("log/{v}.html"),
        }
    }

    fn asset(&self, name: &str) -> String {
        match self {
            Links::Server => format!("/assets/{name}"),
            Links::Static { .. } => format!("assets/{name}"),
        }
    }
}

/// A pond path in a URL: each segment percent-encoded, the slashes kept.
pub fn encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A page: `title`, the navigation, then `body`.
pub fn layout(links: &Links, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Links::Static { base } = links {
                    @if !base.is_empty() { base href=(base); }
                }
                title { (title) " — pond" }
                link rel="stylesheet" href=(links.asset("uPlot.min.css"));
                link rel="stylesheet" href=(links.asset("pond.css"));
            }
            body data-mode=(if links.is_static() { "static" } else { "server" }) {
                nav {
                    a.brand href=(links.page("/", true)) { "pond" }
                    a href=(links.page("/", true)) { "files" }
                    a href=(links.log()) { "history" }
                    @if !links.is_static() { a href="/sql" { "SQL" } }
                }
                main { (body) }
                script src=(links.asset("uPlot.iife.min.js")) {}
                script src=(links.asset("pond.js")) {}
            }
        }
    }
}

/// The path's breadcrumbs: each ancestor a link.
fn crumbs(links: &Links, path: &str) -> Markup {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    html! {
        h1.crumbs {
            a href=(links.page("/", true)) { "/" }
            @for (i, part) in parts.iter().enumerate() {
                @let sub = format!("/{}", parts[..=i].join("/"));
                @if i + 1 < parts.len() {
                    a href=(links.page(&sub, true)) { (part) } "/"
                } @else {
                    span { (part) }
                }
            }
        }
    }
}

/// A directory's page: its entries.
pub fn directory(links: &Links, path: &str, entries: &[Listed]) -> Markup {
    let body = html! {
        (crumbs(links, path))
        @if entries.is_empty() {
            p.empty { "This directory is empty." }
        } @else {
            table.entries {
                thead { tr { th { "name" } th { "type" } th.num { "size" } th.num { "versions" } th { "modified" } th { "made by" } } }
                tbody {
                    @for e in entries {
                        @let name = e.path.rsplit('/').next().unwrap_or(&e.path);
                        @let dir = e.entry_type == "directory";
                        tr {
                            td { a href=(links.page(&e.path, dir)) { (name) @if dir { "/" } } }
                            td { (e.entry_type) }
                            td.num { @if let Some(s) = e.size { (bytes(s)) } }
                            td.num { @if let Some(v) = e.version { (v) } }
                            td { @if let Some(m) = e.modified_micros { (micros(m)) } }
                            td {
                                @if let Some(f) = &e.factory { (f) }
                                @if let Some(t) = &e.target { "→ " (t) }
                                @if let Some(err) = &e.error { span.error { " " (err) } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(links, path, body)
}

/// A page of a table's rows.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Preview {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each value as text (null when NULL).
    pub rows: Vec<Vec<Option<String>>>,
    /// The first row's index.
    pub offset: usize,
    /// Whether rows follow.
    pub more: bool,
}

/// A table of `preview`'s rows.
pub fn rows_table(preview: &Preview) -> Markup {
    html! {
        table.rows {
            thead { tr { @for c in &preview.columns { th { (c) } } } }
            tbody {
                @for row in &preview.rows {
                    tr { @for v in row { @match v { Some(v) => td { (v) }, None => td.null { "NULL" } } } }
                }
            }
        }
    }
}

/// A file's page: what `describe` shows, a chart for a series, and a page of rows for a
/// table or series. `chart` is where the chart's data comes from (`None`: no chart).
pub fn file(
    links: &Links,
    d: &Described,
    history: &[tinyfs::FileVersion],
    preview: Option<&Preview>,
    preview_error: Option<&str>,
    chart: Option<&str>,
) -> Markup {
    let bare = d.path.as_str();
    let body = html! {
        (crumbs(links, &d.path))
        dl.facts {
            dt { "type" } dd { (d.entry_type) }
            dt { "node" } dd.mono { (d.node) }
            @if let Some(f) = &d.factory { dt { "factory" } dd { (f) } }
            @if let Some(e) = &d.external {
                dt { (e.kind) } dd { (e.location) ", version " (e.version) " (newest " (e.latest) ")" }
            }
            @if let (Some(latest), Some(showing)) = (d.latest, d.showing) {
                dt { "versions" } dd { (latest) " (showing v" (showing) ")" }
            }
            @if let Some(s) = d.size { dt { "size" } dd { (bytes(s)) " (" (s) " bytes)" } }
            @if let Some(h) = &d.blake3 { dt { "blake3" } dd.mono { (h) } }
            @if let Some(m) = &d.modified { dt { "modified" } dd { (m) } }
            @if let Some(r) = d.rows { dt { "rows" } dd { (r) } }
            @if let Some(t) = &d.timestamp_column { dt { "timestamp" } dd { (t) } }
            @if let Some([lo, hi]) = &d.range { dt { "range" } dd { (lo) " to " (hi) } }
            @for r in &d.rollups {
                dt { "rollup" } dd { a href=(links.page(&r.path, false)) { (r.resolution) } }
            }
        }
        @if let Some(config) = &d.config {
            h2 { "configuration (v" (config.version) ", " (config.written) ")" }
            pre { (config.text) }
        }
        @if let Some(url) = chart {
            h2 { "chart" }
            (chart_controls())
            div.chart data-url=(url) data-path=(d.path) {}
            p.hint { "Drag across the chart to zoom in; the server answers at a finer resolution." }
        }
        @if let Some(schema) = &d.schema {
            h2 { "schema" }
            table.schema {
                @for c in schema {
                    tr { td { (c.name) } td.mono { (c.data_type) } td { @if !c.nullable { "not null" } } }
                }
            }
        }
        @if let Some(e) = preview_error {
            p.error { (e) }
        }
        @if let Some(p) = preview {
            h2 { "rows " (p.offset + 1) "–" (p.offset + p.rows.len()) }
            (rows_table(p))
            @if !links.is_static() {
                p.pager {
                    @if p.offset > 0 {
                        a href=(format!("?offset={}", p.offset.saturating_sub(PAGE_ROWS))) { "◀ previous" } " "
                    }
                    @if p.more {
                        a href=(format!("?offset={}", p.offset + PAGE_ROWS)) { "next ▶" }
                    }
                }
            }
        }
        @if d.versions.len() > 1 {
            h2 { "versions" }
            table.versions {
                thead { tr { th.num { "version" } th.num { "rows" } th.num { "size" } th { "from" } th { "to" } th { "compacts" } } }
                tbody {
                    @for v in d.versions.iter().rev() {
                        tr {
                            td.num { (version_link(links, bare, v.version)) }
                            td.num { (v.rows) }
                            td.num { (bytes(v.size)) }
                            td { @if let Some(s) = &v.start { (s) } }
                            td { @if let Some(e) = &v.end { (e) } }
                            td { @if let Some(c) = &v.compacts { "v" (c) } }
                        }
                    }
                }
            }
        }
        @if !history.is_empty() {
            h2 { "versions" }
            table.versions {
                thead { tr { th.num { "version" } th.num { "size" } th { "written" } th { "blake3" } } }
                tbody {
                    @for v in history {
                        tr {
                            td.num { (version_link(links, bare, v.version)) }
                            td.num { (bytes(v.size)) }
                            td { (micros(v.modified_micros)) }
                            td.mono { (v.blake3.to_hex().as_str()[..16]) "…" }
                        }
                    }
                }
            }
        }
    };
    layout(links, &d.path, body)
}

/// `vN`, linking the page of that version of `path` where there is one (the server's).
fn version_link(links: &Links, path: &str, version: u64) -> Markup {
    html! {
        @if links.is_static() {
            "v" (version)
        } @else {
            a href=(links.page(&format!("{path}@v{version}"), false)) { "v" (version) }
        }
    }
}

/// Versions a file's page lists.
pub const PAGE_VERSIONS: usize = 100;

/// A chart's controls: its columns, zoom out, pan, and what it draws.
fn chart_controls() -> Markup {
    html! {
        div.chart-controls {
            span.columns {}
            button.zoom-out type="button" { "whole range" }
            button.pan-left type="button" { "◀" }
            button.pan-right type="button" { "▶" }
            span { "resolution: " b.resolution { "…" } " · points: " b.points { "…" } }
        }
    }
}

/// Rows a page of a table shows.
pub const PAGE_ROWS: usize = 100;

/// The history: commits, newest first; `older` links the page before when there is one.
pub fn log(links: &Links, entries: &[tlogfs::LogEntry], older: Option<u64>) -> Markup {
    let body = html! {
        h1 { "history" }
        table.log {
            thead { tr { th.num { "version" } th { "time" } th { "user" } th { "command" } th.num { "paths" } } }
            tbody {
                @for e in entries {
                    tr {
                        td.num { a href=(links.version(e.version)) { "v" (e.version) } }
                        td { @if let Some(ms) = e.timestamp_ms { (micros(ms.saturating_mul(1000))) } }
                        td { (e.user) }
                        td.mono { (e.command) }
                        td.num { (e.paths.len()) }
                    }
                }
            }
        }
        @if let Some(before) = older {
            @if !links.is_static() {
                p.pager { a href=(format!("/log?before={before}")) { "older ▶" } }
            }
        }
    };
    layout(links, "history", body)
}

/// One pond version: its commit and the paths it changed.
pub fn version(links: &Links, e: &tlogfs::LogEntry) -> Markup {
    let title = format!("pond version {}", e.version);
    let body = html! {
        h1 { (title) }
        dl.facts {
            @if let Some(ms) = e.timestamp_ms { dt { "time" } dd { (micros(ms.saturating_mul(1000))) } }
            dt { "user" } dd { (e.user) }
            dt { "command" } dd.mono { (e.command) }
        }
        h2 { "paths changed" }
        @if e.paths.is_empty() { p.empty { "none recorded" } }
        ul.paths {
            @for p in &e.paths {
                li { a href=(links.page(p, false)) { (p) } }
            }
        }
    };
    layout(links, &title, body)
}

/// Several series on one chart: `urls` is where each one's data comes from, `|` between.
pub fn multi_chart(paths: &[String], urls: &str) -> Markup {
    let body = html! {
        h1 { "chart" }
        ul.paths { @for p in paths { li { a href=(Links::Server.page(p, false)) { (p) } } } }
        (chart_controls())
        div.chart data-url=(urls) {}
    };
    layout(&Links::Server, "chart", body)
}

/// The SQL console.
pub fn console(query: &str) -> Markup {
    let body = html! {
        h1 { "SQL" }
        p.hint { "A read-only query; pond paths are table names: " code { "SELECT * FROM \"/sensors/buoy.series\" LIMIT 10" } }
        form.console {
            textarea name="sql" rows="6" spellcheck="false" { (query) }
            div {
                button type="submit" { "run" }
                " download: "
                a.download data-format="csv" href="#" { "CSV" } " "
                a.download data-format="parquet" href="#" { "Parquet" }
            }
        }
        p.status {}
        div.result {}
    };
    layout(&Links::Server, "SQL", body)
}

/// A page saying what went wrong.
pub fn error(links: &Links, status: u16, message: &str) -> Markup {
    let body = html! {
        h1 { "error " (status) }
        p.error { (message) }
        p { a href=(links.page("/", true)) { "back to the pond's root" } }
    };
    layout(links, "error", body)
}

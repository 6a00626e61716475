//! `pond site DIR`: the server's pages as static files, for any static web host.
//!
//! ```text
//! DIR/index.html                    the root directory
//! DIR/p/PATH/index.html             a directory
//! DIR/p/PATH.html                   a file: its description, first rows, chart
//! DIR/data/PATH.json                a series' chart data, one level a resolution
//! DIR/log.html, DIR/log/N.html      the newest commits, and one page each
//! DIR/assets/                       uPlot and pond's script and style
//! ```
//!
//! A series' chart data holds an overview (at most 2,000 pixels' worth) and each rollup a
//! temporal-reduce makes of it; the page draws the finest level whose points in the
//! window fit the chart. A file whose bytes would not change is not written again, so a
//! site kept in sync with a pond rewrites only what changed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use tinyfs::{EntryType, WD};
use tlogfs::Pond;

use crate::chart::{ChartData, ChartRequest, chart_data};
use crate::facts::described;
use crate::pages::{self, Links, PAGE_ROWS};
use crate::server::{ASSETS, commits, entries, history, preview};

/// What [`write_site`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SiteReport {
    /// Pages written (new or changed).
    pub written: usize,
    /// Files left as they were: their bytes would not change.
    pub unchanged: usize,
    /// Pond files that have a page.
    pub files: usize,
    /// Directories that have a page.
    pub directories: usize,
    /// Series drawn.
    pub charts: usize,
}

/// Commits the history page lists, each with its own page.
const SITE_COMMITS: usize = 200;

/// Points a rollup level may hold to be written (a finer one would make a large file).
const LEVEL_POINTS: usize = 200_000;

/// Writes the site of `pond` to `dir`.
pub async fn write_site(pond: &Pond, dir: &Path) -> Result<SiteReport> {
    let mut site = Site {
        dir: dir.to_path_buf(),
        report: SiteReport::default(),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let root = pond.fs().root();
    let mut pending = vec!["/".to_string()];
    while let Some(path) = pending.pop() {
        let listed = entries(&root, &path).await?;
        let page = format!(
            "{}index.html",
            if path == "/" {
                String::new()
            } else {
                format!("p{path}/")
            }
        );
        site.page(&page, |links| pages::directory(links, &path, &listed))?;
        site.report.directories += 1;
        for e in listed.iter().rev() {
            match e.entry_type.as_str() {
                "directory" => pending.push(e.path.clone()),
                t if t.starts_with("file:") => site.file(&root, &e.path).await?,
                _ => {}
            }
        }
    }
    let (log, _) = commits(pond, None, SITE_COMMITS).await?;
    site.page("log.html", |links| pages::log(links, &log, None))?;
    for entry in &log {
        site.page(&format!("log/{}.html", entry.version), |links| {
            pages::version(links, entry)
        })?;
    }
    for (name, _, body) in ASSETS {
        site.write(&format!("assets/{name}"), body.as_bytes())?;
    }
    Ok(site.report)
}

struct Site {
    dir: PathBuf,
    report: SiteReport,
}

/// A series' chart data in a static site: its levels, coarsest last.
#[derive(Serialize)]
struct Levels {
    levels: Vec<ChartData>,
}

impl Site {
    /// A file's page, and a series' chart data.
    async fn file(&mut self, root: &WD, path: &str) -> Result<()> {
        let d = described(root, path).await?;
        let (preview, error) = if d.schema.is_some() {
            match preview(root, path, &d, 0, PAGE_ROWS).await {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(format!("{e:#}"))),
            }
        } else {
            (None, None)
        };
        let series = d.entry_type == EntryType::FileSeries.to_string();
        let data = format!("data{}.json", pages::encode(path));
        if series {
            let mut levels = Vec::new();
            for r in pond_factories::reduce::rollups_of(root, &d.path).await? {
                let level = chart_data(
                    root,
                    &ChartRequest {
                        path: path.to_string(),
                        resolution: Some(r.resolution.clone()),
                        width: 10_000,
                        ..ChartRequest::default()
                    },
                )
                .await?;
                if level.t.len() <= LEVEL_POINTS {
                    levels.push(level);
                }
            }
            let overview = ChartRequest {
                path: path.to_string(),
                width: 2_000,
                ..ChartRequest::default()
            };
            levels.push(chart_data(root, &overview).await?);
            self.write(
                &format!("data{path}.json"),
                serde_json::to_string(&Levels { levels })?.as_bytes(),
            )?;
            self.report.charts += 1;
        }
        let history = history(root, &d).await?;
        self.page(&format!("p{path}.html"), |links| {
            pages::file(
                links,
                &d,
                &history,
                preview.as_ref(),
                error.as_deref(),
                series.then_some(data.as_str()),
            )
        })?;
        self.report.files += 1;
        Ok(())
    }

    /// The page at `relative`, rendered with links relative to the site's root.
    fn page(&mut self, relative: &str, render: impl FnOnce(&Links) -> maud::Markup) -> Result<()> {
        let depth = relative.matches('/').count();
        let links = Links::Static {
            base: "../".repeat(depth),
        };
        self.write(relative, render(&links).into_string().as_bytes())
    }

    /// `bytes` at `relative`, unless the file there holds them already.
    fn write(&mut self, relative: &str, bytes: &[u8]) -> Result<()> {
        let path = self.dir.join(relative);
        if std::fs::read(&path).is_ok_and(|old| old == bytes) {
            self.report.unchanged += 1;
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        let staged = path.with_extension("partial");
        std::fs::write(&staged, bytes)
            .and_then(|()| std::fs::rename(&staged, &path))
            .with_context(|| format!("{}: cannot write", path.display()))?;
        self.report.written += 1;
        Ok(())
    }
}

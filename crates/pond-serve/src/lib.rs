//! pond's read-only web app (`pond serve`) and static site (`pond site`).
//!
//! Both render the same pages ([`pages`]): the tree, a page per file with what `pond
//! describe` shows, a page of its rows and, for a series, a chart; the history and a page
//! per pond version. The server adds a SQL console and a JSON API under the pages:
//!
//! | route | answers |
//! |---|---|
//! | `GET /api/list/PATH` | a directory's entries (or one file's) as `pond list --format json` |
//! | `GET /api/describe/PATH` | what `pond describe --format json` prints |
//! | `GET /api/rows/PATH?offset=N&limit=N` | a page of a table's rows, as text |
//! | `GET /api/chart/PATH?start=T&end=T&width=PX&columns=a,b&resolution=R` | chart data at a resolution fitting `width`, or the rollup named ([`chart`]) |
//! | `GET /api/query?sql=SQL&format=json\|csv\|parquet` | a read-only query's rows |
//! | `GET /api/log?before=N&limit=N`, `GET /api/log/N` | commits, newest first; one commit |
//!
//! Every route takes `as_of=N` to read an earlier pond version, as `--as-of` does; a path
//! may name a version as `PATH@vN`. Charts draw with uPlot, vendored from npm with its
//! license and embedded in the binary: nothing is fetched from elsewhere.

pub mod chart;
pub mod facts;
pub mod pages;
mod server;
mod site;

pub use chart::warm_rollups;
pub use server::{Limits, Opener, router};
pub use site::{SiteReport, write_site};

//! [`PondSession`]: SQL over a pond, where every pond path is a table name.
//!
//! ```sql
//! SELECT site, avg(level) FROM "/sensors/a.series" JOIN "/sites.table" USING (site) GROUP BY site
//! ```
//!
//! Table names starting with `/` are resolved in the pond when a query is planned; other
//! names are tables registered on the session (`pond cat --sql` registers `source`).
//! Statements are read-only: no DDL, DML, `COPY`, or `SET`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, SchemaProvider};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use regex::Regex;
use tinyfs::WD;

use crate::error::{Error, Result};
use crate::file_table::{FileTable, Scope, file_table_at};
use crate::object_store::{POND_OBJECT_STORE_URL, PondObjectStore};

const CATALOG: &str = "pond";
const SCHEMA: &str = "public";

/// A DataFusion session over one pond (at the version its `WD` reads).
#[derive(Clone)]
pub struct PondSession {
    ctx: SessionContext,
    schema: Arc<PondSchema>,
}

impl std::fmt::Debug for PondSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PondSession").finish_non_exhaustive()
    }
}

/// The schema whose tables are pond paths, plus tables registered by name.
struct PondSchema {
    wd: WD,
    store: Arc<PondObjectStore>,
    named: RwLock<HashMap<String, Arc<dyn TableProvider>>>,
    opened: RwLock<HashMap<String, Arc<dyn TableProvider>>>,
    /// The pond's tables by path, as `SHOW TABLES` and `information_schema` list them:
    /// found by [`PondSession::list_tables`] before a query that asks for them.
    listed: RwLock<Option<HashMap<String, TableType>>>,
}

impl std::fmt::Debug for PondSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PondSchema").finish_non_exhaustive()
    }
}

#[async_trait]
impl SchemaProvider for PondSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .named
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        names.extend(
            self.listed
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .flat_map(|listed| listed.keys().cloned()),
        );
        names
    }

    async fn table_type(&self, name: &str) -> datafusion::error::Result<Option<TableType>> {
        // A listed path's kind is known without opening it: listing the pond's tables
        // reads no footer and plans no derived node.
        let listed = self
            .listed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|listed| listed.get(name).copied());
        match listed {
            Some(kind) => Ok(Some(kind)),
            None => Ok(self.table(name).await?.map(|t| t.table_type())),
        }
    }

    async fn table(&self, name: &str) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        if let Some(t) = self
            .named
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(Some(t.clone()));
        }
        if !name.starts_with('/') {
            return Ok(None);
        }
        // The session reads one pond version, so a table opened once (its footers read,
        // its statistics merged) serves every later query that names it.
        if let Some(t) = self
            .opened
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(Some(t.clone()));
        }
        let scope = Scope::new(self.wd.clone(), self.store.clone());
        let opened = async {
            let parsed = tinyfs::Path::parse(name)?;
            let (canonical, node) = self.wd.resolve_canonical(parsed.without_version()).await?;
            let table = file_table_at(canonical, parsed.version(), &node, name).await?;
            table.provider(&scope.at(name)).await
        }
        .await;
        match opened {
            Ok(table) => {
                self.opened
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.to_string(), table.clone());
                Ok(Some(table))
            }
            Err(e) => Err(DataFusionError::External(Box::new(e))),
        }
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        Ok(self
            .named
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, table))
    }

    fn table_exist(&self, name: &str) -> bool {
        name.starts_with('/')
            || self
                .named
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(name)
    }
}

impl PondSession {
    /// A session reading the pond through `wd`.
    pub fn new(wd: WD) -> Result<Self> {
        let store = Arc::new(PondObjectStore::new());
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            .with_information_schema(true);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        let ctx = SessionContext::new_with_state(state);
        let url = url::Url::parse(POND_OBJECT_STORE_URL).expect("a valid URL");
        ctx.register_object_store(&url, store.clone());
        let schema = Arc::new(PondSchema {
            wd,
            store,
            named: RwLock::new(HashMap::new()),
            opened: RwLock::new(HashMap::new()),
            listed: RwLock::new(None),
        });
        let catalog = MemoryCatalogProvider::new();
        catalog
            .register_schema(SCHEMA, schema.clone())
            .map_err(Error::Sql)?;
        ctx.register_catalog(CATALOG, Arc::new(catalog));
        Ok(PondSession { ctx, schema })
    }

    /// The DataFusion context.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The table side of the file at `path`, with the scope to open it in (at the node, so
    /// a derived node's errors name it).
    pub async fn open(&self, path: &str) -> Result<(Arc<dyn FileTable>, Scope)> {
        let parsed = tinyfs::Path::parse(path)?;
        let wd = &self.schema.wd;
        let (canonical, node) = wd.resolve_canonical(parsed.without_version()).await?;
        let table = file_table_at(canonical.clone(), parsed.version(), &node, path).await?;
        Ok((table, self.scope().at(&canonical)))
    }

    /// Where this session opens tables: its pond and object store, outside any derived
    /// node.
    pub fn scope(&self) -> Scope {
        Scope::new(self.schema.wd.clone(), self.schema.store.clone())
    }

    /// Registers `table` as `name`.
    pub fn register(&self, name: &str, table: Arc<dyn TableProvider>) -> Result<()> {
        self.schema
            .register_table(name.to_string(), table)
            .map(drop)
            .map_err(|source| Error::DataFusion {
                path: name.to_string(),
                source,
            })
    }

    /// The paths of the tables and series `glob` matches (as globs do, it enters no
    /// dynamic directory it does not name), sorted; from now on `SHOW TABLES` and
    /// `information_schema.tables` list them.
    pub async fn list_tables(&self, glob: &str) -> Result<Vec<String>> {
        let mut listed = HashMap::new();
        for m in self.schema.wd.glob(glob).await? {
            let Some(file) = m.node.as_file() else {
                continue;
            };
            if m.node.entry_type().is_table() {
                // A computed table (a derived node, a csvdir entry) is a view.
                let kind = if crate::is_computed(file.as_ref()) {
                    TableType::View
                } else {
                    TableType::Base
                };
                listed.insert(m.path, kind);
            }
        }
        let mut paths: Vec<String> = listed.keys().cloned().collect();
        paths.sort();
        *self
            .schema
            .listed
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(listed);
        Ok(paths)
    }

    /// Plans `sql`, which must be a read-only query. One that asks what tables there are
    /// (`SHOW TABLES`, `information_schema`) is told the pond's, by path.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        static ASKS_FOR_TABLES: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"(?i)\binformation_schema\b|\bshow\s+tables\b").expect("a valid pattern")
        });
        let listed = self
            .schema
            .listed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if !listed && ASKS_FOR_TABLES.is_match(sql) {
            self.list_tables("/**").await?;
        }
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        match self.ctx.sql_with_options(sql, options).await {
            Ok(df) => without_paths_in_names(df),
            Err(e) => Err(match self.hint(sql, &e).await {
                Some(hint) => Error::Query {
                    message: crate::error::sql_message(&e),
                    hint,
                },
                None => Error::Sql(e),
            }),
        }
    }

    /// What `sql`, which failed with `e`, probably meant, where that is cheap to tell: a
    /// pond path not in double quotes, a table name that is not a path, a path one typo
    /// away from a file that exists.
    async fn hint(&self, sql: &str, e: &DataFusionError) -> Option<String> {
        static UNQUOTED: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"(?i)\b(from|join)\s+(/[^\s,;()]*)").expect("a valid pattern")
        });
        match e.find_root() {
            DataFusionError::SQL(..) => UNQUOTED.captures(sql).map(|c| {
                format!(
                    "pond paths are table names in double quotes: {} \"{}\"",
                    c[1].to_uppercase(),
                    &c[2]
                )
            }),
            DataFusionError::Plan(m) if m.starts_with("table '") && m.ends_with("' not found") => {
                Some("pond tables are named by their path in double quotes, such as FROM \"/dir/name.table\"; `pond list -l` shows them".into())
            }
            DataFusionError::External(inner) => {
                let missing = match inner.downcast_ref::<Error>()? {
                    Error::Fs(tinyfs::Error::NotFound { path }) => path,
                    _ => return None,
                };
                let found = self.near_miss(missing).await?;
                Some(format!("did you mean \"{found}\"?"))
            }
            _ => None,
        }
    }

    /// The path of a file beside `path` whose name is one or two edits from its own.
    async fn near_miss(&self, path: &str) -> Option<String> {
        let (parent, name) = path.rsplit_once('/')?;
        let entries = self
            .schema
            .wd
            .list(if parent.is_empty() { "/" } else { parent })
            .await
            .ok()?;
        entries
            .into_iter()
            .map(|entry| (strsim::levenshtein(name, &entry.name), entry.name))
            .filter(|(distance, _)| (1..=2).contains(distance))
            .min()
            .map(|(_, found)| format!("{parent}/{found}"))
    }
}

/// `df` with its result columns named without the pond paths of the tables they come from
/// (`avg(temp)`, not `avg(/sensors/buoy.series.temp)`), unless that would make two columns
/// one name.
fn without_paths_in_names(df: DataFrame) -> Result<DataFrame> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::LogicalPlan;
    let mut paths = Vec::new();
    df.logical_plan()
        .apply(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                let name = scan.table_name.table().to_string();
                if name.starts_with('/') {
                    paths.push(format!("{name}."));
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .map_err(Error::Sql)?;
    // Longest first, so that `/a/b.series.` goes whole before `/b.series.` is tried.
    paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let names: Vec<&String> = df.schema().fields().iter().map(|f| f.name()).collect();
    let renamed: Vec<String> = names
        .iter()
        .map(|name| {
            paths
                .iter()
                .fold(name.to_string(), |name, path| strip_qualifier(&name, path))
        })
        .collect();
    let distinct: std::collections::HashSet<&String> = renamed.iter().collect();
    if renamed.iter().zip(&names).all(|(r, n)| r == *n) || distinct.len() < renamed.len() {
        return Ok(df);
    }
    let columns: Vec<datafusion::prelude::Expr> = df
        .schema()
        .columns()
        .into_iter()
        .zip(renamed)
        .map(|(column, name)| datafusion::prelude::Expr::Column(column).alias(name))
        .collect();
    df.select(columns).map_err(Error::Sql)
}

/// `name` without `qualifier` (`/s.series.`) where it starts a column reference: at the
/// start or after a character no path holds, so `/a/s.series.temp` keeps its `/a`.
fn strip_qualifier(name: &str, qualifier: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find(qualifier) {
        out.push_str(&rest[..at]);
        let starts = match out.chars().last() {
            None => true,
            Some(c) => !(c.is_alphanumeric() || "._-/@".contains(c)),
        };
        if !starts {
            out.push_str(qualifier);
        }
        rest = &rest[at + qualifier.len()..];
    }
    out.push_str(rest);
    out
}

/// Runs `df`, streaming its batches.
pub async fn stream(df: DataFrame) -> Result<SendableRecordBatchStream> {
    df.execute_stream().await.map_err(Error::Sql)
}

/// The physical plan of `df`, as `EXPLAIN` prints it.
pub async fn explain(df: DataFrame) -> Result<String> {
    let plan = df.create_physical_plan().await.map_err(Error::Sql)?;
    Ok(datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::strip_qualifier;

    #[test]
    fn a_qualifier_goes_only_where_it_starts_a_reference() {
        let strip = |name| strip_qualifier(name, "/s.series.");
        assert_eq!(strip("avg(/s.series.temp)"), "avg(temp)");
        assert_eq!(strip("/s.series.a + /s.series.b"), "a + b");
        assert_eq!(strip("avg(/x/s.series.temp)"), "avg(/x/s.series.temp)");
        assert_eq!(strip("avg(/as.series.temp)"), "avg(/as.series.temp)");
        assert_eq!(strip("temp"), "temp");
    }
}

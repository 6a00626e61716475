//! `sql-derived-table` and `sql-derived-series`: a read-only SQL query over pond tables.
//!
//! ```yaml
//! patterns:
//!   raw: /sensors/*.series
//! query: |
//!   SELECT date_trunc('hour', timestamp) AS timestamp, avg(level) AS level
//!   FROM raw GROUP BY 1
//! timestamp_column: timestamp   # series only; default: the inputs' when the query keeps it
//! ```
//!
//! Each pattern name is a table in the node's own catalog — never text substituted into
//! the SQL. For a derived table a pattern must match exactly one table; for a derived
//! series every match is an input (their rows together, columns merged by name), and a
//! series input brings all its versions. Inputs may be derived nodes themselves.
//!
//! The node is a view: its provider returns the query's logical plan, so DataFusion
//! inlines a chain of derived nodes and pushes filters and projections down to the stored
//! tables' Parquet scans. A node that reads itself, directly or through others, is an
//! error naming the cycle. The SQL is read-only: one query, no DDL, DML, `COPY` or `SET`,
//! and no table functions that read host files (none are registered).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider, TableProvider,
};
use datafusion::datasource::provider_as_source;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, Union};
use datafusion::prelude::{SQLOptions, SessionContext};
use datafusion::sql::parser::{DFParser, Statement};
use pond_sql::{ComputedFile, FileTable, Scope, file_table_of};
use serde::Deserialize;
use tinyfs::{EntryType, FileVersion, NodeKind};

use crate::registry::{BuildContext, Registry, TypedFactory};

/// The configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedConfig {
    /// Table name → pond glob.
    pub patterns: BTreeMap<String, String>,
    /// The query.
    pub query: String,
    /// A series' timestamp column.
    #[serde(default)]
    pub timestamp_column: Option<String>,
}

/// The `sql-derived-table` or `sql-derived-series` factory.
#[derive(Debug)]
pub struct DerivedFactory {
    entry_type: EntryType,
}

impl DerivedFactory {
    /// `sql-derived-table`.
    pub fn table() -> Self {
        DerivedFactory {
            entry_type: EntryType::FileTable,
        }
    }

    /// `sql-derived-series`.
    pub fn series() -> Self {
        DerivedFactory {
            entry_type: EntryType::FileSeries,
        }
    }
}

#[async_trait]
impl TypedFactory for DerivedFactory {
    type Config = DerivedConfig;

    fn name(&self) -> &'static str {
        match self.entry_type {
            EntryType::FileSeries => "sql-derived-series",
            _ => "sql-derived-table",
        }
    }

    fn description(&self) -> &'static str {
        match self.entry_type {
            EntryType::FileSeries => {
                "a series computed by SQL over every match and version of its input patterns"
            }
            _ => "a table computed by SQL over tables named by globs (one match each)",
        }
    }

    fn example(&self) -> &'static str {
        match self.entry_type {
            EntryType::FileSeries => {
                "patterns:\n  raw: /sensors/*.series\nquery: |\n  SELECT date_trunc('hour', timestamp) AS timestamp, avg(level) AS level\n  FROM raw GROUP BY 1\n"
            }
            _ => {
                "patterns:\n  sites: /sites.table\nquery: SELECT site, name FROM sites WHERE active\n"
            }
        }
    }

    fn entry_type(&self) -> EntryType {
        self.entry_type
    }

    fn check(&self, _registry: &Registry, config: &DerivedConfig) -> Result<(), String> {
        if config.patterns.is_empty() {
            return Err("patterns: name at least one input".into());
        }
        for (name, pattern) in &config.patterns {
            let parsed = tinyfs::glob::Pattern::parse(pattern)
                .map_err(|e| format!("patterns: {name}: {e}"))?;
            if !parsed.is_absolute() {
                return Err(format!(
                    "patterns: {name}: {pattern} is relative; write the pond path from / (a node has no working directory)"
                ));
            }
        }
        if self.entry_type == EntryType::FileTable && config.timestamp_column.is_some() {
            return Err("timestamp_column: only a sql-derived-series has one".into());
        }
        let statements = DFParser::parse_sql(&config.query).map_err(|e| format!("query: {e}"))?;
        match statements.iter().collect::<Vec<_>>().as_slice() {
            [Statement::Statement(s)]
                if matches!(**s, datafusion::sql::sqlparser::ast::Statement::Query(_)) => {}
            [_] => {
                return Err(
                    "query: only a query (SELECT, WITH, VALUES) is allowed; node SQL is read-only"
                        .into(),
                );
            }
            _ => return Err("query: write exactly one statement".into()),
        }
        Ok(())
    }

    async fn build(&self, ctx: BuildContext, config: DerivedConfig) -> tinyfs::Result<NodeKind> {
        let table = Arc::new(DerivedTable {
            id: ctx.id,
            entry_type: self.entry_type,
            config,
        });
        Ok(computed_node(&ctx, table))
    }
}

/// The file of a node whose table is `table`, computed on read: its one version is its
/// configuration's (a new configuration is a new file), with size 0, unknown until read.
pub(crate) fn computed_node(ctx: &BuildContext, table: Arc<dyn FileTable>) -> NodeKind {
    let version = FileVersion {
        version: ctx.config.version,
        size: 0,
        blake3: blake3::hash(&ctx.config.config),
        modified_micros: ctx.config.modified_micros,
        event_time: None,
        members: None,
        rows: None,
        compacts: None,
        origin: None,
    };
    NodeKind::File(Arc::new(ComputedFile::new(table, ctx.fs.root(), version)))
}

/// A derived node's table: its query planned over its inputs.
#[derive(Debug)]
pub struct DerivedTable {
    id: tinyfs::NodeId,
    entry_type: EntryType,
    config: DerivedConfig,
}

/// A context for planning one node's query: the functions of a default session (built
/// once per process, then cloned: building them is most of a session's cost) and an
/// empty catalog of its own, so a node sees only its inputs.
fn node_context() -> SessionContext {
    static BASE: std::sync::LazyLock<SessionState> =
        std::sync::LazyLock::new(|| SessionStateBuilder::new().with_default_features().build());
    let mut state = BASE.clone();
    let options = &state.config().options().catalog;
    let schema = MemorySchemaProvider::new();
    let catalog = MemoryCatalogProvider::new();
    // Registering in a new, empty memory catalog cannot fail.
    let _ = catalog.register_schema(&options.default_schema, Arc::new(schema));
    let catalogs = MemoryCatalogProviderList::new();
    catalogs.register_catalog(options.default_catalog.clone(), Arc::new(catalog));
    state.register_catalog_list(Arc::new(catalogs));
    SessionContext::new_with_state(state)
}

fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

impl DerivedTable {
    /// The inputs of pattern `name`: (path, table), checked against the node's kind.
    async fn inputs(
        &self,
        scope: &Scope,
        name: &str,
        pattern: &str,
    ) -> pond_sql::Result<Vec<(String, Arc<dyn FileTable>)>> {
        let here = scope.current().to_string();
        let matches: Vec<_> = scope
            .wd()
            .glob(pattern)
            .await?
            .into_iter()
            .filter(|m| m.node.as_file().is_some())
            .collect();
        if matches.is_empty() {
            return Err(pond_sql::Error::invalid(
                &here,
                format!("pattern {name} ({pattern}) matches no file"),
            ));
        }
        if self.entry_type == EntryType::FileTable && matches.len() > 1 {
            let paths: Vec<&str> = matches.iter().map(|m| m.path.as_str()).collect();
            return Err(pond_sql::Error::invalid(
                &here,
                format!(
                    "pattern {name} ({pattern}) must match one table, and matches {}: {}",
                    matches.len(),
                    paths.join(", ")
                ),
            ));
        }
        let mut out = Vec::with_capacity(matches.len());
        for m in matches {
            let table = file_table_of(scope.wd(), &m.path, &m.node).await?;
            out.push((m.path, table));
        }
        Ok(out)
    }

    /// The node's query planned over its inputs, opened in `scope`.
    async fn plan(&self, scope: &Scope) -> pond_sql::Result<Arc<dyn TableProvider>> {
        let here = scope.current().to_string();
        let df_err = |source| pond_sql::Error::DataFusion {
            path: here.clone(),
            source,
        };
        let ctx = node_context();
        for (name, pattern) in &self.config.patterns {
            let mut plans = Vec::new();
            for (path, table) in self.inputs(scope, name, pattern).await? {
                let provider = table.provider(&scope.at(&path)).await?;
                let plan =
                    LogicalPlanBuilder::scan(path.as_str(), provider_as_source(provider), None)
                        .and_then(|b| b.build())
                        .map_err(df_err)?;
                plans.push(plan);
            }
            // One union of every input, not a chain of pairs: a chain as deep as a
            // csvdir of a thousand days overflows the planner's stack.
            let plan = if plans.len() == 1 {
                plans.pop().expect("one match")
            } else {
                LogicalPlan::Union(
                    Union::try_new_by_name(plans.into_iter().map(Arc::new).collect())
                        .map_err(df_err)?,
                )
            };
            ctx.register_table(name.as_str(), Arc::new(ViewTable::new(plan, None)))
                .map_err(df_err)?;
        }
        let df = ctx
            .sql_with_options(&self.config.query, read_only())
            .await
            .map_err(df_err)?;
        Ok(Arc::new(ViewTable::new(
            df.into_unoptimized_plan(),
            Some(self.config.query.clone()),
        )))
    }
}

#[async_trait]
impl FileTable for DerivedTable {
    fn entry_type(&self) -> EntryType {
        self.entry_type
    }

    async fn provider(&self, scope: &Scope) -> pond_sql::Result<Arc<dyn TableProvider>> {
        // Planning reads the inputs, which may be derived nodes reading this one.
        tinyfs::cycle::reading(self.id, scope.current(), self.plan(scope)).await
    }

    async fn timestamp_column(&self, scope: &Scope) -> pond_sql::Result<Option<String>> {
        if self.entry_type != EntryType::FileSeries {
            return Ok(None);
        }
        if let Some(column) = &self.config.timestamp_column {
            return Ok(Some(column.clone()));
        }
        let schema = self.provider(scope).await?.schema();
        for (name, pattern) in &self.config.patterns {
            for (path, table) in self.inputs(scope, name, pattern).await? {
                if let Some(column) = table.timestamp_column(&scope.at(&path)).await?
                    && schema.field_with_name(&column).is_ok()
                {
                    return Ok(Some(column));
                }
            }
        }
        // Else a column of the result found as an import finds one (by name or type).
        Ok(pond_sql::find_timestamp_column(&schema, None, scope.current()).ok())
    }
}

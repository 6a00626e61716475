//! [`FS`]: a filesystem over a persistence, and its [`Transaction`]s.

use std::sync::Arc;

use crate::error::Result;
use crate::memory::MemoryPersistence;
use crate::persistence::{NodeBuilder, Persistence, TxnMeta, stored_root};
use crate::wd::WD;

/// A filesystem: a [`Persistence`] seen through working directories.
///
/// Reads work at any time and see committed state plus the open transaction's changes.
/// Changes need a [`Transaction`] from [`FS::begin`].
#[derive(Clone, Debug)]
pub struct FS {
    persistence: Arc<dyn Persistence>,
    builder: Option<Arc<dyn NodeBuilder>>,
}

impl FS {
    /// A filesystem over `persistence`.
    pub fn new(persistence: Arc<dyn Persistence>) -> Self {
        FS {
            persistence,
            builder: None,
        }
    }

    /// This filesystem with `builder` building its dynamic nodes.
    pub fn with_builder(&self, builder: Arc<dyn NodeBuilder>) -> Self {
        FS {
            persistence: self.persistence.clone(),
            builder: Some(builder),
        }
    }

    /// What builds dynamic nodes, if anything.
    pub fn builder(&self) -> Option<&Arc<dyn NodeBuilder>> {
        self.builder.as_ref()
    }

    /// A new, empty in-memory filesystem.
    pub fn memory() -> Self {
        FS::new(Arc::new(MemoryPersistence::new()))
    }

    /// The persistence underneath.
    pub fn persistence(&self) -> &Arc<dyn Persistence> {
        &self.persistence
    }

    /// The root directory.
    pub fn root(&self) -> WD {
        WD::root(self.clone(), stored_root(self))
    }

    /// Starts a transaction. Dropping the returned guard without committing rolls back.
    pub async fn begin(&self, meta: TxnMeta) -> Result<Transaction> {
        self.persistence.begin(meta).await?;
        Ok(Transaction {
            fs: self.clone(),
            open: true,
        })
    }

    /// The committed pond version.
    pub async fn version(&self) -> Result<u64> {
        self.persistence.version().await
    }
}

/// An open transaction. [`commit`](Transaction::commit) it, or drop it to roll back.
#[derive(Debug)]
#[must_use = "a transaction rolls back when dropped; call commit()"]
pub struct Transaction {
    fs: FS,
    open: bool,
}

impl Transaction {
    /// The root directory, for making changes.
    pub fn root(&self) -> WD {
        self.fs.root()
    }

    /// The filesystem.
    pub fn fs(&self) -> &FS {
        &self.fs
    }

    /// Commits every change: the new pond version, or `None` if nothing changed.
    pub async fn commit(mut self) -> Result<Option<u64>> {
        self.open = false;
        let result = self.fs.persistence.commit().await;
        if result.is_err() {
            self.fs.persistence.rollback();
        }
        result
    }

    /// Discards every change.
    pub fn rollback(mut self) {
        self.open = false;
        self.fs.persistence.rollback();
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.open {
            self.fs.persistence.rollback();
        }
    }
}

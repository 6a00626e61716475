//! [`PondObjectStore`]: pond file versions served to DataFusion as objects.
//!
//! DataFusion reads Parquet through an [`ObjectStore`]. This one serves the versions of pond
//! files registered with it, whatever persistence stores them (inline in the log, or a
//! plain file in `content/`): ranged reads seek the version's reader, so a footer read never
//! reads the body; sizes are the true body sizes; the e-tag is the body's BLAKE3, stable
//! for as long as the version exists; the modification time is the version's. It is
//! read-only: every write is refused as unsupported.
//!
//! Objects are named after the pond path and version, `<path>@v<N>`, so plans and
//! `EXPLAIN` output name the versions a query reads.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use parquet::file::metadata::ParquetMetaData;
use tinyfs::{File, FileVersion};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The URL DataFusion knows the store by.
pub const POND_OBJECT_STORE_URL: &str = "pond://files";

const STORE: &str = "pond";

#[derive(Clone)]
struct Entry {
    file: Arc<dyn File>,
    version: FileVersion,
    meta: ObjectMeta,
}

/// A read-only object store over registered pond file versions. It also keeps the
/// Parquet footers read of them (by body hash: a body's footer never changes), so a
/// session reads each footer once.
#[derive(Default)]
pub struct PondObjectStore {
    entries: RwLock<BTreeMap<ObjectPath, Entry>>,
    footers: RwLock<HashMap<blake3::Hash, Footer>>,
}

/// A Parquet footer, decoded.
pub(crate) type Footer = (Arc<ParquetMetaData>, SchemaRef);

impl fmt::Debug for PondObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.entries.read().map(|e| e.len()).unwrap_or(0);
        write!(f, "PondObjectStore({n} objects)")
    }
}

impl fmt::Display for PondObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PondObjectStore")
    }
}

/// The object name of version `version` of the pond file at `path`.
pub fn object_path(path: &str, version: u64) -> ObjectPath {
    let trimmed = path.trim_start_matches('/');
    let mut parts: Vec<String> = trimmed.split('/').map(String::from).collect();
    if let Some(last) = parts.last_mut() {
        last.push_str(&format!("@v{version}"));
    }
    ObjectPath::from_iter(parts)
}

impl PondObjectStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `version` of `file` (found at pond path `path`); returns its object metadata.
    pub fn register(&self, path: &str, file: Arc<dyn File>, version: FileVersion) -> ObjectMeta {
        let location = object_path(path, version.version);
        let meta = ObjectMeta {
            location: location.clone(),
            last_modified: chrono::DateTime::from_timestamp_micros(version.modified_micros)
                .unwrap_or_default(),
            size: version.size,
            e_tag: Some(version.blake3.to_hex().to_string()),
            version: Some(version.version.to_string()),
        };
        let entry = Entry {
            file,
            version,
            meta: meta.clone(),
        };
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(location, entry);
        meta
    }

    /// The footer of the body `hash`, if read in this session.
    pub(crate) fn footer(&self, hash: &blake3::Hash) -> Option<Footer> {
        self.footers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned()
    }

    /// Keeps the footer of the body `hash`.
    pub(crate) fn keep_footer(&self, hash: blake3::Hash, footer: Footer) {
        self.footers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash, footer);
    }

    fn entry(&self, location: &ObjectPath) -> object_store::Result<Entry> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(location)
            .cloned()
            .ok_or_else(|| object_store::Error::NotFound {
                path: location.to_string(),
                source: "no such pond file version is registered".into(),
            })
    }

    fn refuse(op: &str) -> object_store::Error {
        object_store::Error::NotSupported {
            source: format!("the pond object store is read-only: {op} is not supported").into(),
        }
    }
}

#[async_trait]
impl ObjectStore for PondObjectStore {
    async fn put_opts(
        &self,
        _location: &ObjectPath,
        _payload: PutPayload,
        _opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(Self::refuse("put"))
    }

    async fn put_multipart_opts(
        &self,
        _location: &ObjectPath,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(Self::refuse("multipart put"))
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let entry = self.entry(location)?;
        options.check_preconditions(&entry.meta)?;
        let size = entry.meta.size;
        let range = match &options.range {
            Some(r) => r.as_range(size).map_err(|e| object_store::Error::Generic {
                store: STORE,
                source: Box::new(e),
            })?,
            None => 0..size,
        };
        let generic = |e: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
            store: STORE,
            source: e,
        };
        let payload = if options.head {
            stream::empty().boxed()
        } else {
            // Counted by tests that bound what a scan reads.
            tracing::trace!(target: "pond_sql::object", path = %location, "reading a file version");
            let mut reader = entry
                .file
                .reader(Some(entry.version.version))
                .await
                .map_err(|e| generic(Box::new(e)))?;
            reader
                .seek(std::io::SeekFrom::Start(range.start))
                .await
                .map_err(|e| generic(Box::new(e)))?;
            let mut buf = vec![0u8; (range.end - range.start) as usize];
            reader
                .read_exact(&mut buf)
                .await
                .map_err(|e| generic(Box::new(e)))?;
            stream::once(async move { Ok(Bytes::from(buf)) }).boxed()
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(payload),
            meta: entry.meta,
            range,
            attributes: Default::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        locations.map(|_| Err(Self::refuse("delete"))).boxed()
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let metas: Vec<_> = entries
            .values()
            .filter(|e| prefix.is_none_or(|p| e.meta.location.prefix_matches(p)))
            .map(|e| Ok(e.meta.clone()))
            .collect();
        stream::iter(metas).boxed()
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let depth = prefix.map(|p| p.parts().count()).unwrap_or(0);
        let mut objects = Vec::new();
        let mut common_prefixes = std::collections::BTreeSet::new();
        for e in entries.values() {
            if !prefix.is_none_or(|p| e.meta.location.prefix_matches(p)) {
                continue;
            }
            let parts: Vec<_> = e.meta.location.parts().collect();
            if parts.len() == depth + 1 {
                objects.push(e.meta.clone());
            } else if parts.len() > depth + 1 {
                common_prefixes.insert(ObjectPath::from_iter(parts[..=depth].iter().cloned()));
            }
        }
        Ok(ListResult {
            common_prefixes: common_prefixes.into_iter().collect(),
            objects,
        })
    }

    async fn copy_opts(
        &self,
        _from: &ObjectPath,
        _to: &ObjectPath,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        Err(Self::refuse("copy"))
    }
}

#[cfg(test)]
mod tests {
    use object_store::{GetRange, ObjectStoreExt};
    use tinyfs::{EntryType, FS, TxnMeta};

    use super::*;

    #[tokio::test]
    async fn serves_ranges_sizes_and_stable_etags() {
        let fs = FS::memory();
        let tx = fs.begin(TxnMeta::default()).await.unwrap();
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 256) as u8).collect();
        tx.root()
            .write_file("/a b.parquet", EntryType::FileTable, &body)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let node = fs.root().resolve("/a b.parquet").await.unwrap();
        let file = node.as_file().unwrap().clone();
        let version = file.versions().await.unwrap().remove(0);
        let store = PondObjectStore::new();
        let meta = store.register("/a b.parquet", file, version);
        assert_eq!(meta.location.as_ref(), "a b.parquet@v1");
        assert_eq!(meta.size, 10_000);
        assert_eq!(
            meta.e_tag.as_deref(),
            Some(blake3::hash(&body).to_hex().as_str())
        );
        let head = store.head(&meta.location).await.unwrap();
        assert_eq!(head, meta);
        let tail = store
            .get_range(&meta.location, 9_990..10_000)
            .await
            .unwrap();
        assert_eq!(&tail[..], &body[9_990..]);
        let opts = GetOptions {
            range: Some(GetRange::Suffix(8)),
            ..Default::default()
        };
        let got = store.get_opts(&meta.location, opts).await.unwrap();
        assert_eq!(got.range, 9_992..10_000);
        assert_eq!(&got.bytes().await.unwrap()[..], &body[9_992..]);
        let missing = store.head(&ObjectPath::from("nope@v1")).await.unwrap_err();
        assert!(matches!(missing, object_store::Error::NotFound { .. }));
        let refused = store
            .put(&meta.location, PutPayload::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("read-only"), "{refused}");
        assert_eq!(store.list(None).count().await, 1);
    }
}

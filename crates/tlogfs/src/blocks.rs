//! Checked reads of stored bodies: a body's BLAKE3 tree cut into blocks.
//!
//! A body's name is its BLAKE3 hash, the root of a tree over its bytes. Cut the body into
//! [`BLOCK`]-byte blocks (a power-of-two number of BLAKE3 chunks) and each block is a
//! subtree whose chaining value (CV) the tree above it combines into the root. The store
//! keeps a body's block CVs beside it (`<hash>.blocks`, 32 bytes a block); merged, they
//! must give the body's name, so the list is checked once when opened, and then every block
//! a reader reads is checked against its CV. A read of a few row groups of a large body
//! hashes those blocks only, and damaged bytes are never returned.
//!
//! This is the tree of the BLAKE3 paper (section 2.1), built with [`blake3::hazmat`] and
//! checked against [`blake3::hash`] in the tests below.

use std::io::{self, SeekFrom};
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, left_subtree_len, merge_subtrees_non_root, merge_subtrees_root,
};
use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};

/// The bytes of a block: 256 BLAKE3 chunks.
pub const BLOCK: u64 = 256 << 10;

/// The CVs of a body's blocks, in order.
pub type BlockCvs = Vec<ChainingValue>;

/// Hashes a body as it streams by: its hash and its blocks' CVs, in one pass.
pub struct BlockHasher {
    block: blake3::Hasher,
    /// The bytes in the current block.
    filled: u64,
    cvs: BlockCvs,
    len: u64,
}

impl Default for BlockHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockHasher {
    pub fn new() -> Self {
        BlockHasher {
            block: blake3::Hasher::new(),
            filled: 0,
            cvs: Vec::new(),
            len: 0,
        }
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.filled == BLOCK {
                self.cvs.push(self.block.finalize_non_root());
                self.block = blake3::Hasher::new();
                self.block.set_input_offset(self.len);
                self.filled = 0;
            }
            let n = (BLOCK - self.filled).min(bytes.len() as u64) as usize;
            self.block.update(&bytes[..n]);
            self.filled += n as u64;
            self.len += n as u64;
            bytes = &bytes[n..];
        }
    }

    /// The body's hash, and its blocks' CVs (none for a body of one block: it is checked
    /// whole).
    pub fn finalize(mut self) -> (blake3::Hash, BlockCvs) {
        if self.cvs.is_empty() {
            return (self.block.finalize(), Vec::new());
        }
        self.cvs.push(self.block.finalize_non_root());
        let hash = root(&self.cvs, self.len).expect("more than one block");
        (hash, self.cvs)
    }
}

/// The hash of a body of `len` bytes whose blocks have `cvs`, or `None` if the count does
/// not fit the length (or there is one block, whose CV is not a root).
pub fn root(cvs: &[ChainingValue], len: u64) -> Option<blake3::Hash> {
    if len <= BLOCK || cvs.len() as u64 != len.div_ceil(BLOCK) {
        return None;
    }
    let left = left_subtree_len(len);
    let k = (left / BLOCK) as usize;
    Some(merge_subtrees_root(
        &subtree(&cvs[..k], left),
        &subtree(&cvs[k..], len - left),
        Mode::Hash,
    ))
}

/// The CV of the subtree of `len` bytes over the blocks `cvs` (aligned, so every split of a
/// subtree longer than a block falls between blocks).
fn subtree(cvs: &[ChainingValue], len: u64) -> ChainingValue {
    if cvs.len() == 1 {
        return cvs[0];
    }
    let left = left_subtree_len(len);
    let k = (left / BLOCK) as usize;
    merge_subtrees_non_root(
        &subtree(&cvs[..k], left),
        &subtree(&cvs[k..], len - left),
        Mode::Hash,
    )
}

/// How a body's reads are checked.
#[derive(Clone)]
pub(crate) enum Check {
    /// Each block against its CV.
    Blocks(Arc<BlockCvs>),
    /// The body is one block, checked whole against its hash.
    Whole(blake3::Hash),
}

/// A reader of one stored body that returns only bytes it has checked: reads go a block
/// at a time, each block hashed before any of it is handed out. A damaged block is an
/// [`io::ErrorKind::InvalidData`] error naming the body and the bytes.
///
/// From a local file, blocks are read with positioned reads (`pread`) in `poll_read`: a
/// block is 256 KiB, served from the page cache or one disk read. From an object store,
/// each block is one range request, awaited in `poll_read`: a reader that seeks to a
/// footer and a few row groups fetches those blocks and nothing else.
pub(crate) struct CheckedReader {
    source: Source,
    name: String,
    len: u64,
    check: Check,
    pos: u64,
    /// The block last read, and its index.
    block: Option<(u64, bytes::Bytes)>,
}

/// Where a [`CheckedReader`] reads blocks from.
enum Source {
    File(std::fs::File),
    Object {
        store: crate::store::Store,
        key: String,
        /// The block being fetched, and its index.
        fetching: Option<(
            u64,
            futures::future::BoxFuture<'static, crate::Result<bytes::Bytes>>,
        )>,
    },
}

impl CheckedReader {
    /// A reader of the local file `file` (named `name` in errors), `len` bytes.
    pub(crate) fn new(file: std::fs::File, name: String, len: u64, check: Check) -> Self {
        Self::of(Source::File(file), name, len, check)
    }

    /// A reader of the object `key` in `store`, `len` bytes.
    pub(crate) fn remote(store: crate::store::Store, key: String, len: u64, check: Check) -> Self {
        let name = store.shown(&key);
        let source = Source::Object {
            store,
            key,
            fetching: None,
        };
        Self::of(source, name, len, check)
    }

    fn of(source: Source, name: String, len: u64, check: Check) -> Self {
        CheckedReader {
            source,
            name,
            len,
            check,
            pos: 0,
            block: None,
        }
    }

    /// The byte range of block `index`.
    fn range(&self, index: u64) -> std::ops::Range<u64> {
        let start = index * BLOCK;
        start..(start + BLOCK).min(self.len)
    }

    /// Checks block `index`, whose bytes are `bytes`, and keeps it.
    fn accept(&mut self, index: u64, bytes: bytes::Bytes) -> io::Result<()> {
        let range = self.range(index);
        let intact = bytes.len() as u64 == range.end - range.start
            && match &self.check {
                Check::Whole(hash) => blake3::hash(&bytes) == *hash,
                Check::Blocks(cvs) => {
                    let mut hasher = blake3::Hasher::new();
                    hasher.set_input_offset(range.start);
                    hasher.update(&bytes);
                    cvs.get(index as usize) == Some(&hasher.finalize_non_root())
                }
            };
        if !intact {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is damaged: bytes {}..{} do not match its hash",
                    self.name, range.start, range.end
                ),
            ));
        }
        self.block = Some((index, bytes));
        Ok(())
    }

    /// Loads block `index`, read and checked, unless it is the one held.
    fn poll_load(&mut self, cx: &mut Context<'_>, index: u64) -> Poll<io::Result<()>> {
        if self.block.as_ref().is_some_and(|(i, _)| *i == index) {
            return Poll::Ready(Ok(()));
        }
        let range = self.range(index);
        let bytes = match &mut self.source {
            Source::File(file) => {
                let mut bytes = vec![0; (range.end - range.start) as usize];
                file.read_exact_at(&mut bytes, range.start)?;
                bytes::Bytes::from(bytes)
            }
            Source::Object {
                store,
                key,
                fetching,
            } => {
                if fetching.as_ref().is_none_or(|(i, _)| *i != index) {
                    let (store, key) = (store.clone(), key.clone());
                    let range = range.clone();
                    *fetching = Some((
                        index,
                        Box::pin(async move { store.get_range(&key, range).await }),
                    ));
                }
                let (_, fetch) = fetching.as_mut().expect("set above");
                let fetched = std::task::ready!(fetch.as_mut().poll(cx));
                *fetching = None;
                fetched.map_err(|e| io::Error::other(e.to_string()))?
            }
        };
        Poll::Ready(self.accept(index, bytes))
    }
}

impl AsyncRead for CheckedReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos >= this.len || buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let pos = this.pos;
        std::task::ready!(this.poll_load(cx, pos / BLOCK))?;
        let (_, block) = this.block.as_ref().expect("just loaded");
        let at = (pos % BLOCK) as usize;
        let n = (block.len() - at).min(buf.remaining());
        buf.put_slice(&block[at..at + n]);
        this.pos += n as u64;
        Poll::Ready(Ok(()))
    }
}

impl AsyncSeek for CheckedReader {
    fn start_seek(mut self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        let target = match position {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(n) => self.len.checked_add_signed(n),
            SeekFrom::Current(n) => self.pos.checked_add_signed(n),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(self.pos))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};

    use super::*;

    fn body(len: u64) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 997) as u8).collect()
    }

    #[test]
    fn the_blocks_give_the_bodys_hash() {
        let b = BLOCK;
        for len in [
            0,
            1,
            1024,
            b - 1,
            b,
            b + 1,
            2 * b,
            3 * b + 5,
            4 * b,
            5 * b - 1,
            9 * b,
        ] {
            let bytes = body(len);
            let mut hasher = BlockHasher::new();
            // In uneven pieces, as a writer sends them.
            for piece in bytes.chunks(100_003) {
                hasher.update(piece);
            }
            let (hash, cvs) = hasher.finalize();
            assert_eq!(hash, blake3::hash(&bytes), "{len} bytes");
            assert_eq!(cvs.len() as u64, if len <= b { 0 } else { len.div_ceil(b) });
            if len > b {
                assert_eq!(root(&cvs, len), Some(hash));
                assert_eq!(root(&cvs[1..], len), None);
            }
        }
    }

    #[tokio::test]
    async fn reads_return_checked_bytes_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body");
        let len = 3 * BLOCK + 1000;
        let bytes = body(len);
        std::fs::write(&path, &bytes).unwrap();
        let mut hasher = BlockHasher::new();
        hasher.update(&bytes);
        let (_, cvs) = hasher.finalize();
        let cvs = Arc::new(cvs);
        let open = || {
            let file = std::fs::File::open(&path).unwrap();
            CheckedReader::new(
                file,
                path.display().to_string(),
                len,
                Check::Blocks(cvs.clone()),
            )
        };
        let mut all = Vec::new();
        open().read_to_end(&mut all).await.unwrap();
        assert_eq!(all, bytes);
        let mut reader = open();
        reader.seek(SeekFrom::End(-10)).await.unwrap();
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).await.unwrap();
        assert_eq!(tail, bytes[bytes.len() - 10..]);

        // One flipped bit in the third block: reads of it fail, reads of the others do not.
        let mut damaged = bytes.clone();
        damaged[(2 * BLOCK + 17) as usize] ^= 0x10;
        std::fs::write(&path, &damaged).unwrap();
        let mut reader = open();
        let mut first = vec![0; BLOCK as usize];
        reader.read_exact(&mut first).await.unwrap();
        assert_eq!(first, bytes[..BLOCK as usize]);
        reader.seek(SeekFrom::Start(2 * BLOCK + 100)).await.unwrap();
        let err = reader.read_u8().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("bytes 524288..786432"), "{err}");
    }
}

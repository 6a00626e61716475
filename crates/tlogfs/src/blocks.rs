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
use std::path::PathBuf;
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
/// [`io::ErrorKind::InvalidData`] error naming the body's file and the bytes.
///
/// Blocks are read with positioned reads (`pread`) from `poll_read`: a block is 256 KiB
/// of a local file, served from the page cache or one disk read.
pub(crate) struct CheckedReader {
    file: std::fs::File,
    path: PathBuf,
    len: u64,
    check: Check,
    pos: u64,
    /// The block last read, and its index.
    block: Option<(u64, Vec<u8>)>,
}

impl CheckedReader {
    pub(crate) fn new(file: std::fs::File, path: PathBuf, len: u64, check: Check) -> Self {
        CheckedReader {
            file,
            path,
            len,
            check,
            pos: 0,
            block: None,
        }
    }

    /// Block `index`, read and checked.
    fn load(&mut self, index: u64) -> io::Result<&[u8]> {
        if self.block.as_ref().is_none_or(|(i, _)| *i != index) {
            let start = index * BLOCK;
            let end = (start + BLOCK).min(self.len);
            let mut bytes = vec![0; (end - start) as usize];
            self.file.read_exact_at(&mut bytes, start)?;
            let intact = match &self.check {
                Check::Whole(hash) => blake3::hash(&bytes) == *hash,
                Check::Blocks(cvs) => {
                    let mut hasher = blake3::Hasher::new();
                    hasher.set_input_offset(start);
                    hasher.update(&bytes);
                    cvs.get(index as usize) == Some(&hasher.finalize_non_root())
                }
            };
            if !intact {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is damaged: bytes {start}..{end} do not match its hash",
                        self.path.display()
                    ),
                ));
            }
            self.block = Some((index, bytes));
        }
        Ok(&self.block.as_ref().expect("just loaded").1)
    }
}

impl AsyncRead for CheckedReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos >= this.len || buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let pos = this.pos;
        let block = this.load(pos / BLOCK)?;
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
            CheckedReader::new(file, path.clone(), len, Check::Blocks(cvs.clone()))
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

//! A file's chunks read on several threads, their batches handed on in file order: how CSV
//! and JSON lines are read on every core.

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;

use crate::error::{Error, Result};

/// Why reading a chunk failed.
pub(crate) enum ChunkFailure {
    /// The Arrow reader's error, whose line numbers (if any) count from the chunk's start:
    /// the caller locates it in the file.
    Arrow(ArrowError),
    /// pond's, already saying where.
    Pond(Error),
}

/// Reads one chunk of a file: a run of whole records.
pub(crate) trait ChunkReader: Send + Sync + 'static {
    /// Where a chunk is.
    type Chunk: Send + Sync + 'static;

    /// Reads `chunk`, handing each batch to `send`, which says false when nobody listens
    /// any more (then the read stops).
    fn read(
        &self,
        chunk: &Self::Chunk,
        send: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> std::result::Result<(), ChunkFailure>;
}

/// What a thread sends: a chunk's batches, then its end.
enum Message {
    Batch(RecordBatch),
    End,
    Failed(ChunkFailure),
}

/// The batches of a file's chunks, read by threads, in file order: chunk `i` is read by
/// thread `i % threads`, with at most two batches waiting a thread, so memory stays
/// bounded however far one thread runs ahead.
pub(crate) struct InOrder {
    chunks: usize,
    /// The chunk whose batches come next.
    next: usize,
    workers: Vec<(Receiver<Message>, JoinHandle<()>)>,
}

impl InOrder {
    /// Starts `threads` threads, named `name-N`, reading `chunks` with `reader`.
    pub(crate) fn start<R: ChunkReader>(
        reader: Arc<R>,
        chunks: Arc<Vec<R::Chunk>>,
        threads: usize,
        name: &str,
    ) -> std::io::Result<InOrder> {
        let count = chunks.len();
        let mut workers = Vec::with_capacity(threads);
        for first in 0..threads {
            let (send, receive) = std::sync::mpsc::sync_channel(2);
            let (reader, chunks) = (reader.clone(), chunks.clone());
            let handle = std::thread::Builder::new()
                .name(format!("{name}-{first}"))
                .spawn(move || {
                    for chunk in chunks.iter().skip(first).step_by(threads) {
                        let mut listening = true;
                        let read = reader.read(chunk, &mut |batch| {
                            listening = send.send(Message::Batch(batch)).is_ok();
                            listening
                        });
                        let sent = match read {
                            Err(failure) => {
                                let _ = send.send(Message::Failed(failure));
                                false
                            }
                            Ok(()) => listening && send.send(Message::End).is_ok(),
                        };
                        if !sent {
                            return;
                        }
                    }
                })?;
            workers.push((receive, handle));
        }
        Ok(InOrder {
            chunks: count,
            next: 0,
            workers,
        })
    }

    /// The next batch in file order, or the first failure: an Arrow error is located in
    /// the file by `locate`, a thread that stopped without saying why (it panicked) is
    /// named by `shown`. Nothing comes after a failure.
    pub(crate) fn next_batch(
        &mut self,
        shown: &str,
        locate: impl FnOnce(ArrowError) -> Error,
    ) -> Option<Result<RecordBatch>> {
        while self.next < self.chunks {
            let worker = &self.workers[self.next % self.workers.len()].0;
            let failure = match worker.recv() {
                Ok(Message::Batch(batch)) => return Some(Ok(batch)),
                Ok(Message::End) => {
                    self.next += 1;
                    continue;
                }
                Ok(Message::Failed(ChunkFailure::Arrow(e))) => locate(e),
                Ok(Message::Failed(ChunkFailure::Pond(e))) => e,
                Err(_) => Error::invalid(shown, "a reading thread stopped"),
            };
            self.next = self.chunks;
            return Some(Err(failure));
        }
        None
    }
}

impl Drop for InOrder {
    fn drop(&mut self) {
        // A thread waiting to send stops once its receiver is gone.
        let handles: Vec<_> = self.workers.drain(..).map(|(_, handle)| handle).collect();
        for handle in handles {
            let _ = handle.join();
        }
    }
}

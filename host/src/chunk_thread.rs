//! A thread that consumes a stream of chunks, so that work on the data
//! (hashing, writing) overlaps with fetching the next chunk.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use dsrestore_protocol::codes;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Chunks in flight per thread before `send` waits.
const DEPTH: usize = 4;

/// Feeds chunks to `each` on a thread of its own; `finish` returns the state.
pub(crate) struct ChunkThread<S: Send + 'static> {
    chunks: Option<SyncSender<Arc<Vec<u8>>>>,
    done: Option<JoinHandle<S>>,
}

impl<S: Send + 'static> ChunkThread<S> {
    pub fn spawn(mut state: S, mut each: impl FnMut(&mut S, &[u8]) + Send + 'static) -> Self {
        let (chunks, received) = sync_channel::<Arc<Vec<u8>>>(DEPTH);
        let done = thread::spawn(move || {
            for chunk in received {
                each(&mut state, &chunk);
            }
            state
        });
        ChunkThread {
            chunks: Some(chunks),
            done: Some(done),
        }
    }

    /// Queues a chunk (waits while `DEPTH` chunks are queued).
    pub fn send(&self, chunk: Arc<Vec<u8>>) {
        if let Some(chunks) = &self.chunks {
            // The thread receives until the sender is dropped, so this fails
            // only if it panicked, which `finish` reports.
            let _ = chunks.send(chunk);
        }
    }

    /// Waits for every queued chunk; `None` if the thread panicked.
    pub fn finish(mut self) -> Option<S> {
        self.chunks = None;
        self.done.take().and_then(|t| t.join().ok())
    }
}

impl<S: Send + 'static> Drop for ChunkThread<S> {
    fn drop(&mut self) {
        self.chunks = None;
        if let Some(thread) = self.done.take() {
            let _ = thread.join();
        }
    }
}

/// The SHA-256 of a stream of chunks, computed on a thread of its own.
pub(crate) struct Sha256Thread(ChunkThread<Sha256>);

impl Sha256Thread {
    pub fn spawn() -> Self {
        Sha256Thread(ChunkThread::spawn(Sha256::new(), |hasher, chunk| {
            hasher.update(chunk)
        }))
    }

    /// Queues the next chunk.
    pub fn send(&self, chunk: Arc<Vec<u8>>) {
        self.0.send(chunk)
    }

    /// The checksum of every chunk sent, in lowercase hex.
    pub fn finish_hex(self) -> Result<String, Error> {
        let hasher = self
            .0
            .finish()
            .ok_or_else(|| Error::new(codes::HR_ERROR, "the SHA-256 thread panicked"))?;
        Ok(hex::encode(hasher.finalize()))
    }
}

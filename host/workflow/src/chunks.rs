//! The SHA-256 of a stream of chunks, computed on a thread of its own so that
//! hashing overlaps with reading or writing the next chunk. Under WASI (no
//! threads) the hash is computed on the calling thread, chunk by chunk.

use std::sync::Arc;

use dsrestore_protocol::codes;
use dsrestore_protocol::Error;
use sha2::Digest;

/// Hashes the chunks it is sent; `finish_hex` gives the checksum.
pub struct Sha256Thread(imp::Hasher);

impl Sha256Thread {
    pub fn spawn() -> Self {
        Sha256Thread(imp::Hasher::spawn())
    }

    /// Queues the next chunk (waits while a few are queued).
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

#[cfg(not(target_family = "wasm"))]
mod imp {
    use std::sync::mpsc::{sync_channel, SyncSender};
    use std::sync::Arc;
    use std::thread::{self, JoinHandle};

    use sha2::{Digest, Sha256};

    /// Chunks in flight before `send` waits.
    const DEPTH: usize = 4;

    pub struct Hasher {
        chunks: Option<SyncSender<Arc<Vec<u8>>>>,
        done: Option<JoinHandle<Sha256>>,
    }

    impl Hasher {
        pub fn spawn() -> Hasher {
            let (chunks, received) = sync_channel::<Arc<Vec<u8>>>(DEPTH);
            let done = thread::spawn(move || {
                let mut hasher = Sha256::new();
                for chunk in received {
                    hasher.update(&*chunk);
                }
                hasher
            });
            Hasher {
                chunks: Some(chunks),
                done: Some(done),
            }
        }

        pub fn send(&self, chunk: Arc<Vec<u8>>) {
            if let Some(chunks) = &self.chunks {
                // The thread receives until the sender is dropped, so this
                // fails only if it panicked, which `finish` reports.
                let _ = chunks.send(chunk);
            }
        }

        /// Waits for every queued chunk; `None` if the thread panicked.
        pub fn finish(mut self) -> Option<Sha256> {
            self.chunks = None;
            self.done.take().and_then(|t| t.join().ok())
        }
    }

    impl Drop for Hasher {
        fn drop(&mut self) {
            self.chunks = None;
            if let Some(thread) = self.done.take() {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(target_family = "wasm")]
mod imp {
    use std::cell::RefCell;
    use std::sync::Arc;

    use sha2::{Digest, Sha256};

    pub struct Hasher(RefCell<Sha256>);

    impl Hasher {
        pub fn spawn() -> Hasher {
            Hasher(RefCell::new(Sha256::new()))
        }

        pub fn send(&self, chunk: Arc<Vec<u8>>) {
            self.0.borrow_mut().update(&*chunk);
        }

        pub fn finish(self) -> Option<Sha256> {
            Some(self.0.into_inner())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Sha256;

    #[test]
    fn the_checksum_is_that_of_the_chunks_in_order() {
        let hasher = Sha256Thread::spawn();
        for chunk in [b"ab".to_vec(), b"c".to_vec()] {
            hasher.send(Arc::new(chunk));
        }
        assert_eq!(
            hasher.finish_hex().unwrap(),
            hex::encode(Sha256::digest(b"abc"))
        );
    }
}

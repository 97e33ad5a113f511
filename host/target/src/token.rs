//! Expiry tokens: what DsBackupPrepare hands out and DsRestorePrepare checks.
//!
//! The real token format is not public, so dsrestore defines its own (see
//! `docs/protocol.md`): a backup may be restored until `expires-at`, which is the
//! backup time plus the tombstone lifetime. The checksum catches corruption; the
//! token is not a secret and carries no authority.
//!
//! ```text
//! "DSXT" | version u8 = 1 | issued-at u64 BE | expires-at u64 BE |
//! server-len u16 BE | server (UTF-8) | first 8 bytes of SHA-256(all before)
//! ```

use dsrestore_protocol::codes;
use dsrestore_protocol::Error;
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 4] = b"DSXT";
const VERSION: u8 = 1;
const CHECKSUM_LEN: usize = 8;
const FIXED_LEN: usize = 4 + 1 + 8 + 8 + 2;

/// A decoded expiry token. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryToken {
    /// When the backup was taken.
    pub issued_at: u64,
    /// The last moment the backup may be restored.
    pub expires_at: u64,
    /// The server the backup was taken from.
    pub server: String,
}

impl ExpiryToken {
    /// The token's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let server = self.server.as_bytes();
        let server_len = u16::try_from(server.len()).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(FIXED_LEN + server.len() + CHECKSUM_LEN);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.issued_at.to_be_bytes());
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        out.extend_from_slice(&server_len.to_be_bytes());
        out.extend_from_slice(&server[..usize::from(server_len)]);
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum[..CHECKSUM_LEN]);
        out
    }

    /// Decodes `bytes`; anything but a well-formed token of a known version is
    /// hrUnknownExpiryTokenFormat.
    pub fn decode(bytes: &[u8]) -> Result<ExpiryToken, Error> {
        let unknown = |why: &str| Error {
            code: codes::HR_UNKNOWN_EXPIRY_TOKEN_FORMAT,
            message: format!(
                "expiry token of {} bytes is not recognised: {why}",
                bytes.len()
            ),
        };
        if bytes.len() < FIXED_LEN + CHECKSUM_LEN {
            return Err(unknown("too short"));
        }
        if &bytes[..4] != MAGIC {
            return Err(unknown("wrong magic"));
        }
        if bytes[4] != VERSION {
            return Err(unknown(&format!("version {} is not 1", bytes[4])));
        }
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if Sha256::digest(body)[..CHECKSUM_LEN] != *sum {
            return Err(unknown("checksum mismatch"));
        }
        let u64_at = |at: usize| u64::from_be_bytes(body[at..at + 8].try_into().expect("8 bytes"));
        let server_len = usize::from(u16::from_be_bytes([body[21], body[22]]));
        if body.len() != FIXED_LEN + server_len {
            return Err(unknown("length does not match the server name"));
        }
        let server = String::from_utf8(body[FIXED_LEN..].to_vec())
            .map_err(|_| unknown("server name is not UTF-8"))?;
        Ok(ExpiryToken {
            issued_at: u64_at(5),
            expires_at: u64_at(13),
            server,
        })
    }

    /// Refuses a token whose backup has outlived its useful life at `now`.
    pub fn check_not_expired(&self, now: u64) -> Result<(), Error> {
        if now > self.expires_at {
            return Err(Error {
                code: codes::HR_CONTENTS_EXPIRED,
                message: format!(
                    "the backup of {} taken at {} (unix) expired at {}, {} s ago: its contents are older than the tombstone lifetime",
                    self.server,
                    self.issued_at,
                    self.expires_at,
                    now - self.expires_at
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ExpiryToken {
        ExpiryToken {
            issued_at: 1_000,
            expires_at: 2_000,
            server: "dc1".into(),
        }
    }

    #[test]
    fn token_round_trips() {
        assert_eq!(ExpiryToken::decode(&sample().encode()).unwrap(), sample());
    }

    #[test]
    fn any_flipped_byte_is_unknown_format() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            let err = ExpiryToken::decode(&bad).unwrap_err();
            assert_eq!(err.code, codes::HR_UNKNOWN_EXPIRY_TOKEN_FORMAT, "byte {i}");
        }
    }

    #[test]
    fn truncated_token_is_unknown_format() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(ExpiryToken::decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn expiry_is_checked_against_now() {
        assert!(sample().check_not_expired(2_000).is_ok());
        assert_eq!(
            sample().check_not_expired(2_001).unwrap_err().code,
            codes::HR_CONTENTS_EXPIRED
        );
    }
}

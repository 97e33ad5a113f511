//! Expiry tokens: what DsBackupPrepare hands out and DsRestorePrepare checks,
//! and where a backup stands in its useful life ([`Lifetime`]), which a client
//! shows and checks before it contacts a target.
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

/// Where a backup stands in its useful life (the tombstone lifetime) at a
/// moment. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub issued_at: u64,
    pub expires_at: u64,
    pub now: u64,
}

/// `secs` in the largest unit that keeps it at 2 or more: "3 days", "5 hours".
pub fn span(secs: u64) -> String {
    const HOUR: u64 = 3600;
    const DAY: u64 = 24 * HOUR;
    if secs >= 2 * DAY {
        format!("{} days", secs / DAY)
    } else if secs >= 2 * HOUR {
        format!("{} hours", secs / HOUR)
    } else if secs >= 120 {
        format!("{} minutes", secs / 60)
    } else {
        format!("{secs} seconds")
    }
}

impl Lifetime {
    /// The token's lifetime at `now`.
    pub fn of(token: &ExpiryToken, now: u64) -> Lifetime {
        Lifetime {
            issued_at: token.issued_at,
            expires_at: token.expires_at,
            now,
        }
    }

    /// How old the backup is.
    pub fn age(&self) -> u64 {
        self.now.saturating_sub(self.issued_at)
    }

    /// The whole useful life.
    pub fn length(&self) -> u64 {
        self.expires_at.saturating_sub(self.issued_at)
    }

    /// How long the backup stays restorable (0 once expired).
    pub fn left(&self) -> u64 {
        self.expires_at.saturating_sub(self.now)
    }

    pub fn expired(&self) -> bool {
        self.now > self.expires_at
    }

    /// More than half of the useful life has passed: time for a new backup.
    pub fn past_half(&self) -> bool {
        self.age().saturating_mul(2) > self.length()
    }

    /// "taken 7 days ago, restorable for another 53 days (of a tombstone
    /// lifetime of 60 days)", or how long ago it expired.
    pub fn describe(&self) -> String {
        if self.expired() {
            format!(
                "taken {} ago, expired {} ago (its tombstone lifetime was {})",
                span(self.age()),
                span(self.now - self.expires_at),
                span(self.length())
            )
        } else {
            format!(
                "taken {} ago, restorable for another {} (of a tombstone lifetime of {})",
                span(self.age()),
                span(self.left()),
                span(self.length())
            )
        }
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

    #[test]
    fn a_lifetime_says_its_age_what_is_left_and_when_half_has_passed() {
        const DAY: u64 = 86_400;
        let at = |days: u64| Lifetime {
            issued_at: 0,
            expires_at: 60 * DAY,
            now: days * DAY,
        };
        assert_eq!(
            at(7).describe(),
            "taken 7 days ago, restorable for another 53 days (of a tombstone lifetime of 60 days)"
        );
        assert!(!at(30).past_half() && at(31).past_half());
        assert!(!at(60).expired() && at(61).expired());
        assert_eq!(
            at(63).describe(),
            "taken 63 days ago, expired 3 days ago (its tombstone lifetime was 60 days)"
        );
        assert_eq!(span(3 * 3600), "3 hours");
        assert_eq!(span(90), "90 seconds");
    }
}

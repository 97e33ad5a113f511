//! A certificate's SHA-256 fingerprint, as users pin it: `sha256:<64 hex>`.

use core::fmt;
use core::str::FromStr;

use dsrestore_protocol::{codes, Error};
use sha2::{Digest, Sha256};

/// The SHA-256 of a certificate's DER encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

/// How a fingerprint is written: `sha256:` then lowercase hex.
pub const PREFIX: &str = "sha256:";

impl Fingerprint {
    /// The fingerprint of the certificate `der`.
    pub fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Fingerprint {
    type Err = Error;

    /// `sha256:` and 64 hex digits, in either case, optionally separated by
    /// colons (as `openssl x509 -fingerprint` prints them).
    fn from_str(text: &str) -> Result<Fingerprint, Error> {
        let invalid = || {
            Error::new(
                codes::ERROR_INVALID_PARAMETER,
                format!("{text:?} is not a certificate fingerprint: write sha256: and 64 hex digits (`dsrestore agent fingerprint tcp://host:port` prints it)"),
            )
        };
        let hex = text
            .get(..PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(PREFIX))
            .map(|_| &text[PREFIX.len()..])
            .ok_or_else(invalid)?;
        let digits: Vec<u8> = hex.bytes().filter(|b| *b != b':').collect();
        if digits.len() != 64 {
            return Err(invalid());
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
            let pair = core::str::from_utf8(pair).map_err(|_| invalid())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        Ok(Fingerprint(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_reads_back_what_it_prints() {
        let f = Fingerprint::of(b"certificate");
        let text = f.to_string();
        assert!(text.starts_with("sha256:") && text.len() == 7 + 64);
        assert_eq!(text.parse::<Fingerprint>().unwrap(), f);
    }

    #[test]
    fn colons_and_upper_case_are_accepted() {
        let f = Fingerprint::of(b"x");
        let hex = &f.to_string()[7..];
        let openssl: Vec<String> = hex
            .as_bytes()
            .chunks(2)
            .map(|p| std::str::from_utf8(p).unwrap().to_uppercase())
            .collect();
        let text = format!("SHA256:{}", openssl.join(":"));
        assert_eq!(text.parse::<Fingerprint>().unwrap(), f);
    }

    #[test]
    fn a_short_or_non_hex_fingerprint_is_invalid_parameter() {
        for bad in [
            "",
            "sha256:",
            "sha256:abc",
            "md5:00",
            &format!("sha256:{}", "g".repeat(64)),
        ] {
            let e = bad.parse::<Fingerprint>().unwrap_err();
            assert_eq!(e.code, codes::ERROR_INVALID_PARAMETER, "{bad}");
        }
    }
}

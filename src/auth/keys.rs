//! API keys: `sck_` + 43 URL-safe base64 characters (256 random bits). Only the
//! SHA-256 of a key is stored; the key itself is printed once at creation.

use base64::Engine;
use sha2::Digest;

const PREFIX: &str = "sck_";

/// A new random key.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!("{PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What the store keeps and looks keys up by.
pub fn hash(key: &str) -> String {
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

/// Cheap shape check before any lookup.
pub fn looks_like_key(token: &str) -> bool {
    token.len() == PREFIX.len() + 43
        && token.starts_with(PREFIX)
        && token[PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_random_and_well_formed() {
        let (a, b) = (super::generate(), super::generate());
        assert_ne!(a, b);
        assert!(super::looks_like_key(&a), "{a}");
        assert_eq!(super::hash(&a).len(), 64);
        assert!(!super::looks_like_key("sck_short"));
    }
}

//! Catalog entries kept as their verified JSON text and parsed on first use.
//!
//! A run needs a handful of the 445 IAM services and 1,500 CloudFormation schemas,
//! so the one-shot CLI parses only those. Loading stays all-or-nothing: every file
//! is read whole and checked against the manifest's content hash, and its JSON
//! syntax is checked, before anything is served; [`Catalog::parse_all`](super::Catalog::parse_all)
//! (run by `serve` at start and by the catalog tests) parses every entry up front.

use std::sync::OnceLock;

use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde_json::value::RawValue;

/// One entry of a catalog file: its JSON text and, once asked for, its parsed value.
pub struct Lazy<T> {
    raw: Box<RawValue>,
    parsed: OnceLock<T>,
}

impl<'de, T> Deserialize<'de> for Lazy<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Lazy { raw: Box::<RawValue>::deserialize(deserializer)?, parsed: OnceLock::new() })
    }
}

impl<T: DeserializeOwned> Lazy<T> {
    /// The parsed entry. The text passed the manifest's hash check at load and the
    /// catalog tests parse every entry, so a failure here is a build defect.
    pub fn get(&self) -> &T {
        self.parse().unwrap_or_else(|e| panic!("catalog entry does not parse after its hash check: {e}"))
    }

    /// Parses the entry unless already parsed.
    pub fn parse(&self) -> Result<&T, serde_json::Error> {
        if let Some(parsed) = self.parsed.get() {
            return Ok(parsed);
        }
        let parsed = serde_json::from_str(self.raw.get())?;
        Ok(self.parsed.get_or_init(|| parsed))
    }

    /// Deserializes part of the entry (e.g. one field) without keeping it.
    pub fn peek<U: DeserializeOwned>(&self) -> Result<U, serde_json::Error> {
        serde_json::from_str(self.raw.get())
    }
}

//! Service-name resolution: exact or alias match only, never a nearest guess.

use serde::Serialize;

use super::Catalog;

/// Case, punctuation and spacing are not significant; an "Amazon"/"AWS" vendor
/// prefix is dropped so "Amazon SES" and "SES" meet (and "Amazon SES" can never
/// drift to SNS, as it does in the reference design).
pub(crate) fn normalize(name: &str) -> String {
    let lowered = name.to_lowercase();
    let words: Vec<&str> = lowered.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let start = words.iter().take_while(|w| matches!(**w, "amazon" | "aws")).count();
    let rest = &words[start.min(words.len().saturating_sub(1))..];
    rest.join(" ")
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub id: String,
    pub name: String,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Resolution {
    Resolved(String),
    /// The name denotes several services; the caller must pick one.
    Ambiguous(Vec<String>),
    Unknown(Vec<Suggestion>),
}

impl Catalog {
    pub fn resolve(&self, name: &str) -> Resolution {
        // A catalog id is exact: `resource-explorer` is never confused with `resource-explorer-2`.
        if self.identities.contains_key(name.trim()) {
            return Resolution::Resolved(name.trim().to_string());
        }
        let key = normalize(name);
        if name.chars().any(char::is_control) {
            // "Amazon\u{0}S3" normalises to "s3" but names no service: never map it silently.
            return Resolution::Unknown(self.suggest(&key, 5));
        }
        match self.names.get(&key).map(Vec::as_slice) {
            Some([id]) => Resolution::Resolved(id.clone()),
            Some(ids) if !ids.is_empty() => Resolution::Ambiguous(ids.to_vec()),
            _ => Resolution::Unknown(self.suggest(&key, 5)),
        }
    }

    /// Up to `limit` services whose names are closest to `key`, best first.
    pub fn suggest(&self, key: &str, limit: usize) -> Vec<Suggestion> {
        let mut best: Vec<Suggestion> = Vec::new();
        for (name, ids) in &self.names {
            let score = similarity(key, name);
            if score < 0.5 {
                continue;
            }
            for id in ids {
                match best.iter_mut().find(|s| &s.id == id) {
                    Some(s) if s.score >= score => {}
                    Some(s) => {
                        s.score = score;
                        s.name = name.clone();
                    }
                    None => best.push(Suggestion { id: id.clone(), name: name.clone(), score }),
                }
            }
        }
        best.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        best.truncate(limit);
        for s in &mut best {
            s.score = (s.score * 1000.0).round() / 1000.0;
        }
        best
    }
}

fn similarity(a: &str, b: &str) -> f64 {
    let jw = strsim::jaro_winkler(a, b);
    let lev = strsim::normalized_levenshtein(a, b);
    jw.max(lev)
}

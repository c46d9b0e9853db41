//! Verification checks. Every stage that emits something verifiable records one
//! [`Check`] per fact it verified; the `verify` stage gathers them into the
//! bundle's `verification.json`. A stage with a failed check fails: an invalid
//! bundle is never published.

use serde::{Deserialize, Serialize};

use super::StageError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    /// Kind of check, e.g. `cfn_property_exists`, `guard_rule_passes`.
    pub check: String,
    /// What was checked, e.g. `AWS::S3::Bucket.BucketEncryption`.
    pub subject: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The checks of one stage, in the order they ran.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Checks(pub Vec<Check>);

impl Checks {
    pub fn record(&mut self, check: &str, subject: impl Into<String>, passed: bool, detail: impl Into<String>) {
        self.0.push(Check { check: check.into(), subject: subject.into(), passed, detail: detail.into() });
    }

    pub fn pass(&mut self, check: &str, subject: impl Into<String>) {
        self.record(check, subject, true, "");
    }

    pub fn fail(&mut self, check: &str, subject: impl Into<String>, detail: impl Into<String>) {
        self.record(check, subject, false, detail);
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.0.iter().filter(|c| !c.passed)
    }

    /// `Err` naming the failed checks (at most five, then a count) if any failed.
    pub fn ensure_passed(&self, stage: &str) -> Result<(), StageError> {
        let failed: Vec<&Check> = self.failed().collect();
        if failed.is_empty() {
            return Ok(());
        }
        let mut msg = format!("{stage}: {} of {} verification checks failed: ", failed.len(), self.0.len());
        let shown: Vec<String> =
            failed.iter().take(5).map(|c| format!("{} on {} ({})", c.check, c.subject, c.detail)).collect();
        msg.push_str(&shown.join("; "));
        if failed.len() > 5 {
            msg.push_str(&format!("; and {} more", failed.len() - 5));
        }
        Err(StageError::Permanent(msg))
    }
}

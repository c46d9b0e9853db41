//! Classifies every action of a service by documented rules over its name and access
//! level. The personas and guardrails are set operations over these classes, so the rules
//! are the one place to read to know why an action is (or is not) in a policy.
//!
//! Rules (an action name is read as CamelCase words; `Batch` is skipped to find the verb):
//! - **data read**: reads stored content rather than configuration. The verb reads content
//!   (`Receive`, `Decrypt`, `Query`, `Scan`, `Select`, `Download`, `Retrieve`, `Filter`,
//!   `Unmask`, `Reveal`, `Read`, `Invoke`, `Subscribe`), or the verb is `Get`/`Start` and a
//!   word names content (`Object`, `Item`, `Record`, `Message`, `Events`, `Results`, `Shard`,
//!   `Password`, `Blob`, `Content`, `Torrent`, `Plaintext`, `Output`, `Query` after `Start`,
//!   `Secret`+`Value`, `Parameter`) and the last word is not metadata (`Acl`, `Attributes`,
//!   `Tagging`, `Retention`, `Hold`, `Policy`, `Configuration`, `Status`, `Metadata`). The
//!   reviewed list `knowledge/iam/data-read.yaml` adds and removes the rule's misses.
//! - **data write**: the verb writes content (`Put`, `Write`, `Upload`, `Append`, `Update`,
//!   `Delete`) and a content word is present, or the verb is `Send` or `Publish`.
//! - **permissions management**: the catalog's access level says so.
//! - **destructive**: a Write or Permissions-management action whose verb deletes
//!   (`Delete`, `Terminate`, `Purge`, `Destroy`, `Drop`, `Discard`) or that schedules a deletion.
//! - **disables logging or encryption**: a Write or Permissions-management action whose verb
//!   stops or removes (`Delete`, `Disable`, `Stop`, `Remove`, `Deregister`, `Disassociate`,
//!   `Unmonitor`, scheduled deletion) and whose words name logging or encryption (`Log`,
//!   `Logs`, `Logging`, `Trail`, `Encryption`, `Kms`, `Rotation`, `Recorder`, `Detector`,
//!   `Audit`, `Monitoring`, `Flow`, `Delivery`, `Publishing`; `Key` for the kms prefix).
//! - **data exfiltration**: a data read, an `Export`/`Share`/`Copy`/`Download` verb, or a
//!   Permissions-management action on a policy, permission, ACL, grant, share or attribute
//!   (the ways data is handed to someone else).
//! - **operate**: a Write action with an operational verb (`Start`, `Stop`, `Reboot`, …) that
//!   is neither destructive nor disabling nor permissions management nor a data write.

use serde::Serialize;

use super::names::{verb, words};
use crate::catalog::Action;
use crate::knowledge::iam::DataReadOverrides;

const DATA_READ_VERBS: &[&str] = &[
    "Receive",
    "Decrypt",
    "Query",
    "Scan",
    "Select",
    "Download",
    "Retrieve",
    "Filter",
    "Unmask",
    "Reveal",
    "Read",
    "Invoke",
    "Subscribe",
];
const CONTENT_WORDS: &[&str] = &[
    "Object",
    "Objects",
    "Item",
    "Items",
    "Record",
    "Records",
    "Message",
    "Messages",
    "Events",
    "Results",
    "Shard",
    "Password",
    "Blob",
    "Blobs",
    "Content",
    "Contents",
    "Torrent",
    "Plaintext",
    "Output",
    "Parameter",
    "Parameters",
];
const METADATA_LAST_WORDS: &[&str] = &[
    "Acl",
    "ACL",
    "Attributes",
    "Attribute",
    "Tagging",
    "Tags",
    "Retention",
    "Hold",
    "Policy",
    "Configuration",
    "Status",
    "Metadata",
];
const DATA_WRITE_VERBS: &[&str] = &["Put", "Write", "Upload", "Append", "Update", "Delete"];
const DESTRUCTIVE_VERBS: &[&str] = &["Delete", "Terminate", "Purge", "Destroy", "Drop", "Discard"];
const DISABLING_VERBS: &[&str] =
    &["Delete", "Disable", "Stop", "Remove", "Deregister", "Disassociate", "Unmonitor", "Terminate"];
const LOGGING_OR_ENCRYPTION_WORDS: &[&str] = &[
    "Log",
    "Logs",
    "Logging",
    "Trail",
    "Encryption",
    "Kms",
    "KMS",
    "Rotation",
    "Recorder",
    "Detector",
    "Audit",
    "Monitoring",
    "Flow",
    "Delivery",
    "Publishing",
];
const SHARING_WORDS: &[&str] =
    &["Policy", "Permission", "Permissions", "Acl", "ACL", "Grant", "Share", "Sharing", "Attribute", "Public"];
const EXFILTRATION_VERBS: &[&str] = &["Export", "Share", "Copy", "Download"];
const OPERATE_VERBS: &[&str] = &[
    "Start",
    "Stop",
    "Reboot",
    "Restart",
    "Resume",
    "Pause",
    "Cancel",
    "Retry",
    "Redrive",
    "Failover",
    "Promote",
    "Rotate",
    "Refresh",
    "Sync",
    "Flush",
    "Recover",
    "Acknowledge",
    "Suspend",
];

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RiskFlags {
    pub permissions_management: bool,
    pub data_exfiltration: bool,
    pub destructive: bool,
    pub disables_logging_or_encryption: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    /// `prefix:Action`, as the catalog spells it.
    pub action: String,
    pub access_level: String,
    pub data_read: bool,
    pub data_write: bool,
    pub operate: bool,
    /// True when the action accepts no resource ARN (its statements need `Resource: "*"`).
    pub no_resource_level_permissions: bool,
    pub flags: RiskFlags,
}

impl Classification {
    pub fn is_level(&self, level: &str) -> bool {
        self.access_level == level
    }

    /// Sensitive: what the administrator gets only through break-glass and what MFA guards.
    pub fn is_sensitive(&self) -> bool {
        self.flags.permissions_management || self.flags.destructive || self.flags.disables_logging_or_encryption
    }
}

fn has_any(words: &[&str], set: &[&str]) -> bool {
    words.iter().any(|w| set.contains(w))
}

fn names_content(words: &[&str]) -> bool {
    let last_is_metadata = words.last().is_some_and(|w| METADATA_LAST_WORDS.contains(w));
    let secret_value = words.contains(&"Secret") && words.contains(&"Value");
    !last_is_metadata && (has_any(words, CONTENT_WORDS) || secret_value)
}

fn data_read_by_rule(words: &[&str]) -> bool {
    let verb = verb(words);
    if DATA_READ_VERBS.contains(&verb) {
        return true;
    }
    match verb {
        "Get" => names_content(words),
        "Start" => words.contains(&"Query"),
        _ => false,
    }
}

fn schedules_deletion(words: &[&str]) -> bool {
    verb(words) == "Schedule" && words.last() == Some(&"Deletion")
}

fn disables_logging_or_encryption(prefix: &str, words: &[&str], level: &str) -> bool {
    let changes = level == "Write" || level == "Permissions management";
    let stops = DISABLING_VERBS.contains(&verb(words)) || schedules_deletion(words);
    let names_it = has_any(words, LOGGING_OR_ENCRYPTION_WORDS) || (prefix == "kms" && words.contains(&"Key"));
    changes && stops && (names_it || verb(words) == "Unmonitor")
}

pub fn classify(prefix: &str, name: &str, action: &Action, overrides: &DataReadOverrides) -> Classification {
    let qualified = format!("{prefix}:{name}");
    let words = words(name);
    let verb = verb(&words);
    let level = action.access_level.as_str();
    let changes = level == "Write" || level == "Permissions management";

    let mut data_read = data_read_by_rule(&words);
    if overrides.add.iter().any(|a| a.eq_ignore_ascii_case(&qualified)) {
        data_read = true;
    }
    if overrides.remove.iter().any(|a| a.eq_ignore_ascii_case(&qualified)) {
        data_read = false;
    }
    let data_write = level != "Tagging"
        && ((DATA_WRITE_VERBS.contains(&verb) && names_content(&words)) || matches!(verb, "Send" | "Publish"));
    let permissions_management = level == "Permissions management";
    let destructive = changes && (DESTRUCTIVE_VERBS.contains(&verb) || schedules_deletion(&words));
    let disables = disables_logging_or_encryption(prefix, &words, level);
    let shares = permissions_management && has_any(&words, SHARING_WORDS);
    let flags = RiskFlags {
        permissions_management,
        data_exfiltration: data_read || EXFILTRATION_VERBS.contains(&verb) || shares,
        destructive,
        disables_logging_or_encryption: disables,
    };
    let operate = level == "Write"
        && OPERATE_VERBS.contains(&verb)
        && !destructive
        && !disables
        && !data_write
        && !data_read
        && !permissions_management;
    Classification {
        action: qualified,
        access_level: action.access_level.clone(),
        data_read,
        data_write,
        operate,
        no_resource_level_permissions: action.resource_types.is_empty(),
        flags,
    }
}

//! A reviewer's decision on a run: approve or reject, who, why, and the
//! controls waived until a date. Checked here for everything that does not need
//! the bundle; whether a waived control exists is checked against the bundle.

use serde_json::Value;

use super::validate::{Checker, InputError, Warning, kind};
use crate::library::{Verdict, Waiver, time};

#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    pub decision: Verdict,
    pub reviewer: String,
    pub comment: Option<String>,
    pub waivers: Vec<Waiver>,
}

/// At most this many waivers per decision.
pub const MAX_WAIVERS: usize = 100;

impl ApprovalRequest {
    /// `now` decides which expiry dates are already in the past. `principal` is the
    /// authenticated caller when authentication is on: it is the reviewer recorded,
    /// and a body `reviewer` may only repeat it (a decision cannot be signed with
    /// someone else's name). Without authentication `reviewer` is required.
    pub fn from_value(
        doc: &Value,
        now: i64,
        principal: Option<&str>,
    ) -> Result<(ApprovalRequest, Vec<Warning>), InputError> {
        let mut c = Checker::default();
        let Some(root) = c.object("", Some(doc), true) else {
            return Err(InputError::Fields(c.errors));
        };
        c.unknown_fields("", root, &["decision", "reviewer", "comment", "waivers"]);
        let decision = c.string("/decision", root.get("decision"), true, 16).and_then(|d| {
            let parsed = Verdict::parse(&d);
            if parsed.is_none() {
                c.error("/decision", format!("must be 'approve' or 'reject', found '{d}'"));
            }
            parsed
        });
        let given = c.string("/reviewer", root.get("reviewer"), principal.is_none(), 256);
        let reviewer = match (principal, given) {
            (Some(p), Some(r)) if r != p => {
                c.error("/reviewer", format!("must be omitted or equal the authenticated principal '{p}'"));
                None
            }
            (Some(p), _) => Some(p.to_string()),
            (None, given) => given,
        };
        let comment = c.string("/comment", root.get("comment"), false, 4000);
        let waivers = waivers(&mut c, root.get("waivers"), now);
        if decision == Some(Verdict::Reject) && !waivers.is_empty() {
            c.error("/waivers", "waivers can only be granted with an approval");
        }
        let request = ApprovalRequest {
            decision: decision.unwrap_or(Verdict::Reject),
            reviewer: reviewer.unwrap_or_default(),
            comment,
            waivers,
        };
        c.finish(request)
    }
}

fn waivers(c: &mut Checker, v: Option<&Value>, now: i64) -> Vec<Waiver> {
    let items = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_WAIVERS => items,
        Some(Value::Array(_)) => {
            c.error("/waivers", format!("must have at most {MAX_WAIVERS} items"));
            return Vec::new();
        }
        Some(other) => {
            c.error("/waivers", format!("must be an array, found {}", kind(other)));
            return Vec::new();
        }
    };
    let mut out: Vec<Waiver> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("/waivers/{i}");
        let Some(obj) = c.object(&at, Some(item), true) else { continue };
        c.unknown_fields(&at, obj, &["control_id", "reason", "expires_at"]);
        let control_id = c.string(&format!("{at}/control_id"), obj.get("control_id"), true, 128);
        let reason = c.string(&format!("{at}/reason"), obj.get("reason"), true, 2000);
        let expires_at = expiry(c, &format!("{at}/expires_at"), obj.get("expires_at"), now);
        if let Some(id) = &control_id
            && out.iter().any(|w| &w.control_id == id)
        {
            c.error(format!("{at}/control_id"), format!("control '{id}' is waived twice"));
            continue;
        }
        if let (Some(control_id), Some(reason), Some(expires_at)) = (control_id, reason, expires_at) {
            out.push(Waiver { control_id, reason, expires_at });
        }
    }
    out
}

fn expiry(c: &mut Checker, at: &str, v: Option<&Value>, now: i64) -> Option<i64> {
    let text = c.string(at, v, true, 64)?;
    let Some(t) = time::parse(&text) else {
        c.error(at, "must be an RFC 3339 date-time or a date, such as 2027-01-31T00:00:00Z or 2027-01-31");
        return None;
    };
    if t <= now {
        c.error(at, format!("'{text}' is not in the future (now is {})", time::format(now)));
        return None;
    }
    Some(t)
}

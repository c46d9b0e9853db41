//! What never leaves for the model: the organisation's name, AWS account ids and
//! network ranges are replaced in every prompt before it is sent, hashed or logged.

use std::sync::LazyLock;

use regex::Regex;

static ACCOUNT_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{12}\b").expect("valid regex"));
static CIDR_V4: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?\b").expect("valid regex"));
static CIDR_V6: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}(?:/\d{1,3})?").expect("valid regex"));

/// Replaces the organisation's name (any case), account ids, IPv4/IPv6 addresses and CIDRs.
pub fn redact(text: &str, organization: Option<&str>, accounts: &[String]) -> String {
    let mut out = text.to_string();
    if let Some(org) = organization.map(str::trim).filter(|o| !o.is_empty()) {
        let pattern = Regex::new(&format!("(?i){}", regex::escape(org))).expect("escaped literal");
        out = pattern.replace_all(&out, "[ORGANIZATION]").into_owned();
    }
    for account in accounts.iter().filter(|a| !a.is_empty()) {
        out = out.replace(account.as_str(), "[ACCOUNT_ID]");
    }
    out = ACCOUNT_ID.replace_all(&out, "[ACCOUNT_ID]").into_owned();
    out = CIDR_V4.replace_all(&out, "[CIDR]").into_owned();
    CIDR_V6.replace_all(&out, "[CIDR]").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_names_accounts_and_ranges() {
        let text = "Northwind Payments (NORTHWIND PAYMENTS) uses 123456789012 and prod-acct from 10.0.0.0/8, \
                    192.168.1.10 and 2001:db8::/32 in eu-west-1";
        let out = redact(text, Some("Northwind Payments"), &["prod-acct".into()]);
        assert_eq!(
            out,
            "[ORGANIZATION] ([ORGANIZATION]) uses [ACCOUNT_ID] and [ACCOUNT_ID] from [CIDR], [CIDR] and [CIDR] in eu-west-1"
        );
    }
}

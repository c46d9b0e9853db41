//! Roles the template creates for the service itself (the Lambda execution role): their
//! policies as the template grants them (read from the iac stage's output), turned into
//! policy documents with catalog ARN formats so they are verified like every persona and
//! read by parliament. Template `Fn::Sub` pseudo parameters become the model's location
//! parameters; a `Ref`/`Fn::GetAtt` of a template resource becomes the catalog ARN format
//! of the resource type the action names for it.

use serde::Serialize;
use serde_json::Value;

use super::arn::{find_action, localize};
use super::policy::Statement;
use crate::catalog::Catalog;
use crate::pipeline::contracts::{ServiceRole, ServiceRolePolicy};

/// A role as the model shows it: the template's own statements, and the document verified.
#[derive(Debug, Serialize)]
pub struct ServiceRoleSummary {
    pub logical_id: String,
    pub assumed_by: Vec<String>,
    pub used_by: Vec<String>,
    pub policies: Vec<ServiceRolePolicy>,
    pub actions: Vec<String>,
    pub documents: Vec<super::model::DocumentSummary>,
    /// Template resources that no ARN format of the statement's actions could name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unplaced: Vec<String>,
}

/// `iam-policy-service-role-<logical id in kebab case>`.
pub fn stem(role: &ServiceRole) -> String {
    let mut kebab = String::new();
    for (i, c) in role.logical_id.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            kebab.push('-');
        }
        kebab.push(c.to_ascii_lowercase());
    }
    format!("iam-policy-service-role-{kebab}")
}

/// The role's statements with ARN strings; template resources no format could name are
/// returned apart (and fail verification).
pub fn statements(catalog: &Catalog, role: &ServiceRole, partition: Option<&str>) -> (Vec<Statement>, Vec<String>) {
    let mut unplaced = Vec::new();
    let mut out = Vec::new();
    for policy in &role.policies {
        for (i, s) in policy.statements.iter().enumerate() {
            let action = strings(&s["Action"]);
            let resource = list(&s["Resource"])
                .iter()
                .map(|r| {
                    resource_arn(catalog, role, &action, r, partition).unwrap_or_else(|| {
                        unplaced.push(format!("{}: {r}", policy.defined_in));
                        r.to_string()
                    })
                })
                .collect();
            let sid = s["Sid"].as_str().map_or_else(|| format!("{}{}", sid_part(&policy.name), i + 1), String::from);
            let mut statement = Statement::allow(sid, action, resource);
            statement.effect = if s["Effect"] == "Deny" { "Deny" } else { "Allow" };
            out.push(statement);
        }
    }
    (out, unplaced)
}

fn sid_part(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
        .collect()
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

fn strings(v: &Value) -> Vec<String> {
    list(v).iter().filter_map(|a| a.as_str().map(String::from)).collect()
}

/// One template resource value as an ARN string.
fn resource_arn(
    catalog: &Catalog,
    role: &ServiceRole,
    actions: &[String],
    r: &Value,
    partition: Option<&str>,
) -> Option<String> {
    if let Some(s) = r.as_str() {
        return Some(s.to_string());
    }
    if let Some(Value::String(sub)) = r.get("Fn::Sub") {
        let arn = sub
            .replace("${AWS::Partition}", "${Partition}")
            .replace("${AWS::Region}", "${Region}")
            .replace("${AWS::AccountId}", "${Account}");
        return Some(localize(&arn, partition));
    }
    let target = match (r.get("Ref"), r.get("Fn::GetAtt")) {
        (Some(Value::String(id)), _) => id.as_str(),
        (_, Some(Value::Array(g))) if g.get(1).is_some_and(|a| a == "Arn") => g[0].as_str()?,
        _ => return None,
    };
    let kind = role.references.get(target)?;
    let wanted = squash(kind.rsplit("::").next()?);
    actions.iter().find_map(|a| {
        let (prefix, _) = a.split_once(':')?;
        let (_, action) = find_action(catalog, a)?;
        let service = catalog.iam(prefix)?;
        let rt = action.resource_types.iter().find(|rt| squash(rt) == wanted)?;
        service.resource_types.get(rt).map(|t| localize(&t.arn, partition))
    })
}

fn squash(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// Whether `arn` is an instance of the catalog ARN `format`: each `${Name}` of the format
/// stands for one or more characters, everything else must match exactly.
pub fn matches_format(arn: &str, format: &str) -> bool {
    let mut pattern = String::from("^");
    let mut rest = format;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else { break };
        pattern.push_str(&regex::escape(&rest[..start]));
        pattern.push_str(".+");
        rest = &rest[start + end + 1..];
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    regex::Regex::new(&pattern).is_ok_and(|re| re.is_match(arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_match_catalog_formats_part_for_part() {
        let group = "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}";
        assert!(matches_format("arn:aws:logs:${Region}:${Account}:log-group:/aws/lambda/${FunctionName}:*", group));
        assert!(!matches_format("arn:aws:sqs:${Region}:${Account}:queue", group));
        assert!(!matches_format("arn:aws:logs:${Region}:${Account}:log-group:", group));
        let eni = "arn:${Partition}:ec2:${Region}:${Account}:network-interface/${NetworkInterfaceId}";
        assert!(matches_format("arn:aws:ec2:${Region}:${Account}:network-interface/*", eni));
        assert!(!matches_format("arn:aws:ec2:${Region}:${Account}:subnet/*", eni));
        assert!(!matches_format("*", eni));
    }
}

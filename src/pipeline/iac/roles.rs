//! The IAM roles a rendered template creates for the service itself, with every policy the
//! template attaches to them: what the `iam` stage shows and verifies, read from the
//! template that is published rather than from a second description of it.

use serde_json::{Map, Value, json};

use super::super::contracts::{ServiceRole, ServiceRolePolicy};

const ROLE: &str = "AWS::IAM::Role";
const ROLE_POLICY: &str = "AWS::IAM::RolePolicy";

/// Every `AWS::IAM::Role` another resource of the template uses (the function's execution
/// role; a role the IAM bundle deploys as its product is not one), with its inline
/// `Policies` and the `AWS::IAM::RolePolicy` resources whose `RoleName` refers to it.
pub fn service_roles(template: &Value) -> Vec<ServiceRole> {
    let Some(resources) = template["Resources"].as_object() else { return Vec::new() };
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == ROLE)
        .map(|(id, role)| {
            let mut policies: Vec<ServiceRolePolicy> =
                as_list(&role["Properties"]["Policies"]).iter().map(|p| policy(p, format!("{id}.Policies"))).collect();
            let attached = resources
                .iter()
                .filter(|(_, r)| r["Type"] == ROLE_POLICY && r["Properties"]["RoleName"] == json!({ "Ref": id }));
            policies.extend(attached.clone().map(|(pid, p)| policy(&p["Properties"], pid.clone())));
            let own: Vec<&String> = attached.map(|(pid, _)| pid).chain(std::iter::once(id)).collect();
            let mut named = Vec::new();
            for p in &policies {
                p.statements.iter().for_each(|s| targets(&s["Resource"], &mut named));
            }
            let references = named
                .into_iter()
                .filter_map(|t| Some((t.clone(), resources.get(&t)?["Type"].as_str()?.to_string())))
                .collect();
            ServiceRole {
                logical_id: id.clone(),
                assumed_by: principals(&role["Properties"]["AssumeRolePolicyDocument"]),
                used_by: users(resources, id, &own),
                policies,
                references,
            }
        })
        .filter(|role| !role.used_by.is_empty())
        .collect()
}

fn policy(p: &Value, defined_in: String) -> ServiceRolePolicy {
    ServiceRolePolicy {
        name: p["PolicyName"].as_str().unwrap_or_default().to_string(),
        defined_in,
        statements: as_list(&p["PolicyDocument"]["Statement"]),
    }
}

/// A policy field that may be one value or a list.
fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

fn principals(trust: &Value) -> Vec<String> {
    let mut out: Vec<String> = as_list(&trust["Statement"])
        .iter()
        .flat_map(|s| as_list(&s["Principal"]["Service"]))
        .filter_map(|p| p.as_str().map(String::from))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Resources (other than the role and its own policies) that reference the role.
fn users(resources: &Map<String, Value>, role: &str, own: &[&String]) -> Vec<String> {
    resources
        .iter()
        .filter(|(id, _)| !own.contains(id))
        .filter(|(_, r)| refers_to(&r["Properties"], role))
        .map(|(id, _)| id.clone())
        .collect()
}

/// Logical ids named by `Ref` or `Fn::GetAtt` anywhere in `v`.
fn targets(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("Ref") {
                out.push(r.clone());
            }
            if let Some(Value::String(r)) = m.get("Fn::GetAtt").and_then(|g| g.get(0)) {
                out.push(r.clone());
            }
            m.values().for_each(|x| targets(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| targets(x, out)),
        _ => {}
    }
}

fn refers_to(v: &Value, id: &str) -> bool {
    match v {
        Value::Object(m) => {
            m.get("Ref").is_some_and(|r| r == id)
                || m.get("Fn::GetAtt").and_then(|g| g.get(0)).is_some_and(|r| r == id)
                || m.values().any(|x| refers_to(x, id))
        }
        Value::Array(items) => items.iter().any(|x| refers_to(x, id)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inline_and_attached_policies() {
        let template = json!({ "Resources": {
            "Role": { "Type": ROLE, "Properties": {
                "AssumeRolePolicyDocument": { "Statement": [{ "Principal": { "Service": "lambda.amazonaws.com" } }] },
                "Policies": [{ "PolicyName": "logs", "PolicyDocument": { "Statement": [{ "Action": ["logs:PutLogEvents"] }] } }]
            }},
            "Extra": { "Type": ROLE_POLICY, "Properties": {
                "RoleName": { "Ref": "Role" }, "PolicyName": "dlq",
                "PolicyDocument": { "Statement": { "Action": "sqs:SendMessage", "Resource": { "Fn::GetAtt": ["Queue", "Arn"] } } }
            }},
            "Queue": { "Type": "AWS::SQS::Queue", "Properties": {} },
            "Other": { "Type": ROLE_POLICY, "Properties": { "RoleName": { "Ref": "Elsewhere" } } },
            "Unused": { "Type": ROLE, "Properties": {} },
            "Function": { "Type": "AWS::Lambda::Function", "Properties": { "Role": { "Fn::GetAtt": ["Role", "Arn"] } } }
        }});
        let roles = service_roles(&template);
        assert_eq!(roles.len(), 1);
        let role = &roles[0];
        assert_eq!(role.assumed_by, ["lambda.amazonaws.com"]);
        assert_eq!(role.used_by, ["Function"]);
        let names: Vec<(&str, &str)> = role.policies.iter().map(|p| (p.name.as_str(), p.defined_in.as_str())).collect();
        assert_eq!(names, [("logs", "Role.Policies"), ("dlq", "Extra")]);
        assert_eq!(role.policies[1].statements[0]["Action"], "sqs:SendMessage");
        assert_eq!(role.references.get("Queue").map(String::as_str), Some("AWS::SQS::Queue"));
    }
}

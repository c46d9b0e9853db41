//! Values in control definitions rendered for CloudFormation and for Terraform.
//! References (`Ref`, `GetAtt`, `Sub`, `kms_key`, `var`, `jsonencode`) are the
//! only non-literal forms; docs/CONTROLS.md lists them.

use hcl::expr::{Expression, FuncCall, TemplateExpr, Traversal, Variable};
use serde_json::{Map, Value, json};

use crate::knowledge::ServiceControls;

/// Logical id of the customer managed key the iac stage adds when a value asks for it.
pub const DATA_KEY: &str = crate::knowledge::data_key::DATA_KEY;

/// Key policy of the generated customer managed key, in definition form (rendered
/// for either template): the account administers it through IAM, and the listed
/// service principals may use it for the resource they write to.
pub fn data_key_policy(principals: &[String]) -> Value {
    let mut statements = vec![json!({
        "Sid": "AccountAdministersKey",
        "Effect": "Allow",
        "Principal": { "AWS": { "Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" } },
        "Action": "kms:*",
        "Resource": "*"
    })];
    let (logs, principals): (Vec<&String>, Vec<&String>) = principals.iter().partition(|p| p.starts_with("logs."));
    if let Some(logs) = logs.first() {
        // CloudWatch Logs uses the key only for this account's log groups: the log group ARN
        // is the encryption context of every request it makes.
        statements.push(json!({
            "Sid": "LogsEncryptThisAccountsLogGroups",
            "Effect": "Allow",
            "Principal": { "Service": { "Sub": logs } },
            "Action": ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            "Resource": "*",
            "Condition": { "ArnLike": { "kms:EncryptionContext:aws:logs:arn": {
                "Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
            } } }
        }));
    }
    if !principals.is_empty() {
        let services: Vec<Value> = principals.iter().map(|p| json!({ "Sub": p })).collect();
        statements.push(json!({
            "Sid": "ServicesUseKeyForThisAccount",
            "Effect": "Allow",
            "Principal": { "Service": services },
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            "Resource": "*",
            "Condition": { "StringEquals": { "aws:SourceAccount": { "Sub": "${AWS::AccountId}" } } }
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// `BucketName` → `bucket_name`.
pub fn snake(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_ascii_uppercase())) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(*c);
        } else {
            out.push('_');
        }
    }
    out
}

/// True when the value is one of the reference forms rather than a literal map.
pub fn is_reference(v: &Value) -> bool {
    reference(v).is_some()
}

/// The single reference key of a one-entry map, if it is one of ours.
pub fn reference(v: &Value) -> Option<(&str, &Value)> {
    let map = v.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let (k, inner) = map.iter().next()?;
    matches!(k.as_str(), "Ref" | "GetAtt" | "Sub" | "kms_key" | "var" | "jsonencode").then_some((k.as_str(), inner))
}

/// True when the value (recursively) asks for the customer managed key.
pub fn uses_kms_key(v: &Value) -> bool {
    crate::knowledge::data_key::uses_kms_key(v)
}

/// Names referenced with `Ref` or `var` (parameters and resources).
pub fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match reference(v) {
        Some(("Ref" | "var", Value::String(name))) => out.push(name.clone()),
        Some(("Sub", Value::String(s))) => out.extend(sub_names(s)),
        _ => match v {
            Value::Object(m) => m.values().for_each(|x| collect_refs(x, out)),
            Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
            _ => {}
        },
    }
}

fn sub_names(s: &str) -> Vec<String> {
    s.split("${")
        .skip(1)
        .filter_map(|p| p.split('}').next())
        .map(|n| n.split('.').next().unwrap_or(n).to_string())
        .collect()
}

pub fn cfn(v: &Value) -> Value {
    match reference(v) {
        Some(("Ref" | "var", name)) => json!({ "Ref": name }),
        Some(("GetAtt", target)) => json!({ "Fn::GetAtt": target }),
        Some(("Sub", s)) => json!({ "Fn::Sub": s }),
        Some(("kms_key", kind)) if kind == "KeyId" => json!({ "Ref": DATA_KEY }),
        Some(("kms_key", _)) => json!({ "Fn::GetAtt": [DATA_KEY, "Arn"] }),
        Some(("jsonencode", inner)) => cfn(inner),
        _ => match v {
            Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), cfn(x))).collect::<Map<_, _>>()),
            Value::Array(a) => Value::Array(a.iter().map(cfn).collect()),
            other => other.clone(),
        },
    }
}

/// Terraform address of a resource id of the service (`Bucket` → `aws_s3_bucket.bucket`).
pub fn tf_address(sc: &ServiceControls, id: &str) -> Option<String> {
    if id == DATA_KEY {
        return Some("aws_kms_key.data_key".into());
    }
    let r = sc.resource(id)?;
    Some(format!("{}.{}", r.terraform.as_ref()?.kind, snake(id)))
}

pub fn traversal(path: &str) -> Expression {
    let mut parts = path.split('.');
    let root = Variable::unchecked(parts.next().unwrap_or_default());
    let mut builder = Traversal::builder(root);
    for p in parts {
        builder = builder.attr(p);
    }
    Expression::from(builder.build())
}

/// A reference's Terraform expression text, for `${...}` interpolation and traversals.
pub fn tf_ref_text(sc: &ServiceControls, kind: &str, target: &Value) -> String {
    match (kind, target) {
        ("kms_key", k) if k == "KeyId" => "aws_kms_key.data_key.key_id".into(),
        ("kms_key", _) => "aws_kms_key.data_key.arn".into(),
        ("GetAtt", Value::Array(a)) => {
            let id = a.first().and_then(Value::as_str).unwrap_or_default();
            let attr = a.get(1).and_then(Value::as_str).unwrap_or("id");
            format!("{}.{}", tf_address(sc, id).unwrap_or_else(|| snake(id)), snake(attr))
        }
        (_, Value::String(name)) => match tf_address(sc, name) {
            Some(address) => format!("{address}.id"),
            None => format!("var.{}", snake(name)),
        },
        _ => "null".into(),
    }
}

pub fn terraform(sc: &ServiceControls, v: &Value) -> Expression {
    match reference(v) {
        Some(("jsonencode", inner)) => {
            Expression::from(FuncCall::builder("jsonencode").arg(terraform(sc, inner)).build())
        }
        Some(("Sub", Value::String(s))) => Expression::from(TemplateExpr::QuotedString(sub_template(sc, s))),
        Some((kind, target)) => traversal(&tf_ref_text(sc, kind, target)),
        None => match v {
            Value::Object(m) => {
                let mut obj = hcl::Object::new();
                for (k, x) in m {
                    obj.insert(hcl::ObjectKey::from(k.as_str()), terraform(sc, x));
                }
                Expression::Object(obj)
            }
            Value::Array(a) => Expression::Array(a.iter().map(|x| terraform(sc, x)).collect()),
            Value::String(s) => Expression::String(s.clone()),
            Value::Bool(b) => Expression::Bool(*b),
            Value::Number(n) => serde_json::from_value::<hcl::Number>(Value::Number(n.clone()))
                .map(Expression::Number)
                .unwrap_or(Expression::Null),
            Value::Null => Expression::Null,
        },
    }
}

/// `${Bucket.Arn}/*` → `${aws_s3_bucket.bucket.arn}/*`; `${Name}` → `${var.name}`.
fn sub_template(sc: &ServiceControls, s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else { break };
        let inner = &rest[start + 2..start + end];
        let text = match inner.split_once('.') {
            Some((id, attr)) => tf_ref_text(sc, "GetAtt", &json!([id, attr])),
            None if inner.starts_with("AWS::") => aws_pseudo(inner),
            None => tf_ref_text(sc, "Ref", &json!(inner)),
        };
        out.push_str(&format!("${{{text}}}"));
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

fn aws_pseudo(name: &str) -> String {
    match name {
        "AWS::AccountId" => "data.aws_caller_identity.current.account_id".into(),
        "AWS::Region" => "data.aws_region.current.region".into(),
        "AWS::Partition" => "data.aws_partition.current.partition".into(),
        other => snake(other),
    }
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn snake_cases_identifiers() {
        assert_eq!(snake("BucketName"), "bucket_name");
        assert_eq!(snake("KMSMasterKeyID"), "kms_master_key_id");
        assert_eq!(snake("DataKey"), "data_key");
        assert_eq!(snake("Arn"), "arn");
    }
}

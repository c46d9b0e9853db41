//! Facts the service profile is built from, each with the source it came from:
//! the catalog (CloudFormation schemas, IAM), this bundle's controls and
//! templates (the plan), the IAM model and the framework mappings.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{Catalog, CfnResourceType, IamService, ServiceIdentity};
use crate::plan::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// `data/` — extracted from pinned registry packages.
    Catalog,
    /// This bundle's selected controls (`controls.json`).
    Controls,
    /// This bundle's templates (`template.yaml`, `main.tf`).
    Templates,
    /// This bundle's IAM model (`iam-model.json`, guardrails).
    IamModel,
    /// `analyze`: framework requirements of the selected controls.
    Analysis,
    /// The profile the bundle was built for.
    Profile,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub kind: SourceKind,
    /// Where exactly, e.g. `cfn.json AWS::S3::Bucket` or `controls S3-03`.
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub fact: String,
    pub source: Source,
}

impl Fact {
    pub fn new(kind: SourceKind, reference: impl Into<String>, fact: impl Into<String>) -> Fact {
        Fact { fact: fact.into(), source: Source { kind, reference: reference.into() } }
    }
}

/// Property paths of a CloudFormation type (nested through its definitions),
/// e.g. `BucketEncryption.ServerSideEncryptionConfiguration[].ServerSideEncryptionByDefault.KMSMasterKeyID`.
pub fn property_paths(rt: &CfnResourceType) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (name, schema) in &rt.properties {
        walk(rt, name.clone(), schema, 0, &mut seen, &mut out);
    }
    out
}

fn walk(
    rt: &CfnResourceType,
    path: String,
    schema: &Value,
    depth: usize,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<String>,
) {
    out.push(path.clone());
    if depth >= 5 {
        return;
    }
    let (schema, path) = match schema.get("items") {
        Some(items) => (items, format!("{path}[]")),
        None => (schema, path),
    };
    let resolved = match schema.get("ref").and_then(Value::as_str) {
        Some(r) if seen.insert(r.to_string()) => rt.definitions.get(r),
        Some(_) => None,
        None => Some(schema),
    };
    if let Some(props) = resolved.and_then(|s| s.get("properties")).and_then(Value::as_object) {
        for (name, sub) in props {
            walk(rt, format!("{path}.{name}"), sub, depth + 1, seen, out);
        }
    }
    if let Some(r) = schema.get("ref").and_then(Value::as_str) {
        seen.remove(r);
    }
}

/// The last segment of a property path, lower case, without `[]`.
fn leaf(path: &str) -> String {
    path.rsplit('.').next().unwrap_or(path).trim_end_matches("[]").to_ascii_lowercase()
}

/// One family of security-relevant properties, recognised by name.
pub struct PropertyKind {
    pub what: &'static str,
    pub matches: fn(&str) -> bool,
}

pub const CMK: PropertyKind = PropertyKind {
    what: "customer managed KMS key",
    matches: |l| l.contains("kms") || l.contains("customermanagedkey") || l == "encryptionkey" || l == "keyarn",
};
pub const TLS: PropertyKind = PropertyKind {
    what: "TLS / transport security",
    matches: |l| {
        ["tls", "ssl", "https", "minimumprotocolversion", "securitypolicy", "transitencryption", "viewerprotocolpolicy"]
            .iter()
            .any(|k| l.contains(k))
    },
};
pub const VPC: PropertyKind = PropertyKind {
    what: "VPC placement",
    matches: |l| {
        l.contains("vpc") || l.contains("subnet") || l.contains("securitygroup") || l == "networkconfiguration"
    },
};
pub const PUBLIC: PropertyKind = PropertyKind { what: "public access", matches: |l| l.contains("public") };
pub const LOGGING: PropertyKind = PropertyKind {
    what: "log publishing",
    matches: |l| {
        [
            "logging",
            "logconfig",
            "logpublishing",
            "accesslog",
            "loggroup",
            "logdestination",
            "logsetting",
            "logdelivery",
            "auditlog",
        ]
        .iter()
        .any(|k| l.contains(k))
    },
};
pub const LIFECYCLE: PropertyKind = PropertyKind {
    what: "retention, backup and deletion",
    matches: |l| {
        [
            "lifecycle",
            "retention",
            "expiration",
            "timetolive",
            "deletionprotection",
            "backup",
            "snapshot",
            "versioning",
            "pointintimerecovery",
        ]
        .iter()
        .any(|k| l.contains(k))
    },
};
pub const REPLICATION: PropertyKind = PropertyKind {
    what: "replication outside the region",
    matches: |l| ["replica", "crossregion", "globaltable", "multiregion"].iter().any(|k| l.contains(k)),
};
pub const RESOURCE_POLICY: PropertyKind = PropertyKind {
    what: "resource-based policy",
    matches: |l| ["policydocument", "keypolicy", "accesspolicies", "resourcepolicy"].contains(&l) || l == "policy",
};

/// The service's CloudFormation properties of one kind, as one fact per type.
pub fn properties(catalog: &Catalog, service: &ServiceIdentity, kind: &PropertyKind) -> Vec<Fact> {
    catalog
        .resource_types_of(service)
        .filter_map(|(name, rt)| {
            let hits: Vec<String> = property_paths(rt).into_iter().filter(|p| (kind.matches)(&leaf(p))).collect();
            (!hits.is_empty()).then(|| {
                Fact::new(
                    SourceKind::Catalog,
                    format!("cfn.json {name}"),
                    format!("{name} {} properties: {}", kind.what, list(&hits, 8)),
                )
            })
        })
        .collect()
}

/// CloudFormation types of the service that are themselves resource policies.
pub fn policy_types(catalog: &Catalog, service: &ServiceIdentity) -> Vec<Fact> {
    catalog
        .resource_types_of(service)
        .filter(|(name, _)| name.ends_with("Policy") && !name.ends_with("ScalingPolicy"))
        .map(|(name, _)| {
            Fact::new(
                SourceKind::Catalog,
                format!("cfn.json {name}"),
                format!("{name} attaches a policy to a resource"),
            )
        })
        .collect()
}

/// `a, b, c and 4 more`.
pub fn list(items: &[String], max: usize) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(String::as_str).collect();
    let mut text = shown.join(", ");
    if items.len() > max {
        text.push_str(&format!(" and {} more", items.len() - max));
    }
    text
}

/// IAM facts about the service's prefix.
pub struct IamStats {
    pub actions: usize,
    pub with_resource_types: usize,
    pub by_level: BTreeMap<String, usize>,
    pub service_keys: Vec<String>,
    pub resource_tag_actions: usize,
    pub request_tag_actions: usize,
    pub tag_resource_types: usize,
    pub policy_actions: Vec<String>,
    pub resource_types: usize,
    pub account_scoped: Vec<String>,
    pub not_account_scoped: Vec<String>,
}

pub fn iam_stats(iam: &IamService, prefix: &str) -> IamStats {
    let mut by_level = BTreeMap::new();
    for a in iam.actions.values() {
        *by_level.entry(a.access_level.clone()).or_insert(0) += 1;
    }
    let has = |keys: &[String], k: &str| keys.iter().any(|x| x.starts_with(k));
    let scoped = |want: bool| -> Vec<String> {
        iam.resource_types
            .iter()
            .filter(|(_, rt)| rt.arn.contains("${Account}") == want)
            .map(|(n, _)| n.clone())
            .collect()
    };
    IamStats {
        actions: iam.actions.len(),
        with_resource_types: iam.actions.values().filter(|a| !a.resource_types.is_empty()).count(),
        by_level,
        service_keys: iam.condition_keys.keys().filter(|k| k.starts_with(&format!("{prefix}:"))).cloned().collect(),
        resource_tag_actions: iam.actions.values().filter(|a| has(&a.condition_keys, "aws:ResourceTag")).count(),
        request_tag_actions: iam
            .actions
            .values()
            .filter(|a| has(&a.condition_keys, "aws:RequestTag") || has(&a.condition_keys, "aws:TagKeys"))
            .count(),
        tag_resource_types: iam.resource_types.values().filter(|r| has(&r.condition_keys, "aws:ResourceTag")).count(),
        policy_actions: iam
            .actions
            .iter()
            .filter(|(n, a)| a.access_level == "Permissions management" && n.contains("Policy"))
            .map(|(n, _)| format!("{prefix}:{n}"))
            .collect(),
        resource_types: iam.resource_types.len(),
        account_scoped: scoped(true),
        not_account_scoped: scoped(false),
    }
}

/// Selected controls of the bundle whose definition mentions `needle` (e.g. a condition key).
pub fn controls_mentioning(plan: &Plan, needle: &str) -> Vec<Fact> {
    plan.selected_controls()
        .into_iter()
        .filter(|c| serde_json::to_string(c).is_ok_and(|t| t.contains(needle)))
        .map(|c| Fact::new(SourceKind::Controls, format!("controls {}", c.id), format!("{} — {}", c.id, c.title)))
        .collect()
}

/// Selected controls of one category, with the template settings they apply.
pub fn controls_of(plan: &Plan, category: crate::knowledge::Category) -> Vec<Fact> {
    let mut out = Vec::new();
    for c in plan.selected_controls().into_iter().filter(|c| c.category == category) {
        out.push(Fact::new(SourceKind::Controls, format!("controls {}", c.id), format!("{} — {}", c.id, c.title)));
        if let Some(cfn) = &c.cloudformation {
            let paths: Vec<String> =
                cfn.resources().flat_map(|r| cfn.settings.iter().map(move |s| format!("{r}.{}", s.path))).collect();
            out.push(Fact::new(
                SourceKind::Templates,
                format!("template.yaml Resources.{}", cfn.resource),
                format!("{} sets {}", c.id, list(&paths, 6)),
            ));
        }
    }
    out
}

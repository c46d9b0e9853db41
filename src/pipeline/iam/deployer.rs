//! The deployer's permissions: exactly what the CloudFormation handlers (create, read,
//! update, delete) of the deployed resource types need. Handler lists name some API
//! operations that are not IAM actions (about 4% of entries, e.g. `s3:PutBucketReplication`);
//! those cannot appear in a valid policy and are dropped and reported, as are actions of a
//! service the template does not deploy, unless `knowledge/iam/deployer.yaml` documents why
//! the handlers legitimately need them (KMS keys, `iam:PassRole`, network look-ups).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::arn::find_action;
use crate::catalog::Catalog;
use crate::knowledge::iam::Deployer;

/// CloudFormation handlers whose permissions a deployment exercises (`list` is console only).
pub const DEPLOY_HANDLERS: [&str; 4] = ["create", "read", "update", "delete"];

#[derive(Debug, Clone, Serialize)]
pub struct DroppedPermission {
    pub permission: String,
    pub resource_type: String,
    pub handlers: Vec<String>,
    pub reason: &'static str,
}

#[derive(Debug, Default, Serialize)]
pub struct HandlerPermissions {
    /// IAM actions kept, as the catalog spells them.
    pub actions: BTreeSet<String>,
    /// Kept actions of another service → the documented reason.
    pub cross_service: BTreeMap<String, String>,
    pub dropped: Vec<DroppedPermission>,
    /// Deployed types the catalog does not know (nothing can be derived for them).
    pub unknown_types: Vec<String>,
    /// Service prefixes whose handlers need `iam:PassRole` (the role is passed to them).
    pub pass_role_to: BTreeSet<String>,
}

/// IAM prefix of a CloudFormation type: the service it is linked to (data/links.json), else the
/// namespace lower-cased (`AWS::SQS::Queue` → `sqs`).
pub fn prefix_of_type(catalog: &Catalog, type_name: &str) -> String {
    let namespace = type_name.rsplit_once("::").map(|(ns, _)| ns).unwrap_or(type_name);
    catalog
        .service_of_resource_type(type_name)
        .map(|s| s.iam_prefix.clone())
        .unwrap_or_else(|| namespace.trim_start_matches("AWS::").to_ascii_lowercase())
}

fn cross_service_reason(knowledge: &Deployer, prefix: &str, name: &str) -> Option<String> {
    let cross = &knowledge.cross_service;
    if let Some(why) = cross.actions.get(&format!("{prefix}:{name}")) {
        return Some(why.clone());
    }
    if let Some(why) = cross.prefixes.get(prefix) {
        return Some(why.clone());
    }
    let verb = cross.read_only_verbs.get(prefix)?;
    name.starts_with(verb.as_str()).then(|| format!("reads the network or placement the resource uses ({verb}*)"))
}

/// Collects the handler permissions of `types`, keeping IAM-valid actions of the deployed
/// services and documented cross-service ones.
pub fn handler_permissions(catalog: &Catalog, types: &[String], knowledge: &Deployer) -> HandlerPermissions {
    let deployed: BTreeSet<String> = types.iter().map(|t| prefix_of_type(catalog, t)).collect();
    let mut out = HandlerPermissions::default();
    let mut dropped: BTreeMap<(String, String, &'static str), Vec<String>> = BTreeMap::new();
    for type_name in types {
        let Some(rt) = catalog.resource_type(type_name) else {
            out.unknown_types.push(type_name.clone());
            continue;
        };
        for handler in DEPLOY_HANDLERS {
            for permission in rt.handlers.get(handler).into_iter().flatten() {
                let Some((name, _)) = find_action(catalog, permission) else {
                    dropped
                        .entry((permission.clone(), type_name.clone(), "not an IAM action"))
                        .or_default()
                        .push(handler.into());
                    continue;
                };
                let prefix = permission.split_once(':').map(|(p, _)| p.to_ascii_lowercase()).unwrap_or_default();
                let qualified = format!("{prefix}:{name}");
                if !deployed.contains(&prefix) {
                    match cross_service_reason(knowledge, &prefix, name) {
                        Some(why) => {
                            out.cross_service.insert(qualified.clone(), why);
                        }
                        None => {
                            let reason = "action of a service the template does not deploy";
                            dropped.entry((qualified, type_name.clone(), reason)).or_default().push(handler.into());
                            continue;
                        }
                    }
                }
                if qualified == "iam:PassRole" {
                    out.pass_role_to.insert(prefix_of_type(catalog, type_name));
                }
                out.actions.insert(qualified);
            }
        }
    }
    out.dropped = dropped
        .into_iter()
        .map(|((permission, resource_type, reason), handlers)| DroppedPermission {
            permission,
            resource_type,
            handlers,
            reason,
        })
        .collect();
    out
}

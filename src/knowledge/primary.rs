//! Which CloudFormation types of a service a derived template deploys: its primary types.
//! A type is primary when IAM names a resource type after it or it carries a security
//! setting the semantic library recognises, unless schema facts show it is secondary to
//! another type of the same namespace:
//! - a **copy or attachment**: every required property is its own name/identifier or the
//!   identifier of another type of the namespace (at least one), and it has nothing of its
//!   own to configure besides recognised security settings and tags (memorydb `Snapshot`:
//!   `ClusterName` + `SnapshotName`, and `KmsKeyId`);
//! - a **variant**: its name extends another type's name and that type refers to it by
//!   name, id or ARN (memorydb `Cluster.MultiRegionClusterName` → `MultiRegionCluster`).
//!
//! Each secondary type is recorded with its basis in the derivation.

use std::collections::BTreeSet;

use super::model::SecondaryType;
use crate::catalog::{Catalog, CfnResourceType, ServiceIdentity};

/// A linked type with what the derivation found on it.
pub struct Candidate<'a> {
    pub name: &'a str,
    pub schema: &'a CfnResourceType,
    /// Top-level properties a semantic rule recognises.
    pub settings: BTreeSet<&'a str>,
    /// Whether a rule other than the classification tag recognises one of its properties.
    pub has_security_setting: bool,
    /// Whether a template can deploy it from parameters alone.
    pub launchable: bool,
}

/// The primary types, and the secondary ones with their basis.
pub struct Primary<'a> {
    pub primary: Vec<&'a str>,
    pub secondary: Vec<SecondaryType>,
}

pub fn primary_types<'a>(catalog: &Catalog, service: &ServiceIdentity, candidates: &[Candidate<'a>]) -> Primary<'a> {
    let iam_names: BTreeSet<String> = catalog
        .iam(&service.iam_prefix)
        .map(|s| s.resource_types.keys().map(|k| squash(k)).collect())
        .unwrap_or_default();
    let secondary: Vec<SecondaryType> = candidates.iter().filter_map(|c| secondary(c, candidates)).collect();
    let is_secondary = |name: &str| secondary.iter().any(|s| s.resource_type == name);
    let primary: Vec<&str> = candidates
        .iter()
        .filter(|c| !is_secondary(c.name))
        .filter(|c| iam_names.contains(&squash(short(c.name))) || c.has_security_setting)
        .map(|c| c.name)
        .collect();
    if !primary.is_empty() {
        return Primary { primary, secondary };
    }
    let fallback = candidates
        .iter()
        .filter(|c| c.launchable && !is_secondary(c.name))
        .min_by_key(|c| (c.schema.required.len(), c.name.len()))
        .map(|c| vec![c.name])
        .unwrap_or_default();
    Primary { primary: fallback, secondary }
}

/// Why `c` is secondary to another type of its namespace, if it is.
fn secondary(c: &Candidate, all: &[Candidate]) -> Option<SecondaryType> {
    let namespace = c.name.rsplit_once("::").map(|(n, _)| n)?;
    let siblings: Vec<&Candidate> = all
        .iter()
        .filter(|o| o.name != c.name && o.name.rsplit_once("::").is_some_and(|(n, _)| n == namespace))
        .collect();
    copy_of(c, &siblings).or_else(|| named_copy(c, &siblings)).or_else(|| variant_of(c, &siblings))
}

fn copy_of(c: &Candidate, siblings: &[&Candidate]) -> Option<SecondaryType> {
    let mut refs = Vec::new();
    for p in &c.schema.required {
        if own_name(c, p) {
            continue;
        }
        refs.push((p.as_str(), reference(p, siblings)?));
    }
    let (first_ref, source) = *refs.first()?;
    let read_only = read_only(c.schema);
    let own_configuration = c.schema.properties.keys().any(|p| {
        !read_only.contains(p.as_str())
            && !own_name(c, p)
            && !refs.iter().any(|(r, _)| r == p)
            && p != "Tags"
            && !c.settings.contains(p.as_str())
    });
    (!own_configuration).then(|| SecondaryType {
        resource_type: c.name.to_string(),
        of: source.to_string(),
        basis: format!(
            "made from {source}: it requires that resource's {first_ref} and has nothing of its own to \
             configure besides its name, tags and security settings (a copy or attachment)"
        ),
    })
}

/// A type named a snapshot or backup that refers to the resource it copies.
fn named_copy(c: &Candidate, siblings: &[&Candidate]) -> Option<SecondaryType> {
    let name = short(c.name);
    let word = ["Snapshot", "Backup"].into_iter().find(|w| name.ends_with(w))?;
    let read_only = read_only(c.schema);
    let writable = c.schema.properties.keys().filter(|p| !read_only.contains(p.as_str()) && !own_name(c, p));
    let (by, of) = writable
        .filter_map(|p| reference(p, siblings).map(|of| (p.as_str(), of.to_string())))
        .chain(
            c.schema.required.iter().filter(|p| !own_name(c, p)).map(|p| (p.as_str(), "another resource".to_string())),
        )
        .next()?;
    Some(SecondaryType {
        resource_type: c.name.to_string(),
        of: of.clone(),
        basis: format!(
            "a {} of {of}: its name says so and {by} names the resource it copies",
            word.to_ascii_lowercase()
        ),
    })
}

/// The sibling type a property refers to: its single identifier, or `<Type>Name|Id|Identifier|Arn`.
fn reference<'a>(property: &str, siblings: &[&Candidate<'a>]) -> Option<&'a str> {
    siblings
        .iter()
        .find(|o| {
            identifier(o.schema) == Some(property)
                || ["Name", "Id", "Identifier", "Arn"].iter().any(|s| property == format!("{}{s}", short(o.name)))
        })
        .map(|o| o.name)
}

fn read_only(schema: &CfnResourceType) -> BTreeSet<&str> {
    schema.read_only.iter().filter_map(|p| p.strip_prefix("/properties/")).filter(|p| !p.contains('/')).collect()
}

fn variant_of(c: &Candidate, siblings: &[&Candidate]) -> Option<SecondaryType> {
    let name = short(c.name);
    let references = ["Name", "Id", "Arn", "Identifier"].map(|s| format!("{name}{s}"));
    siblings.iter().find_map(|o| {
        let base = short(o.name);
        let extends = name.len() > base.len() && name.ends_with(base);
        let by = references.iter().find(|r| o.schema.properties.contains_key(r.as_str()))?;
        extends.then(|| SecondaryType {
            resource_type: c.name.to_string(),
            of: o.name.to_string(),
            basis: format!("a variant of {}: its name extends {base} and {base}.{by} refers to it", o.name),
        })
    })
}

/// A property naming the resource itself: its identifier, `Name`, or `<Type>Name`/`<Type>Id`
/// where `<Type>` is the type's name or a word-final part of it (`SnapshotName` of a `ClusterSnapshot`).
fn own_name(c: &Candidate, property: &str) -> bool {
    let name = short(c.name);
    let stem = property.strip_suffix("Name").or_else(|| property.strip_suffix("Id"));
    c.schema.primary_identifier.iter().any(|p| p.strip_prefix("/properties/") == Some(property))
        || property == "Name"
        || stem.is_some_and(|s| s.starts_with(|ch: char| ch.is_ascii_uppercase()) && name.ends_with(s))
}

/// The single property that identifies a resource of the type, if one does (a composite
/// identifier such as UserPoolClient's `UserPoolId` + `ClientId` names its parent in a part).
pub fn identifier(schema: &CfnResourceType) -> Option<&str> {
    match schema.primary_identifier.as_slice() {
        [only] => only.strip_prefix("/properties/"),
        _ => None,
    }
}

/// `AWS::AppSync::ApiCache` → `ApiCache`.
pub fn short(type_name: &str) -> &str {
    type_name.rsplit("::").next().unwrap_or(type_name)
}

pub fn squash(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

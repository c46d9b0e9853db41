//! Resource ARNs come verbatim from the catalog's ARN formats. Their `${Name}` parts are
//! template parameters (the syntax of CloudFormation `Fn::Sub` and Terraform
//! `templatefile`): `${Partition}`, `${Region}` and `${Account}` for the location and one
//! parameter per resource name part (`${BucketName}`, `${ObjectName}`). iam-model.json lists
//! every parameter with the values the profile allows, so nothing is guessed here.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::{Action, Catalog};
use crate::input::Profile;

/// Looks an action up by its exact spelling first (a map lookup) and falls back to the
/// catalog's case-insensitive scan: the stage looks actions up thousands of times per run.
pub fn find_action<'c>(catalog: &'c Catalog, qualified: &str) -> Option<(&'c str, &'c Action)> {
    let (prefix, name) = qualified.split_once(':')?;
    match catalog.iam(prefix).and_then(|s| s.actions.get_key_value(name)) {
        Some((n, a)) => Some((n.as_str(), a)),
        None => catalog.action(qualified),
    }
}

/// ARN formats of the action's resource types, restricted to `only` when any of them match.
/// Empty when the action takes no resource ARN (its statements then use `*`).
pub fn resource_arns(catalog: &Catalog, qualified: &str, only: &[String]) -> BTreeSet<String> {
    let Some((prefix, _)) = qualified.split_once(':') else { return BTreeSet::new() };
    let (Some(service), Some((_, action))) = (catalog.iam(prefix), find_action(catalog, qualified)) else {
        return BTreeSet::new();
    };
    let wanted: Vec<&String> = action.resource_types.iter().filter(|rt| only.contains(rt)).collect();
    let chosen: Vec<&String> = if wanted.is_empty() { action.resource_types.iter().collect() } else { wanted };
    chosen
        .into_iter()
        .filter_map(|rt| service.resource_types.get(rt))
        .map(|rt| rt.arn.clone())
        .filter(|arn| !arn.is_empty())
        .collect()
}

/// Every ARN format the catalog knows for the action (what verification accepts).
pub fn catalog_arns(catalog: &Catalog, qualified: &str) -> BTreeSet<String> {
    resource_arns(catalog, qualified, &[])
}

/// `${Name}` parameters in a string, in order of appearance, without `${aws:…}` policy variables.
pub fn parameters(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.contains(':') && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
        rest = &after[end + 1..];
    }
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    pub name: String,
    pub meaning: String,
    /// Values the profile allows, when it names them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
}

/// The one partition every regulatory region of the profile is in; `None` when the profile
/// names no region or regions of several partitions (then `${Partition}` stays a parameter).
pub fn profile_partition(profile: &Profile) -> Option<&'static str> {
    let mut found = profile.regulatory_regions.iter().map(|r| partition_of(r));
    let first = found.next()?;
    found.all(|p| p == first).then_some(first)
}

/// Fills `${Partition}` in ARN formats when the profile fixes it: validators (and IAM)
/// reject an ARN whose partition is not a real one, and the profile leaves no choice.
pub fn localize(arn: &str, partition: Option<&str>) -> String {
    match partition {
        Some(p) => arn.replace("${Partition}", p),
        None => arn.to_string(),
    }
}

/// The AWS partition of a region code.
fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Describes each parameter; location parameters get the profile's regions and accounts.
pub fn describe(names: &BTreeSet<String>, profile: &Profile) -> Vec<Parameter> {
    let known: BTreeMap<&str, (&str, Vec<String>)> = BTreeMap::from([
        ("Partition", ("AWS partition of the deployment", partitions(profile))),
        ("Region", ("region of the resource; the profile's regulatory regions", profile.regulatory_regions.clone())),
        ("Account", ("AWS account id owning the resource; the profile's accounts", profile.aws_accounts.clone())),
        ("OrganizationId", ("AWS Organizations id (o-…) of the organisation", Vec::new())),
        ("AllowedSourceIpRanges", ("CIDR ranges corporate access comes from (aws:SourceIp)", Vec::new())),
        (
            "BreakGlassRoleName",
            ("name of the security team's break-glass role (exempt from the logging guardrail)", Vec::new()),
        ),
        ("AutomationRoleName", ("name pattern of deployment automation roles that cannot present MFA", Vec::new())),
        ("DeploymentRoleName", ("name of the role the deployer passes to the service", Vec::new())),
    ]);
    names
        .iter()
        .map(|name| match known.get(name.as_str()) {
            Some((meaning, values)) => {
                Parameter { name: name.clone(), meaning: (*meaning).into(), allowed_values: values.clone() }
            }
            None => Parameter {
                name: name.clone(),
                meaning: "resource name part; a name, or a naming-convention pattern such as team-*".into(),
                allowed_values: Vec::new(),
            },
        })
        .collect()
}

fn partitions(profile: &Profile) -> Vec<String> {
    let mut out: Vec<String> = profile.regulatory_regions.iter().map(|r| partition_of(r).to_string()).collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_template_parameters_but_not_policy_variables() {
        assert_eq!(
            parameters("arn:${Partition}:s3:::${BucketName}/${ObjectName}"),
            ["Partition", "BucketName", "ObjectName"]
        );
        assert!(parameters("arn:aws:s3:::home/${aws:username}").is_empty());
    }

    #[test]
    fn partition_follows_region() {
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("eu-west-1"), "aws");
    }
}

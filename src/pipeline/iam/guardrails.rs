//! SCP-style guardrails tuned by the profile. Deny statements name the whole service as
//! `<prefix>:*` where they fence the service in (regions, transport, networks): a Deny
//! wildcard only takes permissions away. Values the profile does not give (organisation
//! id, corporate CIDR ranges, exempt roles) are `${Parameter}` placeholders, never invented.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::json;

use super::classify::Classification;
use super::policy::Statement;
use crate::input::Profile;
use crate::knowledge::iam::Guardrails as Knowledge;

#[derive(Debug, Default, Serialize)]
pub struct GuardrailSet {
    /// Service control policy statements (split into documents later).
    pub scp: Vec<Statement>,
    /// Resource control policy statements for services RCPs cover (data perimeter).
    pub rcp: Vec<Statement>,
    /// Guardrails considered and not emitted, with the reason.
    pub omitted: Vec<String>,
}

fn actions_where(classes: &[Classification], keep: impl Fn(&Classification) -> bool) -> Vec<String> {
    classes.iter().filter(|c| keep(c)).map(|c| c.action.clone()).collect::<BTreeSet<_>>().into_iter().collect()
}

/// An ARN pattern for a role of that name in any account of the organisation.
fn role_in_any_account(partition: &str, name_parameter: &str) -> String {
    format!("arn:{partition}:iam::*:role/${{{name_parameter}}}")
}

pub fn build(
    prefix: &str,
    classes: &[Classification],
    profile: &Profile,
    knowledge: &Knowledge,
    partition: &str,
) -> GuardrailSet {
    let mut set = GuardrailSet::default();
    let service = vec![format!("{prefix}:*")];
    let listed = |list: &[String]| list.iter().any(|p| p == prefix);

    if profile.regulatory_regions.is_empty() {
        set.omitted.push("region guardrail: the profile names no regulatory regions".into());
    } else if listed(&knowledge.global_services) {
        set.omitted.push(format!("region guardrail: {prefix} is a global service served from us-east-1"));
    } else {
        set.scp.push(Statement::deny("DenyOutsideRegulatoryRegions", service.clone()).when(
            "StringNotEquals",
            "aws:RequestedRegion",
            json!(profile.regulatory_regions),
        ));
    }

    if !profile.encryption.in_transit {
        set.omitted.push("TLS guardrail: the profile does not require encryption in transit".into());
    } else if listed(&knowledge.secure_transport) {
        set.scp.push(Statement::deny("DenyInsecureTransport", service.clone()).when(
            "Bool",
            "aws:SecureTransport",
            json!("false"),
        ));
    } else {
        set.omitted.push(format!("TLS guardrail: {prefix} accepts TLS connections only"));
    }

    let disabling = actions_where(classes, |c| c.flags.disables_logging_or_encryption);
    if disabling.is_empty() {
        set.omitted.push("logging/encryption guardrail: no action of the service disables them".into());
    } else {
        set.scp.push(Statement::deny("ProtectLoggingAndEncryption", disabling).when(
            "ArnNotLike",
            "aws:PrincipalArn",
            json!(role_in_any_account(partition, "BreakGlassRoleName")),
        ));
    }

    if listed(&knowledge.resource_control_policy) {
        let mut statement = Statement::deny("DenyAccessOutsideOrganization", service.clone())
            .when("StringNotEqualsIfExists", "aws:PrincipalOrgID", json!("${OrganizationId}"))
            .when("BoolIfExists", "aws:PrincipalIsAWSService", json!("false"));
        statement.principal = Some(json!("*"));
        set.rcp.push(statement);
    } else {
        set.omitted.push(format!(
            "organisation data perimeter: resource control policies do not cover {prefix}; sharing actions are MFA-guarded and reported as data_exfiltration"
        ));
    }

    if profile.access.mfa {
        let sensitive = actions_where(classes, |c| c.is_sensitive());
        if !sensitive.is_empty() {
            set.scp.push(
                Statement::deny("RequireMfaForSensitiveActions", sensitive)
                    .when("BoolIfExists", "aws:MultiFactorAuthPresent", json!("false"))
                    .when(
                        "ArnNotLike",
                        "aws:PrincipalArn",
                        json!(role_in_any_account(partition, "AutomationRoleName")),
                    ),
            );
        }
    }

    if profile.access.ip_restrictions {
        set.scp.push(
            Statement::deny("DenyOutsideAllowedNetworks", service)
                .when("NotIpAddress", "aws:SourceIp", json!("${AllowedSourceIpRanges}"))
                .when("Bool", "aws:ViaAWSService", json!("false")),
        );
    }
    set
}

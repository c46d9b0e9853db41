//! The five personas as sets over the classified actions, each turned into statements
//! scoped to the catalog's resource ARN patterns. Actions that accept no resource ARN are
//! grouped into their own statement with `Resource: "*"`, which is the only wildcard an
//! Allow statement ever carries (and the model lists them).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::json;

use super::arn::{find_action, localize, resource_arns};
use super::classify::Classification;
use super::deployer::HandlerPermissions;
use super::policy::Statement;
use crate::catalog::Catalog;
use crate::input::Profile;
use crate::knowledge::iam::WorkloadEntry;

#[derive(Debug, Clone, Serialize)]
pub struct Persona {
    pub name: &'static str,
    /// One line on what the persona may do, in the team's words.
    pub scope: String,
    pub actions: BTreeSet<String>,
    pub statements: Vec<Statement>,
}

/// Groups actions by the set of ARNs they act on: one statement per distinct set.
pub fn scoped_statements(
    catalog: &Catalog,
    sid: &str,
    actions: &BTreeSet<String>,
    only: &[String],
    partition: Option<&str>,
) -> Vec<Statement> {
    let mut groups: BTreeMap<BTreeSet<String>, Vec<String>> = BTreeMap::new();
    for action in actions {
        groups.entry(resource_arns(catalog, action, only)).or_default().push(action.clone());
    }
    groups
        .into_iter()
        .enumerate()
        .map(|(i, (arns, actions))| {
            let resources = if arns.is_empty() {
                vec!["*".to_string()]
            } else {
                arns.iter().map(|a| localize(a, partition)).collect()
            };
            Statement::allow(format!("{sid}{}", i + 1), actions, resources)
        })
        .collect()
}

fn names<'a>(classes: impl Iterator<Item = &'a Classification>) -> BTreeSet<String> {
    classes.map(|c| c.action.clone()).collect()
}

pub fn administrator(
    catalog: &Catalog,
    classes: &[Classification],
    profile: &Profile,
    partition: Option<&str>,
) -> Persona {
    let configure = names(classes.iter().filter(|c| !c.data_read && !c.data_write && !c.is_sensitive()));
    let sensitive = names(classes.iter().filter(|c| c.is_sensitive()));
    let mut statements = scoped_statements(catalog, "AdministratorConfigure", &configure, &[], partition);
    let sid = if profile.access.mfa { "BreakGlassWithMfa" } else { "AdministratorSensitive" };
    for statement in scoped_statements(catalog, sid, &sensitive, &[], partition) {
        statements.push(if profile.access.mfa {
            statement.when("Bool", "aws:MultiFactorAuthPresent", json!("true")).when(
                "NumericLessThan",
                "aws:MultiFactorAuthAge",
                json!("3600"),
            )
        } else {
            statement
        });
    }
    let scope = if profile.access.mfa {
        "configures the service; permissions management, destructive and logging/encryption-disabling actions only with MFA"
    } else {
        "configures the service; sensitive actions in their own statements"
    };
    Persona {
        name: "administrator",
        scope: scope.into(),
        actions: configure.union(&sensitive).cloned().collect(),
        statements,
    }
}

pub fn deployer(catalog: &Catalog, handlers: &HandlerPermissions, partition: Option<&str>) -> Persona {
    let mut actions = handlers.actions.clone();
    let pass_role = actions.remove("iam:PassRole");
    let mut statements = scoped_statements(catalog, "DeployerHandlers", &actions, &[], partition);
    if pass_role {
        actions.insert("iam:PassRole".into());
        let principals: Vec<String> = handlers.pass_role_to.iter().flat_map(|p| service_principals(p)).collect();
        let only = ["role".to_string()];
        let arns: Vec<String> =
            resource_arns(catalog, "iam:PassRole", &only).iter().map(|a| localize(a, partition)).collect();
        statements.push(Statement::allow("DeployerPassRoleToService", vec!["iam:PassRole".into()], arns).when(
            "StringEquals",
            "iam:PassedToService",
            json!(principals),
        ));
    }
    let scope = "exactly the IAM actions the CloudFormation handlers of the deployed resource types need";
    Persona { name: "deployer", scope: scope.into(), actions, statements }
}

/// Principals a role is passed to for a service: `<prefix>.amazonaws.com`, plus the
/// task principal for ECS, whose task roles are assumed by `ecs-tasks`.
fn service_principals(prefix: &str) -> Vec<String> {
    let mut out = vec![format!("{prefix}.amazonaws.com")];
    if prefix == "ecs" {
        out.push("ecs-tasks.amazonaws.com".into());
    }
    out
}

fn configuration_read(c: &Classification) -> bool {
    (c.is_level("List") || c.is_level("Read")) && !c.data_read
}

pub fn operator(catalog: &Catalog, classes: &[Classification], partition: Option<&str>) -> Persona {
    let actions = names(classes.iter().filter(|c| configuration_read(c) || c.operate));
    let statements = scoped_statements(catalog, "OperatorOperateAndRead", &actions, &[], partition);
    let scope =
        "reads configuration and runs operational actions (start, stop, reboot, failover …); no permissions management";
    Persona { name: "operator", scope: scope.into(), actions, statements }
}

pub fn auditor(catalog: &Catalog, classes: &[Classification], partition: Option<&str>) -> Persona {
    let actions = names(classes.iter().filter(|c| configuration_read(c)));
    let statements = scoped_statements(catalog, "AuditorReadConfiguration", &actions, &[], partition);
    let scope = "reads and lists configuration; never reads stored data";
    Persona { name: "auditor", scope: scope.into(), actions, statements }
}

/// The reviewed list when the service has one, else data reads and writes that are not
/// destructive, permissions management or disabling.
pub fn workload(
    catalog: &Catalog,
    classes: &[Classification],
    reviewed: Option<&WorkloadEntry>,
    partition: Option<&str>,
) -> Persona {
    let (actions, only, scope) = match reviewed {
        Some(entry) => (
            entry.actions.iter().filter_map(|a| find_action(catalog, a).map(|(n, _)| qualify(a, n))).collect(),
            entry.resource_types.clone(),
            "the data-plane actions an application typically needs (reviewed list)",
        ),
        None => (
            names(classes.iter().filter(|c| (c.data_read || c.data_write) && !c.is_sensitive())),
            Vec::new(),
            "data reads and writes found by rule (no reviewed list for this service); never destructive",
        ),
    };
    let statements = scoped_statements(catalog, "WorkloadDataAccess", &actions, &only, partition);
    Persona { name: "workload", scope: scope.into(), actions, statements }
}

fn qualify(requested: &str, canonical: &str) -> String {
    let prefix = requested.split_once(':').map(|(p, _)| p).unwrap_or(requested);
    format!("{}:{canonical}", prefix.to_ascii_lowercase())
}

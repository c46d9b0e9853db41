//! Verification of every emitted document against the catalog, recorded as [`Checks`]:
//! actions exist, Allow statements carry no wildcard (except `Resource: "*"` for actions
//! without resource-level permissions), resources are catalog ARN formats, condition keys
//! are valid for the statement's actions or global, and documents fit their size quota.

use std::collections::BTreeSet;

use super::arn::{catalog_arns, find_action, localize};
use super::policy::{PolicyDocument, Statement};
use crate::catalog::Catalog;
use crate::pipeline::checks::Checks;

/// A document to verify, with the artifact name and the size quota it must fit.
pub struct Subject<'a> {
    pub artifact: &'a str,
    pub document: &'a PolicyDocument,
    pub limit: usize,
}

pub struct Verifier<'a> {
    catalog: &'a Catalog,
    /// The partition filled into ARN formats, if the profile fixed one.
    partition: Option<&'a str>,
    checks: Checks,
    seen_actions: BTreeSet<String>,
}

impl<'a> Verifier<'a> {
    pub fn new(catalog: &'a Catalog, partition: Option<&'a str>) -> Verifier<'a> {
        Verifier { catalog, partition, checks: Checks::default(), seen_actions: BTreeSet::new() }
    }

    pub fn finish(self) -> Checks {
        self.checks
    }

    /// A deployed CloudFormation type the catalog does not know: its permissions are unknowable.
    pub fn unknown_type(&mut self, type_name: &str) {
        self.checks.fail("cfn_resource_type_exists", type_name, "not in the catalog; deployer permissions unknown");
    }

    pub fn document(&mut self, subject: &Subject<'_>) {
        let size = subject.document.size();
        let what = format!("{} ({size} of {} characters)", subject.artifact, subject.limit);
        if size <= subject.limit {
            self.checks.pass("iam_policy_size", what);
        } else {
            self.checks.fail("iam_policy_size", what, "over the quota");
        }
        for statement in &subject.document.statement {
            let at = format!("{}#{}", subject.artifact, statement.sid);
            self.actions(statement);
            self.wildcards(&at, statement);
            self.resources(&at, statement);
            self.conditions(&at, statement);
        }
    }

    /// A role the template creates: like [`document`](Self::document), except that its
    /// resources are the template's own (a log group of the function, ENIs of the
    /// account), so each must be an instance of a catalog ARN format of its actions rather
    /// than the format itself. `unplaced` are template resources no format could name.
    pub fn service_role(&mut self, subject: &Subject<'_>, assumed_by: &[String], unplaced: &[String]) {
        let what = format!("{} ({} of {} characters)", subject.artifact, subject.document.size(), subject.limit);
        let fits = subject.document.size() <= subject.limit;
        self.checks.record("iam_policy_size", what, fits, if fits { "" } else { "over the quota" });
        let trusted = !assumed_by.is_empty() && assumed_by.iter().all(|p| p.ends_with(".amazonaws.com"));
        let detail =
            if trusted { String::new() } else { format!("trusts {assumed_by:?}, not only AWS service principals") };
        self.checks.record("service_role_trusts_a_service", subject.artifact, trusted, detail);
        for r in unplaced {
            self.checks.fail(
                "service_role_resource_arn",
                subject.artifact,
                format!("{r}: no ARN format of its actions"),
            );
        }
        for statement in &subject.document.statement {
            let at = format!("{}#{}", subject.artifact, statement.sid);
            self.actions(statement);
            self.wildcards(&at, statement);
            self.conditions(&at, statement);
            let formats: BTreeSet<String> = statement
                .action
                .iter()
                .flat_map(|a| catalog_arns(self.catalog, a))
                .map(|arn| localize(&arn, self.partition))
                .collect();
            let stray = statement
                .resource
                .iter()
                .filter(|r| *r != "*")
                .find(|r| !formats.iter().any(|f| super::service_roles::matches_format(r, f)));
            match stray {
                Some(r) => self.checks.fail("service_role_resource_arn", at, format!("{r} is no ARN of these actions")),
                None => self.checks.pass("service_role_resource_arn", at),
            }
        }
    }

    fn actions(&mut self, statement: &Statement) {
        for action in &statement.action {
            if !self.seen_actions.insert(action.clone()) {
                continue;
            }
            match action.strip_suffix(":*") {
                Some(prefix) if self.catalog.iam(prefix).is_some() => self.checks.pass("iam_prefix_exists", action),
                Some(_) => self.checks.fail("iam_prefix_exists", action, "no such IAM service prefix"),
                None if find_action(self.catalog, action).is_some_and(|(name, _)| action.ends_with(name)) => {
                    self.checks.pass("iam_action_exists", action)
                }
                None => self.checks.fail("iam_action_exists", action, "not in the catalog (or not spelled as it is)"),
            }
        }
    }

    fn wildcards(&mut self, at: &str, statement: &Statement) {
        if !statement.is_allow() {
            let narrow = statement.action.iter().all(|a| !a.contains('*') || a.ends_with(":*"));
            self.checks.record("iam_no_wildcard", at, narrow, if narrow { "" } else { "partial wildcard in a Deny" });
            return;
        }
        if let Some(a) = statement.action.iter().find(|a| a.contains('*')) {
            return self.checks.fail("iam_no_wildcard", at, format!("wildcard action {a}"));
        }
        if statement.resource.iter().any(|r| r == "*") {
            let with_arns: Vec<&String> =
                statement.action.iter().filter(|a| !catalog_arns(self.catalog, a).is_empty()).collect();
            if let Some(a) = with_arns.first() {
                return self.checks.fail(
                    "iam_no_wildcard",
                    at,
                    format!("Resource * for {a}, which takes resource ARNs"),
                );
            }
        }
        self.checks.pass("iam_no_wildcard", at);
    }

    fn resources(&mut self, at: &str, statement: &Statement) {
        if statement.resource.iter().all(|r| r == "*") {
            return;
        }
        let known: BTreeSet<String> = statement
            .action
            .iter()
            .flat_map(|a| catalog_arns(self.catalog, a))
            .map(|arn| localize(&arn, self.partition))
            .collect();
        match statement.resource.iter().find(|r| !known.contains(*r)) {
            Some(r) => {
                self.checks.fail("iam_resource_arn_from_catalog", at, format!("{r} is no ARN format of these actions"))
            }
            None => self.checks.pass("iam_resource_arn_from_catalog", at),
        }
    }

    fn conditions(&mut self, at: &str, statement: &Statement) {
        for key in statement.condition.values().flat_map(|keys| keys.keys()) {
            let subject = format!("{at} {key}");
            if crate::catalog::is_global_condition_key(key) {
                self.checks.pass("iam_condition_key_valid", subject);
            } else if let Some(a) = statement.action.iter().find(|a| !self.key_valid_for(a, key)) {
                self.checks.fail("iam_condition_key_valid", subject, format!("not a condition key of {a}"));
            } else {
                self.checks.pass("iam_condition_key_valid", subject);
            }
        }
    }

    /// Valid when the action lists the key, one of its resource types does, or (for a
    /// whole-service `prefix:*`) the service defines it.
    fn key_valid_for(&self, action: &str, key: &str) -> bool {
        let Some((prefix, name)) = action.split_once(':') else { return false };
        let Some(service) = self.catalog.iam(prefix) else { return false };
        if name == "*" {
            return service.condition_keys.contains_key(key);
        }
        let Some((_, a)) = find_action(self.catalog, action) else { return false };
        a.condition_keys.iter().any(|k| k == key)
            || a.resource_types
                .iter()
                .filter_map(|rt| service.resource_types.get(rt))
                .any(|rt| rt.condition_keys.iter().any(|k| k == key))
    }
}

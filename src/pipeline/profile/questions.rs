//! The questions a security architect asks before a pilot and before
//! production, each answered only from facts — or marked "not established from
//! the catalog" with what to check.

use serde::{Deserialize, Serialize};

use super::facts::{self, Fact, IamStats, SourceKind};
use crate::catalog::{Catalog, ServiceIdentity};
use crate::input::Profile;
use crate::knowledge::{Category, Knowledge};
use crate::plan::Plan;

pub const NOT_ESTABLISHED: &str = "not established from the catalog";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Answered,
    NotEstablished,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    pub id: String,
    pub question: String,
    pub status: Status,
    pub answer: String,
    /// Every fact the answer rests on, each with its source.
    pub facts: Vec<Fact>,
    /// What to check when the catalog does not establish the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

/// Everything a question may draw on.
pub struct Context<'a> {
    pub knowledge: &'a Knowledge,
    pub profile: &'a Profile,
    pub service: &'a ServiceIdentity,
    pub plan: &'a Plan,
    pub iam: Option<IamStats>,
    /// Guardrail documents the iam stage wrote.
    pub guardrail_documents: Vec<String>,
    pub personas: Vec<(String, usize)>,
}

impl Context<'_> {
    pub fn catalog(&self) -> &Catalog {
        self.knowledge.catalog()
    }

    fn props(&self, kind: &facts::PropertyKind) -> Vec<Fact> {
        facts::properties(self.catalog(), self.service, kind)
    }

    fn prefix(&self) -> &str {
        &self.service.iam_prefix
    }
}

fn answered(id: &str, question: &str, answer: String, facts: Vec<Fact>) -> Answer {
    Answer { id: id.into(), question: question.into(), status: Status::Answered, answer, facts, check: None }
}

fn unknown(id: &str, question: &str, facts: Vec<Fact>, check: String) -> Answer {
    Answer {
        id: id.into(),
        question: question.into(),
        status: Status::NotEstablished,
        answer: NOT_ESTABLISHED.into(),
        facts,
        check: Some(check),
    }
}

/// Answered when there are facts, else not established with `check`.
fn from_facts(
    id: &str,
    question: &str,
    facts: Vec<Fact>,
    answer: impl FnOnce(&[Fact]) -> String,
    check: String,
) -> Answer {
    if facts.is_empty() { unknown(id, question, facts, check) } else { answered(id, question, answer(&facts), facts) }
}

fn count_by(facts: &[Fact], kind: SourceKind) -> usize {
    facts.iter().filter(|f| f.source.kind == kind).count()
}

pub fn data_protection(cx: &Context<'_>) -> Vec<Answer> {
    let mut at_rest = cx.props(&facts::CMK);
    let cmk_types = at_rest.len();
    let protection = facts::controls_of(cx.plan, Category::DataProtection);
    let transit = |f: &Fact| {
        let t = f.fact.to_ascii_lowercase();
        t.contains("transit") || t.contains("tls") || t.contains("ssl")
    };
    at_rest.extend(
        protection
            .iter()
            .filter(|f| {
                let t = f.fact.to_ascii_lowercase();
                (t.contains("kms") || t.contains("encrypt")) && !transit(f)
            })
            .cloned(),
    );
    let mut in_transit = cx.props(&facts::TLS);
    let tls_types = in_transit.len();
    in_transit.extend(protection.iter().filter(|f| transit(f)).cloned());
    let enforced = facts::controls_mentioning(cx.plan, "aws:SecureTransport");
    let enforced_n = enforced.len();
    in_transit.extend(enforced);
    let guardrail = cx.profile.encryption.in_transit
        && cx.knowledge.iam().guardrails.secure_transport.iter().any(|p| p == cx.prefix());
    if guardrail {
        in_transit.push(Fact::new(
            SourceKind::IamModel,
            "iam-guardrails.json DenyInsecureTransport",
            format!("the SCP guardrail denies {}:* when aws:SecureTransport is false", cx.prefix()),
        ));
    }
    vec![
        from_facts(
            "encryption_at_rest",
            "Which resources can be encrypted with a customer managed KMS key, and through which properties?",
            at_rest,
            |f| {
                format!(
                    "{cmk_types} CloudFormation type(s) take a customer managed key; this bundle's controls that set encryption: {}.",
                    count_by(f, SourceKind::Controls)
                )
            },
            format!(
                "no CloudFormation property of {} names a KMS key; check whether the service encrypts with AWS owned keys only (service documentation, `aws kms list-aliases` after a test deployment)",
                cx.service.id
            ),
        ),
        from_facts(
            "encryption_in_transit",
            "Which TLS settings exist, and is aws:SecureTransport enforced?",
            in_transit,
            |_| {
                let enforced = if enforced_n > 0 || guardrail {
                    format!(
                        "aws:SecureTransport is enforced by {enforced_n} control(s){}",
                        if guardrail { " and the SCP guardrail" } else { "" }
                    )
                } else {
                    "aws:SecureTransport is not enforced by this bundle".into()
                };
                format!("{tls_types} CloudFormation type(s) have TLS properties; {enforced}.")
            },
            format!(
                "no TLS property and no aws:SecureTransport control for {}; check the endpoints' minimum TLS version (service documentation) and whether a resource policy can require TLS",
                cx.service.id
            ),
        ),
    ]
}

pub fn network(cx: &Context<'_>) -> Vec<Answer> {
    let vpc = cx.props(&facts::VPC);
    let mut public = cx.props(&facts::PUBLIC);
    public.extend(facts::controls_of(cx.plan, Category::Network));
    for f in facts::controls_mentioning(cx.plan, "Public") {
        if !public.contains(&f) {
            public.push(f);
        }
    }
    let vpc_keys: Vec<String> = cx
        .iam
        .as_ref()
        .map(|s| s.service_keys.iter().filter(|k| k.to_ascii_lowercase().contains("vpc")).cloned().collect())
        .unwrap_or_default();
    let mut endpoint_facts = Vec::new();
    if !vpc_keys.is_empty() {
        endpoint_facts.push(Fact::new(
            SourceKind::Catalog,
            format!("iam.json {} condition keys", cx.prefix()),
            format!("VPC condition keys: {}", facts::list(&vpc_keys, 6)),
        ));
    }
    vec![
        from_facts(
            "vpc_integration",
            "Can the service's resources be placed in a VPC (VpcConfig, subnets, security groups)?",
            vpc,
            |f| format!("{} CloudFormation type(s) have VPC placement properties.", f.len()),
            format!(
                "no VPC property in the CloudFormation schemas of {}; check whether it is reached only through its public endpoint or a VPC interface endpoint",
                cx.service.id
            ),
        ),
        unknown(
            "private_endpoints",
            "Which VPC endpoint (PrivateLink) service names reach the service privately?",
            endpoint_facts,
            format!(
                "the catalog holds no VPC endpoint service names; run `aws ec2 describe-vpc-endpoint-services --filters Name=service-name,Values='*{}*'` in each region of the profile",
                cx.service.sdk_ids.first().map(String::as_str).unwrap_or(cx.prefix()).to_ascii_lowercase()
            ),
        ),
        from_facts(
            "public_access",
            "Which settings and controls govern public access?",
            public,
            |f| {
                format!(
                    "{} public-access property fact(s); {} network control(s) in this bundle.",
                    count_by(f, SourceKind::Catalog),
                    count_by(f, SourceKind::Controls)
                )
            },
            format!(
                "no public-access property or network control for {}; check resource policies for Principal \"*\"",
                cx.service.id
            ),
        ),
    ]
}

pub fn access(cx: &Context<'_>) -> Vec<Answer> {
    let iam_ref = format!("iam.json {}", cx.prefix());
    let Some(s) = &cx.iam else {
        let check = format!(
            "the catalog has no IAM facts for prefix '{}'; check the Service Authorization Reference",
            cx.prefix()
        );
        return ["resource_level_permissions", "condition_keys", "abac", "resource_policies"]
            .into_iter()
            .map(|id| unknown(id, id, vec![], check.clone()))
            .collect();
    };
    let share = if s.actions == 0 { 0.0 } else { 100.0 * s.with_resource_types as f64 / s.actions as f64 };
    let levels: Vec<String> = s.by_level.iter().map(|(l, n)| format!("{l}: {n}")).collect();
    let mut policies = facts::policy_types(cx.catalog(), cx.service);
    policies.extend(cx.props(&facts::RESOURCE_POLICY));
    if !s.policy_actions.is_empty() {
        policies.push(Fact::new(
            SourceKind::Catalog,
            format!("{iam_ref} actions"),
            format!("policy actions: {}", facts::list(&s.policy_actions, 6)),
        ));
    }
    let personas: Vec<Fact> = cx
        .personas
        .iter()
        .map(|(name, n)| {
            Fact::new(SourceKind::IamModel, format!("iam-model.json personas.{name}"), format!("{name}: {n} actions"))
        })
        .collect();
    let abac = if s.resource_tag_actions + s.request_tag_actions + s.tag_resource_types > 0 {
        vec![Fact::new(
            SourceKind::Catalog,
            format!("{iam_ref} condition keys"),
            format!(
                "{} action(s) accept aws:ResourceTag, {} accept aws:RequestTag/aws:TagKeys, {} of {} resource type(s) accept aws:ResourceTag",
                s.resource_tag_actions, s.request_tag_actions, s.tag_resource_types, s.resource_types
            ),
        )]
    } else {
        vec![]
    };
    vec![
        answered(
            "resource_level_permissions",
            "What share of the service's actions can be limited to specific resources?",
            format!(
                "{} of {} actions ({share:.0}%) name a resource type; the rest need Resource \"*\".",
                s.with_resource_types, s.actions
            ),
            vec![Fact::new(
                SourceKind::Catalog,
                format!("{iam_ref} actions"),
                format!("actions by access level: {}", levels.join(", ")),
            )],
        ),
        from_facts(
            "condition_keys",
            "Which service-specific condition keys can policies use?",
            if s.service_keys.is_empty() {
                vec![]
            } else {
                vec![Fact::new(
                    SourceKind::Catalog,
                    format!("{iam_ref} condition keys"),
                    facts::list(&s.service_keys, 15),
                )]
            },
            |_| format!("{} service condition key(s).", s.service_keys.len()),
            format!("the catalog lists no {}:* condition keys; only global aws:* keys apply", cx.prefix()),
        ),
        from_facts(
            "abac",
            "Does the service support tag-based access control (ABAC)?",
            abac,
            |_| {
                if s.resource_tag_actions > 0 {
                    format!("Yes for {} action(s) through aws:ResourceTag.", s.resource_tag_actions)
                } else {
                    "Only on tagging at creation (aws:RequestTag/aws:TagKeys); no action accepts aws:ResourceTag."
                        .into()
                }
            },
            format!(
                "no action of {} lists a tag condition key in the catalog; check the Service Authorization Reference for ABAC support",
                cx.prefix()
            ),
        ),
        from_facts(
            "resource_policies",
            "Does the service have resource-based policies?",
            policies,
            |f| format!("Yes: {} fact(s) name resource policies.", f.len()),
            format!(
                "no policy resource type, policy property or policy action for {}; access is governed by identity policies only as far as the catalog shows",
                cx.service.id
            ),
        ),
        from_facts(
            "personas",
            "Which personas does the bundle's IAM model define?",
            personas,
            |f| format!("{} persona(s) with least-privilege policies.", f.len()),
            "the iam stage wrote no personas; check iam-model.json".into(),
        ),
    ]
}

pub fn residency(cx: &Context<'_>) -> Vec<Answer> {
    let mut out = Vec::new();
    let global = cx.knowledge.iam().guardrails.global_services.iter().any(|p| p == cx.prefix());
    if global {
        out.push(Fact::new(
            SourceKind::IamModel,
            "knowledge/iam global_services",
            format!("{} is a global service served from us-east-1; no region guardrail applies", cx.prefix()),
        ));
    } else if !cx.profile.regulatory_regions.is_empty() && !cx.guardrail_documents.is_empty() {
        out.push(Fact::new(
            SourceKind::IamModel,
            "iam-guardrails.json DenyOutsideRegulatoryRegions",
            format!("the SCP guardrail denies {}:* outside {}", cx.prefix(), cx.profile.regulatory_regions.join(", ")),
        ));
    }
    let replication = cx.props(&facts::REPLICATION);
    let n_repl = replication.len();
    out.extend(replication);
    vec![from_facts(
        "data_residency",
        "Where can the service's data be stored and replicated?",
        out,
        |_| {
            format!(
                "{}; {n_repl} CloudFormation type(s) have replication properties that can copy data to other regions.",
                if global { "Global service" } else { "Regional service restricted by the region guardrail" }
            )
        },
        "the profile names no regulatory regions and no replication property is known; check where the service stores data".into(),
    )]
}

pub fn lifecycle(cx: &Context<'_>) -> Vec<Answer> {
    let mut f = cx.props(&facts::LIFECYCLE);
    f.extend(facts::controls_of(cx.plan, Category::Resilience));
    vec![from_facts(
        "data_lifecycle",
        "How are retention, backup, versioning and deletion protection configured?",
        f,
        |f| {
            format!(
                "{} CloudFormation type(s) have lifecycle properties; {} resilience control(s) in this bundle.",
                count_by(f, SourceKind::Catalog),
                count_by(f, SourceKind::Controls)
            )
        },
        format!(
            "no lifecycle property or resilience control for {}; check how data is deleted and whether it can be backed up",
            cx.service.id
        ),
    )]
}

pub fn logging(cx: &Context<'_>) -> Vec<Answer> {
    let mut publishing = cx.props(&facts::LOGGING);
    publishing.extend(facts::controls_of(cx.plan, Category::Logging));
    let token = cx.service.id.to_ascii_uppercase().replace('-', "_");
    let trail: Vec<Fact> = cx
        .catalog()
        .config_rules()
        .filter(|r| r.id.contains("CLOUDTRAIL") && r.id.contains(&token))
        .map(|r| {
            Fact::new(
                SourceKind::Catalog,
                format!("config.json {}", r.id),
                format!("AWS Config managed rule {} checks CloudTrail for {}", r.id, cx.service.id),
            )
        })
        .collect();
    let (write, perms) = cx
        .iam
        .as_ref()
        .map(|s| {
            (
                s.by_level.get("Write").copied().unwrap_or(0),
                s.by_level.get("Permissions management").copied().unwrap_or(0),
            )
        })
        .unwrap_or((0, 0));
    let calls = vec![Fact::new(
        SourceKind::Catalog,
        format!("iam.json {} actions", cx.prefix()),
        format!("{write} Write and {perms} Permissions management actions are the calls an audit trail must record"),
    )];
    vec![
        from_facts(
            "cloudtrail",
            "Are management and data events recorded by CloudTrail?",
            trail,
            |f| format!("{} Config rule(s) in the catalog check CloudTrail for this service's events.", f.len()),
            format!(
                "the catalog does not say which {} events CloudTrail records as data events; check the CloudTrail data event resource types and enable a trail with management events",
                cx.service.id
            ),
        ),
        answered(
            "audited_calls",
            "Which API calls matter for the audit trail?",
            format!("{write} write and {perms} permissions-management actions."),
            calls,
        ),
        from_facts(
            "log_publishing",
            "Which logs can the service publish, and does the bundle turn them on?",
            publishing,
            |f| {
                format!(
                    "{} CloudFormation type(s) have log publishing properties; {} logging control(s) in this bundle.",
                    count_by(f, SourceKind::Catalog),
                    count_by(f, SourceKind::Controls)
                )
            },
            format!(
                "no log publishing property or logging control for {}; check whether it emits logs other than CloudTrail",
                cx.service.id
            ),
        ),
    ]
}

pub fn isolation(cx: &Context<'_>) -> Vec<Answer> {
    let Some(s) = &cx.iam else {
        return vec![unknown(
            "resource_isolation",
            "How are resources isolated between accounts and tenants?",
            vec![],
            "no IAM facts for the prefix; check how resources are scoped".into(),
        )];
    };
    let f = vec![Fact::new(
        SourceKind::Catalog,
        format!("iam.json {} resource types", cx.prefix()),
        format!(
            "{} of {} resource type ARN(s) include the account id; not account-scoped: {}",
            s.account_scoped.len(),
            s.resource_types,
            if s.not_account_scoped.is_empty() { "none".to_string() } else { facts::list(&s.not_account_scoped, 6) }
        ),
    )];
    vec![if s.resource_types == 0 {
        unknown(
            "resource_isolation",
            "How are resources isolated between accounts and tenants?",
            f,
            "the service has no IAM resource types; isolation is per account only — check whether one account can be shared by tenants".into(),
        )
    } else {
        answered(
            "resource_isolation",
            "How are resources isolated between accounts and tenants?",
            format!(
                "Resources are addressed by ARN; {} of {} resource types are account-scoped, so an account boundary isolates them.",
                s.account_scoped.len(),
                s.resource_types
            ),
            f,
        )
    }]
}

pub fn monitoring(cx: &Context<'_>) -> Vec<Answer> {
    let rules = cx.catalog().config_rules_for_service(cx.service);
    let hub = cx.catalog().security_hub_controls_for_service(cx.service);
    let mut f = Vec::new();
    if !rules.is_empty() || !hub.is_empty() {
        f.push(Fact::new(
            SourceKind::Catalog,
            "config.json, securityhub.json",
            format!(
                "{} AWS Config managed rule(s) and {} Security Hub control(s) evaluate the service",
                rules.len(),
                hub.len()
            ),
        ));
    }
    let detective: Vec<String> = cx
        .plan
        .selected_controls()
        .into_iter()
        .filter_map(|c| c.detective.as_ref().map(|d| format!("{} ({})", c.id, d.config_rule)))
        .collect();
    if !detective.is_empty() {
        f.push(Fact::new(
            SourceKind::Controls,
            "controls-template.yaml",
            format!("this bundle deploys Config rules for {}", facts::list(&detective, 8)),
        ));
    }
    vec![
        from_facts(
            "detective_monitoring",
            "What detects a misconfiguration after deployment?",
            f,
            |_| format!("{} Config rule(s) deployed by this bundle.", detective.len()),
            format!(
                "no AWS Config managed rule or Security Hub control covers {}; check custom Config rules or CloudWatch alarms",
                cx.service.id
            ),
        ),
        unknown(
            "operational_metrics",
            "Which metrics and alarms show the service's health?",
            vec![],
            format!(
                "the catalog holds no CloudWatch metric names; check the service's CloudWatch namespace with `aws cloudwatch list-metrics --namespace AWS/<service>` after a test deployment of {}",
                cx.service.id
            ),
        ),
    ]
}

pub fn compliance(coverage: Vec<Fact>) -> Vec<Answer> {
    vec![from_facts(
        "framework_coverage",
        "Which requirements of the profile's frameworks do the selected controls satisfy?",
        coverage,
        |f| format!("Coverage for {} framework(s) named by the profile.", f.len()),
        "the profile names no framework the catalog maps, or no selected control maps to one; check the framework mapping by hand".into(),
    )]
}

pub fn quotas(cx: &Context<'_>) -> Vec<Answer> {
    vec![unknown(
        "service_quotas",
        "Which quotas limit the service at production scale?",
        vec![],
        format!(
            "the catalog holds no quotas; run `aws service-quotas list-service-quotas --service-code {}` (confirm the code with `aws service-quotas list-services`)",
            cx.prefix()
        ),
    )]
}

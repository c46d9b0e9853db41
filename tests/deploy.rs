//! deploy/terraform without AWS: every file parses, every resource type and every
//! argument or nested block exists in the AWS provider schema of the knowledge
//! catalog (the same `TerraformBlock::has_path` check generated bundles pass), every
//! IAM action the roles grant exists in the catalog, and every variable validation is
//! evaluated with hcl-rs against good and bad configurations: a prod configuration
//! that turns off deletion protection or Multi-AZ is refused. Each grant of the task
//! role (action on its resource, KMS keys per service) has a call site in src/ or in
//! the collector's configuration, and each call site a grant. The RDS CA bundle the
//! image bakes in parses as trust anchors.

mod common;

use std::collections::BTreeMap;

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::{Block, Body, Expression, Value};

/// Data sources are not in the catalog (it holds resources); these are the ones used.
const DATA_SOURCES: [&str; 4] =
    ["aws_caller_identity", "aws_partition", "aws_availability_zones", "aws_iam_policy_document"];
/// Terraform meta-arguments and blocks, not provider arguments.
const META: [&str; 5] = ["count", "for_each", "depends_on", "lifecycle", "provider"];

fn terraform_files() -> Vec<(String, Body)> {
    let dir = common::repo("deploy/terraform");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "deploy/terraform has its files");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let body: Body = hcl::from_str(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), body)
        })
        .collect()
}

/// Argument and nested-block paths of a block; `dynamic "x"` counts as block `x`.
fn paths(body: &Body, prefix: &[String], out: &mut Vec<Vec<String>>) {
    for attr in body.attributes() {
        if prefix.is_empty() && META.contains(&attr.key()) {
            continue;
        }
        out.push([prefix, &[attr.key().to_string()]].concat());
    }
    for block in body.blocks() {
        let name = block.identifier();
        if prefix.is_empty() && META.contains(&name) {
            continue;
        }
        if name == "dynamic" {
            let label = block.labels()[0].as_str().to_string();
            let content = block.body().blocks().find(|b| b.identifier() == "content").expect("dynamic has content");
            let inner = [prefix, &[label]].concat();
            out.push(inner.clone());
            paths(content.body(), &inner, out);
            continue;
        }
        let inner = [prefix, &[name.to_string()]].concat();
        out.push(inner.clone());
        paths(block.body(), &inner, out);
    }
}

/// True when a proper prefix of `path` is an argument, not a block: the provider types
/// it as one opaque value (e.g. aws_wafv2_web_acl `rule.statement`, a recursive type),
/// so the schema says nothing about what is nested under it.
fn under_opaque_argument(schema: &seccfg::catalog::TerraformBlock, path: &[&str]) -> bool {
    let mut block = schema;
    for part in &path[..path.len() - 1] {
        match block.blocks.get(*part) {
            Some(inner) => block = inner,
            None => return block.arguments.iter().any(|a| a == part),
        }
    }
    false
}

fn blocks<'a>(files: &'a [(String, Body)], kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Block)> + 'a {
    files
        .iter()
        .flat_map(move |(f, b)| b.blocks().filter(move |x| x.identifier() == kind).map(move |x| (f.as_str(), x)))
}

#[test]
fn every_resource_type_and_argument_is_in_the_provider_schema() {
    let catalog = common::catalog();
    let files = terraform_files();
    let mut checked = 0;
    let mut errors = Vec::new();
    for (file, block) in blocks(&files, "resource") {
        let kind = block.labels()[0].as_str();
        let Some(schema) = catalog.terraform_resource(kind) else {
            errors.push(format!("{file}: resource type {kind} is not in the provider schema"));
            continue;
        };
        let mut found = Vec::new();
        paths(block.body(), &[], &mut found);
        for path in found {
            let parts: Vec<&str> = path.iter().map(String::as_str).collect();
            checked += 1;
            if !schema.has_path(&parts) && !under_opaque_argument(schema, &parts) {
                errors.push(format!("{file}: {kind}.{} is not an argument or block", path.join(".")));
            }
        }
    }
    for (file, block) in blocks(&files, "data") {
        let kind = block.labels()[0].as_str();
        if !DATA_SOURCES.contains(&kind) {
            errors.push(format!("{file}: data source {kind} is not on the reviewed list"));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(checked > 300, "only {checked} arguments checked");
    // The check fails on a wrong answer.
    let lb = catalog.terraform_resource("aws_lb").unwrap();
    assert!(lb.has_path(&["access_logs", "bucket"]) && !lb.has_path(&["access_logs", "buckett"]));
    assert!(catalog.terraform_resource("aws_ecs_servic").is_none());
}

#[test]
fn terraform_and_provider_versions_are_pinned_to_the_catalog_schema() {
    let files = terraform_files();
    let (_, terraform) = blocks(&files, "terraform").next().expect("a terraform block");
    let providers = terraform.body().blocks().find(|b| b.identifier() == "required_providers").unwrap();
    let aws = providers.body().attributes().find(|a| a.key() == "aws").unwrap();
    let text = format!("{}", aws.expr());
    let version = common::catalog().terraform_provider_version().to_string();
    assert!(text.contains(&format!("\"= {version}\"")), "provider pinned to {version}: {text}");
    assert!(terraform.body().attributes().any(|a| a.key() == "required_version"));
}

#[test]
fn iam_actions_granted_to_the_tasks_exist() {
    let catalog = common::catalog();
    let text: String = ["iam.tf", "network.tf", "s3.tf", "kms.tf"]
        .iter()
        .map(|f| std::fs::read_to_string(common::repo(&format!("deploy/terraform/{f}"))).unwrap())
        .collect();
    let lists = regex::Regex::new(r"(?s)\bactions\s*=\s*\[([^\]]*)\]").unwrap();
    let quoted = regex::Regex::new(r#""([a-z0-9-]+):([A-Za-z*]+)""#).unwrap();
    let mut checked = 0;
    for list in lists.captures_iter(&text) {
        for cap in quoted.captures_iter(&list[1]) {
            let (prefix, action) = (&cap[1], &cap[2]);
            if action.contains('*') {
                let stem = action.trim_end_matches('*').to_ascii_lowercase();
                let service = catalog.iam(prefix).unwrap_or_else(|| panic!("{prefix} is not an IAM prefix"));
                assert!(
                    service.actions.keys().any(|n| n.to_ascii_lowercase().starts_with(&stem)),
                    "{prefix}:{action} matches nothing"
                );
                continue;
            }
            checked += 1;
            assert!(
                catalog.action(&format!("{prefix}:{action}")).is_some(),
                "{prefix}:{action} is not an IAM action in the catalog"
            );
        }
    }
    assert!(checked >= 25, "only {checked} actions checked");
}

// --- The task role against the AWS calls seccfg makes ----------------------------------------

/// SDK crates seccfg calls at run time, with the IAM prefix of their actions.
const SDKS: [(&str, &str); 3] =
    [("aws_sdk_s3", "s3"), ("aws_sdk_dynamodb", "dynamodb"), ("aws_sdk_bedrockruntime", "bedrock")];

/// The files that call AWS, each with the resource its calls act on. A file that uses
/// an SDK and is not listed fails the check: its calls need a target and a grant.
const CALL_SITES: [(&str, Target); 5] = [
    ("src/store/artifacts/s3.rs", Target::ArtifactBucket),
    ("src/intake/mod.rs", Target::IntakeBuckets),
    ("src/library/dynamodb.rs", Target::LibraryTable),
    ("src/advisor/converse.rs", Target::AdvisorModels),
    ("src/store/rds_iam.rs", Target::AppDatabaseUser),
];

/// What a task-role grant acts on, recognised from its `resources` (and, for KMS keys,
/// the `kms:ViaService` condition: the key is usable only through that service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    ArtifactBucket,
    IntakeBuckets,
    LibraryTable,
    AdvisorModels,
    AppDatabaseUser,
    /// The objects CMK through S3: the artifact bucket's SSE-KMS key (s3.tf).
    ArtifactKeyViaS3,
    /// The objects CMK through DynamoDB: the library table's SSE-KMS key (dynamodb.tf).
    LibraryKeyViaDynamoDb,
    /// The intake buckets' keys (intake_kms_key_arns) through S3.
    IntakeKeysViaS3,
    CollectorMetricsLogGroup,
    XRay,
}

/// Operations whose IAM action has another name (AWS Service Authorization Reference):
/// HeadObject is authorised by s3:GetObject, ListObjectsV2 by s3:ListBucket, Converse by
/// bedrock:InvokeModel; a TransactWriteItems call needs the action of each item it
/// writes (found from the `Put`/`Update`/`Delete`/`ConditionCheck` builders instead).
const RENAMED: [(&str, Option<&str>); 5] = [
    ("head_object", Some("s3:GetObject")),
    ("list_objects_v2", Some("s3:ListBucket")),
    ("converse", Some("bedrock:InvokeModel")),
    ("converse_stream", Some("bedrock:InvokeModelWithResponseStream")),
    ("transact_write_items", None),
];

/// Calls in src/ that the deployed service never makes.
const NOT_AT_RUN_TIME: [(&str, &str); 1] = [("create_table", "test set-up; Terraform creates the library table")];

/// The collector sidecar's calls (ADOT, configured in ecs.tf): the `awsemf` exporter
/// writes metric log events, the `awsxray` exporter sends trace segments and reads sampling.
const COLLECTOR: [(&str, Target, &[&str]); 2] = [
    (
        "awsemf",
        Target::CollectorMetricsLogGroup,
        &["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
    ),
    (
        "awsxray",
        Target::XRay,
        &["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
    ),
];

type Grants = std::collections::BTreeSet<(Target, String)>;

fn pascal(snake: &str) -> String {
    snake.split('_').map(|w| w[..1].to_ascii_uppercase() + &w[1..]).collect()
}

/// The IAM actions one file's calls of `sdk` need: a zero-argument method call named like
/// an action of its prefix (`.put_object()` → s3:PutObject), a renamed operation, or a
/// transaction item builder (`Put::builder()` → dynamodb:PutItem).
fn actions_in(text: &str, sdk: &str, prefix: &str) -> Vec<String> {
    let catalog = common::catalog();
    let actions = &catalog.iam(prefix).unwrap().actions;
    let calls = regex::Regex::new(r"\.([a-z][a-z0-9_]*)\(\)").unwrap();
    let items = regex::Regex::new(r"\b(Put|Update|Delete|ConditionCheck)::builder\(\)").unwrap();
    let mut needed = Vec::new();
    for call in calls.captures_iter(text).map(|c| c[1].to_string()) {
        if NOT_AT_RUN_TIME.iter().any(|(op, _)| *op == call) {
            continue;
        }
        match RENAMED.iter().find(|(op, _)| *op == call) {
            Some((_, action)) => needed.extend(action.map(String::from)),
            None if actions.contains_key(&pascal(&call)) => needed.push(format!("{prefix}:{}", pascal(&call))),
            None => {}
        }
    }
    if sdk == "aws_sdk_dynamodb" {
        needed.extend(items.captures_iter(text).map(|item| format!("dynamodb:{}Item", &item[1])));
    }
    needed
}

/// The KMS grants a data-plane action needs on an SSE-KMS resource (AWS docs "Using
/// SSE-KMS" for S3 and "Encryption at rest" for DynamoDB): reading decrypts the data key,
/// writing generates one. S3 only encrypts on a put; DynamoDB on every item write.
fn kms_for(target: Target, action: &str) -> Vec<(Target, &'static str)> {
    let reads = ["s3:GetObject", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"];
    let writes = ["s3:PutObject", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];
    let key = match target {
        Target::ArtifactBucket => Target::ArtifactKeyViaS3,
        Target::LibraryTable => Target::LibraryKeyViaDynamoDb,
        Target::IntakeBuckets => Target::IntakeKeysViaS3,
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    if reads.contains(&action) {
        out.push((key, "kms:Decrypt"));
    }
    if writes.contains(&action) {
        out.push((key, "kms:GenerateDataKey"));
    }
    out
}

/// Every (target, action) the service's calls need: the SDK calls of each call site,
/// the KMS use those imply, the RDS IAM login, and the collector's exporters.
fn grants_needed() -> Grants {
    let mut needed = Grants::new();
    let mut unlisted = Vec::new();
    for path in source_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let rel = path.strip_prefix(common::repo("")).unwrap().to_string_lossy().replace('\\', "/");
        let uses_sdk = SDKS.iter().any(|(sdk, _)| text.contains(&format!("use {sdk}")));
        let signs_rds_token = text.contains(".name(\"rds-db\")");
        let Some((_, target)) = CALL_SITES.iter().find(|(f, _)| *f == rel) else {
            if uses_sdk || signs_rds_token {
                unlisted.push(rel);
            }
            continue;
        };
        for (sdk, prefix) in SDKS.iter().filter(|(sdk, _)| text.contains(&format!("use {sdk}"))) {
            for action in actions_in(&text, sdk, prefix) {
                for (key, kms) in kms_for(*target, &action) {
                    needed.insert((key, kms.to_string()));
                }
                needed.insert((*target, action));
            }
        }
        if signs_rds_token {
            needed.insert((*target, "rds-db:connect".into()));
        }
    }
    assert!(unlisted.is_empty(), "files calling AWS without a CALL_SITES entry: {unlisted:?}");
    let ecs = std::fs::read_to_string(common::repo("deploy/terraform/ecs.tf")).unwrap();
    for (exporter, target, actions) in COLLECTOR {
        assert!(ecs.contains(&format!("exporters = [\"{exporter}\"]")), "the collector uses {exporter}");
        needed.extend(actions.iter().map(|a| (target, a.to_string())));
    }
    needed
}

/// Paths of every Rust file under src/.
fn source_files() -> Vec<std::path::PathBuf> {
    let (mut stack, mut files) = (vec![common::repo("src")], Vec::new());
    while let Some(dir) = stack.pop() {
        for path in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The target of one statement of the task policy, from its resources and condition.
fn target_of(resources: &str, via: &str) -> Option<Target> {
    let via_s3 = via.contains("s3.${var.region}") && !via.contains("dynamodb");
    let via_dynamodb = via.contains("dynamodb.${var.region}") && !via.contains("s3.");
    Some(match resources {
        r if r.contains("aws_kms_key.this[\"objects\"]") && via_s3 => Target::ArtifactKeyViaS3,
        r if r.contains("aws_kms_key.this[\"objects\"]") && via_dynamodb => Target::LibraryKeyViaDynamoDb,
        r if r.contains("var.intake_kms_key_arns") && via_s3 => Target::IntakeKeysViaS3,
        r if r.contains("aws_s3_bucket.artifacts.arn") => Target::ArtifactBucket,
        r if r.contains("var.intake_bucket_names") => Target::IntakeBuckets,
        r if r.contains("aws_dynamodb_table.library.arn") => Target::LibraryTable,
        r if r.contains(":foundation-model/") => Target::AdvisorModels,
        r if r.contains(":dbuser:${aws_db_instance.this.resource_id}/${var.db_app_user}") => Target::AppDatabaseUser,
        r if r.contains("aws_cloudwatch_log_group.metrics.arn") => Target::CollectorMetricsLogGroup,
        r if r.replace(char::is_whitespace, "") == "[\"*\"]" => Target::XRay,
        _ => return None,
    })
}

/// Every (target, action) the task role in `iam_tf` grants; a statement whose resources
/// are not recognised fails the check.
fn grants_given(iam_tf: &str) -> Grants {
    let body: Body = hcl::from_str(iam_tf).unwrap();
    let task = body
        .blocks()
        .find(|b| b.identifier() == "data" && b.labels().iter().any(|l| l.as_str() == "task"))
        .expect("the task role's policy document");
    let mut statements: Vec<&Body> =
        task.body().blocks().filter(|b| b.identifier() == "statement").map(Block::body).collect();
    for dynamic in task.body().blocks().filter(|b| b.identifier() == "dynamic") {
        statements.extend(dynamic.body().blocks().filter(|b| b.identifier() == "content").map(Block::body));
    }
    let attr = |b: &Body, k: &str| b.attributes().find(|a| a.key() == k).map(|a| format!("{}", a.expr()));
    let quoted = regex::Regex::new(r#""([a-z0-9-]+:[A-Za-z]+)""#).unwrap();
    let mut granted = Grants::new();
    for statement in statements {
        let resources = attr(statement, "resources").expect("resources");
        let via = statement
            .blocks()
            .filter(|c| {
                c.identifier() == "condition" && attr(c.body(), "variable").as_deref() == Some("\"kms:ViaService\"")
            })
            .filter_map(|c| attr(c.body(), "values"))
            .collect::<String>();
        let target = target_of(&resources, &via)
            .unwrap_or_else(|| panic!("task role: unrecognised resources {resources} (via {via:?})"));
        let actions = attr(statement, "actions").expect("actions");
        granted.extend(quoted.captures_iter(&actions).map(|c| (target, c[1].to_string())));
    }
    granted
}

fn iam_tf() -> String {
    std::fs::read_to_string(common::repo("deploy/terraform/iam.tf")).unwrap()
}

#[test]
fn the_task_role_grants_exactly_the_aws_calls_seccfg_makes() {
    let needed = grants_needed();
    for must in [
        (Target::ArtifactBucket, "s3:PutObject"),
        (Target::IntakeBuckets, "s3:GetObject"),
        (Target::LibraryTable, "dynamodb:Query"),
        (Target::ArtifactKeyViaS3, "kms:GenerateDataKey"),
        (Target::LibraryKeyViaDynamoDb, "kms:Decrypt"),
        (Target::IntakeKeysViaS3, "kms:Decrypt"),
        (Target::AppDatabaseUser, "rds-db:connect"),
    ] {
        assert!(needed.contains(&(must.0, must.1.to_string())), "the scan finds {must:?}: {needed:?}");
    }
    let granted = grants_given(&iam_tf());
    let missing: Vec<_> = needed.difference(&granted).collect();
    let unused: Vec<_> = granted.difference(&needed).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "task role in deploy/terraform/iam.tf: missing {missing:?} (called), unused {unused:?} (no call site)"
    );
}

#[test]
fn the_task_role_check_fails_on_a_wrong_role() {
    let needed = grants_needed();
    let iam = iam_tf();
    // A KMS action dropped, an S3 grant moved to the wrong bucket, a key usable through
    // the wrong service, an extra action: each is caught.
    let mutations = [
        (
            "actions   = [\"kms:Decrypt\", \"kms:GenerateDataKey\"]\n    resources = [aws_kms_key.this[\"objects\"].arn]",
            "actions   = [\"kms:Decrypt\"]\n    resources = [aws_kms_key.this[\"objects\"].arn]",
            false,
        ),
        (
            "for b in var.intake_bucket_names : \"arn:${local.partition}:s3:::${b}/*\"",
            "\"${aws_s3_bucket.artifacts.arn}/intake/*\"",
            false,
        ),
        (
            "values   = [\"dynamodb.${var.region}.amazonaws.com\"]",
            "values   = [\"s3.${var.region}.amazonaws.com\"]",
            false,
        ),
        (
            "\"dynamodb:Query\", \"dynamodb:Scan\"",
            "\"dynamodb:Query\", \"dynamodb:Scan\", \"dynamodb:DeleteItem\"",
            false,
        ),
        // A login for any database user is not a recognised grant at all.
        ("/${var.db_app_user}", "/*", true),
    ];
    assert_eq!(grants_given(&iam), needed, "the unchanged role passes");
    for (from, to, refused) in mutations {
        assert!(iam.contains(from), "mutation source {from:?} is in iam.tf");
        let mutated = iam.replacen(from, to, 1);
        match std::panic::catch_unwind(|| grants_given(&mutated)) {
            Ok(granted) => assert!(!refused && granted != needed, "mutation {from:?} → {to:?} went unnoticed"),
            Err(_) => assert!(refused, "mutation {from:?} → {to:?} should be a difference, not unrecognised"),
        }
    }
}

// --- Variable validations, evaluated -------------------------------------------------------

fn func(f: fn(FuncArgs) -> Result<Value, String>, params: usize) -> FuncDef {
    let mut b = FuncDef::builder();
    for _ in 0..params {
        b = b.param(ParamType::Any);
    }
    b.build(f)
}

/// The Terraform built-ins the validations use, with Terraform's meaning.
fn context(vars: &BTreeMap<String, Value>) -> Context<'static> {
    let mut ctx = Context::new();
    ctx.declare_var("var", Value::Object(vars.clone().into_iter().collect()));
    ctx.declare_func(
        "contains",
        func(|a| Ok(Value::Bool(a[0].as_array().ok_or("contains: list")?.iter().any(|v| v == &a[1]))), 2),
    );
    ctx.declare_func(
        "length",
        func(
            |a| match &a[0] {
                Value::Array(v) => Ok(Value::from(v.len() as u64)),
                Value::Object(v) => Ok(Value::from(v.len() as u64)),
                Value::String(s) => Ok(Value::from(s.chars().count() as u64)),
                other => Err(format!("length of {other}")),
            },
            1,
        ),
    );
    ctx.declare_func(
        "regexall",
        func(
            |a| {
                let re = regex::Regex::new(a[0].as_str().ok_or("pattern")?).map_err(|e| e.to_string())?;
                let s = a[1].as_str().ok_or("string")?;
                Ok(Value::Array(re.find_iter(s).map(|m| Value::from(m.as_str())).collect()))
            },
            2,
        ),
    );
    ctx.declare_func(
        "alltrue",
        func(|a| Ok(Value::Bool(a[0].as_array().ok_or("alltrue: list")?.iter().all(|v| v == &Value::Bool(true)))), 1),
    );
    ctx
}

struct Variable {
    name: String,
    default: Option<Value>,
    validations: Vec<(Expression, String)>,
}

fn variables() -> Vec<Variable> {
    let body: Body =
        hcl::from_str(&std::fs::read_to_string(common::repo("deploy/terraform/variables.tf")).unwrap()).unwrap();
    let empty = Context::new();
    body.blocks()
        .filter(|b| b.identifier() == "variable")
        .map(|b| {
            let attr = |name: &str| b.body().attributes().find(|a| a.key() == name).map(|a| a.expr().clone());
            Variable {
                name: b.labels()[0].as_str().to_string(),
                default: attr("default").map(|e| e.evaluate(&empty).expect("defaults are literals")),
                validations: b
                    .body()
                    .blocks()
                    .filter(|v| v.identifier() == "validation")
                    .map(|v| {
                        let get = |k: &str| v.body().attributes().find(|a| a.key() == k).unwrap().expr().clone();
                        (get("condition"), format!("{}", get("error_message")))
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Names of the variables whose validation refuses `inputs` (over the defaults).
fn refused(inputs: &[(&str, Value)]) -> Vec<String> {
    let vars = variables();
    let mut values: BTreeMap<String, Value> =
        vars.iter().filter_map(|v| Some((v.name.clone(), v.default.clone()?))).collect();
    for (k, v) in inputs {
        assert!(vars.iter().any(|x| x.name == *k), "no variable {k}");
        values.insert(k.to_string(), v.clone());
    }
    let missing: Vec<_> = vars.iter().filter(|v| !values.contains_key(&v.name)).map(|v| v.name.clone()).collect();
    assert!(missing.is_empty(), "required variables not given: {missing:?}");
    let ctx = context(&values);
    let mut out = Vec::new();
    for v in &vars {
        for (condition, _) in &v.validations {
            match condition.evaluate(&ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => out.push(v.name.clone()),
                other => panic!("validation of {} did not evaluate to a bool: {other:?}", v.name),
            }
        }
    }
    out
}

fn prod() -> Vec<(&'static str, Value)> {
    vec![
        ("environment", "prod".into()),
        ("allowed_ingress_cidrs", Value::Array(vec!["203.0.113.0/24".into()])),
        ("certificate_arn", "arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234".into()),
        ("image", format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/seccfg@sha256:{}", "a".repeat(64)).into()),
        (
            "metrics_sidecar_image",
            format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/adot@sha256:{}", "b".repeat(64)).into(),
        ),
        ("db_instance_class", "db.m7g.large".into()),
    ]
}

fn with(mut base: Vec<(&'static str, Value)>, changes: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
    for (k, v) in changes {
        base.retain(|(n, _)| n != k);
        base.push((k, v.clone()));
    }
    base
}

#[test]
fn a_sound_prod_configuration_passes_every_validation() {
    assert_eq!(refused(&prod()), Vec::<String>::new());
    let dev = with(prod(), &[("environment", "dev".into()), ("db_instance_class", "db.t4g.medium".into())]);
    assert_eq!(refused(&dev), Vec::<String>::new());
}

#[test]
fn prod_refuses_turning_off_deletion_protection_or_multi_az() {
    assert_eq!(refused(&with(prod(), &[("deletion_protection", false.into())])), ["deletion_protection"]);
    assert_eq!(refused(&with(prod(), &[("db_multi_az", false.into())])), ["db_multi_az"]);
    assert_eq!(refused(&with(prod(), &[("db_backup_retention_days", 7.into())])), ["db_backup_retention_days"]);
    assert_eq!(refused(&with(prod(), &[("db_instance_class", "db.t4g.medium".into())])), ["db_instance_class"]);
    assert_eq!(refused(&with(prod(), &[("min_tasks", 1.into()), ("max_tasks", 4.into())])), ["min_tasks"]);
    // The same settings are allowed outside prod.
    let dev = with(prod(), &[("environment", "dev".into())]);
    let relaxed =
        [("deletion_protection", false.into()), ("db_multi_az", false.into()), ("db_backup_retention_days", 7.into())];
    assert_eq!(refused(&with(dev, &relaxed)), Vec::<String>::new());
}

#[test]
fn malformed_inputs_are_refused() {
    let cases: [(&str, Value); 9] = [
        ("environment", "production".into()),
        ("vpc_cidr", "10.0.0.0/8".into()),
        ("allowed_ingress_cidrs", Value::Array(vec!["0.0.0.0".into()])),
        ("certificate_arn", "not-an-arn".into()),
        ("image", "seccfg:latest".into()),
        ("log_retention_days", 30.into()),
        ("db_backup_retention_days", 3.into()),
        ("backup_retention_days", 7.into()),
        ("replication_destination_bucket_arn", "my-bucket".into()),
    ];
    for (name, value) in cases {
        let got = refused(&with(prod(), &[(name, value.clone())]));
        assert!(got.contains(&name.to_string()), "{name} = {value} was accepted (refused: {got:?})");
    }
}

// --- TLS to the database -----------------------------------------------------------------

/// The service verifies the database (`sslmode=verify-full`) against the RDS root CAs
/// the image bakes in: the file parses as trust anchors the way sqlx loads it, holds the
/// G1 root of the family `ca_cert_identifier` names, and the path the task definitions
/// give is where the Dockerfile puts it.
#[test]
fn the_database_is_reached_with_verify_full_against_the_baked_in_rds_cas() {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(common::repo("deploy/certs/rds-ca-g1.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.expect("a PEM certificate")).expect("a usable trust anchor");
    }
    assert!(roots.len() >= 30, "only {} RDS roots", roots.len());
    let text = String::from_utf8(pem).unwrap();
    let rds = std::fs::read_to_string(common::repo("deploy/terraform/rds.tf")).unwrap();
    assert!(rds.contains("ca_cert_identifier     = \"rds-ca-rsa2048-g1\""));
    assert!(text.contains("# CN=Amazon RDS eu-west-1 Root CA RSA2048 G1"));

    let dockerfile = std::fs::read_to_string(common::repo("Dockerfile")).unwrap();
    assert!(dockerfile.contains("COPY --chown=0:0 deploy/certs/rds-ca-g1.pem ./certs/rds-ca-g1.pem"));
    assert!(dockerfile.contains("WORKDIR /app"));
    let dockerignore = std::fs::read_to_string(common::repo(".dockerignore")).unwrap();
    assert!(dockerignore.lines().any(|l| l == "!deploy/certs/rds-ca-g1.pem"), "the build context has the CA file");
    let ecs = std::fs::read_to_string(common::repo("deploy/terraform/ecs.tf")).unwrap();
    assert!(ecs.contains("db_tls = \"sslmode=verify-full&sslrootcert=/app/certs/rds-ca-g1.pem\""));
    assert_eq!(ecs.matches("?${local.db_tls}\"").count(), 2, "the service and the migrate task both verify");
    assert!(!ecs.contains("sslmode=require"));
    // The service logs in as the application user with IAM tokens, never as the master user.
    assert!(ecs.contains("postgres://${var.db_app_user}@"));
    assert!(ecs.contains("{ name = \"SECCFG_DATABASE_IAM_AUTH\", value = \"true\" }"));
    let service = &ecs[ecs.find("resource \"aws_ecs_task_definition\" \"this\"").unwrap()..];
    let service = &service[..service.find("\nresource ").unwrap()];
    assert!(!service.contains("PGPASSWORD") && !service.contains("master_user_secret"), "no password in the service");
}

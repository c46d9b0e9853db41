//! deploy/terraform without AWS: every file parses, every resource type and every
//! argument or nested block exists in the AWS provider schema of the knowledge
//! catalog (the same `TerraformBlock::has_path` check generated bundles pass), every
//! IAM action the roles grant exists in the catalog, and every variable validation is
//! evaluated with hcl-rs against good and bad configurations: a prod configuration
//! that turns off deletion protection or Multi-AZ is refused. The task role's S3,
//! DynamoDB and Bedrock actions are exactly those the AWS SDK calls in src/ need.

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

fn pascal(snake: &str) -> String {
    snake.split('_').map(|w| w[..1].to_ascii_uppercase() + &w[1..]).collect()
}

/// The text of every Rust file under src/.
fn source_files() -> Vec<String> {
    let (mut stack, mut texts) = (vec![common::repo("src")], Vec::new());
    while let Some(dir) = stack.pop() {
        for path in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                texts.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    texts
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

/// Every IAM action the AWS SDK calls in src/ need.
fn actions_called_in_src() -> std::collections::BTreeSet<String> {
    let mut needed = std::collections::BTreeSet::new();
    for text in source_files() {
        for (sdk, prefix) in SDKS.iter().filter(|(sdk, _)| text.contains(&format!("use {sdk}"))) {
            needed.extend(actions_in(&text, sdk, prefix));
        }
    }
    needed
}

/// Actions of the S3, DynamoDB and Bedrock statements of the task role in iam.tf.
fn task_role_actions() -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(common::repo("deploy/terraform/iam.tf")).unwrap();
    let start = text.find("data \"aws_iam_policy_document\" \"task\"").expect("the task role's policy");
    let end = text[start..].find("\nresource ").map_or(text.len(), |i| start + i);
    let quoted = regex::Regex::new(r#""((?:s3|dynamodb|bedrock):[A-Z][A-Za-z0-9]*)""#).unwrap();
    quoted.captures_iter(&text[start..end]).map(|c| c[1].to_string()).collect()
}

#[test]
fn the_task_role_grants_exactly_the_aws_calls_seccfg_makes() {
    let needed = actions_called_in_src();
    assert!(needed.contains("s3:PutObject") && needed.contains("dynamodb:Query"), "the scan finds calls: {needed:?}");
    let granted = task_role_actions();
    let missing: Vec<_> = needed.difference(&granted).collect();
    let unused: Vec<_> = granted.difference(&needed).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "task role in deploy/terraform/iam.tf: missing {missing:?} (called in src/), unused {unused:?}"
    );
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

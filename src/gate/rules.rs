//! Rule loading for the gate: a bundle's `rules.guard`, in the shape
//! `crate::render::guard` writes it, read back into one [`ControlRule`] per control
//! (the resource type it applies to, the companion type it needs, its clauses), with
//! title and severity from the bundle's `controls.json` (or the library's controls).
//! A rule of any other shape is refused rather than guessed at.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::GateError;
use crate::render::terraform_checks::TerraformChecks;

/// One clause of a control's rule, e.g. `some Properties.A.B[*].C == "x"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// The clause exactly as the rules file has it.
    pub text: String,
    /// Its property path (`Properties.A.B[*].C`), the path a failure reports.
    pub path: String,
}

/// A control's Guard rule, re-read from the bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlRule {
    pub control_id: String,
    pub rule_name: String,
    pub title: String,
    /// `critical`, `high`, `medium` or `low` (the control's priority in the bundle).
    pub severity: String,
    /// The resource type whose presence makes the rule apply; findings are per resource of it.
    pub anchor_type: String,
    /// The resource type the clauses check: the anchor, or a companion resource.
    pub target_type: String,
    pub clauses: Vec<Clause>,
}

/// The rules of one service's approved (or given) bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRules {
    pub service: String,
    /// Where the rules came from: a bundle directory, or `library v{bundle_version}`.
    pub source: String,
    pub rules: Vec<ControlRule>,
    /// Resource types the bundle's own `template.yaml` deploys (a Lambda bundle's
    /// dead-letter queue): approved with the bundle, so never "not approved".
    pub deployed_types: BTreeSet<String>,
    /// Control id → (title, severity), for findings on Terraform plans.
    pub controls: BTreeMap<String, (String, String)>,
    /// The bundle's `terraform-checks.json`: what each control requires in a plan
    /// (absent in bundles generated before plans could be checked).
    pub terraform: Option<TerraformChecks>,
}

impl ServiceRules {
    /// Reads a bundle's rules file and template into its rules.
    pub fn from_bundle(
        service: &str,
        source: String,
        rules_guard: &str,
        template: Option<&str>,
        meta: &BTreeMap<String, (String, String)>,
    ) -> Result<ServiceRules, String> {
        let rules = parse(rules_guard, meta).map_err(|e| format!("rules.guard: {e}"))?;
        let deployed_types = match template {
            Some(text) => super::Template::parse(text)
                .map_err(|e| format!("template.yaml: {e}"))?
                .resources()
                .filter_map(|(_, r)| r["Type"].as_str().map(str::to_string))
                .collect(),
            None => BTreeSet::new(),
        };
        Ok(ServiceRules {
            service: service.to_string(),
            source,
            rules,
            deployed_types,
            controls: meta.clone(),
            terraform: None,
        })
    }

    /// Adds the bundle's `terraform-checks.json`, when it has one.
    pub fn with_terraform(mut self, text: Option<&str>) -> Result<ServiceRules, String> {
        if let Some(text) = text {
            self.terraform = Some(serde_json::from_str(text).map_err(|e| format!("terraform-checks.json: {e}"))?);
        }
        Ok(self)
    }

    /// Every Terraform type the bundle covers: those its checks name and those `main.tf` deploys.
    pub fn terraform_types(&self) -> impl Iterator<Item = &str> {
        self.terraform.iter().flat_map(|t| {
            t.deployed_types.iter().map(String::as_str).chain(t.controls.iter().flat_map(|c| {
                std::iter::once(c.anchor_type.as_str()).chain(c.requirements.iter().map(|r| r.resource_type.as_str()))
            }))
        })
    }

    /// Every resource type the bundle covers: those its rules name and those it deploys.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .flat_map(|r| [r.anchor_type.as_str(), r.target_type.as_str()])
            .chain(self.deployed_types.iter().map(String::as_str))
    }
}

/// Control id → (title, severity) from a `controls.json` document.
pub fn control_meta(controls_json: &Value) -> BTreeMap<String, (String, String)> {
    controls_json["controls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let id = c["id"].as_str()?;
            Some((id.to_string(), (str_of(&c["title"]), str_of(&c["priority"]))))
        })
        .collect()
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Reads `rules.guard`, `controls.json` and `bundle.json` (for the service id) from a bundle directory.
pub fn load_bundle_dir(dir: &Path) -> Result<ServiceRules, GateError> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| GateError::Bundle(format!("{}: {e}", dir.join(name).display())))
    };
    let controls: Value = serde_json::from_str(&read("controls.json")?)
        .map_err(|e| GateError::Bundle(format!("{}/controls.json: {e}", dir.display())))?;
    let service = controls["service"]
        .as_str()
        .ok_or_else(|| GateError::Bundle(format!("{}/controls.json names no service", dir.display())))?
        .to_string();
    let template = read("template.yaml").ok();
    let source = dir.display().to_string();
    let terraform = read("terraform-checks.json").ok();
    ServiceRules::from_bundle(&service, source, &read("rules.guard")?, template.as_deref(), &control_meta(&controls))
        .and_then(|r| r.with_terraform(terraform.as_deref()))
        .map_err(|e| GateError::Bundle(format!("{}: {e}", dir.display())))
}

/// The profile id a bundle directory was generated for (`bundle.json`).
pub fn bundle_profile(dir: &Path) -> Result<String, GateError> {
    let path = dir.join("bundle.json");
    let text = std::fs::read_to_string(&path).map_err(|e| GateError::Bundle(format!("{}: {e}", path.display())))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| GateError::Bundle(format!("{}: {e}", path.display())))?;
    doc["profile_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| GateError::Bundle(format!("{} names no profile_id", path.display())))
}

/// Parses a rules file written by `crate::render::guard::rules_file`.
pub fn parse(text: &str, meta: &BTreeMap<String, (String, String)>) -> Result<Vec<ControlRule>, String> {
    let mut vars = BTreeMap::new();
    let mut rules = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    let mut pending: Option<(String, String)> = None;
    while let Some((n, line)) = lines.next() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("let ") {
            let (var, kind) = parse_let(rest).ok_or_else(|| format!("line {}: unsupported let", n + 1))?;
            vars.insert(var, kind);
        } else if let Some(rest) = line.strip_prefix("# ") {
            pending = rest.split_once(": ").map(|(id, title)| (id.to_string(), title.to_string()));
        } else if line.starts_with("rule ") {
            let (id, title) =
                pending.take().ok_or_else(|| format!("line {}: rule without its '# ID: title'", n + 1))?;
            let mut body = Vec::new();
            for (_, l) in lines.by_ref() {
                if l.trim_end() == "}" && !l.starts_with(' ') {
                    break;
                }
                body.push(l.trim().to_string());
            }
            rules.push(parse_rule(line, &body, &vars, id, title, meta).map_err(|e| format!("line {}: {e}", n + 1))?);
        }
    }
    Ok(rules)
}

fn parse_let(rest: &str) -> Option<(String, String)> {
    let (var, query) = rest.split_once(" = ")?;
    let kind = query.strip_prefix("Resources.*[ Type == '")?.strip_suffix("' ]")?;
    Some((var.trim().to_string(), kind.to_string()))
}

fn parse_rule(
    header: &str,
    body: &[String],
    vars: &BTreeMap<String, String>,
    control_id: String,
    title: String,
    meta: &BTreeMap<String, (String, String)>,
) -> Result<ControlRule, String> {
    let mut words = header.split_whitespace();
    let (Some("rule"), Some(name), Some("when")) = (words.next(), words.next(), words.next()) else {
        return Err(format!("unsupported rule header '{header}'"));
    };
    let var_type =
        |v: &str| vars.get(v.trim_start_matches('%')).cloned().ok_or_else(|| format!("unknown variable {v}"));
    let anchor_type = var_type(words.next().unwrap_or_default())?;
    let open = body.iter().find(|l| l.ends_with(" {")).ok_or("rule without a block")?;
    let target_type = var_type(open.trim_end_matches(" {"))?;
    let clauses = body
        .iter()
        .skip_while(|l| !l.ends_with(" {"))
        .skip(1)
        .filter(|l| *l != "}" && !l.is_empty())
        .map(|l| clause(l))
        .collect::<Result<Vec<_>, _>>()?;
    let (meta_title, severity) = meta.get(&control_id).cloned().unwrap_or_default();
    Ok(ControlRule {
        rule_name: name.to_string(),
        title: if meta_title.is_empty() { title } else { meta_title },
        severity: if severity.is_empty() { "medium".into() } else { severity },
        control_id,
        anchor_type,
        target_type,
        clauses,
    })
}

fn clause(text: &str) -> Result<Clause, String> {
    let body = text.strip_prefix("some ").unwrap_or(text);
    if !body.starts_with("Properties.") {
        return Err(format!("unsupported clause '{text}'"));
    }
    let end = [" exists", " == ", " >= "]
        .iter()
        .filter_map(|op| body.find(op))
        .min()
        .ok_or_else(|| format!("unsupported clause '{text}'"))?;
    Ok(Clause { text: text.to_string(), path: body[..end].to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_companion_rule() {
        let text = "let aws_s3_bucket = Resources.*[ Type == 'AWS::S3::Bucket' ]\n\
                    let aws_s3_bucketpolicy = Resources.*[ Type == 'AWS::S3::BucketPolicy' ]\n\n\
                    # S3-03: TLS\nrule S3_03 when %aws_s3_bucket !empty {\n    %aws_s3_bucketpolicy !empty\n    \
                    %aws_s3_bucketpolicy {\n        some Properties.PolicyDocument.Statement[*].Effect == \"Deny\"\n    }\n}\n";
        let rules = parse(text, &BTreeMap::new()).unwrap();
        assert_eq!(rules.len(), 1);
        let r = &rules[0];
        assert_eq!((r.control_id.as_str(), r.rule_name.as_str()), ("S3-03", "S3_03"));
        assert_eq!((r.anchor_type.as_str(), r.target_type.as_str()), ("AWS::S3::Bucket", "AWS::S3::BucketPolicy"));
        assert_eq!(r.clauses[0].path, "Properties.PolicyDocument.Statement[*].Effect");
        assert!(parse("# X-1: t\nrule X_1 when %nope !empty {\n}\n", &BTreeMap::new()).is_err());
    }
}

//! The gate's report model: one finding per resource × control, the resources whose
//! service has no approved bundle, the rule sources used and the overall verdict.
//! Every output format (`format.rs`) and the API render this one model.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::library::Waiver;

/// The result of one control on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    /// The control failed but a waiver in force accepts it.
    Waived,
    /// A value the rule needs is an unresolved intrinsic (`Ref`, `Fn::Sub`, …): never a pass.
    Undetermined,
    /// Terraform plans only: the control cannot be decided soundly from a plan.
    NotDecidable,
    Fail,
}

impl Outcome {
    /// Whether this outcome lets the gate pass.
    pub fn passes(self) -> bool {
        matches!(self, Outcome::Pass | Outcome::Waived)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Waived => "waived",
            Outcome::Undetermined => "undetermined",
            Outcome::NotDecidable => "not_decidable",
            Outcome::Fail => "fail",
        }
    }
}

/// A property the control checks that did not pass, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PathResult {
    /// The property path as the rule states it, e.g. `Properties.BucketEncryption…SSEAlgorithm`.
    pub path: String,
    pub outcome: Outcome,
    /// JSON pointer of the deepest node of the path present in the template (or plan).
    pub pointer: String,
    /// 1-based line of that node, when the input has lines.
    pub line: Option<usize>,
    pub message: String,
}

/// One control evaluated on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Finding {
    /// Logical id (CloudFormation) or address (Terraform).
    pub resource: String,
    pub resource_type: String,
    pub service: String,
    pub control_id: String,
    pub title: String,
    pub severity: String,
    pub outcome: Outcome,
    /// Line of the resource (or of the first path that did not pass).
    pub line: Option<usize>,
    /// Paths that did not pass (empty on a pass).
    pub paths: Vec<PathResult>,
    /// The waiver that turned a failure into `waived`.
    pub waiver: Option<Waiver>,
}

/// A resource whose service has no approved bundle (or no bundle given offline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotApproved {
    pub resource: String,
    pub resource_type: String,
    pub service: String,
    pub line: Option<usize>,
}

/// The results for one template or plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InputReport {
    /// The file name (CLI) or `template` (API).
    pub name: String,
    /// `cloudformation` or `terraform_plan`.
    pub kind: String,
    pub findings: Vec<Finding>,
    pub not_approved: Vec<NotApproved>,
}

/// Where one service's rules came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleSource {
    pub service: String,
    /// A bundle directory, or the library entry (`run_id`).
    pub source: String,
    /// The approved bundle version (library only).
    pub bundle_version: Option<i64>,
}

/// The gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = GateVerdict)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
}

/// Counts by outcome, over every input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    pub pass: usize,
    pub waived: usize,
    pub undetermined: usize,
    pub not_decidable: usize,
    pub fail: usize,
    pub not_approved: usize,
}

/// A whole check: every input, the sources used and the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    /// `pass` only when every finding passes (or is waived) and every resource's service is approved.
    pub verdict: Verdict,
    pub profile_id: String,
    /// The digest of the library entries used (API checks only); it changes with every approval.
    pub library_version: Option<String>,
    pub summary: Summary,
    pub sources: Vec<RuleSource>,
    pub inputs: Vec<InputReport>,
}

impl Report {
    /// Builds the report and its verdict from evaluated inputs.
    pub fn new(profile_id: &str, sources: Vec<RuleSource>, inputs: Vec<InputReport>) -> Report {
        let mut summary = Summary::default();
        for input in &inputs {
            for f in &input.findings {
                *match f.outcome {
                    Outcome::Pass => &mut summary.pass,
                    Outcome::Waived => &mut summary.waived,
                    Outcome::Undetermined => &mut summary.undetermined,
                    Outcome::NotDecidable => &mut summary.not_decidable,
                    Outcome::Fail => &mut summary.fail,
                } += 1;
            }
            summary.not_approved += input.not_approved.len();
        }
        let blocked = summary.fail + summary.undetermined + summary.not_decidable + summary.not_approved;
        let verdict = if blocked == 0 { Verdict::Pass } else { Verdict::Fail };
        Report { verdict, profile_id: profile_id.to_string(), library_version: None, summary, sources, inputs }
    }
}

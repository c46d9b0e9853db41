//! Renderers: turn a run's [`Plan`](crate::plan::Plan) (selected controls with the
//! profile's values applied) into deployable text — AWS Config and EventBridge rule
//! specs, Guard rules, SCPs, CloudFormation and Terraform. They are pure functions
//! of the plan and the catalog; the pipeline's stages call them and verify what they
//! produce. Nothing here reads stage outputs or records checks; `guard_eval` runs
//! Guard rules in-process (for the pipeline's proof and the gate) and judges nothing.

pub mod cloudformation;
pub mod detective;
pub mod guard;
pub mod guard_eval;
pub mod scp;
pub mod terraform;
pub mod terraform_checks;
pub mod values;

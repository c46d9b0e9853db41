//! The stage engine: workers that claim stages from the job table, run them and
//! record the outcome. It replaces the reference design's Step Functions.
//!
//! Durability comes from the table, not the process: a stage is claimed under a
//! lease, the lease is extended while the stage runs, and a lease that expires
//! (the process died) makes the stage claimable again.

mod worker;

pub use worker::{Worker, WorkerConfig};

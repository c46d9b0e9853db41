//! seccfg: a security profile and a service request in, a verified bundle out.

pub mod advisor;
pub mod app;
pub mod approval;
pub mod auth;
pub mod aws;
pub mod catalog;
pub mod config;
pub mod diff;
pub mod engine;
pub mod gate;
pub mod healthcheck;
pub mod http;
pub mod input;
pub mod intake;
pub mod knowledge;
pub mod library;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod versions;

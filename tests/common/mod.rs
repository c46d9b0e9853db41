//! Shared test fixtures: fresh databases on both backends, the catalog, examples.
#![allow(dead_code)]

pub mod converse;
pub mod fault_proxy;
pub mod moto;
pub mod tfplan;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use seccfg::catalog::Catalog;
use seccfg::knowledge::Knowledge;
use seccfg::store::{self, Store};

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

pub fn example(path: &str) -> Vec<u8> {
    std::fs::read(repo("examples").join(path)).expect("example exists")
}

pub fn example_json(path: &str) -> serde_json::Value {
    serde_json::from_slice(&example(path)).expect("example is JSON")
}

/// The catalog with the team's control and IAM knowledge, loaded once per test binary.
pub fn knowledge() -> Arc<Knowledge> {
    static KNOWLEDGE: OnceLock<Arc<Knowledge>> = OnceLock::new();
    KNOWLEDGE
        .get_or_init(|| Arc::new(Knowledge::load(&repo("data"), &repo("knowledge")).expect("knowledge loads")))
        .clone()
}

pub fn catalog() -> Arc<Catalog> {
    knowledge().catalog().clone()
}

/// The PostgreSQL server the test command prepared (scripts/test).
pub fn postgres_admin_url() -> String {
    std::env::var("SECCFG_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A brand-new PostgreSQL database for one test, migrated.
pub async fn fresh_postgres() -> (Arc<dyn Store>, String) {
    use sqlx::Connection;
    let admin = postgres_admin_url();
    let name = format!("seccfg_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn =
        sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL reachable (run the tests through scripts/test)");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).expect("url has a database");
    let url = format!("{base}/{name}");
    let store = store::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    (store, url)
}

/// A brand-new SQLite file for one test, migrated.
pub async fn fresh_sqlite() -> (Arc<dyn Store>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("seccfg.db").display());
    let store = store::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    (store, url, dir)
}

/// The 30 priority services of PRODUCT.md, by canonical id.
pub const PRIORITY: [&str; 30] = [
    "s3",
    "dynamodb",
    "lambda",
    "ec2",
    "rds",
    "sns",
    "sqs",
    "kms",
    "iam",
    "bedrock",
    "ecs",
    "eks",
    "apigateway",
    "cloudfront",
    "secretsmanager",
    "logs",
    "cloudwatch",
    "elasticloadbalancing",
    "states",
    "events",
    "glue",
    "athena",
    "kinesis",
    "sagemaker",
    "elasticache",
    "elasticfilesystem",
    "es",
    "cloudtrail",
    "config",
    "guardduty",
];

pub mod api;
pub mod library_contract;

/// One HTTP/1.1 exchange with a server process over a plain socket (`Connection:
/// close`); returns the status and the body.
pub fn http_request(addr: std::net::SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let body = body.unwrap_or("");
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        head += "Content-Type: application/json\r\n";
    }
    stream.write_all(format!("{head}\r\n{body}").as_bytes()).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

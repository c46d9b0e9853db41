//! RDS IAM database authentication. The token seccfg signs (aws-sigv4) is compared
//! with an independent construction, botocore's `generate_db_auth_token` (pinned in
//! scripts/moto/requirements.txt), for fixed credentials and time: same host and
//! path, same query parameters, same signature. Then the least-privilege split of
//! docs/RUNBOOK.md: on a fresh PostgreSQL database the migration owner migrates, the
//! runbook's SQL block creates the application user, and a real `seccfg serve`
//! logged in as that user (`SECCFG_DATABASE_IAM_AUTH`, a token as the password,
//! `SECCFG_MIGRATE=false`) processes a run, while the user cannot create a table.
//! (The test server trusts local logins, so the token's validity is proven by the
//! botocore comparison, not by the server.)

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use seccfg::store::rds_iam::auth_token;
use sqlx::Connection;

const HOST: &str = "seccfg-prod-db.c9akciq32.eu-west-1.rds.amazonaws.com";
const AT: u64 = 1_796_108_400; // 2026-12-01T07:00:00Z

fn credentials(token: Option<&str>) -> Credentials {
    Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token.map(String::from), None, "test")
}

/// botocore's token for the same input, from the pinned venv of the moto tests.
fn botocore_token(user: &str, port: u16, session_token: Option<&str>, at: u64) -> String {
    let out = Command::new(common::repo("scripts/moto/ensure-venv")).stderr(Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "scripts/moto/ensure-venv failed");
    let python = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let script = r#"
import datetime, sys
from unittest import mock
import botocore.session
host, port, user, token, at = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] or None, int(sys.argv[5])
session = botocore.session.Session()
session.set_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
client = session.create_client("rds", region_name="eu-west-1")
now = datetime.datetime.fromtimestamp(at, datetime.timezone.utc).replace(tzinfo=None)
with mock.patch("botocore.auth.get_current_datetime", return_value=now):
    print(client.generate_db_auth_token(host, port, user))
"#;
    let out = Command::new(python)
        .args(["-c", script, HOST, &port.to_string(), user, session_token.unwrap_or(""), &at.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "botocore: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `host:port/` and the decoded query parameters of a token.
fn parts(token: &str) -> (String, BTreeMap<String, String>) {
    let (base, query) = token.split_once('?').expect("a query");
    let decode = |s: &str| {
        let mut out = Vec::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    let params = query
        .split('&')
        .map(|kv| kv.split_once('=').expect("key=value"))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    (base.to_string(), params)
}

fn ours(user: &str, port: u16, session_token: Option<&str>, at: u64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(at);
    auth_token(HOST, port, user, "eu-west-1", &credentials(session_token), time).unwrap()
}

#[test]
fn the_token_is_the_one_botocore_signs() {
    for (user, port, session_token) in
        [("seccfg_app", 5432, None), ("seccfg_app", 5433, Some("FwoGZXIvYXdzEBYaDH+/session=token"))]
    {
        let (our_base, our_params) = parts(&ours(user, port, session_token, AT));
        let (base, params) = parts(&botocore_token(user, port, session_token, AT));
        assert_eq!(our_base, format!("{HOST}:{port}/"));
        assert_eq!(our_base, base);
        assert_eq!(our_params, params, "query parameters and signature equal botocore's");
        assert_eq!(our_params["Action"], "connect");
        assert_eq!(our_params["DBUser"], user);
        assert_eq!(our_params["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(our_params["X-Amz-Credential"], "AKIDEXAMPLE/20261201/eu-west-1/rds-db/aws4_request");
        assert_eq!(our_params["X-Amz-Date"], "20261201T070000Z");
        assert_eq!(our_params["X-Amz-Expires"], "900");
        assert_eq!(our_params["X-Amz-SignedHeaders"], "host");
        assert_eq!(our_params.get("X-Amz-Security-Token").map(String::as_str), session_token);
        assert_eq!(our_params["X-Amz-Signature"].len(), 64);
    }
}

#[test]
fn the_comparison_fails_on_a_wrong_token() {
    let reference = parts(&botocore_token("seccfg_app", 5432, None, AT)).1;
    let later = parts(&ours("seccfg_app", 5432, None, AT + 1)).1;
    let other_user = parts(&ours("seccfg_admin", 5432, None, AT)).1;
    assert_ne!(later["X-Amz-Signature"], reference["X-Amz-Signature"]);
    assert_ne!(other_user["X-Amz-Signature"], reference["X-Amz-Signature"]);
    let signed_now =
        parts(&ours("seccfg_app", 5432, None, SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs())).1;
    assert_ne!(signed_now["X-Amz-Date"], reference["X-Amz-Date"]);
}

// --- The application user of docs/RUNBOOK.md ---------------------------------------------

/// The SQL block the runbook marks `app-user-sql`.
fn runbook_sql() -> String {
    let text = std::fs::read_to_string(common::repo("docs/RUNBOOK.md")).unwrap();
    let start = text.find("<!-- app-user-sql").expect("the marked block");
    let body = &text[start..];
    let open = body.find("```sql\n").unwrap() + "```sql\n".len();
    let close = body[open..].find("```").unwrap();
    body[open..open + close].to_string()
}

/// Runs `sql` (one or more statements, as psql would send them) on `url`.
async fn execute(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(sql).execute(&mut conn).await?;
    conn.close().await
}

fn url_for(admin: &str, user: &str, database: &str) -> String {
    let (scheme, rest) = admin.split_once("://").unwrap();
    let host_db = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = host_db.split_once('/').map_or(host_db, |(h, _)| h);
    format!("{scheme}://{user}@{host}/{database}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_user_with_the_runbook_grants_runs_the_service_and_changes_no_schema() {
    let admin = common::postgres_admin_url();
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let (database, owner, app) = (format!("seccfg_iam_{id}"), format!("seccfg_owner_{id}"), format!("seccfg_app_{id}"));
    // The cluster is shared: the RDS pieces (rds_iam) and this test's roles, made unique.
    execute(&admin, "DO $$ BEGIN CREATE ROLE rds_iam; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        .await
        .unwrap();
    // The RDS master user can create roles and grant rds_iam; the local owner likewise.
    execute(&admin, &format!("CREATE ROLE {owner} LOGIN CREATEROLE")).await.unwrap();
    execute(&admin, &format!("GRANT rds_iam TO {owner} WITH ADMIN OPTION")).await.unwrap();
    execute(&admin, &format!("CREATE DATABASE {database} OWNER {owner}")).await.unwrap();
    let owner_url = url_for(&admin, &owner, &database);
    // PostgreSQL 15+ gives PUBLIC no CREATE on public; the owner of the database makes its schema.
    execute(&url_for(&admin, "postgres", &database), &format!("ALTER SCHEMA public OWNER TO {owner}")).await.unwrap();
    let migrate = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .args(["migrate"])
        .env("SECCFG_DATABASE_URL", &owner_url)
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    let sql = runbook_sql()
        .replace("seccfg_app", &app)
        .replace("seccfg_admin", &owner)
        .replace("DATABASE seccfg ", &format!("DATABASE {database} "));
    assert!(sql.contains(&format!("GRANT rds_iam TO {app}")));
    execute(&owner_url, &sql).await.unwrap_or_else(|e| panic!("runbook SQL as the migration owner: {e}"));

    let app_url = url_for(&admin, &app, &database);
    let denied = execute(&app_url, "CREATE TABLE intruder (x int)").await;
    assert!(denied.is_err(), "the application user created a table");
    let denied = execute(&app_url, "DELETE FROM _sqlx_migrations").await;
    assert!(denied.is_err(), "the application user changed the migration history");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .arg("serve")
        .env("SECCFG_BIND", addr.to_string())
        .env("SECCFG_DATABASE_URL", &app_url)
        .env("SECCFG_DATABASE_IAM_AUTH", "true")
        .env("SECCFG_MIGRATE", "false")
        .env("SECCFG_ARTIFACT_DIR", dir.path().join("artifacts"))
        .env("SECCFG_WORKERS", "1")
        .env("SECCFG_LOG", "warn")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        .env("AWS_REGION", "eu-west-1")
        .env_remove("AWS_PROFILE")
        .env_remove("PGPASSWORD")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let result = tokio::task::spawn_blocking(move || run_one(addr)).await;
    server.kill().unwrap();
    let output = server.wait_with_output().unwrap();
    if let Err(e) = result {
        eprintln!("server log:\n{}", String::from_utf8_lossy(&output.stderr));
        std::panic::resume_unwind(e.into_panic());
    }
    let mut conn = sqlx::PgConnection::connect(&owner_url).await.unwrap();
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM runs").fetch_one(&mut conn).await.unwrap();
    assert_eq!(runs, 1, "the run is in the database the app user wrote to");
    conn.close().await.unwrap();
    execute(&admin, &format!("DROP DATABASE {database} WITH (FORCE)")).await.unwrap();
    execute(&admin, &format!("DROP ROLE {app}")).await.unwrap();
    execute(&admin, &format!("DROP ROLE {owner}")).await.unwrap();
}

/// Submits the s3 request and waits for its run to succeed.
fn run_one(addr: SocketAddr) {
    let started = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "serve did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut body = common::example_json("requests/s3.json");
    body["profile"] = common::example_json("profiles/fin-prod.json");
    let (status, accepted) = common::http_request(addr, "POST", "/v1/requests", Some(&body.to_string()));
    assert_eq!(status, 202, "{accepted}");
    let run_id = serde_json::from_str::<serde_json::Value>(&accepted).unwrap()["runs"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    loop {
        let (_, run) = common::http_request(addr, "GET", &format!("/v1/runs/{run_id}"), None);
        let run: serde_json::Value = serde_json::from_str(&run).unwrap_or_default();
        if run["status"] == "succeeded" {
            return;
        }
        assert_ne!(run["status"], "failed", "{run}");
        assert!(started.elapsed() < Duration::from_secs(180), "run did not finish: {run}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

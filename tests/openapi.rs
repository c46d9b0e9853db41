//! The committed OpenAPI document is the one the server serves.
//! Regenerate with `UPDATE_OPENAPI=1 cargo test --test openapi`.

mod common;

#[test]
fn committed_openapi_matches_the_served_document() {
    let served = seccfg::http::openapi().to_pretty_json().unwrap() + "\n";
    let path = common::repo("openapi/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &served).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(served.contains("\"openapi\": \"3.1.0\""));
    assert!(committed == served, "openapi/openapi.json is stale: run UPDATE_OPENAPI=1 cargo test --test openapi");
}

//! The control library contract (tests/common/library_contract.rs) on the
//! relational implementations: SQLite and PostgreSQL.

mod common;

use std::sync::Arc;

use seccfg::library::Library;

async fn sqlite() -> (Arc<dyn Library>, tempfile::TempDir) {
    let (store, _, dir) = common::fresh_sqlite().await;
    (store.library(), dir)
}

async fn postgres() -> (Arc<dyn Library>, ()) {
    let (store, _) = common::fresh_postgres().await;
    (store.library(), ())
}

seccfg_library_contract!(on_sqlite, sqlite());
seccfg_library_contract!(on_postgres, postgres());

//! The control library contract (tests/common/library_contract.rs) on DynamoDB:
//! moto's server through the real SDK client, one fresh table per test.

mod common;

use std::sync::Arc;

use seccfg::library::{DynamoLibrary, Library};

async fn dynamodb() -> (Arc<dyn Library>, ()) {
    let settings = common::moto::settings(&common::moto::moto().endpoint);
    let client = aws_sdk_dynamodb::Client::new(&common::moto::sdk_config(&settings).await);
    let table = format!("seccfg-library-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let library = DynamoLibrary::new(client, table);
    library.create_table().await.expect("create table");
    (Arc::new(library), ())
}

seccfg_library_contract!(on_dynamodb, dynamodb());

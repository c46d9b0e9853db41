//! One contract suite for the artifact store, run against the local directory and
//! against S3 on moto's server (real SDK client, endpoint overridden), plus what
//! only S3 has: the documented key layout, content types and SSE-KMS headers.

mod common;

use std::sync::Arc;

use futures::StreamExt;
use seccfg::store::{
    ArtifactStore, BundleRef, LocalArtifactStore, NewArtifact, S3ArtifactStore, S3Location, StoreError, read_body,
};

fn bundle(version: i64) -> BundleRef {
    BundleRef {
        run_id: uuid::Uuid::new_v4().to_string(),
        profile_id: "FIN-PROD-001".into(),
        service_id: "s3".into(),
        bundle_version: version,
    }
}

async fn bytes_of(store: &Arc<dyn ArtifactStore>, b: &BundleRef, name: &str) -> Option<Vec<u8>> {
    let (_, body) = store.get(b, name).await.unwrap()?;
    Some(read_body(body).await.unwrap())
}

/// What every implementation promises.
async fn contract(store: Arc<dyn ArtifactStore>) {
    let a = bundle(1);
    let facts = store.put(&a, "facts.json", "application/json", b"{\"a\":1}\n").await.unwrap();
    assert_eq!((facts.name.as_str(), facts.content_type.as_str(), facts.size), ("facts.json", "application/json", 8));
    assert!(!facts.version.is_empty());
    let yaml = store.put(&a, "template.yaml", "application/yaml", b"Resources: {}\n").await.unwrap();
    let md = store.put(&a, "analysis.md", "text/markdown; charset=utf-8", b"# s3\n").await.unwrap();

    // get: the bytes and the metadata put returned.
    let (info, body) = store.get(&a, "template.yaml").await.unwrap().expect("stored");
    assert_eq!(info, yaml);
    assert_eq!(read_body(body).await.unwrap(), b"Resources: {}\n");

    // list: every file, sorted by name, with content types and versions.
    assert_eq!(store.list(&a).await.unwrap(), vec![md.clone(), facts.clone(), yaml.clone()]);

    // Immutable: different bytes under an existing name are refused and change nothing;
    // the same bytes again (a retried stage) return the stored object.
    match store.put(&a, "facts.json", "application/json", b"{\"a\":2}\n").await {
        Err(StoreError::ArtifactExists(name)) => assert_eq!(name, "facts.json"),
        other => panic!("overwrite must be refused, got {other:?}"),
    }
    assert_eq!(bytes_of(&store, &a, "facts.json").await.unwrap(), b"{\"a\":1}\n");
    assert_eq!(store.put(&a, "facts.json", "application/json", b"{\"a\":1}\n").await.unwrap(), facts);

    // Bundles are separate: same name, another version.
    let b = bundle(2);
    assert!(store.list(&b).await.unwrap().is_empty());
    assert!(store.get(&b, "facts.json").await.unwrap().is_none());
    store.put(&b, "facts.json", "application/json", b"{\"b\":1}\n").await.unwrap();
    assert_eq!(bytes_of(&store, &b, "facts.json").await.unwrap(), b"{\"b\":1}\n");
    assert_eq!(bytes_of(&store, &a, "facts.json").await.unwrap(), b"{\"a\":1}\n");

    // Unknown and invalid names.
    assert!(store.get(&a, "nope.json").await.unwrap().is_none());
    assert!(store.get(&a, "../facts.json").await.unwrap().is_none());
    for bad in ["../x", "a/b", ".index.json", ""] {
        assert!(store.put(&a, bad, "text/plain", b"x").await.is_err(), "'{bad}' must be refused");
    }

    // Many files, written concurrently (runs write in parallel): all listed, more
    // than one page on S3 (the S3 store under test lists 3 keys per page).
    let c = bundle(3);
    let writes = (0..8).map(|i| {
        let (store, c) = (store.clone(), c.clone());
        async move { store.put(&c, &format!("scp-{i}.json"), "application/json", format!("{i}").as_bytes()).await }
    });
    for r in futures::future::join_all(writes).await {
        r.unwrap();
    }
    let names: Vec<String> = store.list(&c).await.unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, (0..8).map(|i| format!("scp-{i}.json")).collect::<Vec<_>>());

    // A large file comes back as a stream of chunks, not one buffer.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    store.put(&c, "big.json", "application/json", &big).await.unwrap();
    let (info, mut body) = store.get(&c, "big.json").await.unwrap().unwrap();
    assert_eq!(info.size, big.len() as u64);
    let (mut chunks, mut read) = (0, Vec::new());
    while let Some(chunk) = body.next().await {
        chunks += 1;
        read.extend_from_slice(&chunk.unwrap());
    }
    assert!(chunks > 1, "the body is streamed");
    assert!(read == big, "the streamed bytes are the stored bytes");

    // delete: the file is gone from get and list, others stay, a missing name is no
    // error, and the name can be written again (a stage's files taken back after a
    // failed publish are published again by its retry).
    store.delete(&a, "template.yaml").await.unwrap();
    assert!(store.get(&a, "template.yaml").await.unwrap().is_none());
    assert_eq!(store.list(&a).await.unwrap(), vec![md.clone(), facts.clone()]);
    store.delete(&a, "template.yaml").await.unwrap();
    store.delete(&a, "never-written.json").await.unwrap();
    assert!(store.delete(&a, "../facts.json").await.is_err());
    let again = store.put(&a, "template.yaml", "application/yaml", b"Resources: {}\n").await.unwrap();
    assert_eq!((again.name.as_str(), again.size), ("template.yaml", yaml.size));
    // Deleting every file leaves an empty bundle.
    for name in ["template.yaml", "analysis.md", "facts.json"] {
        store.delete(&a, name).await.unwrap();
    }
    assert!(store.list(&a).await.unwrap().is_empty());
    assert!(store.get(&a, "facts.json").await.unwrap().is_none());

    put_all_is_whole_or_nothing(&store).await;
}

/// A stage's files together: all listed after a success; the same batch again is a
/// repeated write; a batch with a name already holding other bytes leaves the
/// bundle as it was (none of the batch's new names appear).
async fn put_all_is_whole_or_nothing(store: &Arc<dyn ArtifactStore>) {
    let file = |name, bytes| NewArtifact { name, content_type: "application/json", bytes };
    // A version no other case uses: S3 keys a bundle by profile, service and version.
    let b = bundle(9);
    let stage = [file("iam-model.json", b"{\"m\":1}".as_slice()), file("iam.md", b"# iam".as_slice())];
    store.put_all(&b, &stage).await.unwrap();
    store.put_all(&b, &stage).await.unwrap();
    let names = |list: Vec<seccfg::store::ArtifactInfo>| list.into_iter().map(|i| i.name).collect::<Vec<_>>();
    assert_eq!(names(store.list(&b).await.unwrap()), ["iam-model.json", "iam.md"]);
    assert_eq!(bytes_of(store, &b, "iam.md").await.unwrap(), b"# iam");

    let conflicting = [file("verification.json", b"{}".as_slice()), file("iam.md", b"# other".as_slice())];
    match store.put_all(&b, &conflicting).await {
        Err(StoreError::ArtifactExists(name)) => assert_eq!(name, "iam.md"),
        other => panic!("expected ArtifactExists, got {other:?}"),
    }
    assert_eq!(names(store.list(&b).await.unwrap()), ["iam-model.json", "iam.md"], "nothing of the batch");
    assert!(store.get(&b, "verification.json").await.unwrap().is_none());
    assert_eq!(bytes_of(store, &b, "iam.md").await.unwrap(), b"# iam");
}

#[tokio::test]
async fn local_directory_passes_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(Arc::new(LocalArtifactStore::new(dir.path()))).await;
}

const KMS_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";

async fn s3_store(prefix: &str) -> (aws_sdk_s3::Client, String, S3ArtifactStore) {
    let settings = common::moto::settings(&common::moto::moto().endpoint);
    let client = common::moto::s3_client(&settings).await;
    let bucket = common::moto::bucket(&client).await;
    let location = S3Location::parse(&format!("s3://{bucket}/{prefix}")).unwrap();
    let store = S3ArtifactStore::new(client.clone(), location, Some(KMS_KEY.into())).with_page_size(3);
    (client, bucket, store)
}

#[tokio::test]
async fn s3_on_moto_passes_the_contract() {
    let (_, _, store) = s3_store("bundles").await;
    contract(Arc::new(store)).await;
}

#[tokio::test]
async fn s3_objects_use_the_documented_keys_content_types_and_sse_kms() {
    let (client, bucket, store) = s3_store("seccfg/prod/").await;
    let b =
        BundleRef { run_id: "r1".into(), profile_id: "FIN PROD/1".into(), service_id: "sns".into(), bundle_version: 4 };
    store.put(&b, "template.yaml", "application/yaml", b"Resources: {}\n").await.unwrap();
    store.put(&b, "controls.md", "text/markdown; charset=utf-8", b"# c\n").await.unwrap();

    let listed = client.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort();
    // `{prefix}/{profile_id}/{service_id}/v{bundle_version}/{file}`; an id cannot add levels.
    assert_eq!(
        keys,
        ["seccfg/prod/FIN%20PROD%2F1/sns/v4/controls.md", "seccfg/prod/FIN%20PROD%2F1/sns/v4/template.yaml"]
    );

    let head = client.head_object().bucket(&bucket).key(keys[1]).send().await.unwrap();
    assert_eq!(head.content_type(), Some("application/yaml"));
    assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"));
    assert_eq!(head.ssekms_key_id(), Some(KMS_KEY));
}

/// Whether moto itself honours `If-None-Match: *` on PutObject (the store relies on
/// S3 doing so); asserted so a moto upgrade that changes it is noticed.
#[tokio::test]
async fn moto_refuses_a_conditional_put_over_an_existing_key() {
    let (client, bucket, _) = s3_store("").await;
    let put = |body: &'static [u8]| {
        client.put_object().bucket(&bucket).key("k").if_none_match("*").body(body.to_vec().into()).send()
    };
    put(b"first").await.expect("first write succeeds");
    let refused = put(b"second").await.expect_err("second conditional write is refused");
    assert_eq!(refused.raw_response().map(|r| r.status().as_u16()), Some(412));
    let got = client.get_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"first");
}

//! The control library in one DynamoDB table (`SECCFG_LIBRARY_URL=dynamodb://table`).
//!
//! Single-table design (documented in docs/ARCHITECTURE.md). Every item has `PK`,
//! `SK`, a `kind` and its payload as JSON in `doc`:
//!
//! | kind | PK | SK | GSI |
//! |---|---|---|---|
//! | decision | `RUN#{run}` | `DECISION` | |
//! | audit | `AUDIT` | `{decided_at:020}#{id}` | |
//! | bundle | `PROFILE#{profile}` | `BUNDLE#{service}#{version:010}` | by-service: `SERVICE#{service}` / `BUNDLE#{profile}#{version:010}` |
//! | control | `PROFILE#{profile}` | `CONTROL#{service}#{version:010}#{control}` | by-service: `SERVICE#{service}` / `CONTROL#{profile}#{version:010}#{control}` |
//! | framework | `PROFILE#{profile}` | `FRAMEWORK#{service}#{version:010}#{framework}` | by-framework: `FRAMEWORK#{framework}` / `{profile}#{service}#{version:010}` (`controls`: ids) |
//!
//! A decision is one `TransactWriteItems`: the decision item with
//! `attribute_not_exists(PK)` (decided once: a second decision cancels the whole
//! transaction and writes nothing), the audit item and, for an approval, the
//! bundle, control and framework items. "The" library entry of a (profile,
//! service) is its highest approved bundle version, chosen when reading.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    Put, ScalarAttributeType, TransactWriteItem,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    ApprovedBundle, ApprovedControl, ApprovedService, ArtifactVersion, AuditEntry, ControlFilter, DecisionRecord,
    Library, LibraryControl, LibraryError, LibraryResult, NewDecision, Waiver, active,
};

pub const BY_SERVICE: &str = "by-service";
pub const BY_FRAMEWORK: &str = "by-framework";
/// DynamoDB's limit on items in one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoLibrary {
    client: Client,
    table: String,
}

/// What a bundle item's `doc` holds.
#[derive(Serialize, Deserialize)]
struct BundleDoc {
    service: ApprovedService,
    iam_model: Value,
    templates: BTreeMap<String, String>,
    artifacts: Vec<ArtifactVersion>,
    /// Every waiver granted, by control id; the ones in force are picked at read time.
    waivers: Vec<Waiver>,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn storage<E: std::error::Error + 'static, R: std::fmt::Debug>(
    what: &str,
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> LibraryError {
    LibraryError::Storage(format!("DynamoDB {what}: {}", DisplayErrorContext(&e)))
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("library values serialise")
}

fn doc<T: serde::de::DeserializeOwned>(item: &Item) -> LibraryResult<T> {
    let text =
        item.get("doc").and_then(|v| v.as_s().ok()).ok_or_else(|| LibraryError::Corrupt("item without doc".into()))?;
    serde_json::from_str(text).map_err(|e| LibraryError::Corrupt(format!("item doc: {e}")))
}

fn version_key(v: i64) -> String {
    format!("{v:010}")
}

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn put(table: &str, item: Item) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(Put::builder().table_name(table).set_item(Some(item)).build().expect("table and item set"))
        .build()
}

impl DynamoLibrary {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoLibrary {
        DynamoLibrary { client, table: table.into() }
    }

    /// `dynamodb://table` → the table name.
    pub fn table_from_url(url: &str) -> Result<String, String> {
        match url.strip_prefix("dynamodb://") {
            Some(t) if !t.is_empty() && !t.contains('/') => Ok(t.to_string()),
            _ => Err(format!("'{url}' is not dynamodb://table")),
        }
    }

    /// Creates the table with its two GSIs (tests, and first-time set-up without Terraform).
    pub async fn create_table(&self) -> LibraryResult<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
        };
        let key =
            |name: &str, t: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(t).build().unwrap();
        let gsi = |name: &str, pk: &str, sk: &str| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(pk, KeyType::Hash))
                .key_schema(key(sk, KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap()
        };
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"].map(attr).to_vec()))
            .key_schema(key("PK", KeyType::Hash))
            .key_schema(key("SK", KeyType::Range))
            .global_secondary_indexes(gsi(BY_SERVICE, "GSI1PK", "GSI1SK"))
            .global_secondary_indexes(gsi(BY_FRAMEWORK, "GSI2PK", "GSI2SK"))
            .send()
            .await
            .map_err(|e| storage("CreateTable", e))?;
        Ok(())
    }

    fn decision_items(&self, d: &NewDecision) -> Vec<TransactWriteItem> {
        let r = &d.record;
        let record = to_json(r);
        let decision = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(&[
                ("PK", s(format!("RUN#{}", r.run_id))),
                ("SK", s("DECISION")),
                ("kind", s("decision")),
                ("doc", s(record.clone())),
            ])))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .expect("table and item set");
        let audit_id = uuid::Uuid::new_v4().to_string();
        let audit = item(&[
            ("PK", s("AUDIT")),
            ("SK", s(format!("{:020}#{audit_id}", r.decided_at.max(0)))),
            ("kind", s("audit")),
            ("run_id", s(&r.run_id)),
            ("id", s(audit_id)),
            ("doc", s(record)),
        ]);
        let mut items = vec![TransactWriteItem::builder().put(decision).build(), put(&self.table, audit)];
        if let Some(bundle) = &d.bundle {
            items.extend(self.bundle_items(r, bundle));
        }
        items
    }

    fn bundle_items(&self, r: &DecisionRecord, b: &super::BundleContent) -> Vec<TransactWriteItem> {
        let (p, svc, v) = (&r.profile_id, &r.service_id, version_key(r.bundle_version));
        let service = ApprovedService {
            profile_id: p.clone(),
            service_id: svc.clone(),
            run_id: r.run_id.clone(),
            bundle_version: r.bundle_version,
            profile_version: r.profile_version,
            reviewer: r.reviewer.clone(),
            approved_at: r.decided_at,
            controls: b.controls.len() as i64,
            waivers: Vec::new(),
        };
        let body = BundleDoc {
            service,
            iam_model: b.iam_model.clone(),
            templates: b.templates.clone(),
            artifacts: b.artifacts.clone(),
            waivers: {
                let mut w = r.waivers.clone();
                w.sort_by(|a, b| a.control_id.cmp(&b.control_id));
                w
            },
        };
        let mut items = vec![put(
            &self.table,
            item(&[
                ("PK", s(format!("PROFILE#{p}"))),
                ("SK", s(format!("BUNDLE#{svc}#{v}"))),
                ("GSI1PK", s(format!("SERVICE#{svc}"))),
                ("GSI1SK", s(format!("BUNDLE#{p}#{v}"))),
                ("kind", s("bundle")),
                ("doc", s(to_json(&body))),
            ]),
        )];
        let mut by_framework: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in &b.controls {
            for (fw, reqs) in &c.frameworks {
                if !reqs.is_empty() {
                    by_framework.entry(fw.to_ascii_lowercase()).or_default().push(c.control_id.clone());
                }
            }
            items.push(put(
                &self.table,
                item(&[
                    ("PK", s(format!("PROFILE#{p}"))),
                    ("SK", s(format!("CONTROL#{svc}#{v}#{}", c.control_id))),
                    ("GSI1PK", s(format!("SERVICE#{svc}"))),
                    ("GSI1SK", s(format!("CONTROL#{p}#{v}#{}", c.control_id))),
                    ("kind", s("control")),
                    ("doc", s(to_json(c))),
                ]),
            ));
        }
        for (fw, ids) in by_framework {
            items.push(put(
                &self.table,
                item(&[
                    ("PK", s(format!("PROFILE#{p}"))),
                    ("SK", s(format!("FRAMEWORK#{svc}#{v}#{fw}"))),
                    ("GSI2PK", s(format!("FRAMEWORK#{fw}"))),
                    ("GSI2SK", s(format!("{p}#{svc}#{v}"))),
                    ("kind", s("framework")),
                    ("doc", s(to_json(&ids))),
                ]),
            ));
        }
        items
    }

    /// Every item of a key condition, following pagination.
    /// An empty `prefix` reads the whole partition.
    async fn query(
        &self,
        index: Option<&str>,
        pk_name: &str,
        pk: String,
        sk_name: &str,
        prefix: String,
    ) -> LibraryResult<Vec<Item>> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_string))
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(pk));
        request = if prefix.is_empty() {
            request.key_condition_expression("#pk = :pk")
        } else {
            request
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":prefix", s(prefix))
        };
        request.into_paginator().items().send().try_collect().await.map_err(|e| storage("Query", e))
    }

    async fn scan_kind(&self, kind: &str) -> LibraryResult<Vec<Item>> {
        self.client
            .scan()
            .table_name(&self.table)
            .filter_expression("#kind = :kind")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":kind", s(kind))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| storage("Scan", e))
    }

    /// The latest approved bundle of every (profile, service), ordered by profile then service.
    async fn latest_bundles(&self, profile_id: Option<&str>) -> LibraryResult<Vec<BundleDoc>> {
        let items = match profile_id {
            Some(p) => self.query(None, "PK", format!("PROFILE#{p}"), "SK", "BUNDLE#".into()).await?,
            None => self.scan_kind("bundle").await?,
        };
        let mut latest: BTreeMap<(String, String), BundleDoc> = BTreeMap::new();
        for it in &items {
            let b: BundleDoc = doc(it)?;
            let key = (b.service.profile_id.clone(), b.service.service_id.clone());
            if latest.get(&key).is_none_or(|cur| cur.service.bundle_version < b.service.bundle_version) {
                latest.insert(key, b);
            }
        }
        Ok(latest.into_values().collect())
    }

    async fn bundle_controls(&self, b: &BundleDoc, now: i64) -> LibraryResult<Vec<LibraryControl>> {
        let s = &b.service;
        let prefix = format!("CONTROL#{}#{}#", s.service_id, version_key(s.bundle_version));
        let items = self.query(None, "PK", format!("PROFILE#{}", s.profile_id), "SK", prefix).await?;
        let waivers = active(&b.waivers, now);
        let mut out = Vec::with_capacity(items.len());
        for it in &items {
            let control: ApprovedControl = doc(it)?;
            out.push(LibraryControl {
                profile_id: s.profile_id.clone(),
                service_id: s.service_id.clone(),
                run_id: s.run_id.clone(),
                bundle_version: s.bundle_version,
                waiver: waivers.iter().find(|w| w.control_id == control.control_id).cloned(),
                control,
            });
        }
        Ok(out)
    }

    /// Latest bundles that can hold matches, using the index the filter allows.
    async fn candidate_bundles(&self, f: &ControlFilter) -> LibraryResult<Vec<BundleDoc>> {
        let mut bundles = if let Some(p) = &f.profile_id {
            self.latest_bundles(Some(p)).await?
        } else if let Some(svc) = &f.service_id {
            let items =
                self.query(Some(BY_SERVICE), "GSI1PK", format!("SERVICE#{svc}"), "GSI1SK", "BUNDLE#".into()).await?;
            let mut latest: BTreeMap<String, BundleDoc> = BTreeMap::new();
            for it in &items {
                let b: BundleDoc = doc(it)?;
                if latest.get(&b.service.profile_id).is_none_or(|c| c.service.bundle_version < b.service.bundle_version)
                {
                    latest.insert(b.service.profile_id.clone(), b);
                }
            }
            latest.into_values().collect()
        } else {
            self.latest_bundles(None).await?
        };
        bundles.retain(|b| f.service_id.as_deref().is_none_or(|s| s == b.service.service_id));
        if let Some(fw) = &f.framework {
            // Only bundles the framework index names (an index hit, not a scan of controls).
            let links = self
                .query(
                    Some(BY_FRAMEWORK),
                    "GSI2PK",
                    format!("FRAMEWORK#{}", fw.to_ascii_lowercase()),
                    "GSI2SK",
                    String::new(),
                )
                .await?;
            let keys: std::collections::HashSet<String> =
                links.iter().filter_map(|it| it.get("GSI2SK").and_then(|v| v.as_s().ok()).cloned()).collect();
            bundles.retain(|b| {
                keys.contains(&format!(
                    "{}#{}#{}",
                    b.service.profile_id,
                    b.service.service_id,
                    version_key(b.service.bundle_version)
                ))
            });
        }
        Ok(bundles)
    }
}

#[async_trait]
impl Library for DynamoLibrary {
    async fn decide(&self, decision: &NewDecision) -> LibraryResult<()> {
        let items = self.decision_items(decision);
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(LibraryError::Storage(format!(
                "an approval of {} items exceeds DynamoDB's {MAX_TRANSACTION_ITEMS}-item transaction",
                items.len()
            )));
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let decided = e.as_service_error().and_then(|s| match s {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(t) => {
                        Some(t.cancellation_reasons().first().and_then(|r| r.code()) == Some("ConditionalCheckFailed"))
                    }
                    _ => None,
                });
                if decided == Some(true) {
                    Err(LibraryError::AlreadyDecided(decision.record.run_id.clone()))
                } else {
                    Err(storage("TransactWriteItems", e))
                }
            }
        }
    }

    async fn decision(&self, run_id: &str) -> LibraryResult<Option<DecisionRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(format!("RUN#{run_id}")))
            .key("SK", s("DECISION"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| storage("GetItem", e))?;
        out.item().map(doc).transpose()
    }

    async fn services(&self, profile_id: Option<&str>, now: i64) -> LibraryResult<Vec<ApprovedService>> {
        Ok(self
            .latest_bundles(profile_id)
            .await?
            .into_iter()
            .map(|b| ApprovedService { waivers: active(&b.waivers, now), ..b.service })
            .collect())
    }

    async fn service(&self, profile_id: &str, service_id: &str, now: i64) -> LibraryResult<Option<ApprovedBundle>> {
        let mut items =
            self.query(None, "PK", format!("PROFILE#{profile_id}"), "SK", format!("BUNDLE#{service_id}#")).await?;
        let Some(last) = items.pop() else { return Ok(None) };
        let b: BundleDoc = doc(&last)?;
        let controls = self.bundle_controls(&b, now).await?;
        Ok(Some(ApprovedBundle {
            service: ApprovedService { waivers: active(&b.waivers, now), ..b.service },
            controls,
            iam_model: b.iam_model,
            templates: b.templates,
            artifacts: b.artifacts,
        }))
    }

    async fn controls(&self, f: &ControlFilter, now: i64) -> LibraryResult<Vec<LibraryControl>> {
        let mut out = Vec::new();
        for b in self.candidate_bundles(f).await? {
            out.extend(self.bundle_controls(&b, now).await?.into_iter().filter(|c| f.matches(c)));
        }
        out.sort_by(|a, b| {
            (&a.profile_id, &a.service_id, &a.control.control_id).cmp(&(
                &b.profile_id,
                &b.service_id,
                &b.control.control_id,
            ))
        });
        Ok(out)
    }

    async fn audit(&self, run_id: Option<&str>) -> LibraryResult<Vec<AuditEntry>> {
        let items = self.query(None, "PK", "AUDIT".into(), "SK", String::new()).await?;
        let mut out = Vec::new();
        for it in &items {
            let record: DecisionRecord = doc(it)?;
            if run_id.is_some_and(|r| r != record.run_id) {
                continue;
            }
            let id = it.get("id").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            out.push(AuditEntry { id, record });
        }
        Ok(out)
    }
}

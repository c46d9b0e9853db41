//! Service links (`data/links.json`): for each IAM prefix, its CloudFormation and Terraform
//! resource types, the AWS Config type of each CloudFormation type, and the Config rules and
//! Security Hub controls that evaluate them. `scripts/refresh-catalog` derives every link from
//! the other facts and records its basis; `knowledge/aliases.json` holds the exceptions.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{Catalog, CfnResourceType, ServiceIdentity};

/// The AWS Config resource type of a CloudFormation type (names differ for a few:
/// `AWS::OpenSearchService::Domain` is recorded as `AWS::OpenSearch::Domain`).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ConfigTypeLink {
    pub config_type: String,
    pub basis: String,
}

/// One prefix's links; every value is the basis of the link.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ServiceLinks {
    #[serde(default)]
    pub cloudformation_types: BTreeMap<String, String>,
    #[serde(default)]
    pub terraform_types: BTreeMap<String, String>,
    /// CloudFormation type (or a Config type without one) → its Config type.
    #[serde(default)]
    pub config_resource_types: BTreeMap<String, ConfigTypeLink>,
    #[serde(default)]
    pub config_rules: BTreeMap<String, String>,
    #[serde(default)]
    pub security_hub_controls: BTreeMap<String, String>,
}

/// `data/links.json`.
#[derive(Deserialize)]
pub(crate) struct LinkFacts {
    pub services: BTreeMap<String, ServiceLinks>,
    /// CloudFormation types no prefix of the IAM catalog owns, with the reason.
    #[serde(default)]
    pub unlinked_cloudformation_types: BTreeMap<String, String>,
}

/// Links indexed for lookups both ways.
#[derive(Default)]
pub(crate) struct Links {
    pub services: BTreeMap<String, ServiceLinks>,
    pub unlinked_cloudformation_types: BTreeMap<String, String>,
    /// CloudFormation type → owning prefix.
    pub owner: HashMap<String, String>,
}

impl From<LinkFacts> for Links {
    fn from(facts: LinkFacts) -> Links {
        let owner = facts
            .services
            .iter()
            .flat_map(|(prefix, l)| l.cloudformation_types.keys().map(move |t| (t.clone(), prefix.clone())))
            .collect();
        Links { services: facts.services, unlinked_cloudformation_types: facts.unlinked_cloudformation_types, owner }
    }
}

static NO_LINKS: std::sync::LazyLock<ServiceLinks> = std::sync::LazyLock::new(ServiceLinks::default);

impl Catalog {
    /// A service's links, with the basis of each (empty for a prefix nothing links to).
    pub fn links(&self, service: &ServiceIdentity) -> &ServiceLinks {
        self.links.services.get(&service.id).unwrap_or(&NO_LINKS)
    }

    /// CloudFormation resource types linked to the service, sorted.
    pub fn resource_types_of<'a>(
        &'a self,
        service: &'a ServiceIdentity,
    ) -> impl Iterator<Item = (&'a String, &'a CfnResourceType)> {
        self.links(service)
            .cloudformation_types
            .keys()
            .filter_map(|t| self.cfn.get_key_value(t))
            .map(|(t, e)| (t, e.get()))
    }

    /// The prefix a CloudFormation type belongs to.
    pub fn service_of_resource_type(&self, type_name: &str) -> Option<&ServiceIdentity> {
        self.links.owner.get(type_name).and_then(|id| self.identities.get(id))
    }

    /// The prefix a Terraform resource type (hashicorp/aws) belongs to.
    pub fn service_of_terraform_type(&self, type_name: &str) -> Option<&ServiceIdentity> {
        let (id, _) = self.links.services.iter().find(|(_, l)| l.terraform_types.contains_key(type_name))?;
        self.identities.get(id)
    }

    /// The AWS Config resource type of a CloudFormation type, when Config records it.
    pub fn config_resource_type(&self, cfn_type: &str) -> Option<&str> {
        let owner = self.links.owner.get(cfn_type)?;
        self.links.services.get(owner)?.config_resource_types.get(cfn_type).map(|l| l.config_type.as_str())
    }

    /// CloudFormation types no IAM prefix owns, with the reason.
    pub fn unlinked_resource_types(&self) -> &BTreeMap<String, String> {
        &self.links.unlinked_cloudformation_types
    }

    /// How many prefixes are linked to at least one CloudFormation type.
    pub fn services_linked_to_cloudformation(&self) -> usize {
        self.links.services.values().filter(|l| !l.cloudformation_types.is_empty()).count()
    }
}

//! Load balancer variants: a request that names a network or gateway load balancer gets
//! that kind, with the controls that apply to it and the others listed with the reason;
//! "Application Load Balancer", "ALB" and plain "Elastic Load Balancing" keep the
//! application load balancer bundle.

mod common;

use seccfg::input::Profile;
use seccfg::pipeline::{StageName, run_all, run_all_named};
use serde_json::{Value, json};

fn fin_prod() -> Profile {
    Profile::from_slice(&common::example("profiles/fin-prod.json")).unwrap().0
}

struct Bundle(Vec<(String, Vec<u8>)>);

impl Bundle {
    fn of(name: &str) -> Bundle {
        let outputs = run_all_named(&common::knowledge(), &fin_prod(), "elasticloadbalancing", name)
            .unwrap_or_else(|(s, e)| panic!("{name}: {s:?}: {e}"));
        Bundle(outputs.into_iter().flat_map(|(_, o)| o.artifacts).map(|a| (a.name, a.bytes)).collect())
    }

    fn bytes(&self, name: &str) -> &[u8] {
        &self.0.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}")).1
    }

    fn json(&self, name: &str) -> Value {
        serde_json::from_slice(self.bytes(name)).unwrap()
    }

    fn template(&self) -> Value {
        yaml_serde::from_slice(self.bytes("template.yaml")).unwrap()
    }

    fn text(&self, name: &str) -> String {
        String::from_utf8(self.bytes(name).to_vec()).unwrap()
    }

    /// main.tf with runs of spaces as one (the renderer aligns `=`).
    fn terraform(&self) -> String {
        self.text("main.tf").split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<&'a Value> {
    template["Resources"].as_object().unwrap().values().filter(|r| r["Type"] == kind).collect()
}

fn selected(analysis: &Value) -> Vec<String> {
    analysis["recommendations"].as_array().unwrap().iter().map(|r| r["control_id"].as_str().unwrap().into()).collect()
}

fn not_applicable(analysis: &Value) -> Vec<String> {
    analysis["not_selected"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["not_applicable"].as_str().is_some_and(|r| !r.is_empty()))
        .map(|n| n["control_id"].as_str().unwrap().into())
        .collect()
}

fn security_hub(analysis: &Value, id: &str) -> Value {
    analysis["security_hub_coverage"]["controls"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone()
}

const HTTP_ONLY: [&str; 3] =
    ["routing.http.drop_invalid_header_fields.enabled", "routing.http.desync_mitigation_mode", "WebACL"];

#[test]
fn application_names_keep_the_default_bundle() {
    let default = run_all(&common::knowledge(), &fin_prod(), "elasticloadbalancing")
        .unwrap_or_else(|(s, e)| panic!("{s:?}: {e}"));
    let default_template = default.iter().flat_map(|(_, o)| &o.artifacts).find(|a| a.name == "template.yaml").unwrap();
    for name in ["Application Load Balancer", "ALB", "Elastic Load Balancing", "Classic Load Balancer"] {
        let b = Bundle::of(name);
        assert_eq!(b.bytes("template.yaml"), &default_template.bytes[..], "{name}");
        let analysis = b.json("analysis.json");
        assert_eq!(analysis["variant"], "application", "{name}");
        assert!(not_applicable(&analysis).is_empty(), "{name}");
        let lb = &b.template()["Resources"]["LoadBalancer"]["Properties"];
        assert_eq!(lb["Type"], "application");
        assert_eq!(b.json("bundle.json")["variant"], "application");
    }
}

#[test]
fn network_names_get_a_network_load_balancer_with_a_tls_listener() {
    for name in ["Network Load Balancer", "NLB", "Amazon network load balancer"] {
        let b = Bundle::of(name);
        let template = b.template();
        let lb = &template["Resources"]["LoadBalancer"]["Properties"];
        assert_eq!(lb["Type"], "network", "{name}");
        assert_eq!(lb["Scheme"], "internal", "{name}");
        let listeners = of_type(&template, "AWS::ElasticLoadBalancingV2::Listener");
        assert_eq!(listeners.len(), 1);
        let listener = &listeners[0]["Properties"];
        assert_eq!(listener["Protocol"], "TLS");
        assert_eq!(listener["SslPolicy"], "ELBSecurityPolicy-TLS13-1-2-2021-06");
        assert_eq!(listener["Certificates"][0]["CertificateArn"], json!({ "Ref": "CertificateArn" }));
        assert_eq!(listener["DefaultActions"][0]["Type"], "forward");
        let groups = of_type(&template, "AWS::ElasticLoadBalancingV2::TargetGroup");
        assert_eq!(groups[0]["Properties"]["Protocol"], "TLS");
        let text = b.text("template.yaml");
        for http in HTTP_ONLY {
            assert!(!text.contains(http), "{name}: {http} in a network load balancer template");
        }
        assert!(text.contains("access_logs.s3.enabled") && text.contains("deletion_protection.enabled"));
        let tf = b.terraform();
        assert!(tf.contains("load_balancer_type = \"network\"") && tf.contains("protocol = \"TLS\""), "{tf}");
        assert!(!tf.contains("drop_invalid_header_fields") && !tf.contains("wafv2"), "{tf}");

        let analysis = b.json("analysis.json");
        assert_eq!(analysis["variant"], "network");
        assert_eq!(analysis["requested_name"], name);
        let na = not_applicable(&analysis);
        for id in
            ["ELASTICLOADBALANCING-03", "ELASTICLOADBALANCING-04", "ELASTICLOADBALANCING-05", "ELASTICLOADBALANCING-09"]
        {
            assert!(na.contains(&id.to_string()), "{name}: {id} {na:?}");
            assert!(!selected(&analysis).contains(&id.to_string()));
        }
        for id in
            ["ELASTICLOADBALANCING-01", "ELASTICLOADBALANCING-02", "ELASTICLOADBALANCING-06", "ELASTICLOADBALANCING-08"]
        {
            assert!(selected(&analysis).contains(&id.to_string()), "{name}: {id}");
        }
        for sh in ["ELB.1", "ELB.4", "ELB.5", "ELB.12", "ELB.16"] {
            let entry = security_hub(&analysis, sh);
            assert_eq!(
                (entry["status"].as_str(), entry["reason"].as_str()),
                (Some("not_selected"), Some("variant")),
                "{sh}: {entry}"
            );
        }
        assert_eq!(security_hub(&analysis, "ELB.6")["status"], "implemented");
        assert_eq!(analysis["security_hub_coverage"]["unaccounted"], 0, "{name}");
        let md = b.text("analysis.md");
        assert!(md.contains("Variant: **network**") && md.contains("## Not applicable to this variant"), "{md}");

        let controls = b.text("controls-template.yaml");
        assert!(!controls.contains("ALB_WAF_ENABLED") && !controls.contains("ALB_HTTP_DROP_INVALID_HEADER_ENABLED"));
        assert!(controls.contains("ELBV2_ACM_CERTIFICATE_REQUIRED"));
        assert_eq!(b.json("bundle.json")["variant"], "network");
        assert!(b.json("verification.json")["passed"].as_bool().unwrap());
    }
}

#[test]
fn gateway_names_get_a_gateway_load_balancer_with_geneve() {
    for name in ["Gateway Load Balancer", "GWLB"] {
        let b = Bundle::of(name);
        let template = b.template();
        let lb = &template["Resources"]["LoadBalancer"]["Properties"];
        assert_eq!(lb["Type"], "gateway", "{name}");
        assert!(lb.get("Scheme").is_none() && lb.get("SecurityGroups").is_none(), "{lb}");
        let groups = of_type(&template, "AWS::ElasticLoadBalancingV2::TargetGroup");
        assert_eq!(
            (&groups[0]["Properties"]["Protocol"], &groups[0]["Properties"]["Port"]),
            (&json!("GENEVE"), &json!(6081))
        );
        let listener = &of_type(&template, "AWS::ElasticLoadBalancingV2::Listener")[0]["Properties"];
        assert!(listener.get("Protocol").is_none() && listener.get("Certificates").is_none(), "{listener}");
        let text = b.text("template.yaml");
        for absent in HTTP_ONLY.iter().chain(&["access_logs", "CertificateArn", "SslPolicy"]) {
            assert!(!text.contains(absent), "{name}: {absent}");
        }
        assert!(text.contains("deletion_protection.enabled"));
        assert!(b.terraform().contains("load_balancer_type = \"gateway\""));

        let analysis = b.json("analysis.json");
        assert_eq!(analysis["variant"], "gateway");
        let picked = selected(&analysis);
        for id in ["ELASTICLOADBALANCING-07", "ELASTICLOADBALANCING-10", "ELASTICLOADBALANCING-11"] {
            assert!(picked.contains(&id.to_string()), "{id}: {picked:?}");
        }
        let na = not_applicable(&analysis);
        assert_eq!(na.len(), 8, "{na:?}");
        for sh in ["ELB.1", "ELB.4", "ELB.5", "ELB.12", "ELB.16"] {
            assert_eq!(security_hub(&analysis, sh)["reason"], "variant", "{sh}");
        }
        assert_eq!(analysis["security_hub_coverage"]["unaccounted"], 0);
        assert_eq!(b.json("bundle.json")["variant"], "gateway");
        let verify = b.json("verification.json");
        assert!(verify["passed"].as_bool().unwrap());
    }
}

/// The run record shows the variant's controls only: the stage outputs carry the plan.
#[test]
fn the_plan_carries_the_variant() {
    let outputs = run_all_named(&common::knowledge(), &fin_prod(), "elasticloadbalancing", "NLB").unwrap();
    let analyzed = &outputs.iter().find(|(s, _)| *s == StageName::Analyze).unwrap().1.output;
    assert_eq!(analyzed["plan"]["controls"]["variant"], "network");
    assert!(analyzed["plan"]["controls"].get("variants").is_none(), "variants are resolved before the plan");
}

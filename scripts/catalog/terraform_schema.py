"""Terraform AWS provider resource types and their argument / nested block names,
from the jsii assembly (.jsii) of the prebuilt cdktf provider on npm.

Each resource class documents its Terraform type (`{@link .../docs/resources/x aws_x}`)
and each property links to its Terraform attribute (`...#sse_algorithm S3Bucket#sse_algorithm`);
a property without a link is snake_cased from its jsii name.
"""

import json
import re

from common import NpmPackage

RESOURCE_LINK = re.compile(r"/docs/resources/\w+ (aws_\w+)\}")
ATTRIBUTE_LINK = re.compile(r"#(\w+) \w+#\w+\}")
PROVIDER_LINK = re.compile(r"registry\.terraform\.io/providers/hashicorp/aws/([\w.]+)/docs")


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def terraform_name(prop: dict) -> str:
    docs = prop.get("docs") or {}
    link = ATTRIBUTE_LINK.search(docs.get("summary", "") + " " + docs.get("remarks", ""))
    return link.group(1) if link else snake(prop["name"])


def block_type(type_ref: dict, types: dict) -> str | None:
    """The struct fqn when a property is a nested block (struct, list of structs, or either with IResolvable)."""
    if "fqn" in type_ref:
        target = types.get(type_ref["fqn"])
        return type_ref["fqn"] if target and target.get("datatype") else None
    if "collection" in type_ref:
        return block_type(type_ref["collection"]["elementtype"], types)
    if "union" in type_ref:
        for option in type_ref["union"]["types"]:
            found = block_type(option, types)
            if found:
                return found
    return None


def schema_of(fqn: str, types: dict, seen: tuple = ()) -> dict:
    """{"arguments": [names], "blocks": {name: schema}} with empty members left out."""
    arguments, blocks = [], {}
    for prop in types[fqn].get("properties", []):
        name = terraform_name(prop)
        nested = block_type(prop["type"], types)
        if nested and nested not in seen:
            blocks[name] = schema_of(nested, types, seen + (nested,))
        else:
            arguments.append(name)
    out = {}
    if arguments:
        out["arguments"] = sorted(set(arguments))
    if blocks:
        out["blocks"] = blocks
    return out


def config_interface(cls: dict) -> str | None:
    for param in (cls.get("initializer") or {}).get("parameters", []):
        if param["name"] == "config":
            return param["type"].get("fqn")
    return None


def terraform_facts(provider: NpmPackage) -> dict:
    assembly = json.loads(provider.read(".jsii"))
    types = assembly["types"]
    resources, versions = {}, set()
    for cls in types.values():
        if cls.get("kind") != "class" or cls.get("base") != "cdktf.TerraformResource":
            continue
        summary = (cls.get("docs") or {}).get("summary", "")
        link = RESOURCE_LINK.search(summary)
        config = config_interface(cls)
        if not link or not config:
            continue
        versions.update(PROVIDER_LINK.findall(summary))
        resources[link.group(1)] = schema_of(config, types)
    if len(versions) != 1:
        raise SystemExit(f"cdktf provider: expected one terraform provider version, found {sorted(versions)}")
    meta = json.loads(provider.read("package.json")).get("cdktf", {}).get("provider", {})
    return {
        "provider": meta.get("name", "registry.terraform.io/hashicorp/aws"),
        "provider_version": versions.pop(),
        "resources": resources,
    }

"""checkov (PyPI): AWS check ids with the IaC frameworks and resource types each
covers. Check classes are parsed with `ast` (ids and supported resources are
literals in their constructors) and graph checks read as JSON: nothing is imported.
"""

import ast
import json

from common import Source

# framework -> (label, glob) of check files
RESOURCE_CHECKS = {
    "terraform": "checkov/terraform/checks/resource/aws/*.py",
    "cloudformation": "checkov/cloudformation/checks/resource/aws/*.py",
}
GRAPH_CHECKS = {
    "terraform": "checkov/terraform/checks/graph_checks/aws/*.json",
    "cloudformation": "checkov/cloudformation/checks/graph_checks/*.json",
}


def literal_env(tree: ast.Module) -> dict:
    """Every `name = <literal>` in the file (first one wins): constructors name their
    id and resources in locals before passing them on."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out.setdefault(node.targets[0].id, ast.literal_eval(node.value))
            except ValueError:
                pass
    return out


def resolve(node, env: dict):
    if isinstance(node, ast.Name):
        return env.get(node.id)
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def python_check(source: bytes) -> dict:
    """{id, resources, bases}: id and supported resources from constructor keyword arguments
    (id=/check_id=, supported_resources=), else from locals with those names."""
    tree = ast.parse(source)
    env = literal_env(tree)
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                key = {"check_id": "id"}.get(keyword.arg, keyword.arg)
                if key in ("id", "supported_resources") and key not in found:
                    value = resolve(keyword.value, env)
                    if value is not None:
                        found[key] = value
    for key in ("id", "supported_resources"):
        if key not in found and key in env:
            found[key] = env[key]
    resources = found.get("supported_resources")
    resources = [resources] if isinstance(resources, str) else list(resources or [])
    bases = [b.id for n in tree.body if isinstance(n, ast.ClassDef) for b in n.bases if isinstance(b, ast.Name)]
    check_id = found.get("id")
    return {
        "id": check_id if isinstance(check_id, str) and check_id.startswith("CKV") else None,
        "resources": [r for r in resources if isinstance(r, str)],
        "bases": bases,
    }


def graph_resource_types(node) -> set:
    """Every resource_types / connected_resource_types list in a graph check definition."""
    out = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("resource_types", "connected_resource_types") and isinstance(value, list):
                out.update(v for v in value if isinstance(v, str))
            else:
                out |= graph_resource_types(value)
    elif isinstance(node, list):
        for value in node:
            out |= graph_resource_types(value)
    return out


def resource_checks(checkov: Source, framework: str, pattern: str, checks: dict, unparsed: list) -> None:
    parsed = {}
    for rel in checkov.glob(pattern):
        if not rel.endswith("__init__.py"):
            parsed[rel] = python_check(checkov.read(rel, pattern))
    # abstract bases (same folder, file named after the class) supply resources to subclasses
    by_class = {rel.rsplit("/", 1)[1][: -len(".py")]: p for rel, p in parsed.items()}
    for rel, check in parsed.items():
        if check["id"] is None:
            if not rel.rsplit("/", 1)[1].startswith("Abs"):
                unparsed.append(rel)
            continue
        resources = check["resources"]
        for base in check["bases"]:
            if not resources and base in by_class:
                resources = by_class[base]["resources"]
        checks.setdefault(check["id"], {}).setdefault(framework, set()).update(resources)


def graph_checks(checkov: Source, framework: str, pattern: str, checks: dict, unparsed: list) -> None:
    prefix = "aws_" if framework == "terraform" else "AWS::"
    for rel in checkov.glob(pattern):
        graph = json.loads(checkov.read(rel, pattern))
        check_id = graph.get("metadata", {}).get("id")
        if not check_id:
            unparsed.append(rel)
            continue
        types = {t for t in graph_resource_types(graph.get("definition")) if t.startswith(prefix)}
        checks.setdefault(check_id, {}).setdefault(framework, set()).update(types)


def checkov_facts(checkov: Source) -> dict:
    """checks: id -> {framework -> [resource types]}; unparsed_files: check files without a literal id."""
    checks, unparsed = {}, []
    for framework, pattern in RESOURCE_CHECKS.items():
        resource_checks(checkov, framework, pattern, checks, unparsed)
    for framework, pattern in GRAPH_CHECKS.items():
        graph_checks(checkov, framework, pattern, checks, unparsed)
    aws = {cid: fw for cid, fw in checks.items() if cid.startswith(("CKV_AWS_", "CKV2_AWS_"))}
    return {
        "checks": {cid: {fw: sorted(types) for fw, types in frameworks.items()} for cid, frameworks in aws.items()},
        "unparsed_files": sorted(unparsed),
    }

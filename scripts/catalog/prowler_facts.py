"""prowler (PyPI): its AWS checks (id, service, severity, resource type), the
Security Hub controls of AWS Foundational Security Best Practices with the checks
that implement them, and compliance frameworks' requirement ids -> check ids.
"""

import json

from common import Source

COMPLIANCE = "prowler/compliance/aws"

# Framework id (crate::input::Framework::id) -> the prowler compliance file used.
# FedRAMP: prowler ships Moderate only for NIST 800-53 revision 4 baselines.
# CIS: the newest CIS AWS Foundations Benchmark version prowler ships.
FRAMEWORK_FILES = {
    "NIST-800-53": "nist_800_53_revision_5_aws.json",
    "PCI-DSS": "pci_4.0_aws.json",
    "ISO-27001": "iso27001_2022_aws.json",
    "CIS": None,  # resolved to the newest cis_<version>_aws.json
    "HIPAA": "hipaa_aws.json",
    "SOC2": "soc2_aws.json",
    "FedRAMP": "fedramp_moderate_revision_4_aws.json",
}


def version_key(file_name: str) -> tuple:
    version = file_name.removeprefix("cis_").removesuffix("_aws.json")
    return tuple(int(part) for part in version.split("."))


def newest_cis(prowler: Source) -> str:
    names = [p.rsplit("/", 1)[1] for p in prowler.glob(f"{COMPLIANCE}/cis_*_aws.json")]
    return max(names, key=version_key)


def checks(prowler: Source) -> dict:
    """check id -> {service, severity, resource_type (Security Hub ASFF type name)}."""
    label = "prowler/providers/aws/services/<service>/<check>/<check>.metadata.json"
    out = {}
    for rel in prowler.glob("prowler/providers/aws/services/*/*/*.metadata.json"):
        meta = json.loads(prowler.read(rel, label))
        out[meta["CheckID"]] = {
            "service": meta["ServiceName"],
            "severity": meta.get("Severity") or None,
            "resource_type": meta.get("ResourceType") or None,
        }
    return out


def security_hub_controls(prowler: Source, known_checks: dict) -> dict:
    """control id -> {service (control family, e.g. S3), severity, prowler_checks, resource_types}."""
    raw = json.loads(prowler.read(f"{COMPLIANCE}/aws_foundational_security_best_practices_aws.json"))
    out = {}
    for requirement in raw["Requirements"]:
        attributes = (requirement.get("Attributes") or [{}])[0]
        control_checks = sorted(set(requirement.get("Checks") or []))
        resource_types = {known_checks[c]["resource_type"] for c in control_checks if c in known_checks}
        resource_types.discard(None)
        out[requirement["Id"]] = {
            "service": requirement["Id"].split(".", 1)[0],
            "severity": attributes.get("Severity") or None,
            "prowler_checks": control_checks,
            "resource_types": sorted(resource_types),
            "config_rule": None,  # no pinned source maps controls to Config rule identifiers
        }
    return out


def frameworks(prowler: Source) -> dict:
    """framework id -> {name, version, file, requirements: {requirement id -> [check ids]}}."""
    out = {}
    for framework_id, file_name in sorted(FRAMEWORK_FILES.items()):
        file_name = file_name or newest_cis(prowler)
        raw = json.loads(prowler.read(f"{COMPLIANCE}/{file_name}"))
        requirements = {}
        for requirement in raw["Requirements"]:
            ids = requirements.setdefault(requirement["Id"], set())
            ids.update(requirement.get("Checks") or [])
        out[framework_id] = {
            "name": raw["Framework"],
            "version": raw.get("Version") or None,
            "file": file_name,
            "requirements": {rid: sorted(c) for rid, c in requirements.items()},
        }
    return out


def prowler_facts(prowler: Source) -> tuple[dict, dict]:
    """(compliance.json content, securityhub.json content)."""
    known = checks(prowler)
    return {"checks": known, "frameworks": frameworks(prowler)}, {"controls": security_hub_controls(prowler, known)}

"""Runs parliament on the IAM documents of each service's bundle and applies the reviewed
suppressions. Exit status 1 when an unsuppressed finding of MEDIUM or above remains.

The documents are templates: `${Name}` parameters (iam-model.json lists them) are filled the
way a deployment fills them before parliament reads them: location parameters with the first
value the profile allows, resource name parts with `example`. `${AllowedSourceIpRanges}` is
left as it is, since no CIDR range is invented (see the suppressions file).

Usage: run_parliament.py --suppressions FILE OUT_DIR SERVICE...
"""

import argparse
import fnmatch
import json
import re
import sys
from collections import Counter
from pathlib import Path

import yaml
from parliament import analyze_policy_string, enhance_finding

FAILING = {"MEDIUM", "HIGH", "CRITICAL"}


def load_suppressions(path: Path) -> list[dict]:
    entries = yaml.safe_load(path.read_text())["suppressions"]
    for e in entries:
        if not e.get("justification", "").strip():
            sys.exit(f"{path}: suppression of {e.get('issue')} has no justification")
    return entries


KEEP = {"AllowedSourceIpRanges"}


def instantiate(text: str, model: dict) -> str:
    values = {}
    for p in model.get("parameters", []):
        if p["name"] not in KEEP:
            values[p["name"]] = (p.get("allowed_values") or ["example"])[0]
    return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def suppressed(finding, file: str, entries: list[dict]) -> dict | None:
    for e in entries:
        if (
            e["issue"] == finding.issue
            and fnmatch.fnmatch(file, e.get("files", "*"))
            and e.get("detail_contains", "") in str(finding.detail)
        ):
            return e
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suppressions", required=True, type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("services", nargs="+")
    args = ap.parse_args()
    entries = load_suppressions(args.suppressions)

    counts, used, failures, documents = Counter(), Counter(), [], 0
    for service in args.services:
        files = sorted((args.out / service).glob("iam-policy-*.json")) + sorted(
            (args.out / service).glob("iam-guardrails*.json")
        )
        model_path = args.out / service / "iam-model.json"
        model = json.loads(model_path.read_text()) if model_path.exists() else {}
        if not files:
            failures.append(f"{service}: no IAM documents in {args.out / service}")
        for f in files:
            documents += 1
            rel = f"{service}/{f.name}"
            policy = analyze_policy_string(instantiate(f.read_text(), model), filepath=rel)
            for finding in policy.findings:
                finding = enhance_finding(finding)
                counts[(finding.severity, finding.issue)] += 1
                if finding.severity not in FAILING:
                    continue
                rule = suppressed(finding, rel, entries)
                if rule:
                    used[finding.issue] += 1
                else:
                    failures.append(f"{rel}: {finding.severity} {finding.issue} {finding.detail} {finding.location}")

    print(f"parliament: {documents} documents of {len(args.services)} services")
    for (severity, issue), n in sorted(counts.items()):
        note = f" ({used[issue]} suppressed)" if used[issue] else ""
        print(f"  {severity:<8} {issue:<40} {n}{note}")
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    print(json.dumps({"documents": documents, "findings": sum(counts.values()), "failing": len(failures)}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

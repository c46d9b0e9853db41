"""Generate bundles and run the external validators on them, batched so that every
service of the catalog can be checked in CI: one seccfg run for all services, one
cfn-lint process per core for many templates, one checkov process per core over many
bundle directories, the cfn-guard CLI per bundle (a native binary, milliseconds each)
and the HCL parser in a process pool.

Writes target/bundles/<service>/ (the bundles) and target/bundles/summary.json +
summary.md (per service: controls by type, Security Hub and Config coverage,
validator results, and the time of each phase). Exits non-zero when any validator fails.

--services takes ids, or `all` (every IAM prefix in data/iam.json, the default) or `priority`.
checkov runs only on bundles whose controls claim checkov checks, restricted to those checks
(`--check`): a claimed check must pass, and derived bundles claim none.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

JOBS = max(1, int(os.environ.get("SECCFG_CHECK_JOBS", os.cpu_count() or 2)))

PRIORITY = [
    "s3", "dynamodb", "lambda", "ec2", "rds", "sns", "sqs", "kms", "iam", "bedrock",
    "ecs", "eks", "apigateway", "cloudfront", "secretsmanager", "logs", "cloudwatch",
    "elasticloadbalancing", "states", "events", "glue", "athena", "kinesis", "sagemaker",
    "elasticache", "elasticfilesystem", "es", "cloudtrail", "config", "guardduty",
]
# Derived bundles CI always checks; `--services all` checks every catalog service.
DERIVED = ["appsync", "memorydb", "cassandra", "docdb-elastic", "kafka", "cognito-idp", "network-firewall"]


def expand(names):
    """`all` = every IAM prefix of the catalog, `priority` = the reviewed 30."""
    out = []
    for name in names:
        if name == "all":
            out += sorted(json.loads(Path("data/iam.json").read_text()))
        elif name == "priority":
            out += PRIORITY + DERIVED
        else:
            out.append(name)
    return list(dict.fromkeys(out))


def generate(seccfg, out, profile, services):
    """One `seccfg run` per request of at most 50 services (the request limit), one database."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    env = dict(os.environ,
               SECCFG_DATABASE_URL=f"sqlite:{out}/seccfg.db",
               SECCFG_ARTIFACT_DIR=str(out / ".artifacts"),
               SECCFG_LOG="warn")
    started = time.monotonic()
    ok = True
    for n, start in enumerate(range(0, len(services), 50)):
        request = {
            "requestId": f"CI-BUNDLES-{n}",
            "serviceId": "ci",
            "services": [{"serviceName": s} for s in services[start:start + 50]],
        }
        req = out / f"request-{n}.json"
        req.write_text(json.dumps(request))
        proc = subprocess.run([seccfg, "run", "--profile", profile, "--request", str(req), "--out", str(out)],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            ok = False
            print(proc.stdout[-4000:])
            print(proc.stderr[-4000:], file=sys.stderr)
    return ok, time.monotonic() - started


def chunks(items, n):
    """n interleaved slices, so each gets a similar mix of large and small bundles."""
    return [items[i::n] for i in range(n) if items[i::n]]


def json_documents(text):
    """checkov prints one JSON document per directory group; read them all."""
    decoder, pos, out = json.JSONDecoder(), 0, []
    text = text or ""
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return out
        value, pos = decoder.raw_decode(text, pos)
        out.append(value)


def run_batches(commands):
    """Runs the commands concurrently; returns their CompletedProcess-like (stdout, returncode)."""
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    return [(p.communicate()[0], p.returncode) for p in procs]


def cfn_lint(out, services):
    files = [str(out / s / name) for s in services for name in ("template.yaml", "controls-template.yaml")
             if (out / s / name).exists()]
    findings = []
    for stdout, _ in run_batches([["cfn-lint", "--format", "json", *batch] for batch in chunks(files, JOBS)]):
        findings += json.loads(stdout or "[]")
    by_service = {}
    for f in findings:
        service = Path(f["Filename"]).parent.name
        level = f["Level"]
        by_service.setdefault(service, {}).setdefault(level, []).append(f"{f['Rule']['Id']} {f['Message']}")
    return by_service


def checkov(out, claimed):
    """Only bundles whose controls claim checkov checks, and only those checks: a claimed
    check must pass; nothing else of checkov's verdict is used (derived bundles claim none)."""
    services = [s for s, ids in claimed.items() if ids]
    checks = ",".join(sorted({c for ids in claimed.values() for c in ids}))
    commands = []
    for batch in chunks(services, JOBS):
        dirs = [arg for s in batch for arg in ("-d", str(out / s))]
        commands.append(["checkov", *dirs, "--framework", "terraform", "cloudformation", "--check", checks,
                         "--skip-download", "--compact", "-o", "json", "--quiet"])
    reports = []
    for stdout, _ in run_batches(commands):
        for parsed in json_documents(stdout):
            reports += parsed if isinstance(parsed, list) else [parsed]
    failed, passed = {}, {}
    for report in reports:
        results = report.get("results", {})
        for kind, sink in (("failed_checks", failed), ("passed_checks", passed)):
            for c in results.get(kind, []):
                service = Path(c["file_abs_path"]).parent.name
                sink.setdefault(service, set()).add(c["check_id"])
    return failed, passed


def guard_cli(cfn_guard, out, service):
    d = out / service
    if not (d / "template.yaml").exists():
        return True, "no template (nothing to deploy)"
    proc = subprocess.run([cfn_guard, "validate", "--rules", str(d / "rules.guard"), "--data",
                           str(d / "template.yaml"), "--show-summary", "fail"], capture_output=True, text=True)
    return proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]


def hcl(args):
    out, service = args
    import hcl2
    errors = []
    for tf in sorted((out / service).glob("*.tf")):
        try:
            with open(tf) as fh:
                hcl2.load(fh)
        except Exception as e:  # the parser raises several types
            errors.append(f"{tf.name}: {e}")
    if shutil.which("terraform"):
        proc = subprocess.run(["terraform", "fmt", "-check", "-diff", str(out / service)], capture_output=True, text=True)
        if proc.returncode != 0:
            errors.append("terraform fmt -check: " + proc.stdout[-1000:])
    return errors


def coverage(out, service):
    d = out / service
    controls = json.loads((d / "controls.json").read_text())
    facts = json.loads((d / "facts.json").read_text())
    by_type = {k: len(v) for k, v in controls["by_type"].items()}
    sh_used = sorted({s for c in controls["controls"] for s in c["security_hub"]})
    sh_catalog = sorted(c["id"] for c in facts.get("security_hub_controls", []))
    cfg_used = sorted({c["config_rule"] for c in controls["controls"] if c.get("config_rule")})
    cfg_available = sorted(facts.get("config_rules", []))
    claimed = sorted({k for c in controls["controls"] for k in c.get("checkov", [])})
    return {
        "controls": len(controls["controls"]),
        "by_type": by_type,
        "security_hub_used": len(sh_used),
        "security_hub_in_catalog": len(sh_catalog),
        "security_hub_covered": len(set(sh_used) & set(sh_catalog)),
        "config_rules_used": len(cfg_used),
        "config_rules_available": len(cfg_available),
        "checkov_claimed": claimed,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seccfg", required=True)
    ap.add_argument("--cfn-guard", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--profile", default="examples/profiles/fin-prod.json")
    ap.add_argument("--services", nargs="*", default=["all"])
    args = ap.parse_args()
    out = Path(args.out)
    services = expand(args.services)
    ok, elapsed = generate(args.seccfg, out, args.profile, services)
    problems = [] if ok else ["seccfg run failed for at least one service"]
    built = [s for s in services if (out / s / "verification.json").exists()]
    problems += [f"{s}: no verified bundle" for s in services if s not in built]

    seconds = {"generate": round(elapsed, 1)}
    started = time.monotonic()
    lint = cfn_lint(out, built)
    seconds["cfn_lint"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    rows = {s: coverage(out, s) for s in built}
    failed, passed = checkov(out, {s: rows[s]["checkov_claimed"] for s in built})
    seconds["checkov"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    with ThreadPoolExecutor(JOBS) as pool:
        guard = dict(zip(built, pool.map(lambda s: guard_cli(args.cfn_guard, out, s), built)))
    seconds["cfn_guard"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    with ProcessPoolExecutor(JOBS) as pool:
        hcl_results = dict(zip(built, pool.map(hcl, [(out, s) for s in built], chunksize=8)))
    seconds["hcl"] = round(time.monotonic() - started, 1)
    summary = {"profile": args.profile, "generation_seconds_all": round(elapsed, 2), "seconds": seconds,
               "jobs": JOBS, "services": {}}
    for s in built:
        row = rows[s]
        errors = lint.get(s, {}).get("Error", [])
        claimed_failures = sorted(set(row["checkov_claimed"]) & failed.get(s, set()))
        claimed_passing = sorted(set(row["checkov_claimed"]) & passed.get(s, set()))
        guard_ok, guard_out = guard[s]
        hcl_errors = hcl_results[s]
        run = json.loads((out / s / "run.json").read_text())
        stage_ms = sum((st["finished_at"] or 0) - (st["started_at"] or 0) for st in run["stages"])
        row.update({
            "cfn_lint_errors": len(errors), "cfn_lint_warnings": len(lint.get(s, {}).get("Warning", [])),
            "checkov_claimed_failed": claimed_failures, "checkov_claimed_passed": len(claimed_passing),
            "cfn_guard_cli": "pass" if guard_ok else "fail", "hcl_errors": hcl_errors, "stage_ms": stage_ms,
        })
        summary["services"][s] = row
        problems += [f"{s}: cfn-lint {e}" for e in errors]
        problems += [f"{s}: checkov {c} failed but a control claims it" for c in claimed_failures]
        if not guard_ok:
            problems.append(f"{s}: cfn-guard CLI: {guard_out}")
        problems += [f"{s}: HCL {e}" for e in hcl_errors]

    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    lines = ["| service | controls | det | prev | proact | resp | SH used / in catalog | Config used / available | checkov claimed ok | cfn-lint E/W | guard | ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s, r in summary["services"].items():
        t = r["by_type"]
        lines.append(f"| {s} | {r['controls']} | {t.get('detective', 0)} | {t.get('preventive', 0)} | {t.get('proactive', 0)} | "
                     f"{t.get('responsive', 0)} | {r['security_hub_covered']}/{r['security_hub_in_catalog']} | "
                     f"{r['config_rules_used']}/{r['config_rules_available']} | {r['checkov_claimed_passed']}/{len(r['checkov_claimed'])} | "
                     f"{r['cfn_lint_errors']}/{r['cfn_lint_warnings']} | {r['cfn_guard_cli']} | {r['stage_ms']} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"seconds per phase: {seconds} ({JOBS} jobs)")
    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    print(f"\nall validators passed for {len(built)} bundles; seconds per phase: {seconds} ({JOBS} jobs)")


if __name__ == "__main__":
    main()

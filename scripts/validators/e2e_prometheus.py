#!/usr/bin/env python3
"""End-to-end check of the metrics, the dashboard and the alert rules.

Starts a real `seccfg serve` (SQLite, two workers) and a real Prometheus on
loopback ports, both in a temporary directory; sends a bounded amount of API
traffic that creates and processes runs; lets Prometheus scrape every second;
then runs every query of deploy/grafana/seccfg.json and every series the rules
in deploy/prometheus/alerts.yaml read, and fails if any returns no data, if any
rule reports an evaluation error, or if the target is not up. Both processes
are stopped on exit. Rule groups are evaluated every second here (the file says
30s) so the check needs seconds, not minutes.

Usage: e2e_prometheus.py --seccfg target/release/seccfg [--prometheus prometheus]
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RATE_WINDOW = "30s"  # stands in for Grafana's $__rate_interval


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(what, check, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if check():
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def traffic(api, rounds):
    """Bounded load: profiles, requests (runs for the workers), reads, and a few 4xx."""
    profile = json.loads((ROOT / "examples/profiles/fin-prod.json").read_text())
    request = json.loads((ROOT / "examples/requests/data-platform.json").read_text())
    status, _ = http("POST", f"{api}/v1/profiles", profile)
    assert status in (200, 201), f"POST /v1/profiles answered {status}"
    for i in range(rounds):
        body = dict(request, profile_id=profile["profile_id"], requestId=f"E2E-{i}")
        status, accepted = http("POST", f"{api}/v1/requests", body)
        assert status == 202, f"POST /v1/requests answered {status}: {accepted[:300]!r}"
        run_id = json.loads(accepted)["runs"][0]["run_id"]
        for path in (f"/v1/runs/{run_id}", "/v1/runs?limit=5", "/v1/catalog", "/v1/catalog/services/s3", "/readyz"):
            http("GET", api + path)
        http("GET", f"{api}/v1/runs/no-such-run")  # 404 on a templated route
        http("POST", f"{api}/v1/requests", {"services": []})  # 4xx: invalid body
        time.sleep(1)


def query(prom, expr):
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    status, body = http("GET", url)
    doc = json.loads(body)
    if status != 200 or doc.get("status") != "success":
        return None, doc.get("error", body[:300])
    return doc["data"]["result"], None


def dashboard_queries():
    dash = json.loads((ROOT / "deploy/grafana/seccfg.json").read_text())
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            yield f"dashboard '{panel['title']}' {target['refId']}", target["expr"].replace("$__rate_interval", RATE_WINDOW)


def rule_inputs(rules_text):
    """Recording rule names, and every series selector the alerts read."""
    records = re.findall(r"^\s*- record:\s*(\S+)", rules_text, re.M)
    for name in records:
        yield f"recording rule {name}", name
    alerts = re.findall(r"^\s*- alert:\s*(\S+)\s*\n\s*expr:\s*(.+)$", rules_text, re.M)
    for name, expr in alerts:
        for selector in re.findall(r"\b(?:seccfg[:_][A-Za-z0-9_:]*(?:\{[^}]*\})?|up\{[^}]*\})", expr):
            yield f"alert {name} input", selector


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seccfg", required=True)
    ap.add_argument("--prometheus", default="prometheus")
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    seccfg_port, prom_port = free_port(), free_port()
    api, prom = f"http://127.0.0.1:{seccfg_port}", f"http://127.0.0.1:{prom_port}"
    procs = []
    with tempfile.TemporaryDirectory(prefix="seccfg-e2e-") as tmp:
        tmp = Path(tmp)
        rules_text = (ROOT / "deploy/prometheus/alerts.yaml").read_text()
        (tmp / "alerts.yaml").write_text(rules_text.replace("interval: 30s", "interval: 1s"))
        (tmp / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [alerts.yaml]\n"
            f"scrape_configs:\n  - job_name: seccfg\n    static_configs: [{{targets: ['127.0.0.1:{seccfg_port}']}}]\n")
        env = dict(os.environ, SECCFG_BIND=f"127.0.0.1:{seccfg_port}", SECCFG_DATABASE_URL=f"sqlite:{tmp}/seccfg.db",
                   SECCFG_ARTIFACT_DIR=str(tmp / "artifacts"), SECCFG_WORKERS="2", SECCFG_LOG="warn")
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        try:
            procs.append(subprocess.Popen([args.seccfg, "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL))
            procs.append(subprocess.Popen(
                [args.prometheus, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/tsdb",
                 f"--web.listen-address=127.0.0.1:{prom_port}"], cwd=tmp, stdout=subprocess.DEVNULL,
                stderr=open(tmp / "prometheus.log", "w")))
            wait_for("seccfg /readyz", lambda: http("GET", f"{api}/readyz", timeout=2)[0] == 200)
            wait_for("Prometheus ready", lambda: http("GET", f"{prom}/-/ready", timeout=2)[0] == 200)
            traffic(api, args.rounds)
            wait_for("10 scrapes", lambda: (query(prom, 'count_over_time(up{job="seccfg"}[1m]) >= 10')[0] or []) != [])
            failures = check(prom, rules_text)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
    if failures:
        print("\n".join(failures))
        return 1
    return 0


def check(prom, rules_text):
    failures, checked = [], 0
    for label, expr in list(dashboard_queries()) + list(rule_inputs(rules_text)):
        result, error = query(prom, expr)
        checked += 1
        if error:
            failures.append(f"{label}: {expr}: error {error}")
        elif not result:
            failures.append(f"{label}: {expr}: no data")
    _, body = http("GET", f"{prom}/api/v1/rules")
    for group in json.loads(body)["data"]["groups"]:
        for rule in group["rules"]:
            checked += 1
            if rule.get("health") != "ok":
                failures.append(f"rule {rule['name']}: health {rule.get('health')} {rule.get('lastError', '')}")
    up, _ = query(prom, 'up{job="seccfg"}')
    if not up or up[0]["value"][1] != "1":
        failures.append(f"target not up: {up}")
    firing = [r["name"] for g in json.loads(body)["data"]["groups"] for r in g["rules"]
              if r.get("type") == "alerting" and r.get("state") == "firing"]
    if firing:
        failures.append(f"alerts firing on a healthy instance: {firing}")
    print(f"e2e Prometheus: {checked} queries and rules checked, {len(failures)} failed")
    return failures


if __name__ == "__main__":
    sys.exit(main())

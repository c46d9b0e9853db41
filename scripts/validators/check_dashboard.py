#!/usr/bin/env python3
"""Validates a Grafana dashboard JSON against Grafana's published schema package.

The dashboard, each panel's options and each panel's field config are written as
TypeScript object literals typed with @grafana/schema's generated types and
type-checked by tsc (strict, with excess-property checks), so a misspelt key, a
missing required option or a value outside an enum fails. Structural checks the
types cannot express follow: unique panel ids, grid inside 24 columns, a
Prometheus query in every target, and the panels the operations issue requires.

Usage: check_dashboard.py DASHBOARD.json WORKDIR   (WORKDIR holds node_modules)
"""
import json
import subprocess
import sys
from pathlib import Path

RAW = "./node_modules/@grafana/schema/dist/types/raw"
PANEL_TYPES = {
    "timeseries": f"{RAW}/composable/timeseries/panelcfg/x/types.gen",
    "stat": f"{RAW}/composable/stat/panelcfg/x/types.gen",
}
REQUIRED_PANELS = ["throughput", "latency", "errors", "queue depth", "queued stage age", "stage durations",
                   "failures by stage", "lease expiries"]

PRELUDE = f"""
import type {{ Dashboard }} from '{RAW}/dashboard/x/types.gen';
import type * as common from './node_modules/@grafana/schema/dist/types/index';
{''.join(f"import type * as {t} from '{p}';" + chr(10) for t, p in PANEL_TYPES.items())}
// String enums of the generated types become the union of their values, so JSON literals type-check.
type J<T> = T extends string ? `${{T}}` : T extends number | boolean | null | undefined ? T
  : T extends Array<infer U> ? Array<J<U>> : T extends object ? {{ [K in keyof T]: J<T[K]> }} : T;
type FieldConfigOf<C> = J<Omit<common.FieldConfigSource, 'defaults'> & {{ defaults: Omit<common.FieldConfig, 'custom'> & {{ custom?: C }} }}>;
"""


def structural(dash):
    errors = []
    panels = dash.get("panels", [])
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)):
        errors.append(f"duplicate panel ids: {ids}")
    for p in panels:
        g = p.get("gridPos", {})
        if all(isinstance(g.get(k), int) for k in "xw") and g["x"] + g["w"] > 24:
            errors.append(f"panel {p['id']} extends past 24 columns")
        if p["type"] not in PANEL_TYPES:
            errors.append(f"panel {p['id']}: type {p['type']} is not validated by this script")
        for t in p.get("targets", []):
            if not t.get("expr"):
                errors.append(f"panel {p['id']} target {t.get('refId')}: no Prometheus expr")
        if not p.get("targets"):
            errors.append(f"panel {p['id']}: no targets")
    titles = " | ".join(p.get("title", "").lower() for p in panels)
    errors += [f"no panel about {r}" for r in REQUIRED_PANELS if r not in titles]
    return errors


def typescript(dash):
    lines = [PRELUDE, f"export const dashboard: J<Dashboard> = {json.dumps(dash)};"]
    for p in dash["panels"]:
        t = p["type"]
        if t in PANEL_TYPES:
            lines.append(f"export const options_{p['id']}: J<{t}.Options> = {json.dumps(p.get('options', {}))};")
            custom = "never" if t == "stat" else f"{t}.FieldConfig"
            lines.append(f"export const fields_{p['id']}: FieldConfigOf<{custom}> = {json.dumps(p.get('fieldConfig', {}))};")
    return "\n".join(lines) + "\n"


def main():
    path, workdir = Path(sys.argv[1]), Path(sys.argv[2])
    dash = json.loads(path.read_text())
    errors = structural(dash)
    (workdir / "check.ts").write_text(typescript(dash))
    proc = subprocess.run(
        ["node", "node_modules/typescript/bin/tsc", "--noEmit", "--strict", "--skipLibCheck", "--target", "es2022",
         "--module", "esnext", "--moduleResolution", "bundler", "check.ts"],
        cwd=workdir, capture_output=True, text=True)
    if proc.returncode != 0:
        errors.append("tsc against @grafana/schema:\n" + (proc.stdout + proc.stderr)[-4000:])
    if errors:
        print("\n".join(f"{path}: {e}" for e in errors))
        return 1
    print(f"{path}: valid against @grafana/schema ({len(dash['panels'])} panels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Validates SARIF logs written by `seccfg check --format sarif` against the SARIF 2.1.0
JSON schema, with the pinned `jsonschema` package (Draft 7, as the schema declares).

The schema is the file the serde-sarif crate ships (`src/schema.json` of the version in
Cargo.lock), so the validator and the document's model come from independent sources:
the crate's generated types write the document, the schema alone judges it.

First proves the validator can fail: a copy of the first document with a result level
outside the schema's enum and the tool driver's required `name` removed must be refused.
"""
import copy
import json
import sys

import jsonschema


def errors(validator, doc):
    return sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))


def main(schema_path, paths):
    schema = json.load(open(schema_path))
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    docs = [(p, json.load(open(p))) for p in paths]

    broken = copy.deepcopy(docs[0][1])
    run = broken["runs"][0]
    del run["tool"]["driver"]["name"]
    run.setdefault("results", [{"message": {"text": "x"}}])[0]["level"] = "fatal"
    found = errors(validator, broken)
    if len(found) < 2:
        print(f"validator accepted a broken SARIF document ({len(found)} errors)", file=sys.stderr)
        return 1
    print(f"broken document refused: {len(found)} errors, e.g. {found[0].message}")

    failed = 0
    for path, doc in docs:
        found = errors(validator, doc)
        results = sum(len(r.get("results", [])) for r in doc.get("runs", []))
        for e in found:
            print(f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message}", file=sys.stderr)
        print(f"{path}: {'INVALID' if found else 'valid'} SARIF 2.1.0 ({results} results)")
        failed += bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))

#!/usr/bin/env python3
"""Structural check of docs/openapi.yaml: well-formed YAML, OpenAPI 3.1 (openapi 3.1.x,
info.title and info.version, paths), every operation with responses, every $ref
resolving inside the document, every path parameter declared. That the paths equal the
server's routes is tests/webhooks/test_routes.c's job."""
import re
import sys

import yaml

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def resolve(doc, ref):
    if not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def refs(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield where, v
            else:
                yield from refs(v, where + "/" + str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from refs(v, "%s/%d" % (where, i))


def check(path):
    problems = []
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict):
        return ["not a YAML mapping"]
    if not re.fullmatch(r"3\.1\.\d+", str(doc.get("openapi", ""))):
        problems.append("openapi: must be 3.1.x, is %r" % doc.get("openapi"))
    info = doc.get("info")
    if not isinstance(info, dict) or not info.get("title") or not info.get("version"):
        problems.append("info: needs title and version")
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        problems.append("paths: missing or empty")
        paths = {}
    for p, item in paths.items():
        if not p.startswith("/"):
            problems.append("paths: %s does not start with /" % p)
        if not isinstance(item, dict):
            problems.append("paths: %s is not a mapping" % p)
            continue
        ops = {m: o for m, o in item.items() if m in METHODS}
        if not ops:
            problems.append("paths: %s has no operation" % p)
        declared = set()
        for prm in item.get("parameters", []):
            prm = resolve(doc, prm["$ref"]) if "$ref" in prm else prm
            if prm and prm.get("in") == "path":
                declared.add(prm.get("name"))
        for m, op in ops.items():
            if not isinstance(op, dict) or not isinstance(op.get("responses"), dict) \
                    or not op["responses"]:
                problems.append("%s %s: no responses" % (m.upper(), p))
            names = set(declared)
            for prm in op.get("parameters", []) if isinstance(op, dict) else []:
                prm = resolve(doc, prm["$ref"]) if "$ref" in prm else prm
                if prm and prm.get("in") == "path":
                    names.add(prm.get("name"))
            for name in re.findall(r"\{([^}]+)\}", p):
                if name not in names:
                    problems.append("%s %s: path parameter %s not declared" % (m.upper(), p, name))
    for where, ref in refs(doc, "#"):
        if resolve(doc, ref) is None:
            problems.append("%s: $ref %s does not resolve" % (where, ref))
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    for where, node in [("#", doc)] + [(p + " " + m, o) for p, it in paths.items()
                                       if isinstance(it, dict)
                                       for m, o in it.items() if m in METHODS]:
        for req in (node.get("security") or []) if isinstance(node, dict) else []:
            for name in req:
                if name not in schemes:
                    problems.append("%s: unknown security scheme %s" % (where, name))
    return problems


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "docs/openapi.yaml"
    problems = check(path)
    for p in problems:
        print("%s: %s" % (path, p), file=sys.stderr)
    if problems:
        return 1
    print("%s: OpenAPI 3.1 structure ok" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

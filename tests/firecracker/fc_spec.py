#!/usr/bin/python3
"""Firecracker API spec (swagger 2.0 YAML) loader and request validator.

Used by tests/firecracker/fake-firecracker and usable on its own:

    fc_spec.py [--strict] [--spec FILE] validate METHOD PATH [JSON|-]

exits 0 when the request is valid for that operation, else prints the reason
(the fault_message the fake would answer) and exits 1; 2 on usage errors.
JSON "-" reads the body from stdin; no JSON means no body.

What is checked: the path+method exists in the spec (with {param}
templates); the body against the operation's body schema, $refs resolved
into definitions: required fields, types (string, integer, number, boolean,
object, array), enums, integer minimum/maximum and int32/int64 ranges,
additionalProperties (false: unknown fields are errors; a schema: extra
values are checked against it). The spec never says additionalProperties:
false, while Firecracker itself rejects unknown fields (serde
deny_unknown_fields): --strict or FAKE_FC_STRICT_UNKNOWN=1 reports them.
Also the stateless Firecracker rules that need no VM state: path ids are
[alphanumeric_]+, and the id in the URL of /drives/{drive_id},
/network-interfaces/{iface_id} and /pmem/{id} equals the body's.

The spec is FAKE_FC_SPEC, defaulting to firecracker-api.yaml beside this file.
Only Debian's python3 + python3-yaml are needed.
"""

import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.realpath(__file__))
DEFAULT_SPEC = os.path.join(HERE, "firecracker-api.yaml")
MAX_INT = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
METHODS = ("get", "put", "patch", "post", "delete")
# body ids that must equal the URL's: {template: (path param, body field)}
ID_MATCH = {
    "/drives/{drive_id}": ("drive_id", "drive_id"),
    "/network-interfaces/{iface_id}": ("iface_id", "iface_id"),
    "/pmem/{id}": ("id", "id"),
}


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans only: PyYAML's YAML 1.1 rules would read the
    Logger level enum value Off (and any on/yes/no) as a boolean."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class Invalid(Exception):
    """A request the API refuses: status and fault_message."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status
        self.message = message


def _type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _show(v):
    s = json.dumps(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _field(where):
    return "`%s`" % where if where else "the body"


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError("duplicate field `%s`" % k)
        out[k] = v
    return out


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


class Operation:
    def __init__(self, template, method, op, params):
        self.template = template
        self.method = method  # upper case
        self.op = op
        self.params = params  # path parameters from the URL
        self.body_param = None
        for p in op.get("parameters", []) or []:
            if p.get("in") == "body":
                self.body_param = p

    @property
    def operation_id(self):
        return self.op.get("operationId", "")

    @property
    def summary(self):
        return self.op.get("summary", "")


class Spec:
    def __init__(self, path=None):
        self.path = path or os.environ.get("FAKE_FC_SPEC") or DEFAULT_SPEC
        with open(self.path, encoding="utf-8") as f:
            self.doc = yaml.load(f, Loader=_Loader)
        self.definitions = self.doc.get("definitions", {}) or {}
        self.version = str(self.doc.get("info", {}).get("version", ""))
        self._routes = []
        for template, item in (self.doc.get("paths") or {}).items():
            rx = "^"
            for part in re.split(r"(\{[^}]+\})", template):
                if part.startswith("{") and part.endswith("}"):
                    rx += "(?P<%s>[^/]*)" % part[1:-1]
                else:
                    rx += re.escape(part)
            self._routes.append((template, re.compile(rx + "$"), item))

    # -- lookup ------------------------------------------------------------
    def find(self, method, path):
        """The Operation for METHOD PATH (query string ignored), or None."""
        path = path.split("?", 1)[0]
        m = method.lower()
        for template, rx, item in self._routes:
            hit = rx.match(path)
            if hit and m in item and m in METHODS:
                return Operation(template, method.upper(), item[m], hit.groupdict())
        return None

    def resolve(self, schema):
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/definitions/"):
                raise ValueError("unsupported $ref %s" % ref)
            schema = self.definitions[ref[len("#/definitions/"):]]
            seen += 1
            if seen > 50:
                raise ValueError("$ref loop at %s" % ref)
        return schema or {}

    # -- schema validation ---------------------------------------------------
    def check(self, schema, value, where="", strict_unknown=False, required=True):
        """Raises Invalid naming the field when value does not fit schema.
        required=False skips 'required' lists (not used for bodies)."""
        schema = self.resolve(schema)
        typ = schema.get("type")
        if typ is None and ("properties" in schema or "additionalProperties" in schema):
            typ = "object"
        got = _type_name(value)
        ok = {
            None: True,
            "object": got == "object",
            "array": got == "array",
            "string": got == "string",
            "boolean": got == "boolean",
            "integer": got == "integer",
            "number": got in ("integer", "number"),
        }.get(typ, True)
        if not ok:
            raise Invalid("invalid type for %s: expected %s, got %s %s" % (_field(where), typ, got, _show(value)))

        if "enum" in schema:
            allowed = schema["enum"]
            fold = "case-insensitive" in str(schema.get("description", ""))
            if fold and isinstance(value, str):
                hit = any(isinstance(a, str) and a.lower() == value.lower() for a in allowed)
            else:
                hit = any(a == value and isinstance(a, bool) == isinstance(value, bool) for a in allowed)
            if not hit:
                raise Invalid(
                    "unknown variant %s for %s, expected one of %s"
                    % ("`%s`" % value if isinstance(value, str) else _show(value), _field(where),
                       ", ".join("`%s`" % a for a in allowed))
                )

        if typ in ("integer", "number"):
            lo, hi = schema.get("minimum"), schema.get("maximum")
            fmt = schema.get("format")
            if typ == "integer" and fmt in MAX_INT:
                flo, fhi = MAX_INT[fmt]
                lo = flo if lo is None else max(lo, flo)
                hi = fhi if hi is None else min(hi, fhi)
            if lo is not None and value < lo:
                raise Invalid("invalid value for %s: %s is less than the minimum %s" % (_field(where), value, lo))
            if hi is not None and value > hi:
                raise Invalid("invalid value for %s: %s is more than the maximum %s" % (_field(where), value, hi))

        if typ == "string" and schema.get("format") and schema["format"] not in ("byte", "date", "date-time", "password"):
            # the spec puts a regular expression in format (MmdsConfig.ipv4_address)
            try:
                rx = re.compile(schema["format"])
            except re.error:
                rx = None
            if rx is not None and any(c in schema["format"] for c in "([|") and not rx.fullmatch(value):
                raise Invalid("invalid value for %s: %s does not match %s" % (_field(where), _show(value), schema["format"]))

        if typ == "array":
            items = schema.get("items")
            if items is not None:
                for i, item in enumerate(value):
                    self.check(items, item, "%s[%d]" % (where, i), strict_unknown, required)

        if typ == "object" or (typ is None and got == "object"):
            props = schema.get("properties", {}) or {}
            if required:
                for name in schema.get("required", []) or []:
                    if name not in value:
                        raise Invalid("missing field `%s`" % (where + "." + name if where else name))
            extra = schema.get("additionalProperties")
            for name, v in value.items():
                sub = where + "." + name if where else name
                if name in props:
                    self.check(props[name], v, sub, strict_unknown, required)
                elif isinstance(extra, dict):
                    self.check(extra, v, sub, strict_unknown, required)
                elif extra is False or (extra is None and strict_unknown and props):
                    raise Invalid(
                        "unknown field `%s`, expected one of %s" % (sub, ", ".join("`%s`" % p for p in props))
                    )

    # -- whole request ---------------------------------------------------------
    def validate(self, method, path, body, strict_unknown=None):
        """Checks one request. body: bytes/str (raw JSON) or None/"" for no
        body. Returns (Operation, parsed body or None); raises Invalid."""
        if strict_unknown is None:
            strict_unknown = os.environ.get("FAKE_FC_STRICT_UNKNOWN") == "1"
        if isinstance(body, bytes):
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError:
                raise Invalid("An error occurred when deserializing the json body of a request: body is not UTF-8.")
        op = self.find(method, path)
        if op is None:
            raise Invalid("Invalid request method and/or path: %s %s." % (method.upper(), path.split("?", 1)[0]))
        for name, val in op.params.items():
            if val == "":
                raise Invalid("The ID cannot be empty.")
            if not all(c == "_" or c.isalnum() for c in val):
                raise Invalid("API Resource IDs can only contain alphanumeric characters and underscores.")
        has_body = body is not None and body != ""
        if op.method == "GET":
            if has_body:
                raise Invalid("GET request cannot have a body.")
            return op, None
        if not has_body:
            if op.body_param is not None and op.body_param.get("required"):
                raise Invalid("Empty %s request." % op.method)
            return op, None
        try:
            parsed = json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
        except ValueError as e:
            raise Invalid("An error occurred when deserializing the json body of a request: %s." % e)
        if op.body_param is not None:
            # PATCH /machine-config reuses the PUT schema, whose required
            # fields a partial update (as Firecracker takes it) leaves out.
            need = not (op.method == "PATCH" and op.template == "/machine-config")
            try:
                self.check(op.body_param.get("schema", {}), parsed, "", strict_unknown, need)
            except Invalid as e:
                raise Invalid("An error occurred when deserializing the json body of a request: %s." % e.message)
        if op.template in ID_MATCH and isinstance(parsed, dict):
            param, field = ID_MATCH[op.template]
            if parsed.get(field) != op.params.get(param):
                raise Invalid("The id from the path does not match the id from the body!")
        return op, parsed


def main(argv):
    strict = None
    spec_path = None
    args = []
    it = iter(argv)
    for a in it:
        if a == "--strict":
            strict = True
        elif a == "--spec":
            spec_path = next(it, None)
        else:
            args.append(a)
    if len(args) not in (3, 4) or args[0] != "validate":
        sys.stderr.write("usage: fc_spec.py [--strict] [--spec FILE] validate METHOD PATH [JSON|-]\n")
        return 2
    body = args[3] if len(args) == 4 else None
    if body == "-":
        body = sys.stdin.read()
    try:
        Spec(spec_path).validate(args[1], args[2], body, strict)
    except Invalid as e:
        print(e.message)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The cognito-idp service model as the fuzzer needs it: operations, their input shapes, which of
them are signed, and the names of the modelled errors.

The repository commits the botocore JSON model (documentation stripped) at
spec/cognito-idp-2016-04-18.json; the upstream copy with documentation may sit in
/work/shared/spec. Both have the same shapes, so either works.
"""

import json
import os
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CANDIDATES = [
    os.path.join(REPO, "spec", "cognito-idp-2016-04-18.service.json"),
    os.path.join(REPO, "spec", "cognito-idp-2016-04-18.json"),
    "/work/shared/spec/cognito-idp-2016-04-18.service.json",
]


@dataclass
class Operation:
    name: str
    input: str | None  # input shape name
    signed: bool  # False for `authtype: none` (tokens or client credentials in the body)
    errors: list = field(default_factory=list)
    readonly: bool = False


class Model:
    def __init__(self, doc):
        self.shapes = doc["shapes"]
        self.target_prefix = doc["metadata"]["targetPrefix"]
        self.operations = {}
        for name, op in doc["operations"].items():
            unsigned = op.get("authtype") == "none" or "smithy.api#noAuth" in (op.get("auth") or [])
            self.operations[name] = Operation(
                name=name,
                input=(op.get("input") or {}).get("shape"),
                signed=not unsigned,
                errors=[e["shape"] for e in op.get("errors", [])],
                readonly=bool(op.get("readonly")),
            )
        self.error_names = {n for n, s in self.shapes.items() if s.get("exception")}

    def shape(self, name):
        return self.shapes[name]

    def members(self, shape_name):
        """(member name, target shape name, required) of a structure."""
        sh = self.shapes[shape_name]
        required = set(sh.get("required", []))
        return [(m, spec["shape"], m in required) for m, spec in sh.get("members", {}).items()]


def find_model_file():
    for path in CANDIDATES:
        if os.path.exists(path):
            return path
    raise SystemExit("cognito-idp model not found; looked at: " + ", ".join(CANDIDATES))


def load(path=None):
    with open(path or find_model_file(), encoding="utf-8") as f:
        return Model(json.load(f))

"""Mutations of a valid JSON input, driven by the shapes: each breaks one rule of the model (a
type, a required member, a length, a range, a pattern, an enum) or feeds the server something
hostile inside an otherwise valid request (NUL and other control characters, lone surrogates,
70,000-character values, very deep nesting, unknown members).

Every mutation returns (new_value, kind, detail) or None when it does not apply to this input.
`kind` is coarse (it groups failures in the report); `detail` says where and what.
"""

import copy
from dataclasses import dataclass

HUGE = 70_000
NUL = "\u0000"
CONTROL = ["\u0001", "\u0008", "\u001b", "\u001f", "\u007f", "\u0085", "\u2028", "\ufeff",
           "\r\n", "\t", "\u000b"]
PATTERN_BREAKERS = [" ", "\n", "{", "<", "%", "*", "\\", '"', "'", ";", "\u200b", "é", "/", "#"]
EXOTIC = ["😀", "\u202e", "e\u0301", "ｆｕｌｌ", "\U0010fffd", "ß", "İ", "\u0000\u0000"]
# Members whose values reach lookups and storage; control characters there go deepest.
REFERENCE_MEMBERS = {"Username", "UserPoolId", "ClientId", "GroupName", "USERNAME", "Value",
                     "Name", "ProviderName", "AccessToken", "RefreshToken", "Session",
                     "PoolName", "ClientName", "Identifier", "Password", "PASSWORD",
                     "ProviderAttributeValue", "Filter", "SECRET_HASH", "REFRESH_TOKEN"}


@dataclass
class Node:
    path: tuple
    shape: str | None
    member: str | None  # structure member name, or the key for map values
    required: bool = False
    in_map: bool = False


def walk(model, shape, value, path=(), member=None, required=False, in_map=False):
    """Every value in the input with the shape that describes it."""
    yield Node(path, shape, member, required, in_map)
    sh = model.shape(shape) if shape else {}
    kind = sh.get("type")
    if kind == "structure" and isinstance(value, dict):
        req = set(sh.get("required", []))
        for name, spec in sh.get("members", {}).items():
            if name in value:
                yield from walk(model, spec["shape"], value[name], path + (name,), name, name in req)
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(model, sh["member"]["shape"], item, path + (i,), member)
    elif kind == "map" and isinstance(value, dict):
        for k, v in value.items():
            yield from walk(model, sh["value"]["shape"], v, path + (k,), k, in_map=True)


def get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def put(obj, path, value):
    if not path:
        return value
    get(obj, path[:-1])[path[-1]] = value
    return obj


def where(path):
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<body>"


class Mutator:
    def __init__(self, model, op, rng):
        self.m = model
        self.op = op
        self.rng = rng

    def nodes(self, value):
        return list(walk(self.m, self.op.input, value)) if self.op.input else [Node((), None, None)]

    def pick(self, nodes, test=None, prefer=None, bias=0.6):
        """A random node passing `test`; with probability `bias` one passing `prefer`."""
        cands = [n for n in nodes if n.path and (test is None or test(n))]
        if not cands:
            return None
        if prefer:
            preferred = [n for n in cands if prefer(n)]
            if preferred and self.rng.random() < bias:
                return self.rng.choice(preferred)
        return self.rng.choice(cands)

    def shape_of(self, node):
        return self.m.shape(node.shape) if node.shape else {}

    def strings(self, value, nodes):
        return [n for n in nodes if isinstance(get(value, n.path), str)]

    def apply(self, value, kind=None):
        """One mutation chosen at random (or by `kind`) that applies to `value`."""
        table = MUTATIONS if kind is None else {kind: MUTATIONS[kind]}
        # A weighted shuffle: the first mutation that applies to this input is used.
        order = sorted(table, key=lambda n: -WEIGHTS.get(n, 1) * self.rng.random())
        for name in order:
            out = table[name](self, copy.deepcopy(value))
            if out is not None:
                return out
        return None

    # ---- the mutations ---------------------------------------------------------------------

    def wrong_type(self, v):
        nodes = self.nodes(v)
        n = self.pick(nodes)
        if n is None:
            return None
        cur = get(v, n.path)
        options = {"string": "x", "integer": 7, "float": 1.5, "boolean": True, "null": None,
                   "list": ["x"], "object": {"a": 1}, "big-int": 10**30, "empty-list": []}
        current = {str: "string", int: "integer", float: "float", bool: "boolean",
                   list: "list", dict: "object"}.get(type(cur))
        choices = [k for k in options if k != current]
        pick = self.rng.choice(choices)
        return put(v, n.path, copy.deepcopy(options[pick])), "wrong-type", \
            f"{where(n.path)} = {pick}"

    def missing_required(self, v):
        nodes = self.nodes(v)
        n = self.pick(nodes, lambda n: n.required)
        if n is None:
            if isinstance(v, dict) and v:
                key = self.rng.choice(list(v))
                del v[key]
                return v, "missing-member", key
            return None
        del get(v, n.path[:-1])[n.path[-1]]
        return v, "missing-required", where(n.path)

    def length_bounds(self, v):
        nodes = self.nodes(v)

        def bounded(n):
            sh = self.shape_of(n)
            return sh.get("type") in ("string", "list", "map") and ("min" in sh or "max" in sh)
        n = self.pick(nodes, bounded)
        if n is None:
            return None
        sh = self.shape_of(n)
        options = []
        if "max" in sh:
            options.append(sh["max"] + 1)
        if sh.get("min", 0) > 0:
            options.append(sh["min"] - 1)
        options.append(0)
        size = self.rng.choice(options)
        if size > HUGE * 2:
            return None
        cur = get(v, n.path)
        if sh["type"] == "string":
            cur = cur if isinstance(cur, str) and cur else "a"
            new = (cur * (size // len(cur) + 1))[:size]
        elif sh["type"] == "list":
            cur = cur if isinstance(cur, list) and cur else ["x"]
            new = (cur * (size + 1))[:size]
        else:
            new = {f"k{i}": "v" for i in range(size)}
        return put(v, n.path, new), "length-bounds", f"{where(n.path)} length {size}"

    def number_range(self, v):
        nodes = self.nodes(v)
        n = self.pick(nodes, lambda n: self.shape_of(n).get("type") in ("integer", "long"))
        if n is None:
            return None
        sh = self.shape_of(n)
        options = [2**31, 2**63, -(2**63) - 1, 10**30, -1, 1.5, 1e308, -0.0, "12"]
        if "max" in sh:
            options.append(sh["max"] + 1)
        if "min" in sh:
            options.append(sh["min"] - 1)
        new = self.rng.choice(options)
        return put(v, n.path, new), "range", f"{where(n.path)} = {new!r}"

    def pattern(self, v):
        nodes = self.nodes(v)
        n = self.pick(self.strings(v, nodes), lambda n: "pattern" in self.shape_of(n))
        if n is None:
            return None
        ch = self.rng.choice(PATTERN_BREAKERS)
        return put(v, n.path, self.insert(get(v, n.path), ch)), "pattern", \
            f"{where(n.path)} with {ch!r}"

    def bad_enum(self, v):
        nodes = self.nodes(v)
        n = self.pick(self.strings(v, nodes), lambda n: "enum" in self.shape_of(n))
        if n is None:
            return None
        cur = get(v, n.path)
        new = self.rng.choice([cur.lower(), cur + " ", "NOT_A_VALUE", "", cur + NUL, " " + cur])
        if new == cur:
            new = "NOT_A_VALUE"
        return put(v, n.path, new), "enum", f"{where(n.path)} = {new!r}"

    def insert(self, s, ch):
        i = self.rng.randint(0, len(s))
        return s[:i] + ch + s[i:]

    def nul(self, v):
        return self._char_into_string(v, NUL, "nul")

    def control(self, v):
        return self._char_into_string(v, self.rng.choice(CONTROL), "control-char")

    def exotic_unicode(self, v):
        return self._char_into_string(v, self.rng.choice(EXOTIC), "unicode")

    def lone_surrogate(self, v):
        return self._char_into_string(v, self.rng.choice(["\ud800", "\udfff", "\udbff"]),
                                      "lone-surrogate")

    def _char_into_string(self, v, ch, kind):
        nodes = self.nodes(v)
        # Map keys count too: UserAttributes names, ClientMetadata and tag keys.
        if self.rng.random() < 0.25:
            n = self.pick(nodes, lambda n: n.in_map)
            if n is not None:
                parent = get(v, n.path[:-1])
                key = n.path[-1]
                new_key = self.insert(key, ch)
                parent[new_key] = parent.pop(key)
                return v, kind + "-in-key", f"key {where(n.path)} with {ch!r}"
        n = self.pick(self.strings(v, nodes), prefer=lambda n: n.member in REFERENCE_MEMBERS,
                      bias=0.8)
        if n is None:
            return None
        cur = get(v, n.path)
        new = self.rng.choice([cur + ch, ch + cur, self.insert(cur, ch)])
        return put(v, n.path, new), kind, f"{where(n.path)} with {ch!r}"

    def huge(self, v):
        nodes = self.nodes(v)
        filler = self.rng.choice(["A" * HUGE, "é" * HUGE, ("ab\u0000" * (HUGE // 3)),
                                  "%" * HUGE, "\\" * HUGE])
        roll = self.rng.random()
        if roll < 0.15:
            n = self.pick(nodes, lambda n: n.in_map)
            if n is not None:
                parent = get(v, n.path[:-1])
                parent[filler] = parent.pop(n.path[-1])
                return v, "huge-key", f"key {where(n.path)} of {len(filler)} chars"
        if roll < 0.3:
            n = self.pick(nodes, lambda n: self.shape_of(n).get("type") == "list")
            if n is not None:
                cur = get(v, n.path)
                cur = cur if isinstance(cur, list) and cur else ["x"]
                # Copies, not 5000 references to the same item: a later mutation of one item
                # must not change them all.
                items = [copy.deepcopy(cur[i % len(cur)]) for i in range(5000)]
                return put(v, n.path, items), "huge-list", \
                    f"{where(n.path)} with 5000 items"
        n = self.pick(self.strings(v, nodes), prefer=lambda n: n.member in REFERENCE_MEMBERS)
        if n is None:
            return None
        return put(v, n.path, filler), "huge-string", \
            f"{where(n.path)} = {filler[:3]!r}... ({len(filler)} chars)"

    def unknown_member(self, v):
        nodes = self.nodes(v)
        structs = [n for n in nodes if isinstance(get(v, n.path), dict) and not n.in_map]
        n = self.rng.choice(structs) if structs else None
        if n is None:
            return None
        name = self.rng.choice(["NoSuchMember", "__proto__", "", "userPoolId", "Username\u0000",
                                "A" * 300])
        get(v, n.path)[name] = self.rng.choice([1, "x", None, {}, []])
        return v, "unknown-member", f"{where(n.path)}.{name[:20]!r}"

    def null_member(self, v):
        nodes = self.nodes(v)
        n = self.pick(nodes, lambda n: not n.in_map)
        if n is None:
            return None
        return put(v, n.path, None), "null", where(n.path)

    def deep_nesting(self, v):
        nodes = self.nodes(v)
        n = self.pick(nodes)
        depth = self.rng.choice([64, 200, 1000])
        deep = "x"
        for _ in range(depth):
            deep = [deep] if self.rng.random() < 0.5 else {"a": deep}
        if n is None:
            return {"Deep": deep}, "deep-nesting", f"depth {depth} at <body>.Deep"
        return put(v, n.path, deep), "deep-nesting", f"depth {depth} at {where(n.path)}"


MUTATIONS = {
    "wrong-type": Mutator.wrong_type,
    "missing-required": Mutator.missing_required,
    "length-bounds": Mutator.length_bounds,
    "range": Mutator.number_range,
    "pattern": Mutator.pattern,
    "enum": Mutator.bad_enum,
    "nul": Mutator.nul,
    "control-char": Mutator.control,
    "unicode": Mutator.exotic_unicode,
    "lone-surrogate": Mutator.lone_surrogate,
    "huge": Mutator.huge,
    "unknown-member": Mutator.unknown_member,
    "null": Mutator.null_member,
    "deep-nesting": Mutator.deep_nesting,
}
# NUL and huge values found real bugs; they get more turns.
WEIGHTS = {"nul": 3, "huge": 2, "wrong-type": 2, "missing-required": 2, "control-char": 2,
           "length-bounds": 2, "pattern": 2, "enum": 1.5, "deep-nesting": 0.5}


# ---- broken bodies (bytes) -----------------------------------------------------------------------


def broken_bodies(valid_json_bytes):
    """(variant, body) pairs that are not a JSON object the way the protocol wants one."""
    b = valid_json_bytes
    cut = max(1, len(b) // 2)
    return [
        ("truncated", b[:cut]),
        ("trailing-garbage", b + b"}{"),
        ("no-closing-brace", b.rstrip(b"}")),
        ("single-quotes", b.replace(b'"', b"'")),
        ("comment", b"/* c */" + b),
        ("nan", b'{"Limit": NaN}'),
        ("infinity", b'{"Limit": -Infinity}'),
        ("bad-escape", b'{"Username": "\\x41"}'),
        ("bom", b"\xef\xbb\xbf" + b),
        ("invalid-utf8", b.replace(b'"', b'"\xff\xfe', 1) if b'"' in b else b"\xff"),
        ("duplicate-keys", b[:-1] + b', "ClientId": 1, "ClientId": "x"}' if len(b) > 2 else b),
        ("top-level-array", b"[" + b + b"]"),
        ("top-level-string", b'"hello"'),
        ("top-level-number", b"42"),
        ("top-level-null", b"null"),
        ("top-level-true", b"true"),
        ("empty", b""),
        ("whitespace", b" \r\n\t "),
        ("huge-number", b'{"Limit": 1' + b"0" * 5000 + b"}"),
        ("exponent", b'{"Limit": 1e999999}'),
        ("deep-arrays", b"[" * 100_000 + b"]" * 100_000),
        ("deep-objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
        ("unclosed-string", b'{"Username": "abc'),
        ("nul-byte", b.replace(b"{", b"{\x00", 1)),
        ("raw-control-in-string", b'{"Username": "a\x01b\nc"}'),
        ("escaped-nul-key", b'{"\\u0000": 1}'),
        ("lone-surrogate-escape", b'{"Username": "\\ud800"}'),
        ("utf16", b.decode("utf-8", "replace").encode("utf-16")),
        ("many-members", b"{" + b",".join(b'"m%d": %d' % (i, i) for i in range(20000)) + b"}"),
        ("megabyte", b'{"Username": "' + b"a" * (1024 * 1024) + b'"}'),
    ]

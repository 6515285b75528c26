"""One fuzz case: what to send and how it was made. A case renders to bytes on demand, so the
same case can be sent again (with a fresh signature) while it is being minimised.

Families:
* api: a well-formed HTTP POST / (maybe with a broken body, headers or signature). Any error must
  be a Cognito error shape.
* raw: malformed HTTP on a keep-alive connection. A bare 4xx is fine, but if the server then
  closes the connection its answer must have said `Connection: close`.
* http: well-formed HTTP that is not an API call (other methods and paths, the JWKS).
"""

import datetime
import json
import os
from dataclasses import dataclass, field

import mutate
import values
import wire
from world import TARGET_PREFIX

MISSING = object()  # a header left out entirely

# Signing modes after which a signed operation must be refused.
REJECTED_SIGNING = {"none", "bad-signature", "wrong-secret", "unknown-key", "stale-date",
                    "future-date", "bad-region", "wrong-service", "tampered-body",
                    "tampered-target", "unsigned-target", "garbage-date", "garbage-auth",
                    "short-key", "unsigned-content-type"}


@dataclass
class Case:
    index: int
    family: str
    op: str | None
    kinds: list = field(default_factory=list)
    details: list = field(default_factory=list)
    obj: object = None  # JSON body, rendered with json.dumps unless `body` is set
    body: bytes | None = None
    ensure_ascii: bool = True
    target: object = None  # X-Amz-Target value, MISSING, or None for the operation's own
    content_type: object = wire.CONTENT_TYPE
    sign: str = "none"
    garbage_auth: str = ""
    extra_headers: list = field(default_factory=list)
    method: str = "POST"
    path: str = "/"
    raw: bytes | None = None
    responses: int = 1
    http10: bool = False  # an HTTP/1.0 request: the server may close without saying so

    @property
    def kind(self):
        return "+".join(self.kinds) or "valid"

    @property
    def signed_op_rejected(self):
        """Sent without a valid signature: a signed operation must then be refused."""
        return self.family in ("api", "raw") and self.sign in REJECTED_SIGNING

    def body_bytes(self):
        if self.body is not None:
            return self.body
        text = json.dumps(self.obj, ensure_ascii=self.ensure_ascii)
        return text.encode("utf-8", "surrogatepass")

    def target_value(self):
        if self.target is None:
            return TARGET_PREFIX + self.op if self.op else MISSING
        return self.target

    def render(self, host):
        if self.raw is not None:
            return self.raw
        body = self.body_bytes()
        headers = []
        if self.content_type is not MISSING:
            headers.append(("Content-Type", self.content_type))
        target = self.target_value()
        if target is not MISSING:
            headers.append(("X-Amz-Target", target))
        headers = signed(self, host, headers, body)
        return wire.build_request(host, headers + self.extra_headers, body, self.method, self.path)

    def describe(self):
        """The request as a reader wants it in a report: short, but enough to resend it."""
        if self.raw is not None:
            return f"raw bytes: {shorten_bytes(self.raw)}"
        lines = [f"{self.method} {self.path}  X-Amz-Target: {show(self.target_value())}  "
                 f"Content-Type: {show(self.content_type)}  signing: {self.sign}"
                 + (f" ({shorten(self.garbage_auth)})" if self.garbage_auth else "")]
        for n, v in self.extra_headers:
            lines.append(f"header {n}: {shorten(v)}")
        if self.body is not None:
            lines.append(f"body: {shorten_bytes(self.body)}")
        else:
            lines.append("body: " + shorten(json.dumps(compact(self.obj), ensure_ascii=True), 1500))
        return "\n".join(lines)


def show(v):
    return "<absent>" if v is MISSING else shorten(repr(v), 200)


def shorten(s, limit=300):
    return s if len(s) <= limit else f"{s[:limit]}...({len(s)} chars)"


def shorten_bytes(b, limit=600):
    return shorten(repr(b), limit) if len(b) <= limit else f"{b[:limit]!r}...({len(b)} bytes)"


def compact(v):
    """Long strings and lists written as a note of their size, so a 70,000-character value
    reads as what it is."""
    if isinstance(v, str) and len(v) > 120:
        return f"{v[:24]}<...{len(v)} chars of {sorted(set(v))[:4]!r}>"
    if isinstance(v, list):
        return [compact(x) for x in v[:5]] + ([f"<...{len(v)} items>"] if len(v) > 5 else [])
    if isinstance(v, dict):
        items = list(v.items())
        out = {compact(k): compact(x) for k, x in items[:30]}
        if len(items) > 30:
            out["<...>"] = f"{len(items)} members"
        return out
    return v


# ---- signing -----------------------------------------------------------------------------------

GARBAGE_AUTH = [
    "", "AWS4-HMAC-SHA256", "Basic dXNlcjpwYXNz", "Bearer abc", "AWS4-HMAC-SHA256 Credential=",
    "AWS4-HMAC-SHA256 Credential=AKIDFUZZ000000000001/20240101/us-east-1/cognito-idp/aws4_request",
    "AWS4-HMAC-SHA256 Credential=A/B/C/D/E/F, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=AKIDFUZZ000000000001/x/us-east-1/cognito-idp/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target;content-type, Signature=zz",
    "AWS4-HMAC-SHA256 ,,,,,,", "AWS4-HMAC-SHA256 Credential=\u0000/a/b/c/d, SignedHeaders=, Signature=",
    "AWS4-HMAC-SHA256 Credential=é/20240101/us-east-1/cognito-idp/aws4_request, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 " + "Credential=x, " * 2000,
    "AWS4-HMAC-SHA256 Credential=" + "A" * 20000,
    "X" * 7000,
]


def signed(case, host, headers, body):
    """Headers plus whatever the case's signing mode adds (or breaks)."""
    mode = case.sign
    if mode == "none":
        return headers
    if mode == "garbage-auth":
        return headers + [("X-Amz-Date", now_stamp()), ("Authorization", case.garbage_auth)]
    kw = {}
    sign_headers = list(headers)
    if mode == "wrong-secret":
        kw["secret"] = "not-the-secret-0123456789"
    elif mode == "unknown-key":
        kw["key"] = "AKIDUNKNOWN000000000"
    elif mode == "short-key":
        kw["key"] = "test"
    elif mode == "stale-date":
        kw["offset"] = datetime.timedelta(minutes=-20)
    elif mode == "future-date":
        kw["offset"] = datetime.timedelta(minutes=20)
    elif mode == "other-region":
        kw["region"] = "eu-west-1"
    elif mode == "bad-region":
        kw["region"] = "US_EAST_1"
    elif mode == "wrong-service":
        kw["service"] = "s3"
    elif mode == "security-token":
        kw["token"] = "garbage-session-token"
    elif mode == "unsigned-target":
        sign_headers = [h for h in headers if h[0] != "X-Amz-Target"]
    elif mode == "unsigned-content-type":
        sign_headers = [h for h in headers if h[0] != "Content-Type"]
    try:
        added = wire.sign(host, dict(sign_headers), body, **kw)
    except Exception:  # a header botocore cannot sign: the request goes out unsigned
        return headers
    out = headers + list(added.items())
    if mode == "bad-signature":
        out = [(n, v[:-1] + ("0" if v[-1] != "0" else "1")) if n == "Authorization" else (n, v)
               for n, v in out]
    elif mode == "tampered-target":
        # Another (harmless) operation than the one signed for.
        other = "DescribeUserPool" if case.op == "ListUserPools" else "ListUserPools"
        out = [(n, TARGET_PREFIX + other) if n == "X-Amz-Target" else (n, v) for n, v in out]
    elif mode == "garbage-date":
        out = [(n, "yesterday") if n == "X-Amz-Date" else (n, v) for n, v in out]
    elif mode == "duplicate-auth":
        out.append(("Authorization", "AWS4-HMAC-SHA256 Credential=x/y/z/w/v, SignedHeaders=host, Signature=0"))
    return out


def now_stamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def tamper_body(case):
    """For `tampered-body`: the signature is made over one body and another is sent."""
    case.sign = "tampered-body"
    original = case.render

    def render(host, original=original):
        data = original(host)
        head, _, body = data.partition(b"\r\n\r\n")
        # Same length, one byte different: the hash no longer matches.
        if body:
            body = body[:-1] + (b" " if body[-1:] != b" " else b"\t")
        return head + b"\r\n\r\n" + body
    case.render = render


# ---- building cases ----------------------------------------------------------------------------

MAX_MUTATED_BODY = 900_000
FAMILY_WEIGHTS = [("valid", 20), ("json", 46), ("body", 7), ("headers", 7), ("signing", 9),
                  ("raw", 6), ("http", 3), ("transport", 2)]
SIGN_MUTATIONS = ["none", "bad-signature", "wrong-secret", "unknown-key", "stale-date",
                  "future-date", "other-region", "bad-region", "wrong-service", "tampered-body",
                  "tampered-target", "unsigned-target", "unsigned-content-type", "security-token",
                  "garbage-date", "duplicate-auth", "garbage-auth", "short-key"]


class Factory:
    def __init__(self, model, world, host, supported):
        self.m = model
        self.w = world
        self.host = host
        self.supported = supported
        ops = sorted(model.operations)
        # Operations the server implements get three times the turns (their paths go deeper),
        # unsigned ones (open to anybody on the network) three times that.
        self.ops = ops
        self.op_weights = [(3 if o in supported else 1) * (1 if model.operations[o].signed else 3)
                           for o in ops]
        only = [o for o in os.environ.get("FUZZ_OPS", "").split(",") if o]
        if only:  # FUZZ_OPS=InitiateAuth,SignUp: fuzz only these (to chase one finding)
            self.op_weights = [w if o in only else 0 for o, w in zip(ops, self.op_weights)]

    def make(self, index, rng):
        family = rng.choices([f for f, _ in FAMILY_WEIGHTS], [w for _, w in FAMILY_WEIGHTS])[0]
        if family == "raw":
            return raw_case(index, rng, self.host, self.w)
        if family == "http":
            return http_case(index, rng, self.w)
        op = self.m.operations[rng.choices(self.ops, self.op_weights)[0]]
        gen = values.Generator(self.m, self.w, rng, op)
        obj = gen.build()
        case = Case(index, "api", op.name, obj=obj, ensure_ascii=rng.random() < 0.5)
        case.gen_target = gen.t  # what the request names, for learning from its answer
        case.sign = default_signing(op, rng)
        if family == "json":
            self.mutate_json(case, op, rng)
            if rng.random() < 0.1:
                self.mutate_json(case, op, rng)
            if not any("SECRET_HASH" in d or "SecretHash" in d for d in case.details):
                # A mutated username keeps a matching hash, so it gets past the client's
                # secret check to the user lookup.
                gen.rehash(case.obj)
        elif family == "body":
            variant, body = rng.choice(mutate.broken_bodies(case.body_bytes()))
            case.body = body
            case.kinds.append("broken-json:" + variant)
        elif family == "headers":
            header_mutation(case, rng, self.m)
        elif family == "signing":
            sign_mutation(case, rng)
        elif family == "transport":
            transport_mutation(case, rng)
        if has_forbidden_header_bytes(case):
            # NUL or another control character in a header is malformed HTTP, which the HTTP
            # layer may refuse without a Cognito error body.
            case.family = "raw"
        return case

    def mutate_json(self, case, op, rng):
        for _ in range(3):
            out = mutate.Mutator(self.m, op, rng).apply(case.obj)
            if out is None:
                return
            # Bodies over the server's 1 MiB limit are all refused alike; the "megabyte"
            # broken body covers that once, mutations must stay below it.
            if len(json.dumps(out[0])) < MAX_MUTATED_BODY:
                break
        else:
            return
        case.obj, kind, detail = out
        case.kinds.append(kind)
        case.details.append(detail)


def has_forbidden_header_bytes(case):
    values = [case.content_type, case.target, case.garbage_auth] + [v for _, v in case.extra_headers]
    return any(isinstance(v, str) and any(ord(c) < 0x20 and c != "\t" or ord(c) == 0x7F for c in v)
               for v in values)


def default_signing(op, rng):
    if op.signed:
        return "valid"
    # Unsigned operations are also sent signed now and then: the server must not mind.
    return "valid" if rng.random() < 0.1 else "none"


def sign_mutation(case, rng):
    mode = rng.choice(SIGN_MUTATIONS)
    case.kinds.append("sign:" + mode)
    if mode == "tampered-body":
        case.sign = "valid"
        tamper_body(case)
        return
    case.sign = mode
    if mode == "garbage-auth":
        case.garbage_auth = rng.choice(GARBAGE_AUTH)
        case.details.append(shorten(case.garbage_auth, 80))


def header_mutation(case, rng, model):
    what = rng.choice(["content-type", "target"])
    if what == "content-type":
        variant, value = rng.choice([
            ("absent", MISSING), ("json", "application/json"), ("text", "text/plain"),
            ("json-1.0", "application/x-amz-json-1.0"), ("garbage", "garbage/\u0001"),
            ("charset", "application/x-amz-json-1.1; charset=utf-8"), ("empty", ""),
            ("huge", "application/" + "x" * 10000), ("nul", "application/x-amz-json-1.1\u0000"),
            ("form", "application/x-www-form-urlencoded"),
        ])
        case.content_type = value
    else:
        # The body of one operation under the name of another: only read-only operations, or a
        # body meant for a sentinel could reach a delete.
        other = rng.choice(sorted(n for n, o in model.operations.items() if values.is_read(o)))
        variant, value = rng.choice([
            ("absent", MISSING), ("empty", ""), ("prefix-only", TARGET_PREFIX),
            ("lowercase", TARGET_PREFIX + case.op.lower()), ("unknown", TARGET_PREFIX + "NoSuchOp"),
            ("other-service", "DynamoDB_20120810.ListTables"), ("trailing-space", TARGET_PREFIX + case.op + " "),
            ("suffix", TARGET_PREFIX + case.op + ".x"), ("huge", TARGET_PREFIX + "A" * 10000),
            ("nul", TARGET_PREFIX + case.op + "\u0000"), ("no-prefix", case.op),
            ("other-operation", TARGET_PREFIX + other), ("non-ascii", TARGET_PREFIX + "Initiateé"),
        ])
        case.target = value
    case.kinds.append(f"{what}:{variant}")


def transport_mutation(case, rng):
    """Well-formed HTTP framing the server must cope with: chunked bodies, Expect, encodings."""
    variant = rng.choice(["chunked", "expect-continue", "gzip-garbage", "gzip-valid",
                          "duplicate-target", "duplicate-content-length", "header-flood"])
    case.kinds.append("transport:" + variant)
    if variant == "chunked":
        body = case.body_bytes()
        original_render = case.render

        def render(host, body=body, original_render=original_render):
            data = original_render(host)
            head, _, _ = data.partition(b"\r\n\r\n")
            lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"content-length:")]
            chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7])
                               for i in range(0, len(body), 7)) + b"0\r\n\r\n"
            return b"\r\n".join(lines + [b"Transfer-Encoding: chunked"]) + b"\r\n\r\n" + chunked
        case.render = render
    elif variant == "expect-continue":
        case.extra_headers.append(("Expect", "100-continue"))
    elif variant == "gzip-garbage":
        case.extra_headers.append(("Content-Encoding", "gzip"))
    elif variant == "gzip-valid":
        import gzip
        case.body = gzip.compress(case.body_bytes())
        case.extra_headers.append(("Content-Encoding", "gzip"))
    elif variant == "duplicate-target":
        case.extra_headers.append(("X-Amz-Target", TARGET_PREFIX + "ListUserPools"))
    elif variant == "duplicate-content-length":
        case.extra_headers.append(("Content-Length", str(len(case.body_bytes()))))
    elif variant == "header-flood":
        # More headers than HTTP servers usually take: the HTTP layer may refuse it bare.
        case.extra_headers.extend((f"X-Fuzz-{i}", "v" * 20) for i in range(90))
        case.family = "raw"
    if variant == "duplicate-content-length":
        case.family = "raw"


def valid_request_bytes(host, op="ListUserPools", body=b'{"MaxResults": 1}'):
    headers = {"Content-Type": wire.CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + op}
    headers.update(wire.sign(host, headers, body))
    return wire.build_request(host, list(headers.items()), body)


def raw_case(index, rng, host, w):
    """Malformed HTTP, sent on a connection that already carried requests."""
    h = host.encode()
    variants = [
        ("bad-request-line", b"GARBAGE\r\n\r\n"),
        ("no-version", b"POST /\r\nHost: " + h + b"\r\n\r\n"),
        ("bad-version", b"POST / HTTP/9.9\r\nHost: " + h + b"\r\nContent-Length: 0\r\n\r\n"),
        ("lowercase-method", b"post / HTTP/1.1\r\nHost: " + h + b"\r\nContent-Length: 0\r\n\r\n"),
        ("space-in-target", b"POST / x HTTP/1.1\r\nHost: " + h + b"\r\nContent-Length: 0\r\n\r\n"),
        ("nul-in-request-line", b"POST /\x00 HTTP/1.1\r\nHost: " + h + b"\r\n\r\n"),
        ("header-without-colon", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nBad Header\r\n\r\n"),
        ("space-before-colon", b"POST / HTTP/1.1\r\nHost : " + h + b"\r\nContent-Length: 0\r\n\r\n"),
        ("nul-in-header-name", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nX-\x00: 1\r\n\r\n"),
        ("nul-in-header-value", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nX-Amz-Target: a\x00b\r\nContent-Length: 0\r\n\r\n"),
        ("obs-fold", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nX-Amz-Target: a\r\n b\r\nContent-Length: 0\r\n\r\n"),
        ("bare-lf", b"POST / HTTP/1.1\nHost: " + h + b"\nContent-Length: 0\n\n"),
        ("bad-content-length", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nContent-Length: abc\r\n\r\n"),
        ("negative-content-length", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nContent-Length: -1\r\n\r\n"),
        ("conflicting-content-length", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"),
        ("te-and-cl", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("bad-chunk-size", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
        ("unknown-transfer-encoding", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nTransfer-Encoding: bogus\r\n\r\n"),
        ("huge-header", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nX-Big: " + b"a" * 70000 + b"\r\nContent-Length: 0\r\n\r\n"),
        ("many-headers", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(300)) + b"Content-Length: 0\r\n\r\n"),
        ("huge-uri", b"POST /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: " + h + b"\r\n\r\n"),
        ("binary", bytes(rng.randrange(256) for _ in range(64)) + b"\r\n\r\n"),
        ("tls-hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 32 + b"\r\n\r\n"),
        ("absolute-uri", b"POST http://" + h + b"/ HTTP/1.1\r\nHost: " + h + b"\r\nContent-Length: 0\r\n\r\n"),
        ("non-ascii-header", b"POST / HTTP/1.1\r\nHost: " + h + b"\r\nX-Amz-Target: \xff\xfe\r\nContent-Length: 0\r\n\r\n"),
    ]
    variant, data = rng.choice(variants)
    # Not pipelined behind a valid request: actix-http may close on the parse error before it
    # answers the request in front, and no AWS client pipelines (docs/compatibility.md).
    return Case(index, "raw", None, kinds=["raw:" + variant], raw=data)


def http_case(index, rng, w):
    pools = [p.id for p in w.pools] or ["us-east-1_x"]
    pool = rng.choice(pools)
    variant, method, path = rng.choice([
        ("get-root", "GET", "/"), ("put-root", "PUT", "/"), ("delete-root", "DELETE", "/"),
        ("head-root", "HEAD", "/"), ("options-root", "OPTIONS", "/"), ("post-elsewhere", "POST", "/nope"),
        ("double-slash", "POST", "//"), ("query", "POST", "/?a=b&c"), ("jwks", "GET", f"/{pool}/.well-known/jwks.json"),
        ("openid", "GET", f"/{pool}/.well-known/openid-configuration"),
        ("jwks-unknown", "GET", "/us-east-1_nope/.well-known/jwks.json"),
        ("jwks-encoded-nul", "GET", f"/{pool}%00/.well-known/jwks.json"),
        ("jwks-huge", "GET", "/" + "a" * 6000 + "/.well-known/jwks.json"),
        ("health", "GET", "/health"), ("ready", "GET", "/ready"), ("metrics", "GET", "/metrics"),
        ("dot-segments", "GET", "/../../etc/passwd"),
    ])
    case = Case(index, "http", None, kinds=["http:" + variant], obj={}, method=method, path=path)
    if variant in ("query", "double-slash"):
        case.op = "ListUserPools"
        case.obj = {"MaxResults": 2}
        case.sign = "valid"
    return case

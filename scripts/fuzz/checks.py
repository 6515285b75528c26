"""What every answer must look like, and how failures are grouped for the report."""

import json
from dataclasses import dataclass

MAX_HEADER_LINE = 8 * 1024  # boto3 and Node refuse longer header lines
# Errors of the AWS JSON protocol layer rather than of Cognito's model.
PROTOCOL_ERRORS = {
    "SerializationException", "UnknownOperationException", "InvalidSignatureException",
    "IncompleteSignatureException", "MissingAuthenticationTokenException",
    "UnrecognizedClientException", "AccessDeniedException", "ThrottlingException",
}


@dataclass
class Failure:
    check: str  # e.g. "5xx", "header-too-long", "dropped"
    case: object  # the Case, or None for end-of-run checks
    status: int | None = None
    type_name: str | None = None
    detail: str = ""
    response: object = None

    @property
    def key(self):
        """Failures with the same key are one finding in the report."""
        if self.case is None:  # an end-of-run check: each problem is its own finding
            return (self.check, None, self.detail[:120], self.status, self.type_name)
        return (self.check, self.case.op, self.case.kind, self.status, self.type_name)

    @property
    def class_key(self):
        """Coarser: the same kind of failure across operations. Of two mutations applied
        together, the one most likely to be the cause names the class."""
        if self.case is None:
            return (self.check, None, self.status, self.type_name)
        # One root cause shows through many mutations: an over-long header line is the same
        # echo whatever made the value long; a close without warning is the same HTTP layer.
        if self.check == "header-too-long":
            return (self.check, None, self.status, self.type_name)
        if self.check == "closed-without-connection-close":
            return (self.check, None, self.status, None)
        if self.check == "dropped":
            return (self.check, self.case.family, None, None)
        kinds = [k.split(":")[0] for k in self.case.kinds] or ["valid"]
        kinds.sort(key=lambda k: CAUSE_PRIORITY.index(k) if k in CAUSE_PRIORITY else len(CAUSE_PRIORITY))
        return (self.check, kinds[0], self.status, self.type_name)


CAUSE_PRIORITY = ["huge-string", "huge-key", "huge-list", "length-bounds", "nul", "nul-in-key",
                  "lone-surrogate", "lone-surrogate-in-key", "control-char", "control-char-in-key",
                  "unicode", "unicode-in-key", "deep-nesting", "range", "wrong-type", "pattern",
                  "enum", "missing-required", "missing-member", "null", "unknown-member"]


def error_type_of(resp):
    try:
        doc = json.loads(resp.body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(doc, dict):
        return None, doc
    t = doc.get("__type")
    return (t.split("#")[-1] if isinstance(t, str) else t), doc


def effective_op(case, model):
    """The operation the server will run: the one X-Amz-Target names, if it names one."""
    from cases import MISSING  # noqa: imported here to keep checks independent of cases
    target = case.target_value() if case.raw is None else MISSING
    if target is MISSING or not isinstance(target, str):
        return None
    prefix = model.target_prefix + "."
    return model.operations.get(target[len(prefix):]) if target.startswith(prefix) else None


def check(case, resp, model):
    """The failures one response shows. A response may fail several checks at once."""
    model_errors = model.error_names
    out = []
    type_name, doc = error_type_of(resp)
    fail = lambda check, detail="": out.append(
        Failure(check, case, resp.status, type_name if isinstance(type_name, str) else None,
                detail, resp))

    if resp.status >= 500:
        fail("5xx", f"status {resp.status}")
    if resp.longest_header_line > MAX_HEADER_LINE:
        longest = max(resp.headers, key=lambda h: len(h[0]) + len(h[1]))
        fail("header-too-long", f"{longest[0]} line of {resp.longest_header_line} bytes")
    if not 200 <= resp.status < 600 or 300 <= resp.status < 400:
        fail("unexpected-status", f"status {resp.status}")

    if 200 <= resp.status < 300:
        op = effective_op(case, model)
        if case.signed_op_rejected and op is not None and op.signed:
            fail("auth-bypass", f"a signed operation answered {resp.status} with signing "
                                f"'{case.sign}'")
        if case.family == "api" and not isinstance(doc, dict):
            fail("bad-success-body", f"2xx body is not a JSON object: {resp.body[:100]!r}")
        return out

    if 400 <= resp.status < 600:
        out.extend(check_error_shape(case, resp, type_name, doc, model_errors, fail))
    if case.family in ("raw", "http") and resp.closed_after and not resp.says_close \
            and not case.http10:
        fail("closed-without-connection-close",
             "the server closed the connection after this answer, which did not say so")
    return out


def check_error_shape(case, resp, type_name, doc, model_errors, fail):
    if type_name is None or not isinstance(doc, dict):
        # Malformed HTTP may be refused by the HTTP layer with a bare 4xx, and other paths
        # than the API's are not Cognito's; a well-formed API call must get a Cognito error.
        if case.family == "api":
            fail("not-error-shape", f"body {resp.body[:120]!r}")
        return []
    if not isinstance(type_name, str) or (type_name not in model_errors
                                          and type_name not in PROTOCOL_ERRORS):
        fail("unknown-error-type", f"__type {doc.get('__type')!r}")
    for key in ("message", "Message"):
        if key in doc and not isinstance(doc[key], str):
            fail("bad-message", f"{key} is {type(doc[key]).__name__}")
    header = resp.header("x-amzn-ErrorType")
    if header is None:
        fail("missing-error-type-header", "no x-amzn-ErrorType")
    elif header.split(":")[0] != type_name:
        fail("error-type-header-mismatch", f"x-amzn-ErrorType {header[:80]!r}")
    return []


def off_model_error(case, type_name, model):
    """An error the operation's model does not list (a note, not a failure)."""
    # UnsupportedOperationException is how Gatehouse answers what it does not implement yet.
    if not case.op or case.family != "api" or type_name in PROTOCOL_ERRORS \
            or type_name == "UnsupportedOperationException":
        return False
    op = model.operations.get(case.op)
    return op is not None and type_name not in op.errors

"""HTTP/1.1 over plain sockets, and SigV4 signing through botocore.

The fuzzer writes its own requests byte by byte (so it can send malformed ones) and parses the
answers itself (so it sees over-long header lines instead of a client library refusing them, and
knows exactly when the server closed a connection).
"""

import datetime
import select
import socket
import time
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import get_current_datetime
from botocore.credentials import Credentials

SERVICE = "cognito-idp"
REGION = "us-east-1"
ACCESS_KEY = "AKIDFUZZ000000000001"
SECRET_KEY = "fuzz-secret-0123456789abcdef"
CONTENT_TYPE = "application/x-amz-json-1.1"
# Reading gives up on a line past this; anything over MAX_HEADER_LINE is already a failure.
READ_LINE_LIMIT = 4 * 1024 * 1024
# actix-web closes connections idle for 5 s; a close after a shorter gap is the server's doing.
IDLE_CLOSE_GRACE = 4.0


class Dropped(Exception):
    """The connection ended without a (complete) response: closed, reset or timed out."""

    def __init__(self, kind, detail=""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


@dataclass
class Response:
    status: int
    reason: str
    headers: list  # [(name, value)] in order, values decoded as latin-1
    body: bytes
    longest_header_line: int
    header_bytes: int
    closed_after: bool = False  # the server closed the connection right after this response

    def header(self, name):
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    @property
    def says_close(self):
        return any(
            n.lower() == "connection" and "close" in v.lower() for n, v in self.headers
        )


class Signer(SigV4Auth):
    """botocore's SigV4 signer with a clock offset, for stale and future-dated signatures."""

    def __init__(self, credentials, service, region, offset=datetime.timedelta(0)):
        super().__init__(credentials, service, region)
        self.offset = offset

    def add_auth(self, request):
        now = get_current_datetime() + self.offset
        request.context["timestamp"] = now.strftime("%Y%m%dT%H%M%SZ")
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        self._inject_signature_to_request(request, signature)


def sign(host, headers, body, key=ACCESS_KEY, secret=SECRET_KEY, region=REGION,
         service=SERVICE, offset=datetime.timedelta(0), token=None):
    """The headers botocore adds to sign `headers` + `body` (a dict of name -> value)."""
    req = AWSRequest(method="POST", url=f"http://{host}/", data=body, headers=dict(headers))
    Signer(Credentials(key, secret, token), service, region, offset).add_auth(req)
    added = {}
    for name in ("X-Amz-Date", "Authorization", "X-Amz-Security-Token"):
        if name in req.headers:
            added[name] = req.headers[name]
    return added


def build_request(host, headers, body, method="POST", path="/"):
    """Request bytes: the request line, `headers` (list of (name, value)) and the body.
    Host and Content-Length are added unless the headers already say something about them."""
    names = {n.lower() for n, _ in headers}
    lines = [f"{method} {path} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {host}")
    for n, v in headers:
        lines.append(f"{n}: {v}")
    if "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("utf-8", "surrogatepass") + body


@dataclass
class Conn:
    """One keep-alive connection to the server."""

    host: str
    port: int
    timeout: float = 30.0
    sock: socket.socket = None
    reader: object = None
    served: int = 0  # responses read on the current socket
    last_used: float = 0.0
    last_said_close: bool = False
    connects: int = 0

    def connect(self):
        self.close()
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as e:  # refused or timed out: the server is gone or stuck
            raise Dropped("connect-failed", str(e)) from e
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")
        self.served = 0
        self.last_said_close = False
        self.connects += 1

    def close(self):
        if self.sock is not None:
            try:
                self.reader.close()
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.reader = None

    def closed_by_peer(self, wait=0.0):
        """Whether the server has closed this connection (EOF or a reset is waiting)."""
        if self.sock is None:
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], wait)
            if not readable:
                return False
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def unannounced_close(self):
        """The server closed the connection after its last response without saying
        `Connection: close`, and not because the connection sat idle."""
        return (
            self.served > 0
            and not self.last_said_close
            and time.monotonic() - self.last_used < IDLE_CLOSE_GRACE
        )

    def exchange(self, data, responses=1, head=False):
        """Sends `data` on this socket and reads `responses` answers (bodiless ones for HEAD);
        raises Dropped when the connection ends first."""
        if self.sock is None:
            self.connect()
        try:
            self.sock.sendall(data)
        except socket.timeout as e:
            raise Dropped("timeout", "sending the request") from e
        except OSError as e:
            # A server may answer and close before taking all of a body it refuses (one over
            # its size limit): the answer can still be waiting to be read.
            try:
                resp = self.read_response(head)
            except Dropped:
                raise Dropped("send-failed", str(e)) from e
            resp.closed_after = True
            self.close()
            return [resp]
        out = [self.read_response(head) for _ in range(responses)]
        self.served += len(out)
        self.last_used = time.monotonic()
        self.last_said_close = any(r.says_close for r in out)
        if self.last_said_close or any(r.closed_after for r in out):
            self.close()
        return out

    def read_response(self, head=False):
        try:
            while True:
                resp = self._read_one(head)
                if not 100 <= resp.status < 200:
                    return resp
        except socket.timeout as e:
            raise Dropped("timeout", f"no response within {self.timeout:.0f}s") from e
        except ConnectionResetError as e:
            raise Dropped("reset", str(e)) from e
        except OSError as e:
            raise Dropped("socket-error", str(e)) from e

    def _read_one(self, head=False):
        status_line = self.reader.readline(READ_LINE_LIMIT)
        if not status_line:
            raise Dropped("closed", "connection closed before any response byte")
        if not status_line.endswith(b"\n"):
            raise Dropped("closed", f"truncated status line {status_line[:80]!r}")
        parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise Dropped("garbage", f"not an HTTP status line: {status_line[:80]!r}")
        status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
        headers, longest, total = [], len(status_line), len(status_line)
        while True:
            line = self.reader.readline(READ_LINE_LIMIT)
            if not line:
                raise Dropped("closed", "connection closed inside the response headers")
            total += len(line)
            longest = max(longest, len(line))
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
            headers.append((name.strip(), value.strip()))
        resp = Response(status, reason, headers, b"", longest, total)
        if not head:
            resp.body = self._read_body(resp)
        return resp

    def _read_body(self, resp):
        if resp.status in (204, 304) or 100 <= resp.status < 200:
            return b""
        te = (resp.header("transfer-encoding") or "").lower()
        if "chunked" in te:
            return self._read_chunked()
        length = resp.header("content-length")
        if length is not None:
            n = int(length)
            body = self.reader.read(n)
            if len(body) != n:
                raise Dropped("closed", f"body cut short at {len(body)} of {n} bytes")
            return body
        body = self.reader.read()  # no length: the body ends with the connection
        resp.closed_after = True
        return body

    def _read_chunked(self):
        body = b""
        while True:
            size_line = self.reader.readline(1024)
            if not size_line:
                raise Dropped("closed", "connection closed inside a chunked body")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.reader.readline(READ_LINE_LIMIT) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return body
            body += self.reader.read(size)
            self.reader.readline(16)


def send(conn, data, responses=1, head=False, retry=True):
    """Sends one request (or a pipelined batch) on a keep-alive connection.

    Returns (responses, prior_close): prior_close is True when the connection turned out to have
    been closed by the server after the previous response although that response did not say
    `Connection: close` (a real client then fails the next request it sends). With `retry`, the
    request is then sent again on a fresh connection; failing there too raises Dropped."""
    prior_close = False
    if conn.sock is not None and conn.served and conn.closed_by_peer(0):
        prior_close = conn.unannounced_close()
        conn.close()
    try:
        return conn.exchange(data, responses, head), prior_close
    except Dropped as d:
        reused = conn.sock is not None and conn.served > 0
        if not (retry and reused and d.kind in ("send-failed", "closed", "reset")):
            conn.close()
            raise
        # Either the server closed after the previous answer (a race with the check above) or
        # it dropped this request: a fresh connection tells which.
        prior_close = conn.unannounced_close()
        conn.connect()
        try:
            return conn.exchange(data, responses, head), prior_close
        except Dropped:
            conn.close()
            raise

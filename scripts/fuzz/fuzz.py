#!/usr/bin/env python3
"""Model-driven fuzz test of a Gatehouse server.

Starts a server (or uses --endpoint), seeds pools, clients, groups and users through the API,
then sends FUZZ_REQUESTS requests built from the cognito-idp model's input shapes (see values.py),
most of them mutated (mutate.py, cases.py), over keep-alive connections from several threads.
Every answer is checked (checks.py); at the end the sentinel users must all still be there and
sign in, and the server must still be up. Exits 1 on any failure, printing one reproduction per
kind of failure.

  python3 scripts/fuzz/fuzz.py --bin target/debug/gatehouse --backend sqlite
  python3 scripts/fuzz/fuzz.py --bin ... --backend postgres --database-url postgres://...

Environment: FUZZ_SEED (default: random, printed), FUZZ_REQUESTS (default 20000),
FUZZ_THREADS (default 6), FUZZ_REPORT (also write the report to this file).
"""

import argparse
import base64
import collections
import copy
import dataclasses
import itertools
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases  # noqa: E402
import checks  # noqa: E402
import model as model_mod  # noqa: E402
import wire  # noqa: E402
import world as world_mod  # noqa: E402

# Failure checks judged on one answer, which a resend of a smaller request can reproduce.
MINIMISABLE = {"5xx", "header-too-long", "not-error-shape", "unknown-error-type", "bad-message",
               "missing-error-type-header", "error-type-header-mismatch", "auth-bypass",
               "bad-success-body"}
MAX_EXAMPLES_PER_KEY = 1


def log(backend, msg):
    print(f"[{backend}] {msg}", file=sys.stderr, flush=True)


# ---- the server under test ------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gatehouse process of our own, on a free port, with a fresh data directory."""

    def __init__(self, binary, database_url, backend):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"gatehouse-fuzz-{backend}-")
        self.log_path = os.path.join(self.dir, "server.log")
        cmd = [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.dir,
               "--access-keys", f"{wire.ACCESS_KEY}:{wire.SECRET_KEY}", "--log-level", "warn",
               "--rate-limits", "off"]
        if database_url:
            cmd += ["--database-url", database_url]
        # Only our settings: a DATABASE_URL or GATEHOUSE_* from the caller must not leak in.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GATEHOUSE_") and k != "DATABASE_URL"}
        env["GATEHOUSE_KEY_ENCRYPTION_KEY"] = base64.b64encode(os.urandom(32)).decode()
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, env=env)

    def wait_healthy(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if health(self.port):
                return
            time.sleep(0.2)
        raise SystemExit(f"the server did not answer /health within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, n=40):
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")

    def error_lines(self, n=10):
        with open(self.log_path, "rb") as f:
            return [ln.decode("utf-8", "replace")[:400] for ln in f.read().splitlines()
                    if b"ERROR" in ln][:n]

    def panics(self):
        with open(self.log_path, "rb") as f:
            return [ln.decode("utf-8", "replace") for ln in f.read().splitlines()
                    if b"panicked" in ln][:5]

    def stop(self, keep_dir=False):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log_file.close()
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def health(port):
    conn = wire.Conn("127.0.0.1", port, timeout=5)
    try:
        (resp,), _ = wire.send(conn, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        return resp.status == 200
    except (OSError, wire.Dropped):
        return False
    finally:
        conn.close()


# ---- running cases --------------------------------------------------------------------------------


class Run:
    def __init__(self, args, model, world, host, port):
        self.args = args
        self.m = model
        self.w = world
        self.host = host  # "127.0.0.1:PORT", as the Host header and the signature say
        self.addr = ("127.0.0.1", port)
        self.factory = cases.Factory(model, world, host, supported_operations())
        self.failures = []
        self.examples = {}  # failure key -> first failure
        self.counts = collections.Counter()  # failure key -> count
        self.notes = collections.Counter()  # (op, error type) outside the op's model
        self.status = collections.Counter()
        self.ok_ops = collections.Counter()
        self.valid_errors = collections.Counter()
        self.sent = 0
        self.lock = threading.Lock()
        self.next_index = itertools.count()

    def record(self, failure):
        with self.lock:
            self.counts[failure.key] += 1
            if failure.key not in self.examples:
                self.examples[failure.key] = failure

    def send_case(self, conn, case):
        """Sends one case; returns (responses, failures)."""
        data = case.render(self.host)
        carried = conn.served if conn.sock is not None else 0
        try:
            # Malformed requests are not retried: a close without an answer is theirs.
            resps, prior_close = wire.send(conn, data, case.responses, head=case.method == "HEAD",
                                           retry=case.family != "raw")
        except wire.Dropped as d:
            return [], [checks.Failure("dropped", case, detail=f"{d} (on a connection that had "
                                                               f"carried {carried} requests)")], False
        if case.family == "raw" and conn.sock is not None and conn.closed_by_peer(0.3):
            # Malformed HTTP: did the server close the connection without saying it would?
            resps[-1].closed_after = True
            conn.close()
        found = []
        for r in resps:
            found.extend(checks.check(case, r, self.m))
        return resps, found, prior_close

    def worker(self, wid):
        conn = wire.Conn(*self.addr, timeout=30)
        prev = None
        while True:
            i = next(self.next_index)
            if i >= self.args.requests:
                break
            rng = random.Random(f"{self.args.seed}:{i}")
            try:
                case = self.factory.make(i, rng)
                resps, found, prior_close = self.send_case(conn, case)
            except Exception:  # a bug of the fuzzer itself: report it, keep going
                self.record(checks.Failure("fuzzer-bug", None, detail=traceback.format_exc()[-600:]))
                conn.close()
                continue
            if prior_close and prev is not None:
                self.record(checks.Failure(
                    "closed-without-connection-close", prev,
                    detail="the server closed the connection after this answer without "
                           f"`Connection: close`; the next request on it (#{case.index}, "
                           f"{case.kind}) failed and went through on a new connection"))
            for f in found:
                self.record(f)
            self.observe(case, resps)
            prev = case
        conn.close()

    def observe(self, case, resps):
        with self.lock:
            self.sent += 1
            for r in resps:
                self.status[r.status // 100 * 100] += 1
        if not resps or case.family != "api":
            return
        r = resps[0]
        type_name, doc = checks.error_type_of(r)
        if r.status == 200:
            with self.lock:
                self.ok_ops[case.op] += 1
            try:
                world_mod.learn(self.w, case.op, case.obj, getattr(case, "gen_target", None), doc)
            except (KeyError, TypeError, AttributeError):
                pass  # a mutated request that succeeded with odd members: nothing to learn
        else:
            if isinstance(type_name, str) and checks.off_model_error(case, type_name, self.m):
                with self.lock:
                    self.notes[(case.op, type_name)] += 1
            if case.kind == "valid" and type_name == "NotAuthorizedException":
                self.forget_stale(case, doc)
            if case.kind == "valid" and isinstance(doc, dict):
                # Why unmutated requests did not succeed: shown with FUZZ_VERBOSE=1, to tune
                # the generator towards deeper paths.
                msg = str(doc.get("message") or doc.get("Message") or "")[:90]
                with self.lock:
                    self.valid_errors[(case.op, type_name, msg)] += 1

    def forget_stale(self, case, doc):
        """An unmutated request was refused for its token or session: later requests should
        use live ones (tokens die by sign-out and revocation, sessions once answered)."""
        t = getattr(case, "gen_target", None)
        msg = str(doc.get("message", "")) if isinstance(doc, dict) else ""
        if t is None:
            return
        if t.token is not None and ("Token" in msg or "User does not exist" in msg):
            self.w.forget(self.w.tokens, t.token)
        if t.challenge is not None and "session" in msg.lower():
            self.w.forget(self.w.challenges, t.challenge)

    def replenish(self, api, rng):
        """Signs in a few scratch users: sign-outs and revocations use tokens up."""
        for pool in self.w.pools_of("work"):
            users = [u for u in pool.users if not u.keep and u.password == world_mod.PASSWORD]
            for user in rng.sample(users, min(2, len(users))):
                client = rng.choice(pool.clients)
                st, out = world_mod.sign_in(api, client, user)
                tok = world_mod.token_of(out, pool.id, client.id, False, user.username)
                if tok:
                    self.w.add_token(tok)

    def canary(self, api, stop):
        """Now and then a sentinel signs in, so a loss shows up while the run still goes on;
        on the same beat, fresh tokens for the scratch users."""
        users = self.w.sentinel.users
        rng = random.Random(f"{self.args.seed}:canary")
        for n in itertools.count():
            if stop.wait(10 if n else 3):
                return
            try:
                self.replenish(api, rng)
            except (wire.Dropped, OSError, KeyError):
                pass
            user = users[n % len(users)]
            try:
                st, out = world_mod.sign_in(api, self.w.sentinel.clients[0], user)
            except wire.Dropped as d:
                st, out = None, {"dropped": str(d)}
            if st != 200 or "AuthenticationResult" not in out:
                self.record(checks.Failure("lost-user", None, st, None,
                                           f"mid-run sign-in of sentinel {user.username}: {st} "
                                           f"{json.dumps(out)[:300]}"))

    def progress(self, stop, backend):
        start = time.time()
        while not stop.wait(15):
            with self.lock:
                n, bad = self.sent, sum(self.counts.values())
            rate = n / max(1e-6, time.time() - start)
            log(backend, f"{n}/{self.args.requests} requests ({rate:.0f}/s), {bad} failing, "
                         f"{len(self.counts)} failure keys")

    def run(self, backend, api):
        stop = threading.Event()
        helpers = [threading.Thread(target=self.canary, args=(api, stop), daemon=True),
                   threading.Thread(target=self.progress, args=(stop, backend), daemon=True)]
        for t in helpers:
            t.start()
        workers = [threading.Thread(target=self.worker, args=(i,)) for i in range(self.args.threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        stop.set()

    # ---- shrinking a failing request ----------------------------------------------------------

    def reproduces(self, conn, case, failure):
        """The failure of the same check, status and type that `case` still produces, or None."""
        try:
            _, found, _ = self.send_case(conn, case)
        except Exception:
            return None
        for f in found:
            if (f.check, f.status, f.type_name) == (failure.check, failure.status, failure.type_name):
                return f
        return None

    def minimise(self, failure, budget=40):
        """A smaller request that fails the same way (members dropped, long strings shortened),
        as the failure it produced; None when the failure does not reproduce or cannot shrink."""
        case = failure.case
        if (failure.check not in MINIMISABLE or case is None or case.raw is not None
                or case.body is not None or "render" in case.__dict__
                or not isinstance(case.obj, dict)):
            return None
        conn = wire.Conn(*self.addr, timeout=30)
        tries, last = [0], [None]

        def attempt(obj):
            if tries[0] >= budget:
                return False
            tries[0] += 1
            found = self.reproduces(conn, dataclasses.replace(case, obj=obj), failure)
            if found is not None:
                last[0] = found
            return found is not None

        try:
            if not attempt(case.obj):
                return None
            shrink_sizes(shrink_members(case.obj, attempt), attempt)
            return last[0]  # the failure of the smallest request that still failed
        finally:
            conn.close()


def shrink_members(obj, attempt):
    """Drops members (depth first) for as long as the failure stays."""
    def paths(v, prefix=()):
        if isinstance(v, dict):
            for k in list(v):
                yield prefix + (k,)
                yield from paths(v[k], prefix + (k,))
    changed = True
    while changed:
        changed = False
        for path in list(paths(obj)):
            candidate = copy.deepcopy(obj)
            parent = candidate
            try:
                for p in path[:-1]:
                    parent = parent[p]
                del parent[path[-1]]
            except (KeyError, TypeError):
                continue
            if attempt(candidate):
                obj, changed = candidate, True
                break
    return obj


def shrink_sizes(obj, attempt):
    """Halves long strings and lists while the failure stays (a 70,000-character value may need
    only 9,000 to fail the same way; 5,000 items perhaps 300)."""
    def long_paths(v, prefix=()):
        if isinstance(v, dict):
            for k, x in v.items():
                yield from long_paths(x, prefix + (k,))
        elif isinstance(v, list):
            if len(v) > 4:
                yield prefix
            for i, x in enumerate(v[:4]):
                yield from long_paths(x, prefix + (i,))
        elif isinstance(v, str) and len(v) > 64:
            yield prefix
    for path in list(long_paths(obj)):
        while True:
            candidate = copy.deepcopy(obj)
            parent = candidate
            for p in path[:-1]:
                parent = parent[p]
            value = parent[path[-1]]
            if len(value) <= (4 if isinstance(value, list) else 64):
                break
            parent[path[-1]] = value[: len(value) // 2]
            if not attempt(candidate):
                break
            obj = candidate
    return obj


def supported_operations():
    """Operations docs/compatibility.md marks Supported (they get more of the requests)."""
    path = os.path.join(model_mod.REPO, "docs", "compatibility.md")
    out = set()
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                cells = [c.strip() for c in line.split("|")]
                if len(cells) > 3 and cells[3] == "Supported":
                    out.add(cells[1])
    except OSError:
        pass
    return out


# ---- the report -----------------------------------------------------------------------------------


def response_text(resp):
    if resp is None:
        return "(no response)"
    heads = "; ".join(f"{n}: {cases.shorten(v, 160)}" for n, v in resp.headers
                      if n.lower() not in ("date", "x-amzn-requestid", "access-control-allow-origin",
                                           "access-control-expose-headers"))
    return (f"{resp.status} {resp.reason} | {heads}\n      body: "
            f"{cases.shorten_bytes(resp.body, 400)}")


def build_report(run, backend, seed, elapsed, end_failures, minimised):
    lines = []
    total = sum(run.status.values()) or 1
    lines.append(f"== Gatehouse fuzz on {backend}: seed {seed}, {run.sent} requests in "
                 f"{elapsed:.0f}s ({run.sent / max(elapsed, 1e-6):.0f}/s) ==")
    lines.append("answers: " + ", ".join(f"{k}xx {v} ({100 * v / total:.1f}%)"
                                          for k, v in sorted((k // 100, v) for k, v in run.status.items())))
    lines.append(f"operations answered 200 at least once: {len(run.ok_ops)} of {len(run.m.operations)}")
    never = sorted(run.factory.supported - set(run.ok_ops))
    if never:
        lines.append(f"implemented operations that never answered 200 (coverage, not a failure): "
                     f"{', '.join(never)}")
    by_class = collections.defaultdict(list)
    for key, f in run.examples.items():
        by_class[f.class_key].append(key)
    for f in end_failures:
        by_class[f.class_key].append(f.key)
        run.counts[f.key] += 1
        run.examples.setdefault(f.key, f)
    if not by_class:
        lines.append("no failures")
    else:
        n = sum(run.counts.values())
        lines.append(f"FAILURES: {len(by_class)} kinds, {n} failing requests or checks")
    for ci, (ckey, keys) in enumerate(sorted(by_class.items(), key=lambda kv: str(kv[0])), 1):
        check, kind, status, type_name = ckey
        count = sum(run.counts[k] for k in keys)
        ops = sorted({k[1] for k in keys if k[1]})
        lines.append("")
        what = f"mutation '{kind}'" if kind else "mutations"
        lines.append(f"[{ci}] {check}: {status or ''} {type_name or ''} after {what}, {count}x"
                     + (f" across {len(ops)} operations {', '.join(ops[:12])}"
                        f"{' ...' if len(ops) > 12 else ''}" if ops else ""))
        first = run.examples[keys[0]]
        lines.append(f"    detail: {first.detail}")
        shown = minimised.get(ckey) or first
        case = shown.case
        if case is not None:
            label = "minimised reproduction" if shown is not first else "reproduction"
            details = "; ".join(case.details)
            lines.append(f"    {label} (request #{case.index}, FUZZ_SEED={seed}, op {case.op}, "
                         f"mutation {case.kind}{': ' + details if details else ''}):")
            lines.append("      " + case.describe().replace("\n", "\n      "))
            lines.append("    response: " + response_text(shown.response))
        by_kind = collections.Counter()
        for k in keys:
            by_kind[k[2]] += run.counts[k]
        if len(by_kind) > 1:
            lines.append("    seen after: " + ", ".join(f"{k} x{n}" for k, n in by_kind.most_common(20))
                         + (" ..." if len(by_kind) > 20 else ""))
    if os.environ.get("FUZZ_VERBOSE"):
        lines.append("")
        lines.append("unmutated requests that failed, by operation:")
        for (op, t, msg), n in sorted(run.valid_errors.items()):
            lines.append(f"  {op}: {t} x{n}: {msg}")
    if run.notes:
        lines.append("")
        lines.append("notes (not failures): errors the operation's model does not list: "
                     + ", ".join(f"{op}:{t} x{n}" for (op, t), n in run.notes.most_common(20)))
    return "\n".join(lines)


# ---- main -----------------------------------------------------------------------------------------


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.environ.get("GATEHOUSE_BIN", "target/debug/gatehouse"))
    p.add_argument("--backend", default="sqlite", help="label (sqlite or postgres)")
    p.add_argument("--database-url", default=None)
    p.add_argument("--endpoint", default=None, help="host:port of a running server (no start)")
    p.add_argument("--requests", type=int, default=int(os.environ.get("FUZZ_REQUESTS", "20000")))
    p.add_argument("--threads", type=int, default=int(os.environ.get("FUZZ_THREADS", "6")))
    p.add_argument("--seed", default=os.environ.get("FUZZ_SEED") or str(random.randrange(10**9)))
    p.add_argument("--report", default=os.environ.get("FUZZ_REPORT"))
    p.add_argument("--keep-data", action="store_true", help="keep the server's data directory")
    return p.parse_args()


def main():
    args = parse_args()
    # Deeply nested mutations are built and encoded recursively.
    sys.setrecursionlimit(20000)
    threading.stack_size(64 * 1024 * 1024)
    backend = args.backend
    model = model_mod.load()
    server = None
    if args.endpoint:
        host, port = args.endpoint.rsplit(":", 1)
        port = int(port)
    else:
        binary = args.bin if os.path.isabs(args.bin) else os.path.join(model_mod.REPO, args.bin)
        if not os.path.exists(binary):
            raise SystemExit(f"no server binary at {binary} (set GATEHOUSE_BIN)")
        server = Server(binary, args.database_url, backend)
        host, port = "127.0.0.1", server.port
    try:
        if server is not None:
            server.wait_healthy()
        log(backend, f"seed {args.seed}: {args.requests} requests, {args.threads} threads, "
                     f"server 127.0.0.1:{port}")
        code = fuzz(args, model, backend, host, port, server)
    finally:
        if server is not None:
            server.stop(keep_dir=args.keep_data)
    sys.exit(code)


def fuzz(args, model, backend, host, port, server):
    api = world_mod.Api("127.0.0.1", port)
    t0 = time.time()
    outbox = os.path.join(server.dir, "outbox.jsonl") if server is not None else None
    world = world_mod.seed(api, random.Random(f"{args.seed}:seed"), outbox)
    log(backend, f"seeded in {time.time() - t0:.1f}s: {len(world.pools)} pools, "
                 f"{sum(len(p.users) for p in world.pools)} users, {len(world.tokens)} tokens, "
                 f"{len(world.challenges)} challenge sessions")
    run = Run(args, model, world, f"127.0.0.1:{port}", port)
    t1 = time.time()
    run.run(backend, api)
    elapsed = time.time() - t1

    end = end_checks(api, world, server, port)
    minimised = {}
    firsts = {}
    for key, f in run.examples.items():
        firsts.setdefault(f.class_key, f)
    for ckey, f in firsts.items():
        m = run.minimise(f)
        if m is not None:
            minimised[ckey] = m
    report = build_report(run, backend, args.seed, elapsed, end, minimised)
    if (run.examples or end) and server is not None:
        # The server logs a failure's cause (a storage error, say) at ERROR: show them.
        errors = server.error_lines()
        if errors:
            report += "\nserver ERROR lines:\n  " + "\n  ".join(errors)
    print(report, flush=True)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as fh:
            fh.write(report + "\n")
    return 1 if (run.examples or end) else 0


def end_checks(api, world, server, port):
    """The server is up, nothing panicked, and every sentinel user is intact."""
    out = []
    if server is not None and server.proc.poll() is not None:
        out.append(checks.Failure("server-died", None, detail=f"exit status {server.proc.returncode}; "
                                                              f"log tail:\n{server.log_tail()}"))
        return out
    if not health(port):
        out.append(checks.Failure("server-unhealthy", None, detail="GET /health did not answer 200"))
    if server is not None:
        for line in server.panics():
            out.append(checks.Failure("panic", None, detail=line[:400]))
    try:
        problems = world_mod.check_sentinels(api, world)
    except (world_mod.ApiError, wire.Dropped, OSError) as e:
        problems = [f"the sentinel check itself failed: {e}"]
    for p in problems:
        out.append(checks.Failure("lost-user", None, detail=p))
    return out


if __name__ == "__main__":
    main()

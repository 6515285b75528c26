#!/usr/bin/env python3
"""Resilience test: Postgres restarted and frozen under load.

Starts a private PostgreSQL cluster (never the machine's), a `gatehouse serve` on it, and keeps
mixed API load and a /ready prober running while Postgres is

  1. restarted at once (`pg_ctl stop -m fast`, then `pg_ctl start`: down for a fraction of a
     second, as an operator's restart is),
  2. stopped for DOWN_PAUSE_S and started again,
  3. frozen (SIGSTOP of the postmaster and every backend, so queries hang), then thawed.

The steady load is deliberately light (a few requests a second) and the bursts heavy (more
concurrent callers than any pool holds). Fast steady traffic would use up every dead pooled
connection while Postgres is still down or within the recovery window, where errors are allowed,
and hide the bug this test is for: after a restart, connections opened before it failed requests
seconds later, when traffic picked up. The bursts after each outage take every pooled connection.

It passes when
  (1) no acknowledged write is lost (every acknowledged AdminCreateUser exists afterwards, with the
      attribute value of its last acknowledged update or of an unacknowledged one);
  (2) requests fail only inside an outage window: from the moment Postgres is stopped (or frozen)
      until RECOVERY_S after it accepts connections again (or is thawed). A request that overlaps a
      window may fail; an error the *server* answered must also have been answered inside it;
  (3) something succeeds within RECOVERY_S after each outage (recovery);
  (4) every /ready probe answers within READY_BOUND_S (+ margin), 503 while Postgres is down or
      frozen and 200 while it is up (a little slack at the edges);
  (5) the server is still alive at the end.

Run it through scripts/resilience/pg_restart.sh, which also cleans up if this process is killed.
Standard library and boto3 only.
"""

import argparse
import base64
import collections
import glob
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.exceptions as bex
from botocore.config import Config

ACCESS_KEY = "AKIDRESILIENCE000001"
SECRET_KEY = "resilience-secret-0123456789abcdef"
REGION = "us-east-1"

# The server's promises (from the issue) and the slack the test allows itself.
RECOVERY_S = 2.0          # errors must stop this long after Postgres accepts connections again
READY_BOUND_S = 1.0       # /ready must answer within this, even while the database hangs
READY_MARGIN_S = 0.5      # scheduling noise on a loaded 2-core machine
EDGE_S = 0.5              # /ready may still report the previous state this long after a change

# Client side: short timeouts and no SDK retries, so every failure the server causes is seen.
# (3 s rather than less leaves room for a debug build answering a burst on two cores.)
CLIENT_CONNECT_TIMEOUT_S = 1.0
CLIENT_READ_TIMEOUT_S = 3.0
READY_PROBE_TIMEOUT_S = 3.0
READY_PROBE_INTERVAL_S = 0.1

# The schedule, in seconds.
WARMUP_S = 5.0
AFTER_RESTART_S = 10.0    # load after the quick restart: dead pooled connections failed for seconds
DOWN_PAUSE_S = 2.0        # the second outage: Postgres stays stopped this long
AFTER_OUTAGE_S = 6.0
FREEZE_S = 3.0
AFTER_THAW_S = 6.0
BURSTS_AFTER = (RECOVERY_S + 0.3, 5.0, 8.0)  # after each outage; none inside its window

# Steady load: 8 threads, each pausing STEADY_PACE_S between calls (see the module docstring).
STEADY_PACE_S = 1.0
# Bursts: callers at once, a quarter each writing, reading, listing (BURST_OPS calls each) and
# signing in (BURST_SIGN_INS each, as its own user: argon2 is dear, and parallel attempts on one
# user count against its lockout). More than any pool holds, so every pooled connection is taken.
BURST_THREADS = 32
BURST_OPS = 5
BURST_SIGN_INS = 2
SIGNERS = 1 + BURST_THREADS // 4

T0 = time.monotonic()


def now():
    """Seconds since the test started (monotonic)."""
    return time.monotonic() - T0


def log(msg):
    print(f"[{now():6.2f}s] {msg}", flush=True)


# --------------------------------------------------------------------------------------------
# The private Postgres cluster


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin_dir():
    if os.environ.get("PG_BIN"):
        return os.environ["PG_BIN"]
    dirs = glob.glob("/usr/lib/postgresql/*/bin")
    if not dirs:
        sys.exit("pg_restart: no PostgreSQL binaries under /usr/lib/postgresql/*/bin (set PG_BIN)")
    return max(dirs, key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)


def pg_accepting(port, timeout=0.5):
    """True once Postgres completes a startup handshake on 127.0.0.1:port (what pg_isready
    checks): a socket that merely connects is not enough, since a starting or frozen postmaster
    still has a listen backlog."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return False
    with s:
        try:
            body = b"user\0postgres\0database\0postgres\0\0"
            s.sendall(struct.pack("!ii", 8 + len(body), 196608) + body)
            tag = s.recv(1)
            if tag == b"R":  # authentication ok (trust); say goodbye politely
                s.sendall(b"X\0\0\0\4")
            return tag == b"R"
        except OSError:
            return False


class Cluster:
    """A throw-away cluster in work/pgdata, run as the postgres user when we are root
    (initdb and postgres refuse to run as root)."""

    def __init__(self, work, bindir):
        self.work = work
        self.bindir = bindir
        self.data = os.path.join(work, "pgdata")
        self.sock = os.path.join(work, "pgsock")
        self.logfile = os.path.join(work, "postgres.log")
        self.port = free_port()
        if self.port == 5432:  # paranoia: never the machine's cluster
            self.port = free_port()

    def _run(self, *args, check=True, timeout=60):
        cmd = [os.path.join(self.bindir, args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({res.returncode}):\n{res.stdout}")
        return res

    def init(self):
        os.makedirs(self.sock, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.work, "postgres")
            shutil.chown(self.sock, "postgres")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-instructions")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"""
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.sock}'
fsync = off
full_page_writes = off
max_connections = 200
""")

    def start(self, wait=True):
        self._run("pg_ctl", "-D", self.data, "-l", self.logfile, "-w" if wait else "-W", "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop", check=False)

    def wait_accepting(self, deadline_s=30.0):
        """Polls the startup handshake every 10 ms; returns the first moment it succeeded."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if pg_accepting(self.port, timeout=0.2):
                return now()
            time.sleep(0.01)
        raise RuntimeError(f"postgres did not accept connections within {deadline_s}s")

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def pids(self):
        """The postmaster and its children (every backend and auxiliary process)."""
        pm = self.postmaster_pid()
        if pm is None:
            return []
        kids = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pm:
                    kids.append(int(stat.split("/")[2]))
            except (OSError, IndexError, ValueError):
                continue
        return [pm, *kids]

    def freeze(self):
        """SIGSTOP the postmaster first (so it forks nothing new), then every child; twice, in
        case a child was being forked while we looked."""
        for _ in range(2):
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGSTOP)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def thaw(self):
        for pid in reversed(self.pids()):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def client_connections(self):
        """Client backends connected now (psql over the private socket), or None."""
        psql = os.path.join(self.bindir, "psql")
        try:
            res = subprocess.run(
                [psql, "-h", self.sock, "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                 "-Atc", "SELECT count(*) FROM pg_stat_activity "
                         "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=5)
            return int(res.stdout.strip())
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return None

    def destroy(self):
        self.thaw()  # a frozen cluster would ignore pg_ctl stop
        if self.postmaster_pid() is not None:
            self.stop(mode="immediate")


# --------------------------------------------------------------------------------------------
# The server


class Server:
    def __init__(self, work, binary, pg_port, db_connections, user_cache):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logfile = os.path.join(work, "server.log")
        self.pidfile = os.path.join(work, "server.pid")
        data_dir = os.path.join(work, "data")
        os.makedirs(data_dir, exist_ok=True)
        self.cmd = [
            binary, "serve",
            "--listen", f"127.0.0.1:{self.port}",
            "--data-dir", data_dir,
            "--database-url", f"postgres://postgres@127.0.0.1:{pg_port}/postgres",
            "--access-keys", f"{ACCESS_KEY}:{SECRET_KEY}",
            "--log-level", "warn",
            "--rate-limits", "off",
            # The bursts must be able to take every pooled connection: keep this below them.
            "--database-max-connections", str(db_connections),
            # Off by default so that reads reach Postgres instead of the per-node user cache.
            "--user-cache-capacity", str(user_cache),
        ]
        self.proc = None

    def start(self):
        # Nothing from the caller's environment may redirect the server to another database.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GATEHOUSE_") and k not in ("DATABASE_URL", "RUST_LOG")}
        env["GATEHOUSE_KEY_ENCRYPTION_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
        out = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=out, env=env,
                                     stdin=subprocess.DEVNULL)
        with open(self.pidfile, "w") as f:
            f.write(str(self.proc.pid))
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}) at start:\n"
                                   + self.log_tail())
            if http_get(self.url + "/health", 1.0)[0] == 200:
                return
            time.sleep(0.1)
        raise RuntimeError("the server did not answer /health within 60 s:\n" + self.log_tail())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.unlink(self.pidfile)
        except OSError:
            pass

    def log_tail(self, lines=25):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


def http_get(url, timeout):
    """(status or None, error text or None) of a GET on a fresh connection: no keep-alive, so a
    slow probe never queues behind another."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, None
    except socket.timeout:
        return None, "timeout"
    except OSError as e:
        return None, type(e).__name__
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Records of what happened


Rec = collections.namedtuple("Rec", "op t0 t1 ok err status msg")


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.recs = []

    def add(self, rec):
        with self.lock:
            self.recs.append(rec)

    def all(self):
        with self.lock:
            return list(self.recs)


def classify(e):
    """(error type, HTTP status if the server answered, message) of a failed SDK call."""
    if isinstance(e, bex.ClientError):
        meta = e.response.get("ResponseMetadata", {})
        err = e.response.get("Error", {})
        status = meta.get("HTTPStatusCode")
        return f"{status} {err.get('Code', '?')}", status, (err.get("Message") or "")[:160]
    if isinstance(e, bex.ReadTimeoutError):
        return "client read timeout", None, ""
    if isinstance(e, bex.ConnectTimeoutError):
        return "client connect timeout", None, ""
    if isinstance(e, (bex.EndpointConnectionError, bex.ConnectionClosedError)):
        return "connection error", None, str(e)[:160]
    return type(e).__name__, None, str(e)[:160]


def timed(recorder, op, fn):
    """Runs one call and records it; returns (ok, result or None, its Rec)."""
    t0 = now()
    try:
        res = fn()
    except Exception as e:  # every failure is data here
        err, status, msg = classify(e)
        rec = Rec(op, t0, now(), False, err, status, msg)
        recorder.add(rec)
        return False, None, rec
    rec = Rec(op, t0, now(), True, None, 200, "")
    recorder.add(rec)
    return True, res, rec


# --------------------------------------------------------------------------------------------
# What the load wrote, so that it can be checked afterwards


class UserState:
    def __init__(self, nickname):
        self.lock = threading.Lock()   # one update in flight per user: acknowledgements are ordered
        self.acked = nickname          # value of the last acknowledged write
        self.ambiguous = set()         # values of writes that failed: they may have committed


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.users = {}                # username -> UserState, only acknowledged creates
        self.names = []                # the same names, for random choice
        self.unacked_creates = 0
        self.read_your_writes = []     # Recs of reads that did not find an acknowledged user
        self.seq = 0

    def next_value(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def created(self, username, nickname):
        with self.lock:
            self.users[username] = UserState(nickname)
            self.names.append(username)

    def random_user(self, rng):
        with self.lock:
            if not self.names:
                return None, None
            name = rng.choice(self.names)
            return name, self.users[name]


# --------------------------------------------------------------------------------------------
# Load


class Load:
    def __init__(self, client, pool_id, client_id, signers, recorder, ledger, run_id):
        self.c = client
        self.pool_id = pool_id
        self.client_id = client_id
        self.signers = signers         # (username, password): users with permanent passwords
        self.rec = recorder
        self.ledger = ledger
        self.run_id = run_id
        self.stop = threading.Event()
        self.threads = []
        self.burst_lock = threading.Lock()

    # The operations -----------------------------------------------------------------------

    def create_user(self, tag):
        n = self.ledger.next_value()
        username = f"{tag}-{self.run_id}-{n}"
        nickname = f"v{n}"
        ok, _, _ = timed(self.rec, "AdminCreateUser", lambda: self.c.admin_create_user(
            UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "nickname", "Value": nickname}]))
        if ok:
            self.ledger.created(username, nickname)
        else:
            with self.ledger.lock:
                self.ledger.unacked_creates += 1

    def update_user(self, rng):
        # Skip a user another thread is updating: with one write in flight per user, the last
        # acknowledged value is the one that must survive (unless an unacknowledged one landed).
        for _ in range(5):
            username, state = self.ledger.random_user(rng)
            if state is None:
                return
            if state.lock.acquire(blocking=False):
                break
        else:
            return
        try:
            value = f"v{self.ledger.next_value()}"
            ok, _, _ = timed(self.rec, "AdminUpdateUserAttributes",
                             lambda: self.c.admin_update_user_attributes(
                                 UserPoolId=self.pool_id, Username=username,
                                 UserAttributes=[{"Name": "nickname", "Value": value}]))
            if ok:
                state.acked = value
            else:
                state.ambiguous.add(value)
        finally:
            state.lock.release()

    def get_user(self, rng):
        username, _ = self.ledger.random_user(rng)
        if username is None:
            return
        ok, _, rec = timed(self.rec, "AdminGetUser", lambda: self.c.admin_get_user(
            UserPoolId=self.pool_id, Username=username))
        if not ok and "UserNotFound" in rec.err:
            # An acknowledged create that a later read cannot find: a lost write.
            with self.ledger.lock:
                self.ledger.read_your_writes.append((username, rec))

    def list_users(self, rng):
        timed(self.rec, "ListUsers", lambda: self.c.list_users(
            UserPoolId=self.pool_id, Limit=rng.choice([5, 20, 60])))

    def sign_in(self, rng, state, signer=0, password=False):
        # Sign-ins use the pool of challenge sessions and failure counters as well.
        username, secret = self.signers[signer]
        if not password and state.get("refresh") and rng.random() < 0.5:
            timed(self.rec, "AdminInitiateAuth(refresh)", lambda: self.c.admin_initiate_auth(
                UserPoolId=self.pool_id, ClientId=self.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": state["refresh"]}))
            return
        ok, res, _ = timed(self.rec, "AdminInitiateAuth(password)",
                           lambda: self.c.admin_initiate_auth(
                               UserPoolId=self.pool_id, ClientId=self.client_id,
                               AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": username, "PASSWORD": secret}))
        if ok:
            state["refresh"] = res["AuthenticationResult"]["RefreshToken"]

    # The steady load ----------------------------------------------------------------------

    def _loop(self, tid, role, pace_s):
        rng = random.Random(tid)
        state = {}
        # Spread the threads over the pace, so the trickle is even.
        self.stop.wait(pace_s * tid / 8)
        while not self.stop.is_set():
            if role == "writer":
                if rng.random() < 0.5 or not self.ledger.names:
                    self.create_user(f"w{tid}")
                else:
                    self.update_user(rng)
            elif role == "reader":
                if rng.random() < 0.6:
                    self.get_user(rng)
                else:
                    self.list_users(rng)
            else:
                self.sign_in(rng, state)
            self.stop.wait(pace_s)

    def start(self):
        roles = ["writer"] * 3 + ["reader"] * 4 + ["signer"]
        for tid, role in enumerate(roles):
            t = threading.Thread(target=self._loop, args=(tid, role, STEADY_PACE_S), daemon=True,
                                 name=f"load-{role}-{tid}")
            t.start()
            self.threads.append(t)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(CLIENT_READ_TIMEOUT_S * 3)

    # Bursts -------------------------------------------------------------------------------

    def burst(self):
        """BURST_THREADS callers at once (see BURST_THREADS): before a restart the pools open
        every connection they may; after it, every connection opened before it is used."""
        if not self.burst_lock.acquire(blocking=False):
            return  # the previous burst is still hanging (frozen database): do not pile up
        try:
            start = threading.Barrier(BURST_THREADS)

            def one(i):
                rng = random.Random()
                role, signer = i % 4, 1 + i // 4
                start.wait()
                if role == 3:
                    for _ in range(BURST_SIGN_INS):
                        self.sign_in(rng, {}, signer=signer, password=True)
                    return
                for n in range(BURST_OPS):
                    if role == 0 and n % 2:  # writers: updates, and every other call a create
                        self.create_user(f"b{i}")
                    elif role == 0:
                        self.update_user(rng)
                    elif role == 1:
                        self.get_user(rng)
                    else:
                        self.list_users(rng)

            ts = [threading.Thread(target=one, args=(i,), daemon=True)
                  for i in range(BURST_THREADS)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        finally:
            self.burst_lock.release()

    def burst_async(self):
        threading.Thread(target=self.burst, daemon=True, name="burst").start()


# --------------------------------------------------------------------------------------------
# /ready prober


Probe = collections.namedtuple("Probe", "t0 t1 status err")


class ReadyProber:
    """GET /ready every READY_PROBE_INTERVAL_S, each on its own connection and thread, so a
    probe that hangs does not delay the next ones."""

    def __init__(self, url):
        self.url = url + "/ready"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.probes = []
        self.pool = ThreadPoolExecutor(max_workers=int(READY_PROBE_TIMEOUT_S /
                                                       READY_PROBE_INTERVAL_S) + 8)
        self.thread = threading.Thread(target=self._schedule, daemon=True, name="ready-prober")

    def _probe(self):
        t0 = now()
        status, err = http_get(self.url, READY_PROBE_TIMEOUT_S)
        with self.lock:
            self.probes.append(Probe(t0, now(), status, err))

    def _schedule(self):
        next_at = time.monotonic()
        while not self.stop.is_set():
            self.pool.submit(self._probe)
            next_at += READY_PROBE_INTERVAL_S
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self):
        self.thread.start()

    def finish(self):
        self.stop.set()
        self.thread.join()
        self.pool.shutdown(wait=True)
        with self.lock:
            return sorted(self.probes)


# --------------------------------------------------------------------------------------------
# Set-up through the API


def make_client(url, retries, read_timeout):
    cfg = Config(retries={"total_max_attempts": retries, "mode": "standard"},
                 connect_timeout=CLIENT_CONNECT_TIMEOUT_S, read_timeout=read_timeout,
                 max_pool_connections=BURST_THREADS + 16)
    return boto3.session.Session().client(
        "cognito-idp", endpoint_url=url, region_name=REGION, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, config=cfg)


def seed(admin, run_id):
    pool_id = admin.create_user_pool(PoolName=f"resilience-{run_id}")["UserPool"]["Id"]
    client_id = admin.create_user_pool_client(
        UserPoolId=pool_id, ClientName="resilience",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    signers = [(f"signer{i}-{run_id}", "Resilience-Passw0rd!") for i in range(SIGNERS)]
    for name, password in signers:
        admin.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS")
        admin.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=password,
                                      Permanent=True)
    return pool_id, client_id, signers


# --------------------------------------------------------------------------------------------
# The outages


Outage = collections.namedtuple("Outage", "name down stopped up")
Outage.__doc__ = """down: stop (or SIGSTOP) issued; stopped: Postgres no longer answering;
up: accepting connections again (or thawed). Seconds since start."""


def restart(cluster, name, pause_s):
    down = now()
    cluster.stop("fast")
    stopped = now()
    time.sleep(pause_s)
    cluster.start(wait=False)
    up = cluster.wait_accepting()
    log(f"{name}: stop took {stopped - down:.2f}s, accepting again {up - stopped:.2f}s later")
    return Outage(name, down, stopped, up)


def freeze(cluster, name, for_s):
    down = now()
    cluster.freeze()
    log(f"{name}: SIGSTOP of {len(cluster.pids())} postgres processes")
    time.sleep(for_s)
    up = now()
    cluster.thaw()
    log(f"{name}: thawed")
    return Outage(name, down, down, up)


# --------------------------------------------------------------------------------------------
# Checks


def windows(outages):
    """Failures are allowed inside these: from the moment Postgres is stopped or frozen until
    RECOVERY_S after it accepts connections again or is thawed."""
    return [(o.down, o.up + RECOVERY_S) for o in outages]


def failure_allowed(r, outages):
    for start, end in windows(outages):
        overlaps = r.t1 >= start and r.t0 <= end
        # A client-side timeout of a request sent inside the window may end after it; an error
        # the server answered must have been answered inside it.
        if overlaps and (r.status is None or r.t1 <= end):
            return True
    return False


def last_outage_before(t, outages):
    before = [o for o in outages if o.down <= t]
    return before[-1] if before else None


def fmt_rec(r, outages):
    o = last_outage_before(r.t0, outages)
    where = f"{o.name} t_up{r.t0 - o.up:+.2f}s" if o else "before any outage"
    return (f"{r.op} started {where} (t={r.t0:.2f}s), took {r.t1 - r.t0:.3f}s -> "
            f"{r.err}{': ' + r.msg if r.msg else ''}")


def check_errors(recs, outages):
    """(2): failures outside the outage windows."""
    bad = [r for r in recs if not r.ok and not failure_allowed(r, outages)]
    if not bad:
        return []
    spans = ", ".join(f"{o.name} [{a:.2f}, {b:.2f}]" for o, (a, b) in zip(outages, windows(outages)))
    lines = [f"(2) {len(bad)} request(s) failed outside the outage windows ({spans}):"]
    lines += [f"      {fmt_rec(r, outages)}" for r in bad[:25]]
    if len(bad) > 25:
        lines.append(f"      ... and {len(bad) - 25} more")
    return lines


def check_recovery(recs, outages):
    """(3): a request sent after Postgres came back succeeded within RECOVERY_S."""
    return [f"(3) {o.name}: no request sent after Postgres came back (t={o.up:.2f}s) succeeded "
            f"within {RECOVERY_S:.0f}s"
            for o in outages
            if not any(r.ok and r.t0 >= o.up and r.t1 <= o.up + RECOVERY_S for r in recs)]


def ready_spans(outages):
    """(spans where /ready must say 503, spans where it must say 200), with EDGE_S of slack
    after Postgres goes away and before the test sees it back (the test's own probe of Postgres
    polls, so Postgres may accept the server's connections a moment before `up`), and RECOVERY_S
    after it comes back."""
    down = [(o.stopped + EDGE_S, o.up - EDGE_S) for o in outages]
    ups, start = [], 0.0
    for o in outages:
        ups.append((start, o.down))
        start = o.up + RECOVERY_S
    ups.append((start, float("inf")))
    return down, ups


def check_ready(probes, outages):
    """(4): every probe within the bound; 503 while down or frozen, 200 while up."""
    limit = READY_BOUND_S + READY_MARGIN_S
    down, up = ready_spans(outages)
    inside = lambda p, spans: any(p.t0 >= a and p.t1 <= b for a, b in spans)
    slow = [p for p in probes if p.status is None or p.t1 - p.t0 > limit]
    said_ready = [p for p in probes if p.status == 200 and inside(p, down)]
    said_not = [p for p in probes if p.status not in (200, None) and inside(p, up)]

    def show(ps):
        return ", ".join(f"t={p.t0:.2f}s {p.status or p.err} in {p.t1 - p.t0:.2f}s"
                         for p in ps[:10]) + (" ..." if len(ps) > 10 else "")

    problems = []
    if slow:
        worst = max(p.t1 - p.t0 for p in slow)
        problems.append(f"(4) {len(slow)} /ready probe(s) took over {limit:.1f}s or got no "
                        f"answer (worst {worst:.2f}s): {show(slow)}")
    if said_ready:
        problems.append(f"(4) {len(said_ready)} /ready probe(s) answered 200 while Postgres was "
                        f"down or frozen: {show(said_ready)}")
    if said_not:
        problems.append(f"(4) {len(said_not)} /ready probe(s) did not answer 200 while Postgres "
                        f"was up: {show(said_not)}")
    if not any(p.t0 >= a and p.t0 < b for p in probes for a, b in down):
        problems.append("(4) no /ready probe was sent during an outage: the test proved nothing")
    return problems


def verify_writes(url, pool_id, ledger):
    """(1): every acknowledged create exists, with the last acknowledged nickname (or one of an
    unacknowledged update, which may have committed). Retries are allowed here."""
    c = make_client(url, retries=5, read_timeout=15)
    found = {}
    kwargs = {"UserPoolId": pool_id, "Limit": 60}
    while True:
        page = c.list_users(**kwargs)
        for u in page["Users"]:
            found[u["Username"]] = {a["Name"]: a["Value"] for a in u.get("Attributes", [])}
        if not page.get("PaginationToken"):
            break
        kwargs["PaginationToken"] = page["PaginationToken"]
    problems = []
    for name, state in ledger.users.items():
        attrs = found.get(name)
        if attrs is None:  # not listed: ask for it directly before calling it lost
            try:
                u = c.admin_get_user(UserPoolId=pool_id, Username=name)
                attrs = {a["Name"]: a["Value"] for a in u.get("UserAttributes", [])}
            except c.exceptions.UserNotFoundException:
                problems.append(f"acknowledged AdminCreateUser {name} is gone")
                continue
        allowed = {state.acked} | state.ambiguous
        if attrs.get("nickname") not in allowed:
            problems.append(f"{name}: nickname {attrs.get('nickname')!r}, expected the last "
                            f"acknowledged {state.acked!r} (or one of {sorted(state.ambiguous)})")
    for name, r in ledger.read_your_writes:
        problems.append(f"AdminGetUser at t={r.t0:.2f}s did not find acknowledged user {name}")
    if not problems:
        return []
    return ([f"(1) {len(problems)} acknowledged write(s) lost:"]
            + [f"      {p}" for p in problems[:25]])


# --------------------------------------------------------------------------------------------
# Summary


def phases(outages):
    out, start = [], 0.0
    label = "warm-up"
    for o in outages:
        out.append((label, start, o.down))
        out.append((f"{o.name}: outage", o.down, o.up))
        out.append((f"{o.name}: recovery 2s", o.up, o.up + RECOVERY_S))
        label, start = f"{o.name}: after", o.up + RECOVERY_S
    out.append((label, start, float("inf")))
    return out


def summarize(recs, probes, outages, end):
    print("timeline (s since start): " + "; ".join(
        f"{o.name} down {o.down:.2f}, up {o.up:.2f} ({o.up - o.down:.2f}s)" for o in outages)
        + f"; load stopped {end:.2f}")
    print(f"{'phase (by request start)':<28}{'window':>15}{'ok':>6}{'errors':>7}"
          f"{'/ready 200/503/none':>21}{'max /ready':>11}")
    for name, a, b in phases(outages):
        rs = [r for r in recs if a <= r.t0 < b]
        ps = [p for p in probes if a <= p.t0 < b]
        oks = sum(r.ok for r in rs)
        codes = collections.Counter(p.status for p in ps)
        worst = max((p.t1 - p.t0 for p in ps), default=0.0)
        window = f"[{a:.1f}, {b:.1f})" if b != float("inf") else f"[{a:.1f}, end)"
        ready = f"{codes[200]}/{codes[503]}/{codes[None]}"
        print(f"{name:<28}{window:>15}{oks:>6}{len(rs) - oks:>7}{ready:>21}{worst:>10.2f}s")
    errs = collections.Counter((r.op, r.err) for r in recs if not r.ok)
    if errs:
        print("errors by operation and type:")
        for (op, err), n in errs.most_common():
            print(f"  {n:>5}  {op}: {err}")
    for msg, n in collections.Counter(r.msg for r in recs if not r.ok and r.msg).most_common(5):
        print(f"  message x{n}: {msg}")
    for o in outages:
        late = [r for r in recs if not r.ok and r.status is not None and r.t1 > o.up
                and last_outage_before(r.t0, outages) == o]
        if late:
            print(f"{o.name}: {len(late)} server-answered error(s) after Postgres was back, the "
                  f"last answered t_up+{max(r.t1 for r in late) - o.up:.2f}s")


# --------------------------------------------------------------------------------------------


def sleep_until(t):
    time.sleep(max(0.0, t - now()))


def load_for(load, since, seconds):
    """Keeps the steady load going until since + seconds, with bursts at BURSTS_AFTER."""
    for at in BURSTS_AFTER:
        if at < seconds:
            sleep_until(since + at)
            load.burst_async()
    sleep_until(since + seconds)


def run(args, work):
    cluster = Cluster(work, pg_bin_dir())
    server = None
    prober = None
    try:
        cluster.init()
        cluster.start()
        log(f"private postgres on 127.0.0.1:{cluster.port} ({cluster.data})")
        server = Server(work, args.binary, cluster.port, args.db_connections, args.user_cache)
        server.start()
        log(f"server on {server.url} (pid {server.proc.pid})")
        run_id = secrets.token_hex(3)
        pool_id, client_id, signers = seed(make_client(server.url, 3, 10), run_id)

        recorder, ledger = Recorder(), Ledger()
        load = Load(make_client(server.url, 1, CLIENT_READ_TIMEOUT_S), pool_id, client_id,
                    signers, recorder, ledger, run_id)
        prober = ReadyProber(server.url)
        start = now()
        prober.start()
        load.start()

        # Warm-up, with bursts so that every pool opens all it may before the restart.
        for _ in range(3):
            time.sleep(0.5)
            load.burst()
        sleep_until(max(start + WARMUP_S, now() + 1.0))
        conns = [cluster.client_connections()]

        outages = [restart(cluster, "quick restart", 0.0)]
        load_for(load, outages[-1].up, AFTER_RESTART_S)
        conns.append(cluster.client_connections())
        outages.append(restart(cluster, f"{DOWN_PAUSE_S:.0f}s outage", DOWN_PAUSE_S))
        load_for(load, outages[-1].up, AFTER_OUTAGE_S)
        conns.append(cluster.client_connections())
        outages.append(freeze(cluster, "freeze", FREEZE_S))
        load_for(load, outages[-1].up, AFTER_THAW_S)

        end = now()
        load.finish()
        probes = prober.finish()
        prober = None
        recs = sorted(recorder.all(), key=lambda r: r.t0)
        log(f"load stopped: {len(recs)} requests, {len(probes)} /ready probes")

        problems = verify_writes(server.url, pool_id, ledger)
        problems += check_errors(recs, outages)
        problems += check_recovery(recs, outages)
        problems += check_ready(probes, outages)
        if not server.alive():
            problems.append(f"(5) the server exited ({server.proc.returncode})")
        elif http_get(server.url + "/health", 2.0)[0] != 200:
            problems.append("(5) the server no longer answers /health")

        print()
        summarize(recs, probes, outages, end)
        print(f"acknowledged creates: {len(ledger.users)} (unacknowledged: "
              f"{ledger.unacked_creates}); postgres client connections before each outage: "
              + ", ".join(str(c) for c in conns))
        print(f"/ready: {len(probes)} probes, max latency "
              f"{max(p.t1 - p.t0 for p in probes):.2f}s (bound {READY_BOUND_S:.1f}s + "
              f"{READY_MARGIN_S:.1f}s margin); run took {now():.1f}s")
        if args.server_log:
            shutil.copyfile(server.logfile, args.server_log)
        if args.records:
            with open(args.records, "w") as f:
                json.dump({"outages": [o._asdict() for o in outages],
                           "requests": [r._asdict() for r in recs],
                           "ready": [p._asdict() for p in probes]}, f)
        print()
        if problems:
            print("pg_restart: FAIL")
            for p in problems:
                print("  " + p)
            return 1
        print("pg_restart: PASS")
        return 0
    finally:
        if prober is not None:
            prober.stop.set()
        cluster.thaw()
        if server is not None:
            server.stop()
        cluster.destroy()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default=os.environ.get("GATEHOUSE_BIN", "target/debug/gatehouse"))
    p.add_argument("--work", help="scratch directory (default: a new temporary one, removed)")
    p.add_argument("--db-connections", type=int,
                   default=int(os.environ.get("PG_RESTART_DB_CONNECTIONS", "16")))
    p.add_argument("--user-cache", type=int,
                   default=int(os.environ.get("PG_RESTART_USER_CACHE", "0")))
    p.add_argument("--records", default=os.environ.get("PG_RESTART_RECORDS"),
                   help="write every request and probe to this JSON file")
    p.add_argument("--server-log", default=os.environ.get("PG_RESTART_SERVER_LOG"),
                   help="copy the server's log here")
    args = p.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"pg_restart: no server binary at {args.binary} (set GATEHOUSE_BIN)")
    args.binary = os.path.abspath(args.binary)

    # SIGTERM/SIGINT unwind through the finally blocks, which stop Postgres and the server.
    def interrupted(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    own = args.work is None
    work = args.work or tempfile.mkdtemp(prefix="gatehouse-pg-restart.")
    try:
        return run(args, work)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

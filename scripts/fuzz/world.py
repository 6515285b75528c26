"""The resources the fuzzer's requests refer to, how they are seeded, what is learned from answers
along the way, and the final check that nothing that must survive was lost.

Three kinds of pools:
* the sentinel pool: only read-only operations ever name it; at the end its users must be exactly
  the seeded ones, with the seeded attributes, and each must still sign in;
* work pools (MFA OPTIONAL with custom attributes; email as username with a secret client): every
  operation but DeleteUserPool may name them. Their `keep-*` users are named by read-only
  operations only and must survive unchanged; their `scr-*` users are fair game;
* scratch pools (seeded and created by the fuzz run): anything goes, DeleteUserPool included.
Sentinel and scratch names share no prefix, so no mutation of a scratch name can hit a sentinel.
"""

import base64
import hashlib
import hmac
import json
import random
import struct
import os
import re
import threading
import time
from dataclasses import dataclass, field

import wire

PASSWORD = "Fuzz-Passw0rd!"
TEMP_PASSWORD = "Temp-Passw0rd!"
TARGET_PREFIX = "AWSCognitoIdentityProviderService."
ALL_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH",
             "ALLOW_ADMIN_USER_PASSWORD_AUTH"]
MAX_SCRATCH = 40  # bound on learned resources of each kind, so picks stay cheap and varied


@dataclass
class Client:
    id: str
    pool_id: str
    secret: str | None = None
    seeded: bool = True  # seeded clients are never updated or deleted by the fuzzer


@dataclass
class User:
    username: str  # the name requests use (an email in the email-username pool)
    pool_id: str
    password: str | None = PASSWORD
    keep: bool = False  # a sentinel: only read-only operations name it
    totp_secret: bytes | None = None
    sub: str | None = None


@dataclass
class Token:
    access: str
    refresh: str | None
    id_token: str | None
    pool_id: str
    client_id: str
    keep: bool  # a sentinel user's token: read-only operations only
    username: str | None = None
    device_key: str | None = None  # from NewDeviceMetadata, when the pool remembers devices


@dataclass
class Challenge:
    name: str
    session: str
    username: str
    pool_id: str
    client_id: str
    params: dict


@dataclass
class Pool:
    id: str
    kind: str  # "sentinel" | "work" | "scratch"
    email_usernames: bool = False
    clients: list = field(default_factory=list)
    users: list = field(default_factory=list)
    groups: list = field(default_factory=list)  # (name, seeded)
    providers: list = field(default_factory=list)  # (name, seeded)
    resource_servers: list = field(default_factory=list)
    custom_attributes: list = field(default_factory=list)

    @property
    def arn(self):
        region = self.id.split("_", 1)[0]
        return f"arn:aws:cognito-idp:{region}:000000000000:userpool/{self.id}"


class ApiError(Exception):
    pass


class Api:
    """Well-formed calls for seeding and checking, on a connection of their own."""

    def __init__(self, host, port):
        self.host = f"{host}:{port}"
        self.conn = wire.Conn(host, port)
        self.lock = threading.Lock()

    def call(self, op, params, signed=True, ok=True):
        body = json.dumps(params).encode()
        headers = {"Content-Type": wire.CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + op}
        if signed:
            headers.update(wire.sign(self.host, headers, body))
        data = wire.build_request(self.host, list(headers.items()), body)
        with self.lock:
            (resp,), _ = wire.send(self.conn, data)
        try:
            out = json.loads(resp.body or b"{}")
        except ValueError:
            out = {"__raw": resp.body[:300].decode("latin-1")}
        if ok and resp.status != 200:
            raise ApiError(f"{op} answered {resp.status}: {json.dumps(out)[:400]}")
        return resp.status, out


def secret_hash(client, username):
    if not client.secret:
        return None
    mac = hmac.new(client.secret.encode(), (username + client.id).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def totp(secret, at=None):
    """RFC 6238 code (SHA-1, 30 s, 6 digits), as authenticator apps compute it."""
    counter = int((at or time.time()) // 30)
    mac = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def email_of(username):
    """The address the fuzzer gives a user it creates (usernames are emails in email pools)."""
    return username if "@" in username else username + "@example.com"


class Outbox:
    """The latest one-time code sent to each address, read from the server's developer outbox
    (data dir/outbox.jsonl), so confirmation requests can carry a right code now and then."""

    CODE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.codes = {}
        self.lock = threading.Lock()
        self.read_at = 0.0

    def code_for(self, address):
        with self.lock:
            if time.monotonic() - self.read_at > 0.5:
                self._read_new()
            return self.codes.get(address.lower())

    def _read_new(self):
        self.read_at = time.monotonic()
        if not self.path or not os.path.exists(self.path):
            return
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            text = json.dumps(msg)
            dest = str(msg.get("destination", "")).lower()
            codes = [c for c in self.CODE.findall(text) if c not in dest]
            if dest and codes:
                self.codes[dest] = codes[-1]


def b32decode(s):
    return base64.b32decode(s + "=" * (-len(s) % 8))


def _protected(item):
    if isinstance(item, tuple):  # (name, seeded)
        return item[1]
    if isinstance(item, Pool):
        return item.kind != "scratch"
    return getattr(item, "seeded", False) or getattr(item, "keep", False)


class World:
    def __init__(self):
        self.pools = []
        self.tokens = []
        self.challenges = []
        self.lock = threading.Lock()
        self.snapshot = {}  # (pool_id, username) -> attributes of sentinels after seeding
        self.sentinel = None
        self.outbox = Outbox(None)

    # ---- picking -------------------------------------------------------------------------

    def pools_of(self, *kinds):
        return [p for p in self.pools if p.kind in kinds]

    def pool(self, pool_id):
        for p in self.pools:
            if p.id == pool_id:
                return p
        return None

    def client(self, client_id):
        for p in self.pools:
            for c in p.clients:
                if c.id == client_id:
                    return c
        return None

    def tokens_for(self, pool_id, keep_ok):
        return [t for t in self.tokens if t.pool_id == pool_id and (keep_ok or not t.keep)]

    # ---- learning from answers -------------------------------------------------------------

    def _bounded_add(self, items, item):
        """Appends a learned item, forgetting a random older learned one past MAX_SCRATCH.
        Seeded and sentinel items are never forgotten."""
        with self.lock:
            items.append(item)
            learned = [i for i, x in enumerate(items[:-1]) if not _protected(x)]
            if len(items) > MAX_SCRATCH and learned:
                items.pop(random.choice(learned))

    def add_pool(self, pool_id):
        if self.pool(pool_id) is None:
            self._bounded_add(self.pools, Pool(pool_id, "scratch"))

    def add_client(self, pool_id, client_id, secret):
        p = self.pool(pool_id)
        if p is not None:
            self._bounded_add(p.clients, Client(client_id, pool_id, secret, seeded=False))

    def add_user(self, pool_id, username, password):
        p = self.pool(pool_id)
        if p is not None and username.startswith("scr"):
            self._bounded_add(p.users, User(username, pool_id, password))

    def add_group(self, pool_id, name):
        p = self.pool(pool_id)
        if p is not None:
            self._bounded_add(p.groups, (name, False))

    def add_provider(self, pool_id, name):
        p = self.pool(pool_id)
        if p is not None:
            self._bounded_add(p.providers, (name, False))

    def add_token(self, token):
        self._bounded_add(self.tokens, token)

    def add_challenge(self, ch):
        self._bounded_add(self.challenges, ch)

    def forget(self, items, item):
        """Drops a learned token or challenge that the server no longer takes."""
        with self.lock:
            if item in items and not _protected(item):
                items.remove(item)

    def forget_pool(self, pool_id):
        with self.lock:
            self.pools = [p for p in self.pools if p.id != pool_id or p.kind != "scratch"]


# ---- seeding ----------------------------------------------------------------------------------


def create_pool(api, name, extra=None):
    params = {"PoolName": name}
    params.update(extra or {})
    return api.call("CreateUserPool", params)[1]["UserPool"]["Id"]


def create_client(api, pool_id, name, secret):
    out = api.call("CreateUserPoolClient", {
        "UserPoolId": pool_id, "ClientName": name, "GenerateSecret": secret,
        "ExplicitAuthFlows": ALL_FLOWS,
    })[1]["UserPoolClient"]
    return Client(out["ClientId"], pool_id, out.get("ClientSecret"))


def create_user(api, pool, username, attrs, permanent=True, keep=False):
    api.call("AdminCreateUser", {
        "UserPoolId": pool.id, "Username": username, "MessageAction": "SUPPRESS",
        "TemporaryPassword": TEMP_PASSWORD,
        "UserAttributes": [{"Name": k, "Value": v} for k, v in attrs.items()],
    })
    if permanent:
        api.call("AdminSetUserPassword", {"UserPoolId": pool.id, "Username": username,
                                          "Password": PASSWORD, "Permanent": True})
    user = User(username, pool.id, PASSWORD if permanent else TEMP_PASSWORD, keep=keep)
    pool.users.append(user)
    return user


def sign_in(api, client, user, password=None):
    params = {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client.id,
              "AuthParameters": {"USERNAME": user.username, "PASSWORD": password or user.password}}
    h = secret_hash(client, user.username)
    if h:
        params["AuthParameters"]["SECRET_HASH"] = h
    return api.call("InitiateAuth", params, signed=False, ok=False)


def token_of(out, pool_id, client_id, keep, username=None):
    r = out.get("AuthenticationResult") or {}
    if "AccessToken" not in r:
        return None
    device = (r.get("NewDeviceMetadata") or {}).get("DeviceKey")
    return Token(r["AccessToken"], r.get("RefreshToken"), r.get("IdToken"), pool_id, client_id,
                 keep, username, device)


def seed(api, rng, outbox_path=None):
    """Creates the pools, clients, groups, users and tokens the fuzzer refers to."""
    w = World()
    w.outbox = Outbox(outbox_path)
    schema = [{"Name": "tier", "AttributeDataType": "String", "Mutable": True,
               "StringAttributeConstraints": {"MinLength": "0", "MaxLength": "64"}},
              {"Name": "level", "AttributeDataType": "Number", "Mutable": True,
               "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "1000"}}]

    # The sentinel pool: read-only operations only.
    sent = Pool(create_pool(api, "fuzz-sentinel", {"Schema": schema[:1]}), "sentinel",
                custom_attributes=["custom:tier"])
    sent.clients.append(create_client(api, sent.id, "sentinel-app", False))
    for i in range(8):
        create_user(api, sent, f"keep-{i:02d}", {
            "email": f"keep-{i:02d}@example.com", "email_verified": "true",
            "name": f"Keep {i}", "custom:tier": "gold"}, keep=True)
    w.pools.append(sent)
    w.sentinel = sent

    # Work pool 1: MFA OPTIONAL (TOTP), custom attributes, clients with and without a secret.
    # Devices are remembered, so sign-ins hand out device keys for the device operations.
    main = Pool(create_pool(api, "fuzz-main", {
        "Schema": schema, "AutoVerifiedAttributes": ["email"],
        "DeviceConfiguration": {"ChallengeRequiredOnNewDevice": False,
                                "DeviceOnlyRememberedOnUserPrompt": False}}),
                "work", custom_attributes=["custom:tier", "custom:level"])
    api.call("SetUserPoolMfaConfig", {"UserPoolId": main.id, "MfaConfiguration": "OPTIONAL",
                                      "SoftwareTokenMfaConfiguration": {"Enabled": True}})
    main.clients.append(create_client(api, main.id, "public-app", False))
    main.clients.append(create_client(api, main.id, "server-app", True))
    w.pools.append(main)

    # Work pool 2: email addresses as usernames, a client with a secret.
    plain = Pool(create_pool(api, "fuzz-email", {"UsernameAttributes": ["email"],
                                                 "AutoVerifiedAttributes": ["email"]}),
                 "work", email_usernames=True)
    plain.clients.append(create_client(api, plain.id, "secret-app", True))
    plain.clients.append(create_client(api, plain.id, "public-app", False))
    w.pools.append(plain)

    for p in (main, plain):
        for g in ("admins", "readers", "writers"):
            api.call("CreateGroup", {"UserPoolId": p.id, "GroupName": g, "Precedence": 1})
            p.groups.append((g, True))
        name = "FuzzOIDC"
        st, _ = api.call("CreateIdentityProvider", {
            "UserPoolId": p.id, "ProviderName": name, "ProviderType": "OIDC",
            "ProviderDetails": {"client_id": "c", "client_secret": "s",
                                "authorize_scopes": "openid email",
                                "oidc_issuer": "https://issuer.example.com",
                                "attributes_request_method": "GET"},
            "AttributeMapping": {"email": "email"}, "IdpIdentifiers": ["fuzz-idp"]}, ok=False)
        if st == 200:
            p.providers.append((name, True))
        st, _ = api.call("CreateResourceServer", {
            "UserPoolId": p.id, "Identifier": "https://api.fuzz.example", "Name": "api",
            "Scopes": [{"ScopeName": "read", "ScopeDescription": "read"}]}, ok=False)
        if st == 200:
            p.resource_servers.append("https://api.fuzz.example")

    for i in range(6):
        create_user(api, main, f"keep-m{i:02d}", {"email": f"keep-m{i:02d}@example.com",
                                                   "custom:tier": "silver"}, keep=True)
        create_user(api, main, f"scr-m{i:02d}", {"email": f"scr-m{i:02d}@example.com",
                                                 "email_verified": "true",
                                                 "phone_number": f"+1555000{i:04d}"})
    for i in range(3):
        create_user(api, plain, f"keep-e{i:02d}@example.com", {"name": f"E {i}"}, keep=True)
        create_user(api, plain, f"scr-e{i:02d}@example.com", {"name": f"S {i}"})
    # Users that still have to choose a password: their sign-ins answer NEW_PASSWORD_REQUIRED.
    for i in range(3):
        create_user(api, main, f"scr-new{i:02d}", {"email": f"scr-new{i:02d}@example.com"},
                    permanent=False)
    api.call("AdminAddUserToGroup", {"UserPoolId": main.id, "Username": "scr-m00",
                                     "GroupName": "admins"})

    scratch = [Pool(create_pool(api, f"fuzz-scratch-{i}"), "scratch") for i in range(3)]
    for p in scratch:
        p.clients.append(create_client(api, p.id, "scratch-app", rng.random() < 0.5))
        p.clients[-1].seeded = False
        create_user(api, p, "scr-x00", {"email": "scr-x00@example.com"})
    w.pools.extend(scratch)

    seed_tokens(api, w, main, plain, sent)
    take_snapshot(api, w)
    return w


def seed_tokens(api, w, main, plain, sent):
    """Tokens and challenge sessions from real sign-ins, so token-taking operations go deep."""
    for pool in (main, plain):
        for client in pool.clients:
            for user in [u for u in pool.users if u.password == PASSWORD][:4]:
                st, out = sign_in(api, client, user)
                t = token_of(out, pool.id, client.id, user.keep, user.username)
                if t:
                    w.tokens.append(t)
    st, out = sign_in(api, sent.clients[0], sent.users[0])
    t = token_of(out, sent.id, sent.clients[0].id, True)
    if t is None:
        raise ApiError(f"the sentinel user cannot sign in: {out}")
    w.tokens.append(t)
    for user in [u for u in main.users if u.password == TEMP_PASSWORD]:
        st, out = sign_in(api, main.clients[0], user)
        if "Session" in out:
            w.challenges.append(Challenge(out.get("ChallengeName", ""), out["Session"],
                                          user.username, main.id, main.clients[0].id,
                                          out.get("ChallengeParameters") or {}))
    setup_totp(api, w, main)


def setup_totp(api, w, main):
    """One scratch user with TOTP MFA, so sign-ins reach SOFTWARE_TOKEN_MFA and correct codes."""
    user = next(u for u in main.users if u.username == "scr-m05")
    client = main.clients[0]
    st, out = sign_in(api, client, user)
    tok = token_of(out, main.id, client.id, False)
    if tok is None:
        return
    st, out = api.call("AssociateSoftwareToken", {"AccessToken": tok.access}, signed=False, ok=False)
    if st != 200:
        return
    secret = b32decode(out["SecretCode"])
    st, _ = api.call("VerifySoftwareToken", {"AccessToken": tok.access, "UserCode": totp(secret)},
                     signed=False, ok=False)
    if st == 200:
        api.call("AdminSetUserMFAPreference", {
            "UserPoolId": main.id, "Username": user.username,
            "SoftwareTokenMfaSettings": {"Enabled": True, "PreferredMfa": True}}, ok=False)
        user.totp_secret = secret


def take_snapshot(api, w):
    for pool in w.pools:
        for user in pool.users:
            if user.keep:
                out = api.call("AdminGetUser", {"UserPoolId": pool.id, "Username": user.username})[1]
                user.sub = out["Username"]
                w.snapshot[(pool.id, user.username)] = attribute_view(out)


def attribute_view(user_out):
    """What must not change about a sentinel: attributes, status, enabled flag."""
    attrs = user_out.get("UserAttributes") or user_out.get("Attributes") or []
    return {
        "attributes": {a["Name"]: a.get("Value") for a in attrs},
        "status": user_out.get("UserStatus"),
        "enabled": user_out.get("Enabled"),
    }


# ---- the survival check -------------------------------------------------------------------------


def list_all_users(api, pool_id):
    users, token = {}, None
    for _ in range(100):
        params = {"UserPoolId": pool_id, "Limit": 60}
        if token:
            params["PaginationToken"] = token
        out = api.call("ListUsers", params)[1]
        for u in out.get("Users", []):
            users[u["Username"]] = attribute_view(u)
        token = out.get("PaginationToken")
        if not token:
            break
    return users


def check_sentinels(api, w, sign_in_all=True):
    """Problems with the sentinel users, as strings; empty when every one is intact."""
    problems = []
    for pool in w.pools_of("sentinel", "work"):
        try:
            listed = list_all_users(api, pool.id)
        except ApiError as e:
            problems.append(f"{pool.kind} pool {pool.id}: {e}")
            continue
        keep = [u for u in pool.users if u.keep]
        if pool.kind == "sentinel":
            expected = {u.sub for u in keep}
            if set(listed) != expected:
                problems.append(f"ListUsers of the sentinel pool {pool.id}: missing "
                                f"{sorted(expected - set(listed))}, unexpected "
                                f"{sorted(set(listed) - expected)[:10]}")
        for u in keep:
            want = w.snapshot[(pool.id, u.username)]
            if u.sub not in listed:
                problems.append(f"{pool.id}/{u.username}: missing from ListUsers")
            elif listed[u.sub] != want:
                problems.append(f"{pool.id}/{u.username}: ListUsers shows {listed[u.sub]}, "
                                f"seeded {want}")
            st, out = api.call("AdminGetUser", {"UserPoolId": pool.id, "Username": u.username},
                               ok=False)
            if st != 200:
                problems.append(f"{pool.id}/{u.username}: AdminGetUser answered {st} {out}")
            elif attribute_view(out) != want:
                problems.append(f"{pool.id}/{u.username}: AdminGetUser shows "
                                f"{attribute_view(out)}, seeded {want}")
    sent = w.sentinel
    users = sent.users if sign_in_all else sent.users[:1]
    for u in users:
        st, out = sign_in(api, sent.clients[0], u)
        if st != 200 or "AuthenticationResult" not in out:
            problems.append(f"sentinel {u.username} cannot sign in: {st} {json.dumps(out)[:300]}")
    return problems


# ---- learning from successful answers -----------------------------------------------------------


def learn(w, op, req, target, out):
    """Remembers what a 2xx answer created (so later requests can name it) or destroyed."""
    if not isinstance(req, dict) or not isinstance(out, dict):
        return
    pool_id = req.get("UserPoolId") if isinstance(req.get("UserPoolId"), str) else None
    client = w.client(req["ClientId"]) if isinstance(req.get("ClientId"), str) else None
    if pool_id is None and client is not None:
        pool_id = client.pool_id
    if op == "CreateUserPool":
        w.add_pool(out["UserPool"]["Id"])
    elif op == "CreateUserPoolClient":
        c = out["UserPoolClient"]
        w.add_client(c["UserPoolId"], c["ClientId"], c.get("ClientSecret"))
    elif op == "CreateGroup":
        w.add_group(pool_id, out["Group"]["GroupName"])
    elif op == "CreateIdentityProvider":
        w.add_provider(pool_id, out["IdentityProvider"]["ProviderName"])
    elif op == "AdminCreateUser":
        w.add_user(pool_id, req["Username"], req.get("TemporaryPassword"))
    elif op == "SignUp":
        w.add_user(pool_id, req["Username"], req.get("Password"))
    elif op == "DeleteUserPool":
        w.forget_pool(pool_id)

    username = None
    params = req.get("AuthParameters") or req.get("ChallengeResponses") or {}
    if isinstance(params, dict):
        username = params.get("USERNAME")
    client_id = client.id if client else (target.client.id if target and target.client else None)
    if pool_id and client_id:
        tok = token_of(out, pool_id, client_id, False, username)
        if tok:
            w.add_token(tok)
        if isinstance(out.get("Session"), str) and out.get("ChallengeName"):
            w.add_challenge(Challenge(out["ChallengeName"], out["Session"], username or "",
                                      pool_id, client_id, out.get("ChallengeParameters") or {}))

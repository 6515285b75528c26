"""Valid inputs from the model's shapes, filled with references to real resources.

A request that names a real pool, its client, one of its users and a live token gets past
validation and lookups into the code that does the work; random names would stop at
ResourceNotFoundException. What may be named depends on the operation (see world.py): read-only
operations may name sentinels, the rest only work and scratch resources, and the destructive ones
only scratch resources.
"""

import base64
import string
import time
import uuid
from dataclasses import dataclass

import regexgen
import world as W

READ_PREFIXES = ("Describe", "Get", "List", "AdminGet", "AdminList")
# Named like readers but change state (or would use up a sentinel's refresh token).
NOT_READ = {"GetUserAttributeVerificationCode", "GetTokensFromRefreshToken", "GetClientToken",
            "GetDerivedToken"}
POOL_DESTROYERS = {"DeleteUserPool"}
CLIENT_MUTATORS = {"UpdateUserPoolClient", "DeleteUserPoolClient", "DeleteUserPoolClientSecret",
                   "AddUserPoolClientSecret"}
GROUP_DESTROYERS = {"DeleteGroup"}
PROVIDER_MUTATORS = {"DeleteIdentityProvider", "UpdateIdentityProvider"}
USER_CREATORS = {"SignUp", "AdminCreateUser"}
PLAIN = string.ascii_letters + string.digits
ATTRIBUTE_NAMES = ["email", "name", "given_name", "phone_number", "locale", "custom:tier",
                   "custom:level", "email_verified"]


# Optional members that mostly stop a request early when filled at random (a made-up
# pagination token is refused before anything is listed).
RARELY = {"PaginationToken", "NextToken", "AnalyticsMetadata", "UserContextData", "Session",
          "AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity", "TokenValidityUnits",
          "SmsMfaConfiguration", "EmailMfaConfiguration", "WebAuthnConfiguration",
          "ValidationData", "ClientMetadata", "LambdaConfig", "EmailConfiguration",
          "SmsConfiguration", "UserPoolAddOns", "AliasAttributes", "UsernameAttributes"}


TOKEN_MEMBERS = {"AccessToken", "RefreshToken", "Token"}


def is_read(op):
    return op.name.startswith(READ_PREFIXES) and op.name not in NOT_READ


@dataclass
class Target:
    """The coherent set of resources one request names."""
    pool: object = None
    client: object = None
    user: object = None
    token: object = None
    group: str = None
    provider: str = None
    resource_server: str = None
    challenge: object = None
    fresh_user: str = None  # a name no user has yet (for SignUp / AdminCreateUser)


def rand_str(rng, n, alphabet=PLAIN):
    return "".join(rng.choice(alphabet) for _ in range(n))


def fake_pool_id(rng):
    return "us-east-1_" + rand_str(rng, 9)


class Generator:
    def __init__(self, model, world, rng, op):
        self.m = model
        self.w = world
        self.rng = rng
        self.op = op
        self.read = is_read(op)
        self.t = self.pick_target()
        self.chosen_username = self.pick_username()

    # ---- choosing what to name ----------------------------------------------------------------

    def pick_target(self):
        rng, w, op = self.rng, self.w, self.op
        t = Target()
        if rng.random() < 0.04:
            return t  # nothing real: ResourceNotFoundException paths
        if op.name in POOL_DESTROYERS:
            kinds = [("scratch", 1.0)]
        elif self.read:
            kinds = [("sentinel", 0.25), ("work", 0.55), ("scratch", 0.20)]
        else:
            kinds = [("work", 0.75), ("scratch", 0.25)]
        kind = rng.choices([k for k, _ in kinds], [p for _, p in kinds])[0]
        # Never fall back to a pool of another kind: with every scratch pool gone, a delete
        # must name nothing real rather than a work pool.
        pools = w.pools_of(kind)
        members = {m for m, _, _ in self.m.members(op.input)} if op.input else set()
        if members & TOKEN_MEMBERS and "UserPoolId" not in members:
            # The token decides the pool: pick among pools that have a usable token.
            with_tokens = [p for p in pools if w.tokens_for(p.id, self.read)]
            pools = with_tokens or pools
        if not pools:
            return t
        t.pool = rng.choice(pools)
        clients = [c for c in t.pool.clients if op.name not in CLIENT_MUTATORS or not c.seeded]
        t.client = rng.choice(clients) if clients else None
        users = [u for u in t.pool.users if self.read or not u.keep]
        if op.name in ("InitiateAuth", "AdminInitiateAuth"):
            users = [u for u in users if u.password] or users
        t.user = rng.choice(users) if users else None
        if op.name in USER_CREATORS or rng.random() < 0.05:
            t.fresh_user = "scr-" + rand_str(rng, 8).lower()
            if t.pool.email_usernames:
                t.fresh_user += "@example.com"
        tokens = [x for x in w.tokens_for(t.pool.id, self.read)]
        t.token = rng.choice(tokens) if tokens else None
        if t.token is not None and members & TOKEN_MEMBERS and "ClientId" in members \
                and op.name not in CLIENT_MUTATORS:
            # A refresh token is only good with the client it was issued to.
            t.client = w.client(t.token.client_id) or t.client
        groups = [g for g, seeded in t.pool.groups if op.name not in GROUP_DESTROYERS or not seeded]
        t.group = rng.choice(groups) if groups else None
        providers = [p for p, seeded in t.pool.providers
                     if op.name not in PROVIDER_MUTATORS or not seeded]
        t.provider = rng.choice(providers) if providers else None
        t.resource_server = rng.choice(t.pool.resource_servers) if t.pool.resource_servers else None
        challenges = [c for c in w.challenges if c.pool_id == t.pool.id]
        if challenges:
            t.challenge = rng.choice(challenges)
            if "RespondToAuthChallenge" in op.name:
                t.client = w.client(t.challenge.client_id) or t.client
        return t

    def pick_username(self):
        t = self.t
        if t.fresh_user and (t.user is None or self.rng.random() < 0.7):
            return t.fresh_user
        if t.user:
            return t.user.username
        return "scr-nobody-" + rand_str(self.rng, 4)

    def username(self):
        return self.chosen_username

    def token(self, kind="access"):
        t = self.t
        if t.token:
            return {"access": t.token.access, "refresh": t.token.refresh}[kind] or t.token.access
        return "eyJ" + rand_str(self.rng, 40) + ".eyJ" + rand_str(self.rng, 60) + "." + rand_str(self.rng, 43)

    def password(self):
        u = self.t.user
        return (u.password if u and u.password else None) or W.PASSWORD

    def secret_hash(self, username):
        if self.t.client and self.t.client.secret:
            return W.secret_hash(self.t.client, username)
        return None

    # ---- references by member name -------------------------------------------------------------

    def reference(self, member, shape_name):
        """A real value for a member that names a resource, or None to generate one."""
        t, rng = self.t, self.rng
        pool_id = t.pool.id if t.pool else fake_pool_id(rng)
        refs = {
            "UserPoolId": lambda: pool_id,
            "ClientId": lambda: t.client.id if t.client else rand_str(rng, 26).lower(),
            "ClientSecret": lambda: t.client.secret if t.client and t.client.secret else None,
            "Username": self.username,
            "ProviderAttributeValue": self.username,
            "GroupName": lambda: t.group,
            "ProviderName": lambda: t.provider,
            "Identifier": lambda: t.resource_server,
            "AccessToken": lambda: self.token("access"),
            "RefreshToken": lambda: self.token("refresh"),
            "Token": lambda: self.token("refresh"),
            "Session": lambda: t.challenge.session if t.challenge else None,
            "Password": self.password,
            "ProposedPassword": lambda: W.PASSWORD,
            "PreviousPassword": self.password,
            "TemporaryPassword": lambda: W.TEMP_PASSWORD,
            "ConfirmationCode": self.code,
            "Code": self.code,
            "IdpIdentifier": lambda: "fuzz-idp",
            "AttributeName": lambda: rng.choice(["email", "email", "phone_number", "name"]),
            "UserCode": self.user_code,
            "ResourceArn": lambda: t.pool.arn if t.pool else None,
            "SecretHash": lambda: self.secret_hash(self.username()),
            "PoolName": lambda: "fuzz-" + rand_str(rng, 6),
            "ClientName": lambda: "fuzz-app-" + rand_str(rng, 4),
            "DeviceKey": self.device_key,
            "Filter": self.list_filter,
            "PaginationToken": self.pagination_token,
            "NextToken": self.pagination_token,
        }
        sh = self.m.shape(shape_name)
        if member not in refs or sh.get("type") != "string" or "enum" in sh:
            return None
        return refs[member]()

    def code(self):
        """The code the server last sent to the user, when the outbox has one; else a guess."""
        name = self.t.token.username if self.t.token and self.t.token.username else self.username()
        real = self.w.outbox.code_for(W.email_of(name)) if name else None
        if real and self.rng.random() < 0.7:
            return real
        return "%06d" % self.rng.randrange(10**6)

    def device_key(self):
        if self.t.token and self.t.token.device_key and self.rng.random() < 0.8:
            return self.t.token.device_key
        return f"us-east-1_{uuid.UUID(int=self.rng.getrandbits(128))}"

    def rehash(self, v):
        """Recomputes the secret hashes of `v` for the usernames it now carries."""
        if not isinstance(v, dict):
            return
        params = v.get("AuthParameters") or v.get("ChallengeResponses")
        if isinstance(params, dict) and isinstance(params.get("SECRET_HASH"), str) \
                and isinstance(params.get("USERNAME"), str):
            h = self.secret_hash(params["USERNAME"])
            if h:
                params["SECRET_HASH"] = h
        if isinstance(v.get("SecretHash"), str) and isinstance(v.get("Username"), str):
            h = self.secret_hash(v["Username"])
            if h:
                v["SecretHash"] = h

    def pagination_token(self):
        """Opaque to clients, but decoded by the server: base64 of arbitrary bytes (NUL
        included) or of JSON, as a tampering client would send."""
        raw = self.rng.choice([self.rng.randbytes(self.rng.randint(1, 24)),
                               b'{"k":"' + self.rng.randbytes(6) + b'"}', b"\x00" * 3])
        return base64.b64encode(raw).decode()

    def user_code(self):
        u = self.t.user
        if u and u.totp_secret:
            return W.totp(u.totp_secret)
        return "%06d" % self.rng.randrange(10**6)

    def list_filter(self):
        rng = self.rng
        name = self.t.user.username if self.t.user else "scr"
        return rng.choice([
            f'username = "{name}"', f'username ^= "{name[:3]}"', 'email ^= "scr"',
            'status = "Enabled"', 'cognito:user_status = "CONFIRMED"', 'name = "Keep 1"',
            "", f'sub = "{uuid.UUID(int=rng.getrandbits(128))}"', 'phone_number ^= "+1555"',
        ])

    # ---- generic generation from shapes ---------------------------------------------------------

    def build(self):
        if not self.op.input:
            return {}
        value = self.value(self.op.input, depth=0, stack=())
        fix = getattr(self, "fix_" + self.op.name, None)
        if fix:
            fix(value)
        # A client with a secret refuses calls without the hash (or the secret); with it they
        # go further.
        members = {m for m, _, _ in self.m.members(self.op.input)}
        if "SecretHash" in members and isinstance(value.get("Username"), str):
            h = self.secret_hash(value["Username"])
            if h:
                value["SecretHash"] = h
        if self.op.name in ("GetTokensFromRefreshToken", "RevokeToken") and self.t.client \
                and self.t.client.secret:
            value["ClientSecret"] = self.t.client.secret
        return value

    def value(self, shape_name, depth, stack, member=None):
        sh = self.m.shape(shape_name)
        kind = sh["type"]
        if member is not None:
            ref = self.reference(member, shape_name)
            if ref is not None:
                return ref
        if kind == "structure":
            return self.structure(shape_name, sh, depth, stack)
        if kind == "list":
            return self.list_value(shape_name, sh, depth, stack, member)
        if kind == "map":
            return self.map_value(sh, depth, stack)
        if kind == "string":
            return self.string(sh, member)
        if kind in ("integer", "long"):
            lo = int(sh.get("min", 0))
            hi = int(sh.get("max", lo + 100))
            return self.rng.randint(lo, min(hi, lo + 1000))
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "timestamp":
            return round(time.time(), 3)
        if kind == "blob":
            return base64.b64encode(self.rng.randbytes(16)).decode()
        if kind in ("double", "float"):
            return self.rng.random() * 100
        return {}

    def structure(self, shape_name, sh, depth, stack):
        if sh.get("document"):
            return {"k": "v"}
        out = {}
        recursive = stack.count(shape_name) > 0
        p_optional = 0 if (recursive or depth > 4) else [0.5, 0.35, 0.25][min(depth, 2)]
        for name, target, required in self.m.members(shape_name):
            if name in RARELY and not required and self.rng.random() < 0.85:
                continue
            if required or self.rng.random() < p_optional:
                out[name] = self.value(target, depth + 1, stack + (shape_name,), member=name)
        return out

    def list_value(self, shape_name, sh, depth, stack, member):
        item_shape = sh["member"]["shape"]
        if item_shape == "AttributeType":
            return self.attributes()
        if member in ("UserAttributeNames", "AttributesToGet", "ReadAttributes", "WriteAttributes"):
            return self.rng.sample(ATTRIBUTE_NAMES, self.rng.randint(1, 3))
        lo = int(sh.get("min", 0))
        hi = int(sh.get("max", lo + 3))
        n = self.rng.randint(lo, max(lo, min(hi, lo + 2)))
        item = self.m.shape(item_shape)
        if "enum" in item:  # enum lists: distinct values, as the service requires
            return self.rng.sample(item["enum"], min(n, len(item["enum"])))
        return [self.value(item_shape, depth + 1, stack + (shape_name,)) for _ in range(n)]

    def map_value(self, sh, depth, stack):
        out = {}
        for _ in range(self.rng.randint(0, 2)):
            key = self.value(sh["key"]["shape"], depth + 1, stack)
            out[str(key)] = self.value(sh["value"]["shape"], depth + 1, stack)
        return out

    def string(self, sh, member):
        rng = self.rng
        if "enum" in sh:
            return rng.choice(sh["enum"])
        lo, hi = sh.get("min", 0), sh.get("max")
        if "pattern" in sh:
            s = regexgen.sample(sh["pattern"], rng, lo, hi)
            if s is not None:
                return s
        hi = hi if hi is not None else lo + 16
        n = rng.randint(lo, max(lo, min(hi, lo + 12)))
        return rand_str(rng, n)

    def attributes(self):
        """UserAttributes as a real client sends them."""
        rng, pool = self.rng, self.t.pool
        fresh = self.t.fresh_user or "scr-someone"
        candidates = [
            {"Name": "email", "Value": (fresh if "@" in fresh else fresh + "@example.com")},
            {"Name": "name", "Value": "Fuzz " + rand_str(rng, 5)},
            {"Name": "given_name", "Value": rand_str(rng, 6)},
            {"Name": "phone_number", "Value": "+1555" + "%07d" % rng.randrange(10**7)},
            {"Name": "locale", "Value": rng.choice(["en", "de", "fr-FR"])},
        ]
        for attr in (pool.custom_attributes if pool else []):
            value = str(rng.randint(0, 1000)) if attr == "custom:level" else "gold"
            candidates.append({"Name": attr, "Value": value})
        return rng.sample(candidates, rng.randint(1, min(3, len(candidates))))

    # ---- per-operation touches that make a request get far ---------------------------------------

    def auth_parameters(self, flow):
        u = self.t.user.username if self.t.user else self.username()
        params = {}
        if flow in ("USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
            params = {"USERNAME": u, "PASSWORD": self.password()}
        elif flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            params = {"REFRESH_TOKEN": self.token("refresh")}
            if self.t.token and self.t.token.username:
                u = self.t.token.username  # the secret hash is over the token's user
        elif flow == "USER_SRP_AUTH":
            # Any A with A mod N != 0 is accepted for the first step.
            params = {"USERNAME": u, "SRP_A": self.rng.randbytes(384).hex()}
        elif flow in ("CUSTOM_AUTH", "USER_AUTH"):
            params = {"USERNAME": u}
            if flow == "USER_AUTH" and self.rng.random() < 0.5:
                params["PREFERRED_CHALLENGE"] = self.rng.choice(["PASSWORD", "EMAIL_OTP"])
                params["PASSWORD"] = self.password()
        h = self.secret_hash(u)
        if h:
            params["SECRET_HASH"] = h
        if self.rng.random() < 0.2:
            params["DEVICE_KEY"] = f"us-east-1_{uuid.UUID(int=self.rng.getrandbits(128))}"
        return params

    def refresh_client(self, v, flow):
        """Refreshing works only with the client the refresh token came from."""
        tok = self.t.token
        if "REFRESH" in flow and tok is not None:
            self.t.client = self.w.client(tok.client_id) or self.t.client
            if self.t.client:
                v["ClientId"] = self.t.client.id

    def fix_InitiateAuth(self, v):
        flows = ["USER_PASSWORD_AUTH", "USER_SRP_AUTH", "REFRESH_TOKEN_AUTH", "USER_AUTH",
                 "CUSTOM_AUTH", "REFRESH_TOKEN"]
        v["AuthFlow"] = self.rng.choices(flows, [35, 25, 20, 8, 6, 6])[0]
        self.refresh_client(v, v["AuthFlow"])
        v["AuthParameters"] = self.auth_parameters(v["AuthFlow"])
        v.pop("Session", None) if self.rng.random() < 0.8 else None

    def fix_AdminInitiateAuth(self, v):
        flows = ["ADMIN_USER_PASSWORD_AUTH", "USER_SRP_AUTH", "REFRESH_TOKEN_AUTH",
                 "ADMIN_NO_SRP_AUTH", "USER_PASSWORD_AUTH", "CUSTOM_AUTH"]
        v["AuthFlow"] = self.rng.choices(flows, [40, 20, 20, 8, 6, 6])[0]
        self.refresh_client(v, v["AuthFlow"])
        v["AuthParameters"] = self.auth_parameters(v["AuthFlow"])
        v.pop("Session", None) if self.rng.random() < 0.8 else None

    def challenge_responses(self, ch):
        rng = self.rng
        username = ch.params.get("USER_ID_FOR_SRP") or ch.username
        out = {"USERNAME": username}
        if ch.name == "NEW_PASSWORD_REQUIRED":
            out["NEW_PASSWORD"] = W.PASSWORD
        elif ch.name == "SOFTWARE_TOKEN_MFA":
            user = next((u for u in self.t.pool.users if u.username == ch.username), None)
            secret = user.totp_secret if user else None
            out["SOFTWARE_TOKEN_MFA_CODE"] = W.totp(secret) if secret else "%06d" % rng.randrange(10**6)
        elif ch.name in ("SMS_MFA", "EMAIL_OTP", "SMS_OTP"):
            out[ch.name + "_CODE"] = "%06d" % rng.randrange(10**6)
        elif ch.name == "PASSWORD_VERIFIER":
            out["PASSWORD_CLAIM_SECRET_BLOCK"] = ch.params.get("SECRET_BLOCK", "AAAA")
            out["PASSWORD_CLAIM_SIGNATURE"] = base64.b64encode(rng.randbytes(32)).decode()
            out["TIMESTAMP"] = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime())
        elif ch.name == "SELECT_MFA_TYPE":
            out["ANSWER"] = rng.choice(["SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "SMS_MFA"])
        elif ch.name == "MFA_SETUP":
            pass
        elif ch.name in ("DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER"):
            out["DEVICE_KEY"] = f"us-east-1_{uuid.UUID(int=rng.getrandbits(128))}"
            out["SRP_A"] = rng.randbytes(384).hex()
        h = self.secret_hash(username)
        if h:
            out["SECRET_HASH"] = h
        return out

    def fix_RespondToAuthChallenge(self, v):
        ch = self.t.challenge
        if ch is None:
            return
        v["ChallengeName"] = ch.name
        v["Session"] = ch.session
        v["ClientId"] = ch.client_id
        v["ChallengeResponses"] = self.challenge_responses(ch)

    def fix_AdminRespondToAuthChallenge(self, v):
        self.fix_RespondToAuthChallenge(v)

    def fix_SignUp(self, v):
        v["Password"] = W.PASSWORD
        v["Username"] = self.t.fresh_user or v.get("Username")
        # An address the outbox can be searched by, so ConfirmSignUp can find the code.
        attrs = [a for a in v.get("UserAttributes", []) if a.get("Name") != "email"]
        if not (self.t.pool and self.t.pool.email_usernames):
            attrs.append({"Name": "email", "Value": W.email_of(v["Username"])})
        v["UserAttributes"] = attrs
        h = self.secret_hash(v["Username"])
        if h:
            v["SecretHash"] = h

    def fix_AdminCreateUser(self, v):
        v["MessageAction"] = "SUPPRESS" if self.rng.random() < 0.8 else v.get("MessageAction", "SUPPRESS")
        if self.rng.random() < 0.5:
            v["TemporaryPassword"] = W.TEMP_PASSWORD

    def fix_AdminSetUserPassword(self, v):
        v["Password"] = W.PASSWORD

    def fix_ChangePassword(self, v):
        tok = self.t.token
        user = None
        if tok and tok.username and self.t.pool:
            user = next((u for u in self.t.pool.users if u.username == tok.username), None)
        v["PreviousPassword"] = user.password if user and user.password else W.PASSWORD
        v["ProposedPassword"] = W.PASSWORD

    def fix_AssociateSoftwareToken(self, v):
        # Either a token or a sign-in session, never both.
        if self.t.challenge and self.rng.random() < 0.3:
            v.pop("AccessToken", None)
            v["Session"] = self.t.challenge.session
        else:
            v.pop("Session", None)
            v["AccessToken"] = self.token("access")

    def fix_VerifySoftwareToken(self, v):
        self.fix_AssociateSoftwareToken(v)

    def fix_AdminLinkProviderForUser(self, v):
        v["DestinationUser"] = {"ProviderName": "Cognito", "ProviderAttributeValue": self.username()}
        v["SourceUser"] = {"ProviderName": self.t.provider or "FuzzOIDC",
                           "ProviderAttributeName": "Cognito_Subject",
                           "ProviderAttributeValue": rand_str(self.rng, 12)}

    def fix_AdminDisableProviderForUser(self, v):
        v["User"] = {"ProviderName": self.t.provider or "FuzzOIDC",
                     "ProviderAttributeName": "Cognito_Subject",
                     "ProviderAttributeValue": rand_str(self.rng, 12)}

    def fix_CreateIdentityProvider(self, v):
        rng = self.rng
        v["ProviderName"] = "Fz" + rand_str(rng, 8)
        kind = rng.choice(["OIDC", "Google", "Facebook"])
        v["ProviderType"] = kind
        details = {"client_id": "cid", "client_secret": "secret", "authorize_scopes": "openid email"}
        if kind == "OIDC":
            details.update({"oidc_issuer": "https://issuer.example.com",
                            "attributes_request_method": "GET"})
        v["ProviderDetails"] = details
        v.pop("IdpIdentifiers", None)

    def fix_UpdateIdentityProvider(self, v):
        v.pop("IdpIdentifiers", None)

    def fix_AddCustomAttributes(self, v):
        for attr in v.get("CustomAttributes", []):
            attr["Name"] = "f" + rand_str(self.rng, 6).lower()
            attr.pop("DeveloperOnlyAttribute", None)

    def fix_SetUserPoolMfaConfig(self, v):
        v["MfaConfiguration"] = self.rng.choice(["OFF", "OPTIONAL", "ON"])
        v["SoftwareTokenMfaConfiguration"] = {"Enabled": v["MfaConfiguration"] != "OFF"}
        for k in ("SmsMfaConfiguration", "EmailMfaConfiguration", "WebAuthnConfiguration"):
            v.pop(k, None)

    def fix_CreateUserPoolClient(self, v):
        for k in ("CallbackURLs", "LogoutURLs", "DefaultRedirectURI", "AllowedOAuthFlows",
                  "AllowedOAuthScopes", "SupportedIdentityProviders", "ReadAttributes",
                  "WriteAttributes"):
            if self.rng.random() < 0.7:
                v.pop(k, None)
        v["AllowedOAuthFlowsUserPoolClient"] = False

    def fix_UpdateUserPoolClient(self, v):
        self.fix_CreateUserPoolClient(v)

    def device_owner(self, v):
        """Device operations by an administrator name the user the device belongs to."""
        tok = self.t.token
        if tok and tok.device_key and tok.username and self.rng.random() < 0.7:
            v["Username"] = tok.username
            v["DeviceKey"] = tok.device_key

    fix_AdminGetDevice = fix_AdminForgetDevice = fix_AdminUpdateDeviceStatus = device_owner

    def fix_ConfirmDevice(self, v):
        v["DeviceSecretVerifierConfig"] = {
            "PasswordVerifier": base64.b64encode(self.rng.randbytes(256)).decode(),
            "Salt": base64.b64encode(self.rng.randbytes(16)).decode()}
        v["DeviceName"] = "fuzz-device-" + rand_str(self.rng, 4)

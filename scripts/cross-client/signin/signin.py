"""Sign-in as Python apps do it, with the unmodified PyPI clients:
 3. pycognito: SRP sign-in (Cognito.authenticate, which also verifies both tokens against the
    pool's JWKS and issuer <endpoint>/<poolId>), renew_access_token (refresh), get_user, logout
    (global sign-out), new_password_challenge, and SRP with a client secret (SECRET_HASH).
 4. boto3: USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, the errors of wrong passwords, unknown
    users and flows a client does not allow, get_user, REFRESH_TOKEN_AUTH, revoke_token,
    global_sign_out.

Usage (the fixture comes from setup.py, which creates the pool, clients and users; admin calls
are signed with the environment's AWS credentials, as for setup.py):
    GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 python3 signin.py /tmp/signin-fixture.json
Optional, only for trying the script against another server (e.g. moto):
    GATEHOUSE_ISSUER_BASE  base of the tokens' `iss` (default: GATEHOUSE_ENDPOINT); iss = <base>/<poolId>
    GATEHOUSE_JWKS_BASE    where <poolId>/.well-known/jwks.json is fetched (default: GATEHOUSE_ISSUER_BASE)
Exits non-zero if any check fails; the last line reads "signin.py: N passed, M failed".
"""

import base64
import json
import os
import sys
import traceback

import boto3
import requests
from botocore.exceptions import ClientError
from pycognito import Cognito
from pycognito.aws_srp import AWSSRP
from pycognito.exceptions import ForceChangePasswordException

ENDPOINT = (os.environ.get("GATEHOUSE_ENDPOINT") or "").rstrip("/")
if not ENDPOINT or len(sys.argv) != 2:
    sys.exit("usage: GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 python3 signin.py <fixture.json from setup.py>")
with open(sys.argv[1], encoding="utf-8") as f:
    FIXTURE = json.load(f)
POOL = FIXTURE["poolId"]
WEB = FIXTURE["clients"]["web"]["id"]
CONF = FIXTURE["clients"]["confidential"]["id"]
CONF_SECRET = FIXTURE["clients"]["confidential"]["secret"]
SRP_ONLY = FIXTURE["clients"]["srpOnly"]["id"]
USERS = FIXTURE["users"]
ISSUER_BASE = (os.environ.get("GATEHOUSE_ISSUER_BASE") or ENDPOINT).rstrip("/")
JWKS_BASE = (os.environ.get("GATEHOUSE_JWKS_BASE") or ISSUER_BASE).rstrip("/")
ISSUER = f"{ISSUER_BASE}/{POOL}"
ADMIN_SCOPE = "aws.cognito.signin.user.admin"

# The user-facing operations are unsigned (botocore knows which); the admin ones are signed with
# the environment's credentials.
idp = boto3.client("cognito-idp", endpoint_url=ENDPOINT, region_name="us-east-1")

# ---- check bookkeeping ----------------------------------------------------------------------

passed = 0
failed = 0


class CheckFailure(Exception):
    pass


def short(value):
    text = json.dumps(value)
    return text if len(text) <= 140 else text[:60] + "..." + text[-20:]


def ok(condition, what, detail=None):
    global passed
    if not condition:
        raise CheckFailure(what if detail is None else f"{what} ({detail})")
    passed += 1
    print(f"  ok   {what}", flush=True)


def eq(actual, expected, what):
    ok(actual == expected, f"{what} = {short(expected)}", f"got {short(actual)}")


def scenario(fn):
    """Runs one scenario at once; its first failed check ends it (later steps depend on earlier ones)."""
    global failed
    name = fn.__doc__.strip()
    print(f"# {name}", flush=True)
    try:
        fn()
    except CheckFailure as e:
        failed += 1
        print(f"  FAIL {name}: {e}", flush=True)
    except Exception as e:  # noqa: BLE001 - any other error fails the scenario, with its trace
        failed += 1
        print(f"  FAIL {name}: {type(e).__name__}: {e}", flush=True)
        traceback.print_exc(limit=4, file=sys.stdout)
    return fn


def fails_with(call, code, message, what):
    """`call` must fail with exactly this Cognito error code and message (message may be a tuple of
    accepted wordings, or None where no source fixes the wording: then only the code is checked)."""
    try:
        result = call()
    except ClientError as e:
        got_code, got_message = e.response["Error"]["Code"], e.response["Error"].get("Message")
        if message is None:
            ok(got_code == code, f'{what} -> {code} (message "{got_message}")', f'got {got_code} "{got_message}"')
            return
        accepted = message if isinstance(message, tuple) else (message,)
        ok(got_code == code and got_message in accepted, f'{what} -> {code} "{accepted[0]}"', f'got {got_code} "{got_message}"')
        return
    raise CheckFailure(f"{what}: expected {code}, but it succeeded: {short(result)}")


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def recorder(client):
    """Records the operations (and AuthFlow/ChallengeName) a boto3 client sends."""
    sent = []

    def before_call(model, params, **_):
        body = params.get("body") or b"{}"
        body = json.loads(body if isinstance(body, (str, bytes)) and body else "{}")
        sent.append(f"{model.name}:{body.get('AuthFlow') or body.get('ChallengeName') or ''}")

    client.meta.events.register("before-call.cognito-idp.*", before_call)
    return sent


def pycognito(client_id, username, client_secret=None):
    c = Cognito(
        POOL,
        client_id,
        user_pool_region="us-east-1",
        username=username,
        client_secret=client_secret,
        boto3_client_kwargs={"endpoint_url": ENDPOINT},
    )
    # pycognito takes the issuer and the JWKS location from endpoint_url + "/" + pool id; both
    # must hold for Gatehouse as they are. Only a trial run against another server sets these.
    if ISSUER_BASE != ENDPOINT:
        c.pool_domain_url = ISSUER_BASE
    if JWKS_BASE != ISSUER_BASE:
        c.pool_jwk = requests.get(f"{JWKS_BASE}/{POOL}/.well-known/jwks.json", timeout=15).json()
    return c


def user_password_auth(user, client_id=WEB, password=None):
    return idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user["username"], "PASSWORD": password or user["password"]},
    )


def attributes(get_user_response):
    return {a["Name"]: a["Value"] for a in get_user_response["UserAttributes"]}


# ---- 3. pycognito ---------------------------------------------------------------------------

linus, ken, dennis, margaret = USERS["linus"], USERS["ken"], USERS["dennis"], USERS["margaret"]


@scenario
def pycognito_public_client():
    """pycognito: SRP sign-in, renew_access_token, get_user, logout (public client)"""
    c = pycognito(WEB, linus["username"])
    sent = recorder(c.client)
    c.authenticate(password=linus["password"])
    eq(" ".join(sent), "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER", "requests sent")
    # authenticate() has verified both tokens already; verify_tokens() does it once more, visibly:
    # RS256 signature by the JWKS key named in the header, iss, aud (ID token), exp, token_use.
    c.verify_tokens()
    eq(c.id_claims["iss"], ISSUER, "pycognito verify_tokens(): signatures, aud and token_use hold; iss")
    eq(c.token_type, "Bearer", "TokenType")
    eq(c.id_claims["cognito:username"], linus["username"], "ID token cognito:username")
    eq(c.id_claims["email"], linus["email"], "ID token email")
    eq(c.id_claims.get("email_verified"), True, "ID token email_verified (a JSON boolean)")
    eq(c.access_claims["username"], linus["username"], "access token username")
    eq(c.access_claims["client_id"], WEB, "access token client_id")
    eq(c.access_claims["scope"], ADMIN_SCOPE, "access token scope")

    first_access, first_refresh, first_claims = c.access_token, c.refresh_token, c.access_claims
    sent.clear()
    c.renew_access_token()
    eq(" ".join(sent), "InitiateAuth:REFRESH_TOKEN_AUTH", "renew_access_token sent")
    ok(c.access_token != first_access, "renew_access_token() got a new access token (verified again by pycognito)")
    ok(c.access_claims["jti"] != first_claims["jti"], "the new access token has a new jti")
    eq(c.access_claims["origin_jti"], first_claims["origin_jti"], "refresh keeps origin_jti")
    eq(c.access_claims["auth_time"], first_claims["auth_time"], "refresh keeps auth_time")
    eq(c.refresh_token, first_refresh, "refresh token unchanged (none in the refresh response)")

    u = c.get_user()
    eq(u._metadata["username"], linus["username"], "get_user() Username")
    eq(u.email, linus["email"], "get_user() email")
    eq(u.email_verified, True, "get_user() email_verified (the attribute string \"true\", read by pycognito)")
    eq(u.sub, c.access_claims["sub"], "get_user() sub equals the token's sub")

    renewed_access = c.access_token
    c.logout()  # GlobalSignOut
    ok(c.access_token is None, "logout() (GlobalSignOut) succeeded")
    for label, token in (("access token in use at logout", renewed_access), ("pre-refresh access token", first_access)):
        fails_with(lambda t=token: idp.get_user(AccessToken=t), "NotAuthorizedException", "Access Token has been revoked", f"GetUser with the {label}")
    fails_with(
        lambda: idp.initiate_auth(ClientId=WEB, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": first_refresh}),
        "NotAuthorizedException", "Refresh Token has been revoked", "REFRESH_TOKEN_AUTH with the refresh token from before logout")


@scenario
def pycognito_wrong_password():
    """pycognito: wrong password and unknown user over SRP"""
    fails_with(lambda: pycognito(WEB, linus["username"]).authenticate(password=linus["password"] + "x"),
               "NotAuthorizedException", "Incorrect username or password.", "SRP sign-in with a wrong password")
    # The public client keeps LEGACY user-existence errors: the user is named as unknown.
    fails_with(lambda: pycognito(WEB, "nobody").authenticate(password=linus["password"]),
               "UserNotFoundException", "User does not exist.", "SRP sign-in of an unknown user (PreventUserExistenceErrors LEGACY)")
    # The confidential client has them ENABLED: an unknown user looks like a wrong password.
    fails_with(lambda: pycognito(CONF, "nobody", CONF_SECRET).authenticate(password=linus["password"]),
               "NotAuthorizedException", "Incorrect username or password.", "SRP sign-in of an unknown user (PreventUserExistenceErrors ENABLED)")


@scenario
def pycognito_client_secret():
    """pycognito: SRP sign-in and refresh with a client secret (SECRET_HASH)"""
    c = pycognito(CONF, ken["username"], CONF_SECRET)
    c.authenticate(password=ken["password"])
    c.verify_tokens()
    eq(c.access_claims["iss"], ISSUER, "authenticate() with SECRET_HASH; pycognito verify_tokens() holds; iss")
    eq(c.id_claims["aud"], CONF, "ID token aud")
    eq(c.access_claims["client_id"], CONF, "access token client_id")
    eq(c.access_claims["username"], ken["username"], "access token username")
    first = c.access_token
    c.renew_access_token()
    ok(c.access_token != first, "renew_access_token() with SECRET_HASH got a new access token")

    def srp(secret):
        return AWSSRP(username=ken["username"], password=ken["password"], pool_id=POOL, client_id=CONF, client=idp, client_secret=secret).authenticate_user()

    fails_with(lambda: srp("not-the-secret"), "NotAuthorizedException",
               (f"Unable to verify secret hash for client {CONF}", f"SecretHash does not match for the client: {CONF}"),
               "AWSSRP with a wrong client secret")
    fails_with(lambda: srp(None), "NotAuthorizedException",
               (f"Client {CONF} is configured for secret but secret was not received",
                f"Client {CONF} is configured with secret but SECRET_HASH was not received"),
               "AWSSRP without SECRET_HASH on a client with a secret")


@scenario
def pycognito_new_password():
    """pycognito: FORCE_CHANGE_PASSWORD user, new_password_challenge"""
    try:
        pycognito(WEB, dennis["username"]).authenticate(password=dennis["temporaryPassword"])
        raise CheckFailure("authenticate() with the temporary password should raise ForceChangePasswordException")
    except ForceChangePasswordException:
        ok(True, "authenticate() with the temporary password -> ForceChangePasswordException (NEW_PASSWORD_REQUIRED)")
    c = pycognito(WEB, dennis["username"])
    sent = recorder(c.client)
    c.new_password_challenge(password=dennis["temporaryPassword"], new_password=dennis["newPassword"])
    eq(" ".join(sent),
       "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER RespondToAuthChallenge:NEW_PASSWORD_REQUIRED",
       "new_password_challenge sent")
    eq(c.id_claims["cognito:username"], dennis["username"], "tokens after the new password: ID token cognito:username")
    eq(idp.admin_get_user(UserPoolId=POOL, Username=dennis["username"])["UserStatus"], "CONFIRMED", "AdminGetUser UserStatus afterwards")
    c2 = pycognito(WEB, dennis["username"])
    c2.authenticate(password=dennis["newPassword"])
    eq(c2.access_claims["username"], dennis["username"], "SRP sign-in with the new password: access token username")
    fails_with(lambda: pycognito(WEB, dennis["username"]).authenticate(password=dennis["temporaryPassword"]),
               "NotAuthorizedException", "Incorrect username or password.", "the temporary password no longer signs in")


# ---- 4. boto3 -------------------------------------------------------------------------------


@scenario
def boto3_user_password_auth():
    """boto3: USER_PASSWORD_AUTH, get_user, refresh, revoke_token"""
    r = user_password_auth(margaret)
    ok("ChallengeName" not in r, "initiate_auth USER_PASSWORD_AUTH answers with tokens, no challenge", short(r.get("ChallengeName")))
    result = r["AuthenticationResult"]
    eq(result.get("TokenType"), "Bearer", "TokenType")
    eq(result.get("ExpiresIn"), 3600, "ExpiresIn (default access token validity, seconds)")
    ok(all(result.get(k) for k in ("AccessToken", "IdToken", "RefreshToken")), "AccessToken, IdToken and RefreshToken present")
    access = claims(result["AccessToken"])
    eq(access["username"], margaret["username"], "access token username")
    eq(access["iss"], ISSUER, "access token iss")
    eq(access["exp"] - access["iat"], 3600, "access token exp - iat")
    eq(claims(result["IdToken"])["email"], margaret["email"], "ID token email")

    fails_with(lambda: user_password_auth(margaret, password=margaret["password"] + "x"),
               "NotAuthorizedException", "Incorrect username or password.", "USER_PASSWORD_AUTH with a wrong password")
    fails_with(lambda: user_password_auth({"username": "nobody", "password": margaret["password"]}),
               "UserNotFoundException", "User does not exist.", "USER_PASSWORD_AUTH of an unknown user (LEGACY)")
    fails_with(lambda: user_password_auth(margaret, client_id=SRP_ONLY),
               "InvalidParameterException", "USER_PASSWORD_AUTH flow not enabled for this client",
               "USER_PASSWORD_AUTH on a client without ALLOW_USER_PASSWORD_AUTH")
    fails_with(lambda: idp.initiate_auth(ClientId=WEB, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                         AuthParameters={"USERNAME": margaret["username"], "PASSWORD": margaret["password"]}),
               "InvalidParameterException", "Initiate Auth method not supported.", "ADMIN_USER_PASSWORD_AUTH sent to InitiateAuth")

    me = idp.get_user(AccessToken=result["AccessToken"])
    eq(me["Username"], margaret["username"], "get_user Username")
    eq(attributes(me).get("email"), margaret["email"], "get_user email")
    eq(attributes(me).get("email_verified"), "true", "get_user email_verified (attribute values are strings)")
    eq(attributes(me).get("sub"), access["sub"], "get_user sub equals the token's sub")

    refreshed = idp.initiate_auth(ClientId=WEB, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]})["AuthenticationResult"]
    ok(refreshed.get("AccessToken") and refreshed.get("IdToken"), "REFRESH_TOKEN_AUTH returns a new AccessToken and IdToken")
    ok("RefreshToken" not in refreshed, "REFRESH_TOKEN_AUTH returns no RefreshToken (rotation off)", short(refreshed.get("RefreshToken")))
    eq(claims(refreshed["AccessToken"])["origin_jti"], access["origin_jti"], "refreshed access token keeps origin_jti")
    eq(idp.get_user(AccessToken=refreshed["AccessToken"])["Username"], margaret["username"], "get_user with the refreshed access token")

    fails_with(lambda: idp.revoke_token(Token=result["AccessToken"], ClientId=WEB),
               "UnsupportedTokenTypeException", None,
               "revoke_token with an access token")
    ok(idp.revoke_token(Token=result["RefreshToken"], ClientId=WEB)["ResponseMetadata"]["HTTPStatusCode"] == 200, "revoke_token with the refresh token")
    fails_with(lambda: idp.initiate_auth(ClientId=WEB, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]}),
               "NotAuthorizedException", "Refresh Token has been revoked", "REFRESH_TOKEN_AUTH with the revoked refresh token")
    for label, token in (("first", result["AccessToken"]), ("refreshed", refreshed["AccessToken"])):
        fails_with(lambda t=token: idp.get_user(AccessToken=t), "NotAuthorizedException", "Access Token has been revoked",
                   f"get_user with the {label} access token of the revoked refresh token")
    ok(idp.revoke_token(Token=result["RefreshToken"], ClientId=WEB)["ResponseMetadata"]["HTTPStatusCode"] == 200,
       "revoke_token of an already revoked refresh token succeeds again")


@scenario
def boto3_admin_user_password_auth():
    """boto3: ADMIN_USER_PASSWORD_AUTH (signed, confidential client)"""
    secret_hash = AWSSRP.get_secret_hash(ken["username"], CONF, CONF_SECRET)

    def admin_auth(client_id, username, password, secret=True):
        params = {"USERNAME": username, "PASSWORD": password}
        if secret:
            params["SECRET_HASH"] = AWSSRP.get_secret_hash(username, client_id, CONF_SECRET)
        return idp.admin_initiate_auth(UserPoolId=POOL, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters=params)

    r = admin_auth(CONF, ken["username"], ken["password"])
    ok("ChallengeName" not in r, "admin_initiate_auth answers with tokens, no challenge", short(r.get("ChallengeName")))
    result = r["AuthenticationResult"]
    access = claims(result["AccessToken"])
    eq(access["client_id"], CONF, "access token client_id")
    eq(access["username"], ken["username"], "access token username")
    eq(claims(result["IdToken"])["aud"], CONF, "ID token aud")
    eq(idp.get_user(AccessToken=result["AccessToken"])["Username"], ken["username"], "get_user with the admin-issued access token")
    refreshed = idp.admin_initiate_auth(UserPoolId=POOL, ClientId=CONF, AuthFlow="REFRESH_TOKEN_AUTH",
                                        AuthParameters={"REFRESH_TOKEN": result["RefreshToken"], "SECRET_HASH": secret_hash})
    ok(refreshed["AuthenticationResult"].get("AccessToken"), "admin_initiate_auth REFRESH_TOKEN_AUTH with SECRET_HASH returns an access token")

    fails_with(lambda: admin_auth(CONF, ken["username"], ken["password"] + "x"),
               "NotAuthorizedException", "Incorrect username or password.", "ADMIN_USER_PASSWORD_AUTH with a wrong password")
    fails_with(lambda: admin_auth(CONF, "nobody", ken["password"]),
               "NotAuthorizedException", "Incorrect username or password.", "ADMIN_USER_PASSWORD_AUTH of an unknown user (ENABLED)")
    fails_with(lambda: admin_auth(WEB, ken["username"], ken["password"], secret=False),
               "InvalidParameterException", "ADMIN_USER_PASSWORD_AUTH flow not enabled for this client",
               "ADMIN_USER_PASSWORD_AUTH on a client without ALLOW_ADMIN_USER_PASSWORD_AUTH")


@scenario
def boto3_global_sign_out():
    """boto3: global_sign_out ends every session of the user"""
    one = user_password_auth(margaret)["AuthenticationResult"]
    two = user_password_auth(margaret)["AuthenticationResult"]
    eq(idp.get_user(AccessToken=two["AccessToken"])["Username"], margaret["username"], "second session works before sign-out")
    ok(idp.global_sign_out(AccessToken=one["AccessToken"])["ResponseMetadata"]["HTTPStatusCode"] == 200, "global_sign_out with the first session's access token")
    for label, token in (("first", one["AccessToken"]), ("second", two["AccessToken"])):
        fails_with(lambda t=token: idp.get_user(AccessToken=t), "NotAuthorizedException", "Access Token has been revoked", f"get_user with the {label} session's access token")
    fails_with(lambda: idp.initiate_auth(ClientId=WEB, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": two["RefreshToken"]}),
               "NotAuthorizedException", "Refresh Token has been revoked", "REFRESH_TOKEN_AUTH with the second session's refresh token")
    fails_with(lambda: idp.global_sign_out(AccessToken=one["AccessToken"]), "NotAuthorizedException", "Access Token has been revoked",
               "global_sign_out again with the revoked access token")
    three = user_password_auth(margaret)["AuthenticationResult"]
    eq(idp.get_user(AccessToken=three["AccessToken"])["Username"], margaret["username"], "a new sign-in after global_sign_out works")


print(f"signin.py: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)

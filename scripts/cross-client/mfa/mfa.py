"""MFA as Python apps do it: boto3 for the Cognito calls, pyotp as the authenticator app.
 1. TOTP enrolment with an access token: AssociateSoftwareToken -> a pyotp code -> VerifySoftwareToken
    (a wrong code first: EnableSoftwareTokenMFAException) -> SetUserMFAPreference (TOTP enabled and
    preferred) -> GetUser/AdminGetUser name it.
 2. SMS_MFA: USER_PASSWORD_AUTH -> SMS_MFA, the code read from the server's developer outbox
    (<data dir>/outbox.jsonl) -> tokens; a wrong code -> CodeMismatchException.
 3. MFA_SETUP in an MFA=ON pool, through the sign-in session: AssociateSoftwareToken{Session} ->
    VerifySoftwareToken{Session, UserCode} -> RespondToAuthChallenge MFA_SETUP{USERNAME} with the
    returned Session -> tokens; the next sign-in asks SOFTWARE_TOKEN_MFA.
 4. TOTP sign-in of the user of 1: USER_PASSWORD_AUTH -> SOFTWARE_TOKEN_MFA -> a pyotp code of a
    later 30 s step than the enrolment code -> tokens; a wrong code -> CodeMismatchException; the
    same code again -> ExpiredCodeException (each code is accepted once).

Usage (the fixture comes from setup.py; admin calls are signed with the environment's AWS
credentials, as for setup.py; the SMS checks read <data dir>/outbox.jsonl, the data dir named in
the fixture or by GATEHOUSE_DATA_DIR):
    GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 python3 mfa.py /tmp/mfa-fixture.json
Exits non-zero if any check fails; the last line reads "mfa.py: N passed, M failed".
"""

import base64
import json
import os
import re
import sys
import time
import traceback

import boto3
import pyotp
from botocore.exceptions import ClientError

ENDPOINT = (os.environ.get("GATEHOUSE_ENDPOINT") or "").rstrip("/")
if not ENDPOINT or len(sys.argv) != 2:
    sys.exit("usage: GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 python3 mfa.py <fixture.json from setup.py>")
with open(sys.argv[1], encoding="utf-8") as f:
    FIXTURE = json.load(f)
POOLS = FIXTURE["pools"]
USERS = FIXTURE["users"]
DATA_DIR = os.environ.get("GATEHOUSE_DATA_DIR") or FIXTURE.get("dataDir")
STEP = 30  # seconds per TOTP code

# The user-facing operations are unsigned (botocore knows which); the admin ones are signed with
# the environment's credentials.
idp = boto3.client("cognito-idp", endpoint_url=ENDPOINT, region_name="us-east-1")

# ---- check bookkeeping (as signin.py) ---------------------------------------------------------

passed = 0
failed = 0


class CheckFailure(Exception):
    pass


def short(value):
    text = json.dumps(value, default=str)
    return text if len(text) <= 160 else text[:70] + "..." + text[-20:]


def ok(condition, what, detail=None):
    global passed
    if not condition:
        raise CheckFailure(what if detail is None else f"{what} ({detail})")
    passed += 1
    print(f"  ok   {what}", flush=True)


def eq(actual, expected, what):
    ok(actual == expected, f"{what} = {short(expected)}", f"got {short(actual)}")


def info(text):
    print(f"  info {text}", flush=True)


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


def fails_with(call, code, what):
    """`call` must fail with this Cognito error code (the message is shown, not checked: no
    primary source fixes the wording of the MFA errors)."""
    try:
        result = call()
    except ClientError as e:
        got_code, got_message = e.response["Error"]["Code"], e.response["Error"].get("Message")
        ok(got_code == code, f'{what} -> {code} (message "{got_message}")', f'got {got_code} "{got_message}"')
        return
    raise CheckFailure(f"{what}: expected {code}, but it succeeded: {short(result)}")


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# ---- TOTP, passwords, outbox -------------------------------------------------------------------

def fresh_code(totp, used_step=None):
    """A code of a later 30 s step than `used_step`: the server accepts each code once per user,
    so a sign-in after the enrolment waits for the next step, as a person with an authenticator
    app would. Returns (code, step)."""
    now = time.time()
    if used_step is not None and int(now // STEP) <= used_step:
        wait = (used_step + 1) * STEP - now + 0.3
        info(f"waiting {wait:.1f} s for the next 30 s TOTP step (each code is accepted once)")
        time.sleep(wait)
        now = time.time()
    return totp.at(now), int(now // STEP)


def authenticator(secret):
    """pyotp's TOTP for the secret, as an authenticator app would hold it. pyotp (2.10+) refuses keys
    under 112 bits (NIST SP 800-63B); Cognito's are longer."""
    try:
        return pyotp.TOTP(secret)
    except ValueError as e:
        raise CheckFailure(f"pyotp refuses the SecretCode ({len(secret)} characters): {e}") from e


def wrong_code(totp):
    """Six digits that are no valid code of any step within two of now."""
    now = time.time()
    valid = {totp.at(now + d * STEP) for d in range(-2, 3)}
    n = int(totp.at(now))
    while True:
        n = (n + 1) % 1_000_000
        if f"{n:06d}" not in valid:
            return f"{n:06d}"


def password_auth(user, client_id):
    return idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user["username"], "PASSWORD": user["password"]},
    )


def outbox_lines():
    """The complete lines of <data dir>/outbox.jsonl, where the server writes each SMS and email
    when no SNS/SMTP is configured: {pool_id, purpose, channel, username, destination, body, ...}."""
    if not DATA_DIR:
        raise CheckFailure("no data directory: set GATEHOUSE_DATA_DIR to the server's data dir (the outbox is there)")
    try:
        with open(os.path.join(DATA_DIR, "outbox.jsonl"), encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    return text.split("\n")[:-1]  # after the last newline: nothing, or a line still being written


def wait_for_message(pool_id, username, channel, mark):
    """The first message after line `mark` for this pool, user and channel. The server's dispatcher
    writes it shortly after the API call answered, so poll for up to 15 s."""
    deadline = time.time() + 15
    while True:
        later = [json.loads(line) for line in outbox_lines()[mark:]]
        for m in later:
            if m.get("pool_id") == pool_id and m.get("username") == username and m.get("channel") == channel:
                return m
        if time.time() > deadline:
            seen = "; ".join(f"{m.get('channel')}/{m.get('purpose')} for {m.get('username')} in {m.get('pool_id')}" for m in later) or "none"
            raise CheckFailure(f"no {channel} message for {username} (pool {pool_id}) reached the outbox within 15 s (later messages: {seen})")
        time.sleep(0.1)


def code_in(body):
    m = re.search(r"(?<!\d)(\d{6})(?!\d)", body or "")
    return m.group(1) if m else None


# ---- 1. TOTP enrolment with an access token ---------------------------------------------------

pat = USERS["pat"]
OPTIONAL = POOLS["optional"]
# Carried from the enrolment (1) to the sign-in (4).
enrolled = {}


@scenario
def totp_enrolment():
    """boto3 + pyotp: AssociateSoftwareToken, VerifySoftwareToken, SetUserMFAPreference (access token)"""
    r = password_auth(pat, OPTIONAL["clientId"])
    ok("ChallengeName" not in r, "USER_PASSWORD_AUTH before enrolment: tokens, no challenge (MFA OPTIONAL, no factor yet)", short(r.get("ChallengeName")))
    access = r["AuthenticationResult"]["AccessToken"]

    associated = idp.associate_software_token(AccessToken=access)
    secret = associated.get("SecretCode") or ""
    ok(re.fullmatch(r"[A-Za-z0-9]{16,}", secret) is not None, "AssociateSoftwareToken SecretCode: 16+ characters of [A-Za-z0-9]", f"{len(secret)} characters")
    ok(re.fullmatch(r"[A-Z2-7]+", secret) is not None, "SecretCode is upper-case base32 (what authenticator apps read)", secret[:8] + "...")
    totp = authenticator(secret)
    info(f"SecretCode: {len(secret)} characters, {len(totp.byte_secret()) * 8} bits")
    info(f"AssociateSoftwareToken with an access token answered a Session: {'Session' in associated}")

    fails_with(lambda: idp.verify_software_token(AccessToken=access, UserCode=wrong_code(totp), FriendlyDeviceName="pyotp"),
               "EnableSoftwareTokenMFAException", "VerifySoftwareToken with a wrong code")
    code, step = fresh_code(totp)
    verified = idp.verify_software_token(AccessToken=access, UserCode=code, FriendlyDeviceName="pyotp")
    eq(verified.get("Status"), "SUCCESS", "VerifySoftwareToken with pyotp's code: Status")
    enrolled.update(secret=secret, step=step)

    idp.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    me = idp.get_user(AccessToken=access)
    eq(me.get("PreferredMfaSetting"), "SOFTWARE_TOKEN_MFA", "GetUser PreferredMfaSetting after SetUserMFAPreference")
    eq(me.get("UserMFASettingList"), ["SOFTWARE_TOKEN_MFA"], "GetUser UserMFASettingList")
    admin = idp.admin_get_user(UserPoolId=OPTIONAL["id"], Username=pat["username"])
    eq(admin.get("PreferredMfaSetting"), "SOFTWARE_TOKEN_MFA", "AdminGetUser PreferredMfaSetting")
    eq(admin.get("UserMFASettingList"), ["SOFTWARE_TOKEN_MFA"], "AdminGetUser UserMFASettingList")


# ---- 2. SMS_MFA ---------------------------------------------------------------------------------

sid = USERS["sid"]


@scenario
def sms_mfa():
    """boto3: SMS_MFA with the code from the developer outbox; a wrong code"""
    # A wrong code first, on a sign-in of its own (whether a session survives a wrong code is not
    # what this checks): the code the server sent, plus one.
    mark = len(outbox_lines())
    first = password_auth(sid, OPTIONAL["clientId"])
    eq(first.get("ChallengeName"), "SMS_MFA", "USER_PASSWORD_AUTH of a user with SMS MFA preferred: ChallengeName")
    sent_code = code_in(wait_for_message(OPTIONAL["id"], sid["username"], "SMS", mark).get("body"))
    ok(sent_code is not None, "outbox: the SMS holds a six-digit code")
    wrong = f"{(int(sent_code) + 1) % 1_000_000:06d}"
    fails_with(lambda: idp.respond_to_auth_challenge(ClientId=OPTIONAL["clientId"], ChallengeName="SMS_MFA", Session=first["Session"],
                                                     ChallengeResponses={"USERNAME": sid["username"], "SMS_MFA_CODE": wrong}),
               "CodeMismatchException", "SMS_MFA with a wrong code")

    mark = len(outbox_lines())
    r = password_auth(sid, OPTIONAL["clientId"])
    eq(r.get("ChallengeName"), "SMS_MFA", "a new sign-in: ChallengeName")
    ok(r.get("Session"), "SMS_MFA comes with a Session")
    params = r.get("ChallengeParameters", {})
    eq(params.get("CODE_DELIVERY_DELIVERY_MEDIUM"), "SMS", "ChallengeParameters CODE_DELIVERY_DELIVERY_MEDIUM")
    destination = params.get("CODE_DELIVERY_DESTINATION", "")
    ok(destination.endswith(sid["phone"][-4:]) and destination != sid["phone"] and "*" in destination,
       "CODE_DELIVERY_DESTINATION is the masked phone number (last 4 digits shown)", destination)

    message = wait_for_message(OPTIONAL["id"], sid["username"], "SMS", mark)
    eq(message.get("destination"), sid["phone"], "outbox: the SMS goes to the user's phone_number")
    code = code_in(message.get("body"))
    ok(code is not None, "outbox: the SMS body holds a six-digit code", message.get("body"))
    eq(message.get("body"), FIXTURE["smsMessage"].replace("{####}", code), "outbox: the body is the pool's SmsAuthenticationMessage")

    done = idp.respond_to_auth_challenge(ClientId=OPTIONAL["clientId"], ChallengeName="SMS_MFA", Session=r["Session"],
                                         ChallengeResponses={"USERNAME": sid["username"], "SMS_MFA_CODE": code})
    result = done.get("AuthenticationResult") or {}
    ok(result.get("AccessToken") and result.get("IdToken") and result.get("RefreshToken"), "SMS_MFA with the outbox code: tokens", short(done))
    eq(claims(result["AccessToken"])["username"], sid["username"], "access token username")
    eq(idp.get_user(AccessToken=result["AccessToken"])["Username"], sid["username"], "GetUser with the new access token")


# ---- 3. MFA_SETUP through the session -------------------------------------------------------------

quinn = USERS["quinn"]
ON = POOLS["on"]


@scenario
def mfa_setup():
    """boto3 + pyotp: MFA_SETUP in an MFA=ON pool (AssociateSoftwareToken/VerifySoftwareToken with the Session)"""
    r = password_auth(quinn, ON["clientId"])
    eq(r.get("ChallengeName"), "MFA_SETUP", "USER_PASSWORD_AUTH of a user without a factor in an MFA=ON pool: ChallengeName")
    ok("AuthenticationResult" not in r, "no tokens before MFA is set up")
    can_setup = json.loads(r.get("ChallengeParameters", {}).get("MFAS_CAN_SETUP", "null"))
    ok(isinstance(can_setup, list) and "SOFTWARE_TOKEN_MFA" in can_setup,
       "MFAS_CAN_SETUP is a JSON array naming SOFTWARE_TOKEN_MFA", short(r.get("ChallengeParameters")))

    associated = idp.associate_software_token(Session=r["Session"])
    secret = associated.get("SecretCode") or ""
    ok(re.fullmatch(r"[A-Z2-7]{16,}", secret) is not None, "AssociateSoftwareToken{Session}: a base32 SecretCode", f"{len(secret)} characters")
    ok(associated.get("Session"), "AssociateSoftwareToken{Session} answers a new Session")
    totp = authenticator(secret)

    code, _ = fresh_code(totp)
    verified = idp.verify_software_token(Session=associated["Session"], UserCode=code, FriendlyDeviceName="pyotp")
    eq(verified.get("Status"), "SUCCESS", "VerifySoftwareToken{Session, UserCode}: Status")
    ok(verified.get("Session"), "VerifySoftwareToken{Session} answers a Session (the one that satisfies MFA_SETUP)")

    done = idp.respond_to_auth_challenge(ClientId=ON["clientId"], ChallengeName="MFA_SETUP", Session=verified["Session"],
                                         ChallengeResponses={"USERNAME": quinn["username"]})
    result = done.get("AuthenticationResult") or {}
    ok(result.get("AccessToken") and result.get("RefreshToken"), "RespondToAuthChallenge MFA_SETUP{USERNAME} with that Session: tokens", short(done))
    eq(claims(result["AccessToken"])["username"], quinn["username"], "access token username")

    admin = idp.admin_get_user(UserPoolId=ON["id"], Username=quinn["username"])
    ok("SOFTWARE_TOKEN_MFA" in (admin.get("UserMFASettingList") or []), "AdminGetUser UserMFASettingList names SOFTWARE_TOKEN_MFA",
       short(admin.get("UserMFASettingList")))
    info(f"AdminGetUser PreferredMfaSetting after MFA_SETUP: {admin.get('PreferredMfaSetting')}")
    again = password_auth(quinn, ON["clientId"])
    eq(again.get("ChallengeName"), "SOFTWARE_TOKEN_MFA", "the next sign-in asks for the TOTP code: ChallengeName")


# ---- 4. TOTP sign-in ----------------------------------------------------------------------------


@scenario
def totp_sign_in():
    """boto3 + pyotp: SOFTWARE_TOKEN_MFA sign-in, a wrong code, a reused code"""
    ok(enrolled.get("secret"), "the TOTP enrolment above succeeded")
    totp = pyotp.TOTP(enrolled["secret"])

    wrong = password_auth(pat, OPTIONAL["clientId"])
    eq(wrong.get("ChallengeName"), "SOFTWARE_TOKEN_MFA", "USER_PASSWORD_AUTH of a user with TOTP preferred: ChallengeName")
    ok(wrong.get("Session") and "AuthenticationResult" not in wrong, "a Session and no tokens")
    fails_with(lambda: idp.respond_to_auth_challenge(ClientId=OPTIONAL["clientId"], ChallengeName="SOFTWARE_TOKEN_MFA", Session=wrong["Session"],
                                                     ChallengeResponses={"USERNAME": pat["username"], "SOFTWARE_TOKEN_MFA_CODE": wrong_code(totp)}),
               "CodeMismatchException", "SOFTWARE_TOKEN_MFA with a wrong code")

    r = password_auth(pat, OPTIONAL["clientId"])
    eq(r.get("ChallengeName"), "SOFTWARE_TOKEN_MFA", "a new sign-in: ChallengeName")
    code, step = fresh_code(totp, enrolled["step"])
    done = idp.respond_to_auth_challenge(ClientId=OPTIONAL["clientId"], ChallengeName="SOFTWARE_TOKEN_MFA", Session=r["Session"],
                                         ChallengeResponses={"USERNAME": pat["username"], "SOFTWARE_TOKEN_MFA_CODE": code})
    result = done.get("AuthenticationResult") or {}
    ok(result.get("AccessToken") and result.get("IdToken") and result.get("RefreshToken"),
       f"SOFTWARE_TOKEN_MFA with pyotp's code of a later step ({step - enrolled['step']} after the enrolment's): tokens", short(done))
    eq(claims(result["AccessToken"])["username"], pat["username"], "access token username")
    eq(idp.get_user(AccessToken=result["AccessToken"])["Username"], pat["username"], "GetUser with the new access token")

    # The same code once more (still inside the ±30 s window): refused as used.
    reuse = password_auth(pat, OPTIONAL["clientId"])
    eq(reuse.get("ChallengeName"), "SOFTWARE_TOKEN_MFA", "another sign-in: ChallengeName")
    fails_with(lambda: idp.respond_to_auth_challenge(ClientId=OPTIONAL["clientId"], ChallengeName="SOFTWARE_TOKEN_MFA", Session=reuse["Session"],
                                                     ChallengeResponses={"USERNAME": pat["username"], "SOFTWARE_TOKEN_MFA_CODE": code}),
               "ExpiredCodeException", "SOFTWARE_TOKEN_MFA with the code that was just accepted")


print(f"mfa.py: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)

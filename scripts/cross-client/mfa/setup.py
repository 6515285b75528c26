"""Creates the user pools, app clients and users that mfa.mjs, amplify.mjs and mfa.py sign in with,
and prints them as JSON (the "fixture") on stdout.

Five pools, one per MFA situation:
  optional  MfaConfiguration OPTIONAL, TOTP and SMS enabled: users enrol themselves (TOTP) or are
            given SMS by the administrator (AdminSetUserMFAPreference).
  on        MfaConfiguration ON, only TOTP enabled: a user without a factor gets MFA_SETUP.
  devices   MfaConfiguration ON, SMS, device tracking: ChallengeRequiredOnNewDevice and every device
            remembered without asking (DeviceOnlyRememberedOnUserPrompt false).
  amplify   MfaConfiguration ON, only TOTP, device tracking with DeviceOnlyRememberedOnUserPrompt:
            a device is remembered only when the app says so (Amplify's rememberDevice()).

The admin calls are SigV4-signed by boto3 with whatever credentials the environment names, so
against Gatehouse point it at the credentials file its first start wrote, and name the server's
data directory (the checks read SMS codes from its outbox.jsonl):

    AWS_SHARED_CREDENTIALS_FILE=<data dir>/credentials AWS_PROFILE=gatehouse \\
    AWS_DEFAULT_REGION=us-east-1 GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 \\
    GATEHOUSE_DATA_DIR=<data dir> python3 setup.py > /tmp/mfa-fixture.json

Every run makes new pools (and random passwords), so the script can run again against the same server.
"""

import json
import os
import secrets
import sys

import boto3

ENDPOINT = os.environ.get("GATEHOUSE_ENDPOINT")
if not ENDPOINT:
    sys.exit("setup.py: set GATEHOUSE_ENDPOINT to the server's URL, e.g. http://127.0.0.1:9229")

# Every SMS user has this number; the SMS messages land in the outbox whatever the number.
PHONE = "+15555550100"
SMS_MESSAGE = "Your code is {####}"
# The pool's SNS role: Cognito requires one for SMS; Gatehouse stores it (and sends through its own
# SNS settings, or to the developer outbox when none are configured).
SMS_CONFIGURATION = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}

EMAIL_MESSAGE = "Your Gatehouse sign-in code is {####}"

idp = boto3.client("cognito-idp", endpoint_url=ENDPOINT, region_name="us-east-1")


def password():
    # Satisfies the default policy (8+ characters, upper, lower, digit, symbol) whatever the
    # random part turns out to be.
    return "Pw-" + secrets.token_urlsafe(12) + "a1A!"


def pool(label, mfa, totp=False, sms=False, devices=None, email=False):
    """A pool with this MFA mode and factors (and device tracking), and a public client for it."""
    create = {"PoolName": f"mfa-{label}-{secrets.token_hex(4)}"}
    if email:
        # Email MFA needs the pool's own sending account (Cognito: SES).
        create["EmailConfiguration"] = {"EmailSendingAccount": "DEVELOPER"}
    if devices is not None:
        create["DeviceConfiguration"] = devices
    if sms:
        create["SmsConfiguration"] = SMS_CONFIGURATION
    pool_id = idp.create_user_pool(**create)["UserPool"]["Id"]

    # TOTP can be enabled only by SetUserPoolMfaConfig (CreateUserPool knows SMS MFA alone), so
    # the whole MFA configuration is set here.
    mfa_config = {"UserPoolId": pool_id, "MfaConfiguration": mfa}
    if totp:
        mfa_config["SoftwareTokenMfaConfiguration"] = {"Enabled": True}
    if sms:
        mfa_config["SmsMfaConfiguration"] = {"SmsAuthenticationMessage": SMS_MESSAGE, "SmsConfiguration": SMS_CONFIGURATION}
    if email:
        mfa_config["EmailMfaConfiguration"] = {"Message": EMAIL_MESSAGE, "Subject": "Your sign-in code"}
    idp.set_user_pool_mfa_config(**mfa_config)
    got = idp.get_user_pool_mfa_config(UserPoolId=pool_id)
    if got.get("MfaConfiguration") != mfa:
        sys.exit(f"setup.py: pool {label}: GetUserPoolMfaConfig MfaConfiguration is {got.get('MfaConfiguration')}, set {mfa}")
    if devices is not None:
        described = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"].get("DeviceConfiguration")
        if described != devices:
            sys.exit(f"setup.py: pool {label}: DescribeUserPool DeviceConfiguration is {described}, created with {devices}")

    # The public client amazon-cognito-identity-js and Amplify need (they cannot compute
    # SECRET_HASH), with the password flow for boto3.
    client = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors="LEGACY",
        EnableTokenRevocation=True,
    )["UserPoolClient"]
    return {"id": pool_id, "clientId": client["ClientId"], "mfa": mfa, "totp": totp, "sms": sms, "devices": devices}


def main():
    pools = {
        "optional": pool("optional", "OPTIONAL", totp=True, sms=True),
        "on": pool("on", "ON", totp=True),
        "devices": pool("devices", "ON", sms=True,
                        devices={"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False}),
        "amplify": pool("amplify", "ON", totp=True,
                        devices={"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": True}),
        "emailsetup": pool("emailsetup", "ON", totp=True, email=True),
    }
    users = {}

    def confirmed(name, pool_label, sms=False, email=True):
        """A CONFIRMED user with a permanent password; with sms, a verified phone number and SMS MFA
        enabled and preferred by the administrator; without email, no email address."""
        pool_id = pools[pool_label]["id"]
        attributes = [{"Name": "email", "Value": f"{name}@example.com"}, {"Name": "email_verified", "Value": "true"}] if email else []
        if sms:
            attributes += [{"Name": "phone_number", "Value": PHONE}, {"Name": "phone_number_verified", "Value": "true"}]
        idp.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS", UserAttributes=attributes)
        pw = password()
        idp.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=pw, Permanent=True)
        if sms:
            idp.admin_set_user_mfa_preference(UserPoolId=pool_id, Username=name,
                                              SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
        user = idp.admin_get_user(UserPoolId=pool_id, Username=name)
        if user["UserStatus"] != "CONFIRMED":
            sys.exit(f"setup.py: {name} should be CONFIRMED after a permanent password, is {user['UserStatus']}")
        if sms and user.get("PreferredMfaSetting") != "SMS_MFA":
            sys.exit(f"setup.py: {name}: AdminGetUser PreferredMfaSetting is {user.get('PreferredMfaSetting')}, set SMS_MFA")
        users[name] = {"username": name, "password": pw, "email": f"{name}@example.com", "pool": pool_label}
        if sms:
            users[name]["phone"] = PHONE

    # One user per scenario, so no scenario's codes, devices or sign-outs touch another's.
    confirmed("pat", "optional")             # python: TOTP enrolment with an access token, sign-in, reuse, wrong code
    confirmed("sid", "optional", sms=True)   # python: SMS_MFA with boto3
    confirmed("quinn", "on")                 # python: MFA_SETUP through the session
    confirmed("tess", "optional")            # node amazon-cognito-identity-js: TOTP enrolment and totpRequired
    confirmed("sam", "optional", sms=True)   # node amazon-cognito-identity-js: mfaRequired (SMS)
    confirmed("dana", "devices", sms=True)   # node amazon-cognito-identity-js: SMS, then a remembered device
    confirmed("amy", "amplify")              # node Amplify v6: TOTP set-up at sign-in, rememberDevice, device sign-in
    confirmed("eve", "emailsetup", email=False)  # node Amplify v6: email MFA set up at sign-in with a new address

    json.dump(
        {
            "endpoint": ENDPOINT,
            "dataDir": os.environ.get("GATEHOUSE_DATA_DIR"),
            "smsMessage": SMS_MESSAGE,
            "emailMessage": EMAIL_MESSAGE,
            "pools": pools,
            "users": users,
        },
        sys.stdout,
        indent=2,
    )
    print()


if __name__ == "__main__":
    main()

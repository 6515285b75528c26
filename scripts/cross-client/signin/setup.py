"""Creates the user pool, app clients and users that signin.mjs and signin.py sign in with, and
prints them as JSON (the "fixture") on stdout.

The admin calls are SigV4-signed by boto3 with whatever credentials the environment names, so
against Gatehouse point it at the credentials file its first start wrote:

    AWS_SHARED_CREDENTIALS_FILE=<data dir>/credentials AWS_PROFILE=gatehouse \\
    AWS_DEFAULT_REGION=us-east-1 GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 \\
      python3 setup.py > /tmp/signin-fixture.json

The users have fixed names, but every run makes a new pool (and random passwords), so the
script can run again against the same server.
"""

import json
import os
import secrets
import sys

import boto3

ENDPOINT = os.environ.get("GATEHOUSE_ENDPOINT")
if not ENDPOINT:
    sys.exit("setup.py: set GATEHOUSE_ENDPOINT to the server's URL, e.g. http://127.0.0.1:9229")


def password():
    # Satisfies the default policy (8+ characters, upper, lower, digit, symbol) whatever the
    # random part turns out to be.
    return "Pw-" + secrets.token_urlsafe(12) + "a1A!"


def main():
    idp = boto3.client("cognito-idp", endpoint_url=ENDPOINT, region_name="us-east-1")
    pool = idp.create_user_pool(PoolName=f"signin-{secrets.token_hex(4)}")["UserPool"]
    pool_id = pool["Id"]

    # The public client amazon-cognito-identity-js needs (it cannot compute SECRET_HASH), with
    # the password flow for boto3 too. LEGACY user-existence errors: an unknown user is named as such.
    web = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors="LEGACY",
        EnableTokenRevocation=True,
    )["UserPoolClient"]
    # A confidential client: SECRET_HASH on every call; the server-side admin password flow.
    # ENABLED user-existence errors: an unknown user looks like a wrong password.
    confidential = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="confidential",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors="ENABLED",
    )["UserPoolClient"]
    # SRP only: USER_PASSWORD_AUTH must be refused.
    srp_only = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="srp-only",
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]

    users = {}

    def confirmed(name):
        email = f"{name}@example.com"
        idp.admin_create_user(
            UserPoolId=pool_id,
            Username=name,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        )
        pw = password()
        idp.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=pw, Permanent=True)
        status = idp.admin_get_user(UserPoolId=pool_id, Username=name)["UserStatus"]
        if status != "CONFIRMED":
            sys.exit(f"setup.py: {name} should be CONFIRMED after a permanent password, is {status}")
        users[name] = {"username": name, "password": pw, "email": email}

    def force_change(name):
        email = f"{name}@example.com"
        temporary = password()
        idp.admin_create_user(
            UserPoolId=pool_id,
            Username=name,
            TemporaryPassword=temporary,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        )
        status = idp.admin_get_user(UserPoolId=pool_id, Username=name)["UserStatus"]
        if status != "FORCE_CHANGE_PASSWORD":
            sys.exit(f"setup.py: {name} should be FORCE_CHANGE_PASSWORD, is {status}")
        users[name] = {"username": name, "temporaryPassword": temporary, "newPassword": password(), "email": email}

    # One user per sign-out scenario, so no script's global sign-out touches another's sessions.
    confirmed("ada")  # node: amazon-cognito-identity-js SRP, refresh, attributes, global sign-out
    force_change("grace")  # node: newPasswordRequired
    confirmed("linus")  # python: pycognito SRP on the public client
    confirmed("ken")  # python: pycognito SRP + admin password flow on the confidential client
    force_change("dennis")  # python: pycognito new_password_challenge
    confirmed("margaret")  # python: boto3 USER_PASSWORD_AUTH, refresh, revoke, global sign-out

    json.dump(
        {
            "poolId": pool_id,
            "clients": {
                "web": {"id": web["ClientId"]},
                "confidential": {"id": confidential["ClientId"], "secret": confidential["ClientSecret"]},
                "srpOnly": {"id": srp_only["ClientId"]},
            },
            "users": users,
        },
        sys.stdout,
        indent=2,
    )
    print()


if __name__ == "__main__":
    main()

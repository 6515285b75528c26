#!/usr/bin/env python3
"""Creates the sign-in benchmark's pool, app client and users through boto3 (signed admin calls).

Users are `<prefix>00000`... CONFIRMED with one permanent password (AdminCreateUser, then
AdminSetUserPassword Permanent=True; each gets its own argon2 salt and SRP verifier).
Usage: sign_in_setup.py ENDPOINT KEY_ID SECRET USERS PREFIX PASSWORD
Prints: POOL_ID CLIENT_ID
"""
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

endpoint, key_id, secret, users, prefix, password = sys.argv[1:7]
users = int(users)
c = boto3.client(
    "cognito-idp",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=key_id,
    aws_secret_access_key=secret,
    config=Config(max_pool_connections=16, retries={"max_attempts": 1}),
)
pool = c.create_user_pool(PoolName="signin-bench")["UserPool"]["Id"]
client = c.create_user_pool_client(
    UserPoolId=pool,
    ClientName="bench",
    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    # A day, so the GetUser runs' tokens outlive any wait for a quiet machine (bench/sign_in.sh).
    AccessTokenValidity=24,
    IdTokenValidity=24,
    TokenValidityUnits={"AccessToken": "hours", "IdToken": "hours"},
)["UserPoolClient"]["ClientId"]


def make(i):
    name = "%s%05d" % (prefix, i)
    c.admin_create_user(
        UserPoolId=pool,
        Username=name,
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": name + "@example.com"},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    # Hashing (argon2id + SRP verifier) is the cost: a few in flight keep both cores busy.
    c.admin_set_user_password(UserPoolId=pool, Username=name, Password=password, Permanent=True)


with ThreadPoolExecutor(8) as ex:
    list(ex.map(make, range(users)))
print(pool, client)

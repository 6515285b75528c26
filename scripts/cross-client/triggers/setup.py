"""Creates the pool triggers.sh signs in to: the three custom-auth triggers (all served by the
receiver), a public client with ALLOW_CUSTOM_AUTH, and a confirmed user. Prints the fixture."""

import json
import os
import secrets

import boto3

idp = boto3.client("cognito-idp", endpoint_url=os.environ["GATEHOUSE_ENDPOINT"], region_name="us-east-1")
arn = "arn:aws:lambda:us-east-1:123456789012:function:"
pool = idp.create_user_pool(
    PoolName=f"custom-{secrets.token_hex(4)}",
    LambdaConfig={
        "DefineAuthChallenge": arn + "define",
        "CreateAuthChallenge": arn + "create",
        "VerifyAuthChallengeResponse": arn + "verify",
    },
)["UserPool"]["Id"]
client = idp.create_user_pool_client(
    UserPoolId=pool,
    ClientName="custom",
    ExplicitAuthFlows=["ALLOW_CUSTOM_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
)["UserPoolClient"]["ClientId"]
password = "Pw-" + secrets.token_urlsafe(12) + "a1A!"
idp.admin_create_user(UserPoolId=pool, Username="kim", MessageAction="SUPPRESS")
idp.admin_set_user_password(UserPoolId=pool, Username="kim", Password=password, Permanent=True)
print(json.dumps({"poolId": pool, "clientId": client, "username": "kim", "password": password}))

#!/usr/bin/env python3
"""Writes a wrk Lua script that replays one SigV4-signed cognito-idp request.

SigV4 has no nonce: a signature stays valid for the 5-minute skew window, so replaying one signed
request measures exactly the server's per-request work (it still verifies every signature).
Usage: presign.py ENDPOINT KEY_ID SECRET OPERATION JSON_BODY OUT.lua
"""
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

endpoint, key_id, secret, op, body, out = sys.argv[1:7]
req = AWSRequest(
    method="POST",
    url=endpoint + "/",
    data=body.encode(),
    headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService." + op,
    },
)
SigV4Auth(Credentials(key_id, secret), "cognito-idp", "us-east-1").add_auth(req)


def lua(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


with open(out, "w") as f:
    f.write('wrk.method = "POST"\n')
    f.write("wrk.body = %s\n" % lua(body))
    for k, v in req.headers.items():
        if k.lower() == "host":
            continue
        f.write("wrk.headers[%s] = %s\n" % (lua(k), lua(v)))
    # Count non-2xx answers so a broken signature cannot pass as throughput.
    f.write(
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("non2xx=%d\\n", summary.errors.status))\n'
        '  for _, p in pairs({50, 90, 99}) do io.write(string.format("p%d_us=%d\\n", p, latency:percentile(p))) end\n'
        "end\n"
    )

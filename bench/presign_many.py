#!/usr/bin/env python3
"""Writes a wrk Lua script that cycles through many SigV4-signed cognito-idp requests.

Each line of standard input is one JSON request body; each is signed by botocore (a distinct
signature per body) and stored in OUT.lua.data, which every wrk thread reads at start and cycles
through from its own offset. Non-2xx answers (e.g. UserNotFoundException for a missing user) are
counted and printed, so they cannot pass for throughput.
Usage: presign_many.py ENDPOINT KEY_ID SECRET OPERATION OUT.lua < bodies.jsonl
"""
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

endpoint, key_id, secret, op, out = sys.argv[1:6]
auth = SigV4Auth(Credentials(key_id, secret), "cognito-idp", "us-east-1")
target = "AWSCognitoIdentityProviderService." + op
n = 0
with open(out + ".data", "w") as data:
    for line in sys.stdin:
        body = line.strip()
        if not body:
            continue
        req = AWSRequest(
            method="POST",
            url=endpoint + "/",
            data=body.encode(),
            headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
        )
        auth.add_auth(req)
        assert "\t" not in body and "\n" not in body
        data.write("%s\t%s\t%s\n" % (req.headers["X-Amz-Date"], req.headers["Authorization"], body))
        n += 1


def lua(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


with open(out, "w") as f:
    f.write(
        """local data_file = %s
local target = %s
local raw = {}
local n, i = 0, 0

function init(args)
  for line in io.lines(data_file) do
    local date, authz, body = line:match("^([^\\t]*)\\t([^\\t]*)\\t(.*)$")
    n = n + 1
    raw[n] = wrk.format("POST", "/", {
      ["Content-Type"] = "application/x-amz-json-1.1",
      ["X-Amz-Target"] = target,
      ["X-Amz-Date"] = date,
      ["Authorization"] = authz,
    }, body)
  end
  -- Each thread starts at its own place in the list.
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0))
  i = math.random(n) - 1
end

function request()
  i = i %% n + 1
  return raw[i]
end

done = function(summary, latency, requests)
  io.write(string.format("non2xx=%%d\\n", summary.errors.status))
  for _, p in pairs({50, 90, 99}) do io.write(string.format("p%%d_us=%%d\\n", p, latency:percentile(p))) end
end
"""
        % (lua(out + ".data"), lua(target))
    )
print("signed %d %s requests" % (n, op), file=sys.stderr)

#!/usr/bin/env bash
# The README quick start, done as a new user would: `gatehouse serve` with no configuration at all,
# then the AWS CLI and boto3 with the credentials the first start wrote. Fails loudly on any step.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${GATEHOUSE_BIN:-$ROOT/target/debug/gatehouse}"
[ -x "$BIN" ] || cargo build --manifest-path "$ROOT/Cargo.toml" -p gatehouse
WORK="$(mktemp -d)"
cd "$WORK"
if (echo >/dev/tcp/127.0.0.1/9229) 2>/dev/null; then
  echo "quickstart: port 9229 is already in use; stop what listens there first" >&2
  exit 1
fi
# No flags, no environment, no file: the embedded default.
env -u DATABASE_URL -u GATEHOUSE_ACCESS_KEYS -u GATEHOUSE_LISTEN -u GATEHOUSE_DATA_DIR "$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -sf http://127.0.0.1:9229/health >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf http://127.0.0.1:9229/health >/dev/null
grep -q "created an admin access key" "$WORK/server.log"
grep -q "gatehouse listening" "$WORK/server.log"
CRED="$WORK/data/credentials"
[ "$(stat -c %a "$CRED")" = "600" ] || { echo "credentials file is not mode 0600" >&2; exit 1; }
[ -f "$WORK/data/gatehouse.db" ] || { echo "no embedded database in the data directory" >&2; exit 1; }
if grep -q "$(sed -n 's/^aws_secret_access_key = //p' "$CRED")" "$WORK/server.log"; then
  echo "the secret key appeared in the log" >&2; exit 1
fi

export AWS_SHARED_CREDENTIALS_FILE="$CRED" AWS_PROFILE=gatehouse AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null
EP=http://127.0.0.1:9229
out="$(aws cognito-idp list-user-pools --max-results 10 --endpoint-url $EP)"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["UserPools"]==[], d' "$out"
id="$(aws cognito-idp create-user-pool --pool-name quickstart --endpoint-url $EP --query UserPool.Id --output text)"
out="$(aws cognito-idp list-user-pools --max-results 10 --endpoint-url $EP)"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert [p["Id"] for p in d["UserPools"]]==[sys.argv[2]], d' "$out" "$id"
# A wrong key is refused with Cognito's error.
if AWS_ACCESS_KEY_ID=GHWRONGWRONGWRONG000 AWS_SECRET_ACCESS_KEY=wrong aws cognito-idp list-user-pools --max-results 1 --endpoint-url $EP 2>"$WORK/err"; then
  echo "a wrong key was accepted" >&2; exit 1
fi
grep -q UnrecognizedClientException "$WORK/err"

python3 - "$id" <<'PY'
import sys, boto3, botocore
c = boto3.client("cognito-idp", endpoint_url="http://127.0.0.1:9229")
pool = c.describe_user_pool(UserPoolId=sys.argv[1])["UserPool"]
assert pool["Name"] == "quickstart", pool
assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
assert len(pool["SchemaAttributes"]) == 20
try:
    c.describe_user_pool(UserPoolId="us-east-1_doesnotexist")
    raise SystemExit("expected ResourceNotFoundException")
except c.exceptions.ResourceNotFoundException as e:
    assert "does not exist" in str(e)
c.tag_resource(ResourceArn=pool["Arn"], Tags={"env": "ci"})
assert c.list_tags_for_resource(ResourceArn=pool["Arn"])["Tags"] == {"env": "ci"}
print("boto3: ok")
PY
# The README's sign-up → confirm → sign-in, with the code read from the developer outbox.
pool=$(aws cognito-idp create-user-pool --pool-name shop --auto-verified-attributes email \
  --endpoint-url $EP --query UserPool.Id --output text)
client=$(aws cognito-idp create-user-pool-client --user-pool-id $pool --client-name web \
  --explicit-auth-flows ALLOW_USER_PASSWORD_AUTH ALLOW_USER_SRP_AUTH ALLOW_REFRESH_TOKEN_AUTH \
  --endpoint-url $EP --query UserPoolClient.ClientId --output text)
aws cognito-idp sign-up --client-id $client --username jane --password 'Passw0rd!' \
  --user-attributes Name=email,Value=jane@example.com --endpoint-url $EP >/dev/null
code=""
for _ in $(seq 1 100); do
  # The file appears when the dispatcher delivers the first message.
  code=$({ sed -n 's/.*verification code is \([0-9]\{6\}\).*/\1/p' data/outbox.jsonl 2>/dev/null || true; } | tail -n 1)
  [ -n "$code" ] && break
  sleep 0.1
done
[ -n "$code" ] || { echo "no confirmation code reached data/outbox.jsonl" >&2; exit 1; }
aws cognito-idp confirm-sign-up --client-id $client --username jane --confirmation-code $code \
  --endpoint-url $EP
tokens="$(aws cognito-idp initiate-auth --client-id $client --auth-flow USER_PASSWORD_AUTH \
  --auth-parameters USERNAME=jane,PASSWORD='Passw0rd!' --endpoint-url $EP)"
python3 -c 'import json,sys; r=json.loads(sys.argv[1])["AuthenticationResult"]; assert r["TokenType"]=="Bearer" and r["IdToken"] and r["RefreshToken"], r' "$tokens"
curl -sf "$EP/$pool/.well-known/jwks.json" | python3 -c 'import json,sys; assert len(json.load(sys.stdin)["keys"])==2'
echo "quickstart: sign-up, confirmation and sign-in: ok"
echo "quickstart: 2 passed, 0 failed"

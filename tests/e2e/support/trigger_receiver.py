"""A trigger endpoint for the end-to-end tests: a real HTTP server (Python's standard library)
that records every event it receives and answers as the plan file says.

Usage: trigger_receiver.py PLAN LOG SECRET   (prints the port it listens on, then serves)

PLAN is JSON read at every request: {"/<function>": action}. An action is one of
  {"merge": {...}}          answer the event with these keys merged into its `response`
  {"status": N, "body": v}  answer status N with the JSON body v (a function error)
  {"raw": "text"}           answer 200 with this text (not JSON)
  {"sleep_ms": N}           wait N ms first (then the rest of the action applies)
  {"define_rounds": N}      DefineAuthChallenge: fail after a wrong round, PASSWORD_VERIFIER
                            after SRP_A, tokens after N custom rounds, else another
                            CUSTOM_CHALLENGE
  {"create_rounds": [..]}   CreateAuthChallenge: round i's publicChallengeParameters,
                            privateChallengeParameters and challengeMetadata
  {"verify": true}          VerifyAuthChallengeResponse: right when the answer equals the private
                            parameter `answer`
No action answers the event unchanged. LOG gets one JSON line per request: the path, whether
the signature verified (the recipe of docs/triggers.md), and the event.
"""
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLAN, LOG, SECRET = sys.argv[1], sys.argv[2], sys.argv[3].encode()


def signature_ok(headers, body):
    """The documented check: HMAC-SHA256 of '<timestamp>.<body>' under the secret, fresh."""
    ts = headers.get("X-Gatehouse-Timestamp", "")
    sig = headers.get("X-Gatehouse-Signature", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return False
    expected = "v1=" + hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sig)


def custom_answer(event, action):
    """The custom-auth triggers' logic the plan asks for, or None."""
    req = event.get("request", {})
    rounds = req.get("session") or []
    custom = [r for r in rounds if r.get("challengeName") == "CUSTOM_CHALLENGE"]
    if "define_rounds" in action:
        if any(not r.get("challengeResult") for r in rounds):
            return {"challengeName": None, "issueTokens": False, "failAuthentication": True}
        if rounds and rounds[-1].get("challengeName") == "SRP_A":
            # SRP first: the password, then the custom rounds.
            return {"challengeName": "PASSWORD_VERIFIER", "issueTokens": False,
                    "failAuthentication": False}
        if len(custom) >= action["define_rounds"]:
            return {"challengeName": None, "issueTokens": True, "failAuthentication": False}
        return {"challengeName": "CUSTOM_CHALLENGE", "issueTokens": False,
                "failAuthentication": False}
    if "create_rounds" in action:
        return action["create_rounds"][min(len(custom), len(action["create_rounds"]) - 1)]
    if action.get("verify"):
        expected = (req.get("privateChallengeParameters") or {}).get("answer")
        return {"answerCorrect": req.get("challengeAnswer") == expected}
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        event = json.loads(body)
        with open(LOG, "a") as f:
            f.write(json.dumps({"path": self.path, "signature_ok": signature_ok(self.headers, body),
                                "event": event}) + "\n")
        try:
            with open(PLAN) as f:
                action = json.load(f).get(self.path, {})
        except (OSError, ValueError):
            action = {}
        if "sleep_ms" in action:
            time.sleep(action["sleep_ms"] / 1000)
        custom = custom_answer(event, action)
        if custom is not None:
            event["response"] = custom
            self.answer(200, json.dumps(event).encode())
        elif "raw" in action:
            self.answer(200, action["raw"].encode())
        elif "status" in action:
            self.answer(action["status"], json.dumps(action.get("body", {})).encode())
        else:
            event.setdefault("response", {})
            if event["response"] is None:
                event["response"] = {}
            event["response"].update(action.get("merge", {}))
            self.answer(200, json.dumps(event).encode())

    def answer(self, status, data):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server gave up waiting (a timeout test)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()

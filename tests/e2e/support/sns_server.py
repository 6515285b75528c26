"""A real SNS-compatible server for the e2e tests: moto's server on 127.0.0.1:<port>. moto keeps
the SMS that Publish sent in its SNS backend without an HTTP view, so this script, which runs the
server in-process, appends each one to <file> as a JSON line {"phone_number", "message"}.

usage: python3 sns_server.py <port> <file>
"""
import json
import os
import sys
import time

from moto.server import ThreadedMotoServer
from moto.sns.models import sns_backends


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    print("ready", flush=True)
    # The test stops reading stdout here; anything later goes to the log (stderr).
    os.dup2(2, 1)
    seen = set()
    while True:
        for _account, regions in list(sns_backends.items()):
            for _region, backend in list(regions.items()):
                for message_id, (phone, message) in list(backend.sms_messages.items()):
                    if message_id in seen:
                        continue
                    seen.add(message_id)
                    with open(path, "a", encoding="utf-8") as f:
                        f.write(json.dumps({"phone_number": phone, "message": message}) + "\n")
        time.sleep(0.05)


if __name__ == "__main__":
    main()

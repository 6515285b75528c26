"""A real SMTP server for the e2e tests: aiosmtpd on 127.0.0.1:<port>, appending every message it
accepts to <file> as one JSON line {"mail_from", "rcpt_tos", "data"} before answering 250, so a
message the client saw accepted is always in the file. Recipients whose address starts with
"reject" are refused for good (550), as a relay refuses an unknown mailbox; each refusal is
appended as {"rejected": <address>}.

usage: python3 smtp_sink.py <port> <file>
"""
import asyncio
import json
import os
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, path):
        self.path = path

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"rejected": address}) + "\n")
                f.flush()
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        line = json.dumps(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "data": envelope.content.decode("utf-8", "replace"),
            }
        )
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
        return "250 OK"


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(path), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    # The test stops reading stdout here; anything later goes to the log (stderr).
    os.dup2(2, 1)
    try:
        asyncio.get_event_loop().run_until_complete(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

"""A real SMTP server (aiosmtpd) that records what it receives, for tests.

Usage: smtp_sink.py --out DIR [options]

Every accepted message is written as DIR/NNNNNNNN.eml (the bytes as
received) and DIR/NNNNNNNN.json ({"mail_from", "rcpt_tos", "message_id"});
the .json file appears last and whole, so a reader that sees it can read
both. "MSG NNNNNNNN" is printed for each.

Options:
  --starttls CERT KEY      offer STARTTLS with this certificate
  --require-starttls       refuse MAIL before STARTTLS
  --implicit-tls CERT KEY  TLS from the first byte instead
  --auth USER:PASS         require AUTH (PLAIN/LOGIN) with these credentials
  --rcpt-reply REPLY       answer every RCPT with REPLY (e.g. "550 5.1.1 no")
  --data-reply REPLY       answer the end of every message with REPLY
                           instead of accepting it (nothing is recorded)
  --drop-at STEP           close the connection without a reply at STEP:
                           mail (on MAIL FROM) or after-data (after the whole
                           message arrived and was recorded)
  --drop-count N           drop only the first N times (default: always)
  --idle-timeout SECONDS   close idle sessions sooner (aiosmtpd default 300)
  --no-record              count messages but write nothing (benchmarks)

Prints "READY <port>" once listening on 127.0.0.1 (a free port). Runs until
killed or until stdin closes.
"""

import argparse
import email.parser
import json
import os
import socket
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Handler:
    def __init__(self, args):
        self.out = args.out
        self.record = not args.no_record
        self.rcpt_reply = args.rcpt_reply
        self.data_reply = args.data_reply
        self.drop_at = args.drop_at
        self.drops_left = args.drop_count
        self.lock = threading.Lock()
        self.seq = 0

    def should_drop(self, step):
        if self.drop_at != step:
            return False
        with self.lock:
            if self.drops_left is None:
                return True
            if self.drops_left > 0:
                self.drops_left -= 1
                return True
            return False

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.should_drop("mail"):
            server.transport.abort()
            return "250 OK"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        content = envelope.original_content or envelope.content
        with self.lock:
            self.seq += 1
            seq = self.seq
        if self.record:
            headers = email.parser.BytesHeaderParser().parsebytes(content)
            name = f"{seq:08d}"
            with open(os.path.join(self.out, name + ".eml"), "wb") as f:
                f.write(content)
            meta = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "message_id": headers.get("Message-ID"),
            }
            temp = os.path.join(self.out, "." + name + ".json")
            with open(temp, "w") as f:
                json.dump(meta, f)
            os.rename(temp, os.path.join(self.out, name + ".json"))
        emit(f"MSG {seq:08d}")
        if self.should_drop("after-data"):
            # The message arrived; the client never learns it.
            server.transport.abort()
        return "250 2.0.0 OK queued as " + f"{seq:08d}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth")
    parser.add_argument("--rcpt-reply")
    parser.add_argument("--data-reply")
    parser.add_argument("--drop-at", choices=["mail", "after-data"])
    parser.add_argument("--drop-count", type=int)
    parser.add_argument("--idle-timeout", type=float)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    kwargs = {"enable_SMTPUTF8": True, "server_hostname": "sink.handoff.test"}
    if args.starttls:
        kwargs["tls_context"] = tls_context(*args.starttls)
        kwargs["require_starttls"] = args.require_starttls
    if args.idle_timeout is not None:
        kwargs["timeout"] = args.idle_timeout
    if args.auth:
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            # handled=False: aiosmtpd then sends the 535 itself.
            return AuthResult(success=ok, handled=False)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        # Plain-text AUTH is allowed only where no TLS is configured at all.
        kwargs["auth_require_tls"] = bool(args.starttls)
    ssl_context = tls_context(*args.implicit_tls) if args.implicit_tls else None

    handler = Handler(args)
    for attempt in range(5):
        port = free_port()
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port,
            ready_timeout=10.0,
            ssl_context=ssl_context,
            **kwargs,
        )
        try:
            controller.start()
            break
        except OSError:
            if attempt == 4:
                raise
            time.sleep(0.05)
    emit(f"READY {port}")
    try:
        # The test holds our stdin; when it goes away, so do we.
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    controller.stop()


if __name__ == "__main__":
    main()

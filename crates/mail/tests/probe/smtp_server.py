"""A real SMTP server (aiosmtpd) for the Rust probe tests.

Usage: smtp_server.py PORT [--accept ADDR]... [--catch-all] [--tempfail]
                            [--reject-message TEXT] [--no-ehlo]

PORT 0 picks a free port. RCPT answers:
  --tempfail     450 for every recipient (greylisting);
  --catch-all    250 for every recipient;
  otherwise      250 for the --accept addresses (case-insensitive), and
                 the --reject-message (default "550 5.1.1 no such user")
                 for the rest; "\\n" in it makes a multi-line reply.
--no-ehlo makes EHLO an unknown command (an old server that only knows HELO).

Prints "READY <port>" once listening, then "CMD <VERB> <argument>" for every
command a client sends (before the server handles it), flushed at once.
Runs until killed or until stdin closes.
"""

import argparse
import socket
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Handler:
    def __init__(self, accept, catch_all, tempfail, reject_message):
        self.accept = {a.lower() for a in accept}
        self.catch_all = catch_all
        self.tempfail = tempfail
        self.reject_message = reject_message

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.tempfail:
            return "450 4.2.0 greylisted, try again later"
        if self.catch_all or address.lower() in self.accept:
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        return self.reject_message

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 accepted (should never happen)"


class RecordingSMTP(SMTP):
    """Logs every command line's verb and argument before handling it."""

    def __init__(self, *args, no_ehlo=False, **kwargs):
        super().__init__(*args, **kwargs)
        if no_ehlo:
            del self._smtp_methods["EHLO"]
        for verb, method in list(self._smtp_methods.items()):
            self._smtp_methods[verb] = self._recording(verb, method)

    @staticmethod
    def _recording(verb, method):
        async def recorded(arg):
            emit(f"CMD {verb} {arg or ''}".rstrip())
            return await method(arg)

        return recorded


class RecordingController(Controller):
    def __init__(self, handler, no_ehlo, **kwargs):
        self.no_ehlo = no_ehlo
        super().__init__(handler, **kwargs)

    def factory(self):
        return RecordingSMTP(self.handler, no_ehlo=self.no_ehlo, **self.SMTP_kwargs)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--accept", action="append", default=[])
    parser.add_argument("--catch-all", action="store_true")
    parser.add_argument("--tempfail", action="store_true")
    parser.add_argument("--reject-message", default="550 5.1.1 no such user")
    parser.add_argument("--no-ehlo", action="store_true")
    args = parser.parse_args()

    handler = Handler(
        args.accept,
        args.catch_all,
        args.tempfail,
        args.reject_message.replace("\\n", "\r\n"),
    )
    for attempt in range(5):
        port = args.port or free_port()
        controller = RecordingController(
            handler,
            args.no_ehlo,
            hostname="127.0.0.1",
            port=port,
            ready_timeout=10.0,
        )
        try:
            controller.start()
            break
        except OSError:
            if args.port or attempt == 4:
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

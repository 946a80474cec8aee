"""Checks the DKIM signature of the message on stdin with dkimpy, an
implementation independent of the one that signed it.

Usage: dkim_verify.py NAME RECORD
NAME is where the key is published (selector._domainkey.domain) and RECORD
the TXT record found there; any other name has no record. Prints PASS or
FAIL, then dkimpy's log on stderr.
"""

import logging
import sys

import dkim

expected_name, record = sys.argv[1], sys.argv[2].encode()


def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    return record if name.rstrip(".") == expected_name else None


logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)
message = sys.stdin.buffer.read()
try:
    ok = dkim.DKIM(message, logger=logging.getLogger("dkim"), debug_content=True).verify(
        dnsfunc=dnsfunc
    )
except Exception as error:  # a broken message is a failed check, not a crash
    logging.getLogger("dkim").error("verification raised %r", error)
    ok = False
print("PASS" if ok else "FAIL")

#!/usr/bin/env python3
"""Regenerate syntax_idna2008.txt from the installed `idna` Python package.

The Rust validator (src/address/syntax.rs) needs the IDNA2008 derived
property (RFC 5892) of each code point; no Rust crate in our tree exposes it,
and the Python `idna` package is what python-email-validator uses, so its
table is the one to match. Usage:

    python3 -m pip install 'idna==X.Y'
    python3 crates/mail/data/syntax_idna2008_gen.py > crates/mail/data/syntax_idna2008.txt
"""
import datetime
from importlib.metadata import version

from idna import idnadata


def ranges(encoded):
    # idnadata stores each range as one integer: start << 32 | end (exclusive).
    for r in encoded:
        yield r >> 32, (r & 0xFFFFFFFF) - 1


def main():
    print("# IDNA2008 code point classes (the RFC 5892 derived property): PVALID,")
    print("# CONTEXTJ, CONTEXTO. Code points not listed are DISALLOWED or UNASSIGNED.")
    print(f"# Source: the Python `idna` package {version('idna')} (idna/idnadata.py,")
    print(f"# codepoint_classes; Unicode {idnadata.__version__}), BSD-3-Clause,")
    print("# Copyright (c) 2013-2026 Kim Davies and contributors; its table is derived")
    print("# from the Unicode Character Database per RFC 5892.")
    print(f"# Generated {datetime.date.today().isoformat()} by syntax_idna2008_gen.py.")
    print("# Format: FIRST..LAST CLASS (hex code points, inclusive).")
    rows = []
    for cls in ("PVALID", "CONTEXTJ", "CONTEXTO"):
        rows.extend((first, last, cls) for first, last in ranges(idnadata.codepoint_classes[cls]))
    for first, last, cls in sorted(rows):
        print(f"{first:04X}..{last:04X} {cls}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The python baseline for scripts/bench-expiry: one process that parses every profile's
tls-cert.pem and ca-cert.pem with the `cryptography` package and prints the soonest
expiry. Run with /usr/bin/python3 (Debian python3-cryptography)."""
import os
import sys

from cryptography import x509

home = sys.argv[1]
root = os.path.join(home, "profiles")
soonest = None
count = 0
for name in sorted(os.listdir(root)):
    for f in ("tls-cert.pem", "ca-cert.pem"):
        try:
            with open(os.path.join(root, name, f), "rb") as fh:
                cert = x509.load_pem_x509_certificate(fh.read())
        except (OSError, ValueError):
            continue
        count += 1
        end = cert.not_valid_after
        if soonest is None or end < soonest[0]:
            soonest = (end, name, f)
print(f"{count} certificates, soonest expiry {soonest[0]} ({soonest[1]}/{soonest[2]})")

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check that each stored private key matches its certificate; print JSON.

Usage: inspect_store.py STORE NAME...   Output per name: match, fingerprint_sha256,
serial, not_after, error. Never prints key material.
"""
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization


def inspect(store, name):
    base = os.path.join(store, name)
    try:
        with open(os.path.join(base, 'fullchain.pem'), 'rb') as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
        with open(os.path.join(base, 'privkey.pem'), 'rb') as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
    except (IOError, OSError) as exc:
        return {'match': False, 'missing': True, 'error': 'cannot read %s: %s' % (exc.filename, exc.strerror)}
    except ValueError as exc:
        return {'match': False, 'error': 'unreadable certificate or key in %s: %s' % (base, type(exc).__name__)}
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    match = key.public_key().public_bytes(*fmt) == cert.public_key().public_bytes(*fmt)
    try:
        not_after = cert.not_valid_after_utc.isoformat()
    except AttributeError:
        not_after = cert.not_valid_after.isoformat() + '+00:00'
    return {'match': match, 'fingerprint_sha256': cert.fingerprint(hashes.SHA256()).hex(),
            'serial': '%x' % cert.serial_number, 'not_after': not_after,
            'error': None if match else 'the private key does not match the certificate'}


def main():
    store, names = sys.argv[1], sys.argv[2:]
    print(json.dumps(dict((name, inspect(store, name)) for name in names)))


if __name__ == '__main__':
    main()

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who renews a certificate that certpilot did not issue: the ``source`` its import recorded.

``certpilot.tls.cert_import`` writes ``issuer.json`` (``{"kind": "import", "source": ...}``) next to the
certificate files of each store generation, and ``<store>/<name>/issuer.json`` points at the current
one. A certificate file checked by ``tls_expiry_facts`` that sits in such a directory is an imported one:
the report names its source, because renewing it is their job, not certpilot's. The record is read
bounded (size, JSON, types); anything unreadable means "not known", never an error of the check.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

ISSUER_FILE = 'issuer.json'
IMPORT_KIND = 'import'  # the same as acme/store.py IMPORT_KIND (a unit test keeps them equal)
MAX_BYTES = 64 * 1024
MAX_SOURCE = 200


def imported_from(certificate_path):
    """The recorded source of the imported certificate at ``certificate_path``, or None."""
    record = os.path.join(os.path.dirname(os.path.abspath(certificate_path)), ISSUER_FILE)
    try:
        with open(record, 'rb') as handle:
            data = handle.read(MAX_BYTES + 1)
    except (IOError, OSError):
        return None
    if len(data) > MAX_BYTES:
        return None
    try:
        doc = json.loads(data.decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get('kind') != IMPORT_KIND:
        return None
    source = doc.get('source')
    if not isinstance(source, str) or not source.strip():
        return 'unknown source'
    return ' '.join(source.split())[:MAX_SOURCE]


def renewal_note(status, renewed_by):
    """The part of the reason that says who must act, for a certificate certpilot does not renew."""
    if renewed_by and status in ('warning', 'critical', 'expired'):
        return 'not renewed by certpilot: renewal is up to %s' % renewed_by
    return None

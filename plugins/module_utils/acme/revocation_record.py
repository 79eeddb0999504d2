# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``revoked.json``: the record acme_revoke leaves in the generation of a revoked certificate, read in one place.

``record_state`` says what the record means for one certificate (by serial) and why a record that exists cannot
be checked; ``acme/bundle.py`` refuses to hand out a certificate on either (fail closed), ``acme/revocation.py``
believes only a readable record naming the serial. Kept apart from revocation.py so that cert_bundle does not
carry the ACME client.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os

RECORD = 'revoked.json'
# a record is a few hundred bytes; anything this large is not one of ours
MAX_RECORD_BYTES = 1024 * 1024


def record_state(directory, serial):
    """``(record, error)`` for the certificate with ``serial`` (hex) in the generation ``directory``.

    ``record`` is the ``revoked.json`` naming this serial (None when there is none, or it names another serial:
    an older certificate of the same directory); ``error`` says why a record that exists cannot be checked.
    """
    path = os.path.join(directory, RECORD)
    try:
        with open(path, 'rb') as handle:
            data = handle.read(MAX_RECORD_BYTES + 1)
    except (IOError, OSError) as exc:
        return None, (None if exc.errno == errno.ENOENT else 'cannot read %s: %s' % (path, exc.strerror or exc))
    if len(data) > MAX_RECORD_BYTES:
        return None, 'cannot read %s: larger than %d bytes' % (path, MAX_RECORD_BYTES)
    try:
        doc = json.loads(data.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        return None, '%s is not valid JSON' % path
    if not isinstance(doc, dict) or not isinstance(doc.get('serial'), str):
        return None, '%s has no serial' % path
    if doc['serial'].lower() != serial.lower():
        return None, None
    return doc, None

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recognise private key material by parsing PEM armor, so nothing depends on a flag the user must set.

A PEM block is ``-----BEGIN <label>-----``, base64 lines, ``-----END <label>-----``
(RFC 7468). Any block whose label ends in ``PRIVATE KEY`` (PKCS#8, ``RSA``, ``EC``,
``ENCRYPTED``, ``OPENSSH``, ...) is key material, and so is a base64 body on its own
(a key pasted without armor is still a key): ``secret_strings`` returns both, for
redaction with ``no_log_values``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import re

_BLOCK_RE = re.compile(
    br'-----BEGIN ([A-Z0-9 ]*)-----[ \t]*\r?\n(.*?)-----END \1-----', re.DOTALL)
# A BEGIN line alone (a truncated or malformed key) is treated as key material too.
_BEGIN_KEY_RE = re.compile(br'-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----')


def _to_bytes(data):
    if data is None:
        return b''
    return data.encode('utf-8', 'replace') if not isinstance(data, bytes) else data


def _body(block_body):
    """The base64 payload of a PEM block body, without headers (``Proc-Type: ...``) and line breaks."""
    lines = [line.strip() for line in block_body.splitlines()]
    return b''.join(line for line in lines if line and b':' not in line)


def private_key_blocks(data):
    """Every private key block of ``data`` as ``(label, whole_block, base64_body)`` (bytes)."""
    data = _to_bytes(data)
    found = []
    for match in _BLOCK_RE.finditer(data):
        label = match.group(1)
        if not label.endswith(b'PRIVATE KEY'):
            continue
        body = _body(match.group(2))
        try:
            binascii.a2b_base64(body)
        except (binascii.Error, ValueError):
            pass  # still key-shaped: treat it as a key rather than show it
        found.append((label.decode('ascii'), match.group(0), body))
    return found


def holds_private_key(data):
    """True when ``data`` (bytes or text) contains a private key PEM block, complete or not."""
    data = _to_bytes(data)
    return bool(_BEGIN_KEY_RE.search(data)) or bool(private_key_blocks(data))


def secret_strings(data):
    """Strings to redact for every key of ``data``: the whole block, the body, and each body line."""
    out = set()
    for dummy, block, body in private_key_blocks(data):
        out.add(block.decode('ascii', 'replace'))
        out.add(body.decode('ascii', 'replace'))
        for line in block.splitlines():
            line = line.strip()
            if len(line) >= 16 and not line.startswith(b'-----'):
                out.add(line.decode('ascii', 'replace'))
    return out

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alibaba Cloud RPC signature, version 1.0 (HMAC-SHA1).

Pure functions, shared by the client and (for verification) by the test double.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import hashlib
import hmac
import uuid

from urllib.parse import quote

API_VERSION = '2014-05-15'


def percent_encode(value):
    """RFC 3986 percent-encoding as the RPC signature wants it.

    Unreserved characters ``A-Z a-z 0-9 - _ . ~`` stay, everything else (including
    space -> ``%20``, ``*`` -> ``%2A``, ``/`` -> ``%2F``) is encoded from UTF-8.
    """
    if value is None:
        value = ''
    if not isinstance(value, (bytes, str)):
        value = str(value)
    if isinstance(value, str):
        value = value.encode('utf-8')
    return quote(value, safe=b'~')


def canonical_query(params):
    """Sorted ``k=v`` pairs joined by ``&``; ``Signature`` itself never takes part."""
    pairs = sorted((k, v) for k, v in params.items() if k != 'Signature')
    return '&'.join('%s=%s' % (percent_encode(k), percent_encode(v)) for k, v in pairs)


def string_to_sign(method, params):
    return '%s&%s&%s' % (method.upper(), percent_encode('/'), percent_encode(canonical_query(params)))


def sign(method, params, secret):
    """Base64 HMAC-SHA1 of the string to sign, keyed with ``secret + '&'``."""
    key = (secret + '&').encode('utf-8')
    digest = hmac.new(key, string_to_sign(method, params).encode('utf-8'), hashlib.sha1).digest()
    return base64.b64encode(digest).decode('ascii')


def utc_timestamp(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime('%Y-%m-%dT%H:%M:%SZ')


def signed_params(action, params, access_key, secret, security_token=None, method='POST',
                  version=API_VERSION, nonce=None, timestamp=None):
    """Return a new dict: ``params`` + common parameters + ``Signature``.

    A fresh nonce and timestamp are used on every call (retries must re-sign,
    otherwise the server answers ``SignatureNonceUsed``).
    """
    full = dict((k, v) for k, v in params.items() if v is not None)
    full.update({
        'Action': action,
        'Format': 'JSON',
        'Version': version,
        'AccessKeyId': access_key,
        'SignatureMethod': 'HMAC-SHA1',
        'SignatureVersion': '1.0',
        'SignatureNonce': nonce or str(uuid.uuid4()),
        'Timestamp': timestamp or utc_timestamp(),
    })
    if security_token:
        full['SecurityToken'] = security_token
    full = dict((k, v if isinstance(v, str) else str(v)) for k, v in full.items())
    full['Signature'] = sign(method, full, secret)
    return full

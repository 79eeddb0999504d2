# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alibaba Cloud signature V3 (``ACS3-HMAC-SHA256``) for RPC-style APIs.

Pure functions, shared by the client and (for verification) by the test doubles::

    CanonicalRequest = METHOD \\n CanonicalURI \\n CanonicalQuery \\n CanonicalHeaders \\n SignedHeaders \\n HashedPayload
    StringToSign     = "ACS3-HMAC-SHA256" \\n hex(sha256(CanonicalRequest))
    Signature        = hex(hmac_sha256(AccessKeySecret, StringToSign))
    Authorization    = ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<names>,Signature=<hex>

The signed headers are ``host``, ``content-type`` (when there is one) and every ``x-acs-*`` header.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import hmac
import uuid

from urllib.parse import quote

ALGORITHM = 'ACS3-HMAC-SHA256'
EMPTY_SHA256 = hashlib.sha256(b'').hexdigest()


def percent_encode(value):
    """RFC 3986: ``A-Z a-z 0-9 - _ . ~`` stay, the rest is %XX of the UTF-8 bytes (space -> %20, * -> %2A)."""
    if value is None:
        value = ''
    if not isinstance(value, (bytes, str)):
        value = str(value)
    if isinstance(value, str):
        value = value.encode('utf-8')
    return quote(value, safe=b'~')


def canonical_uri(path):
    """Each ``/``-separated segment percent-encoded; RPC APIs use ``/``."""
    path = path or '/'
    return '/'.join(percent_encode(part) for part in path.split('/'))


def canonical_query(query):
    """``query``: dict or list of pairs. Sorted by name, names and values encoded, a missing value is empty."""
    pairs = query.items() if isinstance(query, dict) else list(query or [])
    encoded = sorted((percent_encode(k), percent_encode('' if v is None else v)) for k, v in pairs)
    return '&'.join('%s=%s' % pair for pair in encoded)


def is_signed_header(name):
    name = name.lower()
    return name in ('host', 'content-type') or name.startswith('x-acs-')


def canonical_headers(headers, names=None):
    """Return ``(canonical headers text, signed header names)``.

    ``names``: the (lowercase) names to sign; by default every header :func:`is_signed_header` picks.
    Names are lowercased, values stripped, sorted by name, one ``name:value`` line each.
    """
    lowered = {}
    for key, value in headers.items():
        if value is None:
            continue
        lowered.setdefault(key.lower(), []).append(str(value).strip())
    wanted = sorted(set(n.lower() for n in names) if names is not None else [k for k in lowered if is_signed_header(k)])
    text = ''.join('%s:%s\n' % (name, ','.join(sorted(lowered.get(name, [''])))) for name in wanted)
    return text, ';'.join(wanted)


def hashed_payload(body):
    if body is None:
        body = b''
    if isinstance(body, str):
        body = body.encode('utf-8')
    return hashlib.sha256(body).hexdigest()


def canonical_request(method, path, query, headers, payload_hash, names=None):
    """Return ``(canonical request, signed header names)``."""
    header_text, signed = canonical_headers(headers, names)
    text = '\n'.join([method.upper(), canonical_uri(path), canonical_query(query), header_text, signed, payload_hash])
    return text, signed


def string_to_sign(canonical):
    return '%s\n%s' % (ALGORITHM, hashlib.sha256(canonical.encode('utf-8')).hexdigest())


def signature(secret, canonical):
    return hmac.new(secret.encode('utf-8'), string_to_sign(canonical).encode('utf-8'), hashlib.sha256).hexdigest()


def authorization(access_key, signed_headers, sig):
    return '%s Credential=%s,SignedHeaders=%s,Signature=%s' % (ALGORITHM, access_key, signed_headers, sig)


def parse_authorization(value):
    """``Authorization`` header -> dict with ``algorithm``, ``Credential``, ``SignedHeaders``, ``Signature`` (or None)."""
    if not value or ' ' not in value:
        return None
    algorithm, rest = value.split(' ', 1)
    parts = {'algorithm': algorithm}
    for item in rest.split(','):
        if '=' in item:
            key, val = item.split('=', 1)
            parts[key.strip()] = val.strip()
    return parts


def utc_timestamp(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime('%Y-%m-%dT%H:%M:%SZ')


def sign_request(method, host, path, query, body, action, version, access_key, secret, security_token=None,
                 content_type=None, date=None, nonce=None, extra_headers=None):
    """Return the headers to send (``Authorization`` included) for one request.

    A fresh nonce and date on every call: retries must re-sign.
    """
    headers = dict(extra_headers or {})
    headers.update({
        'host': host,
        'x-acs-action': action,
        'x-acs-version': version,
        'x-acs-date': date or utc_timestamp(),
        'x-acs-signature-nonce': nonce or uuid.uuid4().hex,
        'x-acs-content-sha256': hashed_payload(body),
    })
    if content_type:
        headers['content-type'] = content_type
    if security_token:
        headers['x-acs-security-token'] = security_token
    canonical, signed = canonical_request(method, path, query, headers, headers['x-acs-content-sha256'])
    headers['Authorization'] = authorization(access_key, signed, signature(secret, canonical))
    return headers

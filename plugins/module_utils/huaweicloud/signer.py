# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Huawei Cloud AK/SK request signing, ``SDK-HMAC-SHA256`` (the API Gateway scheme every service takes).

Pure functions, shared by the client and (to verify requests) by the test double::

    CanonicalRequest = Method \\n CanonicalURI \\n CanonicalQueryString \\n CanonicalHeaders \\n
                       SignedHeaders \\n HexEncode(SHA256(Payload))
    StringToSign     = "SDK-HMAC-SHA256" \\n X-Sdk-Date \\n HexEncode(SHA256(CanonicalRequest))
    Signature        = HexEncode(HMAC-SHA256(SK, StringToSign))
    Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<h1;h2>, Signature=<signature>

Details follow Huawei's official Python SDK (``huaweicloudsdkcore.signer.Signer``), which the
integration tests compare with byte for byte: each path segment is percent-encoded (only
``A-Z a-z 0-9 - _ . ~`` stay) and the URI always ends with ``/``; query pairs are sorted and
encoded the same way; every header whose name has no ``_`` is signed, lowercased and sorted;
``X-Sdk-Date`` is ``YYYYMMDDTHHMMSSZ`` (UTC) and the gateway refuses one more than 15 minutes off.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import hmac

from urllib.parse import quote, unquote, urlsplit

ALGORITHM = 'SDK-HMAC-SHA256'
DATE_FORMAT = '%Y%m%dT%H%M%SZ'
HEADER_DATE = 'X-Sdk-Date'
HEADER_CONTENT = 'X-Sdk-Content-Sha256'
UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'
EMPTY_HASH = hashlib.sha256(b'').hexdigest()


def url_encode(value):
    """RFC 3986 encoding: unreserved characters stay, everything else is %XX of its UTF-8 bytes."""
    return quote(value if isinstance(value, (str, bytes)) else str(value), safe='~')


def canonical_uri(path):
    """Each segment of the (decoded) path encoded, joined by ``/``, always ending with ``/``."""
    url_path = '/'.join(url_encode(segment) for segment in unquote(path or '/').split('/'))
    return url_path if url_path.endswith('/') else url_path + '/'


def _query_value(value):
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def canonical_query(params):
    """``params``: a list of (key, value) pairs (a value may be a list); sorted ``k=v`` joined by ``&``."""
    pairs = []
    for key, value in params or []:
        values = value if isinstance(value, (list, tuple)) else [value]
        for one in values:
            pairs.append((str(key), _query_value(one)))
    pairs.sort()
    return '&'.join('%s=%s' % (url_encode(k), url_encode(v)) for k, v in pairs)


def signed_header_names(headers):
    """Lowercased names of the headers that are signed (all whose name has no ``_``), sorted."""
    return sorted(name.lower() for name in headers if '_' not in name)


def canonical_headers(headers, names):
    by_name = dict((k.lower(), str(v).strip()) for k, v in headers.items())
    return ''.join('%s:%s\n' % (name, by_name[name]) for name in names)


def payload_hash(body, headers):
    if not body:
        return EMPTY_HASH
    for name, value in headers.items():
        if name.lower() == HEADER_CONTENT.lower() and value:
            return value
    if isinstance(body, str):
        body = body.encode('utf-8')
    return hashlib.sha256(body).hexdigest()


def canonical_request(method, path, query, headers, body):
    """(canonical request text, signed header names) of one request."""
    names = signed_header_names(headers)
    text = '\n'.join([method.upper(), canonical_uri(path), canonical_query(query),
                      canonical_headers(headers, names), ';'.join(names), payload_hash(body, headers)])
    return text, names


def string_to_sign(canonical, sdk_date):
    return '%s\n%s\n%s' % (ALGORITHM, sdk_date, hashlib.sha256(canonical.encode('utf-8')).hexdigest())


def signature(secret_key, text):
    return hmac.new(secret_key.encode('utf-8'), text.encode('utf-8'), hashlib.sha256).hexdigest()


def authorization(access_key, names, sig):
    return '%s Access=%s, SignedHeaders=%s, Signature=%s' % (ALGORITHM, access_key, ';'.join(names), sig)


def sdk_date(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime(DATE_FORMAT)


def host_of(url):
    """The ``Host`` header the SDK sends: the URL's netloc as written (a port only when given)."""
    return urlsplit(url).netloc


def sign(method, url, query, headers, body, access_key, secret_key, now=None):
    """Sign one request. Returns a new header dict: ``headers`` + ``Host``, ``X-Sdk-Date``, ``Authorization``.

    ``url`` is the base URL plus path (no query); ``query`` the list of (key, value) pairs sent.
    A fresh ``X-Sdk-Date`` is taken on every call (retries must re-sign).
    """
    out = dict(headers or {})
    if not any(k.lower() == 'host' for k in out):
        out['Host'] = host_of(url)
    if not any(k.lower() == HEADER_DATE.lower() for k in out):
        out[HEADER_DATE] = sdk_date(now)
    date = next(v for k, v in out.items() if k.lower() == HEADER_DATE.lower())
    canonical, names = canonical_request(method, urlsplit(url).path, query, out, body)
    out['Authorization'] = authorization(access_key, names, signature(secret_key, string_to_sign(canonical, date)))
    return out


def parse_authorization(value):
    """(access key, signed header names, signature) from an ``Authorization`` value, or None if malformed."""
    if not value or not value.startswith(ALGORITHM + ' '):
        return None
    fields = {}
    for part in value[len(ALGORITHM) + 1:].split(','):
        key, sep, val = part.strip().partition('=')
        if not sep:
            return None
        fields[key] = val
    if not all(fields.get(k) for k in ('Access', 'SignedHeaders', 'Signature')):
        return None
    return fields['Access'], fields['SignedHeaders'].split(';'), fields['Signature']


def verify(method, path, query, headers, body, secret_key, names, given_signature):
    """True when ``given_signature`` is the signature of the request over the header ``names`` listed."""
    lower = dict((k.lower(), v) for k, v in headers.items())
    if HEADER_DATE.lower() not in names or any(n not in lower for n in names):
        return False
    chosen = dict((n, lower[n]) for n in names)
    text = '\n'.join([method.upper(), canonical_uri(path), canonical_query(query),
                      canonical_headers(chosen, names), ';'.join(names), payload_hash(body, lower)])
    want = signature(secret_key, string_to_sign(text, lower[HEADER_DATE.lower()]))
    return hmac.compare_digest(want, given_signature)

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME Renewal Information (RFC 9773)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import random

from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import UTC, iso_z, parse_rfc3339
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import b64u

try:
    from cryptography import x509
except ImportError:  # pragma: no cover - reported by the modules
    pass

DEFAULT_RETRY_AFTER = 6 * 3600
MAX_RETRY_AFTER = 7 * 86400


def parse_time(text):
    """RFC 3339 timestamp of a renewal information answer -> aware UTC datetime; CertpilotError otherwise."""
    return parse_rfc3339(text, what='timestamp in renewal information')


def cert_id(cert):
    """base64url(AKI keyIdentifier) '.' base64url(serial DER integer bytes)."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        raise CertpilotError('the certificate has no Authority Key Identifier; ARI cannot be used for it')
    if not aki.key_identifier:
        raise CertpilotError('the certificate Authority Key Identifier has no keyIdentifier; ARI cannot be used')
    serial = cert.serial_number
    serial_bytes = serial.to_bytes((serial.bit_length() + 8) // 8, 'big')
    return '%s.%s' % (b64u(aki.key_identifier), b64u(serial_bytes))


def parse_renewal_info(doc):
    window = doc.get('suggestedWindow') if isinstance(doc, dict) else None
    if not isinstance(window, dict):
        raise CertpilotError('renewal information without suggestedWindow')
    start, end = parse_time(window.get('start')), parse_time(window.get('end'))
    if end < start:
        raise CertpilotError('renewal information window ends before it starts')
    explanation = doc.get('explanationURL')
    return start, end, explanation if isinstance(explanation, str) else None


def pick_time(start, end, rng=None):
    """A uniformly random time in [start, end] (RFC 9773 section 4.2)."""
    rng = rng or random.Random()
    span = (end - start).total_seconds()
    return start + datetime.timedelta(seconds=rng.uniform(0, span) if span > 0 else 0)


def renewal_info(client, cert, cached=None, now=None, rng=None):
    """Ask the CA (or the still-fresh cache) when to renew ``cert``.

    Returns ``(renew_at, explanation, cache_doc, fetched)``; ``cache_doc`` is
    what to store for the next run (kept until the server's Retry-After).
    """
    now = now or datetime.datetime.now(UTC)
    ident = cert_id(cert)
    if cached and cached.get('cert_id') == ident:
        try:
            until = parse_time(cached.get('valid_until'))
            if now < until:
                return parse_time(cached['renew_at']), cached.get('explanation'), cached, False
        except (CertpilotError, KeyError):
            pass
    base = client.endpoint('renewalInfo').rstrip('/')
    resp = client.get('%s/%s' % (base, ident), what='fetching renewal information (ARI)')
    start, end, explanation = parse_renewal_info(resp.json)
    renew_at = None
    if cached and cached.get('cert_id') == ident and cached.get('window') == [iso_z(start), iso_z(end)]:
        try:
            renew_at = parse_time(cached['renew_at'])
        except (CertpilotError, KeyError):
            renew_at = None
    if renew_at is None:
        # whole seconds: the same instant is returned now and read back from the cache later
        renew_at = pick_time(start, end, rng).replace(microsecond=0)
    retry_after = resp.retry_after
    if retry_after is None:
        retry_after = DEFAULT_RETRY_AFTER
    retry_after = min(max(retry_after, 60), MAX_RETRY_AFTER)
    doc = {'cert_id': ident, 'window': [iso_z(start), iso_z(end)], 'renew_at': iso_z(renew_at),
           'explanation': explanation, 'fetched': iso_z(now),
           'valid_until': iso_z(now + datetime.timedelta(seconds=retry_after))}
    return renew_at, explanation, doc, True

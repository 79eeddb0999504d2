# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 helpers in one place: load and split PEM, validity, fingerprint (one format), names, key match.

Callers check ``HAS_CRYPTOGRAPHY`` (modules report ``CRYPTOGRAPHY_IMPORT_ERROR`` through missing_required_lib).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import traceback

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import UTC

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtensionOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by the module
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

_PEM_CERT_RE = re.compile(br'-----BEGIN CERTIFICATE-----\s*.+?\s*-----END CERTIFICATE-----', re.S)


def to_bytes(data):
    return data.encode('utf-8') if isinstance(data, str) else (data or b'')


def pem_certificate_blocks(data):
    """Every ``BEGIN CERTIFICATE`` block of ``data`` (bytes), in order; other blocks (keys) are ignored."""
    return _PEM_CERT_RE.findall(to_bytes(data))


def load_certificates(data, what='the certificate data'):
    """All certificates of a PEM bundle, in order; CertpilotError naming ``what`` for none or a bad block."""
    blocks = pem_certificate_blocks(data)
    if not blocks:
        raise CertpilotError('%s contains no PEM "BEGIN CERTIFICATE" block' % what)
    certs = []
    for index, block in enumerate(blocks):
        try:
            certs.append(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            raise CertpilotError('certificate #%d of %s is not a valid PEM certificate: %s' % (index + 1, what, exc))
    return certs


def not_after(cert):
    """End of validity, timezone-aware (also with cryptography < 42, which has only naive datetimes)."""
    value = getattr(cert, 'not_valid_after_utc', None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=UTC)


def not_before(cert):
    """Start of validity, timezone-aware."""
    value = getattr(cert, 'not_valid_before_utc', None)
    return value if value is not None else cert.not_valid_before.replace(tzinfo=UTC)


def fingerprint_sha256(cert):
    """SHA-256 of the DER certificate as lowercase hex without separators: the one format we return."""
    return cert.fingerprint(hashes.SHA256()).hex()


def dns_names(cert):
    """DNS names of the subjectAltName extension (empty when there is none)."""
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return []
    return ext.value.get_values_for_type(x509.DNSName)


def public_key_der(public_key):
    """The DER SubjectPublicKeyInfo of a public key: equal for a certificate and its private key."""
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def matches_key(cert, private_key):
    """Whether ``private_key`` is the key of ``cert`` (compares the public keys)."""
    return public_key_der(cert.public_key()) == public_key_der(private_key.public_key())

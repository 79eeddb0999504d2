# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an imported certificate must pass before it goes into the store: key strength, names, validity.

Each check returns a plain-language problem (str) or None, so that one certificate can report
every problem at once.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z
from ansible_collections.certpilot.tls.plugins.module_utils.tls.names import match_hostname

try:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    x509 = ec = ed25519 = rsa = None

MIN_RSA_BITS = 2048
# The curves every TLS client speaks (RFC 8446 section 4.2.7 and the CA/Browser Forum rules).
EC_CURVES = ('secp256r1', 'secp384r1', 'secp521r1')


def key_description(key):
    """'rsa2048', 'ec-secp256r1', 'ed25519' or the class name of another key type."""
    if isinstance(key, rsa.RSAPrivateKey):
        return 'rsa%d' % key.key_size
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return 'ec-%s' % key.curve.name
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return 'ed25519'
    return type(key).__name__


def key_problem(key, min_rsa_bits=MIN_RSA_BITS):
    """Why ``key`` is too weak or of a kind TLS clients refuse, or None."""
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < min_rsa_bits:
            return 'the RSA key has %d bits, fewer than the %d required' % (key.key_size, min_rsa_bits)
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in EC_CURVES:
            return 'the EC key is on curve %s; TLS clients accept %s' % (key.curve.name, ', '.join(EC_CURVES))
        return None
    return 'the key type %s is not accepted (RSA of %d bits or more, or EC on %s)' % (
        key_description(key), min_rsa_bits, ', '.join(EC_CURVES))


def names(cert):
    """The DNS and IP names of the certificate's subjectAltName."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return list(ext.get_values_for_type(x509.DNSName)), [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]


def name_problem(cert, domains):
    """Which of ``domains`` the certificate does not cover (RFC 6125 matching, wildcards included), or None."""
    dns, ips = names(cert)
    if not dns and not ips:
        return 'the certificate has no subjectAltName: TLS clients ignore the subject CN'
    missing = [d for d in domains or () if not match_hostname(d, dns, ips, [])]
    if missing:
        return 'the certificate does not cover %s (it names %s)' % (', '.join(missing), ', '.join(dns + ips))
    return None


def validity_problem(cert, now, min_days_remaining=0):
    """Why the certificate cannot be served at ``now`` (or within ``min_days_remaining`` days), or None."""
    start, end = x509lib.not_before(cert), x509lib.not_after(cert)
    if now < start:
        return 'the certificate is not valid before %s' % iso_z(start)
    if now >= end:
        return 'the certificate expired at %s' % iso_z(end)
    left = (end - now).total_seconds() / 86400.0
    if left < min_days_remaining:
        return 'the certificate expires at %s, in %.1f days, fewer than min_days_remaining=%s' % (
            iso_z(end), left, min_days_remaining)
    return None

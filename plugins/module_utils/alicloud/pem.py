# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prepare a certificate chain and key the way CLB accepts them.

CLB takes RSA only, the key as unencrypted PKCS#1 (``BEGIN RSA PRIVATE KEY``) and
the chain leaf first, each certificate signed by the next, without blank lines.
Everything here goes through ``cryptography``; no string surgery on PEM.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import traceback

from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z

try:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448, rsa
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:  # pragma: no cover
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

NAME_MAX = 80


def fingerprint_sha1(cert):
    """SHA-1 of the DER certificate, lowercase hex with colons, as the SLB API shows it."""
    digest = cert.fingerprint(hashes.SHA1())  # nosec - an identifier, not a security decision
    return ':'.join('%02x' % c for c in bytearray(digest))


def load_certificates(data):
    return x509lib.load_certificates(data, what='the certificate')


def _issued_by(child, parent):
    if child.issuer != parent.subject:
        return False
    verify = getattr(child, 'verify_directly_issued_by', None)
    if verify is None:  # cryptography < 40: the name link is all we can check here
        return True
    try:
        verify(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def order_chain(certs, leaf):
    """Leaf first, then each certificate's issuer. Certificates outside that chain are an error."""
    ordered = [leaf]
    rest = [c for c in certs if c is not leaf]
    while rest:
        issuer = next((c for c in rest if _issued_by(ordered[-1], c)), None)
        if issuer is None:
            break
        ordered.append(issuer)
        rest.remove(issuer)
    if rest:
        names = ', '.join(c.subject.rfc4514_string() for c in rest)
        raise CertpilotError('The certificate chain is broken: %s did not sign %s (or any other certificate of the '
                             'chain); give the leaf and its intermediates only' % (names, ordered[-1].subject.rfc4514_string()))
    return ordered


def load_private_key(data):
    try:
        return serialization.load_pem_private_key(x509lib.to_bytes(data), password=None)
    except TypeError:
        raise CertpilotError('The private key is encrypted; CLB needs an unencrypted key (decrypt it first)')
    except (ValueError, UnsupportedAlgorithm):
        # Never echo the key material.
        raise CertpilotError('The private key is not a valid unencrypted PEM private key')


def read_material(content, path, what):
    """``content`` when given, else the bytes of the file ``path`` (None when neither is set)."""
    if content:
        return content
    if path:
        try:
            with open(path, 'rb') as handle:
                return handle.read()
        except (IOError, OSError) as exc:
            raise CertpilotError('Cannot read %s %s: %s' % (what, path, exc.strerror or exc))
    return None


def common_name(cert):
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else None


def sanitize_name(name):
    """Map any string onto CLB's certificate name rules.

    1-80 characters, starting with a letter, then letters, digits, ``.``, ``_`` and ``-``.
    A leading ``*.`` (wildcard) becomes ``wildcard.``.
    """
    name = (name or '').strip()
    if name.startswith('*.'):
        name = 'wildcard.' + name[2:]
    name = re.sub(r'[^A-Za-z0-9._-]+', '-', name).strip('-')
    if not name or not name[0].isalpha():
        name = 'cert-' + name
    return name[:NAME_MAX].rstrip('-') or 'cert'


def default_name(cert):
    cn = common_name(cert) or (x509lib.dns_names(cert) or ['cert'])[0]
    return sanitize_name('%s-%s' % (cn, x509lib.not_after(cert).strftime('%Y%m%d')))


class PreparedCertificate:
    """What gets uploaded, plus what we know about it. ``key_pem`` is secret."""

    def __init__(self, chain, key_pem, key_converted, reordered):
        self.chain = chain
        self.leaf = chain[0]
        self.cert_pem = ''.join(c.public_bytes(serialization.Encoding.PEM).decode('ascii') for c in chain).strip() + '\n'
        self.key_pem = key_pem
        self.key_converted = key_converted
        self.reordered = reordered
        self.fingerprint = fingerprint_sha1(self.leaf)
        self.common_name = common_name(self.leaf)
        self.subject_alternative_names = x509lib.dns_names(self.leaf)
        self.not_after = x509lib.not_after(self.leaf)

    @property
    def expire_time(self):
        return iso_z(self.not_after)

    def summary(self):
        return {
            'fingerprint': self.fingerprint,
            'fingerprint_sha256': x509lib.fingerprint_sha256(self.leaf),
            'common_name': self.common_name,
            'subject_alternative_names': self.subject_alternative_names,
            'expire_time': self.expire_time,
            'chain_length': len(self.chain),
            'key_converted_to_pkcs1': self.key_converted,
            'chain_reordered': self.reordered,
        }


def prepare(cert_data, key_data):
    """Validate and normalise a fullchain + key for UploadServerCertificate."""
    if not HAS_CRYPTOGRAPHY:
        raise CertpilotError('The python "cryptography" library is required')
    certs = load_certificates(cert_data)
    key = load_private_key(key_data)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertpilotError('The private key is an EC (ECDSA) key, but Alibaba Cloud CLB server certificates must be '
                             'RSA: issue an RSA certificate for SLB (for example key_type: rsa, 2048 or 4096 bits)')
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) or not isinstance(key, rsa.RSAPrivateKey):
        raise CertpilotError('The private key is a %s key, but Alibaba Cloud CLB accepts RSA only: issue an RSA '
                             'certificate for SLB' % key.__class__.__name__.replace('PrivateKey', '').lstrip('_'))
    public = key.public_key().public_numbers()

    def carries_key(cert):
        return isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().public_numbers() == public
    leaf = next((c for c in certs if carries_key(c)), None)
    if leaf is None:
        raise CertpilotError('The private key does not match the certificate (no certificate in the chain carries '
                             'its public key): check that certificate and key belong together')
    chain = order_chain(certs, leaf)
    reordered = [id(c) for c in chain] != [id(c) for c in certs]
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode('ascii')
    converted = b'BEGIN RSA PRIVATE KEY' not in x509lib.to_bytes(key_data)
    return PreparedCertificate(chain, key_pem, converted, reordered)


CAS_NAME_MAX = 64


def cas_default_name(cert):
    """``<common name>-<notAfter YYYYMMDD>-<first 8 hex of the SHA-256>``, at most 64 characters."""
    cn = common_name(cert) or (x509lib.dns_names(cert) or ['cert'])[0]
    suffix = '-%s-%s' % (x509lib.not_after(cert).strftime('%Y%m%d'), x509lib.fingerprint_sha256(cert)[:8])
    return sanitize_name(cn)[:CAS_NAME_MAX - len(suffix)].rstrip('-') + suffix


def prepare_cas(cert_data, key_data):
    """Validate and normalise a fullchain + key for CAS ``UploadUserCertificate`` (ALB takes it from there).

    Unlike CLB, CAS and ALB take RSA and ECDSA (P-256, P-384) certificates; Ed25519/Ed448 and other key
    types are refused here with a clear message. The key is sent unencrypted in the traditional format
    (``RSA PRIVATE KEY`` / ``EC PRIVATE KEY``), the chain leaf first without blank lines.
    """
    if not HAS_CRYPTOGRAPHY:
        raise CertpilotError('The python "cryptography" library is required')
    certs = load_certificates(cert_data)
    key = load_private_key(key_data)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in ('secp256r1', 'secp384r1'):
            raise CertpilotError('The private key is an EC key on curve %s; Alibaba Cloud CAS/ALB accept ECDSA on '
                                 'P-256 and P-384 only (or RSA)' % key.curve.name)
    elif not isinstance(key, rsa.RSAPrivateKey):
        raise CertpilotError('The private key is a %s key, but Alibaba Cloud CAS/ALB accept RSA or ECDSA (P-256, P-384) '
                             'only: issue an RSA or ECDSA certificate' % key.__class__.__name__.replace('PrivateKey', '').lstrip('_'))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def carries_key(cert):
        return cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo) == public
    leaf = next((c for c in certs if carries_key(c)), None)
    if leaf is None:
        raise CertpilotError('The private key does not match the certificate (no certificate in the chain carries '
                             'its public key): check that certificate and key belong together')
    chain = order_chain(certs, leaf)
    reordered = [id(c) for c in chain] != [id(c) for c in certs]
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode('ascii')
    converted = b'BEGIN RSA PRIVATE KEY' not in x509lib.to_bytes(key_data) and b'BEGIN EC PRIVATE KEY' not in x509lib.to_bytes(key_data)
    prepared = PreparedCertificate(chain, key_pem, converted, reordered)
    prepared.key_type = 'RSA' if isinstance(key, rsa.RSAPrivateKey) else 'ECDSA'
    return prepared

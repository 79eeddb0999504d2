# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""common/x509: load/split PEM, validity, fingerprint, names, key match."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

UTC = datetime.timezone.utc


def _cert(cn, sans=(), key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    start = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(start)
               .not_valid_after(start + datetime.timedelta(days=90)))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return builder.sign(key, hashes.SHA256()), key


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def test_load_certificates_keeps_order_and_ignores_keys():
    one, key = _cert('one.example.test')
    two, dummy = _cert('two.example.test')
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    bundle = (_pem(one) + key_pem + _pem(two)).decode('ascii')   # str input works too
    certs = x509lib.load_certificates(bundle)
    assert [c.subject for c in certs] == [one.subject, two.subject]
    assert len(x509lib.pem_certificate_blocks(bundle)) == 2


def test_load_certificates_errors_name_what_was_read():
    with pytest.raises(CertpilotError) as info:
        x509lib.load_certificates(b'not a certificate', what='fullchain.pem')
    assert info.value.msg == 'fullchain.pem contains no PEM "BEGIN CERTIFICATE" block'
    with pytest.raises(CertpilotError) as info:
        x509lib.load_certificates(b'-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', what='chain.pem')
    assert info.value.msg.startswith('certificate #1 of chain.pem is not a valid PEM certificate')


def test_validity_fingerprint_names_and_key_match():
    cert, key = _cert('www.example.test', sans=['www.example.test', 'example.test'])
    other, dummy = _cert('other.example.test')
    assert x509lib.not_before(cert) == datetime.datetime(2026, 1, 1, tzinfo=UTC)
    assert x509lib.not_after(cert) == datetime.datetime(2026, 4, 1, tzinfo=UTC)
    der = cert.public_bytes(serialization.Encoding.DER)
    assert x509lib.fingerprint_sha256(cert) == hashlib.sha256(der).hexdigest()
    assert x509lib.dns_names(cert) == ['www.example.test', 'example.test']
    assert x509lib.dns_names(other) == []
    assert x509lib.matches_key(cert, key) and not x509lib.matches_key(other, key)
    assert x509lib.public_key_der(cert.public_key()) == x509lib.public_key_der(key.public_key()) == (
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert x509lib.public_key_der(other.public_key()) != x509lib.public_key_der(key.public_key())

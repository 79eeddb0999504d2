# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/certificate.py: PEM chains from the CA, their names, key match and chain order, on real certificates."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import certificate as certlib
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import generate_private_key

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)

pytestmark = pytest.mark.timeout(60)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer, key, signer, sans=None):
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=90)))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope='module')
def chain():
    root_key, inter_key, leaf_key = (generate_private_key('ec256') for _i in range(3))
    root = _cert('Root X', 'Root X', root_key, root_key)
    inter = _cert('Intermediate E', 'Root X', inter_key, root_key)
    import ipaddress
    leaf = _cert('www.example.com', 'Intermediate E', leaf_key, inter_key,
                 [x509.DNSName('WWW.example.com'), x509.IPAddress(ipaddress.ip_address('192.0.2.1'))])
    return {'leaf': leaf, 'inter': inter, 'root': root, 'leaf_key': leaf_key, 'inter_key': inter_key}


def test_split_pem_chain_keeps_the_order(chain):
    pem = b''.join(certlib.cert_pem(chain[k]) for k in ('leaf', 'inter'))
    certs = certlib.split_pem_chain(b'garbage before\n' + pem + b'trailing\n')
    assert [c.serial_number for c in certs] == [chain['leaf'].serial_number, chain['inter'].serial_number]
    assert certlib.split_pem_chain(pem.decode('ascii'))[0] == chain['leaf']


@pytest.mark.parametrize('data, match', [
    (b'', 'no PEM certificate'),
    (b'-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'invalid certificate'),
])
def test_split_pem_chain_refuses_garbage(data, match):
    with pytest.raises(CertpilotError, match=match):
        certlib.split_pem_chain(data)


def test_load_cert_is_none_for_nothing_or_garbage(chain):
    assert certlib.load_cert(None) is None and certlib.load_cert(b'not a certificate') is None
    assert certlib.load_cert(certlib.cert_pem(chain['leaf'])) == chain['leaf']


def test_identifiers_key_match_fingerprint(chain):
    assert certlib.cert_identifiers(chain['leaf']) == [{'type': 'dns', 'value': 'www.example.com'},
                                                       {'type': 'ip', 'value': '192.0.2.1'}]
    assert certlib.cert_identifiers(chain['root']) == []
    # One SHA-256 fingerprint helper for the whole collection: common/x509.fingerprint_sha256.
    assert not hasattr(certlib, 'fingerprint_sha256')


def test_chain_names_and_order(chain):
    assert certlib.chain_names([chain['leaf'], chain['inter']]) == ['Intermediate E', 'Root X']
    assert certlib.chain_names([chain['leaf']]) == ['Intermediate E']
    certlib.check_chain_order([chain['leaf'], chain['inter'], chain['root']])
    with pytest.raises(CertpilotError, match='out of order: CN=www.example.com is not issued by CN=Root X'):
        certlib.check_chain_order([chain['leaf'], chain['root'], chain['inter']])

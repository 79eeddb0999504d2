# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

import pytest
from cryptography.hazmat.primitives import serialization

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import pem
from ansible_collections.certpilot.tls.plugins.module_utils.common import x509 as x509lib
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope='module')
def issued(mini_ca):
    cert, key = mini_ca.issue('www.unit.example.test', sans=['www.unit.example.test', 'unit.example.test'])
    return cert, key


def test_pkcs8_is_converted_to_pkcs1_with_the_same_key(mini_ca, issued):
    from slb_api.certs import key_pem
    cert, key = issued
    pkcs8 = key_pem(key, 'pkcs8')
    assert 'BEGIN PRIVATE KEY' in pkcs8
    prepared = pem.prepare(mini_ca.fullchain(cert), pkcs8)
    assert prepared.key_pem.startswith('-----BEGIN RSA PRIVATE KEY-----')
    assert prepared.key_converted is True
    again = serialization.load_pem_private_key(prepared.key_pem.encode(), None)
    assert again.private_numbers() == key.private_numbers()


def test_pkcs1_input_is_not_marked_converted(mini_ca, issued):
    from slb_api.certs import key_pem
    cert, key = issued
    prepared = pem.prepare(mini_ca.fullchain(cert), key_pem(key, 'pkcs1'))
    assert prepared.key_converted is False
    assert prepared.fingerprint == ':'.join('%02x' % b for b in cert.fingerprint(__import__(
        'cryptography.hazmat.primitives.hashes', fromlist=['SHA1']).SHA1()))
    assert re.match(r'^([0-9a-f]{2}:){19}[0-9a-f]{2}$', prepared.fingerprint)
    assert prepared.common_name == 'www.unit.example.test'
    assert prepared.subject_alternative_names == ['www.unit.example.test', 'unit.example.test']


def test_ec_key_refused_with_rsa_advice(mini_ca):
    from slb_api.certs import key_pem
    cert, key = mini_ca.issue('ec.unit.example.test', kind='ec')
    with pytest.raises(CertpilotError) as info:
        pem.prepare(mini_ca.fullchain(cert), key_pem(key, 'pkcs8'))
    assert 'EC' in info.value.msg and 'RSA' in info.value.msg


def test_mismatched_key_refused(mini_ca, issued):
    from slb_api.certs import key_pem, new_key
    cert, dummy = issued
    with pytest.raises(CertpilotError) as info:
        pem.prepare(mini_ca.fullchain(cert), key_pem(new_key()))
    assert 'does not match' in info.value.msg


def test_chain_is_put_in_order_without_blank_lines(mini_ca, issued):
    from slb_api.certs import cert_pem, key_pem
    cert, key = issued
    messy = cert_pem(mini_ca.intermediate) + '\n\n' + cert_pem(cert) + '\n'
    prepared = pem.prepare(messy, key_pem(key))
    assert prepared.reordered is True
    blocks = re.findall(r'-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----', prepared.cert_pem, re.S)
    assert [b.strip() for b in blocks] == [cert_pem(cert).strip(), cert_pem(mini_ca.intermediate).strip()]
    assert '\n\n' not in prepared.cert_pem


def test_unrelated_certificate_in_chain_refused(mini_ca, issued):
    from slb_api.certs import MiniCa, cert_pem, key_pem
    cert, key = issued
    other = MiniCa('Other')
    with pytest.raises(CertpilotError) as info:
        pem.prepare(cert_pem(cert) + cert_pem(other.intermediate), key_pem(key))
    assert 'chain is broken' in info.value.msg


def test_encrypted_key_refused_without_echoing_it(issued, mini_ca):
    cert, key = issued
    enc = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b'pw')).decode()
    with pytest.raises(CertpilotError) as info:
        pem.prepare(mini_ca.fullchain(cert), enc)
    assert 'encrypted' in info.value.msg and enc.splitlines()[1] not in info.value.msg


def test_garbage_key_message_has_no_key_material(issued, mini_ca):
    cert, dummy = issued
    garbage = '-----BEGIN PRIVATE KEY-----\nTOPSECRETBYTESAAAA\n-----END PRIVATE KEY-----\n'
    with pytest.raises(CertpilotError) as info:
        pem.prepare(mini_ca.fullchain(cert), garbage)
    assert 'TOPSECRET' not in info.value.msg


def test_no_certificate():
    with pytest.raises(CertpilotError) as info:
        pem.prepare('hello', 'world')
    assert 'BEGIN CERTIFICATE' in info.value.msg


@pytest.mark.parametrize('raw', ['*.example.com-20260301', 'www.example.com-20260301', '1.example.com', 'a b/c', '', '-' * 200])
def test_sanitize_name_follows_rules(raw):
    name = pem.sanitize_name(raw)
    assert re.match(r'^[A-Za-z][A-Za-z0-9._-]{0,79}$', name), name
    assert '*' not in name


def test_default_name_is_cn_and_expiry(mini_ca, issued):
    cert, dummy = issued
    name = pem.default_name(cert)
    assert name == 'www.unit.example.test-%s' % x509lib.not_after(cert).strftime('%Y%m%d')
    wild, dummy = mini_ca.issue('*.wild.example.test')
    assert pem.default_name(wild).startswith('wildcard.wild.example.test-')

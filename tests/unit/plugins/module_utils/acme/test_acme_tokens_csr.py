# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

import pytest
from cryptography import x509

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import csr as csrlib
from ansible_collections.certpilot.tls.plugins.module_utils.acme.order_runner import normalize_certificates
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import generate_private_key
from ansible_collections.certpilot.tls.plugins.module_utils.acme.orders import challenge_entry
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey, b64u
from ansible_collections.certpilot.tls.plugins.module_utils.acme.validation import validate_name, validate_token


@pytest.mark.parametrize('token', ['abc', 'A-b_9' * 10])
def test_good_tokens(token):
    assert validate_token(token) == token


@pytest.mark.parametrize('token', ['../../etc/passwd', 'a/b', 'a.b', '', 'a b', 'tok\n', None, 'é'])
def test_bad_tokens_are_rejected(token):
    with pytest.raises(CertpilotError, match='invalid challenge token'):
        validate_token(token)


@pytest.mark.parametrize('name', ['..', '.hidden', '../x', 'a/b', '', '-x', 'x y', 'name\n'])
def test_bad_names(name):
    with pytest.raises(CertpilotError, match='invalid certificate name'):
        validate_name(name)


def test_identifiers_dns_ip_wildcard():
    idents = csrlib.parse_identifiers(['WWW.Example.com.', '127.42.0.11', '2001:db8::1', 'www.example.com'])
    assert idents == [{'type': 'dns', 'value': 'www.example.com'}, {'type': 'ip', 'value': '127.42.0.11'},
                      {'type': 'ip', 'value': '2001:db8::1'}]
    with pytest.raises(CertpilotError, match='dns-01'):
        csrlib.parse_identifiers(['*.example.com'])
    assert csrlib.parse_identifiers(['*.example.com'], 'dns-01') == [{'type': 'dns', 'value': '*.example.com'}]
    with pytest.raises(CertpilotError, match='cannot use dns-01'):
        csrlib.parse_identifiers(['10.0.0.1'], 'dns-01')
    for bad in ['exa mple.com', '-bad.com', 'a..b', 'x' * 64 + '.com']:
        with pytest.raises(CertpilotError, match='invalid domain'):
            csrlib.parse_identifiers([bad])


def test_csr_carries_every_identifier():
    key = generate_private_key('ec256')
    idents = csrlib.parse_identifiers(['a.example.com', 'b.example.com', '127.42.0.11'])
    pem = csrlib.make_csr(key, idents)
    csr = x509.load_pem_x509_csr(pem)
    assert csr.is_signature_valid
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ['a.example.com', 'b.example.com']
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address('127.42.0.11')]
    assert csrlib.identifier_key(csrlib.csr_identifiers(pem)) == csrlib.identifier_key(idents)


def test_normalize_certificates_validates_up_front():
    specs = normalize_certificates([{'name': 'a', 'domains': ['a.example.com']}])
    assert specs[0]['key_type'] == 'ec256' and specs[0]['challenge'] == 'http-01' and specs[0]['reuse_key'] is False
    with pytest.raises(CertpilotError, match='used twice'):
        normalize_certificates([{'name': 'a', 'domains': ['a.example.com']}, {'name': 'a', 'domains': ['b.example.com']}])
    with pytest.raises(CertpilotError, match='^w: .*dns-01'):
        normalize_certificates([{'name': 'w', 'domains': ['*.example.com']}])
    with pytest.raises(CertpilotError, match='key_type'):
        normalize_certificates([{'name': 'k', 'domains': ['a.example.com'], 'key_type': 'dsa'}])


def test_challenge_entry():
    key = AcmeKey.generate('ec256')
    authz = {'identifier': {'type': 'dns', 'value': 'example.com'}, 'wildcard': True}
    entry = challenge_entry('c', authz, {'type': 'dns-01', 'token': 'tok_1', 'url': 'u'}, key)
    assert entry['identifier'] == '*.example.com'
    assert entry['key_authorization'] == 'tok_1.' + key.thumbprint
    assert entry['path'] == '.well-known/acme-challenge/tok_1'
    assert entry['dns_record'] == '_acme-challenge.example.com'
    import hashlib
    assert entry['dns_value'] == b64u(hashlib.sha256(entry['key_authorization'].encode()).digest())
    with pytest.raises(CertpilotError):
        challenge_entry('c', authz, {'type': 'http-01', 'token': '../x', 'url': 'u'}, key)

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/csr.py: identifiers (dns, ip, wildcard) and the CSR that asks for them."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

import pytest
from cryptography import x509

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import csr as csrlib
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import generate_private_key


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


def test_identifier_key_is_order_independent():
    a = [{'type': 'dns', 'value': 'b.example'}, {'type': 'ip', 'value': '192.0.2.1'}]
    assert csrlib.identifier_key(a) == csrlib.identifier_key(list(reversed(a))) == [('dns', 'b.example'), ('ip', '192.0.2.1')]


def test_a_stored_csr_that_is_not_one_is_a_clear_error():
    with pytest.raises(CertpilotError, match='stored CSR is not valid'):
        csrlib.csr_der(b'-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n')

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common import key_material as km

BODY = b'MC4CAQAwBQYDK2VwBCIEIJ0jR0pGZ2ZpY2VydHBpbG90a2V5Ym9keTAxMjM0NTY3'


@pytest.mark.parametrize('label', ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY',
                                   'ENCRYPTED PRIVATE KEY', 'OPENSSH PRIVATE KEY'])
def test_every_private_key_label_is_found(label):
    pem = b'-----BEGIN ' + label.encode() + b'-----\n' + BODY + b'\n-----END ' + label.encode() + b'-----\n'
    assert km.holds_private_key(pem) and km.holds_private_key(pem.decode())
    blocks = km.private_key_blocks(b'-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' + pem)
    assert [(b[0], b[2]) for b in blocks] == [(label, BODY)]
    assert BODY.decode() in km.secret_strings(pem)


def test_certificates_and_plain_text_are_not_keys():
    assert not km.holds_private_key(b'-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
    assert not km.holds_private_key('server { listen 443; }')
    assert not km.holds_private_key(None)


def test_truncated_key_still_counts():
    assert km.holds_private_key(b'-----BEGIN RSA PRIVATE KEY-----\nMIIEow')


def test_headers_are_not_part_of_the_body():
    pem = (b'-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n'
           + BODY + b'\n-----END RSA PRIVATE KEY-----\n')
    assert km.private_key_blocks(pem)[0][2] == BODY

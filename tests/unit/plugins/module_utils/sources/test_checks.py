# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ansible_collections.certpilot.tls.plugins.module_utils.sources import checks
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import DAY, NOW, issue


def test_key_strength():
    assert checks.key_problem(rsa.generate_private_key(65537, 2048)) is None
    assert 'fewer than the 2048' in checks.key_problem(rsa.generate_private_key(65537, 1024))
    assert 'fewer than the 3072' in checks.key_problem(rsa.generate_private_key(65537, 2048), min_rsa_bits=3072)
    assert checks.key_problem(ec.generate_private_key(ec.SECP384R1())) is None
    assert 'secp256k1' in checks.key_problem(ec.generate_private_key(ec.SECP256K1()))
    assert 'ed25519 is not accepted' in checks.key_problem(ed25519.Ed25519PrivateKey.generate())
    assert checks.key_description(ec.generate_private_key(ec.SECP256R1())) == 'ec-secp256r1'


def test_names_with_wildcards_and_ips():
    cert = issue('x', dns=['*.example.test', 'example.test'], ips=['192.0.2.7']).cert
    assert checks.name_problem(cert, ['www.example.test', 'example.test', '192.0.2.7']) is None
    problem = checks.name_problem(cert, ['a.b.example.test', 'other.test'])
    assert 'does not cover a.b.example.test, other.test' in problem
    assert checks.names(cert) == (['*.example.test', 'example.test'], ['192.0.2.7'])
    assert 'no subjectAltName' in checks.name_problem(issue('nosan', san=False).cert, [])


def test_validity():
    cert = issue('v', dns=['v.test'], not_before=NOW - DAY, not_after=NOW + 10 * DAY).cert
    assert checks.validity_problem(cert, NOW) is None
    assert 'fewer than min_days_remaining=14' in checks.validity_problem(cert, NOW, 14)
    assert 'expired at' in checks.validity_problem(cert, NOW + 11 * DAY)
    assert 'not valid before' in checks.validity_problem(cert, NOW - 2 * DAY)

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import jws


def _decode(part):
    return json.loads(jws.b64u_decode(part).decode('utf-8'))


def test_rfc7638_thumbprint_example():
    # RFC 7638 section 3.1
    jwk = {
        'kty': 'RSA', 'e': 'AQAB', 'alg': 'RS256', 'kid': '2011-04-29',
        'n': ('0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4'
              'n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0z'
              'gdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF'
              'Cur-kEgU8awapJzKnqDKgw'),
    }
    assert jws.jwk_thumbprint(jwk) == 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'


@pytest.mark.parametrize('key_type,alg,size', [('ec256', 'ES256', 64), ('ec384', 'ES384', 96), ('rsa2048', 'RS256', 256)])
def test_signatures_verify_with_cryptography(key_type, alg, size):
    key = jws.AcmeKey.generate(key_type)
    assert key.alg == alg
    body = jws.sign_jws(key, {'hello': 'world'}, 'https://ca/x', nonce='abc', kid='https://ca/acct/1')
    protected = _decode(body['protected'])
    assert protected == {'alg': alg, 'url': 'https://ca/x', 'nonce': 'abc', 'kid': 'https://ca/acct/1'}
    assert _decode(body['payload']) == {'hello': 'world'}
    signing_input = ('%s.%s' % (body['protected'], body['payload'])).encode('ascii')
    sig = jws.b64u_decode(body['signature'])
    assert len(sig) == size
    public = key.key.public_key()
    if alg.startswith('ES'):
        half = size // 2
        der = encode_dss_signature(int.from_bytes(sig[:half], 'big'), int.from_bytes(sig[half:], 'big'))
        public.verify(der, signing_input, ec.ECDSA(hashes.SHA256() if alg == 'ES256' else hashes.SHA384()))
    else:
        public.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())
    # tampering is detected (the test can fail)
    with pytest.raises(Exception):
        if alg.startswith('ES'):
            public.verify(der, signing_input + b'x', ec.ECDSA(hashes.SHA256() if alg == 'ES256' else hashes.SHA384()))
        else:
            public.verify(sig, signing_input + b'x', padding.PKCS1v15(), hashes.SHA256())


def test_jwk_mode_and_post_as_get():
    key = jws.AcmeKey.generate('ec256')
    body = jws.sign_jws(key, None, 'https://ca/new-acct', nonce='n1')
    protected = _decode(body['protected'])
    assert protected['jwk'] == key.jwk and 'kid' not in protected
    assert body['payload'] == ''
    numbers = key.key.public_key().public_numbers()
    assert int.from_bytes(jws.b64u_decode(key.jwk['x']), 'big') == numbers.x
    assert len(jws.b64u_decode(key.jwk['y'])) == 32


def test_rsa_key_sizes_and_foreign_curves_are_refused():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(CertpilotError, match='2048 to 4096'):
        jws.AcmeKey(small)
    with pytest.raises(CertpilotError, match='curve'):
        jws.AcmeKey(ec.generate_private_key(ec.SECP521R1()))


def test_load_key_errors_do_not_leak_and_passphrase_works():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b'secret'))
    loaded = jws.AcmeKey.from_pem(pem, 'secret')
    assert loaded.jwk['crv'] == 'P-256'
    with pytest.raises(CertpilotError) as err:
        jws.AcmeKey.from_pem(pem, 'wrong')
    assert 'passphrase' in err.value.msg
    with pytest.raises(CertpilotError) as err:
        jws.AcmeKey.from_pem(b'-----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n-----END PRIVATE KEY-----\n')
    assert 'SECRETSTUFF' not in err.value.msg


@pytest.mark.parametrize('alg,digest', [('HS256', hashlib.sha256), ('HS384', hashlib.sha384), ('HS512', hashlib.sha512)])
def test_eab_hmac(alg, digest):
    account = jws.AcmeKey.generate('ec256')
    secret = b'\x01\x02 external secret \xff'
    body = jws.eab_jws(account.jwk, 'kid-1', jws.b64u(secret), 'https://ca/new-acct', alg)
    assert _decode(body['protected']) == {'alg': alg, 'kid': 'kid-1', 'url': 'https://ca/new-acct'}
    assert _decode(body['payload']) == account.jwk
    expected = hmac.new(secret, ('%s.%s' % (body['protected'], body['payload'])).encode(), digest).digest()
    assert jws.b64u_decode(body['signature']) == expected
    with pytest.raises(CertpilotError, match='unsupported'):
        jws.eab_jws(account.jwk, 'kid-1', jws.b64u(secret), 'https://ca/new-acct', 'HS1')


def test_rollover_inner_jws_structure():
    old, new = jws.AcmeKey.generate('ec256'), jws.AcmeKey.generate('rsa2048')
    inner = jws.key_change_inner(new, 'https://ca/acct/7', old, 'https://ca/key-change')
    protected = _decode(inner['protected'])
    assert protected == {'alg': 'RS256', 'jwk': new.jwk, 'url': 'https://ca/key-change'}
    assert 'nonce' not in protected and 'kid' not in protected
    assert _decode(inner['payload']) == {'account': 'https://ca/acct/7', 'oldKey': old.jwk}
    new.key.public_key().verify(jws.b64u_decode(inner['signature']),
                                ('%s.%s' % (inner['protected'], inner['payload'])).encode(),
                                padding.PKCS1v15(), hashes.SHA256())

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keys, JWK, RFC 7638 thumbprints and JWS signing (RFC 7515/7518) for ACME."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import hmac
import json

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the modules
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = _exc

KEY_TYPES = ('ec256', 'ec384', 'rsa2048', 'rsa3072', 'rsa4096')
HMAC_ALGS = {'HS256': hashlib.sha256, 'HS384': hashlib.sha384, 'HS512': hashlib.sha512}


def b64u(data):
    """base64url without padding (RFC 7515 section 2)."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def b64u_decode(text):
    if isinstance(text, bytes):
        text = text.decode('ascii')
    text = text.strip()
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def _int_bytes(value, length=None):
    if length is None:
        length = max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(length, 'big')


def json_bytes(obj):
    return json.dumps(obj, separators=(',', ':'), sort_keys=True).encode('utf-8')


def generate_private_key(key_type):
    """A new private key object for ``key_type`` (one of KEY_TYPES)."""
    if key_type == 'ec256':
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == 'ec384':
        return ec.generate_private_key(ec.SECP384R1())
    if key_type in ('rsa2048', 'rsa3072', 'rsa4096'):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    raise CertpilotError('unsupported key type %r; use one of %s' % (key_type, ', '.join(KEY_TYPES)))


def private_key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def key_type_of(key):
    """The KEY_TYPES name of a private or public key, or a descriptive string."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return {'secp256r1': 'ec256', 'secp384r1': 'ec384'}.get(key.curve.name, 'ec-%s' % key.curve.name)
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return 'rsa%d' % key.key_size
    return type(key).__name__


def load_private_key(data, passphrase=None, what='key'):
    """Load a PEM (or DER) private key; a clear CertpilotError when it cannot be used."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    if isinstance(passphrase, str):
        passphrase = passphrase.encode('utf-8')
    try:
        if b'-----BEGIN' in data:
            return serialization.load_pem_private_key(data, password=passphrase or None)
        return serialization.load_der_private_key(data, password=passphrase or None)
    except TypeError as exc:
        raise CertpilotError('cannot load %s: %s (wrong or missing passphrase?)' % (what, exc))
    except (ValueError, Exception) as exc:  # cryptography raises several types; never leak key bytes
        raise CertpilotError('cannot load %s: not a valid private key or wrong passphrase (%s)'
                             % (what, type(exc).__name__))


class AcmeKey:
    """A private key able to sign ACME JWS: ES256, ES384 or RS256."""

    def __init__(self, key):
        self.key = key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            name = key.curve.name
            if name == 'secp256r1':
                self.alg, self._hash, self._size, crv = 'ES256', hashes.SHA256(), 32, 'P-256'
            elif name == 'secp384r1':
                self.alg, self._hash, self._size, crv = 'ES384', hashes.SHA384(), 48, 'P-384'
            else:
                raise CertpilotError('unsupported EC curve %s for an ACME key; use P-256 or P-384' % name)
            numbers = key.public_key().public_numbers()
            self.jwk = {'kty': 'EC', 'crv': crv,
                        'x': b64u(_int_bytes(numbers.x, self._size)),
                        'y': b64u(_int_bytes(numbers.y, self._size))}
        elif isinstance(key, rsa.RSAPrivateKey):
            if not 2048 <= key.key_size <= 4096:
                raise CertpilotError('RSA key size %d is not supported for an ACME key; use 2048 to 4096 bits'
                                     % key.key_size)
            self.alg, self._hash = 'RS256', hashes.SHA256()
            numbers = key.public_key().public_numbers()
            self.jwk = {'kty': 'RSA', 'e': b64u(_int_bytes(numbers.e)), 'n': b64u(_int_bytes(numbers.n))}
        else:
            raise CertpilotError('unsupported key type %s for an ACME key; use EC P-256/P-384 or RSA'
                                 % type(key).__name__)
        self.key_type = key_type_of(key)
        self.thumbprint = jwk_thumbprint(self.jwk)

    @classmethod
    def from_pem(cls, data, passphrase=None, what='account key'):
        return cls(load_private_key(data, passphrase, what))

    @classmethod
    def generate(cls, key_type):
        return cls(generate_private_key(key_type))

    def to_pem(self):
        return private_key_pem(self.key)

    def sign(self, data):
        """Signature bytes over ``data`` as JWS wants them (raw r||s for ECDSA)."""
        if self.alg == 'RS256':
            return self.key.sign(data, padding.PKCS1v15(), self._hash)
        der = self.key.sign(data, ec.ECDSA(self._hash))
        r, s = decode_dss_signature(der)
        return _int_bytes(r, self._size) + _int_bytes(s, self._size)

    def key_authorization(self, token):
        return '%s.%s' % (token, self.thumbprint)


def jwk_thumbprint(jwk):
    """RFC 7638 thumbprint (SHA-256, base64url) of a public JWK."""
    if jwk.get('kty') == 'EC':
        members = {'crv': jwk['crv'], 'kty': 'EC', 'x': jwk['x'], 'y': jwk['y']}
    elif jwk.get('kty') == 'RSA':
        members = {'e': jwk['e'], 'kty': 'RSA', 'n': jwk['n']}
    else:
        raise CertpilotError('unsupported JWK type %r' % jwk.get('kty'))
    return b64u(hashlib.sha256(json_bytes(members)).digest())


def sign_jws(key, payload, url, nonce=None, kid=None):
    """A flattened JWS (RFC 8555 section 6.2).

    ``payload`` None means POST-as-GET (empty payload). With ``kid`` the
    protected header names the account, otherwise it embeds the ``jwk``.
    ``nonce`` None leaves the nonce out (inner key-change JWS).
    """
    protected = {'alg': key.alg, 'url': url}
    if nonce is not None:
        protected['nonce'] = nonce
    if kid:
        protected['kid'] = kid
    else:
        protected['jwk'] = key.jwk
    protected64 = b64u(json_bytes(protected))
    payload64 = '' if payload is None else b64u(json_bytes(payload))
    signature = key.sign(('%s.%s' % (protected64, payload64)).encode('ascii'))
    return {'protected': protected64, 'payload': payload64, 'signature': b64u(signature)}


def eab_jws(account_jwk, eab_kid, hmac_key_b64u, url, alg='HS256'):
    """External Account Binding JWS (RFC 8555 section 7.3.4)."""
    if alg not in HMAC_ALGS:
        raise CertpilotError('unsupported external account binding alg %r; use one of %s'
                             % (alg, ', '.join(sorted(HMAC_ALGS))))
    try:
        secret = b64u_decode(hmac_key_b64u)
    except (ValueError, TypeError):
        raise CertpilotError('the external account binding key is not valid base64url')
    if not secret:
        raise CertpilotError('the external account binding key is empty')
    protected64 = b64u(json_bytes({'alg': alg, 'kid': eab_kid, 'url': url}))
    payload64 = b64u(json_bytes(account_jwk))
    mac = hmac.new(secret, ('%s.%s' % (protected64, payload64)).encode('ascii'), HMAC_ALGS[alg]).digest()
    return {'protected': protected64, 'payload': payload64, 'signature': b64u(mac)}


def key_change_inner(new_key, account_url, old_key, key_change_url):
    """Inner JWS of a key rollover (RFC 8555 section 7.3.5): signed by the new key, no nonce."""
    return sign_jws(new_key, {'account': account_url, 'oldKey': old_key.jwk}, key_change_url, nonce=None, kid=None)

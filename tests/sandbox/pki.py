# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sandbox's local CA (cryptography): made once, kept across up/down."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

RENEW_BEFORE = datetime.timedelta(days=30)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def write_private(path, data):
    """Write secret bytes atomically with mode 0600."""
    tmp = '%s.tmp.%d' % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)


def write_public(path, data, mode=0o644):
    tmp = '%s.tmp.%d' % (path, os.getpid())
    with open(tmp, 'wb') as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_cert(path):
    try:
        with open(path, 'rb') as fh:
            return x509.load_pem_x509_certificate(fh.read())
    except (IOError, OSError, ValueError):
        return None


def _not_after(cert):
    try:
        return cert.not_valid_after_utc
    except AttributeError:  # cryptography < 42
        return cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


class LocalCA(object):
    """``<dir>/ca/ca.pem`` + ``ca.key``; issues server certs for the sandbox's TLS services."""

    def __init__(self, ca_dir):
        self.dir = ca_dir
        self.cert_path = os.path.join(ca_dir, 'ca.pem')
        self.key_path = os.path.join(ca_dir, 'ca.key')
        self._cert = None
        self._key = None

    def ensure(self):
        """Create the CA if missing or about to expire. Returns True when (re)created."""
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        cert = _load_cert(self.cert_path)
        key = None
        if cert is not None and os.path.exists(self.key_path) and _not_after(cert) - _now() > RENEW_BEFORE:
            with open(self.key_path, 'rb') as fh:
                key = serialization.load_pem_private_key(fh.read(), None)
            if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
                    cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
                self._cert, self._key = cert, key
                return False
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, u'certpilot sandbox'),
                          x509.NameAttribute(NameOID.COMMON_NAME, u'certpilot sandbox local CA')])
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder()
                .subject_name(name).issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        write_private(self.key_path, _key_pem(key))
        write_public(self.cert_path, cert.public_bytes(serialization.Encoding.PEM))
        self._cert, self._key = cert, key
        return True

    @property
    def cert(self):
        if self._cert is None:
            self.ensure()
        return self._cert

    def issue(self, cert_path, key_path, common_name, dns_names=(), ip_addresses=(), days=365):
        """Issue (or keep) a server cert; re-issued when missing, expiring, foreign-signed or SANs changed."""
        wanted = sorted(['dns:' + n for n in dns_names] + ['ip:' + i for i in ip_addresses])
        cert = _load_cert(cert_path)
        if cert is not None and os.path.exists(key_path):
            try:
                san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                have = sorted(['dns:' + n for n in san.get_values_for_type(x509.DNSName)]
                              + ['ip:' + str(i) for i in san.get_values_for_type(x509.IPAddress)])
                same_issuer = cert.issuer == self.cert.subject
                if same_issuer:
                    cert.verify_directly_issued_by(self.cert)
                if have == wanted and same_issuer and _not_after(cert) - _now() > RENEW_BEFORE:
                    return False
            except Exception:  # pylint: disable=broad-except  # any doubt: re-issue
                pass
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        sans = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ip_addresses]
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(self.cert.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                                  critical=False))
        cert = builder.sign(self._key, hashes.SHA256())
        write_private(key_path, _key_pem(key))
        write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return True


def ensure_ed25519(path, comment):
    """OpenSSH ed25519 key pair at ``path`` / ``path.pub`` (created once). Returns the public line."""
    if not (os.path.exists(path) and os.path.exists(path + '.pub')):
        key = ed25519.Ed25519PrivateKey.generate()
        priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                 serialization.NoEncryption())
        pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        write_private(path, priv)
        write_public(path + '.pub', pub + b' ' + comment.encode('ascii') + b'\n')
    with open(path + '.pub', 'r') as fh:
        return fh.read().strip()

"""Certificate helpers for the fake and the tests (test-side only)."""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def new_key(kind='rsa', bits=2048):
    if kind == 'ec':
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def key_pem(key, fmt='pkcs1'):
    fmt = {'pkcs1': serialization.PrivateFormat.TraditionalOpenSSL,
           'pkcs8': serialization.PrivateFormat.PKCS8}[fmt]
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode('ascii')


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')


def make_cert(cn, key, issuer_cert=None, issuer_key=None, sans=None, days=90, ca=False, not_before=None):
    now = not_before or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now)
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans is None and not ca:
        sans = [cn]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False)
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


class MiniCa:
    """Root -> intermediate -> leaf, for chain tests."""

    def __init__(self, name='Fake Test'):
        self.root_key = new_key()
        self.root = make_cert('%s Root' % name, self.root_key, ca=True, days=3650)
        self.int_key = new_key()
        self.intermediate = make_cert('%s Intermediate' % name, self.int_key, self.root, self.root_key, ca=True, days=1800)

    def issue(self, cn, sans=None, kind='rsa', days=90):
        key = new_key(kind)
        cert = make_cert(cn, key, self.intermediate, self.int_key, sans=sans, days=days)
        return cert, key

    def fullchain(self, cert):
        return cert_pem(cert) + cert_pem(self.intermediate)


def fingerprint_sha1(cert):
    return ':'.join('%02x' % b for b in cert.fingerprint(hashes.SHA1()))


def fingerprint_sha256(cert):
    return ':'.join('%02x' % b for b in cert.fingerprint(hashes.SHA256()))

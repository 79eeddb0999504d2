"""Helpers for tests of the fake SCM API: run it in-process, talk to its admin endpoints, make certificates."""

import datetime
import json
import tempfile
import threading
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .server import make_server


class InProcessFake:
    """The fake on a free loopback port, in a thread (plain HTTP). ``stop()`` when done."""

    def __init__(self, access_keys=None, state_file=None):
        self.workdir = tempfile.mkdtemp(prefix='fake-scm-test-')
        keys = access_keys or {'TESTAK': ('testsk', 'testdomain')}
        self.httpd = make_server('127.0.0.1:0', keys, state_file)
        self.fake = self.httpd.fake
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = 'http://127.0.0.1:%d' % self.httpd.server_address[1]
        self.admin = Admin(self.endpoint + '/_fake')

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Admin:
    """Client of the fake's ``/_fake/`` admin endpoints."""

    def __init__(self, admin_url, cafile=None):
        self.url = admin_url.rstrip('/')
        self.cafile = cafile

    def _req(self, method, name, payload=None):
        import ssl
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request('%s/%s' % (self.url, name), data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
        ctx = ssl.create_default_context(cafile=self.cafile) if self.url.startswith('https:') else None
        with urllib.request.urlopen(req, timeout=30, context=ctx) as resp:
            return json.loads(resp.read().decode())

    def state(self):
        return self._req('GET', 'state')

    def calls(self):
        return self._req('GET', 'calls')['calls']

    def seed(self, *certificates):
        return self._req('POST', 'seed', {'certificates': list(certificates)})['ids']

    def remove(self, *ids):
        return self._req('POST', 'remove', {'ids': list(ids)})

    def faults(self, **kwargs):
        return self._req('POST', 'faults', kwargs)

    def add_access_key(self, ak, sk, domain_id=None):
        return self._req('POST', 'access_keys', {'ak': ak, 'sk': sk, 'domain_id': domain_id})


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')


class TestCa:
    """A root and an intermediate (EC P-256) that issue leaves as CCM would export them."""

    __test__ = False  # not a pytest class

    def __init__(self, name='SCM fake test'):
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._cert('%s Root' % name, self.root_key, None, None, ca=True, days=3650)
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = self._cert('%s Intermediate' % name, self.int_key, self.root, self.root_key, ca=True,
                                       days=1800)

    @staticmethod
    def _cert(cn, key, issuer, issuer_key, ca=False, days=90, sans=None):
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (x509.CertificateBuilder().subject_name(name)
                   .issuer_name(issuer.subject if issuer is not None else name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in (sans or [cn])]),
                                            critical=False)
        return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())

    @property
    def root_pem(self):
        return _pem(self.root)

    def issue(self, cn, sans=None, days=90):
        """A CCM-style export: {'certificate', 'certificate_chain', 'private_key'} (PEM text) and the leaf."""
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = self._cert(cn, key, self.intermediate, self.int_key, sans=sans, days=days)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()).decode('ascii')
        return {'certificate': _pem(leaf), 'certificate_chain': _pem(self.intermediate), 'private_key': key_pem}, leaf

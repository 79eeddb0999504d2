"""pytest fixtures for tests against the fake CAS + ALB + CDN API (import them into a test module).

``alicloud``: the sandbox's ``services.alicloud_api`` when the sandbox runs it (HTTPS by host name,
``https://localhost:<port>/``, with the sandbox CA), otherwise a private HTTPS instance with a throwaway
CA, started for the test module (and stopped after it).
"""

import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from .testkit import Admin

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))


class AlicloudEndpoint:
    def __init__(self, endpoint, access_key, secret_key, region, ca_bundle, source):
        self.endpoint = endpoint
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.ca_bundle = ca_bundle
        self.admin = Admin(endpoint.rstrip('/') + '/_fake', cafile=ca_bundle)
        self.source = source

    def module_args(self, **extra):
        args = {'alicloud_access_key': self.access_key, 'alicloud_secret_key': self.secret_key,
                'alicloud_region': self.region, 'alicloud_cas_endpoint': self.endpoint,
                'alicloud_alb_endpoint': self.endpoint, 'alicloud_cdn_endpoint': self.endpoint,
                'alicloud_ca_bundle': self.ca_bundle}
        args.update(extra)
        return args


def _sandbox_record():
    path = os.environ.get('CERTPILOT_SANDBOX_JSON') or os.path.join(
        os.environ.get('CERTPILOT_SANDBOX_DIR') or os.path.join(REPO, '.sandbox'), 'sandbox.json')
    try:
        with open(path) as handle:
            record = json.load(handle).get('services', {}).get('alicloud_api')
    except (IOError, OSError, ValueError):
        return None
    if not record:
        return None
    try:
        Admin(record['endpoint'].rstrip('/') + '/_fake', cafile=record.get('ca_bundle')).state()
    except Exception:  # pylint: disable=broad-except
        return None
    return record


def _throwaway_tls(workdir):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'alicloud-fake.test')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost'),
                                                        x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(workdir, 'tls.pem'), os.path.join(workdir, 'tls.key')
    with open(cert_path, 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope='module')
def alicloud():
    record = _sandbox_record()
    if record:
        yield AlicloudEndpoint(record['endpoint'], record['access_key'], record['secret_key'], record['region'],
                               record['ca_bundle'], 'sandbox')
        return
    workdir = tempfile.mkdtemp(prefix='alicloud-itest-')
    cert_path, key_path = _throwaway_tls(workdir)
    ready = os.path.join(workdir, 'ready.json')
    secret = 'itest-secret-%d' % os.getpid()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, 'server.py'), '--listen', '127.0.0.1:0',
                             '--access-key', 'LTAIitestCas:%s' % secret, '--tls-cert', cert_path, '--tls-key', key_path,
                             '--ready-file', ready], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 20
    while not os.path.exists(ready):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError('the fake CAS+ALB API did not start')
        time.sleep(0.1)
    with open(ready) as handle:
        port = json.load(handle)['port']
    try:
        yield AlicloudEndpoint('https://localhost:%d/' % port, 'LTAIitestCas', secret, 'cn-hangzhou', cert_path, 'private')
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssh/push.py: one host's push and its served-certificate check (fingerprints, verify_served, a real TLS server)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import socket

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.ssh import push
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.ssh.ssh_unit_helpers import make_cert

pytestmark = pytest.mark.timeout(30)


def test_leaf_fingerprint_uses_first_certificate():
    pem1, _k1, fp1 = make_cert('a')
    pem2, _k2, _fp2 = make_cert('b')
    assert push.leaf_fingerprint(pem1 + pem2) == fp1
    assert push.leaf_fingerprint(b'no cert here') is None


def test_leaf_only_file_checks_the_leaf_only():
    leaf_pem, _key, leaf_fp = make_cert('leaf.example.test')
    _inter_pem, _k2, inter_fp = make_cert('Intermediate A')
    checks = push.verify_served([{'server_name': 'leaf.example.test', 'address': '10.0.0.1', 'port': 443}],
                                push.chain_fingerprints(leaf_pem), Deadline(5),
                                probe=lambda a, p, s, d: [leaf_fp, inter_fp], attempts=1)
    assert checks[0]['ok'] is True and checks[0]['served_chain_sha256'] == [inter_fp]


@pytest.fixture
def chain_server(tmp_path):
    """A real TLS server on 127.0.0.1 presenting a leaf and its issuer (a two-certificate chain file)."""
    import ssl
    import threading
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'Push Test CA')])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'localhost')]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(u'localhost')]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    chain_pem = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = str(tmp_path / 'chain.pem'), str(tmp_path / 'key.pem')
    with open(cert_path, 'wb') as handle:
        handle.write(chain_pem)
    with open(key_path, 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(8)
    stop = []

    def serve():
        while not stop:
            try:
                conn, _addr = sock.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass
    thread = threading.Thread(target=serve)
    thread.daemon = True
    thread.start()
    try:
        yield sock.getsockname()[1], chain_pem
    finally:
        stop.append(True)
        sock.close()


def test_served_chain_reads_the_whole_presented_chain_by_host_name(chain_server):
    port, chain_pem = chain_server
    expected = push.chain_fingerprints(chain_pem)
    assert len(expected) == 2
    assert push.served_chain('localhost', port, 'localhost', Deadline(10)) == expected
    checks = push.verify_served([{'server_name': 'localhost', 'address': 'localhost', 'port': port}], expected,
                                Deadline(10), attempts=1)
    assert checks[0]['ok'] is True, checks


def test_verify_that_cannot_run_fails_closed(chain_server):
    port, chain_pem = chain_server
    expected = push.chain_fingerprints(chain_pem)
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more: connection refused
    endpoints = [{'server_name': 'localhost', 'address': 'no-such-host.invalid', 'port': port},
                 {'server_name': 'localhost', 'address': '127.0.0.1', 'port': closed_port}]
    checks = push.verify_served(endpoints, expected, Deadline(20), attempts=2)
    assert [c['ok'] for c in checks] == [False, False]
    assert all('TLS handshake failed' in c['error'] for c in checks), checks

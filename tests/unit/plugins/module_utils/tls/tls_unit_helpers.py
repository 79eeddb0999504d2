# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates and tiny loopback servers for the tls module_utils unit tests (imported by conftest and tests)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress
import socket
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = datetime.timezone.utc
NOW = datetime.datetime.now(UTC).replace(microsecond=0)
DAY = datetime.timedelta(days=1)


class Issued:
    def __init__(self, cert, key):
        self.cert = cert
        self.key = key
        self.der = cert.public_bytes(serialization.Encoding.DER)
        self.pem = cert.public_bytes(serialization.Encoding.PEM)
        self.key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())


def issue(cn, issuer=None, ca=False, dns=(), ips=(), not_before=None, not_after=None, key=None, san=True,
          plain=False):
    """A certificate; ``plain`` leaves out key identifiers, keyUsage and EKU (as many internal PKIs do)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer = issuer.key if issuer else key
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.cert.subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - DAY).not_valid_after(not_after or NOW + 90 * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not plain:
        builder = (builder
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                                  critical=False))
    if plain:
        if not ca:
            names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            if san and names:
                builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    elif ca:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                                        critical=True)
    else:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                        critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if san and names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(signer, hashes.SHA256()), key)


class PKI:
    def __init__(self):
        self.root = issue('unit root', ca=True, not_before=NOW - 100 * DAY, not_after=NOW + 3000 * DAY)
        self.inter = issue('unit intermediate', issuer=self.root, ca=True, not_before=NOW - 50 * DAY,
                           not_after=NOW + 1000 * DAY)
        self.old_inter = issue('unit old intermediate', issuer=self.root, ca=True, not_before=NOW - 50 * DAY,
                               not_after=NOW - 2 * DAY)

    def leaf(self, name='www.unit.test', issuer=None, **kw):
        kw.setdefault('dns', [name])
        return issue(name, issuer=issuer or self.inter, **kw)


class TinyServer:
    """A loopback server running ``script(conn)`` for every connection, in a thread."""

    def __init__(self, script, host='127.0.0.1'):
        self.script = script
        self.sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.errors = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(5)
            self.script(conn)
        except Exception as exc:  # noqa: BLE001 - recorded for the test to inspect
            self.errors.append(exc)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


def server_tls_context(tmp_path, chain, key_pem):
    cert_path = tmp_path / 'chain.pem'
    key_path = tmp_path / 'key.pem'
    cert_path.write_bytes(b''.join(c.pem for c in chain))
    key_path.write_bytes(key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert_path), str(key_path))
    return ctx

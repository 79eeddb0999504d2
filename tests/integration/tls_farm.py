# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A farm of real TLS endpoints for the tls_expiry_facts tests and benchmark.

Certificates are generated here with cryptography; one private nginx instance
(own prefix, conf, pid, logs, under a temp dir, started with ``nginx -p -c``)
serves every case as an SNI name on one port of a 127.43.x.y address, plus an
IP-SAN certificate on a second address. Side servers: an SMTP STARTTLS endpoint
(aiosmtpd), a closed port, a tarpit that accepts and never answers, and a
listener that never accepts (full backlog).

Every ``Case`` keeps the certificates it serves, so tests derive their expected
values from what was generated, not from hard-coded numbers.

CLI (for manual runs): ``python tls_farm.py up --filler 100`` prints the endpoints as JSON
and keeps running until interrupted.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = datetime.timezone.utc
NGINX = shutil.which('nginx') or '/usr/sbin/nginx'
DOMAIN = 'farm.test'


def _die_with_parent():
    """In the child before exec: SIGTERM when the test process dies, so a killed run leaves no nginx behind."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port(address):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((address, 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def wait_port(address, port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('nothing listens on %s:%d after %ss' % (address, port, timeout))


class Issued:
    """A certificate with its key."""

    def __init__(self, cert, key):
        self.cert = cert
        self.key = key

    @property
    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self):
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'certpilot farm')])


def make_cert(subject_cn, key, issuer=None, not_before=None, not_after=None, ca=False, dns=(), ips=(), now=None,
              plain=False):
    """Sign a certificate. ``issuer`` is an ``Issued`` (None: self-signed).

    ``plain``: no key identifiers, no keyUsage, no extendedKeyUsage, as many internal PKIs make them
    (OpenSSL, curl and browsers accept such a chain; strict RFC 5280 validators do not).
    """
    now = now or datetime.datetime.now(UTC)
    not_before = not_before or now - datetime.timedelta(days=1)
    not_after = not_after or now + datetime.timedelta(days=90)
    subject = _name(subject_cn)
    issuer_name = issuer.cert.subject if issuer else subject
    signing_key = issuer.key if issuer else key
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after))
    if plain:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return Issued(builder.sign(signing_key, hashes.SHA256()), key)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    else:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=isinstance(key, rsa.RSAPrivateKey),
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False,
            decipher_only=False), critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(signing_key, hashes.SHA256())
    return Issued(cert, key)


def ec_key(curve=None):
    return ec.generate_private_key(curve or ec.SECP256R1())


class Case:
    """One endpoint of the farm and what was generated for it."""

    def __init__(self, kind, server_name, chain, address=None, port=None, starttls='none', expect=None, host=None):
        self.kind = kind
        self.server_name = server_name
        self.chain = chain            # list of Issued, leaf first, exactly as served
        self.address = address
        self.port = port
        self.starttls = starttls
        self.expect = expect or {}    # facts the generator knows (e.g. {'hostname_match': False})
        self.host = host

    @property
    def leaf(self):
        return self.chain[0].cert if self.chain else None

    def endpoint(self):
        entry = {'host': self.host or self.server_name or self.address, 'port': self.port, 'name': self.kind}
        if self.address and entry['host'] != self.address:
            entry['address'] = self.address
        if self.server_name and self.server_name != entry['host']:
            entry['server_name'] = self.server_name
        if self.starttls != 'none':
            entry['starttls'] = self.starttls
        return entry


class Farm:
    """Build and run the farm. ``net`` is the third octet: addresses are 127.43.<net>.1..6."""

    def __init__(self, workdir=None, net=0, filler=40, with_side_servers=True):
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix='certpilot-tls-farm-')
        self.net = net
        self.filler = filler
        self.with_side_servers = with_side_servers
        self.sni_address = '127.43.%d.1' % net
        self.ip_address = '127.43.%d.2' % net
        self.smtp_address = '127.43.%d.3' % net
        self.closed_address = '127.43.%d.4' % net
        self.tarpit_address = '127.43.%d.5' % net
        self.noaccept_address = '127.43.%d.6' % net
        self.port = None
        self.cases = []
        self.now = datetime.datetime.now(UTC).replace(microsecond=0)
        self._nginx = None
        self._smtp = None
        self._tarpit = None
        self._noaccept = []
        self._stop = threading.Event()

    # -- certificates -----------------------------------------------------------------------
    def _pki(self):
        now = self.now
        day = datetime.timedelta(days=1)
        self.root = make_cert('certpilot farm root', ec_key(), ca=True, not_before=now - 400 * day,
                              not_after=now + 3650 * day, now=now)
        self.inter = make_cert('certpilot farm intermediate', ec_key(), issuer=self.root, ca=True,
                               not_before=now - 300 * day, not_after=now + 1000 * day, now=now)
        self.old_inter = make_cert('certpilot farm old intermediate', ec_key(), issuer=self.root, ca=True,
                                   not_before=now - 300 * day, not_after=now - 5 * day, now=now)
        self.other_root = make_cert('certpilot untrusted root', ec_key(), ca=True, now=now,
                                    not_after=now + 3650 * day)
        self.plain_root = make_cert('certpilot farm plain private CA', ec_key(), ca=True, plain=True,
                                    not_before=now - 30 * day, not_after=now + 3650 * day, now=now)
        self.shared_key = ec_key()

    def _leaf(self, name, days_left, key=None, issuer=None, dns=None, ips=(), lifetime=90.0):
        now = self.now
        not_after = now + datetime.timedelta(days=days_left)
        not_before = not_after - datetime.timedelta(days=lifetime)
        if not_before > now:
            not_before = now - datetime.timedelta(hours=1)
        return make_cert(name, key or self.shared_key, issuer=issuer or self.inter, not_before=not_before,
                         not_after=not_after, dns=[name] if dns is None else dns, ips=ips, now=now)

    def build_cases(self):
        self._pki()

        def sni(label):
            return '%s.%s' % (label, DOMAIN)
        cases = []

        def add(kind, chain, expect=None, name=None, **kw):
            case = Case(kind, name or sni(kind), chain, address=self.sni_address, expect=expect or {}, **kw)
            cases.append(case)
            return case

        for days in (3, 10, 30, 80):
            leaf = self._leaf(sni('exp%d' % days), days)
            add('exp%d' % days, [leaf, self.inter])
        add('expired', [self._leaf(sni('expired'), -2), self.inter])
        selfsigned = make_cert(sni('selfsigned'), self.shared_key, dns=[sni('selfsigned')], now=self.now)
        add('selfsigned', [selfsigned], expect={'chain_valid': False})
        add('wronghost', [self._leaf(sni('other-name'), 60, dns=[sni('other-name')]), self.inter],
            expect={'hostname_match': False})
        add('incomplete', [self._leaf(sni('incomplete'), 60)], expect={'chain_valid': False})
        add('rsa2048', [self._leaf(sni('rsa2048'), 60, key=rsa.generate_private_key(65537, 2048)), self.inter],
            expect={'key_type': 'RSA', 'key_bits': 2048})
        add('ecp384', [self._leaf(sni('ecp384'), 60, key=ec_key(ec.SECP384R1())), self.inter],
            expect={'key_type': 'EC', 'key_bits': 384})
        wild = self._leaf('*.wild.%s' % DOMAIN, 60, dns=['*.wild.%s' % DOMAIN])
        add('wildcard', [wild, self.inter], name='www.wild.%s' % DOMAIN, expect={'hostname_match': True})
        add('expired-intermediate', [self._leaf(sni('expired-intermediate'), 60, issuer=self.old_inter),
                                     self.old_inter], expect={'chain_valid': False})
        add('untrusted-root', [self._leaf(sni('untrusted-root'), 60, issuer=self.other_root)],
            expect={'chain_valid': False})
        plain_leaf = make_cert(sni('private-plain'), self.shared_key, issuer=self.plain_root, plain=True,
                               dns=[sni('private-plain')], now=self.now)
        add('private-plain', [plain_leaf], expect={'chain_warnings': True})
        add('shortlived', [self._leaf(sni('shortlived'), 2.5, lifetime=6), self.inter])
        for index in range(self.filler):
            label = 'f%04d' % index
            add(label, [self._leaf(sni(label), 40 + (index % 300)), self.inter])
        ip_leaf = self._leaf('ip-san', 50, dns=[], ips=[self.ip_address])
        cases.append(Case('ip-san', None, [ip_leaf, self.inter], address=self.ip_address, host=self.ip_address,
                          expect={'hostname_match': True}))
        self.cases = cases
        return cases

    # -- files --------------------------------------------------------------------------------
    def _write(self, rel, data, mode=0o644):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as handle:
            handle.write(data)
        os.chmod(path, mode)
        return path

    def write_files(self):
        os.chmod(self.dir, 0o755)
        self.ca_bundle = self._write('ca/root.pem', self.root.pem + self.plain_root.pem)
        self._write('ca/untrusted-root.pem', self.other_root.pem)
        self.shared_key_path = self._write('keys/shared.key', Issued(None, self.shared_key).key_pem)
        blocks = []
        for case in self.cases:
            if case.kind == 'ip-san':
                continue
            chain_path = self._write('certs/%s.crt' % case.server_name, b''.join(i.pem for i in case.chain))
            key = case.chain[0].key
            key_path = self.shared_key_path if key is self.shared_key else self._write(
                'keys/%s.key' % case.server_name, case.chain[0].key_pem)
            case.chain_path = chain_path
            if case.kind.startswith('f') and key is self.shared_key and case.kind[1:].isdigit():
                continue  # served by the variable-certificate block below
            blocks.append(SERVER_BLOCK % dict(addr=self.sni_address, port=self.port, name=case.server_name,
                                              cert=chain_path, key=key_path, default=''))
        # Filler: one block, certificate chosen by SNI at handshake time (scales to thousands of names).
        blocks.append(SERVER_BLOCK % dict(addr=self.sni_address, port=self.port, name='~^f\\d+\\.farm\\.test$',
                                          cert=os.path.join(self.dir, 'certs', '$ssl_server_name.crt'),
                                          key=self.shared_key_path, default=''))
        ip_case = [c for c in self.cases if c.kind == 'ip-san'][0]
        ip_case.port = self.port
        ip_cert = self._write('certs/ip-san.crt', b''.join(i.pem for i in ip_case.chain))
        ip_case.chain_path = ip_cert
        blocks.append(SERVER_BLOCK % dict(addr=self.ip_address, port=self.port, name='_', cert=ip_cert,
                                          key=self.shared_key_path, default=' default_server'))
        for case in self.cases:
            case.port = self.port
        conf = NGINX_CONF % dict(dir=self.dir, servers='\n'.join(blocks),
                                 workers=2, conns=max(1024, 4 * 64 + 64))
        self.conf = self._write('nginx.conf', conf.encode())
        for sub in ('logs', 'tmp'):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)

    # -- processes ----------------------------------------------------------------------------
    def start(self):
        self.port = free_port(self.sni_address)
        if not self.cases:
            self.build_cases()
        self.write_files()
        check = subprocess.run([NGINX, '-p', self.dir, '-c', self.conf, '-e', os.path.join(self.dir, 'logs/error.log'),
                                '-t'], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError('nginx -t failed: %s' % check.stderr)
        self._nginx = subprocess.Popen([NGINX, '-p', self.dir, '-c', self.conf, '-e',
                                        os.path.join(self.dir, 'logs/error.log')],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       preexec_fn=_die_with_parent)
        try:
            wait_port(self.sni_address, self.port)
            wait_port(self.ip_address, self.port)
        except RuntimeError:
            self.stop()
            raise
        if self.with_side_servers:
            self._start_side_servers()
        return self

    def _start_side_servers(self):
        # Closed port: bound-then-closed, nothing listens.
        self.closed_port = free_port(self.closed_address)
        # Tarpit: accepts and never answers.
        self._tarpit = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._tarpit.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tarpit.bind((self.tarpit_address, 0))
        self._tarpit.listen(64)
        self.tarpit_port = self._tarpit.getsockname()[1]
        held = []

        def tarpit():
            self._tarpit.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    conn, _addr = self._tarpit.accept()
                    held.append(conn)
                except OSError:
                    continue
            for conn in held:
                conn.close()
        threading.Thread(target=tarpit, daemon=True).start()
        # Never accepts: backlog 0 and filled, so further SYNs are dropped by the kernel.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((self.noaccept_address, 0))
        listener.listen(0)
        self.noaccept_port = listener.getsockname()[1]
        self._noaccept = [listener]
        for _attempt in range(3):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            try:
                filler.connect((self.noaccept_address, self.noaccept_port))
            except (BlockingIOError, OSError):
                pass
            self._noaccept.append(filler)
        time.sleep(0.2)
        # SMTP with STARTTLS (aiosmtpd).
        self._start_smtp()

    def _start_smtp(self):
        import ssl
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Sink
        name = 'mail.%s' % DOMAIN
        leaf = self._leaf(name, 25)
        chain_path = self._write('certs/smtp.crt', leaf.pem + self.inter.pem)
        key_path = self._write('keys/smtp.key', leaf.key_pem)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(chain_path, key_path)
        self.smtp_port = free_port(self.smtp_address)
        self._smtp = Controller(Sink(), hostname=self.smtp_address, port=self.smtp_port, tls_context=ctx,
                                require_starttls=True, server_hostname=name)
        self._smtp.start()
        case = Case('smtp-starttls', name, [leaf, self.inter], address=self.smtp_address, port=self.smtp_port,
                    starttls='smtp')
        case.chain_path = chain_path
        self.cases.append(case)

    def stop(self):
        self._stop.set()
        if self._smtp is not None:
            try:
                self._smtp.stop()
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
            self._smtp = None
        for sock in self._noaccept:
            sock.close()
        self._noaccept = []
        if self._tarpit is not None:
            self._tarpit.close()
            self._tarpit = None
        if self._nginx is not None:
            if self._nginx.poll() is None:
                self._nginx.send_signal(signal.SIGTERM)
                try:
                    self._nginx.wait(10)
                except subprocess.TimeoutExpired:
                    self._nginx.kill()
                    self._nginx.wait(5)
            self._nginx = None
        if self.own_dir and os.environ.get('CERTPILOT_KEEP_FARM') != '1':
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what tests use ---------------------------------------------------------------------
    def case(self, kind):
        return [c for c in self.cases if c.kind == kind][0]

    def endpoints(self, kinds=None):
        return [c.endpoint() for c in self.cases if kinds is None or c.kind in kinds]

    def special_endpoints(self):
        return {
            'closed': {'host': self.closed_address, 'port': self.closed_port, 'name': 'closed'},
            'tarpit': {'host': self.tarpit_address, 'port': self.tarpit_port, 'name': 'tarpit'},
            'noaccept': {'host': self.noaccept_address, 'port': self.noaccept_port, 'name': 'noaccept'},
        }


NGINX_CONF = '''
# certpilot.tls test farm: private instance, never the system nginx.
user root root;
daemon off;          # the Popen'ed process is the master: stop() can always signal it
worker_processes %(workers)d;
worker_rlimit_nofile 65536;
pid %(dir)s/nginx.pid;
error_log %(dir)s/logs/error.log warn;
events { worker_connections %(conns)d; }
http {
    access_log off;
    client_body_temp_path %(dir)s/tmp/body;
    proxy_temp_path %(dir)s/tmp/proxy;
    fastcgi_temp_path %(dir)s/tmp/fastcgi;
    uwsgi_temp_path %(dir)s/tmp/uwsgi;
    scgi_temp_path %(dir)s/tmp/scgi;
    server_names_hash_max_size 65536;
    server_names_hash_bucket_size 128;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
%(servers)s
}
'''

SERVER_BLOCK = '''    server {
        listen %(addr)s:%(port)d ssl%(default)s;
        server_name %(name)s;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        return 204;
    }'''


def main(argv):
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('action', choices=['up'])
    parser.add_argument('--filler', type=int, default=40)
    parser.add_argument('--net', type=int, default=9)
    args = parser.parse_args(argv)
    farm = Farm(net=args.net, filler=args.filler)
    with farm:
        print(json.dumps({'ca_bundle': farm.ca_bundle, 'endpoints': farm.endpoints(),
                          'special': farm.special_endpoints()}, indent=1))
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == '__main__':
    main(sys.argv[1:])

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Acceptance tests of the sandbox itself: every server is real and wired as documented.

The last two tests (test_zz_*) drive sandbox.py in SCRATCH state dirs with other
addresses and ports, so the shared sandbox other tests use is never disturbed.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import email
import hashlib
import hmac
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

import paramiko
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

import helpers

sys.path.insert(0, os.path.join(helpers.REPO, 'tests', 'sandbox'))
import proctools  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.timeout(180)

HOSTS = ['web1', 'web2', 'web3', 'appliance1']


def ssh_cmd(sandbox, name, known_hosts, *command):
    host = sandbox['hosts'][name]
    return ['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'UserKnownHostsFile=%s' % known_hosts,
            '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'ControlMaster=no', '-o', 'ControlPath=none',
            '-o', 'ConnectTimeout=10', '-i', sandbox['ssh']['private_key'], '-p', str(host['ssh_port']),
            'root@%s' % host['address']] + list(command)


def run(cmd, timeout=30):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=timeout, check=False)


# ---------------------------------------------------------------- SSH


@pytest.mark.parametrize('name', HOSTS)
def test_ssh_with_known_hosts_succeeds_and_without_fails(sandbox, name, tmp_path):
    ok = run(ssh_cmd(sandbox, name, sandbox['ssh']['known_hosts'], 'echo', 'sandbox-ok'))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == 'sandbox-ok'

    empty = tmp_path / 'known_hosts'
    empty.write_text('')
    refused = run(ssh_cmd(sandbox, name, str(empty), 'true'))
    assert refused.returncode == 255
    assert 'Host key verification failed' in refused.stderr
    assert empty.read_text() == '', 'strict checking must not add the key'


def test_known_hosts_lists_every_host_key(sandbox):
    with open(sandbox['ssh']['known_hosts']) as fh:
        lines = [line.split() for line in fh if line.strip()]
    by_host = dict((parts[0], parts[1:]) for parts in lines)
    for name, host in sandbox['hosts'].items():
        entry = by_host['[%s]:%d' % (host['address'], host['ssh_port'])]
        assert entry[0] == 'ssh-ed25519'
    assert len(set(e[1] for e in by_host.values())) == len(sandbox['hosts']), 'every host has its own key'


def test_ansible_ping_reaches_webservers_over_ssh(run_playbook, sandbox):
    result = run_playbook("""
- name: ping the web servers
  hosts: webservers
  gather_facts: false
  tasks:
    - name: ping
      ansible.builtin.ping:
    - name: remote hostname via a real ssh session
      ansible.builtin.command: /bin/sh -c 'echo $SSH_CONNECTION'
      changed_when: false
      register: conn
""")
    assert result.rc == 0, result.explain()
    assert sorted(result.stats) == ['web1', 'web2', 'web3']
    for host, stat in result.stats.items():
        assert stat['unreachable'] == 0 and stat['failures'] == 0, result.explain()
    pings = result.task_results('ping')
    assert sorted(pings) == ['web1', 'web2', 'web3']
    assert all(r['ping'] == 'pong' for r in pings.values())
    conns = result.task_results('remote hostname via a real ssh session')
    for host, res in conns.items():
        # SSH_CONNECTION = "<client ip> <client port> <server ip> <server port>"
        server_ip, server_port = res['stdout'].split()[2:4]
        assert server_ip == sandbox['hosts'][host]['address'], res
        assert int(server_port) == sandbox['hosts'][host]['ssh_port'], res


def test_ansible_on_appliance_raw_works_python_does_not(run_playbook, sandbox):
    result = run_playbook("""
- name: appliance without python
  hosts: appliances
  gather_facts: false
  tasks:
    - name: raw command
      ansible.builtin.raw: echo raw-ok
      changed_when: false
    - name: python module
      ansible.builtin.ping:
      ignore_errors: true
""")
    raw = result.task_results('raw command')['appliance1']
    assert raw['stdout'].strip() == 'raw-ok', result.explain()
    ping = result.task_results('python module')['appliance1']
    assert ping.get('failed') is True, ping
    assert 'python3: not found' in json.dumps(ping), ping


# ---------------------------------------------------------------- appliance1


def test_appliance_refuses_python_but_runs_shell(sandbox):
    py = run(ssh_cmd(sandbox, 'appliance1', sandbox['ssh']['known_hosts'], 'python3', '-c', 'print(1)'))
    assert py.returncode == 127
    assert 'sh: python3: not found' in py.stderr
    sh = run(ssh_cmd(sandbox, 'appliance1', sandbox['ssh']['known_hosts'], 'echo $((6 * 7))'))
    assert sh.returncode == 0 and sh.stdout.strip() == '42', sh.stderr
    assert sandbox['hosts']['appliance1']['python'] is False
    assert all(sandbox['hosts'][n]['python'] is True for n in ('web1', 'web2', 'web3'))


def _paramiko_client(sandbox, known_hosts):
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    host = sandbox['hosts']['appliance1']
    client.connect(host['address'], port=host['ssh_port'], username='root', key_filename=sandbox['ssh']['private_key'],
                   look_for_keys=False, allow_agent=False, timeout=10, banner_timeout=10, auth_timeout=10)
    return client


def test_appliance_paramiko_sftp_put_and_rename(sandbox, tmp_path):
    host = sandbox['hosts']['appliance1']
    payload = ('cert %s\n' % uuid.uuid4()).encode('ascii')
    local = tmp_path / 'payload.pem'
    local.write_bytes(payload)
    tmp_name = '%s/.upload-%s.tmp' % (host['cert_dir'], uuid.uuid4().hex)
    final = '%s/sftp-test-%s.pem' % (host['cert_dir'], uuid.uuid4().hex)
    client = _paramiko_client(sandbox, sandbox['ssh']['known_hosts'])
    try:
        sftp = client.open_sftp()
        sftp.put(str(local), tmp_name)
        sftp.chmod(tmp_name, 0o640)
        sftp.posix_rename(tmp_name, final)
        assert sftp.stat(final).st_size == len(payload)
        sftp.close()
    finally:
        client.close()
    try:
        with open(final, 'rb') as fh:  # the "remote" is this machine: check the bytes landed
            assert fh.read() == payload
        assert not os.path.exists(tmp_name)
        assert os.stat(final).st_mode & 0o777 == 0o640
    finally:
        if os.path.exists(final):
            os.unlink(final)


def test_appliance_paramiko_rejects_unknown_host_key(sandbox, tmp_path):
    empty = tmp_path / 'known_hosts'
    empty.write_text('')
    with pytest.raises(paramiko.SSHException):
        _paramiko_client(sandbox, str(empty))


# ---------------------------------------------------------------- nginx / DNS


@pytest.mark.parametrize('name', HOSTS)
def test_webroot_served_over_http01_port(sandbox, name):
    host = sandbox['hosts'][name]
    token = uuid.uuid4().hex
    body = 'key-authorization %s %s\n' % (name, token)
    path = os.path.join(host['webroot'], '.well-known', 'acme-challenge', token)
    with open(path, 'w') as fh:
        fh.write(body)
    os.chmod(path, 0o644)
    try:
        resp = requests.get('http://%s:%d/.well-known/acme-challenge/%s' % (host['address'], host['http_port'], token),
                            timeout=10)
        assert resp.status_code == 200
        assert resp.text == body
        other = requests.get('http://%s:%d/' % (host['address'], host['http_port']), timeout=10)
        assert other.text == '%s\n' % name, 'each address is served by its own host'
        missing = requests.get('http://%s:%d/.well-known/acme-challenge/%s-nope' % (
            host['address'], host['http_port'], token), timeout=10)
        assert missing.status_code == 404
    finally:
        os.unlink(path)


@pytest.mark.parametrize('name', HOSTS)
def test_default_https_server_has_placeholder_cert_from_local_ca(sandbox, name):
    host = sandbox['hosts'][name]
    ctx = ssl.create_default_context(cafile=sandbox['ca']['cert'])
    with socket.create_connection((host['address'], host['https_port']), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname='placeholder.%s.example.test' % name) as tls:
            assert tls.version() in ('TLSv1.2', 'TLSv1.3')
    der = helpers.tls_peer_cert(host['address'], host['https_port'], 'unknown.example.test')
    cert = x509.load_der_x509_certificate(der)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == '%s placeholder' % name


def test_nginx_per_host_config_test_and_reload(sandbox):
    host = sandbox['hosts']['web3']
    t = run([host['nginx_binary'], '-c', host['nginx_conf'], '-t'])
    assert t.returncode == 0, t.stderr
    with open(host['nginx_pid']) as fh:
        pid = int(fh.read().strip())
    assert proctools.owned(pid, sandbox['dir'])
    reload_ = run([host['nginx_binary'], '-c', host['nginx_conf'], '-s', 'reload'])
    assert reload_.returncode == 0, reload_.stderr
    helpers.wait_for(lambda: requests.get('http://%s:%d/' % (host['address'], host['http_port']), timeout=5).text
                     == 'web3\n', what='web3 nginx after reload')


@pytest.mark.parametrize('name', HOSTS)
def test_dns_names_resolve_to_their_host_ipv4_only(sandbox, sandbox_dns, name):
    host = sandbox['hosts'][name]
    for fqdn in host['names']:
        assert sandbox_dns.resolve(fqdn, 'A') == [host['address']]
        assert sandbox_dns.resolve(fqdn, 'AAAA') == [], 'no AAAA: pebble must use IPv4'


def test_dns_default_and_add_a(sandbox, sandbox_dns):
    unknown = 'nothing-%s.example.test' % uuid.uuid4().hex[:8]
    assert sandbox_dns.resolve(unknown) == [sandbox['dns']['default_ipv4']]
    sandbox_dns.add_a(unknown, '127.42.0.13')
    try:
        assert sandbox_dns.resolve(unknown) == ['127.42.0.13']
        sandbox_dns.add_a(unknown, '127.42.0.12')
        assert sandbox_dns.resolve(unknown) == ['127.42.0.12'], 'add_a replaces, it does not append'
    finally:
        sandbox_dns.clear_a(unknown)
    assert sandbox_dns.resolve(unknown) == [sandbox['dns']['default_ipv4']]


# ---------------------------------------------------------------- ACME (pebble)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


class MiniAcme(object):
    """A deliberately tiny RFC 8555 client: just enough to prove the sandbox wiring."""

    BAD_NONCE = 'urn:ietf:params:acme:error:badNonce'

    def __init__(self, directory_url, ca_bundle):
        self.http = requests.Session()
        # per request: REQUESTS_CA_BUNDLE in the environment would override Session.verify
        self.verify = ca_bundle
        self.directory = self.http.get(directory_url, timeout=10, verify=ca_bundle).json()
        self.key = ec.generate_private_key(ec.SECP256R1())
        nums = self.key.public_key().public_numbers()
        self.jwk = {'crv': 'P-256', 'kty': 'EC', 'x': b64u(nums.x.to_bytes(32, 'big')), 'y': b64u(nums.y.to_bytes(32, 'big'))}
        self.thumbprint = b64u(hashlib.sha256(json.dumps(self.jwk, sort_keys=True, separators=(',', ':')).encode()).digest())
        self.kid = None
        self.nonce = None
        self.bad_nonces = 0

    def _sign(self, protected, payload):
        prot = b64u(json.dumps(protected).encode())
        pay = '' if payload is None else b64u(json.dumps(payload).encode())
        r, s = decode_dss_signature(self.key.sign(('%s.%s' % (prot, pay)).encode(), ec.ECDSA(hashes.SHA256())))
        return {'protected': prot, 'payload': pay, 'signature': b64u(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}

    def post(self, url, payload, use_jwk=False):
        for _attempt in range(20):
            if not self.nonce:
                self.nonce = self.http.head(self.directory['newNonce'], timeout=10, verify=self.verify).headers['Replay-Nonce']
            protected = {'alg': 'ES256', 'nonce': self.nonce, 'url': url}
            if use_jwk or not self.kid:
                protected['jwk'] = self.jwk
            else:
                protected['kid'] = self.kid
            body = payload(url) if callable(payload) else payload
            resp = self.http.post(url, data=json.dumps(self._sign(protected, body)),
                                  headers={'Content-Type': 'application/jose+json'}, timeout=15, verify=self.verify)
            self.nonce = resp.headers.get('Replay-Nonce')
            if resp.status_code == 400 and resp.headers.get('Content-Type', '').startswith('application/problem+json') \
                    and resp.json().get('type') == self.BAD_NONCE:
                self.bad_nonces += 1
                continue
            return resp
        raise AssertionError('20 badNonce answers in a row')

    def new_account(self, eab=None):
        def payload(url):
            body = {'termsOfServiceAgreed': True}
            if eab:
                kid, mac_key = eab
                prot = b64u(json.dumps({'alg': 'HS256', 'kid': kid, 'url': url}).encode())
                pay = b64u(json.dumps(self.jwk).encode())
                key = base64.urlsafe_b64decode(mac_key + '=' * (-len(mac_key) % 4))
                sig = hmac.new(key, ('%s.%s' % (prot, pay)).encode(), hashlib.sha256).digest()
                body['externalAccountBinding'] = {'protected': prot, 'payload': pay, 'signature': b64u(sig)}
            return body
        resp = self.post(self.directory['newAccount'], payload, use_jwk=True)
        if resp.status_code in (200, 201):
            self.kid = resp.headers['Location']
        return resp

    def poll(self, url, want, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.post(url, None).json()
            if body['status'] in want:
                return body
            if body['status'] == 'invalid':
                raise AssertionError('%s became invalid: %s' % (url, json.dumps(body)))
            time.sleep(0.3)
        raise AssertionError('%s not %s after %ss' % (url, want, timeout))

    def issue(self, names, webroot):
        resp = self.post(self.directory['newOrder'], {'identifiers': [{'type': 'dns', 'value': n} for n in names]})
        assert resp.status_code == 201, resp.text
        order_url, order = resp.headers['Location'], resp.json()
        written = []
        try:
            for authz_url in order['authorizations']:
                authz = self.post(authz_url, None).json()
                if authz['status'] == 'valid':
                    continue
                chall = [c for c in authz['challenges'] if c['type'] == 'http-01'][0]
                path = os.path.join(webroot, '.well-known', 'acme-challenge', chall['token'])
                with open(path, 'w') as fh:
                    fh.write('%s.%s' % (chall['token'], self.thumbprint))
                os.chmod(path, 0o644)
                written.append(path)
                resp = self.post(chall['url'], {})
                assert resp.status_code == 200, resp.text
                self.poll(authz_url, ('valid',))
            self.poll(order_url, ('ready',))
            leaf_key = ec.generate_private_key(ec.SECP256R1())
            csr = (x509.CertificateSigningRequestBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
                   .sign(leaf_key, hashes.SHA256()))
            resp = self.post(order['finalize'], {'csr': b64u(csr.public_bytes(serialization.Encoding.DER))})
            assert resp.status_code == 200, resp.text
            order = self.poll(order_url, ('valid',))
            pem = self.post(order['certificate'], None)
            assert pem.status_code == 200, pem.text
            return leaf_key, x509.load_pem_x509_certificates(pem.content)
        finally:
            for path in written:
                os.unlink(path)


def test_pebble_issues_certificate_via_dns_and_http01(sandbox):
    web2 = sandbox['hosts']['web2']
    names = ['web2.example.test', 'www.web2.example.test']
    client = MiniAcme(sandbox['acme']['directory'], sandbox['acme']['ca_bundle'])
    resp = client.new_account()
    assert resp.status_code == 201, resp.text
    leaf_key, chain = client.issue(names, web2['webroot'])
    leaf = chain[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sorted(sans) == sorted(names)
    assert leaf.public_key().public_numbers() == leaf_key.public_key().public_numbers()
    # the chain ends at the root the sandbox exported from pebble's management API
    roots = []
    for path in sandbox['acme']['roots']:
        with open(path, 'rb') as fh:
            roots.extend(x509.load_pem_x509_certificates(fh.read()))
    for child, parent in zip(chain, chain[1:]):
        child.verify_directly_issued_by(parent)
    top = chain[-1]
    assert any(top.issuer == root.subject for root in roots), 'chain does not end below an exported root'
    issuer_root = [root for root in roots if top.issuer == root.subject][0]
    top.verify_directly_issued_by(issuer_root)
    from cryptography.x509.verification import PolicyBuilder, Store
    verifier = PolicyBuilder().store(Store(roots)).build_server_verifier(x509.DNSName('www.web2.example.test'))
    verified = verifier.verify(leaf, chain[1:])
    assert verified[-1] == issuer_root


def test_pebble_eab_instance_requires_and_accepts_binding(sandbox):
    eab = sandbox['acme_eab']
    plain = MiniAcme(eab['directory'], eab['ca_bundle'])
    refused = plain.new_account()
    assert refused.status_code in (400, 403), refused.text
    assert refused.json()['type'] == 'urn:ietf:params:acme:error:externalAccountRequired'
    assert sorted(eab['keys']) == ['kid-1', 'kid-2']
    for kid in ('kid-1', 'kid-2'):
        bound = MiniAcme(eab['directory'], eab['ca_bundle'])
        resp = bound.new_account(eab=(kid, eab['keys'][kid]))
        assert resp.status_code == 201, resp.text
    wrong = MiniAcme(eab['directory'], eab['ca_bundle'])
    bad_key = b64u(b'x' * 32)
    resp = wrong.new_account(eab=('kid-1', bad_key))
    assert resp.status_code in (400, 401, 403), 'a wrong HMAC key must be refused: %s' % resp.text


def test_pebble_nonce_reject_is_active(sandbox):
    """The configured badNonce rate is real: fresh nonces get rejected at roughly that rate."""
    pct = sandbox['acme']['nonce_reject_percent']
    client = MiniAcme(sandbox['acme']['directory'], sandbox['acme']['ca_bundle'])
    assert client.new_account().status_code == 201
    client.bad_nonces = 0
    for _i in range(40):
        resp = client.post(client.kid, None)
        assert resp.status_code == 200, resp.text
    if pct == 0:
        assert client.bad_nonces == 0
    else:
        # 40 requests at 30 %: P(0 rejections) = 0.7**40 ~ 6e-7
        assert client.bad_nonces > 0


# ---------------------------------------------------------------- SMTP


def _new_mail(maildir, marker, timeout=10):
    def find():
        for name in os.listdir(maildir):
            if name.endswith('.eml'):
                with open(os.path.join(maildir, name), 'rb') as fh:
                    data = fh.read()
                if marker.encode() in data:
                    return email.message_from_bytes(data)
        return None
    return helpers.wait_for(find, timeout=timeout, what='mail %s' % marker)


def test_smtp_plain_delivery_lands_in_maildir(sandbox):
    smtp = sandbox['smtp']
    marker = 'plain-%s' % uuid.uuid4().hex
    msg = 'From: a@example.test\r\nTo: b@example.test\r\nSubject: %s\r\n\r\nhello\r\n' % marker
    with smtplib.SMTP(smtp['host'], smtp['port'], timeout=10) as client:
        client.sendmail('a@example.test', ['b@example.test'], msg)
    stored = _new_mail(smtp['maildir'], marker)
    assert stored['Subject'] == marker
    assert stored['X-Sandbox-Rcpt-To'] == 'b@example.test'
    assert stored['X-Sandbox-Port'] == str(smtp['port'])


def test_smtp_starttls_auth_delivery_and_refusals(sandbox):
    smtp = sandbox['smtp']
    marker = 'tls-%s' % uuid.uuid4().hex
    msg = 'From: a@example.test\r\nTo: c@example.test\r\nSubject: %s\r\n\r\nhello\r\n' % marker
    tls = ssl.create_default_context(cafile=smtp['ca'])
    with smtplib.SMTP(smtp['host'], smtp['starttls_port'], timeout=10) as client:
        client.ehlo()
        assert not client.has_extn('auth'), 'AUTH must not be offered before STARTTLS'
        with pytest.raises(smtplib.SMTPException):
            client.sendmail('a@example.test', ['c@example.test'], msg)
    with smtplib.SMTP(smtp['host'], smtp['starttls_port'], timeout=10) as client:
        client.starttls(context=tls)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(smtp['user'], smtp['password'] + 'wrong')
    for mech in ('PLAIN', 'LOGIN'):
        with smtplib.SMTP(smtp['host'], smtp['starttls_port'], timeout=10) as client:
            client.starttls(context=tls)
            client.ehlo()
            client.user, client.password = smtp['user'], smtp['password']
            code, _resp = client.auth(mech, getattr(client, 'auth_' + mech.lower()), initial_response_ok=True)
            assert code == 235
            client.sendmail('a@example.test', ['c@example.test'], msg.replace(marker, marker + mech))
        stored = _new_mail(smtp['maildir'], marker + mech)
        assert stored['X-Sandbox-Auth'] == smtp['user']
        assert stored['X-Sandbox-Port'] == str(smtp['starttls_port'])


# ---------------------------------------------------------------- lifecycle (scratch sandboxes, run last)

SCRATCH_OFFSET = 10000
SCRATCH_NET = '127.43.0'


@pytest.fixture
def scratch_env():
    state = tempfile.mkdtemp(prefix='certpilot-scratch-')
    os.chmod(state, 0o755)  # nginx workers (www-data) traverse it
    env = dict(os.environ)
    env.update({'CERTPILOT_SANDBOX_DIR': os.path.join(state, 'sb'), 'CERTPILOT_SANDBOX_PORT_OFFSET': str(SCRATCH_OFFSET),
                'CERTPILOT_SANDBOX_NET': SCRATCH_NET})
    env.pop('CERTPILOT_SANDBOX_JSON', None)
    yield env
    helpers.sandbox_cli(['down'], env=env)
    leftovers = proctools.owned_pids(env['CERTPILOT_SANDBOX_DIR'])
    shutil.rmtree(state, ignore_errors=True)
    assert not leftovers, 'scratch sandbox left processes: %s' % leftovers


def _scratch_ssh_ok(data, name):
    res = run(ssh_cmd(data, name, data['ssh']['known_hosts'], 'true'), timeout=20)
    return res.returncode == 0


def test_zz_foreign_listener_makes_up_fail_and_survives(scratch_env):
    port = 8055 + SCRATCH_OFFSET  # the DNS management port of the scratch sandbox
    foreign = subprocess.Popen([sys.executable, '-c', (
        'import socket, time\n'
        's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n'
        's.bind(("127.0.0.1", %d)); s.listen(5); print("listening", flush=True)\n'
        'time.sleep(120)\n' % port)], stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert foreign.stdout.readline().strip() == 'listening'
        res = helpers.sandbox_cli(['up'], env=scratch_env, timeout=120)
        assert res.returncode != 0, res.stdout
        assert '127.0.0.1:%d' % port in res.stdout, res.stdout
        assert 'pid %d' % foreign.pid in res.stdout, res.stdout
        assert proctools.cmdline(foreign.pid)[:60] in res.stdout, 'the holder command is named'
        assert foreign.poll() is None, 'the foreign process must not be killed'
        assert proctools.owned_pids(scratch_env['CERTPILOT_SANDBOX_DIR']) == [], 'nothing may start on a conflict'
    finally:
        foreign.kill()
        foreign.wait(timeout=10)


def test_zz_lifecycle_crash_recovery_host_stop_down_up(scratch_env):
    env = dict(scratch_env)
    env['CERTPILOT_SANDBOX_EXTRA_SERVICES'] = os.path.join(helpers.REPO, 'tests', 'sandbox', 'examples')
    state = env['CERTPILOT_SANDBOX_DIR']

    first = helpers.sandbox_cli(['up'], env=env, timeout=180)
    assert first.returncode == 0, first.stdout
    with open(os.path.join(state, 'sandbox.json')) as fh:
        data = json.load(fh)
    assert data['hosts']['web1']['address'] == SCRATCH_NET + '.11'
    assert data['acme']['directory'] == 'https://127.0.0.1:%d/dir' % (14000 + SCRATCH_OFFSET)
    assert data['services']['http_static']['url'] == 'http://127.0.0.1:%d' % (8088 + SCRATCH_OFFSET)
    assert requests.get(data['services']['http_static']['url'] + '/health', timeout=5).text == 'ok\n'
    with open(data['ssh']['known_hosts']) as fh:
        known_hosts = fh.read()
    with open(data['ca']['cert']) as fh:
        ca = fh.read()

    again = helpers.sandbox_cli(['up'], env=env)
    assert again.returncode == 0 and 'everything was already running' in again.stdout, again.stdout

    # crash: SIGKILL pebble, and leave a stale smtp pidfile pointing at a process that is not ours
    pebble_pid = proctools.read_pidfile(os.path.join(state, 'run', 'pebble.pid'))
    assert proctools.owned(pebble_pid, state)
    os.kill(pebble_pid, 9)
    helpers.wait_for(lambda: not proctools.alive(pebble_pid), what='pebble killed')
    smtp_pid = proctools.read_pidfile(os.path.join(state, 'run', 'smtp.pid'))
    proctools.terminate(smtp_pid, state)
    with open(os.path.join(state, 'run', 'smtp.pid'), 'w') as fh:
        fh.write('%d\n' % os.getpid())  # alive, not ours: must be treated as stale, never signalled
    status = helpers.sandbox_cli(['status'], env=env)
    assert status.returncode == 1 and 'stopped' in status.stdout, status.stdout
    healed = helpers.sandbox_cli(['up'], env=env, timeout=180)
    assert healed.returncode == 0, healed.stdout
    assert 'started pebble ' in healed.stdout and 'started smtp ' in healed.stdout, healed.stdout
    assert 'started dns ' not in healed.stdout, 'healthy services are left alone'
    assert helpers.sandbox_cli(['status'], env=env).returncode == 0

    # host-stop / host-start: sshd and its live sessions go away, then come back
    sleeper = subprocess.Popen(ssh_cmd(data, 'web1', data['ssh']['known_hosts'], 'sleep 300'))
    try:
        helpers.wait_for(lambda: any('sleep 300' == proctools.cmdline(p) for p in proctools.all_pids()),
                         what='remote sleep started')
        stopped = helpers.sandbox_cli(['host-stop', 'web1'], env=env)
        assert stopped.returncode == 0, stopped.stdout
        assert sleeper.wait(timeout=20) != 0, 'the live session must be cut'
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
    assert not _scratch_ssh_ok(data, 'web1')
    assert _scratch_ssh_ok(data, 'web2'), 'other hosts stay up'
    assert requests.get('http://%s:%d/' % (data['hosts']['web1']['address'], data['hosts']['web1']['http_port']),
                        timeout=5).text == 'web1\n', 'host-stop stops sshd only'
    started = helpers.sandbox_cli(['host-start', 'web1'], env=env)
    assert started.returncode == 0, started.stdout
    assert _scratch_ssh_ok(data, 'web1')

    # down: nothing naming the state dir survives (nginx workers, sshd sessions included)
    down = helpers.sandbox_cli(['down'], env=env)
    assert down.returncode == 0, down.stdout
    assert proctools.owned_pids(state) == [], [proctools.cmdline(p) for p in proctools.owned_pids(state)]
    assert not os.path.exists(os.path.join(state, 'sandbox.json'))
    assert helpers.sandbox_cli(['down'], env=env).returncode == 0, 'down is safe when nothing runs'

    # up again: healthy, same host keys and CA (state kept)
    back = helpers.sandbox_cli(['up'], env=env, timeout=180)
    assert back.returncode == 0, back.stdout
    assert helpers.sandbox_cli(['status'], env=env).returncode == 0
    with open(data['ssh']['known_hosts']) as fh:
        assert fh.read() == known_hosts
    with open(data['ca']['cert']) as fh:
        assert fh.read() == ca
    assert _scratch_ssh_ok(data, 'appliance1')

    purge = helpers.sandbox_cli(['down', '--purge'], env=env)
    assert purge.returncode == 0, purge.stdout
    assert not os.path.exists(state)
    assert proctools.owned_pids(state) == []

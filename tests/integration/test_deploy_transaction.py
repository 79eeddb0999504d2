# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install transaction against the real sandbox (issue 11 items 1 and 5): a validate command that
runs past its timeout and an sshd killed in the middle of a push both end with the old certificate
still served (TLS handshake to the host's nginx), the previous files on disk, no backup or temporary
file left and a failure naming the step, over both transports; the signal reload mechanism reloads a
sandbox nginx through its pid file."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
import uuid

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import helpers
from test_roles_renew import RENEW, scenario, served, store_fingerprint  # noqa: F401 pylint: disable=unused-import

pytestmark = pytest.mark.timeout(600)

SERVER = '''# certpilot test_deploy_transaction
server {
    listen %(address)s:%(port)d ssl;
    server_name %(name)s;
    ssl_certificate %(dir)s/fullchain.pem;
    ssl_certificate_key %(dir)s/privkey.pem;
    location / { return 200 "ok\\n"; }
}
'''


def _make_cert(name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return pem, key_pem, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _nginx(info, *args):
    return subprocess.run([info['nginx_binary'], '-c', info['nginx_conf']] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=30, check=False, universal_newlines=True)


class Site(object):
    """A server block on one sandbox host serving certificate A from <cert_dir>/<tag>/, for one server name."""

    def __init__(self, sandbox, host):
        self.info = sandbox['hosts'][host]
        self.host = host
        self.tag = 'tx-%s' % uuid.uuid4().hex[:8]
        self.name = '%s.example.test' % self.tag
        self.dir = os.path.join(self.info['cert_dir'], self.tag)
        self.conf = os.path.join(self.info['nginx_conf_dir'], 'certpilot-%s.conf' % self.tag)
        self.old_cert, self.old_key, self.old_fp = _make_cert(self.name)
        self.new_cert, self.new_key, self.new_fp = _make_cert(self.name)
        os.makedirs(self.dir, 0o700)
        self._write('fullchain.pem', self.old_cert, 0o644)
        self._write('privkey.pem', self.old_key, 0o600)
        with open(self.conf, 'w') as handle:
            handle.write(SERVER % {'address': self.info['address'], 'port': self.info['https_port'],
                                   'name': self.name, 'dir': self.dir})
        reload = _nginx(self.info, '-s', 'reload')
        assert reload.returncode == 0, reload.stdout
        helpers.wait_for(lambda: self.served() == self.old_fp, timeout=20, what='nginx serving the old certificate')

    def _write(self, name, text, mode):
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)

    def served(self):
        der = helpers.tls_peer_cert(self.info['address'], self.info['https_port'], self.name)
        return hashlib.sha256(der).hexdigest()

    def files(self, new=True):
        cert, key = (self.new_cert, self.new_key) if new else (self.old_cert, self.old_key)
        return [{'dest': self.dir + '/fullchain.pem', 'content': cert, 'mode': '0644'},
                {'dest': self.dir + '/privkey.pem', 'content': key, 'mode': '0600'}]

    def on_disk(self):
        with open(self.dir + '/fullchain.pem') as cert, open(self.dir + '/privkey.pem') as key:
            return cert.read(), key.read()

    def leftovers(self):
        """Backup and temporary files anywhere below the certificate directory and in conf.d (like find would)."""
        found = []
        for top in (self.dir, self.info['nginx_conf_dir']):
            for root, dummy, names in os.walk(top):
                found.extend(os.path.join(root, n) for n in names if 'certpilot-backup' in n or n.endswith('.tmp'))
        return found

    def assert_old_state(self):
        assert self.on_disk() == (self.old_cert, self.old_key)
        assert self.leftovers() == []
        assert sorted(os.listdir(self.dir)) == ['fullchain.pem', 'privkey.pem']
        assert self.served() == self.old_fp  # a real TLS handshake with the host's nginx

    def cleanup(self):
        if os.path.exists(self.conf):
            os.unlink(self.conf)
        shutil.rmtree(self.dir, ignore_errors=True)
        _nginx(self.info, '-s', 'reload')


@pytest.fixture
def site(sandbox):
    made = []

    def make(host):
        item = Site(sandbox, host)
        made.append(item)
        return item
    yield make
    for item in made:
        item.cleanup()


def _push_task(sandbox, st, **options):
    info = st.info
    args = {'known_hosts': sandbox['ssh']['known_hosts'], 'private_key_src': sandbox['ssh']['private_key'],
            'username': sandbox['ssh']['user'], 'total_timeout': 120,
            'targets': [{'name': st.host, 'address': info['address'], 'port': info['ssh_port']}],
            'files': st.files()}
    args.update(options)
    return json.dumps([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'push', 'register': 'push', 'certpilot.tls.sftp_push': args}]}])


def _install_task(st, **options):
    args = {'files': [dict((k, v) for k, v in f.items()) for f in st.files()]}
    args.update(options)
    return json.dumps([{'hosts': st.host, 'gather_facts': False, 'tasks': [
        {'name': 'install', 'register': 'install', 'certpilot.tls.cert_files': args}]}])


def _reload_command(info):
    return '%s -c %s -s reload' % (info['nginx_binary'], info['nginx_conf'])


def _verify(st):
    return [{'server_name': st.name, 'port': st.info['https_port']}]


@pytest.mark.parametrize('transport', ['sftp', 'ansible'])
def test_validate_timeout_restores_and_fails(sandbox, run_playbook, site, transport):
    if transport == 'sftp':
        st = site('appliance1')
        files = st.files()
        files[0]['verify'] = _verify(st)
        playbook = _push_task(sandbox, st, files=files, validate_command='sleep 30', command_timeout=2,
                              reload_command=_reload_command(st.info))
    else:
        st = site('web1')
        playbook = _install_task(st, validate_command=['sleep', '30'], validate_timeout=2,
                                 reload={'mechanism': 'command', 'command': _reload_command(st.info).split()})
    start = time.monotonic()
    result = run_playbook(playbook)
    elapsed = time.monotonic() - start
    assert result.rc != 0
    out = result.task_results('push' if transport == 'sftp' else 'install')
    res = out['localhost' if transport == 'sftp' else st.host]
    msg = res['hosts'][st.host]['error'] if transport == 'sftp' else res['msg']
    assert 'step "validate" failed' in msg and 'did not complete within 2s' in msg, result.explain()
    assert 'the previous files were restored' in msg and 'no reload happened' in msg, msg
    if transport == 'sftp':
        assert res['hosts'][st.host]['rolled_back'] is True and res['hosts'][st.host]['reloaded'] is False
        assert res['changed'] is False
    else:
        assert res['step'] == 'validate' and res['restored'] is True and res['reloaded_again'] is False
    assert elapsed < 28, 'the validate timeout was not enforced (%.1fs)' % elapsed
    st.assert_old_state()


class _KillWhenStarted(threading.Thread):
    """Waits for ``flag`` (written by the validate command), then stops the host's sshd (sessions too);
    restarts it ``restart_after`` seconds later (None: the caller restarts it)."""

    def __init__(self, host, flag, restart_after=None):
        super(_KillWhenStarted, self).__init__(daemon=True)
        self.host, self.flag, self.restart_after = host, flag, restart_after
        self.stopped = self.started = None
        self.error = None

    def run(self):
        try:
            helpers.wait_for(lambda: os.path.exists(self.flag), timeout=120, what='the validate command to start')
            self.stopped = helpers.sandbox_cli(['host-stop', self.host], env=os.environ.copy())
            if self.restart_after is not None:
                time.sleep(self.restart_after)
                self.started = helpers.sandbox_cli(['host-start', self.host], env=os.environ.copy())
        except Exception as exc:  # pylint: disable=broad-except
            self.error = exc  # reported by the test


def _restart(host):
    started = helpers.sandbox_cli(['host-start', host], env=os.environ.copy())
    assert started.returncode == 0, started.stdout


def test_sshd_killed_mid_push_sftp_reconnects_and_restores(sandbox, run_playbook, site, tmp_path):
    st = site('appliance1')
    flag = str(tmp_path / 'validate-started')
    files = st.files()
    files[0]['verify'] = _verify(st)
    # The validate command marks that the new files are written, then blocks until sshd is killed.
    playbook = _push_task(sandbox, st, files=files, validate_command='touch %s; sleep 60' % flag, command_timeout=90,
                          reload_command=_reload_command(st.info))
    killer = _KillWhenStarted(st.host, flag, restart_after=3)
    killer.start()
    try:
        result = run_playbook(playbook)
    finally:
        killer.join(150)
        if killer.started is None:
            _restart(st.host)
    assert killer.error is None, killer.error
    assert killer.stopped.returncode == 0 and 'stopped sshd-%s' % st.host in killer.stopped.stdout, killer.stopped.stdout
    assert killer.started.returncode == 0, killer.started.stdout
    assert result.rc != 0
    host = result.task_results('push')['localhost']['hosts'][st.host]
    msg = host['error']
    assert 'step "validate" failed' in msg and 'connection lost' in msg, result.explain()
    assert 'the previous files were restored' in msg, msg
    assert host['rolled_back'] is True and host['reloaded'] is False
    st.assert_old_state()


def test_sshd_killed_for_good_mid_push_sftp_says_what_is_on_the_host(sandbox, run_playbook, site, tmp_path):
    """sshd does not come back: nothing can be restored; the failure says so, nginx was never reloaded
    (the old certificate is still served) and there is no backup file to clean up on the host."""
    st = site('appliance1')
    flag = str(tmp_path / 'validate-started')
    playbook = _push_task(sandbox, st, validate_command='touch %s; sleep 60' % flag, command_timeout=90,
                          total_timeout=20, reload_command=_reload_command(st.info))
    killer = _KillWhenStarted(st.host, flag)
    killer.start()
    try:
        result = run_playbook(playbook)
        killer.join(150)
        assert killer.error is None, killer.error
        assert killer.stopped.returncode == 0, killer.stopped.stdout
        assert result.rc != 0
        host = result.task_results('push')['localhost']['hosts'][st.host]
        assert 'step "validate" failed' in host['error'] and 'COULD NOT restore' in host['error'], result.explain()
        assert host['rolled_back'] is False
        assert st.served() == st.old_fp
        assert st.leftovers() == []
    finally:
        _restart(st.host)


def test_sshd_killed_mid_install_ansible_restores_on_the_host(sandbox, run_playbook, site, tmp_path):
    st = site('web1')
    flag = str(tmp_path / 'validate-started')
    playbook = _install_task(st, validate_command=['/bin/sh', '-c', 'touch %s; sleep 60' % flag], validate_timeout=90,
                             reload={'mechanism': 'command', 'command': _reload_command(st.info).split()})
    killer = _KillWhenStarted(st.host, flag)
    killer.start()
    try:
        result = run_playbook(playbook)
        killer.join(150)
    finally:
        _restart(st.host)
    assert killer.error is None, killer.error
    assert killer.stopped.returncode == 0, killer.stopped.stdout
    assert result.rc != 0
    stats = result.stats[st.host]
    assert stats.get('unreachable', 0) + stats.get('failures', 0) == 1, result.explain()
    # cert_files caught the SIGTERM of the stopping sshd: previous files back, backups gone, no reload
    st.assert_old_state()


@pytest.mark.parametrize('transport', ['sftp', 'ansible'])
def test_signal_reload_through_the_nginx_pid_file(sandbox, run_playbook, site, transport):
    if transport == 'sftp':
        st = site('appliance1')
        files = st.files()
        files[0]['verify'] = _verify(st)
        playbook = _push_task(sandbox, st, files=files, validate_command='%s -t -q -c %s' % (
            st.info['nginx_binary'], st.info['nginx_conf']),
            reload={'mechanism': 'signal', 'pid_file': st.info['nginx_pid'], 'signal': 'HUP'})
    else:
        st = site('web1')
        playbook = _install_task(st, validate_command=[st.info['nginx_binary'], '-t', '-q', '-c', st.info['nginx_conf']],
                                 reload={'mechanism': 'signal', 'pid_file': st.info['nginx_pid']}, keep_backups=False)
    result = run_playbook(playbook)
    assert result.rc == 0, result.explain()
    if transport == 'sftp':
        host = result.task_results('push')['localhost']['hosts'][st.host]
        assert host['reloaded'] and host['validated'] and [v['ok'] for v in host['verified']] == [True]
        assert host['verified'][0]['fingerprint_sha256'] == st.new_fp
    else:
        out = result.task_results('install')[st.host]
        assert out['reloaded'] is True and out['transaction']['pending'] is False
    helpers.wait_for(lambda: st.served() == st.new_fp, timeout=20, what='nginx serving the new certificate after SIGHUP')
    assert st.on_disk() == (st.new_cert, st.new_key)
    assert st.leftovers() == []
    # a stale pid file is a failed reload: restored, and the new certificate stays out
    stale = os.path.join(st.dir, 'stale.pid')
    with open(stale, 'w') as handle:
        handle.write('999999\n')
    if transport == 'sftp':
        playbook = _push_task(sandbox, st, files=st.files(new=False), reload={'mechanism': 'signal', 'pid_file': stale})
    else:
        playbook = _install_task(st, files=st.files(new=False), reload={'mechanism': 'signal', 'pid_file': stale},
                                 keep_backups=False)
    failed = run_playbook(playbook)
    os.unlink(stale)
    assert failed.rc != 0
    if transport == 'sftp':
        msg = failed.task_results('push')['localhost']['hosts'][st.host]['error']
    else:
        msg = failed.task_results('install')[st.host]['msg']
    assert 'step "reload" failed' in msg and '999999' in msg, failed.explain()
    assert 'the previous files were restored, but the reload with them failed' in msg, msg
    assert st.on_disk() == (st.new_cert, st.new_key)
    assert st.leftovers() == []
    assert st.served() == st.new_fp


def test_roles_reload_nginx_by_signal_to_its_pid_file(sandbox, run_playbook, scenario):
    """cert_push_reload / nginx_webroot_reload = signal: renew.yml deploys, nginx (SIGHUP to its pid file)
    serves the new certificate, a second run changes nothing, and a forced renewal is served too."""
    sc = scenario(hosts=('web1',), shared=False)
    signal_vars = {'cert_push_reload': 'signal', 'cert_push_reload_pid_file': '{{ sandbox_nginx_pid }}',
                   'nginx_webroot_reload': 'signal', 'nginx_webroot_reload_pid_file': '{{ sandbox_nginx_pid }}'}
    first = run_playbook(RENEW, extra_vars=sc.extra_vars(**signal_vars))
    assert first.rc == 0, first.explain()
    install = first.task_results('Install certificates, keys and server configuration in one call, test the configuration and reload the server')
    assert install['web1']['reloaded'] is True
    assert install['web1']['transaction']['reload'] == {
        'mechanism': 'signal', 'pid_file': sandbox['hosts']['web1']['nginx_pid'], 'signal': 'HUP', 'timeout': 60}
    cert = sc.certs[0]
    assert served(sandbox, 'web1', cert['domains'][0]) == store_fingerprint(sc.store, cert['name'])
    cert_dir = os.path.join(sandbox['hosts']['web1']['cert_dir'], cert['name'])
    assert sorted(os.listdir(cert_dir)) == ['chain.pem', 'fullchain.pem', 'privkey.pem']
    second = run_playbook(RENEW, extra_vars=sc.extra_vars(**signal_vars))
    assert second.rc == 0 and second.changed('web1') == 0, second.explain()

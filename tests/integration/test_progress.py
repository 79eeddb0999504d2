# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress that can be watched: a long certpilot.tls.tls_expiry_facts run prints progress lines
(ansible-playbook output and ansible-runner job events) before its result; a short run prints none
and returns the same result keys as the module run without the action plugin's async path.

The slow endpoints are a local TCP listener that accepts and never answers (TLS handshake
timeout); the good ones a local TLS server with a self-signed certificate. Durations are never
asserted: only the order of lines and the counts they carry.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import re
import shutil
import socket
import ssl
import sys
import tempfile
import threading

import ansible_runner
import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import helpers  # noqa: E402  (tests/integration is on sys.path via conftest)

LINE = re.compile(r'^certpilot\.tls\.tls_expiry_facts \[(?P<host>[^\]]+)\]: (?P<done>\d+)/(?P<total>\d+) done, '
                  r'(?P<failed>\d+) failed, (?P<left>\d+) left(?P<rest>.*)$')
ANY_LINE = re.compile(r'^certpilot\.tls\.tls_expiry_facts \[')
TASK = 'Check the endpoints'


class HangingListener(object):
    """Accepts TCP connections and never says a word (a TLS server that hangs in the handshake)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.closed = False
        self.thread = threading.Thread(target=self._loop)
        self.thread.daemon = True
        self.thread.start()

    def _loop(self):
        while not self.closed:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        self.closed = True
        self.sock.close()
        for conn in self.conns:
            conn.close()


class TinyTLSServer(object):
    """A real TLS server (self-signed certificate): handshake, then close."""

    def __init__(self, workdir):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'progress.test')])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=60))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(u'progress.test')]), critical=False)
                .sign(key, hashes.SHA256()))
        cert_path, key_path = os.path.join(workdir, 'tls.pem'), os.path.join(workdir, 'tls.key')
        with open(cert_path, 'wb') as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_path, key_path)
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        self.thread = threading.Thread(target=self._loop)
        self.thread.daemon = True
        self.thread.start()

    def _loop(self):
        while not self.closed:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            worker = threading.Thread(target=self._serve, args=(conn,))
            worker.daemon = True
            worker.start()

    def _serve(self, conn):
        conn.settimeout(10)
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass  # the client hangs up after the handshake: that is the normal end
        finally:
            conn.close()

    def close(self):
        self.closed = True
        self.sock.close()


@pytest.fixture(scope='module')
def servers(tmp_path_factory):
    hang = HangingListener()
    tls = TinyTLSServer(str(tmp_path_factory.mktemp('tls-server')))
    try:
        yield hang, tls
    finally:
        hang.close()
        tls.close()


@pytest.fixture(scope='module')
def async_dir(tmp_path_factory):
    """A private async dir (ANSIBLE_ASYNC_DIR), so the test can see that nothing is left behind."""
    return str(tmp_path_factory.mktemp('ansible-async'))


@pytest.fixture(scope='module')
def controller_tmp(tmp_path_factory):
    """TMPDIR of the controller: where a watched run on the controller keeps its progress file."""
    return str(tmp_path_factory.mktemp('controller-tmp'))


def progress_dirs(controller_tmp):
    return [name for name in os.listdir(controller_tmp) if name.startswith('certpilot-progress-')]


@pytest.fixture(scope='module')
def local_env(async_dir, controller_tmp):
    env = dict(os.environ)
    env['TMPDIR'] = controller_tmp
    env['ANSIBLE_COLLECTIONS_PATH'] = helpers.COLLECTIONS
    env['PYTHONPATH'] = helpers.COLLECTIONS
    env['ANSIBLE_CALLBACK_PLUGINS'] = helpers.CALLBACK_DIR
    env['ANSIBLE_CALLBACKS_ENABLED'] = 'sandbox_json'
    env['ANSIBLE_NOCOLOR'] = '1'
    env['ANSIBLE_RETRY_FILES_ENABLED'] = '0'
    env['ANSIBLE_ASYNC_DIR'] = async_dir
    env.pop('ANSIBLE_CONFIG', None)
    env.pop('ANSIBLE_STDOUT_CALLBACK', None)
    return env


LOCAL_INVENTORY = {'all': {'hosts': {'localhost': {'ansible_connection': 'local',
                                                   'ansible_python_interpreter': sys.executable}}}}


def endpoints(servers, count, good_every=5):
    hang, tls = servers
    result = []
    for index in range(count):
        if index % good_every == 0:
            result.append({'host': '127.0.0.1', 'port': tls.port, 'server_name': 'progress.test',
                           'name': 'good-%03d' % index})
        else:
            result.append({'host': '127.0.0.1', 'port': hang.port, 'name': 'slow-%03d' % index})
    return result


def playbook(extra_task_keys=''):
    return '''
- name: Progress
  hosts: all
  gather_facts: false
  tasks:
    - name: %s
      certpilot.tls.tls_expiry_facts:
        endpoints: "{{ progress_endpoints }}"
        timeout: "{{ progress_timeout }}"
        retries: 0
        concurrency: "{{ progress_concurrency }}"
%s      register: progress_result
''' % (TASK, extra_task_keys)


def progress_lines(stdout):
    return [line for line in stdout.splitlines() if ANY_LINE.match(line)]


def result_line_index(lines, host):
    for index, line in enumerate(lines):
        if line.startswith(('ok: [%s]' % host, 'changed: [%s]' % host, 'fatal: [%s]' % host)):
            return index
    raise AssertionError('no task result line for %s' % host)


def assert_counts(lines, total):
    parsed = [LINE.match(line) for line in lines]
    counted = [m for m in parsed if m]
    assert counted, 'no progress line with counts: %r' % lines
    previous = -1
    for match in counted:
        done, failed, left = int(match.group('done')), int(match.group('failed')), int(match.group('left'))
        assert int(match.group('total')) == total
        assert done + failed + left == total
        assert done + failed >= previous  # progress never goes backwards
        previous = done + failed
    return counted


def run_local(local_env, tmp_path, extra_vars, extra_args=(), extra_task_keys=''):
    return helpers.run_ansible_playbook(playbook(extra_task_keys), local_env, str(tmp_path), LOCAL_INVENTORY,
                                        extra_vars=extra_vars, extra_args=extra_args, timeout=300)


def test_long_run_prints_progress_before_the_result(servers, local_env, async_dir, controller_tmp, tmp_path):
    """500 endpoints, 4 of 5 hanging until their timeout: the default (auto) switches to watched progress.

    On the controller (local connection) the module runs synchronously with a reader thread: no async job.
    """
    total = 500
    result = run_local(local_env, tmp_path, {'progress_endpoints': endpoints(servers, total), 'progress_timeout': 2,
                                             'progress_concurrency': 40})
    assert result.rc == 0, result.explain()
    lines = result.stdout.splitlines()
    progress = progress_lines(result.stdout)
    first = lines.index(progress[0]) if progress else None
    assert first is not None and first < result_line_index(lines, 'localhost'), result.stdout[-3000:]
    assert len(progress) >= 3, result.stdout[-3000:]
    counted = assert_counts(progress, total)
    assert any(int(m.group('failed')) > 0 for m in counted)
    assert any('slowest slow-' in m.group('rest') or 'slowest good-' in m.group('rest') for m in counted)
    facts = result.task_results(TASK)['localhost']
    summary = facts['tls_expiry']['summary']
    assert summary['total'] == total
    assert summary['error'] == total - total // 5  # every hanging endpoint timed out
    assert os.listdir(async_dir) == []  # no async job on the controller
    assert progress_dirs(controller_tmp) == []  # the private progress directory is removed


def test_short_run_prints_nothing_and_returns_the_same_keys(servers, local_env, async_dir, tmp_path):
    base = {'progress_endpoints': endpoints(servers, 6), 'progress_timeout': 1, 'progress_concurrency': 6}
    plain = run_local(local_env, tmp_path, base, extra_args=('--check', '--diff'))
    assert plain.rc == 0, plain.explain()
    assert progress_lines(plain.stdout) == []
    assert os.listdir(async_dir) == []  # auto mode did not use async at all for 6 endpoints

    forced = dict(base, certpilot_progress='always', certpilot_progress_interval=1)
    watched = run_local(local_env, tmp_path, forced, extra_args=('--check', '--diff'))
    assert watched.rc == 0, watched.explain()
    one, two = plain.task_results(TASK)['localhost'], watched.task_results(TASK)['localhost']
    assert sorted(one) == sorted(two)
    assert sorted(one['tls_expiry']) == sorted(two['tls_expiry'])
    assert one['changed'] == two['changed'] and bool(one.get('failed')) == bool(two.get('failed'))
    assert one.get('warnings') == two.get('warnings')
    strip = ('checked_at', 'elapsed', 'days_remaining', 'remaining_ratio')  # time-dependent values
    for a, b in zip(one['tls_expiry']['results'], two['tls_expiry']['results']):
        assert dict((k, v) for k, v in a.items() if k not in strip) == dict((k, v) for k, v in b.items() if k not in strip)
    assert os.listdir(async_dir) == []


def test_bad_setting_fails_clearly(servers, local_env, tmp_path):
    result = run_local(local_env, tmp_path, {'progress_endpoints': endpoints(servers, 1), 'progress_timeout': 1,
                                             'progress_concurrency': 1, 'certpilot_progress': 'sometimes'})
    assert result.rc != 0
    failed = result.task_results(TASK)['localhost']
    assert failed['failed'] and 'certpilot_progress must be one of' in failed['msg']
    assert 'Traceback' not in result.stdout


def test_ansible_runner_job_events(servers, tmp_path, async_dir):
    """Under ansible-runner (what AWX runs), each progress line is a job event of the task, before its result."""
    total = 200
    private = tempfile.mkdtemp(prefix='progress-job-', dir=str(tmp_path))
    try:
        os.makedirs(os.path.join(private, 'project'))
        with open(os.path.join(private, 'project', 'job.yml'), 'w') as handle:
            handle.write(playbook())
        os.makedirs(os.path.join(private, 'inventory'))
        with open(os.path.join(private, 'inventory', 'hosts.json'), 'w') as handle:
            json.dump(LOCAL_INVENTORY, handle)
        envvars = {
            'ANSIBLE_COLLECTIONS_PATH': helpers.COLLECTIONS,
            'PATH': os.pathsep.join([os.path.dirname(helpers.ansible_bin('ansible-playbook')), os.environ.get('PATH', '')]),
            'ANSIBLE_FORCE_COLOR': '0', 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_ASYNC_DIR': async_dir,
        }
        runner = ansible_runner.run(
            private_data_dir=private, playbook='job.yml', inventory=os.path.join(private, 'inventory'),
            extravars={'progress_endpoints': endpoints(servers, total), 'progress_timeout': 2,
                       'progress_concurrency': 20},
            envvars=envvars, quiet=True, timeout=300, ident='job')
        events = list(runner.events)
    finally:
        shutil.rmtree(private)
    assert runner.status == 'successful', [e.get('stdout') for e in events][-20:]
    task_start = [e for e in events if e['event'] == 'playbook_on_task_start' and e['event_data'].get('task') == TASK]
    ok = [e for e in events if e['event'] == 'runner_on_ok' and e['event_data'].get('task') == TASK]
    assert len(task_start) == 1 and len(ok) == 1
    task_uuid = task_start[0]['event_data']['task_uuid']
    progress = [e for e in events if ANY_LINE.match(e.get('stdout') or '')]
    assert progress, [e.get('stdout') for e in events]
    for event in progress:
        assert event['event'] == 'verbose'
        assert event['parent_uuid'] == task_uuid  # AWX shows it under the task
    assert progress[0]['counter'] < ok[0]['counter']
    counted = assert_counts([e['stdout'] for e in progress], total)
    assert counted
    assert os.listdir(async_dir) == []


def test_ssh_become_and_no_log(sandbox, run_playbook, servers, tmp_path):
    """Over ssh to a sandbox host, with become: progress lines, the same result; with no_log no item names."""
    hang, _tls = servers
    remote_async = tempfile.mkdtemp(prefix='progress-async-', dir='/tmp')  # the sandbox hosts share this machine
    try:
        text = '''
- name: Progress over ssh
  hosts: web1
  gather_facts: false
  become: true
  tasks:
    - name: %s
      certpilot.tls.tls_expiry_facts:
        endpoints: "{{ progress_endpoints }}"
        timeout: 2
        retries: 0
        concurrency: 2
      register: progress_result
    - name: Hidden
      certpilot.tls.tls_expiry_facts:
        endpoints: "{{ progress_endpoints }}"
        timeout: 2
        retries: 0
        concurrency: 2
      no_log: true
''' % TASK
        names = [{'host': '127.0.0.1', 'port': hang.port, 'name': 'secret-name-%d' % i} for i in range(6)]
        result = run_playbook(text, extra_vars={'progress_endpoints': names, 'certpilot_progress': 'always',
                                                'certpilot_progress_interval': 1},
                              env={'ANSIBLE_ASYNC_DIR': remote_async}, timeout=300)
        assert result.rc == 0, result.explain()
        lines = result.stdout.splitlines()
        hidden_start = [i for i, line in enumerate(lines) if line.startswith('TASK [Hidden]')][0]
        progress = progress_lines('\n'.join(lines[:hidden_start]))
        assert progress and all('[web1]' in line for line in progress), result.stdout[-3000:]
        assert lines.index(progress[0]) < result_line_index(lines, 'web1')
        assert_counts(progress, len(names))
        facts = result.task_results(TASK)['web1']
        assert facts['tls_expiry']['summary']['error'] == len(names)
        hidden = progress_lines('\n'.join(lines[hidden_start:]))
        assert hidden, result.stdout[-3000:]
        assert not any('secret-name' in line for line in hidden)
        assert 'secret-name' not in '\n'.join(lines[hidden_start:])
        assert os.listdir(remote_async) == []
    finally:
        shutil.rmtree(remote_async)

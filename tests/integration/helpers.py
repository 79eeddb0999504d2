# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of the integration tests (plain functions; fixtures are in conftest.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANDBOX_PY = os.path.join(REPO, 'tests', 'sandbox', 'sandbox.py')
COLLECTIONS = os.path.join(REPO, '.build', 'collections')
CALLBACK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'callback_plugins')
# The venv whose Python runs pytest, so 'make test-matrix' tests each ansible-core with its own tools.
VENV_BIN = os.environ.get('CERTPILOT_VENV_BIN') or os.path.dirname(os.path.abspath(sys.executable))

_SANDBOX_LIB = os.path.join(REPO, 'tests', 'sandbox')
if _SANDBOX_LIB not in sys.path:
    sys.path.insert(0, _SANDBOX_LIB)

from service import dns_query  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


def ansible_bin(name):
    cand = os.path.join(VENV_BIN, name)
    if os.path.exists(cand):
        return cand
    return os.path.join(os.path.dirname(sys.executable), name)


def tls_peer_cert(address, port, server_name=None, timeout=10.0):
    """TLS handshake to (address, port) with SNI ``server_name``; returns the peer cert (DER).

    No verification here: callers judge the certificate themselves.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, int(port)), timeout=timeout) as sock:
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True)


class SandboxDNS(object):
    """Talks to pebble-challtestsrv's management API (records are global to the sandbox)."""

    def __init__(self, sandbox):
        self.management = sandbox['dns']['management']
        host, port = sandbox['dns']['server'].rsplit(':', 1)
        self.server = (host, int(port))

    def _post(self, path, payload):
        import urllib.request
        req = urllib.request.Request(self.management + path, data=json.dumps(payload).encode('utf-8'), method='POST')
        with urllib.request.urlopen(req, timeout=10) as resp:
            if resp.status != 200:
                raise RuntimeError('challtestsrv %s -> %s' % (path, resp.status))

    def add_a(self, name, address):
        """Make ``name`` resolve to exactly ``address`` (str or list)."""
        addresses = [address] if isinstance(address, str) else list(address)
        self._post('/clear-a', {'host': name})
        self._post('/add-a', {'host': name, 'addresses': addresses})

    def clear_a(self, name):
        self._post('/clear-a', {'host': name})

    def set_txt(self, name, value):
        self._post('/set-txt', {'host': name if name.endswith('.') else name + '.', 'value': value})

    def clear_txt(self, name):
        self._post('/clear-txt', {'host': name if name.endswith('.') else name + '.'})

    def resolve(self, name, qtype='A'):
        return dns_query(self.server[0], self.server[1], name, qtype)[1]


class PlaybookResult(object):
    """What ``run_playbook`` returns."""

    def __init__(self, cmd, rc, stdout, stderr, results):
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.results = results

    @property
    def stats(self):
        """{host: {'ok', 'changed', 'failures', 'unreachable', 'skipped', 'rescued', 'ignored'}}."""
        return (self.results or {}).get('stats', {})

    def tasks(self):
        for play in (self.results or {}).get('plays', []):
            yield from play.get('tasks', [])

    def task_results(self, task_name):
        """{host: result} of the last task named ``task_name`` (exact name, or ``role : name`` suffix)."""
        found = None
        for task in self.tasks():
            name = task['task']['name']
            if name == task_name or name.endswith(' : ' + task_name):
                found = task['hosts']
        if found is None:
            raise KeyError('no task named %r; tasks: %s' % (task_name, [t['task']['name'] for t in self.tasks()]))
        return found

    def changed(self, host):
        return self.stats.get(host, {}).get('changed', 0)

    def failed_hosts(self):
        return sorted(h for h, s in self.stats.items() if s.get('failures') or s.get('unreachable'))

    def explain(self, lines=60):
        """A readable tail of the run, for assertion messages."""
        out = '\n'.join(self.stdout.splitlines()[-lines:])
        err = '\n'.join(self.stderr.splitlines()[-lines:])
        return '$ %s\nrc=%s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s' % (' '.join(self.cmd), self.rc, out, err)

    def __repr__(self):
        return '<PlaybookResult rc=%s failed=%s>' % (self.rc, self.failed_hosts())


def run_ansible_playbook(playbook, env, tmpdir, inventory, extra_vars=None, check=False, extra_args=(), timeout=600):
    """Run ansible-playbook; ``playbook`` is a path or YAML text, ``inventory`` a path, YAML text or dict."""
    if not (isinstance(playbook, str) and '\n' not in playbook and os.path.exists(playbook)):
        fd, path = tempfile.mkstemp(prefix='playbook-', suffix='.yml', dir=tmpdir)
        with os.fdopen(fd, 'w') as fh:
            fh.write(playbook)
        playbook = path
    if isinstance(inventory, dict):
        fd, path = tempfile.mkstemp(prefix='inventory-', suffix='.json', dir=tmpdir)
        with os.fdopen(fd, 'w') as fh:
            json.dump(inventory, fh)
        inventory = path
    elif isinstance(inventory, str) and '\n' in inventory:
        fd, path = tempfile.mkstemp(prefix='inventory-', suffix='.yml', dir=tmpdir)
        with os.fdopen(fd, 'w') as fh:
            fh.write(inventory)
        inventory = path
    cmd = [ansible_bin('ansible-playbook'), '-i', inventory, playbook]
    if extra_vars:
        fd, path = tempfile.mkstemp(prefix='extra-vars-', suffix='.json', dir=tmpdir)
        with os.fdopen(fd, 'w') as fh:
            json.dump(extra_vars, fh)
        cmd += ['-e', '@' + path]
    if check:
        cmd.append('--check')
    cmd += list(extra_args)
    fd, json_out = tempfile.mkstemp(prefix='results-', suffix='.json', dir=tmpdir)
    os.close(fd)
    os.unlink(json_out)
    run_env = dict(env)
    run_env['CERTPILOT_JSON_OUT'] = json_out
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=run_env,
                            start_new_session=True, universal_newlines=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise AssertionError('ansible-playbook timed out after %ss: %s\n--- stdout\n%s\n--- stderr\n%s'
                             % (timeout, ' '.join(cmd), stdout[-4000:], stderr[-4000:]))
    results = None
    if os.path.exists(json_out):
        with open(json_out) as fh:
            results = json.load(fh)
    return PlaybookResult(cmd, proc.returncode, stdout, stderr, results)


def sandbox_cli(args, env=None, timeout=180):
    """Run ``sandbox.py`` with ``args``; returns CompletedProcess (text, stdout+stderr merged)."""
    python = os.path.join(VENV_BIN, 'python')
    if not os.path.exists(python):
        python = sys.executable
    return subprocess.run([python, SANDBOX_PY] + list(args), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout, check=False)


def wait_for(predicate, timeout=20.0, interval=0.2, what='condition'):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # pylint: disable=broad-except
            last = exc
        time.sleep(interval)
    raise AssertionError('timed out after %ss waiting for %s (last error: %r)' % (timeout, what, last))

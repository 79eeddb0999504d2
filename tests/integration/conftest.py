# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the integration tests: they run against the ONE shared sandbox.

The sandbox is started by ``make sandbox-up`` (``tests/sandbox/sandbox.py up``)
before pytest; these fixtures never start it. See tests/README.md.

Fixtures:
    sandbox         (session) parsed sandbox.json
    collection_env  (session) os.environ + ANSIBLE_COLLECTIONS_PATH/ANSIBLE_CONFIG/PYTHONPATH/callback
    run_playbook    (session) callable -> helpers.PlaybookResult (.rc .stdout .stderr .results .stats
                    .task_results(name) .changed(host) .failed_hosts() .explain())
    sandbox_dns     (session) helpers.SandboxDNS: add_a / clear_a / set_txt / clear_txt / resolve
    tls_peer_cert   (session) the helpers.tls_peer_cert function
    tmp_store       (function) an empty directory (pathlib.Path)
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import socket
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import helpers  # noqa: E402  pylint: disable=wrong-import-position

DEFAULT_TIMEOUT = 900


def pytest_collection_modifyitems(config, items):
    """Every integration test is bounded: default timeout unless the test sets its own."""
    for item in items:
        if str(item.fspath).startswith(HERE) and item.get_closest_marker('timeout') is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT))


def sandbox_json_path():
    explicit = os.environ.get('CERTPILOT_SANDBOX_JSON')
    if explicit:
        return explicit
    state = os.environ.get('CERTPILOT_SANDBOX_DIR') or os.path.join(helpers.REPO, '.sandbox')
    return os.path.join(state, 'sandbox.json')


@pytest.fixture(scope='session')
def sandbox():
    path = sandbox_json_path()
    if not os.path.exists(path):
        pytest.fail('sandbox is not running: %s does not exist. Start it with `make sandbox-up` '
                    '(or `.venv/bin/python tests/sandbox/sandbox.py up`) before running the integration tests.'
                    % path, pytrace=False)
    with open(path) as fh:
        data = json.load(fh)
    # a cheap liveness check so a dead sandbox fails with a clear message instead of odd timeouts
    checks = [('pebble', '127.0.0.1', int(data['acme']['directory'].split(':')[2].split('/')[0]))]
    for name, host in sorted(data['hosts'].items()):
        checks.append(('sshd %s' % name, host['address'], host['ssh_port']))
    dead = []
    for what, addr, port in checks:
        try:
            socket.create_connection((addr, port), timeout=3).close()
        except OSError as exc:
            dead.append('%s (%s:%d): %s' % (what, addr, port, exc))
    if dead:
        pytest.fail('sandbox.json exists but the sandbox is not healthy: %s. Run `make sandbox-up` '
                    '(`.venv/bin/python tests/sandbox/sandbox.py status` shows what is down).' % '; '.join(dead),
                    pytrace=False)
    return data


@pytest.fixture(scope='session')
def collection_env(sandbox):
    env = dict(os.environ)
    env['ANSIBLE_COLLECTIONS_PATH'] = helpers.COLLECTIONS
    env['ANSIBLE_CONFIG'] = sandbox['ansible_cfg']
    env['PYTHONPATH'] = os.pathsep.join([helpers.COLLECTIONS] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env['ANSIBLE_CALLBACK_PLUGINS'] = os.pathsep.join(
        [helpers.CALLBACK_DIR] + [p for p in env.get('ANSIBLE_CALLBACK_PLUGINS', '').split(os.pathsep) if p])
    enabled = [c for c in env.get('ANSIBLE_CALLBACKS_ENABLED', '').split(',') if c]
    env['ANSIBLE_CALLBACKS_ENABLED'] = ','.join(['sandbox_json'] + [c for c in enabled if c != 'sandbox_json'])
    env['ANSIBLE_NOCOLOR'] = '1'
    env['ANSIBLE_FORCE_COLOR'] = '0'
    env['ANSIBLE_RETRY_FILES_ENABLED'] = '0'
    env['CERTPILOT_SANDBOX_JSON'] = os.path.join(sandbox['dir'], 'sandbox.json')
    env.pop('ANSIBLE_STDOUT_CALLBACK', None)
    env.pop('CERTPILOT_JSON_OUT', None)
    return env


@pytest.fixture(scope='session')
def run_playbook(sandbox, collection_env, tmp_path_factory):
    """``run_playbook(playbook, extra_vars=None, check=False, inventory=None, env=None, extra_args=(), timeout=600)``.

    ``playbook``: a path or YAML text. ``inventory``: path, YAML text or dict (default: the sandbox
    inventory). ``env``: extra environment variables. Results come from the test-only
    ``sandbox_json`` callback (tests/integration/callback_plugins); ``stdout`` is the normal
    human output of the default callback.
    """
    workdir = str(tmp_path_factory.mktemp('playbooks'))

    def _run(playbook, extra_vars=None, check=False, inventory=None, env=None, extra_args=(), timeout=600):
        run_env = dict(collection_env)
        if env:
            run_env.update(dict((k, str(v)) for k, v in env.items()))
        return helpers.run_ansible_playbook(playbook, run_env, workdir, inventory or sandbox['inventory'],
                                            extra_vars=extra_vars, check=check, extra_args=extra_args,
                                            timeout=timeout)
    return _run


@pytest.fixture(scope='session')
def sandbox_dns(sandbox):
    return helpers.SandboxDNS(sandbox)


@pytest.fixture(scope='session')
def tls_peer_cert():
    return helpers.tls_peer_cert


@pytest.fixture
def tmp_store(tmp_path):
    path = tmp_path / 'store'
    path.mkdir()
    return path

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ACME store under concurrent runs (issue 12 items 2 and 7): real pebble, real store, real ansible-playbook."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json
import os
import subprocess
import sys
import threading
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acme_store_util import (  # noqa: E402  (tests/integration is on sys.path)
    Challenges, account_task, acme_play, challenge_files_task, finalize_task, order_task, order_urls, playbook_vars,
    public_key_der)
from test_roles_renew import RENEW, scenario  # noqa: E402,F401  pylint: disable=unused-import

ACCOUNT = acme_play('ACME account', [account_task()])

ISSUE = acme_play('ACME issuance', [order_task(('lock_timeout', '"{{ lock_timeout | default(300) }}"')),
                                    challenge_files_task(),
                                    finalize_task(('lock_timeout', '"{{ lock_timeout | default(300) }}"'))],
                  timeout=240)

HOLDER = r'''
import sys
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store_lock import StoreLock
lock = StoreLock(sys.argv[1], timeout=0)
lock.acquire()
sys.stdout.write('locked\n')
sys.stdout.flush()
sys.stdin.readline()
lock.release()
'''


@contextlib.contextmanager
def held_store_lock(store, env):
    """Another process holds ``store``'s lock (a real StoreLock) until the block ends; yields that process."""
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, store], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=dict(env), universal_newlines=True)
    try:
        assert holder.stdout.readline() == 'locked\n'
        yield holder
    finally:
        holder.stdin.write('\n')
        holder.stdin.flush()
        assert holder.wait(timeout=60) == 0


@pytest.fixture
def cleanup_challenges(sandbox):
    results = []
    yield results
    tracker = Challenges(sandbox)
    for res in results:
        tracker.note(res)
    tracker.remove()


@pytest.mark.timeout(900)
def test_two_concurrent_runs_on_one_store(sandbox, run_playbook, tmp_path, cleanup_challenges):
    prefix = 'l' + uuid.uuid4().hex[:6]
    certificates = [{'name': '%s-%02d' % (prefix, i), 'domains': ['%s-%02d.example.test' % (prefix, i)]}
                    for i in range(20)]  # long enough an order step that the two runs overlap
    extra = playbook_vars(sandbox, tmp_path, tmp_path / 'store', certificates)
    acct = run_playbook(ACCOUNT, extra_vars=extra)
    assert acct.rc == 0, acct.explain()
    assert order_urls(sandbox, extra['account_key']) == []

    results = [None, None]

    def run(index):
        results[index] = run_playbook(ISSUE, extra_vars=extra)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(800)
    cleanup_challenges.extend(r for r in results if r is not None)
    for res in results:
        assert res is not None, 'a run did not finish'
        assert res.rc == 0, res.explain()

    orders = order_urls(sandbox, extra['account_key'])
    assert len(orders) == len(certificates), 'two runs on one store made %d orders for %d certificates' % (
        len(orders), len(certificates))
    actions = sorted(r.task_results('Order')['localhost']['certificates'][c['name']]['action']
                     for r in results for c in certificates)
    assert actions.count('order') == len(certificates), actions
    for cert in certificates:
        folder = os.path.join(extra['store'], cert['name'])
        with open(os.path.join(folder, 'cert.pem'), 'rb') as handle:
            leaf = x509.load_pem_x509_certificate(handle.read())
        with open(os.path.join(folder, 'privkey.pem'), 'rb') as handle:
            key = serialization.load_pem_private_key(handle.read(), None)
        assert public_key_der(leaf) == public_key_der(key), '%s: stored certificate does not match its key' % cert['name']
    # both runs released the lock cleanly: the file names no holder
    with open(os.path.join(extra['store'], '.lock')) as handle:
        assert handle.read() == ''


@pytest.mark.timeout(600)
def test_held_lock_fails_after_lock_timeout_and_stale_lock_warns(sandbox, run_playbook, tmp_path, collection_env,
                                                                 cleanup_challenges):
    prefix = 'h' + uuid.uuid4().hex[:6]
    certificates = [{'name': '%s-00' % prefix, 'domains': ['%s-00.example.test' % prefix]}]
    extra = dict(playbook_vars(sandbox, tmp_path, tmp_path / 'store', certificates), lock_timeout=2)
    acct = run_playbook(ACCOUNT, extra_vars=extra)
    assert acct.rc == 0, acct.explain()

    with held_store_lock(extra['store'], collection_env) as holder:
        res = run_playbook(ISSUE, extra_vars=extra)
        assert res.rc != 0
        order = res.task_results('Order')['localhost']
        assert order.get('failed') is True
        assert 'another run holds the store' in order['msg']
        assert ('(pid %d, host ' % holder.pid) in order['msg']
        assert order_urls(sandbox, extra['account_key']) == [], 'no order while another run holds the store'
        assert sorted(os.listdir(extra['store'])) == ['.lock'], 'nothing written while another run holds the store'

    # a lock file left by a run that is gone (kill -9): taken over with a warning, the run works
    with open(os.path.join(extra['store'], '.lock'), 'w') as handle:
        json.dump({'pid': 999999, 'host': 'gone.example.test', 'started': '2026-01-01T00:00:00Z'}, handle)
    res = run_playbook(ISSUE, extra_vars=extra)
    cleanup_challenges.append(res)
    assert res.rc == 0, res.explain()
    assert 'stale store lock' in res.stdout + res.stderr
    assert 'gone.example.test' in res.stdout + res.stderr
    assert len(order_urls(sandbox, extra['account_key'])) == 1


@pytest.mark.timeout(900)
def test_role_waits_only_acme_certificates_lock_timeout(sandbox, run_playbook, scenario, collection_env):
    """renew.yml passes acme_certificates_lock_timeout to the order task: a held lock fails it after 2 s, not 300."""
    sc = scenario(hosts=('web1',), shared=False)
    extra = sc.extra_vars(acme_certificates_lock_timeout=2)
    with held_store_lock(extra['acme_certificates_store'], collection_env) as holder:
        res = run_playbook(RENEW, extra_vars=extra)
        assert res.rc != 0
        assert 'another run holds the store' in res.stdout, res.explain()
        assert 'gave up after lock_timeout=2 s' in res.stdout, res.explain()
        assert ('(pid %d, host ' % holder.pid) in res.stdout

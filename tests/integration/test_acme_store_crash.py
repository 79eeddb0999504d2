# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection on acme_finalize (issue 12 item 7): real pebble, a real store, real SIGKILL / ENOSPC / CA outage.

acme_finalize runs as a subprocess through crash_module.py, which patches the function of one
stage so that the fault happens right after the real call returns; the product has no test hook.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore

import helpers
from acme_store_util import (
    FINALIZE, ORDER, Challenges, check_set, finalize_args, generation_entries, order_status, order_urls,
    playbook_vars, read_set, run_module)


@pytest.fixture
def challenges(sandbox):
    tracker = Challenges(sandbox)
    yield tracker
    tracker.remove()


def _one(prefix):
    name = '%s-%s' % (prefix, uuid.uuid4().hex[:6])
    return name, [{'name': name, 'domains': ['%s.example.test' % name]}]


def _issue(run_playbook, challenges, extra, force=False):
    """Order (resuming or not) + challenge files + finalize with the real modules; returns the Order result."""
    res = challenges.note(run_playbook(ORDER, extra_vars=dict(extra, force=force)))
    assert res.rc == 0, res.explain()
    fin = run_playbook(FINALIZE, extra_vars=extra)
    assert fin.rc == 0, fin.explain()
    return res, fin


def _order(run_playbook, challenges, extra, force=False):
    res = challenges.note(run_playbook(ORDER, extra_vars=dict(extra, force=force)))
    assert res.rc == 0, res.explain()
    return res


def _no_traceback(*texts):
    for text in texts:
        assert 'Traceback' not in (text or ''), text


# stage -> whether the new certificate is in place right after the kill
KILL_STAGES = [('order', False), ('answer', False), ('finalize', False), ('download', False),
               ('generation', False), ('switch', True)]


@pytest.mark.timeout(600)
@pytest.mark.parametrize('stage,switched', KILL_STAGES)
def test_kill_9_at_each_stage_then_the_rerun_resumes(sandbox, run_playbook, collection_env, tmp_path, challenges,
                                                     stage, switched):
    name, certificates = _one('k' + stage[:3])
    extra = playbook_vars(sandbox, tmp_path, tmp_path / 'store', certificates)
    folder = os.path.join(extra['store'], name)
    _issue(run_playbook, challenges, extra)
    first = check_set(folder)
    first_files = read_set(folder)

    # a renewal with one name more: pebble may reuse the valid authorization of the first name,
    # never one for the new name, so there is always a challenge to answer
    extra['certificates'] = [{'name': name, 'domains': ['%s.example.test' % name, '%s-b.example.test' % name]}]
    res = _order(run_playbook, challenges, extra)
    order = res.task_results('Order')['localhost']['certificates'][name]
    assert order['action'] == 'order', order
    forced_url = order['order_url']
    assert len(order_urls(sandbox, extra['account_key'])) == 2

    rc, result, out, err, _s = run_module(collection_env, 'acme_finalize', stage, 'kill', finalize_args(extra), tmp_path)
    assert rc == -signal.SIGKILL, 'acme_finalize was not killed at %s (rc %s): %s %s' % (stage, rc, out, err)
    assert result is None

    # right after the kill: one whole set, the old one or (killed after the switch) the new one
    after_kill = check_set(folder)
    if switched:
        assert after_kill != first
    else:
        assert after_kill == first and read_set(folder) == first_files
    assert all(e.isdigit() or e.startswith('.new-') for e in generation_entries(folder)), generation_entries(folder)
    in_place = read_set(folder)

    # the rerun: acme_order resumes the same order (no new one), acme_finalize completes it
    res = _order(run_playbook, challenges, extra)
    again = res.task_results('Order')['localhost']
    assert again['certificates'][name]['action'] == 'resume', again['certificates'][name]
    assert again['certificates'][name]['order_url'] == forced_url
    assert 'stale store lock' in res.stdout + res.stderr, 'the lock of the killed run is taken over with a warning'
    fin = run_playbook(FINALIZE, extra_vars=extra)
    assert fin.rc == 0, fin.explain()
    done = fin.task_results('Finalize')['localhost']['certificates'][name]
    assert done['changed'] is True and done['error'] is None, done
    serial = check_set(folder)
    assert serial == done['serial'] and serial != first
    if switched:
        assert serial == after_kill, 'the same order gives the same certificate'
    assert len(order_urls(sandbox, extra['account_key'])) == 2, 'no order beyond the resumed one'
    # nothing half-written left: only complete generations, the previous one is the first certificate
    entries = generation_entries(folder)
    assert all(e.isdigit() for e in entries), entries
    assert os.readlink(os.path.join(folder, 'current')) == 'generations/%s' % max(int(e) for e in entries)
    with open(os.path.join(folder, 'order.json')) as handle:
        assert json.load(handle)['status'] == 'done'
    with open(os.path.join(extra['store'], '.lock')) as handle:
        assert handle.read() == '', 'the lock was released'
    # rollback goes back exactly to the set that was in place when the run was killed
    store = CertStore(extra['store'])
    store.rollback(name)
    assert read_set(folder) == in_place
    assert check_set(folder) == after_kill


@pytest.fixture
def small_fs(tmp_path):
    """A 1 MiB tmpfs mounted for this test (we are root)."""
    mount = tmp_path / 'fs'
    mount.mkdir()
    proc = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', str(mount)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, 'cannot mount a tmpfs (root needed): %s' % proc.stdout
    try:
        yield mount
    finally:
        subprocess.run(['umount', '-l', str(mount)], check=False)


def _fill(mount, leave_pages):
    """Fill the file system but ``leave_pages`` pages; returns the filler path."""
    st = os.statvfs(str(mount))
    free = st.f_bavail * st.f_frsize
    filler = os.path.join(str(mount), 'filler')
    with open(filler, 'wb') as handle:
        handle.write(b'\0' * max(0, free - leave_pages * st.f_frsize))
    assert os.statvfs(str(mount)).f_bavail <= leave_pages
    return filler


@pytest.mark.timeout(600)
def test_enospc_during_install_keeps_the_old_set_and_says_so(sandbox, run_playbook, collection_env, tmp_path,
                                                             challenges, small_fs):
    name, certificates = _one('nospc')
    extra = playbook_vars(sandbox, tmp_path, small_fs / 'store', certificates)
    folder = os.path.join(extra['store'], name)
    _issue(run_playbook, challenges, extra)
    first = check_set(folder)
    first_files = read_set(folder)
    _order(run_playbook, challenges, extra, force=True)
    assert len(order_urls(sandbox, extra['account_key'])) == 2

    filler = _fill(small_fs, 2)   # one page for the lock file, one file of the new generation
    rc, result, out, err, _s = run_module(collection_env, 'acme_finalize', 'none', 'kill', finalize_args(extra),
                                          tmp_path)
    assert rc == 1 and result is not None, (rc, out, err)
    _no_traceback(out, err)
    assert result['failed'] is True
    msg = result['certificates'][name]['error']
    assert msg.startswith('cannot write the new certificate set %s/generations/' % folder), msg
    assert 'No space left on device' in msg and 'the current certificate is unchanged' in msg, msg
    assert name in result['msg'] and 'No space left on device' in result['msg'], result['msg']
    assert result['certificates'][name]['changed'] is False
    # the old set is intact, all four files, and nothing of the new generation is left
    assert check_set(folder) == first and read_set(folder) == first_files
    assert generation_entries(folder) == ['1']

    os.unlink(filler)
    fin = run_playbook(FINALIZE, extra_vars=extra)
    assert fin.rc == 0, fin.explain()
    done = fin.task_results('Finalize')['localhost']['certificates'][name]
    assert done['changed'] is True, done
    assert check_set(folder) == done['serial'] != first
    assert generation_entries(folder) == ['1', '2']
    assert len(order_urls(sandbox, extra['account_key'])) == 2, 'the pending order was finished, no new one'


def _pebble_pid(sandbox):
    with open(os.path.join(sandbox['dir'], 'run', 'pebble.pid')) as handle:
        return int(handle.read().split()[0])


@pytest.mark.timeout(600)
def test_pebble_frozen_mid_run_fails_within_the_timeout_then_the_next_run_succeeds(
        sandbox, run_playbook, collection_env, tmp_path, challenges):
    name, certificates = _one('frz')
    extra = playbook_vars(sandbox, tmp_path, tmp_path / 'store', certificates)
    folder = os.path.join(extra['store'], name)
    _order(run_playbook, challenges, extra)
    pid = _pebble_pid(sandbox)
    timeout = 15
    try:
        # SIGSTOP right after the challenge answer: pebble accepts connections but never answers again
        rc, result, out, err, seconds = run_module(
            collection_env, 'acme_finalize', 'answer', 'signal:STOP:%d' % pid, finalize_args(extra, timeout=timeout),
            tmp_path, timeout=120)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert rc == 1 and result is not None, (rc, out, err)
    _no_traceback(out, err)
    assert seconds < timeout + 30, 'the failure took %.0f s with timeout=%d' % (seconds, timeout)
    msg = result['certificates'][name]['error']
    assert name in result['msg'] and msg, result
    assert 'timeout' in msg or 'timed out' in msg or 'deadline' in msg, msg
    assert not os.path.exists(os.path.join(folder, 'cert.pem'))
    with open(os.path.join(folder, 'order.json')) as handle:
        stored = json.load(handle)
    assert stored['status'] in ('pending', 'ready', 'processing', 'valid'), 'a timeout does not give the order up'
    # pebble runs again with its state. Its own timers ran on while it was frozen, so the validation it
    # had in flight may have timed out (the order is then invalid at the CA): the next run resumes the
    # order when the CA still has it usable, and orders anew only when the CA says it is invalid.
    res = _order(run_playbook, challenges, extra)
    again = res.task_results('Order')['localhost']['certificates'][name]
    fin = run_playbook(FINALIZE, extra_vars=extra)
    assert fin.rc == 0, fin.explain()
    assert check_set(folder) == fin.task_results('Finalize')['localhost']['certificates'][name]['serial']
    orders = order_urls(sandbox, extra['account_key'])
    if again['action'] == 'resume':
        assert again['order_url'] == stored['url'] and orders == [stored['url']]
    else:
        assert again['action'] == 'order', again
        assert order_status(sandbox, extra['account_key'], stored['url']) == 'invalid', \
            'a new order although the CA can still use the stored one'
        # RFC 8555 7.1.2.1: the account's order list leaves invalid orders out; the new order is the only other one
        assert orders == [again['order_url']] and again['order_url'] != stored['url'], orders


@pytest.mark.timeout(600)
def test_pebble_stopped_mid_run_fails_clearly_then_the_next_run_succeeds(
        sandbox, run_playbook, collection_env, tmp_path, challenges):
    name, certificates = _one('down')
    extra = playbook_vars(sandbox, tmp_path, tmp_path / 'store', certificates)
    folder = os.path.join(extra['store'], name)
    _order(run_playbook, challenges, extra)
    timeout = 15
    restarted = False
    try:
        # pebble is terminated right after the challenge answer: every later request is refused
        rc, result, out, err, seconds = run_module(
            collection_env, 'acme_finalize', 'answer', 'signal:TERM:%d' % _pebble_pid(sandbox),
            finalize_args(extra, timeout=timeout), tmp_path, timeout=120)
    finally:
        up = subprocess.run([sys.executable, helpers.SANDBOX_PY, 'up'], env=dict(collection_env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300,
                            check=False)
        restarted = up.returncode == 0
    assert restarted, 'the sandbox did not bring pebble back: %s' % up.stdout
    assert rc == 1 and result is not None, (rc, out, err)
    _no_traceback(out, err)
    assert seconds < timeout + 30, 'the failure took %.0f s with timeout=%d' % (seconds, timeout)
    msg = result['certificates'][name]['error']
    assert 'cannot reach %s' % sandbox['acme']['directory'].rsplit('/', 1)[0] in msg, msg
    assert not os.path.exists(os.path.join(folder, 'cert.pem'))
    # a new pebble knows nothing of the account or the order: the next run registers, orders anew, succeeds
    res = _order(run_playbook, challenges, extra)
    assert res.task_results('Order')['localhost']['certificates'][name]['action'] == 'order'
    fin = run_playbook(FINALIZE, extra_vars=extra)
    assert fin.rc == 0, fin.explain()
    assert check_set(folder) == fin.task_results('Finalize')['localhost']['certificates'][name]['serial']
    assert len(order_urls(sandbox, extra['account_key'])) == 1

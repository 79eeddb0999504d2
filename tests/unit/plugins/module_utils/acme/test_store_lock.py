# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""StoreLock with real second processes holding the flock."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import store_lock
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store_lock import StoreLock

HOLDER = r'''
import sys
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store_lock import StoreLock
lock = StoreLock(sys.argv[1], shared=sys.argv[2] == 'shared', timeout=0)
lock.acquire()
sys.stdout.write('locked\n')
sys.stdout.flush()
sys.stdin.readline()
if sys.argv[3] == 'release':
    lock.release()
'''


# The directory holding ``ansible_collections``: ansible-test's units runner imports the collection through
# its own loader, so a child process needs it on PYTHONPATH to import the same code.
COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(store_lock.__file__), *(['..'] * 6)))


def _child_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([COLLECTIONS_ROOT] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    return env


class Holder:
    """A separate process that takes the lock and keeps it until stopped."""

    def __init__(self, root, shared=False, release=True):
        self.proc = subprocess.Popen([sys.executable, '-c', HOLDER, root, 'shared' if shared else 'exclusive',
                                      'release' if release else 'crash'],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_child_env(),
                                     universal_newlines=True)
        line = self.proc.stdout.readline()
        assert line == 'locked\n', 'holder process did not get the lock: %r' % line

    def stop(self):
        self.proc.stdin.write('\n')
        self.proc.stdin.flush()
        assert self.proc.wait(timeout=60) == 0


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def _lock(root, **kwargs):
    clock = FakeClock()
    warnings = []
    lock = StoreLock(root, warn=warnings.append, sleep=clock.sleep, clock=clock.clock, **kwargs)
    return lock, clock, warnings


def test_exclusive_records_holder_and_clean_release(tmp_path):
    root = str(tmp_path / 'store')
    lock, _clock, warnings = _lock(root)
    with lock:
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
        assert stat.S_IMODE(os.lstat(lock.path).st_mode) == 0o600
        info = lock.holder()
        assert info['pid'] == os.getpid()
        assert info['host'] == socket.gethostname()
        assert info['started'].endswith('Z')
    assert lock.fd is None
    assert lock.holder() is None  # clean release: nothing that looks stale
    assert warnings == []


def test_second_process_waits_then_fails_naming_holder(tmp_path):
    root = str(tmp_path / 'store')
    holder = Holder(root)
    try:
        lock, clock, _warnings = _lock(root, timeout=30)
        with pytest.raises(CertpilotError) as err:
            lock.acquire()
        msg = str(err.value)
        assert msg.startswith('another run holds the store %s since ' % os.path.abspath(root))
        assert '(pid %d, host %s)' % (holder.proc.pid, socket.gethostname()) in msg
        assert 'lock_timeout=30' in msg
        assert err.value.details['lock_holder']['pid'] == holder.proc.pid
        # bounded polling with backoff: growing sleeps, capped, ending at the deadline
        assert clock.sleeps[0] == pytest.approx(0.05)
        assert clock.sleeps[1] > clock.sleeps[0]
        assert max(clock.sleeps) <= 2.0
        assert sum(clock.sleeps) == pytest.approx(30)
        assert lock.fd is None
    finally:
        holder.stop()
    # once the holder releases, the lock is free at once
    lock, clock, warnings = _lock(root, timeout=30)
    with lock:
        assert clock.sleeps == []
        assert warnings == []


def test_lock_timeout_zero_fails_immediately(tmp_path):
    root = str(tmp_path / 'store')
    holder = Holder(root)
    try:
        lock, clock, _warnings = _lock(root, timeout=0)
        with pytest.raises(CertpilotError, match='another run holds the store'):
            lock.acquire()
        assert clock.sleeps == []
    finally:
        holder.stop()


def test_stale_lock_of_dead_process_is_taken_over_with_warning(tmp_path):
    root = str(tmp_path / 'store')
    holder = Holder(root, release=False)  # exits without releasing: like a kill -9
    holder.stop()
    dead_pid = holder.proc.pid
    lock, clock, warnings = _lock(root, timeout=5)
    with lock:
        assert clock.sleeps == []
        assert lock.takeover['pid'] == dead_pid
        assert len(warnings) == 1
        assert 'stale store lock' in warnings[0] and 'pid %d' % dead_pid in warnings[0]
        assert lock.holder()['pid'] == os.getpid()


def test_shared_locks_coexist_and_block_exclusive(tmp_path):
    root = str(tmp_path / 'store')
    os.makedirs(root)
    holder = Holder(root, shared=True)
    try:
        lock, _clock, _warnings = _lock(root, shared=True, timeout=0)
        with lock:
            assert lock.fd is not None
            assert lock.holder() is None  # a shared lock writes nothing
        excl, _clock, _warnings = _lock(root, timeout=1)
        with pytest.raises(CertpilotError, match='another run holds the store'):
            excl.acquire()
    finally:
        holder.stop()


def test_exclusive_holder_blocks_shared(tmp_path):
    root = str(tmp_path / 'store')
    holder = Holder(root)
    try:
        lock, _clock, _warnings = _lock(root, shared=True, timeout=1)
        with pytest.raises(CertpilotError, match=r'\(pid %d, ' % holder.proc.pid):
            lock.acquire()
    finally:
        holder.stop()


def test_shared_lock_on_missing_store_creates_nothing(tmp_path):
    root = str(tmp_path / 'nothing-yet')
    lock, _clock, _warnings = _lock(root, shared=True)
    with lock:
        assert lock.fd is None
    assert not os.path.exists(root)


def test_symlinked_lock_file_is_refused(tmp_path):
    root = tmp_path / 'store'
    root.mkdir()
    target = tmp_path / 'elsewhere'
    target.write_text('x')
    os.symlink(str(target), str(root / '.lock'))
    lock, _clock, _warnings = _lock(str(root))
    with pytest.raises(CertpilotError, match='is a symlink'):
        lock.acquire()
    assert target.read_text() == 'x'


def test_store_that_cannot_be_created_fails(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    lock, _clock, _warnings = _lock(str(blocker / 'store'))
    with pytest.raises(CertpilotError, match='cannot lock the store .*cannot create it'):
        lock.acquire()


def test_read_only_store_is_a_failure_for_a_writing_run(tmp_path, monkeypatch):
    root = str(tmp_path / 'store')
    os.makedirs(root)
    real_open = os.open

    def ro_open(path, flags, *args):
        if path.endswith('.lock') and flags & os.O_CREAT:
            raise OSError(errno.EROFS, 'Read-only file system')
        return real_open(path, flags, *args)

    monkeypatch.setattr(store_lock.os, 'open', ro_open)
    lock, _clock, _warnings = _lock(root)
    with pytest.raises(CertpilotError, match='cannot lock the store: cannot open .*Read-only file system'):
        lock.acquire()
    # check mode on the same read-only store still share-locks an existing lock file
    with open(os.path.join(root, '.lock'), 'w'):
        pass
    shared, _clock, _warnings = _lock(root, shared=True)
    with shared:
        assert shared.fd is not None


def test_flock_not_supported_is_a_failure(tmp_path, monkeypatch):
    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, 'No locks available')

    monkeypatch.setattr(store_lock.fcntl, 'flock', no_flock)
    lock, _clock, _warnings = _lock(str(tmp_path / 'store'))
    with pytest.raises(CertpilotError, match='flock.*No locks available'):
        lock.acquire()
    assert lock.fd is None


@pytest.mark.parametrize('bad', [-1, None, True, '5'])
def test_bad_timeout(tmp_path, bad):
    with pytest.raises(CertpilotError, match='lock_timeout'):
        StoreLock(str(tmp_path), timeout=bad)


def test_holder_ignores_garbage(tmp_path):
    root = tmp_path / 'store'
    root.mkdir()
    (root / '.lock').write_bytes(b'\xff not json')
    lock, _clock, warnings = _lock(str(root))
    with lock:
        assert warnings == []
        assert json.loads((root / '.lock').read_text())['pid'] == os.getpid()

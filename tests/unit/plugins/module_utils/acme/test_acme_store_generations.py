# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The store's generations (issue 12 item 3): complete sets, one atomic switch, exact rollback, pruning, migration."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import stat

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import generations as gen
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CURRENT_FILES, CertStore

PUBLIC = ('cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem')


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _set(tag, issuer=True):
    files = {'privkey.pem': b'KEY-' + tag, 'csr.pem': b'CSR-' + tag, 'cert.pem': b'CERT-' + tag,
             'chain.pem': b'CHAIN-' + tag, 'fullchain.pem': b'CERT-' + tag + b'CHAIN-' + tag}
    if issuer:
        files['issuer.json'] = b'{"directory": "https://ca/' + tag + b'"}'
    return files


def _seen(store, name):
    """What a reader of the public paths sees: {fname: bytes or None}."""
    return dict((f, store.read(name, f)) for f in CURRENT_FILES)


def _as_seen(files):
    return dict((f, files.get(f)) for f in CURRENT_FILES)


def test_install_writes_a_generation_and_public_symlinks(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    assert store.install('www', _set(b'1')) is None
    folder = store.path('www')
    assert store.generations('www') == [1] and store.current_generation('www') == 1
    assert os.readlink(os.path.join(folder, 'current')) == 'generations/1'
    for fname in CURRENT_FILES:
        assert os.readlink(os.path.join(folder, fname)) == 'current/' + fname  # relative, through current
    assert _seen(store, 'www') == _as_seen(_set(b'1'))
    assert _mode(os.path.join(folder, 'generations')) == 0o700
    assert _mode(os.path.join(folder, 'generations', '1')) == 0o700
    assert _mode(os.path.join(folder, 'generations', '1', 'privkey.pem')) == 0o600
    assert _mode(os.path.join(folder, 'generations', '1', 'cert.pem')) == 0o644
    assert sorted(os.listdir(os.path.join(folder, 'generations'))) == ['1']  # no build directory left
    assert store.install('www', _set(b'2')) == '1'
    assert _seen(store, 'www') == _as_seen(_set(b'2'))
    assert os.readlink(os.path.join(folder, 'current')) == 'generations/2'
    assert not [e for e in os.listdir(folder) if e.startswith('.')], 'no temp link left'


def test_current_dir_is_one_generation_that_a_switch_does_not_change(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    store.ensure('www')
    assert store.current_dir('www') == store.path('www')   # nothing issued yet
    store.install('www', _set(b'1'))
    first = store.current_dir('www')
    assert first == store.path('www', 'generations', '1')
    store.install('www', _set(b'2'))
    with open(os.path.join(first, 'cert.pem'), 'rb') as handle:
        assert handle.read() == b'CERT-1', 'a directory resolved before the switch still holds its own set'
    assert store.current_dir('www') == store.path('www', 'generations', '2')
    legacy = _legacy(str(tmp_path / 'flat'))
    assert CertStore(str(tmp_path / 'flat')).current_dir('www') == legacy


def test_keys_are_created_with_their_final_mode(tmp_path, monkeypatch):
    seen = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT:
            seen.append((os.path.basename(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)
    monkeypatch.setattr(gen.os, 'open', spy)
    CertStore(str(tmp_path / 'store')).install('www', _set(b'1'))
    monkeypatch.undo()
    created = dict((name, (flags, mode)) for name, flags, mode in seen)
    flags, mode = created['privkey.pem']
    assert mode == 0o600
    for flag in (os.O_CREAT, os.O_EXCL, os.O_NOFOLLOW):
        assert flags & flag
    assert created['cert.pem'][1] == 0o644


def test_rollback_goes_back_exactly_and_forward_by_number(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    store.install('www', _set(b'1', issuer=False))   # a certificate from before issuer.json
    store.install('www', _set(b'2'))
    assert store.archives('www') == [1]
    assert store.rollback('www') == 1
    assert _seen(store, 'www') == _as_seen(_set(b'1', issuer=False))  # all files, issuer.json gone with it
    assert store.read('www', 'issuer.json') is None
    with pytest.raises(CertpilotError, match='no previous generation of www'):
        store.rollback('www')
    assert store.rollback('www', 2) == 2
    assert _seen(store, 'www') == _as_seen(_set(b'2'))
    with pytest.raises(CertpilotError, match='no generation 7 of www'):
        store.rollback('www', 7)
    # a new install after a rollback gets a new number; nothing is reused or overwritten
    store.rollback('www', 1)
    assert store.install('www', _set(b'3')) == '1'
    assert store.generations('www') == [1, 2, 3] and store.current_generation('www') == 3


@pytest.mark.parametrize('keep', [0, 1, 3])
def test_prune_keeps_archive_keep_previous_generations_keys_included(tmp_path, keep):
    store = CertStore(str(tmp_path / 'store'), archive_keep=keep)
    for i in range(1, 7):
        store.install('www', _set(str(i).encode()))
    kept = list(range(6 - keep, 7))
    assert store.generations('www') == kept
    assert store.current_generation('www') == 6
    base = store.path('www', 'generations')
    assert sorted(os.listdir(base)) == sorted(str(g) for g in kept), 'no half-removed generation left'
    keys = [os.path.join(base, g, 'privkey.pem') for g in os.listdir(base)]
    assert len(keys) == keep + 1


def test_prune_never_removes_the_current_generation_after_a_rollback(tmp_path):
    store = CertStore(str(tmp_path / 'store'), archive_keep=1)
    for i in range(1, 4):
        store.install('www', _set(str(i).encode()))
    assert store.generations('www') == [2, 3]
    store.rollback('www')
    store.install('www', _set(b'4'))
    assert store.generations('www') == [3, 4]
    assert _seen(store, 'www') == _as_seen(_set(b'4'))


@pytest.mark.parametrize('value', [-1, True, '3', 1.5])
def test_archive_keep_is_validated(tmp_path, value):
    with pytest.raises(CertpilotError, match='archive_keep must be a whole number'):
        CertStore(str(tmp_path), archive_keep=value)


def test_set_files_are_only_written_by_install(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    store.install('www', _set(b'1'))
    for fname in ('cert.pem', 'privkey.pem', 'current', 'generations/1/cert.pem'):
        with pytest.raises(CertpilotError, match='only install/rollback'):
            store.write('www', fname, b'x')
        with pytest.raises(CertpilotError, match='only install/rollback'):
            store.remove('www', fname)
    with pytest.raises(CertpilotError, match='unknown file'):
        store.install('www', {'cert.pem': b'x', 'notes.txt': b'y'})
    assert _seen(store, 'www') == _as_seen(_set(b'1'))


def test_enospc_while_writing_the_generation_keeps_the_old_set(tmp_path, monkeypatch):
    store = CertStore(str(tmp_path / 'store'))
    store.install('www', _set(b'1'))
    calls = {'n': 0}
    real_write = os.write

    def full(fd, data):
        calls['n'] += 1
        if calls['n'] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)
    monkeypatch.setattr(gen.os, 'write', full)
    with pytest.raises(CertpilotError) as info:
        store.install('www', _set(b'2'))
    monkeypatch.undo()
    assert 'No space left on device' in info.value.msg
    assert 'the current certificate is unchanged' in info.value.msg
    assert _seen(store, 'www') == _as_seen(_set(b'1'))
    assert sorted(os.listdir(store.path('www', 'generations'))) == ['1'], 'the unfinished generation is removed'
    assert store.install('www', _set(b'2')) == '1'
    assert _seen(store, 'www') == _as_seen(_set(b'2'))


class Crash(BaseException):
    """A crash: not an OSError, so no cleanup handler of the store runs (like kill -9)."""


FS_CALLS = ('open', 'write', 'fsync', 'mkdir', 'rename', 'symlink', 'unlink', 'rmdir', 'chmod', 'fchmod')


class CrashAt(object):
    """Raise Crash at the k-th file-system call (k from 1); count the calls when k is None."""

    def __init__(self, monkeypatch, k=None):
        self.k = k
        self.count = 0
        self.active = False
        for fn in FS_CALLS:
            monkeypatch.setattr(os, fn, self._wrap(getattr(os, fn)))

    def _wrap(self, real):
        def call(*args, **kwargs):
            if self.active:
                self.count += 1
                if self.k is not None and self.count == self.k:
                    raise Crash()
            return real(*args, **kwargs)
        return call

    def run(self, func, *args):
        self.active = True
        try:
            return func(*args)
        except Crash:
            return Crash
        finally:
            self.active = False


def _count_calls(monkeypatch, func, *args):
    counter = CrashAt(monkeypatch)
    counter.run(func, *args)
    monkeypatch.undo()
    return counter.count


def test_a_crash_at_any_point_of_install_leaves_the_whole_old_or_new_set(tmp_path, monkeypatch):
    def fresh(path):
        store = CertStore(str(path), archive_keep=1)
        store.install('www', _set(b'0'))
        store.install('www', _set(b'1'))
        return store
    total = _count_calls(monkeypatch, fresh(tmp_path / 'count').install, 'www', _set(b'2'))
    assert total > 20
    outcomes = set()
    for k in range(1, total + 1):
        store = fresh(tmp_path / ('s%d' % k))
        crash = CrashAt(monkeypatch, k)
        result = crash.run(store.install, 'www', _set(b'2'))
        monkeypatch.undo()
        assert result is Crash, 'call %d did not crash' % k
        seen = _seen(store, 'www')
        assert seen in (_as_seen(_set(b'1')), _as_seen(_set(b'2'))), 'crash at call %d: a mixed set %r' % (k, seen)
        outcomes.add(seen['cert.pem'])
        # the next run (under the lock) cleans up and installs
        store.install('www', _set(b'3'))
        assert _seen(store, 'www') == _as_seen(_set(b'3'))
        base = store.path('www', 'generations')
        assert not [e for e in os.listdir(base) if not e.isdigit()], 'leftovers after crash at call %d' % k
        assert not [e for e in os.listdir(store.path('www')) if e.startswith('.')]
        # rollback goes to exactly the set that was in place at the crash, never to one that was not
        store.rollback('www')
        assert _seen(store, 'www') == seen, 'crash at call %d: rollback did not restore the set in place' % k
    assert outcomes == {b'CERT-1', b'CERT-2'}, 'both sides of the switch were exercised'


def test_first_install_crash_shows_no_certificate_never_half_of_one(tmp_path, monkeypatch):
    total = _count_calls(monkeypatch, CertStore(str(tmp_path / 'count')).install, 'www', _set(b'1'))
    for k in range(1, total + 1):
        store = CertStore(str(tmp_path / ('s%d' % k)))
        store.ensure('www')
        crash = CrashAt(monkeypatch, k)
        crash.run(store.install, 'www', _set(b'1'))
        monkeypatch.undo()
        seen = _seen(store, 'www')
        assert seen in (_as_seen({}), _as_seen(_set(b'1'))), 'crash at call %d: %r' % (k, seen)


# -- migration from the flat layout -----------------------------------------------------------------------
def _legacy(root, name='www', stamps=('20260101T000000.000000Z', '20260201T000000.000000Z')):
    """A folder as earlier versions wrote it: regular files, archive/<stamp>/ with every old key."""
    folder = os.path.join(root, name)
    os.makedirs(folder, 0o700)

    def put(directory, files):
        for fname, data in files.items():
            path = os.path.join(directory, fname)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, gen.mode_for(fname))
            os.write(fd, data)
            os.close(fd)
    for index, stamp in enumerate(stamps):
        directory = os.path.join(folder, 'archive', stamp)
        os.makedirs(directory, 0o700)
        put(directory, _set(('a%d' % index).encode(), issuer=index > 0))
    put(folder, _set(b'cur'))
    put(folder, {'order.json': b'{"status": "done"}'})
    put(folder, {'.privkey.pem.x1y2.tmp': b'KEY-half'})   # an interrupted atomic_write of the old code
    os.makedirs(os.path.join(folder, 'pending'), 0o700)
    return folder


def test_migration_of_the_flat_layout(tmp_path):
    root = str(tmp_path / 'store')
    folder = _legacy(root)
    store = CertStore(root)
    before = _seen(store, 'www')
    assert before == _as_seen(_set(b'cur'))
    assert store.generations('www') == []
    summary = store.migrate('www')
    assert summary == {'archives': [1, 2], 'current': 3}
    assert _seen(store, 'www') == before
    assert store.generations('www') == [1, 2, 3] and store.current_generation('www') == 3
    assert gen.read_generation(folder, 1) == _set(b'a0', issuer=False)   # oldest stamp first
    assert gen.read_generation(folder, 2) == _set(b'a1')
    for g in (1, 2, 3):
        assert _mode(os.path.join(folder, 'generations', str(g))) == 0o700
        assert _mode(os.path.join(folder, 'generations', str(g), 'privkey.pem')) == 0o600
    for fname in CURRENT_FILES:
        assert os.readlink(os.path.join(folder, fname)) == 'current/' + fname
    assert sorted(os.listdir(folder)) == sorted(list(CURRENT_FILES) + ['current', 'generations', 'order.json',
                                                                       'pending'])
    assert store.migrate('www') is None, 'a migrated folder is left alone'
    # rollback goes to the newest archived version, exactly
    assert store.rollback('www') == 2
    assert _seen(store, 'www') == _as_seen(_set(b'a1'))


def test_install_migrates_then_prunes_the_old_archive(tmp_path):
    root = str(tmp_path / 'store')
    _legacy(root, stamps=['2026010%dT000000.000000Z' % i for i in range(1, 6)])
    store = CertStore(root, archive_keep=3)
    assert store.install('www', _set(b'new')) == '6'
    assert store.generations('www') == [4, 5, 6, 7]
    assert _seen(store, 'www') == _as_seen(_set(b'new'))
    assert not os.path.exists(store.path('www', 'archive'))
    assert store.rollback('www') == 6
    assert _seen(store, 'www') == _as_seen(_set(b'cur'))


def test_rollback_of_a_flat_folder_migrates_first(tmp_path):
    root = str(tmp_path / 'store')
    _legacy(root)
    store = CertStore(root)
    assert store.rollback('www') == 2
    assert _seen(store, 'www') == _as_seen(_set(b'a1'))


def test_a_migration_interrupted_at_any_point_completes_next_time(tmp_path, monkeypatch):
    reference = CertStore(str(tmp_path / 'ref'))
    _legacy(reference.root)
    total = _count_calls(monkeypatch, reference.migrate, 'www')
    assert total > 10
    want = dict((g, gen.read_generation(reference.path('www'), g)) for g in reference.generations('www'))
    for k in range(1, total + 1):
        store = CertStore(str(tmp_path / ('m%d' % k)))
        _legacy(store.root)
        crash = CrashAt(monkeypatch, k)
        assert crash.run(store.migrate, 'www') is Crash
        monkeypatch.undo()
        assert _seen(store, 'www') == _as_seen(_set(b'cur')), 'crash at call %d changed what readers see' % k
        store.migrate('www')
        got = dict((g, gen.read_generation(store.path('www'), g)) for g in store.generations('www'))
        assert got == want, 'crash at call %d: generations %r' % (k, sorted(got))
        assert store.current_generation('www') == 3
        assert sorted(os.listdir(store.path('www'))) == sorted(os.listdir(reference.path('www')))


def test_migrate_all_reports_per_folder(tmp_path):
    root = str(tmp_path / 'store')
    _legacy(root, 'a')
    _legacy(root, 'b')
    store = CertStore(root)
    store.install('c', _set(b'1'))
    with open(store.path('b', 'generations'), 'w') as handle:   # in the way: b cannot be migrated
        handle.write('not a directory')
    done, errors = store.migrate_all()
    assert sorted(done) == ['a']
    assert len(errors) == 1 and errors[0].startswith('b: cannot migrate %s' % store.path('b')), errors
    assert _seen(store, 'b') == _as_seen(_set(b'cur')), 'a failed migration leaves the folder readable as it was'

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/generations.py (through CertStore, issue 12 item 3): complete sets, one atomic switch, exact rollback, pruning."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import generations as gen
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CURRENT_FILES, CertStore
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.acme.store_sets import (
    Crash, CrashAt, as_seen, cert_set, count_calls, legacy_folder, mode_of, public_view)


def test_install_writes_a_generation_and_public_symlinks(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    assert store.install('www', cert_set(b'1')) is None
    folder = store.path('www')
    assert store.generations('www') == [1] and store.current_generation('www') == 1
    assert os.readlink(os.path.join(folder, 'current')) == 'generations/1'
    for fname in CURRENT_FILES:
        assert os.readlink(os.path.join(folder, fname)) == 'current/' + fname  # relative, through current
    assert public_view(store, 'www') == as_seen(cert_set(b'1'))
    assert mode_of(os.path.join(folder, 'generations')) == 0o700
    assert mode_of(os.path.join(folder, 'generations', '1')) == 0o700
    assert mode_of(os.path.join(folder, 'generations', '1', 'privkey.pem')) == 0o600
    assert mode_of(os.path.join(folder, 'generations', '1', 'cert.pem')) == 0o644
    assert sorted(os.listdir(os.path.join(folder, 'generations'))) == ['1']  # no build directory left
    assert store.install('www', cert_set(b'2')) == '1'
    assert public_view(store, 'www') == as_seen(cert_set(b'2'))
    assert os.readlink(os.path.join(folder, 'current')) == 'generations/2'
    assert not [e for e in os.listdir(folder) if e.startswith('.')], 'no temp link left'


def test_current_dir_is_one_generation_that_a_switch_does_not_change(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    store.ensure('www')
    assert store.current_dir('www') == store.path('www')   # nothing issued yet
    store.install('www', cert_set(b'1'))
    first = store.current_dir('www')
    assert first == store.path('www', 'generations', '1')
    store.install('www', cert_set(b'2'))
    with open(os.path.join(first, 'cert.pem'), 'rb') as handle:
        assert handle.read() == b'CERT-1', 'a directory resolved before the switch still holds its own set'
    assert store.current_dir('www') == store.path('www', 'generations', '2')
    legacy = legacy_folder(str(tmp_path / 'flat'))
    assert CertStore(str(tmp_path / 'flat')).current_dir('www') == legacy


def test_keys_are_created_with_their_final_mode(tmp_path, monkeypatch):
    seen = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT:
            seen.append((os.path.basename(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)
    monkeypatch.setattr(gen.os, 'open', spy)
    CertStore(str(tmp_path / 'store')).install('www', cert_set(b'1'))
    monkeypatch.undo()
    created = dict((name, (flags, mode)) for name, flags, mode in seen)
    flags, mode = created['privkey.pem']
    assert mode == 0o600
    for flag in (os.O_CREAT, os.O_EXCL, os.O_NOFOLLOW):
        assert flags & flag
    assert created['cert.pem'][1] == 0o644


def test_rollback_goes_back_exactly_and_forward_by_number(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    store.install('www', cert_set(b'1', issuer=False))   # a certificate from before issuer.json
    store.install('www', cert_set(b'2'))
    assert store.archives('www') == [1]
    assert store.rollback('www') == 1
    assert public_view(store, 'www') == as_seen(cert_set(b'1', issuer=False))  # all files, issuer.json gone with it
    assert store.read('www', 'issuer.json') is None
    with pytest.raises(CertpilotError, match='no previous generation of www'):
        store.rollback('www')
    assert store.rollback('www', 2) == 2
    assert public_view(store, 'www') == as_seen(cert_set(b'2'))
    with pytest.raises(CertpilotError, match='no generation 7 of www'):
        store.rollback('www', 7)
    # a new install after a rollback gets a new number; nothing is reused or overwritten
    store.rollback('www', 1)
    assert store.install('www', cert_set(b'3')) == '1'
    assert store.generations('www') == [1, 2, 3] and store.current_generation('www') == 3


@pytest.mark.parametrize('keep', [0, 1, 3])
def test_prune_keeps_archive_keep_previous_generations_keys_included(tmp_path, keep):
    store = CertStore(str(tmp_path / 'store'), archive_keep=keep)
    for i in range(1, 7):
        store.install('www', cert_set(str(i).encode()))
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
        store.install('www', cert_set(str(i).encode()))
    assert store.generations('www') == [2, 3]
    store.rollback('www')
    store.install('www', cert_set(b'4'))
    assert store.generations('www') == [3, 4]
    assert public_view(store, 'www') == as_seen(cert_set(b'4'))


@pytest.mark.parametrize('value', [-1, True, '3', 1.5])
def test_archive_keep_is_validated(tmp_path, value):
    with pytest.raises(CertpilotError, match='archive_keep must be a whole number'):
        CertStore(str(tmp_path), archive_keep=value)


def test_set_files_are_only_written_by_install(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    store.install('www', cert_set(b'1'))
    for fname in ('cert.pem', 'privkey.pem', 'current', 'generations/1/cert.pem'):
        with pytest.raises(CertpilotError, match='only install/rollback'):
            store.write('www', fname, b'x')
        with pytest.raises(CertpilotError, match='only install/rollback'):
            store.remove('www', fname)
    with pytest.raises(CertpilotError, match='unknown file'):
        store.install('www', {'cert.pem': b'x', 'notes.txt': b'y'})
    assert public_view(store, 'www') == as_seen(cert_set(b'1'))


def test_enospc_while_writing_the_generation_keeps_the_old_set(tmp_path, monkeypatch):
    store = CertStore(str(tmp_path / 'store'))
    store.install('www', cert_set(b'1'))
    calls = {'n': 0}
    real_write = os.write

    def full(fd, data):
        calls['n'] += 1
        if calls['n'] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)
    monkeypatch.setattr(gen.os, 'write', full)
    with pytest.raises(CertpilotError) as info:
        store.install('www', cert_set(b'2'))
    monkeypatch.undo()
    assert 'No space left on device' in info.value.msg
    assert 'the current certificate is unchanged' in info.value.msg
    assert public_view(store, 'www') == as_seen(cert_set(b'1'))
    assert sorted(os.listdir(store.path('www', 'generations'))) == ['1'], 'the unfinished generation is removed'
    assert store.install('www', cert_set(b'2')) == '1'
    assert public_view(store, 'www') == as_seen(cert_set(b'2'))


def test_a_crash_at_any_point_of_install_leaves_the_whole_old_or_new_set(tmp_path, monkeypatch):
    def fresh(path):
        store = CertStore(str(path), archive_keep=1)
        store.install('www', cert_set(b'0'))
        store.install('www', cert_set(b'1'))
        return store
    total = count_calls(monkeypatch, fresh(tmp_path / 'count').install, 'www', cert_set(b'2'))
    assert total > 20
    outcomes = set()
    for k in range(1, total + 1):
        store = fresh(tmp_path / ('s%d' % k))
        crash = CrashAt(monkeypatch, k)
        result = crash.run(store.install, 'www', cert_set(b'2'))
        monkeypatch.undo()
        assert result is Crash, 'call %d did not crash' % k
        seen = public_view(store, 'www')
        assert seen in (as_seen(cert_set(b'1')), as_seen(cert_set(b'2'))), 'crash at call %d: a mixed set %r' % (k, public_view)
        outcomes.add(seen['cert.pem'])
        # the next run (under the lock) cleans up and installs
        store.install('www', cert_set(b'3'))
        assert public_view(store, 'www') == as_seen(cert_set(b'3'))
        base = store.path('www', 'generations')
        assert not [e for e in os.listdir(base) if not e.isdigit()], 'leftovers after crash at call %d' % k
        assert not [e for e in os.listdir(store.path('www')) if e.startswith('.')]
        # rollback goes to exactly the set that was in place at the crash, never to one that was not
        store.rollback('www')
        assert public_view(store, 'www') == seen, 'crash at call %d: rollback did not restore the set in place' % k
    assert outcomes == {b'CERT-1', b'CERT-2'}, 'both sides of the switch were exercised'


def test_first_install_crash_shows_no_certificate_never_half_of_one(tmp_path, monkeypatch):
    total = count_calls(monkeypatch, CertStore(str(tmp_path / 'count')).install, 'www', cert_set(b'1'))
    for k in range(1, total + 1):
        store = CertStore(str(tmp_path / ('s%d' % k)))
        store.ensure('www')
        crash = CrashAt(monkeypatch, k)
        crash.run(store.install, 'www', cert_set(b'1'))
        monkeypatch.undo()
        seen = public_view(store, 'www')
        assert seen in (as_seen({}), as_seen(cert_set(b'1'))), 'crash at call %d: %r' % (k, public_view)


# -- migration from the flat layout -----------------------------------------------------------------------

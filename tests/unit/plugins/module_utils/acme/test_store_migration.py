# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/store_migration.py (through CertStore): the flat layout of earlier versions becomes generations, crash-safe."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.certpilot.tls.plugins.module_utils.acme import generations as gen
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CURRENT_FILES, CertStore
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.acme.store_sets import (
    Crash, CrashAt, as_seen, cert_set, count_calls, legacy_folder, mode_of, public_view)


def test_migration_of_the_flat_layout(tmp_path):
    root = str(tmp_path / 'store')
    folder = legacy_folder(root)
    store = CertStore(root)
    before = public_view(store, 'www')
    assert before == as_seen(cert_set(b'cur'))
    assert store.generations('www') == []
    summary = store.migrate('www')
    assert summary == {'archives': [1, 2], 'current': 3}
    assert public_view(store, 'www') == before
    assert store.generations('www') == [1, 2, 3] and store.current_generation('www') == 3
    assert gen.read_generation(folder, 1) == cert_set(b'a0', issuer=False)   # oldest stamp first
    assert gen.read_generation(folder, 2) == cert_set(b'a1')
    for g in (1, 2, 3):
        assert mode_of(os.path.join(folder, 'generations', str(g))) == 0o700
        assert mode_of(os.path.join(folder, 'generations', str(g), 'privkey.pem')) == 0o600
    for fname in CURRENT_FILES:
        assert os.readlink(os.path.join(folder, fname)) == 'current/' + fname
    assert sorted(os.listdir(folder)) == sorted(list(CURRENT_FILES) + ['current', 'generations', 'order.json',
                                                                       'pending'])
    assert store.migrate('www') is None, 'a migrated folder is left alone'
    # rollback goes to the newest archived version, exactly
    assert store.rollback('www') == 2
    assert public_view(store, 'www') == as_seen(cert_set(b'a1'))


def test_install_migrates_then_prunes_the_old_archive(tmp_path):
    root = str(tmp_path / 'store')
    legacy_folder(root, stamps=['2026010%dT000000.000000Z' % i for i in range(1, 6)])
    store = CertStore(root, archive_keep=3)
    assert store.install('www', cert_set(b'new')) == '6'
    assert store.generations('www') == [4, 5, 6, 7]
    assert public_view(store, 'www') == as_seen(cert_set(b'new'))
    assert not os.path.exists(store.path('www', 'archive'))
    assert store.rollback('www') == 6
    assert public_view(store, 'www') == as_seen(cert_set(b'cur'))


def test_rollback_of_a_flat_folder_migrates_first(tmp_path):
    root = str(tmp_path / 'store')
    legacy_folder(root)
    store = CertStore(root)
    assert store.rollback('www') == 2
    assert public_view(store, 'www') == as_seen(cert_set(b'a1'))


def test_a_migration_interrupted_at_any_point_completes_next_time(tmp_path, monkeypatch):
    reference = CertStore(str(tmp_path / 'ref'))
    legacy_folder(reference.root)
    total = count_calls(monkeypatch, reference.migrate, 'www')
    assert total > 10
    want = dict((g, gen.read_generation(reference.path('www'), g)) for g in reference.generations('www'))
    for k in range(1, total + 1):
        store = CertStore(str(tmp_path / ('m%d' % k)))
        legacy_folder(store.root)
        crash = CrashAt(monkeypatch, k)
        assert crash.run(store.migrate, 'www') is Crash
        monkeypatch.undo()
        assert public_view(store, 'www') == as_seen(cert_set(b'cur')), 'crash at call %d changed what readers see' % k
        store.migrate('www')
        got = dict((g, gen.read_generation(store.path('www'), g)) for g in store.generations('www'))
        assert got == want, 'crash at call %d: generations %r' % (k, sorted(got))
        assert store.current_generation('www') == 3
        assert sorted(os.listdir(store.path('www'))) == sorted(os.listdir(reference.path('www')))


def test_migrate_all_reports_per_folder(tmp_path):
    root = str(tmp_path / 'store')
    legacy_folder(root, 'a')
    legacy_folder(root, 'b')
    store = CertStore(root)
    store.install('c', cert_set(b'1'))
    with open(store.path('b', 'generations'), 'w') as handle:   # in the way: b cannot be migrated
        handle.write('not a directory')
    done, errors = store.migrate_all()
    assert sorted(done) == ['a']
    assert len(errors) == 1 and errors[0].startswith('b: cannot migrate %s' % store.path('b')), errors
    assert public_view(store, 'b') == as_seen(cert_set(b'cur')), 'a failed migration leaves the folder readable as it was'

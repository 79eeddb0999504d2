# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A store in the flat layout of earlier versions is read as it is and migrated in place on its first install.

The flat store is made from two real certificates issued by pebble: the newer one as regular
files in ``<name>/``, the older one in ``archive/<UTC stamp>/``, exactly as the earlier
``CertStore.install`` wrote them (docs/acme.md "Store layout").
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import uuid

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore

from acme_store_util import (
    FINALIZE, ORDER, PUBLIC, Challenges, check_set, generation_entries, order_urls, playbook_vars, read_set)

SET = ('privkey.pem', 'csr.pem', 'cert.pem', 'chain.pem', 'fullchain.pem', 'issuer.json')
STAMP = '20260101T000000.000000Z'


@pytest.fixture
def challenges(sandbox):
    tracker = Challenges(sandbox)
    yield tracker
    tracker.remove()


def _run(run_playbook, challenges, playbook, extra):
    res = challenges.note(run_playbook(playbook, extra_vars=extra))
    assert res.rc == 0, res.explain()
    return res


def _write_flat(directory, files):
    os.makedirs(directory, 0o700)
    for fname, data in files.items():
        fd = os.open(os.path.join(directory, fname), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o600 if fname == 'privkey.pem' else 0o644)
        os.write(fd, data)
        os.close(fd)


def _generation(folder, number):
    out = {}
    for fname in SET:
        path = os.path.join(folder, 'generations', str(number), fname)
        if os.path.exists(path):
            with open(path, 'rb') as handle:
                out[fname] = handle.read()
    return out


@pytest.mark.timeout(600)
def test_a_flat_store_is_read_then_migrated_on_first_install(sandbox, run_playbook, tmp_path, challenges):
    name = 'mig-' + uuid.uuid4().hex[:6]
    certificates = [{'name': name, 'domains': ['%s.example.test' % name]}]
    # two real certificates, issued into a scratch store
    scratch = playbook_vars(sandbox, tmp_path, tmp_path / 'scratch', certificates)
    _run(run_playbook, challenges, ORDER, scratch)
    _run(run_playbook, challenges, FINALIZE, scratch)
    _run(run_playbook, challenges, ORDER, dict(scratch, force=True))
    _run(run_playbook, challenges, FINALIZE, scratch)
    src = os.path.join(scratch['store'], name)
    older, newer = _generation(src, 1), _generation(src, 2)
    older.pop('issuer.json')   # archived before issuer.json existed, as old archives are

    # the flat layout: current files in <name>/, the older version in archive/<stamp>/, every key kept
    extra = playbook_vars(sandbox, tmp_path, tmp_path / 'store', certificates)
    folder = os.path.join(extra['store'], name)
    os.makedirs(extra['store'], 0o700)
    _write_flat(folder, newer)
    _write_flat(os.path.join(folder, 'archive', STAMP), older)
    shutil.copy(os.path.join(src, 'order.json'), os.path.join(folder, 'order.json'))
    old_serial = check_set(folder)

    # read as it is: nothing due, nothing pending, nothing rewritten
    res = _run(run_playbook, challenges, ORDER, extra)
    assert res.task_results('Order')['localhost']['certificates'][name]['action'] == 'none'
    res = _run(run_playbook, challenges, FINALIZE, extra)
    assert res.task_results('Finalize')['localhost']['changed'] is False
    assert check_set(folder) == old_serial
    assert all(os.path.isfile(os.path.join(folder, f)) and not os.path.islink(os.path.join(folder, f)) for f in PUBLIC)

    # the first install migrates (under the store lock), installs the new certificate, prunes to archive_keep
    _run(run_playbook, challenges, ORDER, dict(extra, force=True))
    res = _run(run_playbook, challenges, FINALIZE, dict(extra, archive_keep=1))
    done = res.task_results('Finalize')['localhost']['certificates'][name]
    assert done['changed'] is True
    new_serial = check_set(folder)
    assert new_serial == done['serial'] != old_serial
    assert not os.path.exists(os.path.join(folder, 'archive'))
    # archive -> 1, the flat current set -> 2, the new certificate -> 3; archive_keep=1 pruned 1 (its key too)
    assert generation_entries(folder) == ['2', '3']
    assert os.readlink(os.path.join(folder, 'current')) == 'generations/3'
    for fname in SET:
        assert os.readlink(os.path.join(folder, fname)) == 'current/' + fname
    assert _generation(folder, 2) == newer, 'the flat current set became generation 2, byte for byte'
    assert os.stat(os.path.join(folder, 'generations', '2', 'privkey.pem')).st_mode & 0o777 == 0o600
    keys = []
    for base, _dirs, files in os.walk(extra['store']):
        for fname in files:
            with open(os.path.join(base, fname), 'rb') as handle:
                keys.append(handle.read())
    assert older['privkey.pem'] not in keys, 'the pruned generation took its private key with it'
    # reported paths are the public ones and lead to the new set
    assert os.path.realpath(done['key_path']) == os.path.join(folder, 'generations', '3', 'privkey.pem')

    # rollback: the flat store's certificate comes back, every file of it
    store = CertStore(extra['store'])
    assert store.rollback(name) == 2
    assert check_set(folder) == old_serial
    assert read_set(folder) == dict((f, newer[f]) for f in PUBLIC)
    assert len(order_urls(sandbox, extra['account_key'])) == 3

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_modes_and_layout(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    store.write('www', 'pending/privkey.pem', b'KEY')
    store.write('www', 'cert.pem', b'CERT')
    assert _mode(store.root) == 0o700
    assert _mode(store.path('www')) == 0o700
    assert _mode(store.path('www', 'pending')) == 0o700
    assert _mode(store.path('www', 'pending', 'privkey.pem')) == 0o600
    assert _mode(store.path('www', 'cert.pem')) == 0o644
    assert store.read('www', 'cert.pem') == b'CERT'
    assert store.read('www', 'chain.pem') is None
    # no temp files left behind
    assert sorted(os.listdir(store.path('www'))) == ['cert.pem', 'pending']


def test_names_cannot_escape(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    for name in ('../x', '..', '/etc', 'a/../../b'):
        with pytest.raises(CertpilotError):
            store.write(name, 'cert.pem', b'x')
    assert not os.path.exists(str(tmp_path / 'x'))


def test_install_archives_and_rollback(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    store.install('www', {'privkey.pem': b'K1', 'cert.pem': b'C1', 'chain.pem': b'I', 'fullchain.pem': b'C1I'})
    assert store.archives('www') == []
    stamp = store.install('www', {'privkey.pem': b'K2', 'cert.pem': b'C2', 'chain.pem': b'I', 'fullchain.pem': b'C2I'},
                          stamp='20260101T000000.000000Z')
    assert stamp == '20260101T000000.000000Z'
    assert store.read('www', 'cert.pem') == b'C2'
    assert store.read('www', 'archive', stamp, 'cert.pem') == b'C1'
    assert _mode(store.path('www', 'archive', stamp, 'privkey.pem')) == 0o600
    store.rollback('www', stamp)
    assert store.read('www', 'cert.pem') == b'C1' and store.read('www', 'privkey.pem') == b'K1'
    assert len(store.archives('www')) == 2, 'rolling back archives the version it replaces'


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    store = CertStore(str(tmp_path / 'store'))
    store.write('www', 'cert.pem', b'OLD')
    from ansible_collections.certpilot.tls.plugins.module_utils.common import files

    def broken_rename(src, dst):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(files.os, 'rename', broken_rename)
    with pytest.raises(CertpilotError, match='No space left'):
        store.write('www', 'cert.pem', b'NEW')
    monkeypatch.undo()
    assert store.read('www', 'cert.pem') == b'OLD'
    assert os.listdir(store.path('www')) == ['cert.pem']


def test_order_json_and_pending(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    store.save_order('a', {'status': 'pending', 'url': 'u'})
    store.save_order('b', {'status': 'done'})
    store.write('c', 'order.json', b'{broken')
    assert store.load_order('a')['url'] == 'u'
    assert store.load_order('c') is None
    assert store.pending_names() == ['a']


def test_issuer_record_travels_with_its_certificate(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    store.install('www', {'cert.pem': b'OLD', 'privkey.pem': b'K1'})          # a store from before issuer.json
    store.install('www', {'cert.pem': b'NEW', 'privkey.pem': b'K2', 'issuer.json': b'{"directory": "https://prod/dir"}'})
    assert store.load_json('www', 'issuer.json') == {'directory': 'https://prod/dir'}
    # rolling back to the old certificate must not leave the new one's issuer behind
    store.rollback('www')
    assert store.read('www', 'cert.pem') == b'OLD'
    assert store.read('www', 'issuer.json') is None
    # and rolling forward again brings it back (it was archived with its certificate)
    store.rollback('www')
    assert store.read('www', 'cert.pem') == b'NEW'
    assert store.load_json('www', 'issuer.json') == {'directory': 'https://prod/dir'}

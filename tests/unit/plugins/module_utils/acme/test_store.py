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
    store.write('www', 'order.json', b'{}')
    assert _mode(store.root) == 0o700
    assert _mode(store.path('www')) == 0o700
    assert _mode(store.path('www', 'pending')) == 0o700
    assert _mode(store.path('www', 'pending', 'privkey.pem')) == 0o600
    assert _mode(store.path('www', 'order.json')) == 0o644
    assert store.read('www', 'order.json') == b'{}'
    assert store.read('www', 'chain.pem') is None
    # no temp files left behind
    assert sorted(os.listdir(store.path('www'))) == ['order.json', 'pending']


def test_names_cannot_escape(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    for name in ('../x', '..', '/etc', 'a/../../b'):
        with pytest.raises(CertpilotError):
            store.write(name, 'order.json', b'x')
    assert not os.path.exists(str(tmp_path / 'x'))


def test_order_json_and_pending(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    store.save_order('a', {'status': 'pending', 'url': 'u'})
    store.save_order('b', {'status': 'done'})
    store.write('c', 'order.json', b'{broken')
    assert store.load_order('a')['url'] == 'u'
    assert store.load_order('c') is None
    assert store.pending_names() == ['a']


def test_load_json_file_gives_an_object_or_none(tmp_path):
    from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import load_json_file
    cases = {'ok.json': b'{"kind": "import"}', 'list.json': b'[1]', 'bad.json': b'{', 'empty.json': b'',
             'latin.json': b'\xff'}
    for fname, data in cases.items():
        (tmp_path / fname).write_bytes(data)
    assert load_json_file(str(tmp_path / 'ok.json')) == {'kind': 'import'}
    for fname in ('list.json', 'bad.json', 'empty.json', 'latin.json', 'missing.json'):
        assert load_json_file(str(tmp_path / fname)) is None, fname

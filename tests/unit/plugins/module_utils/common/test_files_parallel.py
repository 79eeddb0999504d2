# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import threading
import time

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.files import atomic_write, read_bytes
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import run_parallel


def test_atomic_write_modes_and_change_detection(tmp_path):
    path = str(tmp_path / 'privkey.pem')
    assert atomic_write(path, b'secret', mode=0o600) is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_bytes(path) == b'secret'
    # Same content: reported unchanged, mode still enforced.
    os.chmod(path, 0o644)
    assert atomic_write(path, 'secret', mode=0o600) is False
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert atomic_write(path, b'other', mode=0o600) is True
    assert read_bytes(path) == b'other'
    # No temp files left behind.
    assert sorted(os.listdir(str(tmp_path))) == ['privkey.pem']


def test_atomic_write_failure_keeps_old_content(tmp_path, monkeypatch):
    path = str(tmp_path / 'cert.pem')
    atomic_write(path, b'old')

    def broken_rename(src, dst):
        raise OSError('disk on fire')

    monkeypatch.setattr(os, 'rename', broken_rename)
    with pytest.raises(OSError):
        atomic_write(path, b'new')
    monkeypatch.undo()
    assert read_bytes(path) == b'old'
    assert sorted(os.listdir(str(tmp_path))) == ['cert.pem']


def test_read_bytes_missing(tmp_path):
    assert read_bytes(str(tmp_path / 'nope')) is None


def test_run_parallel_keeps_order_and_isolates_failures():
    def work(n):
        time.sleep(0.01 * (5 - n % 5))
        if n == 3:
            raise ValueError('three is bad')
        return n * n

    outcomes = run_parallel(work, range(8), concurrency=4)
    assert [o.item for o in outcomes] == list(range(8))
    assert [o.value for o in outcomes if o.ok] == [0, 1, 4, 16, 25, 36, 49]
    assert not outcomes[3].ok and 'three is bad' in str(outcomes[3].error)


def test_run_parallel_respects_concurrency_bound():
    lock = threading.Lock()
    state = {'now': 0, 'peak': 0}

    def work(item):  # pylint: disable=unused-argument
        with lock:
            state['now'] += 1
            state['peak'] = max(state['peak'], state['now'])
        time.sleep(0.02)
        with lock:
            state['now'] -= 1

    run_parallel(work, range(20), concurrency=3)
    assert state['peak'] == 3
    assert run_parallel(work, [], concurrency=3) == []


@pytest.mark.parametrize('data, expected', [
    (b'{"pid": 1}', {'pid': 1}), (None, None), (b'', None), (b'{', None), (b'[1]', None), (b'"x"', None),
    (b'\xff\xfe', None),
])
def test_json_object_is_a_dict_or_none(data, expected):
    from ansible_collections.certpilot.tls.plugins.module_utils.common.files import json_object
    assert json_object(data) == expected

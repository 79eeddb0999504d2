# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The progress document run_parallel writes when CERTPILOT_PROGRESS_FILE is set."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import threading
import time

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common import parallel
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import (
    ProgressWriter, item_label, run_parallel, value_failed)


class Endpoint(object):
    def __init__(self, name):
        self.name = name


def read(path):
    with open(path) as handle:
        return json.load(handle)


def test_no_env_no_file(tmp_path, monkeypatch):
    monkeypatch.delenv(parallel.PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    outcomes = run_parallel(lambda x: x * 2, [1, 2, 3], 2)
    assert [o.value for o in outcomes] == [2, 4, 6]
    assert os.listdir(str(tmp_path)) == []
    assert parallel.progress_writer(3, environ={}) is None


def test_final_document_counts_and_slowest(tmp_path, monkeypatch):
    path = str(tmp_path / 'progress.json')
    monkeypatch.setenv(parallel.PROGRESS_ENV, path)
    delays = {'a': 0.01, 'b': 0.3, 'c': 0.02, 'd': 0.01, 'e': 0.05}

    def work(item):
        time.sleep(delays[item['name']])
        if item['name'] == 'c':
            raise ValueError('boom')
        if item['name'] == 'd':
            return {'status': 'error', 'error': 'refused'}
        return {'status': 'ok'}

    items = [{'name': name, 'password': 'hunter2-secret'} for name in sorted(delays)]
    outcomes = run_parallel(work, items, 3)
    assert [o.ok for o in outcomes] == [True, True, False, True, True]
    doc = read(path)
    assert doc['total'] == 5
    assert doc['done'] == 3 and doc['failed'] == 2 and doc['left'] == 0 and doc['running'] == 0
    assert doc['slowest']['label'] == 'b'
    assert doc['slowest']['seconds'] >= 0.3
    assert doc['oldest_running'] is None
    assert doc['updated'] >= doc['started']
    with open(path) as handle:
        assert 'hunter2' not in handle.read()  # only names, never other item fields
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(os.listdir(str(tmp_path))) == ['progress.json']  # no temporary file left


def test_document_is_fresh_while_items_hang(tmp_path, monkeypatch):
    path = str(tmp_path / 'progress.json')
    monkeypatch.setenv(parallel.PROGRESS_ENV, path)
    monkeypatch.setattr(parallel, 'PROGRESS_INTERVAL', 0.05)
    release = threading.Event()
    seen = []

    def work(item):
        if item == 'quick':
            return 'fine'
        release.wait(5)
        return 'late'

    def watch():
        deadline = time.time() + 5
        while time.time() < deadline:
            if os.path.exists(path):
                doc = read(path)
                if doc['done'] == 1 and doc['running'] == 2 and (doc['oldest_running'] or {}).get('seconds', 0) > 0.2:
                    seen.append(doc)
                    break
            time.sleep(0.02)
        release.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    outcomes = run_parallel(work, ['quick', 'hang-1', 'hang-2'], 3)
    watcher.join()
    assert [o.value for o in outcomes] == ['fine', 'late', 'late']
    assert seen, 'the progress file never showed the hanging items while they ran'
    assert seen[0]['oldest_running']['label'] in ('hang-1', 'hang-2')
    assert seen[0]['left'] == 2
    final = read(path)
    assert final['done'] == 3 and final['running'] == 0


def test_sequential_path_writes_too(tmp_path, monkeypatch):
    path = str(tmp_path / 'p.json')
    monkeypatch.setenv(parallel.PROGRESS_ENV, path)

    def work(item):
        if item == 'b':
            raise RuntimeError('x')
        return item

    run_parallel(work, ['a', 'b'], 1)
    doc = read(path)
    assert (doc['done'], doc['failed'], doc['total']) == (1, 1, 2)


def test_unwritable_path_never_breaks_the_work(tmp_path, monkeypatch):
    monkeypatch.setenv(parallel.PROGRESS_ENV, str(tmp_path / 'missing-dir' / 'p.json'))
    outcomes = run_parallel(lambda x: x + 1, [1, 2], 2)
    assert [o.value for o in outcomes] == [2, 3]


def test_planted_symlink_is_not_followed(tmp_path):
    target = tmp_path / 'elsewhere'
    target.write_text(u'keep')
    path = str(tmp_path / 'p.json')
    os.symlink(str(target), path + '.tmp')
    writer = ProgressWriter(path, 1)
    writer.write()
    assert target.read_text() == u'keep'
    assert read(path)['total'] == 1


def test_custom_label_and_failed(tmp_path, monkeypatch):
    path = str(tmp_path / 'p.json')
    monkeypatch.setenv(parallel.PROGRESS_ENV, path)
    run_parallel(lambda x: x, [3, 4, 5], 2, label=lambda x: 'n%d' % x, failed=lambda value: value == 4)
    doc = read(path)
    assert (doc['done'], doc['failed']) == (2, 1)
    assert doc['slowest']['label'] in ('n3', 'n4', 'n5')


@pytest.mark.parametrize('item, label', [
    ({'name': 'www-12', 'key': 'secret'}, 'www-12'),
    ('www.example.com', 'www.example.com'),
    (Endpoint('ep:443'), 'ep:443'),
    ({'domains': ['a']}, None),
    (42, None),
    ({'name': 'x' * 500}, 'x' * (parallel.LABEL_MAX - 3) + '...'),
])
def test_item_label(item, label):
    assert item_label(item) == label


@pytest.mark.parametrize('value, failed', [
    ({'status': 'error'}, True),
    ({'status': 'ok', 'error': None}, False),
    ({'failed': True}, True),
    (({'_failure': {'msg': 'x'}}, []), True),
    (({'action': 'order'}, []), False),
    ('text', False),
    (None, False),
])
def test_value_failed(value, failed):
    assert value_failed(value) is failed

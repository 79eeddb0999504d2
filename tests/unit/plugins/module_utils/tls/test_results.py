# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls/results.py: bounded returns, the urgency order, the results file and the endpoints file."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.tls import results as res

pytestmark = pytest.mark.timeout(60)


def _fake_results(count, bad_every=10):
    out = []
    for i in range(count):
        status = 'expired' if i % bad_every == 0 else 'ok'
        out.append({'name': 'ep%05d' % i, 'status': status, 'days_remaining': float(-i if status != 'ok' else 50),
                    'expect_match': None, 'padding': 'x' * 400})
    return {'results': out, 'summary': {'total': count}, 'checked_at': 'now'}


def test_shape_full_problems_summary():
    facts = _fake_results(1000)
    full = res.shape(facts, 'full')
    assert full['results'] == facts['results'] and full['returned']['omitted'] == 0
    summary = res.shape(facts, 'summary', results_file='/x.json')
    assert summary['results'] == [] and summary['returned'] == {
        'mode': 'summary', 'results': 0, 'omitted': 1000, 'problems': 100, 'results_file': '/x.json'}
    assert summary['summary'] == facts['summary'] and summary['checked_at'] == 'now'
    problems = res.shape(facts, 'problems', max_bytes=10 ** 6)
    assert len(problems['results']) == 100 and all(r['status'] == 'expired' for r in problems['results'])
    days = [r['days_remaining'] for r in problems['results']]
    assert days == sorted(days)  # most urgent first
    small = res.shape(facts, 'problems', max_bytes=20000)
    assert 0 < len(small['results']) < 100
    assert res.json_size(small['results']) <= 20000
    assert small['results'] == problems['results'][:len(small['results'])]
    assert small['returned']['omitted'] == 1000 - len(small['results'])
    with pytest.raises(CertpilotError):
        res.shape(facts, 'some')


def test_expect_mismatch_counts_as_problem():
    facts = {'results': [{'name': 'a', 'status': 'ok', 'expect_match': False, 'days_remaining': 50.0},
                         {'name': 'b', 'status': 'ok', 'expect_match': True, 'days_remaining': 50.0}]}
    assert [r['name'] for r in res.shape(facts, 'problems')['results']] == ['a']


def test_mismatches_returns_what_did_not_match_and_names_what_did():
    facts = {'results': [{'name': 'a', 'status': 'invalid', 'expect_match': True, 'days_remaining': 50.0},
                         {'name': 'b', 'status': 'ok', 'expect_match': False, 'days_remaining': 50.0},
                         {'name': 'c', 'status': 'error', 'expect_match': False, 'days_remaining': None},
                         {'name': 'd', 'status': 'ok', 'expect_match': None, 'days_remaining': 9.0},
                         {'name': 'e', 'status': 'ok', 'expect_match': True, 'days_remaining': 9.0}],
             'summary': {'total': 5}}
    shaped = res.shape(facts, 'mismatches')
    # input order, whatever the status: the verdict that counts is the expectation
    assert [r['name'] for r in shaped['results']] == ['b', 'c', 'd']
    assert shaped['returned']['matched'] == ['a', 'e']
    assert (shaped['returned']['results'], shaped['returned']['omitted'], shaped['returned']['problems']) == (3, 2, 3)
    assert 'matched' not in res.shape(facts, 'full')['returned']
    assert 'matched' not in res.shape(facts, 'problems')['returned']


def test_results_file_is_atomic_with_its_mode(tmp_path):
    facts = _fake_results(10)
    target = tmp_path / 'r.json'
    decoy = tmp_path / 'decoy'
    decoy.write_text('keep')
    os.symlink(str(decoy), str(target))
    size = res.write_results_file(str(target), facts, mode=0o640)
    assert not target.is_symlink() and decoy.read_text() == 'keep'  # replaced, not written through
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert json.loads(target.read_text()) == facts and size == target.stat().st_size
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith('.tmp')] == []
    with pytest.raises(CertpilotError) as err:
        res.write_results_file(str(tmp_path / 'missing' / 'r.json'), facts)
    assert 'does not exist' in err.value.msg


def test_a_large_results_file_is_streamed_and_a_failed_write_leaves_the_old_one(tmp_path):
    facts = _fake_results(2000)  # about 1 MB: many 64 KB pieces
    target = tmp_path / 'r.json'
    size = res.write_results_file(str(target), facts)
    assert json.loads(target.read_text()) == facts and size == target.stat().st_size > 10 ** 6
    before = target.read_bytes()
    broken = dict(facts, results=facts['results'] + [{'name': 'x', 'status': 'ok', 'bad': object()}])
    with pytest.raises(TypeError):
        res.write_results_file(str(target), broken)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith('.tmp')] == []


def test_parse_mode_and_endpoints_file(tmp_path):
    assert res.parse_mode('0600') == 0o600 and res.parse_mode(0o640) == 0o640
    for bad in ('0755', '0400', 'rw', True):
        with pytest.raises(CertpilotError):
            res.parse_mode(bad)
    path = tmp_path / 'eps.json'
    path.write_text(json.dumps(['a.test', {'host': 'b.test', 'port': 8443}]))
    assert res.read_endpoints_file(str(path)) == ['a.test', {'host': 'b.test', 'port': 8443}]
    path.write_text('{"host": "a"}')
    with pytest.raises(CertpilotError) as err:
        res.read_endpoints_file(str(path))
    assert 'JSON list' in err.value.msg
    with pytest.raises(CertpilotError):
        res.read_endpoints_file(str(tmp_path / 'none.json'))


def _urgency_results():
    return [{'name': 'fine', 'status': 'ok', 'days_remaining': 80.0},
            {'name': 'warn-late', 'status': 'warning', 'days_remaining': 15.0},
            {'name': 'down-1', 'status': 'error', 'days_remaining': None},
            {'name': 'warn-soon', 'status': 'warning', 'days_remaining': 9.0},
            {'name': 'gone', 'status': 'expired', 'days_remaining': -3.0},
            {'name': 'down-2', 'status': 'error', 'days_remaining': None},
            {'name': 'fine-2', 'status': 'ok', 'days_remaining': 80.0}]


def test_urgency_order_is_most_severe_first_then_fewest_days_and_stable():
    results = _urgency_results()
    order = res.urgency_order(results)
    assert sorted(order) == list(range(len(results)))
    assert [results[i]['name'] for i in order] == ['down-1', 'down-2', 'gone', 'warn-soon', 'warn-late', 'fine', 'fine-2']
    assert res.by_urgency(results) == [results[i] for i in order]
    assert res.urgency_order([]) == []


def test_shape_gives_the_urgency_order_of_the_returned_results():
    results = _urgency_results()
    facts = {'results': results, 'urgency_order': res.urgency_order(results), 'summary': {}}
    full = res.shape(facts, 'full')
    assert full['urgency_order'] == res.urgency_order(results)
    problems = res.shape(facts, 'problems')
    assert [r['name'] for r in problems['results']] == ['down-1', 'down-2', 'gone', 'warn-soon', 'warn-late']
    assert problems['urgency_order'] == [0, 1, 2, 3, 4]  # positions in the returned (already sorted) list
    assert res.shape(facts, 'summary')['urgency_order'] == []

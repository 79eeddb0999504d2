# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Served-chain verification (``expect``) and bounded returns / the results file of ``tls_expiry_facts``."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import stat

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.tls import results as res
from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import CertCache
from ansible_collections.certpilot.tls.plugins.module_utils.tls.endpoints import parse_endpoint
from ansible_collections.certpilot.tls.plugins.module_utils.tls.facts import Collector, Options, compare_served
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import (
    NOW, issue, server_tls_context)

pytestmark = pytest.mark.timeout(60)


def sha(issued):
    return hashlib.sha256(issued.der).hexdigest()


def _serve(tiny_server, tmp_path, chain, key_pem):
    ctx = server_tls_context(tmp_path, chain, key_pem)

    def script(conn):
        tls = ctx.wrap_socket(conn, server_side=True)
        try:
            tls.recv(1)
        except OSError:
            pass
        tls.close()
    return tiny_server(script)


def test_expect_is_validated_and_normalized():
    leaf = 'AB:' * 31 + 'AB'
    ep = parse_endpoint({'host': 'a.test', 'expect': {'fingerprint_sha256': leaf, 'chain_sha256': ['cd' * 32]}})
    assert ep.expect == {'fingerprint_sha256': 'ab' * 32, 'chain_sha256': ['cd' * 32]}
    for bad, word in [({'fingerprint_sha256': 'ab' * 32}, 'chain_sha256'),
                      ({'chain_sha256': []}, 'fingerprint_sha256'),
                      ({'fingerprint_sha256': 'xyz', 'chain_sha256': []}, 'not a SHA-256'),
                      ({'fingerprint_sha256': 'ab' * 32, 'chain_sha256': 'cd' * 32}, 'must be a list'),
                      ({'fingerprint_sha256': 'ab' * 32, 'chain_sha256': [], 'extra': 1}, 'unknown key'),
                      ('ab' * 32, 'expected a dict')]:
        with pytest.raises(CertpilotError) as err:
            parse_endpoint({'host': 'a.test', 'expect': bad}, index=4)
        assert word in err.value.msg and 'endpoints[4] expect' in err.value.msg


def test_right_leaf_wrong_chain_is_a_mismatch(tiny_server, pki, tmp_path):
    leaf = pki.leaf('srv.unit.test')
    impostor = issue('unit intermediate', issuer=pki.root, ca=True)  # same name, other key: not the expected one
    (tmp_path / 'good').mkdir()
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'none').mkdir()
    good = _serve(tiny_server, tmp_path / 'good', [leaf, pki.inter], leaf.key_pem)
    wrong = _serve(tiny_server, tmp_path / 'bad', [leaf, impostor], leaf.key_pem)
    bare = _serve(tiny_server, tmp_path / 'none', [leaf], leaf.key_pem)
    expect = {'fingerprint_sha256': sha(leaf), 'chain_sha256': [sha(pki.inter)]}
    collector = Collector(Options(timeout=3, retries=0, system_roots=False), now=NOW,
                          roots=[CertCache().get(pki.root.der)])
    out = [collector.endpoint_result(parse_endpoint({'host': '127.0.0.1', 'port': s.port, 'server_name': 'srv.unit.test',
                                                     'expect': expect}))
           for s in (good, wrong, bare)]
    assert [r['fingerprint_sha256'] for r in out] == [sha(leaf)] * 3
    assert [r['served_chain_sha256'] for r in out] == [[sha(pki.inter)], [sha(impostor)], []]
    assert [r['expect_match'] for r in out] == [True, False, False]
    assert out[0]['expect_error'] is None
    assert 'wrong chain' in out[1]['expect_error'] and sha(impostor) in out[1]['expect_error']
    assert 'no intermediate' in out[2]['expect_error']
    # Without expect there is no verdict, but the served chain is reported.
    plain = collector.endpoint_result(parse_endpoint({'host': '127.0.0.1', 'port': wrong.port}))
    assert plain['expect_match'] is None and plain['served_chain_sha256'] == [sha(impostor)]


def test_compare_served_fails_closed():
    expect = {'fingerprint_sha256': 'ab' * 32, 'chain_sha256': []}
    assert compare_served(expect, {'status': 'error', 'error': 'x: connection refused',
                                   'fingerprint_sha256': None}) == (False, 'not verified: x: connection refused')
    match, why = compare_served(expect, {'status': 'ok', 'fingerprint_sha256': 'ab' * 32,
                                         'chain_source': 'leaf-only', 'served_chain_sha256': []})
    assert match is False and 'leaf only' in why
    match, why = compare_served(expect, {'status': 'expired', 'fingerprint_sha256': 'cd' * 32,
                                         'chain_source': 'public', 'served_chain_sha256': []})
    assert match is False and why.startswith('leaf ' + 'cd' * 32)
    assert compare_served(expect, {'status': 'expired', 'fingerprint_sha256': 'ab' * 32, 'chain_source': 'public',
                                   'served_chain_sha256': []}) == (True, None)


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

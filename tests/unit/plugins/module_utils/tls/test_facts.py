# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls/facts.py: one result per endpoint or file, the served chain against expect, the summary."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import CertCache
from ansible_collections.certpilot.tls.plugins.module_utils.tls.endpoints import parse_endpoint
from ansible_collections.certpilot.tls.plugins.module_utils.tls import judge
from ansible_collections.certpilot.tls.plugins.module_utils.tls.facts import (
    Collector, Options, collect, compare_served, load_roots, summarize)
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import (
    DAY, NOW, issue, server_tls_context)
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import iso_z

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


def test_file_results_match_generated_certificate(pki, tmp_path):
    leaf = pki.leaf('file.unit.test', not_after=NOW + 5 * DAY, not_before=NOW - 85 * DAY)
    fullchain = tmp_path / 'fullchain.pem'
    fullchain.write_bytes(leaf.pem + pki.inter.pem + leaf.key_pem)  # a key in the file is ignored
    root = tmp_path / 'root.pem'
    root.write_bytes(pki.root.pem)
    der_file = tmp_path / 'cert.der'
    der_file.write_bytes(leaf.der)
    garbage = tmp_path / 'garbage.pem'
    garbage.write_bytes(b'hello')
    facts, failing = collect(files=[str(fullchain), {'path': str(der_file), 'name': 'der', 'server_name': 'other.test'},
                                    str(garbage), str(tmp_path / 'missing.pem')],
                             options=Options(ca_bundle=str(root), system_roots=False, fail_on='critical'), now=NOW)
    full, der, bad, missing = facts['results']
    assert full['status'] == 'critical'
    assert full['days_remaining'] == pytest.approx((leaf.cert.not_valid_after_utc - NOW).total_seconds() / 86400)
    assert full['fingerprint_sha256'] == hashlib.sha256(leaf.der).hexdigest()
    assert full['serial'] == '%x' % leaf.cert.serial_number
    assert full['not_after'] == iso_z(leaf.cert.not_valid_after_utc)
    assert full['sans'] == ['file.unit.test']
    assert full['chain_valid'] is True and full['hostname_match'] is None
    expected_chain = [hashlib.sha256(leaf.der).hexdigest(), hashlib.sha256(pki.inter.der).hexdigest()]
    assert [c['fingerprint_sha256'] for c in full['chain']] == expected_chain
    assert (full['key_type'], full['key_bits']) == ('EC', 256)
    # DER file: leaf only, so the chain is incomplete; the name is checked because server_name is given.
    assert der['status'] == 'invalid' and der['chain_valid'] is False and der['hostname_match'] is False
    assert bad['status'] == 'error' and 'no certificate' in bad['error']
    assert missing['status'] == 'error' and 'cannot read' in missing['error']
    summary = facts['summary']
    assert (summary['total'], summary['critical'], summary['invalid'], summary['error']) == (4, 1, 1, 2)
    assert summary['earliest']['name'] == full['name']
    assert failing == ['error', 'invalid', 'critical']


def test_bad_input_raises_clear_errors(tmp_path):
    with pytest.raises(CertpilotError) as info:
        collect(endpoints=[], files=[])
    assert 'at least one' in str(info.value)
    with pytest.raises(CertpilotError) as info:
        Options(timeout=0)
    assert 'timeout' in str(info.value)
    empty = tmp_path / 'empty.pem'
    empty.write_bytes(b'nothing here')
    with pytest.raises(CertpilotError) as info:
        load_roots(CertCache(), str(empty), system_roots=False)
    assert 'no PEM certificate' in str(info.value)


def test_system_roots_load():
    cache = CertCache()
    roots = load_roots(cache, None, system_roots=True)
    # Debian's ca-certificates ships well over 100 roots; a collector with them uses the Rust verifier.
    assert len(roots) > 50
    collector = Collector(Options(), roots=roots)
    assert collector.verifier.engine == 'openssl'


def test_summary_line_counts_every_status_and_names_the_worst_five():
    results = [{'name': 'ok%d' % i, 'status': 'ok', 'days_remaining': 80.0, 'not_after': None} for i in range(3)]
    results += [{'name': 'w%d' % i, 'status': 'warning', 'days_remaining': 10.0 + i, 'not_after': None}
                for i in range(3)]
    results += [{'name': 'down', 'status': 'error', 'days_remaining': None, 'not_after': None},
                {'name': 'old', 'status': 'expired', 'days_remaining': -2.0, 'not_after': None},
                {'name': 'bad', 'status': 'invalid', 'days_remaining': 50.0, 'not_after': None}]
    summary = summarize(results)
    assert [w['name'] for w in summary['worst']] == ['down', 'old', 'bad', 'w0', 'w1']
    line = summary['line']
    assert '\n' not in line
    assert line.startswith('certpilot TLS expiry: 9 checked: 1 error, 1 expired, 1 invalid, 0 critical, '
                           '3 warning, 3 ok; worst: down (error), old (expired, -2.0 days)')
    assert 'w2' not in line and 'ok0' not in line
    assert summarize(results[:3])['line'] == 'certpilot TLS expiry: 3 checked: 0 error, 0 expired, 0 invalid, ' \
        '0 critical, 0 warning, 3 ok'


def _summary_results():
    results = [{'name': 'ok%d' % i, 'status': 'ok', 'days_remaining': 80.0, 'not_after': None} for i in range(3)]
    results += [{'name': 'w%d' % i, 'status': 'warning', 'days_remaining': 10.0 + i, 'not_after': None}
                for i in range(3)]
    results += [{'name': 'down', 'status': 'error', 'days_remaining': None, 'not_after': None},
                {'name': 'old', 'status': 'expired', 'days_remaining': -2.0, 'not_after': None},
                {'name': 'bad', 'status': 'invalid', 'days_remaining': 50.0, 'not_after': None}]
    return results


def test_summary_counts_come_most_severe_first():
    summary = summarize(_summary_results())
    assert [c['status'] for c in summary['counts']] == ['error', 'expired', 'invalid', 'critical', 'warning', 'ok']
    assert [c['count'] for c in summary['counts']] == [1, 1, 1, 0, 3, 3]
    assert dict((c['status'], c['count']) for c in summary['counts']) == dict(
        (s, summary[s]) for s in ('ok', 'warning', 'critical', 'invalid', 'expired', 'error'))


def test_summary_failing_per_fail_on_names_only_present_statuses():
    results = _summary_results()
    assert summarize(results)['failing'] == {
        'never': [], 'error': ['error', 'expired', 'invalid'], 'critical': ['error', 'expired', 'invalid'],
        'warning': ['error', 'expired', 'invalid', 'warning']}
    crit = [{'name': 'c', 'status': 'critical', 'days_remaining': 1.0, 'not_after': None}]
    assert summarize(crit)['failing'] == {'never': [], 'error': [], 'critical': ['critical'], 'warning': ['critical']}
    # The same verdict as the task's own fail_on (judge.should_fail) for every setting.
    for fail_on in ('never', 'error', 'critical', 'warning'):
        assert summarize(results)['failing'][fail_on] == judge.should_fail([r['status'] for r in results], fail_on)


def test_summary_headline():
    assert summarize(_summary_results())['headline'] == '1 error, 1 expired, 1 invalid, 3 warning (9 checked)'
    ok = [{'name': 'a', 'status': 'ok', 'days_remaining': 80.0, 'not_after': None}]
    assert summarize(ok)['headline'] == 'all ok (1 checked)'
    assert summarize([])['headline'] == 'all ok (0 checked)'


def test_collect_returns_the_urgency_order_of_its_results(pki, tmp_path):
    root = tmp_path / 'root.pem'
    root.write_bytes(pki.root.pem)
    files = []
    for name, days in (('later', 60), ('soon', 3), ('soonest', 1)):
        leaf = pki.leaf(name + '.unit.test', not_after=NOW + days * DAY)
        path = tmp_path / (name + '.pem')
        path.write_bytes(leaf.pem + pki.inter.pem)
        files.append({'path': str(path), 'name': name})
    files.append({'path': str(tmp_path / 'missing.pem'), 'name': 'missing'})
    facts, _failing = collect(files=files, options=Options(ca_bundle=str(root), system_roots=False), now=NOW)
    names = [r['name'] for r in facts['results']]
    assert names == ['later', 'soon', 'soonest', 'missing']  # input order
    assert [r['status'] for r in facts['results']] == ['ok', 'critical', 'critical', 'error']
    assert [names[i] for i in facts['urgency_order']] == ['missing', 'soonest', 'soon', 'later']

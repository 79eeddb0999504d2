# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/plugin_utils/acme_certificates.py: the acme_certificates role's filters."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.certpilot.tls.plugins.plugin_utils import acme_certificates as f

RESULT = {
    'www': {'action': 'order', 'issued': True, 'not_after': '2027-01-01T00:00:00Z', 'error': None},
    'api': {'action': 'order', 'issued': False, 'not_after': None,
            'error': 'api.example.com: http-01 validation failed:\n  connection: refused'},
    'old': {'action': 'order', 'issued': False, 'not_after': '2026-12-20T00:00:00Z', 'error': 'rejectedIdentifier'},
    'shop': {'action': 'skipped', 'issued': False, 'not_after': None,
             'error': 'skipped: rate-limited until 2026-12-03T04:00:00Z'},
    'idle': {'action': 'none', 'issued': False, 'not_after': '2027-02-01T00:00:00Z', 'error': ''},
}


def test_result_lines_count_everything_and_list_what_had_something_to_do():
    result = dict(RESULT, due={'action': 'order', 'issued': False, 'reason': 'expires in 20.0 days', 'error': None})
    lines = f.result_lines(result)
    assert lines[0] == '6 certificates: 1 issued, 1 due, 3 failed, 1 up to date'
    assert lines[1:] == [
        'api: due: order - ERROR api.example.com: http-01 validation failed: connection: refused',
        'due: due: expires in 20.0 days',
        'old: due: order - ERROR rejectedIdentifier',
        'shop: due: skipped - ERROR skipped: rate-limited until 2026-12-03T04:00:00Z',
        'www: issued',
    ]
    assert f.result_lines(result, show_up_to_date=True)[1:] == sorted(lines[1:] + ['idle: up to date'])
    assert f.result_lines({}) == ['0 certificates: 0 issued, 0 due, 0 failed, 0 up to date']
    assert f.result_lines({'one': {'action': 'none'}}) == ['1 certificate: 0 issued, 0 due, 0 failed, 1 up to date']
    with pytest.raises(AnsibleFilterError):
        f.result_lines({'x': 'not a dict'})
    with pytest.raises(AnsibleFilterError):
        f.result_lines(['not', 'a', 'dict'])


def test_filters_are_registered():
    # one filter plugin file per filter, each registering only its own name and the shared implementation
    for name in ['acme_failures', 'acme_failure_summary', 'acme_deployable', 'acme_certificates_hosts_by_cert',
                 'acme_certificates_order_items', 'acme_certificates_http_by_host', 'acme_certificates_unreachable',
                 'acme_certificates_due', 'acme_certificates_result', 'acme_result_lines']:
        plugin = importlib.import_module('ansible_collections.certpilot.tls.plugins.filter.' + name)
        filters = plugin.FilterModule().filters()
        assert list(filters) == [name]
        assert filters[name].__module__ == f.__name__


def test_failures_are_the_entries_with_an_error_on_one_line():
    assert f.failures(RESULT) == {
        'api': 'api.example.com: http-01 validation failed: connection: refused',
        'old': 'rejectedIdentifier',
        'shop': 'skipped: rate-limited until 2026-12-03T04:00:00Z',
    }
    assert f.failures({}) == {} and f.failures(None) == {}


def test_summary_is_one_sorted_line_naming_each():
    line = f.failure_summary(f.failures(RESULT))
    assert '\n' not in line
    assert line == ('3 certificates failed: api: api.example.com: http-01 validation failed: connection: refused; '
                    'old: rejectedIdentifier; shop: skipped: rate-limited until 2026-12-03T04:00:00Z')
    assert f.failure_summary({'a': 'x'}) == '1 certificate failed: a: x'
    assert f.failure_summary({}) == ''


def test_deployable_drops_only_failed_certificates_with_nothing_in_the_store():
    certs = [{'name': n, 'domains': ['%s.example.com' % n]} for n in ('www', 'api', 'old', 'shop', 'idle', 'new')]
    got = f.deployable(certs, RESULT)
    # api and shop failed and have no certificate; old failed to renew but its current certificate is deployed;
    # new has no result at all (e.g. check mode) and is kept
    assert [c['name'] for c in got] == ['www', 'old', 'idle', 'new']
    assert got[0] is certs[0]
    assert f.deployable(certs, {}) == certs


def test_deployable_drops_a_revoked_certificate_whose_replacement_failed():
    certs = [{'name': 'gone', 'domains': ['gone.example.com']}, {'name': 'fixed', 'domains': ['fixed.example.com']}]
    result = {'gone': {'error': 'connection refused', 'not_after': '2027-01-01T00:00:00Z', 'revoked': True},
              'fixed': {'error': None, 'not_after': '2027-03-01T00:00:00Z', 'revoked': False}}
    assert [c['name'] for c in f.deployable(certs, result)] == ['fixed']


@pytest.mark.parametrize('call, words', [
    (lambda: f.failures(['x']), 'must be a dict'),
    (lambda: f.failures({'a': 'x'}), 'acme_certificates_result[a] must be a dict'),
    (lambda: f.failure_summary('x'), 'must be a dict'),
    (lambda: f.deployable('www', {}), 'must be a list'),
    (lambda: f.deployable([{'domains': []}], {}), 'certificate 0 must be a dict with a name'),
    (lambda: f.deployable([], 'x'), 'must be a dict'),
])
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(AnsibleFilterError) as err:
        call()
    assert words in str(err.value)


GROUPS = {'webservers': ['web1', 'web2'], 'appliances': ['app1']}
LIST = [
    {'name': 'www', 'domains': ['www.example.test'], 'hosts': ['web1'], 'group': 'webservers', 'key_type': 'ec256'},
    {'name': 'api', 'domains': ['api.example.test'], 'challenge': 'dns-01', 'hosts': ['web2'], 'slb': {'x': 1}},
    {'name': 'box', 'domains': ['box.example.test'], 'group': 'appliances', 'reuse_key': True, 'profile': None},
    {'name': 'orphan', 'domains': ['orphan.example.test'], 'group': 'nosuchgroup'},
]


def test_hosts_by_cert_only_http01_with_hosts_then_group():
    got = f.hosts_by_cert(LIST, GROUPS, 'http-01')
    assert got == {'www': ['web1', 'web2'], 'box': ['app1'], 'orphan': []}
    # with dns-01 as the default, only the certificates that ask for http-01 are left: none here
    assert f.hosts_by_cert(LIST, GROUPS, 'dns-01') == {}
    assert f.hosts_by_cert([], GROUPS) == {}


def test_order_items_drop_inventory_keys_and_null_options():
    got = f.order_items(LIST, 'http-01')
    assert [item['name'] for item in got] == [c['name'] for c in LIST]
    assert got[0] == {'name': 'www', 'domains': LIST[0]['domains'], 'challenge': 'http-01', 'key_type': 'ec256'}
    assert got[1] == {'name': 'api', 'domains': LIST[1]['domains'], 'challenge': 'dns-01'}
    # profile null is not sent; reuse_key is
    assert got[2] == {'name': 'box', 'domains': LIST[2]['domains'], 'challenge': 'http-01', 'reuse_key': True}
    assert f.order_items([{'name': 'x', 'domains': ['x.test']}], 'dns-01')[0]['challenge'] == 'dns-01'


HOSTVARS = {
    'web1': {'ansible_host': '127.0.0.11', 'ansible_port': '2222', 'sandbox_webroot': '/srv/web1/acme'},
    'web2': {},
    'app1': {'ansible_host': '127.0.0.14', 'ansible_port': 2200, 'cert_push_transport': 'sftp',
             'sandbox_webroot': '/srv/app1/acme'},
}


def _challenge(cert, token, kind='http-01'):
    return {'type': kind, 'certificate': cert, 'token': token, 'key_authorization': token + '.thumb'}


def test_http_by_host_groups_tokens_per_host_with_its_webroot_and_transport():
    by_cert = {'www': ['web1', 'web2'], 'box': ['app1'], 'ghost': ['web9']}
    challenges = [_challenge('www', 't1'), _challenge('api', 'dns', 'dns-01'), _challenge('box', 't2'),
                  _challenge('www', 't3'), _challenge('www', 't1'), _challenge('ghost', 't4')]
    got = f.http_by_host(challenges, by_cert, HOSTVARS, 'sandbox_webroot', '/var/www/acme')
    assert [e['host'] for e in got] == ['web1', 'web2', 'app1', 'web9']
    web1, web2, app1, web9 = got
    assert web1['webroot'] == '/srv/web1/acme' and web1['sftp'] is False
    # each token once, in challenge order; the dns-01 challenge is nobody's file
    assert web1['files'] == [{'token': t, 'key_authorization': t + '.thumb'} for t in ('t1', 't3')]
    assert web2['webroot'] == '/var/www/acme' and web2['files'] == web1['files']
    assert web2['target']['address'] == 'web2' and web2['target']['port'] == 22
    # a host that is not in the inventory: its name, port 22, the default webroot
    assert web9['target'] == {'name': 'web9', 'address': 'web9', 'port': 22,
                              'files': [{'dest': '/var/www/acme/.well-known/acme-challenge/t4',
                                         'content': 't4.thumb', 'mode': '0644'}]}
    assert app1['sftp'] is True
    assert app1['target'] == {'name': 'app1', 'address': '127.0.0.14', 'port': 2200,
                              'files': [{'dest': '/srv/app1/acme/.well-known/acme-challenge/t2',
                                         'content': 't2.thumb', 'mode': '0644'}]}
    assert app1['cleanup'] == {'name': 'app1', 'address': '127.0.0.14', 'port': 2200,
                               'files': [{'dest': '/srv/app1/acme/.well-known/acme-challenge/t2', 'state': 'absent'}]}
    assert web1['target']['port'] == 2222 and web1['target']['address'] == '127.0.0.11'


def test_http_by_host_without_challenges():
    assert f.http_by_host(None, {'www': ['web1']}, HOSTVARS, 'v', '/w') == []
    assert f.http_by_host([_challenge('api', 'x', 'dns-01')], {'api': ['web1']}, HOSTVARS, 'v', '/w') == []


@pytest.mark.parametrize('call, words', [
    (lambda: f.http_by_host('x', {}, {}, 'v', '/w'), 'the challenges must be a list'),
    (lambda: f.http_by_host([{'type': 'http-01', 'certificate': 'www'}], {'www': ['web1']}, {}, 'v', '/w'),
     'the http-01 challenge of www has no token'),
    (lambda: f.http_by_host([_challenge('www', 't')], {'www': ['h']}, {'h': {'ansible_port': 'ssh'}}, 'v', '/w'),
     "ansible_port of h must be a number, got 'ssh'"),
    (lambda: f.hosts_by_cert({'name': 'www'}, {}), 'acme_certificates_list must be a list'),
    (lambda: f.order_items([{'domains': ['x']}]), 'acme_certificates_list[0] must be a dict with a name'),
    (lambda: f.due('www', {}, []), 'must be a list of names'),
    (lambda: f.certificates_result(LIST, {'certificates': ['www']}, {}, {}, [], '/s'), 'certificates must be a dict'),
])
def test_shaping_bad_input_is_a_clear_error(call, words):
    with pytest.raises(AnsibleFilterError) as err:
        call()
    assert words in str(err.value)


def test_unreachable_failed_then_unreachable_items_then_sftp_failures_each_once():
    copy = {'results': [
        {'item': {'host': 'web1'}, 'changed': True},
        {'item': {'host': 'web2'}, 'unreachable': True},
        {'item': {'host': 'web3'}, 'failed': True, 'msg': 'permission denied'},
        {'item': {'host': 'web4'}, 'failed': False, 'unreachable': False},
    ]}
    assert f.unreachable_hosts(copy, {'failed_hosts': ['app1', 'web3']}) == ['web3', 'web2', 'app1']
    assert f.unreachable_hosts(copy, {'skipped': True}) == ['web3', 'web2']
    # nothing written at all (empty loop, skipped, or not reached)
    assert f.unreachable_hosts({'results': [], 'skipped': True}, None) == []
    assert f.unreachable_hosts(None) == []


def test_due_leaves_out_certificates_served_by_an_unreachable_host():
    by_cert = {'www': ['web1', 'web2'], 'api': ['web3'], 'box': []}
    assert f.due(['www', 'api', 'box', 'dns'], by_cert, ['web2']) == ['api', 'box', 'dns']
    assert f.due(['www', 'api'], by_cert, []) == ['www', 'api']
    assert f.due(None, by_cert, ['web1']) == []


def test_result_merges_order_and_finalize_per_certificate():
    order = {'certificates': {
        'www': {'action': 'renew', 'reason': 'ari window', 'not_after': '2026-12-10T00:00:00Z'},
        'api': {'action': 'order', 'reason': 'new', 'error': 'rejectedIdentifier: api.example.test'},
        'box': {'action': 'order', 'reason': 'new'},
        'orphan': {'action': 'none', 'reason': 'valid until 2027-02-01', 'not_after': '2027-02-01T00:00:00Z'},
    }}
    finalize = {'certificates': {'www': {'changed': True, 'not_after': '2027-03-10T00:00:00Z', 'serial': '0a',
                                         'fingerprint_sha256': 'f' * 64, 'error': ''}}}
    by_cert = f.hosts_by_cert(LIST, GROUPS)
    got = f.certificates_result(LIST, order, finalize, by_cert, ['app1'], '/var/lib/certpilot/store')
    assert list(got) == [c['name'] for c in LIST]
    www = got['www']
    assert (www['action'], www['reason'], www['issued']) == ('renew', 'ari window', True)
    # finalize's not_after wins over the order's; an empty error is no error
    assert www['not_after'] == finalize['certificates']['www']['not_after'] and www['error'] is None
    assert (www['serial'], www['fingerprint_sha256']) == ('0a', 'f' * 64)
    assert www['fullchain_path'] == '/var/lib/certpilot/store/www/fullchain.pem'
    assert www['key_path'] == '/var/lib/certpilot/store/www/privkey.pem'
    assert www['chain_path'] == '/var/lib/certpilot/store/www/chain.pem'
    api = got['api']
    assert api['issued'] is False and api['error'] == order['certificates']['api']['error']
    assert api['not_after'] is None and api['serial'] is None
    # box is served by app1, whose challenge files could not be written
    assert got['box']['error'] == 'not finalized: could not write challenge files to app1'
    # nothing to do: no error even if a host is down, the order's not_after
    assert got['orphan']['error'] is None and got['orphan']['not_after'] == '2027-02-01T00:00:00Z'
    assert [got[n]['revoked'] for n in ('www', 'api', 'box', 'orphan')] == [False] * 4


def test_result_revoked_until_the_replacement_is_issued():
    order = {'certificates': {'www': {'action': 'order', 'reason': 'the current certificate was revoked', 'revoked': True,
                                      'not_after': '2027-01-01T00:00:00Z'}}}
    failed = f.certificates_result(LIST[:1], order, {'certificates': {'www': {'changed': False, 'error': 'boom'}}},
                                   {}, [], '/s')
    assert failed['www']['revoked'] is True and failed['www']['error'] == 'boom'
    replaced = f.certificates_result(LIST[:1], order, {'certificates': {'www': {'changed': True, 'error': ''}}},
                                     {}, [], '/s')
    assert replaced['www']['revoked'] is False and replaced['www']['issued'] is True


def test_result_before_anything_ran_and_with_finalize_skipped():
    got = f.certificates_result(LIST[:1], {}, {'skipped': True}, {}, [], '/s')
    assert got['www']['action'] == 'none' and got['www']['reason'] == ''
    assert got['www']['issued'] is False and got['www']['error'] is None and got['www']['not_after'] is None
    # the finalize error wins over the order's
    order = {'certificates': {'www': {'action': 'order', 'error': 'order error'}}}
    fin = {'certificates': {'www': {'changed': False, 'error': 'finalize error'}}}
    assert f.certificates_result(LIST[:1], order, fin, {}, [], '/s')['www']['error'] == 'finalize error'
    # the hosts named in the error are those of the certificate that are unreachable, in the certificate's order
    by_cert = {'www': ['web1', 'web2', 'web3']}
    got = f.certificates_result(LIST[:1], order, None, by_cert, ['web3', 'web1'], '/s')
    assert got['www']['error'] == 'not finalized: could not write challenge files to web1, web3'

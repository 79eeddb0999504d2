# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/plugin_utils/cert_push.py: the cert_push role's filters."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.certpilot.tls.plugins.plugin_utils import cert_push as f

FILTERS = ['cert_push_mine', 'cert_push_files', 'cert_push_server_blocks', 'cert_push_install_files',
           'cert_push_endpoints', 'cert_push_mismatch', 'cert_push_sftp_server_blocks', 'cert_push_sftp_targets',
           'cert_push_nginx_test_argv']

GROUPS = {'webservers': ['web1', 'web2'], 'appliances': ['app1', 'app2']}
CERTS = [
    {'name': 'www', 'domains': ['www.example.test', 'example.test'], 'hosts': ['web1']},
    {'name': 'wild', 'domains': ['*.example.test'], 'group': 'webservers'},
    {'name': 'box', 'domains': ['box.example.test'], 'group': 'appliances', 'hosts': ['web2']},
]
DEST, STORE = '/etc/ssl/certpilot', '/var/lib/certpilot/store'


def test_filters_are_registered():
    for name in FILTERS:
        plugin = importlib.import_module('ansible_collections.certpilot.tls.plugins.filter.' + name)
        filters = plugin.FilterModule().filters()
        assert list(filters) == [name]
        assert filters[name].__module__ == f.__name__


def test_mine_is_what_the_host_serves_with_its_paths():
    assert [c['name'] for c in f.mine(CERTS, 'web1', GROUPS, DEST, STORE)] == ['www', 'wild']
    assert [c['name'] for c in f.mine(CERTS, 'web2', GROUPS, DEST, STORE)] == ['wild', 'box']
    assert [c['name'] for c in f.mine(CERTS, 'app2', GROUPS, DEST, STORE)] == ['box']
    assert f.mine(CERTS, 'web9', GROUPS, DEST, STORE) == [] and f.mine([], 'web1', GROUPS, DEST, STORE) == []
    www = f.mine(CERTS, 'web1', GROUPS, DEST, STORE)[0]
    assert www == {'name': 'www', 'domains': CERTS[0]['domains'], 'dir': DEST + '/www',
                   'fullchain': DEST + '/www/fullchain.pem', 'privkey': DEST + '/www/privkey.pem',
                   'chain': DEST + '/www/chain.pem', 'src': STORE + '/www'}


@pytest.mark.parametrize('call, words', [
    (lambda: f.mine({'name': 'www'}, 'web1', GROUPS, DEST, STORE), 'cert_push_certificates must be a list'),
    (lambda: f.mine([{'domains': []}], 'web1', GROUPS, DEST, STORE), 'cert_push_certificates[0] must be a dict'),
    (lambda: f.install_files([{'name': 'www', 'part': 'chain', 'dest': '/d', 'mode': '0644', 'secret': False}],
                             {'bundle': {'www': {'fullchain': 'x'}}}), 'the bundle has no chain of www'),
    (lambda: f.install_files([], {}, [{'id': 'web1:/c/x.conf', 'dest': '/c/x.conf', 'mode': '0644'}], {}),
     'the server block web1:/c/x.conf was not rendered'),
    (lambda: f.endpoints([], {}, 'web1', 'https'), "cert_push_verify_port must be a number, got 'https'"),
    (lambda: f.sftp_targets(['app1'], {}, GROUPS, CERTS, {'store': STORE}), 'the sftp settings lack dest_dir'),
])
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(AnsibleFilterError) as err:
        call()
    assert words in str(err.value)


def test_files_per_certificate_chain_optional_key_secret():
    ready = f.mine(CERTS, 'web1', GROUPS, DEST, STORE)
    got = f.store_files(ready, True, '0644', '0640')
    assert [(x['name'], x['part']) for x in got] == [(c['name'], p) for c in ready for p in ('fullchain', 'chain', 'privkey')]
    for item in got:
        cert = next(c for c in ready if c['name'] == item['name'])
        assert item['src'] == '%s/%s.pem' % (cert['src'], item['part'])
        assert item['dest'] == cert[item['part']]
        assert item['secret'] is (item['part'] == 'privkey')
        assert item['mode'] == ('0640' if item['part'] == 'privkey' else '0644')
    assert [x['part'] for x in f.store_files(ready[:1], False)] == ['fullchain', 'privkey']
    assert f.store_files([], True) == []


def test_server_blocks_and_install_files():
    ready = f.mine(CERTS, 'web1', GROUPS, DEST, STORE)
    blocks = f.server_blocks(ready, 'web1', '/etc/nginx/conf.d', '127.0.0.11', 5443)
    assert [b['dest'] for b in blocks] == ['/etc/nginx/conf.d/certpilot-%s.conf' % c['name'] for c in ready]
    assert blocks[0]['id'] == 'web1:/etc/nginx/conf.d/certpilot-www.conf'
    assert blocks[0]['fullchain'] == ready[0]['fullchain'] and blocks[0]['privkey'] == ready[0]['privkey']
    assert (blocks[0]['listen_address'], blocks[0]['port'], blocks[0]['host']) == ('127.0.0.11', 5443, 'web1')
    assert blocks[0]['mode'] == '0644' and blocks[0]['domains'] == CERTS[0]['domains']
    files = f.store_files(ready, False, '0644', '0600')
    bundle = {'bundle': dict((c['name'], {'fullchain': 'CERT ' + c['name'], 'privkey': 'KEY ' + c['name']})
                             for c in ready)}
    rendered = dict((b['id'], 'server %s' % b['name']) for b in blocks)
    got = f.install_files(files, bundle, blocks, rendered)
    assert got[:len(files)] == [
        dict({'dest': x['dest'], 'mode': x['mode']},
             **{('secret_content' if x['secret'] else 'content'): bundle['bundle'][x['name']][x['part']]})
        for x in files]
    # keys never in content, certificates never in secret_content
    assert all('content' not in x for x in got if x['dest'].endswith('privkey.pem'))
    assert got[len(files):] == [{'dest': b['dest'], 'mode': '0644', 'content': 'server ' + b['name']} for b in blocks]
    assert f.install_files(files, bundle) == got[:len(files)]


def test_endpoints_one_per_name_wildcards_through_the_label_expect_only_when_known():
    ready = f.mine(CERTS, 'web2', GROUPS, DEST, STORE)
    info = {'wild': {'fingerprint_sha256': 'a' * 64, 'chain_sha256': ['b' * 64]},
            'box': {'fingerprint_sha256': 'c' * 64, 'chain_sha256': None}}
    got = f.endpoints(ready, info, '127.0.0.12', '5443', 'api')
    assert got[0] == {'host': 'api.example.test', 'server_name': 'api.example.test', 'address': '127.0.0.12',
                      'port': 5443, 'name': 'wild|api.example.test',
                      'expect': {'fingerprint_sha256': 'a' * 64, 'chain_sha256': ['b' * 64]}}
    # no chain fingerprints from the store: no expectation (the mismatch filter fails closed)
    assert got[1]['name'] == 'box|box.example.test' and 'expect' not in got[1]
    assert 'expect' not in f.endpoints(ready, {'wild': {'fingerprint_sha256': '', 'chain_sha256': []}}, 'a', 443)[0]
    assert f.endpoints(ready, None, 'a', 443)[0]['host'] == 'www.example.test'
    assert f.verify_name('*.a.test', 'x') == 'x.a.test' and f.verify_name('a.test', 'x') == 'a.test'


ENDPOINTS = [
    {'name': 'www|www.example.test', 'server_name': 'www.example.test',
     'expect': {'fingerprint_sha256': 'a' * 64, 'chain_sha256': ['b' * 64, 'c' * 64]}},
    {'name': 'www|example.test', 'server_name': 'example.test',
     'expect': {'fingerprint_sha256': 'a' * 64, 'chain_sha256': ['b' * 64, 'c' * 64]}},
    {'name': 'box|box.example.test', 'server_name': 'box.example.test'},
]


def test_mismatch_fails_closed():
    served = {'tls_expiry': {'results': [
        {'name': 'www|www.example.test', 'expect_match': True, 'fingerprint_sha256': 'a' * 64},
        {'name': 'www|example.test', 'expect_match': False, 'fingerprint_sha256': 'd' * 64,
         'served_chain_sha256': ['e' * 64], 'expect_error': 'chain differs'},
        {'name': 'box|box.example.test', 'fingerprint_sha256': '', 'error': 'connection refused'},
        # a result of another source never counts for an endpoint
        {'name': 'www|www.example.test', 'source': 'file', 'expect_match': False},
    ]}}
    got = f.mismatch(ENDPOINTS, served)
    assert got == [
        {'certificate': 'www', 'server_name': 'example.test',
         'expected': '%s with chain [%s, %s]' % ('a' * 64, 'b' * 64, 'c' * 64),
         'served': '%s with chain [%s]' % ('d' * 64, 'e' * 64), 'error': 'chain differs'},
        {'certificate': 'box', 'server_name': 'box.example.test',
         'expected': 'a certificate, but the store gave no fingerprints for box', 'served': None,
         'error': 'connection refused'},
    ]


def test_mismatch_with_return_results_mismatches_proves_each_endpoint_by_name():
    names = [e['name'] for e in ENDPOINTS]
    lean = {'tls_expiry': {'results': [], 'returned': {'mode': 'mismatches', 'matched': names}}}
    # every endpoint that has an expectation and is named as matched is proven...
    got = f.mismatch(ENDPOINTS, lean)
    assert [m['server_name'] for m in got] == [e['server_name'] for e in ENDPOINTS if e.get('expect') is None]
    # ...one the module did not name is not, whatever else is there (fail closed)
    partial = {'tls_expiry': {'results': [], 'returned': {'mode': 'mismatches', 'matched': names[1:]}}}
    assert ENDPOINTS[0]['server_name'] in [m['server_name'] for m in f.mismatch(ENDPOINTS, partial)]
    assert f.mismatch(ENDPOINTS[:1], partial)[0]['error'] == 'not verified: no result'
    # names only count in that mode: a full result must carry the verdict itself
    other = {'tls_expiry': {'results': [], 'returned': {'mode': 'full', 'matched': names}}}
    assert len(f.mismatch(ENDPOINTS, other)) == len(ENDPOINTS)
    # a returned mismatch wins over a stale name
    wrong = {'tls_expiry': {'results': [{'name': names[0], 'expect_match': False, 'fingerprint_sha256': 'd' * 64,
                                         'expect_error': 'other leaf'}],
                            'returned': {'mode': 'mismatches', 'matched': names}}}
    assert f.mismatch(ENDPOINTS[:1], wrong)[0]['error'] == 'other leaf'


def test_mismatch_when_the_module_failed_or_was_not_run():
    got = f.mismatch(ENDPOINTS[:1], {'failed': True, 'msg': 'unsupported option'})
    assert got[0]['error'] == 'not verified: unsupported option' and got[0]['served'] is None
    assert f.mismatch(ENDPOINTS[:1], None)[0]['error'] == 'not verified: no result'
    # a served certificate without a verdict is not a match
    served = {'tls_expiry': {'results': [{'name': ENDPOINTS[0]['name'], 'fingerprint_sha256': 'a' * 64}]}}
    assert f.mismatch(ENDPOINTS[:1], served)[0]['served'] == 'a' * 64 + ' with chain []'
    assert f.mismatch([], served) == []


def test_nginx_test_argv():
    assert f.nginx_test_argv('/usr/sbin/nginx', '/etc/nginx/nginx.conf') == [
        '/usr/sbin/nginx', '-t', '-q', '-c', '/etc/nginx/nginx.conf']


SETTINGS = {
    'dest_dir': DEST, 'store': STORE, 'missing': [], 'verify': True, 'verify_port': '443',
    'verify_wildcard_label': 'www', 'cert_mode': '0644', 'key_mode': '0600', 'chain': True, 'vhost': False,
    'listen_address': '', 'https_port': 443, 'nginx_conf_dir': '/etc/nginx/conf.d', 'nginx_binary': '/usr/sbin/nginx',
    'nginx_conf': '/etc/nginx/nginx.conf', 'reload': 'command', 'reload_timeout': '60', 'reload_service': 'nginx',
    'reload_pid_file': '', 'reload_signal': 'HUP',
}
HOSTVARS = {
    'app1': {'cert_push_transport': 'sftp', 'ansible_host': '127.0.0.14', 'ansible_port': '2222'},
    'app2': {'cert_push_transport': 'sftp', 'ansible_host': '127.0.0.15', 'cert_push_dest_dir': '/opt/certs',
             'cert_push_https_port': 8443, 'cert_push_nginx_binary': '/opt/nginx/sbin/nginx',
             'cert_push_nginx_conf': '/opt/nginx/nginx.conf', 'cert_push_reload': 'signal',
             'cert_push_reload_pid_file': '/run/nginx.pid', 'cert_push_listen_address': '127.0.0.15',
             'cert_push_nginx_conf_dir': '/opt/nginx/conf.d'},
    'web2': {},  # ansible transport: never an sftp target
}


def test_sftp_targets_one_per_sftp_host_with_host_overrides():
    got = f.sftp_targets(['web2', 'app1', 'app2', 'nohost'], HOSTVARS, GROUPS, CERTS, SETTINGS)
    assert [t['name'] for t in got] == ['app1', 'app2']
    app1, app2 = got
    assert (app1['address'], app1['port']) == ('127.0.0.14', 2222)
    src = STORE + '/box'
    assert app1['files'] == [
        {'dest': DEST + '/box/fullchain.pem', 'src': src + '/fullchain.pem', 'mode': '0644',
         'verify': [{'server_name': 'box.example.test', 'address': '127.0.0.14', 'port': 443}]},
        {'dest': DEST + '/box/chain.pem', 'src': src + '/chain.pem', 'mode': '0644'},
        {'dest': DEST + '/box/privkey.pem', 'src': src + '/privkey.pem', 'mode': '0600', 'secret': True},
    ]
    assert app1['validate_command'] == '/usr/sbin/nginx -t -q -c /etc/nginx/nginx.conf'
    assert app1['reload'] == {'mechanism': 'command', 'timeout': 60,
                              'command': '/usr/sbin/nginx -c /etc/nginx/nginx.conf -s reload'}
    # app2's own destination, port (verified on its HTTPS port), nginx and reload by signal
    assert app2['port'] == 22
    assert app2['files'][0]['dest'] == '/opt/certs/box/fullchain.pem'
    assert app2['files'][0]['verify'] == [{'server_name': 'box.example.test', 'address': '127.0.0.15', 'port': 8443}]
    assert app2['validate_command'] == '/opt/nginx/sbin/nginx -t -q -c /opt/nginx/nginx.conf'
    assert app2['reload'] == {'mechanism': 'signal', 'timeout': 60, 'pid_file': '/run/nginx.pid', 'signal': 'HUP'}


def test_sftp_targets_reload_command_service_verify_off_and_missing():
    hostvars = {'app1': dict(HOSTVARS['app1'], cert_push_reload_command='/bin/reload-nginx',
                             cert_push_verify_address='box.lan', cert_push_verify_port='9443'),
                'app2': dict(HOSTVARS['app2'], cert_push_reload='service')}
    got = f.sftp_targets(['app1', 'app2'], hostvars, GROUPS, CERTS, SETTINGS)
    assert got[0]['reload']['command'] == '/bin/reload-nginx'
    assert got[0]['files'][0]['verify'] == [{'server_name': 'box.example.test', 'address': 'box.lan', 'port': 9443}]
    assert got[1]['reload'] == {'mechanism': 'service', 'timeout': 60, 'service': 'nginx'}
    quiet = f.sftp_targets(['app1'], hostvars, GROUPS, CERTS, dict(SETTINGS, verify=False, chain=False))
    assert [x['dest'].rsplit('/', 1)[1] for x in quiet[0]['files']] == ['fullchain.pem', 'privkey.pem']
    assert quiet[0]['files'][0]['verify'] == []
    # a host whose only certificate is not issued yet (check mode) gets no target
    assert f.sftp_targets(['app1'], hostvars, GROUPS, CERTS, dict(SETTINGS, missing=['box'])) == []


def test_sftp_server_blocks_rendered_into_the_targets():
    settings = dict(SETTINGS, vhost=True)
    assert f.sftp_server_blocks(['app1', 'app2'], HOSTVARS, GROUPS, CERTS, SETTINGS) == []
    blocks = f.sftp_server_blocks(['web2', 'app1', 'app2'], HOSTVARS, GROUPS, CERTS, settings)
    assert [(b['host'], b['dest']) for b in blocks] == [('app1', '/etc/nginx/conf.d/certpilot-box.conf'),
                                                        ('app2', '/opt/nginx/conf.d/certpilot-box.conf')]
    assert (blocks[1]['listen_address'], blocks[1]['port'], blocks[1]['fullchain']) == (
        '127.0.0.15', 8443, '/opt/certs/box/fullchain.pem')
    assert (blocks[0]['listen_address'], blocks[0]['port']) == ('', 443)
    rendered = dict((b['id'], 'server block of %s' % b['host']) for b in blocks)
    got = f.sftp_targets(['app1', 'app2'], HOSTVARS, GROUPS, CERTS, settings, rendered)
    # the block follows the certificate's files
    assert got[1]['files'][-1] == {'dest': blocks[1]['dest'], 'content': 'server block of app2', 'mode': '0644'}
    assert [x['dest'] for x in got[0]['files']][-2:] == [DEST + '/box/privkey.pem', blocks[0]['dest']]
    with pytest.raises(AnsibleFilterError, match='was not rendered'):
        f.sftp_targets(['app1'], HOSTVARS, GROUPS, CERTS, settings, {})

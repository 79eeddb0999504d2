# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the deploy targets of plugins/plugin_utils/cert_push.py (cert_push_target: nginx, haproxy,
apache, command): parts, files, configuration files, validate command and reload."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.certpilot.tls.plugins.plugin_utils import cert_push as f

FILTERS = ['cert_push_target_service', 'cert_push_target_parts', 'cert_push_target_files',
           'cert_push_target_configs', 'cert_push_target_commands']
GROUPS = {'lb': ['lb1']}
CERTS = [
    {'name': 'www', 'domains': ['www.example.test', 'example.test'], 'hosts': ['lb1']},
    {'name': 'wild', 'domains': ['*.example.test'], 'group': 'lb'},
]
DEST, STORE = '/etc/ssl/certpilot', '/var/lib/certpilot/store'
SETTINGS = {
    'chain': True, 'cert_mode': '0644', 'key_mode': '0600', 'vhost': True, 'dest_dir': DEST,
    'nginx_binary': '/usr/sbin/nginx', 'nginx_conf': '/etc/nginx/nginx.conf', 'nginx_conf_dir': '/etc/nginx/conf.d',
    'haproxy_binary': '/usr/sbin/haproxy', 'haproxy_conf': '/etc/haproxy/haproxy.cfg',
    'haproxy_cert_dir': '/etc/haproxy/certs', 'haproxy_crt_list': '/etc/haproxy/certpilot.crt-list',
    'apache_ctl': '/usr/sbin/apachectl', 'apache_conf': '', 'apache_conf_dir': '/etc/apache2/sites-enabled',
    'command_files': [{'path': 'site.crt', 'parts': ['fullchain']},
                      {'path': '/opt/box/keys/{name}.key', 'parts': ['privkey']},
                      {'path': 'all.pem', 'parts': ['cert', 'chain', 'privkey'], 'mode': '0640'}],
    'command_validate': ['/opt/box/bin/check', '--config', '/opt/box/box.conf'],
    'command_reload': ['/opt/box/bin/reload'],
    'reload': 'service', 'reload_service': 'nginx', 'reload_command': '', 'reload_pid_file': '',
    'reload_signal': 'HUP', 'reload_timeout': '60',
}


def ready():
    return f.mine(CERTS, 'lb1', GROUPS, DEST, STORE)


def test_filters_are_registered():
    for name in FILTERS:
        plugin = importlib.import_module('ansible_collections.certpilot.tls.plugins.filter.' + name)
        filters = plugin.FilterModule().filters()
        assert list(filters) == [name]
        assert filters[name].__module__ == f.__name__


def test_service_per_target():
    assert [f.target_service(t, 'n', 'h', 'a') for t in f.TARGETS] == ['n', 'h', 'a', 'n']
    assert f.target_service('apache') == 'apache2'


def test_parts_per_target():
    # nginx: exactly what the role asked certpilot.tls.cert_bundle for before targets existed
    assert f.target_parts('nginx', True) == ['fullchain', 'privkey', 'chain']
    assert f.target_parts('nginx', False) == ['fullchain', 'privkey']
    assert f.target_parts('haproxy', True) == ['fullchain', 'privkey']
    assert f.target_parts('apache', False) == ['cert', 'fullchain', 'privkey']
    assert f.target_parts('command', True, SETTINGS['command_files']) == ['cert', 'chain', 'fullchain', 'privkey']
    assert f.target_parts('command', True, [{'path': 'k', 'parts': 'privkey'}]) == ['privkey']


def test_nginx_files_and_configs_are_those_of_before():
    certs = ready()
    assert f.target_files(certs, 'nginx', SETTINGS) == f.store_files(certs, True, '0644', '0600')
    assert f.target_configs(certs, 'nginx', 'lb1', SETTINGS, '127.0.0.1', 5443) == f.server_blocks(
        certs, 'lb1', '/etc/nginx/conf.d', '127.0.0.1', 5443)
    assert f.target_configs(certs, 'nginx', 'lb1', dict(SETTINGS, vhost=False)) == []


def test_haproxy_one_combined_pem_with_the_key_mode_and_a_crt_list():
    certs = ready()
    files = f.target_files(certs, 'haproxy', dict(SETTINGS, key_mode='0640'))
    assert files == [{'name': c['name'], 'parts': ['fullchain', 'privkey'], 'dest': '/etc/haproxy/certs/%s.pem' % c['name'],
                      'mode': '0640', 'secret': True} for c in certs]
    configs = f.target_configs(certs, 'haproxy', 'lb1', SETTINGS)
    assert len(configs) == 1 and configs[0]['template'] == 'haproxy_crt_list.j2'
    assert configs[0]['id'] == 'lb1:/etc/haproxy/certpilot.crt-list' and configs[0]['mode'] == '0644'
    assert configs[0]['entries'] == [
        {'pem': '/etc/haproxy/certs/www.pem', 'name': 'www', 'domains': ['www.example.test', 'example.test']},
        {'pem': '/etc/haproxy/certs/wild.pem', 'name': 'wild', 'domains': ['*.example.test']}]
    assert f.target_configs(certs, 'haproxy', 'lb1', dict(SETTINGS, haproxy_crt_list='')) == []
    # the combined PEM: fullchain then key, each on its own lines, secret
    bundle = {'bundle': {'www': {'fullchain': 'CHAIN-www', 'privkey': 'KEY-www\n'},
                         'wild': {'fullchain': 'CHAIN-wild\n', 'privkey': 'KEY-wild\n'}}}
    got = f.install_files(files, bundle)
    assert got[0] == {'dest': '/etc/haproxy/certs/www.pem', 'mode': '0640', 'secret_content': 'CHAIN-www\nKEY-www\n'}
    assert got[1]['secret_content'] == 'CHAIN-wild\nKEY-wild\n' and all('content' not in x for x in got)


def test_apache_files_and_virtual_hosts():
    certs = ready()
    files = f.target_files(certs[:1], 'apache', SETTINGS)
    assert [(x['part'], x['dest'], x['mode'], x['secret']) for x in files] == [
        ('cert', DEST + '/www/cert.pem', '0644', False), ('chain', DEST + '/www/chain.pem', '0644', False),
        ('fullchain', DEST + '/www/fullchain.pem', '0644', False), ('privkey', DEST + '/www/privkey.pem', '0600', True)]
    assert [x['part'] for x in f.target_files(certs[:1], 'apache', dict(SETTINGS, chain=False))] == [
        'cert', 'fullchain', 'privkey']
    hosts = f.target_configs(certs, 'apache', 'lb1', SETTINGS, '127.0.0.5', 7443)
    assert [(h['dest'], h['template']) for h in hosts] == [
        ('/etc/apache2/sites-enabled/certpilot-www.conf', 'apache_vhost.conf.j2'),
        ('/etc/apache2/sites-enabled/certpilot-wild.conf', 'apache_vhost.conf.j2')]
    assert (hosts[0]['server_name'], hosts[0]['aliases']) == ('www.example.test', ['example.test'])
    # a wildcard is matched by ServerAlias only
    assert (hosts[1]['server_name'], hosts[1]['aliases']) == ('example.test', ['*.example.test'])
    assert (hosts[0]['fullchain'], hosts[0]['privkey'], hosts[0]['port']) == (
        DEST + '/www/fullchain.pem', DEST + '/www/privkey.pem', 7443)
    assert f.target_configs(certs, 'apache', 'lb1', dict(SETTINGS, vhost=False)) == []


def test_command_layout_relative_absolute_modes_and_parts():
    files = f.target_files(ready(), 'command', SETTINGS)
    assert [(x['dest'], x['mode'], x['secret'], x.get('part'), x.get('parts')) for x in files] == [
        (DEST + '/www/site.crt', '0644', False, 'fullchain', None),
        ('/opt/box/keys/www.key', '0600', True, 'privkey', None),
        (DEST + '/www/all.pem', '0640', True, None, ['cert', 'chain', 'privkey']),
        (DEST + '/wild/site.crt', '0644', False, 'fullchain', None),
        ('/opt/box/keys/wild.key', '0600', True, 'privkey', None),
        (DEST + '/wild/all.pem', '0640', True, None, ['cert', 'chain', 'privkey'])]
    assert f.target_configs(ready(), 'command', 'lb1', SETTINGS) == []


def test_commands_per_target():
    got = dict((t, f.target_commands(t, SETTINGS)) for t in f.TARGETS)
    assert got['nginx']['validate_command'] == f.nginx_test_argv('/usr/sbin/nginx', '/etc/nginx/nginx.conf')
    assert got['haproxy']['validate_command'] == ['/usr/sbin/haproxy', '-c', '-q', '-f', '/etc/haproxy/haproxy.cfg']
    assert got['apache']['validate_command'] == ['/usr/sbin/apachectl', '-t']
    assert f.target_commands('apache', dict(SETTINGS, apache_conf='/srv/a.conf'))['validate_command'] == [
        '/usr/sbin/apachectl', '-f', '/srv/a.conf', '-t']
    assert got['command']['validate_command'] == SETTINGS['command_validate']
    service = {'mechanism': 'service', 'service': 'nginx', 'command': [], 'pid_file': '', 'signal': 'HUP', 'timeout': 60}
    for target in ('nginx', 'haproxy', 'apache'):
        assert got[target]['reload'] == service
    assert got['command']['reload'] == dict(service, mechanism='command', command=['/opt/box/bin/reload'])
    assert [got[t]['server'] for t in f.TARGETS] == ['nginx', 'haproxy', 'apache', 'the server']
    # the reload command string is split like the role's "split" filter did; a signal keeps its pid file
    spec = f.target_commands('nginx', dict(SETTINGS, reload='command', reload_command='/usr/sbin/nginx -s reload'))
    assert spec['reload']['command'] == ['/usr/sbin/nginx', '-s', 'reload']
    spec = f.target_commands('haproxy', dict(SETTINGS, reload='signal', reload_pid_file='/run/h.pid', reload_signal='USR2'))
    assert (spec['reload']['mechanism'], spec['reload']['pid_file'], spec['reload']['signal']) == ('signal', '/run/h.pid', 'USR2')
    # an empty signal is each target's graceful reload signal; a given one is kept as it is
    for target, signal in (('nginx', 'HUP'), ('haproxy', 'USR2'), ('apache', 'USR1'), ('command', 'HUP')):
        spec = f.target_commands(target, dict(SETTINGS, reload='signal', reload_pid_file='/run/x.pid', reload_signal=''))
        assert spec['reload']['signal'] == signal, target
    assert f.target_commands('apache', dict(SETTINGS, reload_signal='WINCH'))['reload']['signal'] == 'WINCH'
    # the command target without a reload argv uses the role's mechanism
    spec = f.target_commands('command', dict(SETTINGS, command_reload=[], reload='signal'))
    assert spec['reload']['mechanism'] == 'signal'


@pytest.mark.parametrize('call, words', [
    (lambda: f.target_parts('lighttpd'), "cert_push_target must be one of nginx, haproxy, apache, command, got 'lighttpd'"),
    (lambda: f.target_files([], 'haproxy', {'key_mode': '0600'}), 'the haproxy target settings lack cert_push_haproxy_binary'),
    (lambda: f.target_commands('nginx', dict((k, v) for k, v in SETTINGS.items() if k != 'reload_signal')),
     'the nginx target settings lack cert_push_reload_signal'),
    (lambda: f.target_commands('command', dict(SETTINGS, command_validate=[])), 'needs cert_push_command_validate'),
    (lambda: f.target_commands('command', dict(SETTINGS, command_validate='check && reload')),
     'cert_push_command_validate must be a list of strings (an argument list, no shell)'),
    (lambda: f.target_commands('command', dict(SETTINGS, command_reload=['ok', 3])), 'cert_push_command_reload must be a list'),
    (lambda: f.target_files(ready(), 'command', dict(SETTINGS, command_files=[])), 'needs cert_push_command_files'),
    (lambda: f.target_files(ready(), 'command', dict(SETTINGS, command_files=[{'path': '/opt/k.pem', 'parts': ['privkey']}])),
     'www and wild both write /opt/k.pem'),
    (lambda: f.target_parts('command', True, [{'path': 'x', 'parts': ['key']}]), 'parts must be a non-empty list of cert'),
    (lambda: f.target_parts('command', True, [{'path': '../x', 'parts': ['cert']}]), 'must not contain ..'),
    (lambda: f.target_parts('command', True, [{'path': '{host}.pem', 'parts': ['cert']}]), 'only use the placeholder {name}'),
    (lambda: f.target_parts('command', True, [{'path': 'x', 'parts': ['cert'], 'owner': 'root'}]), 'unknown keys owner'),
    (lambda: f.target_parts('command', True, ['x.pem']), 'cert_push_command_files[0] must be a dict'),
    (lambda: f.sftp_targets(['app1'], {'app1': {'cert_push_transport': 'sftp', 'cert_push_target': 'haproxy'}},
                            {}, [], {'store': STORE}), 'the sftp settings lack'),
])
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(AnsibleFilterError) as err:
        call()
    assert words in str(err.value)


SFTP_SETTINGS = {
    'dest_dir': DEST, 'store': STORE, 'missing': [], 'verify': True, 'verify_port': '443',
    'verify_wildcard_label': 'www', 'cert_mode': '0644', 'key_mode': '0600', 'chain': True, 'vhost': False,
    'listen_address': '', 'https_port': 443, 'nginx_conf_dir': '/etc/nginx/conf.d', 'nginx_binary': '/usr/sbin/nginx',
    'nginx_conf': '/etc/nginx/nginx.conf', 'reload': 'command', 'reload_timeout': '60', 'reload_service': 'nginx',
    'reload_pid_file': '', 'reload_signal': 'HUP',
}


def test_sftp_transport_refuses_other_targets():
    hostvars = {'app1': {'cert_push_transport': 'sftp', 'cert_push_target': 'apache'}}
    with pytest.raises(AnsibleFilterError, match='app1: cert_push_target=apache needs the ansible transport'):
        f.sftp_targets(['app1'], hostvars, {}, [], SFTP_SETTINGS)
    with pytest.raises(AnsibleFilterError, match='cert_push_target=haproxy needs the ansible transport'):
        f.sftp_server_blocks(['app1'], {'app1': {'cert_push_transport': 'sftp'}}, {}, [],
                             dict(SFTP_SETTINGS, target='haproxy'))
    assert f.sftp_targets(['app1'], {'app1': {'cert_push_transport': 'sftp'}}, {}, [], dict(SFTP_SETTINGS, target='nginx')) == []

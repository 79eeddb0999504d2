# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""certpilot.tls.nginx_webroot: challenges served, idempotent, a config nginx rejects never stays in place."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.timeout(600)

PLAYBOOK = '''
- hosts: web2
  gather_facts: false
  roles:
    - role: certpilot.tls.nginx_webroot
      vars:
        nginx_webroot_path: "{{ sandbox_webroot }}"
        nginx_webroot_snippet: false
        nginx_webroot_http_port: "{{ sandbox_http_port }}"
        nginx_webroot_listen_address: "{{ listen }}"
        nginx_webroot_server_names: ["{{ server_name }}"]
        nginx_webroot_conf_dir: "{{ sandbox_nginx_conf_dir }}"
        nginx_webroot_http_conf_name: "{{ conf_name }}"
        nginx_webroot_binary: "{{ sandbox_nginx_binary }}"
        nginx_webroot_conf: "{{ sandbox_nginx_conf }}"
        nginx_webroot_reload_command: "{{ sandbox_nginx_binary }} -c {{ sandbox_nginx_conf }} -s reload"
'''


def fetch(address, port, host, path):
    req = urllib.request.Request('http://%s:%d%s' % (address, port, path), headers={'Host': host})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, resp.read().decode(), resp.headers.get('Location')
    except urllib.error.HTTPError as exc:
        return exc.code, '', exc.headers.get('Location')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_webroot_serves_challenges_redirects_and_rejects_broken_config(sandbox, run_playbook):
    info = sandbox['hosts']['web2']
    tag = 'w' + uuid.uuid4().hex[:8]
    conf_name = 'certpilot-%s-http.conf' % tag
    conf_path = os.path.join(info['nginx_conf_dir'], conf_name)
    token_path = os.path.join(info['webroot'], '.well-known', 'acme-challenge', tag)
    server_name = '%s.example.test' % tag
    base = {'server_name': server_name, 'conf_name': conf_name, 'listen': info['address']}
    try:
        first = run_playbook(PLAYBOOK, extra_vars=base)
        assert first.rc == 0, first.explain()
        assert first.changed('web2') > 0
        with open(token_path, 'w') as handle:
            handle.write('%s.thumbprint' % tag)
        status, body, _location = fetch(info['address'], info['http_port'], server_name, '/.well-known/acme-challenge/' + tag)
        assert (status, body) == (200, '%s.thumbprint' % tag)
        status, _body, location = fetch(info['address'], info['http_port'], server_name, '/some/page')
        assert (status, location) == (301, 'https://%s/some/page' % server_name)

        second = run_playbook(PLAYBOOK, extra_vars=base)
        assert second.rc == 0 and second.changed('web2') == 0, second.explain()

        with open(conf_path) as handle:
            good = handle.read()
        broken = run_playbook(PLAYBOOK, extra_vars=dict(base, listen='203.0.113.256'))
        assert broken.rc != 0
        assert 'nginx -t failed on web2' in broken.stdout and '203.0.113.256' in broken.stdout, broken.explain()
        with open(conf_path) as handle:
            assert handle.read() == good
        assert [f for f in os.listdir(info['nginx_conf_dir']) if f.startswith(conf_name + '.')] == []
        check = subprocess.run([info['nginx_binary'], '-t', '-q', '-c', info['nginx_conf']], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30, check=False)
        assert check.returncode == 0, check.stdout
        status, body, _location = fetch(info['address'], info['http_port'], server_name, '/.well-known/acme-challenge/' + tag)
        assert status == 200
    finally:
        for path in (conf_path, token_path):
            if os.path.exists(path):
                os.unlink(path)
        subprocess.run([info['nginx_binary'], '-c', info['nginx_conf'], '-s', 'reload'], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30, check=False)

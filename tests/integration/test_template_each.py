# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""certpilot.tls.template_each renders byte for byte what Ansible's own template lookup renders.

The filter's EXAMPLES task runs as written (ansible-playbook on localhost), next to one
``lookup('ansible.builtin.template')`` per item with the same variable; both results must be equal.
Templates: one exercising the Jinja2 settings that differ between engines (trim_blocks, lstrip_blocks,
trailing newlines, escaping), and the cert_push role's real nginx server block.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys

import yaml

import helpers
from ansible_collections.certpilot.tls.plugins.filter import template_each as plugin

TRICKY = (
    '# managed: {{ vhost.id }}\n'
    '{% for d in vhost.domains %}\n'
    '    {% if loop.first %}first {% endif %}{{ d }}\n'
    '{% endfor %}\n'
    'port {{ vhost.port }}{{ " default" if vhost.port == 443 else "" }}\n'
    '  {%- if vhost.port != 443 %} (not default){% endif %}\n'
    'quote "{{ vhost.domains | join(\'" "\') }}" <&>\n'
    '{# a comment line #}\n'
    '\n'
    '\n'
)


def _example_tasks():
    return yaml.safe_load(plugin.EXAMPLES)


def _play(var_name, blocks_expr='blocks'):
    compare = {
        'name': 'Render the same items with the template lookup, one at a time',
        'ansible.builtin.set_fact': {
            'expected': "{{ expected | default({}) | combine({item.id: lookup('ansible.builtin.template', "
                        "'vhost.conf.j2', template_vars={'%s': item})}) }}" % var_name},
        'loop': '{{ %s }}' % blocks_expr,
    }
    write = {
        'name': 'Write both results',
        'ansible.builtin.copy': {'dest': '{{ out }}', 'mode': '0600',
                                 'content': '{{ {"rendered": rendered, "expected": expected} | to_json }}'},
    }
    return compare, write


def _run(run_playbook, tmp_path, template_text, tasks, extra_vars):
    (tmp_path / 'templates').mkdir()
    (tmp_path / 'templates' / 'vhost.conf.j2').write_text(template_text)
    play = [{'name': 'template_each parity', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
    path = tmp_path / 'play.yml'
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    out = tmp_path / 'out.json'
    inventory = {'all': {'hosts': {'localhost': {'ansible_connection': 'local',
                                                 'ansible_python_interpreter': sys.executable}}}}
    result = run_playbook(str(path), extra_vars=dict(extra_vars, out=str(out)), inventory=inventory)
    assert result.rc == 0, result.explain()
    return json.loads(out.read_text())


def test_the_documented_example_matches_the_template_lookup(run_playbook, tmp_path):
    tasks = _example_tasks()
    assert len(tasks) == 1 and 'certpilot.tls.template_each' in tasks[0]['ansible.builtin.set_fact']['rendered']
    blocks = tasks[0]['vars']['blocks']
    compare, write = _play('vhost', blocks_expr=json.dumps(blocks))
    data = _run(run_playbook, tmp_path, TRICKY, tasks + [compare, write], {})
    assert sorted(data['rendered']) == sorted(b['id'] for b in blocks)
    assert data['rendered'] == data['expected']
    assert data['rendered']['www.example.com'].endswith('<&>\n\n\n')  # trailing newlines really kept


def test_the_cert_push_server_block_matches_the_template_lookup(run_playbook, tmp_path):
    role_template = os.path.join(helpers.REPO, 'roles', 'cert_push', 'templates', 'vhost.conf.j2')
    with open(role_template) as handle:
        text = handle.read()
    blocks = [
        {'id': 'web1:/etc/nginx/conf.d/certpilot-www.conf', 'host': 'web1', 'name': 'www',
         'domains': ['www.example.test', 'example.test'], 'fullchain': '/etc/ssl/www/fullchain.pem',
         'privkey': '/etc/ssl/www/privkey.pem', 'listen_address': '127.42.0.11', 'port': 5443},
        {'id': 'web1:/etc/nginx/conf.d/certpilot-api.conf', 'host': 'web1', 'name': 'api',
         'domains': ['api.example.test'], 'fullchain': '/etc/ssl/api/fullchain.pem',
         'privkey': '/etc/ssl/api/privkey.pem', 'listen_address': '', 'port': 443},
    ]
    ours = {'name': 'Render with template_each, as the cert_push role does',
            'ansible.builtin.set_fact': {
                'rendered': "{{ blocks | certpilot.tls.template_each(lookup('ansible.builtin.file', "
                            "'templates/vhost.conf.j2', rstrip=false), '_cert_push_vhost') }}"}}
    compare, write = _play('_cert_push_vhost')
    data = _run(run_playbook, tmp_path, text, [ours, compare, write], {'blocks': blocks})
    assert data['rendered'] == data['expected']
    assert 'listen 127.42.0.11:5443 ssl;' in data['rendered'][blocks[0]['id']]

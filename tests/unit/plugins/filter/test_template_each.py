# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/plugin_utils/template_each.py (the template_each filter).

Parity with Ansible's own template lookup, byte for byte, is checked by
tests/integration/test_template_each.py (it needs ansible-playbook).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.certpilot.tls.plugins.filter.template_each import FilterModule
from ansible_collections.certpilot.tls.plugins.plugin_utils.template_each import template_each

HERE = os.path.dirname(os.path.abspath(__file__))
VHOST = os.path.join(HERE, '..', '..', '..', '..', 'roles', 'cert_push', 'templates', 'vhost.conf.j2')


def test_registered():
    assert FilterModule().filters() == {'template_each': template_each}


def test_each_item_is_rendered_with_only_itself_and_keyed():
    text = 'server {{ v.name }}{% if v.port != 443 %}:{{ v.port }}{% endif %}\n{% for d in v.domains %}\n  {{ d }}\n{% endfor %}\n'
    items = [{'id': 'a', 'name': 'a.test', 'port': 443, 'domains': ['a.test', 'www.a.test']},
             {'id': 'b', 'name': 'b.test', 'port': 8443, 'domains': []}]
    out = template_each(items, text, 'v')
    # trim_blocks: the newline right after each block tag ({% endif %}, {% for %}, {% endfor %}) goes,
    # the newline after a variable stays
    assert out == {'a': 'server a.test  a.test\n  www.a.test\n', 'b': 'server b.test:8443'}


def test_trailing_newlines_are_kept_and_nothing_is_escaped():
    out = template_each([{'id': 1, 'x': '<a & "b">'}], '{{ v.x }}\n\n', 'v')
    assert out == {'1': '<a & "b">\n\n'}


def test_other_key():
    out = template_each([{'dest': '/x', 'n': 1}, {'dest': '/y', 'n': 2}], '{{ it.n * 2 }}', 'it', key='dest')
    assert out == {'/x': '2', '/y': '4'}


def test_the_cert_push_server_block():
    with open(VHOST) as handle:
        text = handle.read()
    block = {'id': 'web1:/c/certpilot-www.conf', 'host': 'web1', 'name': 'www', 'domains': ['www.test', 'test'],
             'fullchain': '/s/www/fullchain.pem', 'privkey': '/s/www/privkey.pem', 'listen_address': '127.0.0.1',
             'port': 5443}
    rendered = template_each([block, dict(block, id='other', listen_address='')], text, '_cert_push_vhost')
    lines = rendered['web1:/c/certpilot-www.conf'].splitlines()
    assert '    listen 127.0.0.1:5443 ssl;' in lines and '    server_name www.test test;' in lines
    assert '    ssl_certificate_key /s/www/privkey.pem;' in lines
    assert '    listen 5443 ssl;' in rendered['other'].splitlines()
    assert rendered['other'].endswith('}\n')


@pytest.mark.parametrize('items, text, var, key, message', [
    ({'id': 1}, 'x', 'v', 'id', 'must be a list'),
    ([{'id': 1}], '', 'v', 'id', 'non-empty string'),
    ([{'id': 1}], 'x', 'not a name', 'id', 'identifier'),
    ([{'id': 1}], '{% if %}', 'v', 'id', 'does not compile'),
    (['plain'], 'x', 'v', 'id', "item 0 has no 'id'"),
    ([{'id': 1}, {'id': 1}], 'x', 'v', 'id', 'two items have the id 1'),
    ([{'id': 1}], '{{ v.missing }}', 'v', 'id', '1: '),
    ([{'id': 1}], '{{ hostvars }}', 'v', 'id', "'hostvars' is undefined"),
])
def test_bad_input_is_a_clear_error(items, text, var, key, message):
    with pytest.raises(AnsibleFilterError) as info:
        template_each(items, text, var, key)
    assert message in str(info.value)


def test_the_sandbox_refuses_unsafe_attributes():
    with pytest.raises(AnsibleFilterError) as info:
        template_each([{'id': 1}], "{{ v.__class__.__mro__ }}", 'v')
    assert 'unsafe' in str(info.value) or 'undefined' in str(info.value)

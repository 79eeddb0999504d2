# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/plugin_utils/certificate_hosts.py: the hosts serving a certificate (both roles)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.certpilot.tls.plugins.plugin_utils.certificate_hosts import serving_hosts

GROUPS = {'webservers': ['web1', 'web2', 'web3'], 'edge': ['web3', 'lb1'], 'empty': []}


@pytest.mark.parametrize('cert, want', [
    ({'name': 'a', 'hosts': ['web2', 'web1']}, ['web2', 'web1']),
    ({'name': 'a', 'group': 'webservers'}, GROUPS['webservers']),
    # hosts first, then the group's, each once
    ({'name': 'a', 'hosts': ['web3', 'web9'], 'group': 'webservers'}, ['web3', 'web9', 'web1', 'web2']),
    ({'name': 'a', 'hosts': ['web1', 'web1']}, ['web1']),
    ({'name': 'a', 'group': 'missing'}, []),
    ({'name': 'a', 'group': 'empty'}, []),
    ({'name': 'a', 'group': None, 'hosts': None}, []),
    ({'name': 'a'}, []),
])
def test_hosts_then_group_each_once(cert, want):
    assert serving_hosts(cert, GROUPS) == want


def test_no_groups_at_all():
    assert serving_hosts({'name': 'a', 'hosts': ['web1'], 'group': 'webservers'}, None) == ['web1']


@pytest.mark.parametrize('cert, words', [
    ('www', 'a certificate must be a dict'),
    ({'name': 'www', 'hosts': 'web1'}, 'hosts of certificate www must be a list'),
    ({'name': 'www', 'group': 'g'}, 'group g must be a list'),
])
def test_bad_input_is_a_clear_error(cert, words):
    with pytest.raises(AnsibleFilterError) as err:
        serving_hosts(cert, {'g': 'web1'})
    assert words in str(err.value)

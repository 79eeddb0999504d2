# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the slb_rotate role's filters (the data shaping that used to live in Jinja templates)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.certpilot.tls.plugins.plugin_utils import slb_rotate as f


def test_filters_are_registered():
    # one filter plugin file per filter, each registering only its own name and the shared implementation
    for name in ['slb_rotate_module_targets', 'slb_rotate_result', 'slb_rotate_handshakes']:
        plugin = importlib.import_module('ansible_collections.certpilot.tls.plugins.filter.' + name)
        filters = plugin.FilterModule().filters()
        assert list(filters) == [name]
        assert filters[name].__module__ == f.__name__


def test_module_targets_by_id_name_port_and_domain():
    got = f.module_targets([
        {'load_balancer': 'lb-abc', 'port': '8443', 'domain': 'api.example.test'},
        {'load_balancer': 'edge-lb'},
        {'load_balancer_id': 'custom-id', 'listener_port': 444},
        {'load_balancer_name': 'lb-looks-like-an-id'},
    ])
    assert got == [
        {'load_balancer_id': 'lb-abc', 'listener_port': 8443, 'domain': 'api.example.test'},
        {'load_balancer_name': 'edge-lb', 'listener_port': 443},
        {'load_balancer_id': 'custom-id', 'listener_port': 444},
        {'load_balancer_name': 'lb-looks-like-an-id', 'listener_port': 443},
    ]


@pytest.mark.parametrize('targets, words', [
    ('lb-1', 'must be a list'),
    (['lb-1'], 'slb_rotate_targets[0] must be a dict'),
    ([{'port': 443}], 'names no load balancer'),
    ([{'load_balancer': 'lb-1', 'port': 'https'}], 'port must be a number'),
])
def test_module_targets_bad_input_is_a_clear_error(targets, words):
    with pytest.raises(AnsibleFilterError, match=words.replace('[', r'\[').replace(']', r'\]')):
        f.module_targets(targets)


UPLOAD = {'server_certificate_id': 'cert-2', 'name': 'www20261202', 'fingerprint': 'aa:bb',
          'certificate': {'fingerprint_sha256': 'f' * 64}, 'expire_time': '2027-03-01T00:00Z', 'uploaded': True}


def _res(lb, port, changed=False, failed=False, domain=None, **extra):
    res = {'load_balancer_id': lb, 'load_balancer_name': lb + '-name', 'listener_port': port, 'domain': domain,
           'changed': changed, 'failed': failed, 'address': '127.0.0.%d' % (port % 250), 'verified': changed,
           'previous_server_certificate_id': 'cert-1'}
    res.update(extra)
    return res


def test_result_splits_switched_unchanged_failed_and_lists_handshakes():
    targets = [{'load_balancer': 'lb-a', 'verify_host': 'lb-a.example.test'},
               {'load_balancer': 'lb-b', 'port': 8443, 'domain': 'api.example.test', 'verify_port': 9443},
               {'load_balancer': 'lb-c'}]
    switch = {'results': [_res('lb-a', 443, changed=True), _res('lb-b', 8443, domain='api.example.test'),
                          _res('lb-c', 443, failed=True, msg='listener not found')]}
    got = f.rotation_result(UPLOAD, switch, targets, verify_lb_address=True)
    assert got['server_certificate_id'] == 'cert-2' and got['fingerprint_sha256'] == 'f' * 64
    assert got['uploaded'] is True and got['check_mode_pending'] is False
    assert got['switched'] == [{'target': 'lb-a:443', 'load_balancer_id': 'lb-a', 'listener_port': 443,
                                'domain': None, 'previous_server_certificate_id': 'cert-1', 'verified': True}]
    assert [u['target'] for u in got['unchanged']] == ['lb-b:8443/api.example.test']
    assert got['failed'] == [{'target': 'lb-c:443', 'load_balancer_id': 'lb-c', 'load_balancer_name': 'lb-c-name',
                              'listener_port': 443, 'domain': None, 'msg': 'listener not found'}]
    # the failed target is not verified; the LB address is used where no verify_host is given
    assert got['handshake_endpoints'] == [
        {'host': 'lb-a.example.test', 'port': 443, 'server_name': 'lb-a.example.test', 'name': 'lb-a:443'},
        {'host': '127.0.0.193', 'port': 9443, 'server_name': 'api.example.test', 'name': 'lb-b:8443/api.example.test'},
    ]
    assert 'switch_error' not in got


def test_result_without_lb_address_verification_only_uses_verify_host():
    targets = [{'load_balancer': 'lb-a'}]
    got = f.rotation_result(UPLOAD, {'results': [_res('lb-a', 443, changed=True)]}, targets, verify_lb_address=False)
    assert got['handshake_endpoints'] == []


def test_result_when_the_whole_switch_call_failed():
    got = f.rotation_result(UPLOAD, {'failed': True, 'msg': 'InvalidAccessKeyId'}, [{'load_balancer': 'lb-a'}])
    assert got['failed'] == [{'target': 'all', 'msg': 'InvalidAccessKeyId'}]
    assert got['switch_error'] == 'InvalidAccessKeyId' and got['switched'] == []


def test_result_in_check_mode_before_the_upload_exists():
    upload = dict(UPLOAD, server_certificate_id=None, uploaded=False)
    got = f.rotation_result(upload, {'skipped': True}, [{'load_balancer': 'lb-a'}])
    assert got['check_mode_pending'] is True and got['failed'] == [] and got['handshake_endpoints'] == []


def test_handshakes_fail_closed():
    want = 'f' * 64
    got = f.handshakes([
        {'name': 'a', 'status': 'ok', 'fingerprint_sha256': want},
        {'name': 'b', 'status': 'ok', 'fingerprint_sha256': 'e' * 64},
        {'name': 'c', 'status': 'error', 'error': 'connection refused'},
        {'name': 'd', 'status': 'ok'},
    ], want)
    assert [(h['target'], h['status']) for h in got] == [
        ('a', 'ok'), ('b', 'mismatch'), ('c', 'unreachable'), ('d', 'mismatch')]
    assert got[2]['error'] == 'connection refused'
    # an empty wanted fingerprint never matches an endpoint that served nothing
    assert f.handshakes([{'name': 'x', 'status': 'ok', 'fingerprint_sha256': ''}], '')[0]['status'] == 'mismatch'

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the alicloud_rotate role's filters."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.certpilot.tls.plugins.plugin_utils import alicloud_rotate as f


def test_filters_are_registered():
    for name in ['alicloud_rotate_alb_listeners', 'alicloud_rotate_cdn_domains', 'alicloud_rotate_result']:
        plugin = importlib.import_module('ansible_collections.certpilot.tls.plugins.filter.' + name)
        filters = plugin.FilterModule().filters()
        assert list(filters) == [name]
        assert filters[name].__module__ == f.__name__


def test_alb_listeners_default_and_additional():
    got = f.alb_listeners(['lsn-a', {'listener_id': 'lsn-b', 'role': 'additional'},
                           {'listener_id': 'lsn-c', 'role': 'additional', 'exclusive': True}], 12000001)
    assert got == [{'listener_id': 'lsn-a', 'default_certificate_id': '12000001'},
                   {'listener_id': 'lsn-b', 'additional_certificate_ids': ['12000001'], 'additional_mode': 'merge'},
                   {'listener_id': 'lsn-c', 'additional_certificate_ids': ['12000001'], 'additional_mode': 'exact'}]


@pytest.mark.parametrize('listeners,cert_id,needle', [
    ('lsn-a', '1', 'must be a list'),
    ([{'role': 'default'}], '1', 'needs a listener_id'),
    ([{'listener_id': 'lsn-a', 'role': 'sni'}], '1', 'default or additional'),
    (['lsn-a'], None, 'must be a number'),
])
def test_alb_listeners_refuses(listeners, cert_id, needle):
    with pytest.raises(AnsibleFilterError) as info:
        f.alb_listeners(listeners, cert_id)
    assert needle in str(info.value)


def test_cdn_domains_regions():
    got = f.cdn_domains(['a.example.test', {'domain_name': 'b.example.test', 'certificate_region': 'ap-southeast-1'}], '7')
    assert got == [{'domain_name': 'a.example.test', 'certificate_id': '7', 'certificate_region': 'cn-hangzhou'},
                   {'domain_name': 'b.example.test', 'certificate_id': '7', 'certificate_region': 'ap-southeast-1'}]
    with pytest.raises(AnsibleFilterError):
        f.cdn_domains([{'domain_name': 'a.example.test', 'certificate_region': 'cn-beijing'}], '7')
    with pytest.raises(AnsibleFilterError):
        f.cdn_domains([{}], '7')


def test_prune_prefix():
    assert f.prune_prefix('www.example.com-20270301-0a1b2c3d') == 'www.example.com-'
    assert f.prune_prefix('my-fixed-name') == 'my-fixed-name'
    assert f.prune_prefix('www.example.com-20270301-0a1b2c3d', 'www-') == 'www-'


def test_rotation_result_splits_and_names_failures():
    upload = {'certificate_id': '7', 'name': 'www.example.com-20270301-0a1b2c3d', 'fingerprint_sha256': 'ab',
              'uploaded': True}
    alb = {'results': [{'listener_id': 'lsn-a', 'changed': True, 'previous_default_certificate_id': '6-cn-hangzhou',
                        'default_certificate_id': '7-cn-hangzhou', 'verified': True},
                       {'listener_id': 'lsn-b', 'changed': False},
                       {'listener_id': 'lsn-c', 'failed': True, 'msg': 'nope', 'error_code': 'ResourceNotFound.Listener',
                        'request_id': 'R1'}]}
    cdn = {'failed': True, 'msg': 'SignatureDoesNotMatch', 'results': []}
    res = f.rotation_result(upload, alb, cdn, ['www.example.com', {'host': '127.0.0.1', 'port': '8443',
                                                                   'server_name': 'www.example.com'}])
    assert [s['listener_id'] for s in res['alb']['switched']] == ['lsn-a']
    assert res['alb']['switched'][0]['previous_default_certificate_id'] == '6-cn-hangzhou'
    assert [u['listener_id'] for u in res['alb']['unchanged']] == ['lsn-b']
    assert [x['target'] for x in res['failed']] == ['ALB listener lsn-c', 'CDN domain (all)']
    assert res['failed'][0]['error_code'] == 'ResourceNotFound.Listener' and res['failed'][1]['msg'] == 'SignatureDoesNotMatch'
    assert res['handshake_endpoints'] == [
        {'host': 'www.example.com', 'port': 443, 'server_name': 'www.example.com', 'name': 'www.example.com:443'},
        {'host': '127.0.0.1', 'port': 8443, 'server_name': 'www.example.com', 'name': 'www.example.com:8443'}]
    assert res['prune_name_prefix'] == 'www.example.com-' and res['check_mode_pending'] is False
    skipped = f.rotation_result({'certificate_id': None}, {'skipped': True}, None)
    assert skipped['check_mode_pending'] is True and skipped['failed'] == [] and skipped['alb']['switched'] == []
    with pytest.raises(AnsibleFilterError):
        f.rotation_result(upload, alb, None, [{'port': 443}])


def test_a_failed_call_that_names_no_item_is_a_failure():
    """Fail closed: results that all look fine, but the module failed (after them): nothing counts as verified."""
    alb = {'failed': True, 'msg': 'waiting for the listener timed out',
           'results': [{'listener_id': 'lsn-a', 'changed': True}]}
    res = f.rotation_result({'certificate_id': '7', 'name': 'www.example.com-20270101-abcdef12'}, alb, {'skipped': True})
    assert [x['target'] for x in res['failed']] == ['ALB listener (all)']
    assert res['failed'][0]['msg'] == 'waiting for the listener timed out'

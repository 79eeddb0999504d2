# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edge cases of the CAS and ALB logic that the fake does not reach easily: prune planning, wait deadlines."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import alb, cas
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import AlicloudApiError
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import DeadlineExceeded
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.alicloud.fake_clock import FakeClock


def _cert(cid, name, end):
    return {'CertificateId': cid, 'Name': name, 'CertEndTime': end}


def test_plan_prune_keeps_newest_in_use_and_protected():
    certs = [_cert(1, 'www-a', 100), _cert(2, 'www-b', 300), _cert(3, 'www-c', 200), _cert(4, 'other', 50),
             _cert(5, 'www-d', 10), _cert(6, 'www-e', 20)]
    usage = {'5': [{'listener_id': 'lsn-1'}]}
    picked = [c['CertificateId'] for c in cas.plan_prune(certs, usage, 'www-', 1, set(['3']))]
    assert picked == [1, 6]  # 2 is the newest (kept), 3 protected, 5 in use, 4 not a candidate


def test_norm_fingerprint_and_alb_ids():
    assert cas.norm_fingerprint('AB:cd:01') == 'abcd01'
    assert cas.alb_certificate_id('12000001', 'cn-hangzhou') == '12000001-cn-hangzhou'
    assert cas.alb_certificate_id('12000001-cn-beijing', 'cn-hangzhou') == '12000001-cn-beijing'
    assert alb.same_certificate('12000001', '12000001-cn-hangzhou')
    assert not alb.same_certificate('12000001', '12000002-cn-hangzhou')


class _Client:
    region = 'cn-hangzhou'

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.calls = []

    def call(self, action, params=None, idempotent=True):
        self.calls.append((action, dict(params or {})))
        if action == 'GetListenerAttribute':
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return {'ListenerId': params['ListenerId'], 'ListenerStatus': status}
        if action == 'ListListenerCertificates':
            return {'Certificates': []}
        if params.get('DryRun') == 'true':
            raise AlicloudApiError(action, 'DryRunOperation', 'passed', request_id='R-DRY', http_status=400)
        return {'JobId': 'j'}


def test_wait_running_gives_up_at_the_deadline_with_the_status():
    clock = FakeClock()
    api = alb.AlbApi(_Client(['Configuring']), sleep=clock.sleep, clock=clock)
    with pytest.raises(DeadlineExceeded) as info:
        api.wait_running('lsn-1', timeout=10)
    assert 'still Configuring' in info.value.msg and clock.now <= 10
    polls = [c for c in api.client.calls if c[0] == 'GetListenerAttribute']
    assert 3 < len(polls) < 40  # backoff: neither one poll nor a busy loop


def test_wait_running_returns_once_running():
    clock = FakeClock()
    api = alb.AlbApi(_Client(['Configuring', 'Configuring', 'Running']), sleep=clock.sleep, clock=clock)
    assert api.wait_running('lsn-1', timeout=30) == 3


def test_dry_run_operation_is_success_and_each_logical_call_has_its_own_token():
    client = _Client(['Running'])
    api = alb.AlbApi(client)
    assert api.set_default('lsn-1', '1-cn-hangzhou', dry_run=True)['DryRun'] is True
    api.set_default('lsn-1', '1-cn-hangzhou')
    tokens = [p['ClientToken'] for a, p in client.calls if a == 'UpdateListenerAttribute']
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    assert [p.get('DryRun') for a, p in client.calls if a == 'UpdateListenerAttribute'] == ['true', None]

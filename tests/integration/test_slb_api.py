# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fake SLB API against the official aliyun-python-sdk-core and raw signed requests."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys
import uuid

import pytest
import requests

FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fakes')
COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), '.build', 'collections')
for _path in (FAKES, COLLECTIONS):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from slb_api.pytest_fixtures import slb  # noqa: E402,F401  pylint: disable=unused-import

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import client as clientlib  # noqa: E402
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import signer  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def _sdk_request(slb, action, secret=None, **params):
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest
    acs = AcsClient(slb.access_key, secret or slb.secret_key, slb.region, auto_retry=False)
    req = CommonRequest()
    host = slb.endpoint.split('://', 1)[1].rstrip('/')
    req.set_domain(host)
    req.set_protocol_type('http')
    req.set_method('POST')
    req.set_version('2014-05-15')
    req.set_action_name(action)
    req.add_query_param('RegionId', slb.region)
    for key, value in params.items():
        req.add_query_param(key, value)
    return acs, req


def test_official_sdk_request_is_accepted(slb):
    name = 'sdk-%s' % uuid.uuid4().hex[:8]
    slb.admin.seed({'load_balancers': [{'LoadBalancerName': name, 'listeners': [{'ListenerPort': 443}]}]})
    acs, req = _sdk_request(slb, 'DescribeLoadBalancers', LoadBalancerName=name)
    body = json.loads(acs.do_action_with_exception(req))
    lbs = body['LoadBalancers']['LoadBalancer']
    assert [lb['LoadBalancerName'] for lb in lbs] == [name]
    assert body['TotalCount'] == 1 and body['RequestId']
    acs, req = _sdk_request(slb, 'DescribeLoadBalancerHTTPSListenerAttribute',
                            LoadBalancerId=lbs[0]['LoadBalancerId'], ListenerPort='443')
    listener = json.loads(acs.do_action_with_exception(req))
    assert listener['ServerCertificateId'] == slb.admin.listener(lbs[0]['LoadBalancerId'], 443)['ServerCertificateId']


def test_official_sdk_with_wrong_secret_gets_signature_error(slb):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    acs, req = _sdk_request(slb, 'DescribeServerCertificates', secret='wrong-secret')
    with pytest.raises(ServerException) as info:
        acs.do_action_with_exception(req)
    assert info.value.get_error_code() == 'SignatureDoesNotMatch'
    assert info.value.get_http_status() == 400
    assert 'server string to sign is:POST&%2F&' in info.value.get_error_msg()


def test_our_central_endpoint_regions_match_the_sdk():
    import aliyunsdkcore
    path = os.path.join(os.path.dirname(aliyunsdkcore.__file__), 'data', 'endpoints.json')
    with open(path) as handle:
        data = json.load(handle)
    regional = data['regional_endpoints']['slb']
    for region, host in regional.items():
        assert clientlib.endpoint_for(region) == 'https://%s/' % host, region


def _raw(slb, action, secret=None, method='POST', **overrides):
    params = signer.signed_params(action, {'RegionId': slb.region}, slb.access_key, secret or slb.secret_key,
                                  method=method, nonce=overrides.pop('nonce', None),
                                  timestamp=overrides.pop('timestamp', None))
    params.update(overrides)
    if method == 'GET':
        return requests.get(slb.endpoint, params=params, timeout=10)
    return requests.post(slb.endpoint, data=params, timeout=10)


def test_get_is_accepted_too(slb):
    resp = _raw(slb, 'DescribeServerCertificates', method='GET')
    assert resp.status_code == 200 and 'ServerCertificates' in resp.json()


def test_reused_nonce_is_rejected(slb):
    nonce = str(uuid.uuid4())
    assert _raw(slb, 'DescribeServerCertificates', nonce=nonce).status_code == 200
    again = _raw(slb, 'DescribeServerCertificates', nonce=nonce)
    assert (again.status_code, again.json()['Code']) == (400, 'SignatureNonceUsed')


def test_stale_timestamp_is_rejected(slb):
    resp = _raw(slb, 'DescribeServerCertificates', timestamp='2016-02-23T12:46:24Z')
    body = resp.json()
    assert (resp.status_code, body['Code']) == (400, 'InvalidTimeStamp.Expired')
    assert set(body) >= set(['RequestId', 'HostId', 'Code', 'Message', 'Recommend'])


def test_unknown_access_key_is_rejected(slb):
    params = signer.signed_params('DescribeServerCertificates', {'RegionId': slb.region}, 'LTAInobody', 'x')
    resp = requests.post(slb.endpoint, data=params, timeout=10)
    assert (resp.status_code, resp.json()['Code']) == (404, 'InvalidAccessKeyId.NotFound')


def test_tampered_parameter_breaks_the_signature(slb):
    params = signer.signed_params('DescribeServerCertificates', {'RegionId': slb.region}, slb.access_key, slb.secret_key)
    params['RegionId'] = 'cn-beijing'
    resp = requests.post(slb.endpoint, data=params, timeout=10)
    assert (resp.status_code, resp.json()['Code']) == (400, 'SignatureDoesNotMatch')
    assert 'RegionId%3Dcn-beijing' in resp.json()['Message']


def test_unknown_load_balancer_error_shape(slb):
    params = signer.signed_params('DescribeLoadBalancerAttribute', {'RegionId': slb.region, 'LoadBalancerId': 'lb-nope'},
                                  slb.access_key, slb.secret_key)
    resp = requests.post(slb.endpoint, data=params, timeout=10)
    assert (resp.status_code, resp.json()['Code']) == (404, 'InvalidLoadBalancerId.NotFound')

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generalised RPC client: products, signature V3 on the wire, expiring STS credentials refreshed."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import client as clientlib
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import signer_v3
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.credentials import (
    Credentials, RefreshingCredentials, parse_expiration)
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import AlicloudApiError
from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize('product,region,expected', [
    ('slb', 'cn-hangzhou', 'https://slb.aliyuncs.com/'),
    ('cas', 'cn-hangzhou', 'https://cas.aliyuncs.com/'),
    ('cas', 'eu-central-1', 'https://cas.aliyuncs.com/'),
    ('alb', 'cn-hangzhou', 'https://alb.cn-hangzhou.aliyuncs.com/'),
    ('alb', 'ap-southeast-1', 'https://alb.ap-southeast-1.aliyuncs.com/'),
])
def test_product_endpoints(product, region, expected):
    assert clientlib.endpoint_for(region, product=product) == expected


def test_product_defaults_and_bad_values():
    creds = Credentials('ak', 'sk')
    assert clientlib.RpcClient(creds, 'cn-hangzhou').signature_version == 'v1'
    assert clientlib.RpcClient(creds, 'cn-hangzhou', product='cas').signature_version == 'v3'
    assert clientlib.RpcClient(creds, 'cn-hangzhou', product='alb', signature_version='v1').signature_version == 'v1'
    with pytest.raises(CertpilotError, match='alicloud_signature_version'):
        clientlib.RpcClient(creds, 'cn-hangzhou', product='alb', signature_version='v2')
    with pytest.raises(CertpilotError, match='Unknown Alibaba Cloud product'):
        clientlib.RpcClient(creds, 'cn-hangzhou', product='ecs')


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length)
        self.server.seen.append((self.path, dict((k.lower(), v) for k, v in self.headers.items()), body))
        status, answer = self.server.script.pop(0) if self.server.script else (200, {'RequestId': 'R', 'ok': 1})
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def recorder():
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Recorder)
    httpd.seen, httpd.script = [], []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _verify_v3(path, headers, body, secret):
    """What a V3 server does: recompute the canonical request from what arrived."""
    auth = signer_v3.parse_authorization(headers['authorization'])
    names = auth['SignedHeaders'].split(';')
    assert hashlib.sha256(body).hexdigest() == headers['x-acs-content-sha256']
    canonical, dummy = signer_v3.canonical_request('POST', path.split('?')[0], parse_qsl(path.partition('?')[2]),
                                                   headers, headers['x-acs-content-sha256'], names)
    return auth, signer_v3.signature(secret, canonical) == auth['Signature']


def test_v3_call_sends_a_signed_form_body(recorder):
    url = 'http://127.0.0.1:%d/' % recorder.server_address[1]
    client = clientlib.RpcClient(Credentials('AKID', 'S3CRET'), 'cn-hangzhou', endpoint=url, product='cas')
    assert client.call('UploadUserCertificate', {'Name': 'a b', 'Cert': 'PEM*', 'Key': 'K'}, idempotent=False)['ok'] == 1
    path, headers, body = recorder.seen[0]
    assert path == '/'
    assert headers['x-acs-action'] == 'UploadUserCertificate' and headers['x-acs-version'] == '2020-04-07'
    assert headers['content-type'] == 'application/x-www-form-urlencoded'
    assert dict(parse_qsl(body.decode())) == {'Name': 'a b', 'Cert': 'PEM*', 'Key': 'K'}
    auth, ok = _verify_v3(path, headers, body, 'S3CRET')
    assert ok and auth['Credential'] == 'AKID'
    assert set(['host', 'content-type', 'x-acs-action', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce',
                'x-acs-version']) <= set(auth['SignedHeaders'].split(';'))
    assert 'S3CRET' not in body.decode() and 'S3CRET' not in json.dumps(headers)
    assert not _verify_v3(path, headers, body, 'other')[1]


def test_v3_retry_resigns_with_a_new_nonce_and_errors_carry_the_request_id(recorder):
    url = 'http://127.0.0.1:%d/' % recorder.server_address[1]
    recorder.script = [(400, {'Code': 'Throttling.User', 'Message': 'slow down', 'RequestId': 'R-1'}),
                       (404, {'Code': 'ResourceNotFound.Listener', 'Message': 'no such listener', 'RequestId': 'R-2'})]
    client = clientlib.RpcClient(Credentials('AKID', 'S3CRET'), 'cn-hangzhou', endpoint=url, product='alb',
                                 policy=RetryPolicy(attempts=3, base=0.01, cap=0.02), deadline=Deadline(20))
    with pytest.raises(AlicloudApiError) as info:
        client.call('GetListenerAttribute', {'ListenerId': 'lsn-1'})
    assert info.value.code == 'ResourceNotFound.Listener' and info.value.request_id == 'R-2'
    assert 'RequestId: R-2' in info.value.msg
    nonces = set(h['x-acs-signature-nonce'] for dummy, h, dummy2 in recorder.seen)
    assert len(recorder.seen) == 2 and len(nonces) == 2


def test_v1_still_works_for_other_products(recorder):
    url = 'http://127.0.0.1:%d/' % recorder.server_address[1]
    client = clientlib.RpcClient(Credentials('AKID', 'S3CRET'), 'cn-hangzhou', endpoint=url, product='alb',
                                 signature_version='v1')
    client.call('ListListeners', {})
    form = dict(parse_qsl(recorder.seen[0][2].decode()))
    assert form['Version'] == '2020-06-16' and form['SignatureMethod'] == 'HMAC-SHA1' and 'authorization' not in recorder.seen[0][1]


class _Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_expiring_sts_credentials_are_refreshed_before_they_expire(recorder):
    clock = _Clock(1000000.0)
    issued = []

    def fetch():
        issued.append(len(issued) + 1)
        n = issued[-1]
        return Credentials('STS.id%d' % n, 'secret%d' % n, 'token%d' % n, source='ecs_role_name:r',
                           expiration=clock.now + 3600)

    creds = RefreshingCredentials(fetch, clock=clock, margin=300)
    url = 'http://127.0.0.1:%d/' % recorder.server_address[1]
    client = clientlib.RpcClient(creds, 'cn-hangzhou', endpoint=url, product='cas')
    client.call('ListUserCertificateOrder', {})
    clock.now += 3000  # 10 minutes before expiry: still valid, outside the margin
    client.call('ListUserCertificateOrder', {})
    clock.now += 400   # inside the 5 minute margin: fetched again before signing
    client.call('ListUserCertificateOrder', {})
    tokens = [h['x-acs-security-token'] for dummy, h, dummy2 in recorder.seen]
    assert tokens == ['token1', 'token1', 'token2'] and creds.refreshes == 1
    assert _verify_v3(*recorder.seen[2][:3], secret='secret2')[1]
    assert 'secret' not in repr(creds)


def test_static_credentials_are_never_refreshed():
    calls = []
    creds = RefreshingCredentials(lambda: calls.append(1) or Credentials('a', 'b'), clock=_Clock(10 ** 12))
    for dummy in range(3):
        assert creds.current().access_key == 'a'
    assert calls == [1]


def test_parse_expiration():
    assert parse_expiration('1970-01-01T01:00:00Z') == 3600
    assert parse_expiration('') is None and parse_expiration('soon') is None

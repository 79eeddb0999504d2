# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import client as clientlib
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.credentials import Credentials
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import AlicloudApiError
from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError, RetryLater
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize('region,expected', [
    ('cn-hangzhou', 'https://slb.aliyuncs.com/'),
    ('cn-shanghai', 'https://slb.aliyuncs.com/'),
    ('us-east-1', 'https://slb.aliyuncs.com/'),
    ('ap-southeast-1', 'https://slb.aliyuncs.com/'),
    ('eu-central-1', 'https://slb.eu-central-1.aliyuncs.com/'),
    ('cn-zhangjiakou', 'https://slb.cn-zhangjiakou.aliyuncs.com/'),
    ('ap-northeast-2', 'https://slb.ap-northeast-2.aliyuncs.com/'),
])
def test_endpoint_mapping(region, expected):
    assert clientlib.endpoint_for(region) == expected


@pytest.mark.parametrize('override,expected', [
    ('http://127.0.0.1:18080/', 'http://127.0.0.1:18080/'),
    ('http://127.0.0.1:18080', 'http://127.0.0.1:18080/'),
    ('slb-vpc.cn-hangzhou.aliyuncs.com', 'https://slb-vpc.cn-hangzhou.aliyuncs.com/'),
])
def test_endpoint_override(override, expected):
    assert clientlib.endpoint_for('eu-central-1', override) == expected


@pytest.mark.parametrize('code,retry', [
    ('Throttling', True), ('Throttling.User', True), ('Throttling.Api', True), ('ServiceUnavailable', True),
    ('SystemBusy', True), ('OperationBusy', True), ('ServiceIsConfiguring', True),
    ('SignatureDoesNotMatch', False), ('InvalidParameter', False), ('CertificateAndPrivateKeyIsRefered', False),
    ('', False), (None, False),
])
def test_retry_classification(code, retry):
    assert clientlib.is_retryable_code(code) is retry


class _Script(BaseHTTPRequestHandler):
    """Answers from a list of (status, body, headers); records every request."""
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        self.server.seen.append(self.rfile.read(length).decode())
        status, body, headers = self.server.script.pop(0) if self.server.script else (200, {'ok': 1}, {})
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def scripted():
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Script)
    httpd.script, httpd.seen = [], []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _client(httpd, attempts=4, deadline=30):
    return clientlib.RpcClient(Credentials('ak', 'sk'), 'cn-hangzhou',
                               endpoint='http://127.0.0.1:%d/' % httpd.server_address[1],
                               deadline=Deadline(deadline),
                               policy=RetryPolicy(attempts=attempts, base=0.01, cap=0.05))


def _err(code, status=400):
    return (status, {'RequestId': 'R-1', 'HostId': 'slb.aliyuncs.com', 'Code': code, 'Message': 'm %s' % code}, {})


def test_throttling_is_retried_with_a_fresh_nonce(scripted):
    scripted.script = [_err('Throttling.User'), _err('ServiceUnavailable', 503), (200, {'RequestId': 'x', 'V': 1}, {})]
    assert _client(scripted).call('DescribeX')['V'] == 1
    assert len(scripted.seen) == 3
    nonces = set(part for body in scripted.seen for part in body.split('&') if part.startswith('SignatureNonce='))
    assert len(nonces) == 3


def test_retries_are_bounded(scripted):
    scripted.script = [_err('Throttling')] * 10
    with pytest.raises(AlicloudApiError) as info:
        _client(scripted, attempts=3).call('DescribeX')
    assert info.value.code == 'Throttling'
    assert len(scripted.seen) == 3


def test_other_errors_are_not_retried_and_carry_code_message_request_id(scripted):
    scripted.script = [_err('SignatureDoesNotMatch')]
    with pytest.raises(AlicloudApiError) as info:
        _client(scripted).call('DescribeX')
    assert len(scripted.seen) == 1
    assert 'SignatureDoesNotMatch' in info.value.msg and 'R-1' in info.value.msg and 'm SignatureDoesNotMatch' in info.value.msg
    assert info.value.details['request_id'] == 'R-1'


def test_bare_5xx_retried_only_for_idempotent_calls(scripted):
    scripted.script = [(502, {'oops': 1}, {}), (200, {'RequestId': 'x'}, {})]
    _client(scripted).call('DescribeX')
    assert len(scripted.seen) == 2
    scripted.seen[:] = []
    scripted.script = [(502, {'oops': 1}, {}), (200, {'RequestId': 'x'}, {})]
    with pytest.raises(AlicloudApiError):
        _client(scripted).call('UploadX', idempotent=False)
    assert len(scripted.seen) == 1


def test_retry_after_longer_than_deadline_raises_retry_later(scripted):
    scripted.script = [(503, {'Code': 'ServiceUnavailable', 'Message': 'later', 'RequestId': 'r'}, {'Retry-After': '3600'})]
    with pytest.raises(RetryLater) as info:
        _client(scripted, deadline=5).call('DescribeX')
    assert 'retry' in info.value.msg.lower()


def test_connection_refused_is_a_clear_error():
    import socket
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    client = clientlib.RpcClient(Credentials('ak', 'S3CR3T-unique'), 'cn-hangzhou', endpoint='http://127.0.0.1:%d/' % port,
                                 deadline=Deadline(10), policy=RetryPolicy(attempts=2, base=0.01, cap=0.02))
    with pytest.raises(CertpilotError) as info:
        client.call('DescribeX')
    assert 'cannot reach the API' in info.value.msg
    assert 'S3CR3T-unique' not in info.value.msg

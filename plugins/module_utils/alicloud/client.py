# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small RPC client for Alibaba Cloud APIs on top of requests.

One client per product (endpoint + API version, see ``PRODUCTS``): SLB (CLB, 2014-05-15, signature V1
by default), CAS (2020-04-07), ALB (2020-06-16) and CDN (2018-05-10, these three signature V3 by default). One retry and deadline
discipline and one error type (``AlicloudApiError`` with Code, Message and RequestId) for all of them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import traceback

from urllib.parse import urlsplit

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import signer, signer_v3
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import AlicloudApiError
from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import (
    RetryPolicy, Retryable, call_with_retry, parse_retry_after)

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised only without requests
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

# Regions the official SDK (aliyun-python-sdk-core, data/endpoints.json, product "slb")
# maps to the central endpoint; every other region uses slb.<region>.aliyuncs.com.
CENTRAL_ENDPOINT = 'slb.aliyuncs.com'
CENTRAL_REGIONS = frozenset([
    'cn-hangzhou', 'cn-shanghai', 'cn-qingdao', 'cn-beijing', 'cn-shenzhen', 'cn-hongkong',
    'ap-southeast-1', 'us-west-1', 'us-east-1',
])

# 'Conflict.Lock' and 'IncorrectStatus.Listener' are ALB's answers while a listener is still being
# configured by an earlier change: the request was refused, retrying it (same ClientToken) is safe.
RETRYABLE_CODES = frozenset(['ServiceUnavailable', 'SystemBusy', 'OperationBusy', 'ServiceIsConfiguring',
                             'InternalError', 'UnknownError', 'ServiceIsBusy', 'DomainExtensionProcessing',
                             'IncorrectStatus.DomainExtension', 'Conflict.Lock', 'IncorrectStatus.Listener'])

SIGNATURE_VERSIONS = ('v1', 'v3')


class Product:
    """What differs between the RPC products: API version, default endpoint, default signature."""

    def __init__(self, name, version, host_for, signature_version, region_param=True):
        self.name = name
        self.version = version
        self.host_for = host_for
        self.signature_version = signature_version
        # SLB takes RegionId on every call; CAS and ALB have no such parameter (the endpoint is the region).
        self.region_param = region_param


def _slb_host(region):
    return CENTRAL_ENDPOINT if region in CENTRAL_REGIONS else 'slb.%s.aliyuncs.com' % region


PRODUCTS = {
    'slb': Product('slb', '2014-05-15', _slb_host, 'v1'),
    # CAS answers on one central endpoint for the China site (the SDK's default); give
    # alicloud_cas_endpoint for another site, e.g. cas.ap-southeast-1.aliyuncs.com.
    'cas': Product('cas', '2020-04-07', lambda region: 'cas.aliyuncs.com', 'v3', region_param=False),
    'alb': Product('alb', '2020-06-16', lambda region: 'alb.%s.aliyuncs.com' % region, 'v3', region_param=False),
    # CDN is a global service on one endpoint; its certificate calls take no RegionId.
    'cdn': Product('cdn', '2018-05-10', lambda region: 'cdn.aliyuncs.com', 'v3', region_param=False),
}


def endpoint_for(region, override=None, product='slb'):
    """Return the base URL (``https://host/`` or the override as given) for ``region``."""
    if override:
        override = override.strip()
        if '://' not in override:
            override = 'https://' + override
        if not override.endswith('/'):
            override += '/'
        return override
    return 'https://%s/' % PRODUCTS[product].host_for(region)


def _never_sent(exc):
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    text = str(exc)
    return 'NewConnectionError' in text or 'Connection refused' in text or 'Name or service not known' in text


def is_retryable_code(code):
    code = code or ''
    return code.startswith('Throttling') or code in RETRYABLE_CODES


class RpcClient:
    """Signs and sends RPC calls, retrying what is worth retrying, within a deadline."""

    def __init__(self, credentials, region, endpoint=None, timeout=30.0, deadline=None, policy=None,
                 session=None, validate_certs=True, ca_bundle=None, log=None, product='slb', signature_version=None):
        if product not in PRODUCTS:
            raise CertpilotError('Unknown Alibaba Cloud product %r (known: %s)' % (product, ', '.join(sorted(PRODUCTS))))
        self.product = PRODUCTS[product]
        self.signature_version = (signature_version or self.product.signature_version).lower()
        if self.signature_version not in SIGNATURE_VERSIONS:
            raise CertpilotError('alicloud_signature_version must be one of %s, got %r'
                                 % (', '.join(SIGNATURE_VERSIONS), signature_version))
        self.credentials = credentials
        self.region = region
        self.url = endpoint_for(region, endpoint, product)
        parts = urlsplit(self.url)
        self.host = parts.netloc
        self.path = parts.path or '/'
        self.timeout = float(timeout)
        self.deadline = deadline or Deadline(300)
        self.policy = policy or RetryPolicy(attempts=6, base=0.5, cap=10.0)
        self.session = session or requests.Session()
        self.verify = ca_bundle if ca_bundle else bool(validate_certs)
        self.log = log
        self.calls = 0

    def call(self, action, params=None, idempotent=True):
        """Call ``action`` with ``params`` (``RegionId`` added for SLB) and return the decoded JSON body.

        Non-idempotent calls (creations) are not retried after a read timeout or a
        bare HTTP 5xx, since the server may have acted; throttling and busy codes
        (the request was refused) and connection failures are retried for all calls.
        """
        body = {'RegionId': self.region} if self.product.region_param else {}
        body.update(dict((k, v) for k, v in (params or {}).items() if v is not None))

        def attempt():
            self.deadline.check('Alibaba Cloud %s' % action)
            self.calls += 1
            data, headers = self._signed(action, body)
            try:
                resp = self.session.post(self.url, data=data, timeout=self.deadline.cap(self.timeout),
                                         verify=self.verify, headers=headers)
            except requests.exceptions.ConnectionError as exc:
                err = self._net_error(action, exc)
                # A refused or timed-out connect never reached the server: safe to retry anything.
                if idempotent or _never_sent(exc):
                    raise Retryable(err, what=action)
                raise err
            except requests.exceptions.Timeout as exc:
                err = self._net_error(action, exc)
                if idempotent:
                    raise Retryable(err, what=action)
                raise err
            except requests.exceptions.RequestException as exc:
                raise self._net_error(action, exc)
            return self._decode(action, resp, idempotent)

        def on_retry(number, delay, exc):
            if self.log:
                self.log('Alibaba Cloud %s: retry %d in %.1fs after: %s' % (action, number, delay, exc))

        return call_with_retry(attempt, self.policy, self.deadline, what='Alibaba Cloud %s' % action,
                               on_retry=on_retry)

    def _signed(self, action, body):
        """Sign (again, for every attempt: fresh nonce and time, current credentials) -> (data, headers)."""
        creds = self.credentials.current() if hasattr(self.credentials, 'current') else self.credentials
        if self.signature_version == 'v1':
            form = signer.signed_params(action, body, creds.access_key, creds.secret_key, creds.security_token,
                                        method='POST', version=self.product.version)
            return form, {'Accept': 'application/json'}
        # V3: the parameters travel as a form body (not in the URL, so that no proxy or access log
        # sees a private key); the body's SHA-256 is signed.
        form = signer_v3.canonical_query(dict((k, v if isinstance(v, str) else str(v)) for k, v in body.items()))
        headers = signer_v3.sign_request('POST', self.host, self.path, {}, form, action, self.product.version,
                                         creds.access_key, creds.secret_key, creds.security_token,
                                         content_type='application/x-www-form-urlencoded')
        headers['Accept'] = 'application/json'
        return form.encode('utf-8'), headers

    @staticmethod
    def _net_error(action, exc):
        return CertpilotError('Alibaba Cloud %s: cannot reach the API: %s' % (action, exc.__class__.__name__ + ': ' + str(exc)))

    @staticmethod
    def _decode(action, resp, idempotent):
        try:
            data = json.loads(resp.text) if resp.text else {}
        except ValueError:
            data = None
        retry_after = parse_retry_after(resp.headers.get('Retry-After'))
        if resp.status_code < 400 and isinstance(data, dict) and 'Code' not in data:
            return data
        if not isinstance(data, dict):
            err = AlicloudApiError(action, 'HTTP%s' % resp.status_code,
                                   'non-JSON answer: %s' % (resp.text or '')[:200].replace('\n', ' '),
                                   http_status=resp.status_code)
            if resp.status_code >= 500 and idempotent:
                raise Retryable(err, retry_after=retry_after, what=action)
            raise err
        err = AlicloudApiError(action, data.get('Code') or 'HTTP%s' % resp.status_code, data.get('Message') or '',
                               request_id=data.get('RequestId'), http_status=resp.status_code,
                               recommend=data.get('Recommend'))
        if is_retryable_code(err.code):
            raise Retryable(err, retry_after=retry_after, what=action)
        if resp.status_code >= 500 and idempotent:
            raise Retryable(err, retry_after=retry_after, what=action)
        raise err

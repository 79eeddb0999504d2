# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small REST client for Huawei Cloud APIs on top of requests, signed with ``SDK-HMAC-SHA256``.

Every call runs under the caller's ``Deadline`` (each socket timeout is capped by what is left),
is retried within ``RetryPolicy`` bounds on HTTP 429 and 5xx (and on connection failures) with
backoff and ``Retry-After``, reads at most ``MAX_RESPONSE_BYTES`` of a JSON body, and fails with
Huawei's ``error_code``, ``error_msg`` and request id. The secret key is used to sign and is never
part of a message, a header we report, or a log line.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import traceback

from urllib.parse import quote

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import (
    RetryPolicy, Retryable, call_with_retry, parse_retry_after)
from ansible_collections.certpilot.tls.plugins.module_utils.huaweicloud import signer

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised only without requests
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
MAX_ERROR_TEXT = 1024
USER_AGENT = 'certpilot.tls (huaweicloud)'


class HuaweiApiError(CertpilotError):
    """The API answered with an error (``error_code``, ``error_msg``, request id)."""

    def __init__(self, what, http_status, error_code, error_msg, request_id=None):
        msg = 'Huawei Cloud %s failed: %s: %s (HTTP %s, request id %s)' % (
            what, error_code or '-', error_msg or '-', http_status or '-', request_id or '-')
        super(HuaweiApiError, self).__init__(msg, error_code=error_code, error_msg=error_msg,
                                             request_id=request_id, http_status=http_status)
        self.what = what
        self.http_status = http_status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id


def endpoint_url(endpoint):
    """``endpoint`` as a base URL without a trailing slash (``https://`` added when no scheme is given)."""
    endpoint = (endpoint or '').strip()
    if not endpoint:
        raise CertpilotError('no Huawei Cloud endpoint')
    if '://' not in endpoint:
        endpoint = 'https://' + endpoint
    if not endpoint.lower().startswith(('https://', 'http://')):
        raise CertpilotError('the endpoint %s is not an http(s) URL' % endpoint)
    return endpoint.rstrip('/')


def _clip(text, size=MAX_ERROR_TEXT):
    text = '' if text is None else str(text)
    return text if len(text) <= size else text[:size] + '...'


class HuaweiClient:
    """Signs and sends calls to one endpoint, retrying what is worth retrying, within a deadline."""

    def __init__(self, credentials, endpoint, timeout=30.0, deadline=None, policy=None, session=None,
                 validate_certs=True, ca_bundle=None, log=None, clock=None):
        self.credentials = credentials
        self.base = endpoint_url(endpoint)
        self.timeout = float(timeout)
        self.deadline = deadline or Deadline(300)
        self.policy = policy or RetryPolicy(attempts=4, base=0.5, cap=10.0)
        self.session = session or requests.Session()
        self.verify = ca_bundle if ca_bundle else bool(validate_certs)
        self.log = log
        self.clock = clock
        self.calls = 0

    def _headers(self, body):
        headers = {'Content-Type': 'application/json', 'User-Agent': USER_AGENT}
        if self.credentials.domain_id:
            headers['X-Domain-Id'] = self.credentials.domain_id
        if self.credentials.project_id:
            headers['X-Project-Id'] = self.credentials.project_id
        if self.credentials.security_token:
            headers['X-Security-Token'] = self.credentials.security_token
        return headers

    def request(self, method, path, query=None, body=None, what=None):
        """Send ``method path?query`` (``query``: list of pairs, ``body``: a JSON-able value or None).

        Returns the decoded JSON object. Every attempt is signed afresh.
        """
        what = what or '%s %s' % (method, path)
        query = [(k, v) for k, v in (query or []) if v is not None]
        data = json.dumps(body).encode('utf-8') if body is not None else None
        url = self.base + path
        query_string = signer.canonical_query(query)
        full_url = url + ('?' + query_string if query_string else '')

        def attempt():
            self.deadline.check('Huawei Cloud %s' % what)
            self.calls += 1
            headers = signer.sign(method, url, query, self._headers(data), data, self.credentials.access_key,
                                  self.credentials.secret_key, now=self.clock() if self.clock else None)
            try:
                resp = self.session.request(method, full_url, data=data, headers=headers, stream=True,
                                            timeout=self.deadline.cap(self.timeout), verify=self.verify,
                                            allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                # Reads here have no side effect: every call of this client may be repeated.
                raise Retryable(CertpilotError('Huawei Cloud %s: cannot reach %s: %s: %s' % (
                    what, self.base, exc.__class__.__name__, _clip(exc, 300))), what=what)
            try:
                return self._decode(what, resp)
            finally:
                resp.close()

        def on_retry(number, delay, exc):
            if self.log:
                self.log('Huawei Cloud %s: retry %d in %.1fs after: %s' % (what, number, delay, exc))

        return call_with_retry(attempt, self.policy, self.deadline, what='Huawei Cloud %s' % what, on_retry=on_retry)

    def _read(self, what, resp):
        chunks, size = [], 0
        for chunk in resp.iter_content(65536):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise CertpilotError('Huawei Cloud %s: the answer is larger than %d bytes; refused'
                                     % (what, MAX_RESPONSE_BYTES))
            chunks.append(chunk)
        return b''.join(chunks)

    def _decode(self, what, resp):
        status = resp.status_code
        request_id = resp.headers.get('X-Request-Id')
        retry_after = parse_retry_after(resp.headers.get('Retry-After'))
        try:
            raw = self._read(what, resp)
        except requests.exceptions.RequestException as exc:
            raise Retryable(CertpilotError('Huawei Cloud %s: the answer was cut off: %s' % (what, exc.__class__.__name__)),
                            what=what)
        ctype = (resp.headers.get('Content-Type') or '').split(';')[0].strip().lower()
        data = None
        if ctype == 'application/json' or ctype.endswith('+json'):
            try:
                data = json.loads(raw.decode('utf-8')) if raw else {}
            except (ValueError, UnicodeDecodeError):
                data = None
        if 200 <= status < 300:
            if not isinstance(data, dict):
                raise CertpilotError('Huawei Cloud %s: the answer is not a JSON object (HTTP %s, Content-Type %s, '
                                     'request id %s)' % (what, status, ctype or '-', request_id or '-'))
            return data
        if isinstance(data, dict):
            code = data.get('error_code') or data.get('errorCode') or data.get('code')
            message = data.get('error_msg') or data.get('errorMsg') or data.get('message')
            request_id = request_id or data.get('request_id')
        else:
            code, message = 'HTTP%s' % status, 'non-JSON answer: %s' % _clip(raw.decode('utf-8', 'replace'), 200)
        err = HuaweiApiError(what, status, _clip(code, 64), _clip(message), request_id)
        if status == 429 or status >= 500:
            raise Retryable(err, retry_after=retry_after, what=what)
        raise err


def path_segment(value):
    """``value`` made safe as one path segment (``/`` and everything but unreserved characters encoded)."""
    return quote(str(value), safe='')

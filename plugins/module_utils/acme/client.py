# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME HTTP client: directory, nonce pool, signed POST / POST-as-GET, retries.

One instance per ACME server and module run; it is safe to use from many
threads at once (one keep-alive ``requests.Session`` with a connection pool
at least as large as the concurrency, and a locked nonce pool). ``max_in_flight``
bounds the HTTP exchanges in flight at once, whatever the number of threads: a
certificate that waits for the CA (a poll interval, a retry back-off) holds no slot.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import json
import re
import threading

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import (
    RetryPolicy, Retryable, call_with_retry, parse_retry_after)
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import sign_jws
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import BAD_NONCE, AcmeProblem

from urllib.parse import urljoin

try:
    import requests
    from requests.adapters import HTTPAdapter
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the modules
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = _exc

USER_AGENT = 'certpilot.tls-acme/0.1'
RETRY_STATUS = (429, 500, 502, 503, 504)
LINK_RE = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]+)*)')
REL_RE = re.compile(r'rel\s*=\s*"?([^";]+)"?')
JOSE = 'application/jose+json'
NONCE_RE = re.compile(r'[A-Za-z0-9_-]{1,512}')
MAX_JSON_BYTES = 1024 * 1024
MAX_PEM_BYTES = 256 * 1024
# Longest wait for a free request slot (max_in_flight), in seconds. The deadline bounds it first; this bounds it
# when there is none (Deadline(None) never expires): every wait has a bound, and slots are held for one request
# each, so an hour without one means something is stuck, not busy.
MAX_SLOT_WAIT = 3600.0
MAX_CHAIN_CERTS = 8
PEM_END = b'-----END CERTIFICATE-----'


_STR = (str,)
_IDENT = {'type': _STR, 'value': _STR}
_CHALLENGE = {'type': _STR, 'url': _STR, 'token': _STR, 'status': _STR, 'error': (dict,), 'validated': _STR}
# Every field of an ACME (RFC 8555/9773/profiles) object that we read, with its JSON type. A list entry is
# (list, item types, item fields). Unknown fields are left alone.
FIELD_TYPES = {
    'status': _STR, 'expires': _STR, 'finalize': _STR, 'certificate': _STR, 'replaces': _STR, 'profile': _STR,
    'explanationURL': _STR, 'wildcard': (bool,), 'error': (dict,),
    'newNonce': _STR, 'newAccount': _STR, 'newOrder': _STR, 'keyChange': _STR, 'revokeCert': _STR,
    'renewalInfo': _STR, 'meta': (dict,),
    'identifier': (dict, _IDENT),
    'identifiers': (list, (dict,), _IDENT),
    'authorizations': (list, _STR, None),
    'contact': (list, _STR, None),
    'challenges': (list, (dict,), _CHALLENGE),
    'suggestedWindow': (dict, {'start': _STR, 'end': _STR}),
}
META_TYPES = {'profiles': (dict,), 'termsOfService': _STR, 'website': _STR, 'externalAccountRequired': (bool,),
              'caaIdentities': (list,)}


def _type_name(types):
    names = {'str': 'a string', 'dict': 'an object', 'list': 'a list', 'bool': 'a boolean'}
    return ' or '.join(names.get(t.__name__, t.__name__) for t in types)


def _check(value, types, url, field):
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        raise CertpilotError('the ACME server sent an invalid %r from %s: expected %s, got %s'
                             % (field, url, _type_name(types), type(value).__name__), url=url, field=field)


def _check_fields(doc, spec, url, prefix=''):
    for field, rule in spec.items():
        if field not in doc or doc[field] is None:
            continue
        value, name = doc[field], prefix + field
        if rule and rule[0] is list and len(rule) == 3:
            _check(value, (list,), url, name)
            for index, item in enumerate(value):
                _check(item, rule[1], url, '%s[%d]' % (name, index))
                if rule[2]:
                    _check_fields(item, rule[2], url, '%s[%d].' % (name, index))
        elif rule and rule[0] is dict and len(rule) == 2:
            _check(value, (dict,), url, name)
            _check_fields(value, rule[1], url, name + '.')
        else:
            _check(value, rule, url, name)


def validate_fields(doc, url):
    """Type-check every known ACME field of ``doc`` (a dict); CertpilotError naming the URL and field."""
    _check_fields(doc, FIELD_TYPES, url)
    if isinstance(doc.get('meta'), dict):
        _check_fields(doc['meta'], META_TYPES, url, 'meta.')
    return doc


class AcmeResponse:
    """What the client keeps of an HTTP response."""

    def __init__(self, status, headers, content, url):
        self.status = status
        self.headers = headers
        self.content = content
        self.url = url
        self._json = None

    @property
    def json(self):
        if self._json is None:
            try:
                doc = json.loads(self.content.decode('utf-8'))
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise CertpilotError('the ACME server sent invalid JSON from %s (HTTP %s)' % (self.url, self.status),
                                     url=self.url)
            if not isinstance(doc, dict):
                raise CertpilotError('the ACME server sent a JSON %s instead of an object from %s'
                                     % (type(doc).__name__, self.url), url=self.url)
            self._json = validate_fields(doc, self.url)
        return self._json

    @property
    def location(self):
        loc = self.headers.get('Location')
        return urljoin(self.url, loc) if loc else None

    @property
    def retry_after(self):
        """The server's requested wait in seconds, at least 1 s (``Retry-After: 0`` must not busy-loop)."""
        value = parse_retry_after(self.headers.get('Retry-After'))
        return None if value is None else max(1.0, value)

    def links(self, rel):
        return parse_links(self.headers.get('Link'), rel, self.url)


def parse_links(header, rel, base):
    """Every URL of ``rel`` in a (possibly merged) ``Link`` header."""
    found = []
    if not header:
        return found
    for match in LINK_RE.finditer(header):
        url, params = match.group(1), match.group(2) or ''
        for rel_match in REL_RE.finditer(params):
            if rel in rel_match.group(1).split():
                found.append(urljoin(base, url))
                break
    return found


def _problem_doc(resp):
    ctype = (resp.headers.get('Content-Type') or '').split(';')[0].strip().lower()
    try:
        doc = json.loads(resp.content.decode('utf-8'))
        if isinstance(doc, dict) and (ctype == 'application/problem+json' or 'type' in doc or 'detail' in doc):
            return doc
    except (ValueError, UnicodeDecodeError):
        pass
    text = resp.content[:200].decode('utf-8', 'replace').strip()
    return {'type': 'about:blank', 'detail': 'HTTP %s from %s%s' % (resp.status, resp.url, (': ' + text) if text else '')}


class AcmeClient:
    """Talks to one ACME server. ``deadline`` bounds every wait of every call."""

    def __init__(self, directory_url, verify=True, deadline=None, pool_size=10, retry_policy=None,
                 bad_nonce_retries=10, request_timeout=30.0, session=None, max_json_bytes=MAX_JSON_BYTES,
                 max_pem_bytes=MAX_PEM_BYTES, max_in_flight=None):
        if not HAS_REQUESTS:  # pragma: no cover
            raise CertpilotError('the python requests library is required')
        self.directory_url = directory_url
        self.deadline = deadline or Deadline(300)
        self.retry_policy = retry_policy or RetryPolicy(attempts=6, base=1.0, cap=30.0)
        self.bad_nonce_retries = int(bad_nonce_retries)
        self.request_timeout = float(request_timeout)
        self.verify = verify
        self.max_json_bytes = int(max_json_bytes)
        self.max_pem_bytes = int(max_pem_bytes)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(10, int(pool_size)) + 2)
            session.mount('https://', adapter)
            session.mount('http://', adapter)
        session.headers['User-Agent'] = USER_AGENT
        self.session = session
        self._directory = None
        self._dir_lock = threading.Lock()
        self._nonces = collections.deque()
        self._nonce_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(int(max_in_flight)) if max_in_flight else None
        self.request_count = 0
        self.bad_nonce_count = 0
        self.key = None
        self.kid = None

    # -- plumbing ---------------------------------------------------------------------------------
    def _count(self, bad_nonce=False):
        with self._count_lock:
            if bad_nonce:
                self.bad_nonce_count += 1
            else:
                self.request_count += 1

    def _http(self, method, url, what, **kwargs):
        """One HTTP exchange; connection problems become ``Retryable``."""
        self.deadline.check(what)
        timeout = max(0.5, self.deadline.cap(self.request_timeout))
        self._count()
        accept = (kwargs.get('headers') or {}).get('Accept') or ''
        is_pem = accept.startswith('application/pem')
        limit = self.max_pem_bytes * MAX_CHAIN_CERTS if is_pem else self.max_json_bytes
        try:
            raw, content = self._exchange(method, url, what, timeout, limit, kwargs)
        except requests.exceptions.SSLError as exc:
            raise CertpilotError('%s: TLS verification of %s failed: %s (set ca_bundle for a private CA)'
                                 % (what, url, exc), url=url)
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise Retryable(CertpilotError('%s: cannot reach %s: %s' % (what, url, exc), url=url), what=what)
        except requests.exceptions.RequestException as exc:
            raise CertpilotError('%s: request to %s failed: %s' % (what, url, exc), url=url)
        if is_pem and raw.status_code < 300:
            self._check_pem_sizes(content, url)
        resp = AcmeResponse(raw.status_code, raw.headers, content, url)
        nonce = raw.headers.get('Replay-Nonce')
        if nonce and NONCE_RE.fullmatch(nonce):
            with self._nonce_lock:
                self._nonces.append(nonce)
                while len(self._nonces) > 200:
                    self._nonces.popleft()
        return resp

    def _exchange(self, method, url, what, timeout, limit, kwargs):
        """Send one request and read its capped body, holding one in-flight slot meanwhile."""
        # at least half a second: a nearly spent deadline still gets a slot that is free at once
        if self._in_flight is not None and not self._in_flight.acquire(timeout=max(0.5, self.deadline.cap(MAX_SLOT_WAIT))):
            self.deadline.check(what)  # raises when the time is up; otherwise fail the same way a deadline would
            raise CertpilotError('%s: no free connection slot within %g seconds' % (what, MAX_SLOT_WAIT), url=url)
        try:
            raw = self.session.request(method, url, timeout=timeout, verify=self.verify, allow_redirects=False,
                                       stream=True, **kwargs)
            try:
                return raw, self._read_capped(raw, limit, url, what)
            finally:
                raw.close()
        finally:
            if self._in_flight is not None:
                self._in_flight.release()

    @staticmethod
    def _read_capped(raw, limit, url, what):
        """Read a streamed body, refusing it as soon as it grows past ``limit`` bytes."""
        declared = raw.headers.get('Content-Length')
        if declared and declared.strip().isdigit() and int(declared) > limit:
            raise CertpilotError('%s: the response from %s is %s bytes, more than the %d allowed'
                                 % (what, url, declared.strip(), limit), url=url)
        chunks, size = [], 0
        for chunk in raw.iter_content(65536):
            size += len(chunk)
            if size > limit:
                raise CertpilotError('%s: the response from %s is larger than the %d bytes allowed'
                                     % (what, url, limit), url=url)
            chunks.append(chunk)
        return b''.join(chunks)

    def _check_pem_sizes(self, content, url):
        start = 0
        while True:
            end = content.find(PEM_END, start)
            if end < 0:
                tail = len(content) - start
                break
            end += len(PEM_END)
            if end - start > self.max_pem_bytes:
                tail = end - start
                break
            start = end
        if tail > self.max_pem_bytes:
            raise CertpilotError('a certificate from %s is larger than the %d bytes allowed per certificate'
                                 % (url, self.max_pem_bytes), url=url)

    def _retrying(self, attempt, what):
        return call_with_retry(attempt, self.retry_policy, self.deadline, what=what)

    # -- unsigned ---------------------------------------------------------------------------------
    def get(self, url, what='GET', accept=None):
        """Unsigned GET (directory, renewalInfo); retried on 429/5xx and connection errors."""
        headers = {'Accept': accept} if accept else {}

        def attempt():
            resp = self._http('GET', url, what, headers=headers)
            if resp.status in RETRY_STATUS:
                raise Retryable(AcmeProblem(_problem_doc(resp), resp.status, url, what=what),
                                retry_after=resp.retry_after, what=what)
            if resp.status >= 400:
                raise AcmeProblem(_problem_doc(resp), resp.status, url, what=what)
            return resp
        return self._retrying(attempt, what)

    def directory(self):
        with self._dir_lock:
            if self._directory is None:
                doc = self.get(self.directory_url, 'fetching the ACME directory').json
                if 'newNonce' not in doc or 'newOrder' not in doc or 'newAccount' not in doc:
                    raise CertpilotError('%s does not look like an ACME directory (no newNonce/newAccount/newOrder)'
                                         % self.directory_url)
                self._directory = doc
            return self._directory

    def endpoint(self, name):
        url = self.directory().get(name)
        if not url:
            raise CertpilotError('the ACME server does not offer %s' % name)
        return url

    def meta(self):
        return self.directory().get('meta') or {}

    # -- nonces -----------------------------------------------------------------------------------
    def _take_nonce(self):
        with self._nonce_lock:
            if self._nonces:
                return self._nonces.pop()
        url = self.endpoint('newNonce')

        def attempt():
            resp = self._http('HEAD', url, 'getting a nonce')
            if resp.status in RETRY_STATUS:
                raise Retryable(AcmeProblem(_problem_doc(resp), resp.status, url, what='getting a nonce'),
                                retry_after=resp.retry_after, what='getting a nonce')
            nonce = resp.headers.get('Replay-Nonce')
            if not nonce:
                raise CertpilotError('the ACME server sent no Replay-Nonce from %s' % url)
            if not NONCE_RE.fullmatch(nonce):
                raise CertpilotError('the ACME server sent a Replay-Nonce from %s that is not base64url' % url,
                                     url=url)
            return nonce
        # Bounded and iterative: another thread may take the nonce our HEAD put in the pool, so we
        # try a few times; a server that never sends a usable nonce fails above, never recursing.
        for _unused in range(max(1, self.bad_nonce_retries) + 1):
            self._retrying(attempt, 'getting a nonce')
            with self._nonce_lock:
                if self._nonces:
                    return self._nonces.pop()
        raise CertpilotError('could not get a nonce from %s: other requests kept taking them' % url, url=url)

    def nonce_pool_size(self):
        with self._nonce_lock:
            return len(self._nonces)

    # -- signed -----------------------------------------------------------------------------------
    def set_account(self, key, kid=None):
        self.key = key
        self.kid = kid

    def post(self, url, payload, what='request', key=None, kid=None, use_jwk=False, accept=None, identifier=None):
        """Signed POST (``payload`` None = POST-as-GET); returns an ``AcmeResponse`` or raises ``AcmeProblem``."""
        key = key or self.key
        if key is None:
            raise CertpilotError('%s: no account key loaded' % what)
        if not use_jwk:
            kid = kid or self.kid
            if not kid:
                raise CertpilotError('%s: no ACME account URL (kid) known' % what)
        headers = {'Content-Type': JOSE}
        if accept:
            headers['Accept'] = accept

        def attempt():
            last = None
            for _unused in range(self.bad_nonce_retries + 1):
                nonce = self._take_nonce()
                body = sign_jws(key, payload, url, nonce=nonce, kid=None if use_jwk else kid)
                resp = self._http('POST', url, what, data=json.dumps(body).encode('utf-8'), headers=headers)
                if resp.status < 400:
                    return resp
                doc = _problem_doc(resp)
                last = AcmeProblem(doc, resp.status, url, identifier=identifier, what=what)
                if last.is_type(BAD_NONCE):
                    self._count(bad_nonce=True)
                    continue
                if resp.status in RETRY_STATUS:
                    raise Retryable(last, retry_after=resp.retry_after, what=what)
                raise last
            raise AcmeProblem({'type': last.type, 'detail': 'the server rejected our nonce %d times in a row (last: %s)'
                               % (self.bad_nonce_retries + 1, last.detail)}, last.status, url, identifier=identifier,
                              what=what)
        return self._retrying(attempt, what)

    def post_as_get(self, url, what='fetching a resource', accept=None, identifier=None):
        return self.post(url, None, what=what, accept=accept, identifier=identifier)

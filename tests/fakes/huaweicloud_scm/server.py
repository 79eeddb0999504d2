#!/usr/bin/env python
"""Fake Huawei Cloud Certificate Manager API (SCM v3) -- a TEST DOUBLE.

It speaks the real wire format for the calls certpilot makes:

* ``GET /v3/scm/certificates`` (ListCertificates): ``limit`` 10/20/50, ``offset``, ``status``,
  ``content`` (search by name or bound domain), ``{"certificates": [...], "total_count": n}``;
* ``POST /v3/scm/certificates/{certificate_id}/export`` (ExportCertificate): ``entire_certificate``,
  ``certificate``, ``certificate_chain``, ``private_key``;
* errors as Huawei returns them: ``{"error_code": "SCM.0020", "error_msg": "..."}`` with an
  ``X-Request-Id`` header; API Gateway errors (``APIGW.0301``) also carry ``request_id`` in the body.

EVERY API request must be signed with AK/SK ``SDK-HMAC-SHA256``; the signature is verified here
independently of certpilot's signer (a wrong SK, a missing or stale ``X-Sdk-Date``, an unsigned
``X-Sdk-Date`` or a foreign ``X-Domain-Id`` is 401 ``APIGW.0301``).

Admin endpoints (not part of the API, for tests) live under ``/_fake/``: ``GET state``,
``GET calls``, ``POST seed``, ``POST remove``, ``POST faults``, ``POST reset``, ``POST access_keys``.

Run standalone::

    python tests/fakes/huaweicloud_scm/server.py --listen 127.0.0.1:18090 \
        --access-key AK:SK:DOMAINID --state /tmp/scm.json [--tls-cert c.pem --tls-key k.pem]
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import random
import re
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

MAX_BODY = 1024 * 1024
MAX_SKEW = 15 * 60
LIMITS = (10, 20, 50)
STATUSES = ('ALL', 'PAID', 'ISSUED', 'CHECKING', 'CANCELCHECKING', 'UNPASSED', 'EXPIRED', 'REVOKING',
            'REVOKED', 'UPLOAD', 'CHECKING_ORG', 'ISSUING', 'SUPPLEMENTCHECKING')
EXPORTABLE = ('ISSUED', 'UPLOAD', 'EXPIRED')
EXPORT_RE = re.compile(r'^/v3/scm/certificates/([^/]+)/export/?$')
LIST_PATHS = ('/v3/scm/certificates', '/v3/scm/certificates/')
PUBLIC = ('id', 'name', 'domain', 'sans', 'signature_algorithm', 'deploy_support', 'type', 'brand', 'expire_time',
          'domain_type', 'validity_period', 'status', 'domain_count', 'wildcard_count', 'description', 'domain_id',
          'enterprise_project_id')


class ApiError(Exception):
    def __init__(self, status, code, message, gateway=False):
        super().__init__(message)
        self.status, self.code, self.message, self.gateway = status, code, message, gateway


def _enc(value):
    return quote(value, safe='~')


def canonical_request(method, raw_path, raw_query, headers, names, body):
    """The canonical request as API Gateway rebuilds it from what arrived on the wire."""
    uri = '/'.join(_enc(seg) for seg in unquote(raw_path).split('/'))
    if not uri.endswith('/'):
        uri += '/'
    pairs = sorted(parse_qsl(raw_query, keep_blank_values=True))
    query = '&'.join('%s=%s' % (_enc(k), _enc(v)) for k, v in pairs)
    canon_headers = ''.join('%s:%s\n' % (n, (headers.get(n) or '').strip()) for n in names)
    if not body:
        payload = hashlib.sha256(b'').hexdigest()
    elif (headers.get('x-sdk-content-sha256') or '') == 'UNSIGNED-PAYLOAD':
        payload = 'UNSIGNED-PAYLOAD'
    else:
        payload = hashlib.sha256(body).hexdigest()
    return '\n'.join([method, uri, query, canon_headers, ';'.join(names), payload])


def _fmt_time(dt):
    return dt.strftime('%Y-%m-%d %H:%M:%S.0')


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def describe_pem(cert_pem):
    """CertificateDetail fields computed from the leaf of ``cert_pem``."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        dns = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns = []
    cn = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    names = list(dns) or cn
    key = cert.public_key()
    kind = 'RSA' if isinstance(key, rsa.RSAPublicKey) else 'ECDSA' if isinstance(key, ec.EllipticCurvePublicKey) else 'OTHER'
    wildcards = len([n for n in names if n.startswith('*.')])
    end = cert.not_valid_after_utc
    start = cert.not_valid_before_utc
    return {
        'domain': names[0] if names else '', 'sans': ';'.join(names[1:]),
        'signature_algorithm': 'SHA256WITH%s' % kind,
        'expire_time': _fmt_time(end),
        'validity_period': max(1, int(round((end - start).days / 30.0))),
        'domain_type': 'WILDCARD' if wildcards and len(names) == 1 else 'MULTI_DOMAIN' if len(names) > 1 else 'SINGLE_DOMAIN',
        'domain_count': len(names), 'wildcard_count': wildcards,
    }


class FakeScm:
    """In-memory state (saved to ``state_file``); every public method holds the lock."""

    def __init__(self, state_file=None, account='0970dd7a1300f5672ff2c003c60ae115'):
        self.lock = threading.RLock()
        self.state_file = state_file
        self.account = account
        self.access_keys = {}
        self.certs = {}
        self.calls = []
        self.faults = {'throttle_next': 0, 'unavailable_next': 0, 'retry_after': None, 'delay': 0.0}
        self._seq = 0
        self._load()

    def _load(self):
        if self.state_file and os.path.exists(self.state_file):
            with open(self.state_file) as handle:
                data = json.load(handle)
            self.access_keys.update(data.get('access_keys', {}))
            self.certs.update(data.get('certs', {}))

    def save(self):
        if not self.state_file:
            return
        tmp = self.state_file + '.tmp'
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump({'access_keys': self.access_keys, 'certs': self.certs}, handle)
        os.replace(tmp, self.state_file)

    def _new_id(self):
        while True:
            self._seq += 1
            cid = 'scs%013d' % (int(time.time() * 1000) % 10 ** 13 + self._seq * 7 + random.randint(0, 999))
            if cid not in self.certs:
                return cid

    # ------------------------------------------------------------ admin
    def add_access_key(self, ak, sk, domain_id=None):
        with self.lock:
            self.access_keys[ak] = {'sk': sk, 'domain_id': domain_id or self.account}
            self.save()

    def seed(self, data):
        ids = []
        with self.lock:
            for spec in data.get('certificates', []):
                cid = spec.get('id') or self._new_id()
                status = spec.get('status') or 'ISSUED'
                if status not in STATUSES or status == 'ALL':
                    raise ApiError(400, 'FAKE.SEED', 'unknown status %r' % status)
                entry = {'id': cid, 'name': spec.get('name') or cid, 'status': status,
                         'type': spec.get('type', 'DV_SSL_CERT'), 'brand': spec.get('brand', 'GLOBALSIGN'),
                         'deploy_support': True, 'description': spec.get('description', ''),
                         'domain_id': spec.get('domain_id') or self.account, 'enterprise_project_id': '0',
                         'domain': spec.get('domain', ''), 'sans': '', 'signature_algorithm': '', 'expire_time': '',
                         'domain_type': 'SINGLE_DOMAIN', 'validity_period': 12, 'domain_count': 1, 'wildcard_count': 0,
                         '_certificate': spec.get('certificate') or '', '_chain': spec.get('certificate_chain') or '',
                         '_key': spec.get('private_key') or '', '_updated': time.time()}
                if entry['_certificate']:
                    entry.update(describe_pem(entry['_certificate']))
                    if spec.get('domain'):
                        entry['domain'] = spec['domain']
                self.certs[cid] = entry
                ids.append(cid)
            self.save()
        return {'ids': ids}

    def remove(self, ids):
        with self.lock:
            for cid in ids:
                self.certs.pop(cid, None)
            self.save()
        return {'removed': len(ids)}

    def state(self):
        with self.lock:
            return {'certificates': [dict((k, c[k]) for k in PUBLIC) for c in self.certs.values()],
                    'access_keys': sorted(self.access_keys), 'faults': dict(self.faults)}

    def reset(self):
        with self.lock:
            self.certs.clear()
            self.calls = []
            self.faults.update(throttle_next=0, unavailable_next=0, retry_after=None, delay=0.0)
            self.save()
        return {'ok': True}

    def set_faults(self, data):
        with self.lock:
            for key in ('throttle_next', 'unavailable_next', 'retry_after', 'delay'):
                if key in data:
                    self.faults[key] = data[key]
        return self.faults

    # ------------------------------------------------------------ API
    def authenticate(self, method, raw_path, raw_query, headers, body):
        """The access key of a correctly signed request, or ApiError 401."""
        auth = headers.get('authorization') or ''
        match = re.match(r'^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$', auth)
        if not match:
            raise ApiError(401, 'APIGW.0301', 'Incorrect IAM authentication information: Authorization header '
                           'is missing or malformed', gateway=True)
        ak, signed, given = match.group(1), match.group(2).split(';'), match.group(3)
        key = self.access_keys.get(ak)
        if key is None:
            raise ApiError(401, 'APIGW.0301', 'Incorrect IAM authentication information: ak %s not exist' % ak, gateway=True)
        date = headers.get('x-sdk-date') or ''
        if 'x-sdk-date' not in signed:
            raise ApiError(401, 'APIGW.0301', 'Incorrect IAM authentication information: x-sdk-date not signed', gateway=True)
        try:
            when = datetime.datetime.strptime(date, '%Y%m%dT%H%M%SZ').replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise ApiError(401, 'APIGW.0301', 'Incorrect IAM authentication information: bad x-sdk-date', gateway=True)
        if abs((_now() - when).total_seconds()) > MAX_SKEW:
            raise ApiError(401, 'APIGW.0301', 'Incorrect IAM authentication information: x-sdk-date is more than '
                           '15 minutes off the server time', gateway=True)
        if any(name != name.lower() or headers.get(name) is None for name in signed):
            raise ApiError(401, 'APIGW.0301', 'Incorrect IAM authentication information: a signed header is missing',
                           gateway=True)
        text = canonical_request(method, raw_path, raw_query, headers, signed, body)
        sts = 'SDK-HMAC-SHA256\n%s\n%s' % (date, hashlib.sha256(text.encode()).hexdigest())
        want = hmac.new(key['sk'].encode(), sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, given):
            raise ApiError(401, 'APIGW.0301', 'Incorrect IAM authentication information: verify aksk signature fail',
                           gateway=True)
        domain = headers.get('x-domain-id')
        if domain and domain != key['domain_id']:
            raise ApiError(401, 'APIGW.0301', 'Incorrect IAM authentication information: the domain id does not '
                           'belong to the ak', gateway=True)
        return ak, key['domain_id']

    def handle(self, method, raw_path, raw_query, headers, body):
        with self.lock:
            if self.faults.get('throttle_next'):
                self.faults['throttle_next'] -= 1
                raise ApiError(429, 'APIGW.0308', 'The throttling threshold has been reached: policy user over '
                               'ratelimit,limit:20,time:1 second', gateway=True)
            if self.faults.get('unavailable_next'):
                self.faults['unavailable_next'] -= 1
                raise ApiError(503, 'SCM.0500', 'Service unavailable, try again later.')
        delay = self.faults.get('delay') or 0
        if delay:
            time.sleep(min(float(delay), 30.0))
        if method == 'GET' and raw_path in LIST_PATHS:
            _ak, domain = self.authenticate(method, raw_path, raw_query, headers, body)
            return self.list_certificates(dict(parse_qsl(raw_query, keep_blank_values=True)), domain)
        match = EXPORT_RE.match(raw_path)
        if method == 'POST' and match:
            _ak, domain = self.authenticate(method, raw_path, raw_query, headers, body)
            return self.export(unquote(match.group(1)), domain)
        raise ApiError(404, 'APIGW.0101', 'The API does not exist or has not been published in the environment',
                       gateway=True)

    def list_certificates(self, query, domain):
        try:
            limit = int(query.get('limit', 10))
            offset = int(query.get('offset', 0))
        except ValueError:
            raise ApiError(400, 'SCM.0005', 'Incorrect request parameter.')
        if limit not in LIMITS or offset < 0:
            raise ApiError(400, 'SCM.0005', 'Incorrect request parameter.')
        status = query.get('status') or 'ALL'
        if status not in STATUSES:
            raise ApiError(400, 'SCM.0005', 'Incorrect request parameter.')
        content = (query.get('content') or '').lower()
        with self.lock:
            certs = [c for c in self.certs.values() if c['domain_id'] == domain]
            if status != 'ALL':
                certs = [c for c in certs if c['status'] == status]
            if content:
                certs = [c for c in certs if content in c['name'].lower() or content in c['domain'].lower()
                         or content in (c['sans'] or '').lower()]
            certs.sort(key=lambda c: (c['_updated'], c['id']), reverse=True)
            page = certs[offset:offset + limit]
            return 200, {'certificates': [dict((k, c[k]) for k in PUBLIC) for c in page], 'total_count': len(certs)}

    def export(self, cid, domain):
        with self.lock:
            cert = self.certs.get(cid)
            if cert is None or cert['domain_id'] != domain:
                raise ApiError(400, 'SCM.0020', 'Incorrect certificate ID.')
            if cert['status'] not in EXPORTABLE or not cert['_certificate']:
                raise ApiError(400, 'SCM.0010', 'This operation is not allowed by the current certificate type or status.')
            return 200, {'entire_certificate': cert['_certificate'] + cert['_chain'], 'certificate': cert['_certificate'],
                         'certificate_chain': cert['_chain'], 'private_key': cert['_key']}


class Handler(BaseHTTPRequestHandler):
    server_version = 'api-gateway'
    sys_version = ''

    def log_message(self, fmt, *args):  # quiet; the fake keeps its own call log
        pass

    def _send(self, status, payload, request_id=None, extra=None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json;charset=UTF-8')
        self.send_header('Content-Length', str(len(body)))
        if request_id:
            self.send_header('X-Request-Id', request_id)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        if length > MAX_BODY:
            raise ApiError(413, 'APIGW.0201', 'Request entity too large', gateway=True)
        return self.rfile.read(length) if length else b''

    def _admin(self, method, name, body):
        fake = self.server.fake
        data = json.loads(body.decode() or '{}') if body else {}
        if method == 'GET' and name == 'state':
            return fake.state()
        if method == 'GET' and name == 'calls':
            with fake.lock:
                return {'calls': list(fake.calls)}
        if method == 'POST' and name == 'seed':
            return fake.seed(data)
        if method == 'POST' and name == 'remove':
            return fake.remove(data.get('ids', []))
        if method == 'POST' and name == 'faults':
            return fake.set_faults(data)
        if method == 'POST' and name == 'reset':
            return fake.reset()
        if method == 'POST' and name == 'access_keys':
            fake.add_access_key(data['ak'], data['sk'], data.get('domain_id'))
            return {'ok': True}
        raise ApiError(404, 'FAKE.NotFound', 'no admin endpoint %s %s' % (method, name))

    def _dispatch(self, method):
        split = urlsplit(self.path)
        raw_path, raw_query = split.path, split.query
        request_id = uuid.uuid4().hex
        fake = self.server.fake
        try:
            body = self._body()
            if raw_path.startswith('/_fake/'):
                return self._send(200, self._admin(method, raw_path[len('/_fake/'):], body))
            headers = dict((k.lower(), v) for k, v in self.headers.items())
            status, payload = fake.handle(method, raw_path, raw_query, headers, body)
            self._record(method, raw_path, raw_query, status, None, request_id, headers)
            return self._send(status, payload, request_id)
        except ApiError as exc:
            payload = {'error_code': exc.code, 'error_msg': exc.message}
            if exc.gateway:
                payload['request_id'] = request_id
            extra = {}
            if exc.status == 429 and fake.faults.get('retry_after') is not None:
                extra['Retry-After'] = str(fake.faults['retry_after'])
            if not raw_path.startswith('/_fake/'):
                self._record(method, raw_path, raw_query, exc.status, exc.code, request_id,
                             dict((k.lower(), v) for k, v in self.headers.items()))
            return self._send(exc.status, payload, request_id, extra)
        except Exception as exc:  # pylint: disable=broad-except
            return self._send(500, {'error_code': 'SCM.0500', 'error_msg': 'internal error: %s' % exc.__class__.__name__},
                              request_id)

    def _record(self, method, path, query, status, code, request_id, headers):
        auth = headers.get('authorization') or ''
        access = re.search(r'Access=([^,\s]+)', auth)
        with self.server.fake.lock:
            self.server.fake.calls.append({'method': method, 'path': path, 'query': query, 'status': status,
                                           'error_code': code, 'request_id': request_id,
                                           'access_key': access.group(1) if access else None,
                                           'user_agent': headers.get('user-agent'),
                                           'signed_headers': (re.search(r'SignedHeaders=([^,\s]+)', auth) or [None, None])[1]})
            del self.server.fake.calls[:-500]

    def do_GET(self):  # noqa: N802
        self._dispatch('GET')

    def do_POST(self):  # noqa: N802
        self._dispatch('POST')

    def do_PUT(self):  # noqa: N802
        self._dispatch('PUT')

    def do_DELETE(self):  # noqa: N802
        self._dispatch('DELETE')


def make_server(listen, access_keys, state_file=None, tls_cert=None, tls_key=None):
    host, port = listen.rsplit(':', 1)
    httpd = ThreadingHTTPServer((host, int(port)), Handler)
    httpd.daemon_threads = True
    httpd.fake = FakeScm(state_file)
    domains = [d for _sk, d in access_keys.values() if d]
    if domains:
        httpd.fake.account = domains[0]  # seeded certificates belong to the first key's account by default
    for ak, (sk, domain_id) in access_keys.items():
        httpd.fake.add_access_key(ak, sk, domain_id)
    if tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_cert, tls_key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    return httpd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--listen', default='127.0.0.1:18090')
    parser.add_argument('--access-key', action='append', default=[], help='AK:SK[:DOMAIN_ID]')
    parser.add_argument('--state')
    parser.add_argument('--tls-cert')
    parser.add_argument('--tls-key')
    parser.add_argument('--ready-file')
    args = parser.parse_args(argv)
    keys = {}
    for item in args.access_key:
        parts = item.split(':')
        keys[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else None)
    httpd = make_server(args.listen, keys, args.state, args.tls_cert, args.tls_key)
    if args.ready_file:
        with open(args.ready_file, 'w') as handle:
            json.dump({'port': httpd.server_address[1]}, handle)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())

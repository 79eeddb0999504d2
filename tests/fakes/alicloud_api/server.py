#!/usr/bin/env python
"""Fake Alibaba Cloud Certificate Management Service (CAS, 2020-04-07), Application Load Balancer
(ALB, 2020-06-16) and CDN (2018-05-10, the domain certificate calls) APIs -- a TEST DOUBLE, one process,
one state store.

One store because the products refer to each other: ALB and CDN refuse a CAS certificate id that does not
exist, and CAS refuses to delete a certificate that an ALB listener or a CDN domain still uses (and lists
those in ``ListCloudResources``).

Wire format: RPC style, ``POST /`` (or GET) with the parameters in the query string and/or a form body
(the official SDK puts them in the query, certpilot in the body), JSON answers, errors as
``{"RequestId", "HostId", "Code", "Message", "Recommend"}``. The product is picked by the API version
(``x-acs-version`` header for signature V3, ``Version`` parameter for V1).

Authentication, verified here independently of certpilot's signer:

* signature V3 (``Authorization: ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..``): the
  canonical request is rebuilt from what arrived (method, path, query, the signed headers, the body's
  SHA-256, which must equal ``x-acs-content-sha256``); ``host``, ``x-acs-action``, ``x-acs-version``,
  ``x-acs-date``, ``x-acs-signature-nonce`` and ``x-acs-content-sha256`` must be signed
  (``IncompleteSignature`` otherwise); an unknown AccessKey is ``InvalidAccessKeyId.NotFound``, a wrong
  secret ``SignatureDoesNotMatch``; ±15 min clock skew; a nonce is accepted once.
* signature V1 (``Signature`` parameter, HMAC-SHA1), as the SLB fake checks it.

State behaviour: ALB listeners are ``Configuring`` for ``--configuring-seconds`` after each change and
refuse another change meanwhile (``IncorrectStatus.Listener``); additional certificates are
``Associating`` then ``Associated``. ``ClientToken``: a repeated token with the same parameters answers
what the first call answered, without acting again. ``DryRun=true`` validates everything, changes nothing
and answers ``DryRunOperation``.

CDN domains (seeded through the admin API) are ``online``, or ``offline`` when seeded so; after
``SetCdnDomainSSLCertificate`` a domain is ``configuring`` for ``--configuring-seconds`` and
``DescribeDomainCertificateInfo`` still shows the previous certificate meanwhile (the change is applied
asynchronously, so a client has to read back until it shows).

Admin endpoints (not part of the API) under ``/_fake/``: ``GET state``, ``GET calls``, ``POST seed``,
``POST faults``, ``POST reset``, ``POST access_keys``, ``POST clear_calls``.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

CAS_VERSION = '2020-04-07'
ALB_VERSION = '2020-06-16'
CDN_VERSION = '2018-05-10'
MAX_SKEW = 15 * 60
MAX_BODY = 2 * 1024 * 1024
V3_REQUIRED = ('host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256')
V1_COMMON = ('Action', 'Format', 'Version', 'AccessKeyId', 'SignatureMethod', 'SignatureVersion',
             'SignatureNonce', 'Timestamp', 'Signature', 'SecurityToken', 'SignatureType')
SECRET_PARAMS = ('Key', 'PrivateKey', 'EncryptPrivateKey', 'SignPrivateKey', 'SSLPri')

# Error codes in one place (see the hand-back notes in tests/fakes/alicloud_api/README.md).
E_CAS_NOT_FOUND = 'NotFound'                      # CAS: unknown CertId
E_CAS_IN_USE = 'CertificateInUse'                  # CAS: DeleteUserCertificate of a certificate a cloud resource uses
E_LISTENER_NOT_FOUND = 'ResourceNotFound.Listener'
E_ALB_CERT_NOT_FOUND = 'ResourceNotFound.Certificate'
E_LISTENER_BUSY = 'IncorrectStatus.Listener'
E_DRY_RUN = 'DryRunOperation'
E_CDN_DOMAIN_NOT_FOUND = 'InvalidDomain.NotFound'  # CDN: the domain does not exist or is not the caller's
E_CDN_CAS_NOT_FOUND = 'InvalidCertificate.NotFound'  # CDN: CertType=cas with an unknown CertId (not verified)
CDN_CAS_REGIONS = ('cn-hangzhou', 'ap-southeast-1')


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def pe(value):
    return quote(str(value).encode('utf-8'), safe=b'~')


def v1_string_to_sign(method, params):
    query = '&'.join('%s=%s' % (pe(k), pe(v)) for k, v in sorted(params.items()) if k != 'Signature')
    return '%s&%s&%s' % (method, pe('/'), pe(query))


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(dt):
    return dt.strftime('%Y-%m-%dT%H:%M:%SZ')


def _bool(value):
    return str(value).lower() == 'true'


def _indexed(params, prefix, field):
    """``Certificates.1.CertificateId``... -> list, in index order."""
    found = {}
    pattern = re.compile(r'^%s\.(\d+)\.%s$' % (re.escape(prefix), re.escape(field)))
    for key, value in params.items():
        match = pattern.match(key)
        if match:
            found[int(match.group(1))] = value
    return [found[i] for i in sorted(found)]


class FakeAlicloud:
    def __init__(self, region='cn-hangzhou', state_file=None, configuring_seconds=0.6, account='1231579085529123'):
        self.lock = threading.RLock()
        self.region = region
        self.state_file = state_file
        self.configuring_seconds = float(configuring_seconds)
        self.account = account
        self.access_keys = {}
        self.nonces = {}
        self.certs = {}
        self.next_cert_id = 12000000
        self.listeners = {}
        self.domains = {}
        self.tokens = {}
        self.calls = []
        self.call_count = 0
        self.faults = {'throttle_next': 0, 'unavailable_next': 0, 'actions': None}
        self._load()

    # ------------------------------------------------------------ persistence
    def save(self):
        if not self.state_file:
            return
        tmp = self.state_file + '.tmp'
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump({'access_keys': self.access_keys, 'certs': self.certs, 'next_cert_id': self.next_cert_id,
                       'listeners': self.listeners, 'domains': self.domains, 'tokens': self.tokens}, handle)
        os.replace(tmp, self.state_file)

    def _load(self):
        if not self.state_file or not os.path.exists(self.state_file):
            return
        with open(self.state_file) as handle:
            data = json.load(handle)
        self.access_keys.update(data.get('access_keys', {}))
        self.certs.update(data.get('certs', {}))
        self.next_cert_id = data.get('next_cert_id', self.next_cert_id)
        self.listeners.update(data.get('listeners', {}))
        self.domains.update(data.get('domains', {}))
        self.tokens.update(data.get('tokens', {}))

    # ------------------------------------------------------------ admin
    def seed(self, data):
        out = {'listeners': [], 'certificates': [], 'cdn_domains': []}
        with self.lock:
            for entry in data.get('access_keys', []):
                self.access_keys[entry['AccessKeyId']] = {'secret': entry['AccessKeySecret'],
                                                          'token': entry.get('SecurityToken')}
            for spec in data.get('certificates', []):
                cert = self._register(spec['Cert'], spec['Key'], spec.get('Name') or 'seed-%d' % self.next_cert_id)
                out['certificates'].append(cert['Id'])
            for spec in data.get('listeners', []):
                lid = spec.get('ListenerId') or 'lsn-%s' % uuid.uuid4().hex[:18]
                default = spec.get('DefaultCertificateId')
                if default is not None:
                    self._cas_id(default)
                self.listeners[lid] = {
                    'ListenerId': lid, 'LoadBalancerId': spec.get('LoadBalancerId') or 'alb-%s' % uuid.uuid4().hex[:18],
                    'ListenerPort': int(spec.get('ListenerPort', 443)),
                    'ListenerProtocol': spec.get('ListenerProtocol', 'HTTPS'),
                    'ListenerDescription': spec.get('ListenerDescription', ''),
                    'RegionId': spec.get('RegionId', self.region),
                    'SecurityPolicyId': 'tls_cipher_policy_1_0', 'Http2Enabled': True, 'IdleTimeout': 15,
                    'RequestTimeout': 60, 'GzipEnabled': True,
                    'default': self._alb_cert_id(default, spec.get('RegionId', self.region)) if default else None,
                    'additional': {}, 'busy_until': 0.0,
                }
                out['listeners'].append(lid)
            for spec in data.get('cdn_domains', []):
                name = spec['DomainName'].lower()
                domain = {'DomainName': name, 'DomainStatus': spec.get('DomainStatus', 'online'), 'https': {'SSLProtocol': 'off'},
                          'shown': None, 'busy_until': 0.0}
                if spec.get('CertId') is not None:
                    domain['https'] = self._cdn_cas(spec['CertId'], spec.get('CertRegion') or 'cn-hangzhou', spec.get('CertName'))
                elif spec.get('Cert'):
                    domain['https'] = self._cdn_upload(spec['Cert'], spec['Key'], spec.get('CertName'))
                self.domains[name] = domain
                out['cdn_domains'].append(name)
            self.save()
        return out

    def state(self):
        with self.lock:
            listeners = []
            for item in self.listeners.values():
                view = dict((k, v) for k, v in item.items() if k != 'busy_until')
                view['ListenerStatus'] = self._status(item)
                view['additional'] = dict((k, self._assoc_status(item, v)) for k, v in item['additional'].items())
                listeners.append(view)
            domains = [{'DomainName': d['DomainName'], 'DomainStatus': self._domain_status(d),
                        'https': self._public(d['https']), 'shown': self._public(self._shown(d)),
                        'served_sha256': self._served_sha256(d)} for d in self.domains.values()]
            return {'certificates': [self._public(c) for c in self.certs.values()], 'listeners': listeners,
                    'cdn_domains': domains, 'call_count': self.call_count, 'faults': self.faults}

    def reset(self, keep_access_keys=True):
        with self.lock:
            self.certs.clear()
            self.listeners.clear()
            self.domains.clear()
            self.tokens.clear()
            self.nonces.clear()
            self.calls = []
            self.faults.update({'throttle_next': 0, 'unavailable_next': 0, 'actions': None})
            if not keep_access_keys:
                self.access_keys.clear()
            self.save()

    # ------------------------------------------------------------ authentication
    def _check_key(self, access_key, token):
        entry = self.access_keys.get(access_key)
        if entry is None:
            raise ApiError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.')
        if entry.get('token') and token != entry['token']:
            raise ApiError(400, 'InvalidSecurityToken.Mismatch', 'Specified SecurityToken mismatch with the AccessKey.')
        if token and not entry.get('token'):
            raise ApiError(400, 'InvalidSecurityToken.Malformed', 'Specified SecurityToken is malformed.')
        return entry

    def _check_fresh(self, stamp, nonce):
        try:
            when = datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise ApiError(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date header is not valid.')
        if abs((_now() - when).total_seconds()) > MAX_SKEW:
            raise ApiError(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date header is expired.')
        cutoff = time.time() - 2 * MAX_SKEW
        for old in [n for n, t in self.nonces.items() if t < cutoff]:
            del self.nonces[old]
        if nonce in self.nonces:
            raise ApiError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.')
        self.nonces[nonce] = time.time()

    def authenticate_v3(self, method, path, query_pairs, headers, body):
        auth = headers.get('authorization', '')
        algorithm, dummy, rest = auth.partition(' ')
        if algorithm != 'ACS3-HMAC-SHA256':
            raise ApiError(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.')
        parts = dict(p.strip().split('=', 1) for p in rest.split(',') if '=' in p)
        if not parts.get('Credential') or not parts.get('SignedHeaders') or not parts.get('Signature'):
            raise ApiError(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.')
        signed = parts['SignedHeaders'].split(';')
        missing = [h for h in V3_REQUIRED if h not in signed or not headers.get(h)]
        unsigned = [h for h in headers if h.startswith('x-acs-') and h not in signed]
        if missing or unsigned:
            raise ApiError(400, 'IncompleteSignature',
                           'The request signature does not conform to Aliyun standards. Not signed or missing: %s'
                           % ', '.join(missing + unsigned))
        token = headers.get('x-acs-security-token')
        entry = self._check_key(parts['Credential'], token)
        payload = hashlib.sha256(body).hexdigest()
        canonical_headers = ''.join('%s:%s\n' % (h, (headers.get(h) or '').strip()) for h in signed)
        canonical_query = '&'.join('%s=%s' % (pe(k), pe(v)) for k, v in sorted(query_pairs))
        canonical_uri = '/'.join(pe(seg) for seg in (path or '/').split('/'))
        canonical = '\n'.join([method, canonical_uri, canonical_query, canonical_headers, parts['SignedHeaders'],
                               headers['x-acs-content-sha256']])
        sts = 'ACS3-HMAC-SHA256\n' + hashlib.sha256(canonical.encode('utf-8')).hexdigest()
        expected = hmac.new(entry['secret'].encode(), sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts['Signature']):
            raise ApiError(400, 'SignatureDoesNotMatch', 'Specified signature does not match our calculation.')
        if payload != headers['x-acs-content-sha256']:
            raise ApiError(400, 'SignatureDoesNotMatch', 'The x-acs-content-sha256 header does not match the body.')
        self._check_fresh(headers['x-acs-date'], headers['x-acs-signature-nonce'])
        return headers['x-acs-action'], headers['x-acs-version']

    def authenticate_v1(self, method, params):
        for name in ('AccessKeyId', 'Signature', 'SignatureNonce', 'Timestamp', 'SignatureMethod', 'Action', 'Version'):
            if not params.get(name):
                raise ApiError(400, 'MissingParameter', 'The input parameter "%s" that is mandatory for processing '
                                                        'this request is not supplied.' % name)
        if params['SignatureMethod'] != 'HMAC-SHA1' or params.get('SignatureVersion') != '1.0':
            raise ApiError(400, 'InvalidSignatureMethod', 'Specified signature method is not valid.')
        entry = self._check_key(params['AccessKeyId'], params.get('SecurityToken'))
        expected = hmac.new((entry['secret'] + '&').encode(), v1_string_to_sign(method, params).encode(), hashlib.sha1)
        if not hmac.compare_digest(base64.b64encode(expected.digest()).decode(), params['Signature']):
            raise ApiError(400, 'SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.')
        self._check_fresh(params['Timestamp'], params['SignatureNonce'])
        return params['Action'], params['Version']

    # ------------------------------------------------------------ dispatch
    def handle(self, method, path, query_pairs, headers, body):
        request_id = str(uuid.uuid4()).upper()
        host_id = headers.get('host', 'aliyuncs.com')
        try:
            form = dict(parse_qsl(body.decode('utf-8'), keep_blank_values=True)) \
                if body and 'x-www-form-urlencoded' in headers.get('content-type', '') else {}
            params = dict(query_pairs)
            params.update(form)
            with self.lock:
                if 'authorization' in headers:
                    action, version = self.authenticate_v3(method, path, query_pairs, headers, body)
                else:
                    action, version = self.authenticate_v1(method, params)
                self.call_count += 1
                business = dict((k, v) for k, v in params.items() if k not in V1_COMMON)
                self.calls.append({'Action': action, 'Version': version, 'n': self.call_count, 'request_id': request_id,
                                   'signature': 'v3' if 'authorization' in headers else 'v1',
                                   'signed_headers': (headers.get('authorization', '').split('SignedHeaders=')[-1]
                                                      .split(',')[0] if 'authorization' in headers else None),
                                   'in_query': sorted(k for k, dummy in query_pairs if k not in V1_COMMON),
                                   'params': dict((k, '<redacted>' if k in SECRET_PARAMS else v)
                                                  for k, v in business.items())})
                applies = not self.faults['actions'] or action in self.faults['actions']
                if applies and self.faults['throttle_next'] > 0:
                    self.faults['throttle_next'] -= 1
                    raise ApiError(400, 'Throttling.User', 'Request was denied due to user flow control.')
                if applies and self.faults['unavailable_next'] > 0:
                    self.faults['unavailable_next'] -= 1
                    raise ApiError(503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.')
                prefix = {CAS_VERSION: 'cas_', ALB_VERSION: 'alb_', CDN_VERSION: 'cdn_'}.get(version)
                if prefix is None:
                    raise ApiError(400, 'InvalidVersion', 'Specified parameter Version is not valid.')
                handler = getattr(self, prefix + action, None)
                if handler is None:
                    raise ApiError(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.')
                region = business.pop('RegionId', None) or self.region
                token = business.get('ClientToken')
                if token and not _bool(business.get('DryRun')):
                    key = '%s|%s' % (action, token)
                    digest = hashlib.sha256(json.dumps(business, sort_keys=True).encode()).hexdigest()
                    seen = self.tokens.get(key)
                    if seen is not None:
                        if seen['digest'] != digest:
                            raise ApiError(400, 'IdempotenceParamNotMatch',
                                           'The request uses the same client token as a previous, but non-identical request.')
                        answer = dict(seen['body'])
                        answer['RequestId'] = request_id
                        return 200, answer
                answer = handler(business, region)
                if token and not _bool(business.get('DryRun')):
                    self.tokens['%s|%s' % (action, token)] = {'digest': digest, 'body': answer}
                self.save()
            answer = dict(answer)
            answer['RequestId'] = request_id
            return 200, answer
        except ApiError as exc:
            product = {CAS_VERSION: 'cas', CDN_VERSION: 'Cdn'}.get(headers.get('x-acs-version'), 'Alb')
            return exc.status, {'RequestId': request_id, 'HostId': host_id, 'Code': exc.code, 'Message': exc.message,
                                'Recommend': 'https://api.aliyun.com/troubleshoot?q=%s&product=%s' % (exc.code, product)}

    @staticmethod
    def _req(params, *names):
        for name in names:
            if params.get(name) in (None, ''):
                raise ApiError(400, 'MissingParameter', 'The input parameter "%s" that is mandatory for processing this '
                                                        'request is not supplied.' % name)

    @staticmethod
    def _dry_run(params):
        if _bool(params.get('DryRun')):
            raise ApiError(400, E_DRY_RUN, 'Request validation has been passed with DryRun flag set.')

    # ------------------------------------------------------------ CAS
    @staticmethod
    def _load_pair(cert_pem, key_pem, bad_cert, bad_key, mismatch):
        """(PEM blocks, leaf, key) or the ApiError ``(status, code, message)`` the product answers."""
        blocks = re.findall(r'-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----', cert_pem or '', re.S)
        try:
            chain = [x509.load_pem_x509_certificate(b.encode()) for b in blocks]
        except ValueError:
            chain = []
        if not chain:
            raise ApiError(*bad_cert)
        try:
            key = serialization.load_pem_private_key((key_pem or '').encode(), password=None)
        except (ValueError, TypeError):
            raise ApiError(*bad_key)
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise ApiError(bad_key[0], bad_key[1], bad_key[2] + ' RSA or ECC keys only.')
        leaf = chain[0]
        if leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
                key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
            raise ApiError(*mismatch)
        return blocks, leaf, key

    @staticmethod
    def _describe_leaf(leaf):
        start = getattr(leaf, 'not_valid_before_utc', None) or leaf.not_valid_before.replace(tzinfo=datetime.timezone.utc)
        end = getattr(leaf, 'not_valid_after_utc', None) or leaf.not_valid_after.replace(tzinfo=datetime.timezone.utc)
        cn = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        try:
            sans = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            sans = []
        issuer_cn = leaf.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
        return {'Common': cn[0].value if cn else '', 'Sans': ','.join(sans),
                'Fingerprint': leaf.fingerprint(hashes.SHA1()).hex().upper(),
                'Sha2': leaf.fingerprint(hashes.SHA256()).hex().upper(),
                'SerialNo': '%x' % leaf.serial_number, 'Issuer': issuer_cn[0].value if issuer_cn else '',
                'StartDate': start.strftime('%Y-%m-%d'), 'EndDate': end.strftime('%Y-%m-%d'),
                'NotBefore': int(start.timestamp() * 1000), 'NotAfter': int(end.timestamp() * 1000),
                'StartTime': _iso(start), 'EndTime': _iso(end)}

    def _register(self, cert_pem, key_pem, name):
        blocks, leaf, key = self._load_pair(
            cert_pem, key_pem, (400, 'InvalidParameter', 'The specified parameter Cert is not valid.'),
            (400, 'InvalidParameter', 'The specified parameter Key is not valid.'),
            (400, 'InvalidParameter', 'The certificate and the private key do not match.'))
        if len(name) > 64:
            raise ApiError(400, 'InvalidParameter', 'The specified parameter Name is too long.')
        cert_id = self.next_cert_id
        self.next_cert_id += 1
        entry = {'Id': cert_id, 'Name': name}
        entry.update((k, v) for k, v in self._describe_leaf(leaf).items() if k not in ('StartTime', 'EndTime'))
        entry.update({'Algorithm': 'RSA' if isinstance(key, rsa.RSAPrivateKey) else 'ECC',
                      'ResourceGroupId': 'rg-acfmdefault000', 'CreateTime': _iso(_now()),
                      '_cert': '\n'.join(blocks) + '\n', '_key': key_pem})
        self.certs[str(cert_id)] = entry
        return entry

    @staticmethod
    def _public(cert):
        return dict((k, v) for k, v in cert.items() if not k.startswith('_'))

    def _cert(self, cert_id):
        cert = self.certs.get(str(cert_id).strip())
        if cert is None:
            raise ApiError(400, E_CAS_NOT_FOUND, 'The certificate does not exist: %s.' % cert_id)
        return cert

    def _users(self, cert_id):
        """The cloud resources (ALB listeners, CDN domains) using CAS certificate ``cert_id``, as ListCloudResources rows."""
        cid = str(cert_id)
        users = []
        for item in self.listeners.values():
            for role, value in [('default', item['default'])] + [('additional', k) for k in item['additional']]:
                if value and value.split('-', 1)[0] == cid:
                    users.append({'CloudProduct': 'ALB', 'InstanceId': item['LoadBalancerId'],
                                  'ListenerId': item['ListenerId'], 'ListenerPort': item['ListenerPort'],
                                  'RegionId': item['RegionId'], 'DefaultResource': 1 if role == 'default' else 0})
        for domain in self.domains.values():
            for https in (domain['https'], self._shown(domain)):  # configuring: the old one is still in use too
                if https.get('SSLProtocol') == 'on' and https.get('CertType') == 'cas' and str(https.get('CertId')) == cid:
                    users.append({'CloudProduct': 'CDN', 'InstanceId': domain['DomainName'], 'Domain': domain['DomainName'],
                                  'RegionId': https.get('CertRegion'), 'DefaultResource': 1})
                    break
        return users

    def cas_UploadUserCertificate(self, params, region):
        self._req(params, 'Name', 'Cert', 'Key')
        cert = self._register(params['Cert'], params['Key'], params['Name'])
        return {'CertId': cert['Id'], 'ResourceId': 'cas-upload-%d' % cert['Id']}

    def cas_ListUserCertificateOrder(self, params, region):
        order_type = params.get('OrderType') or 'CERT'
        if order_type not in ('CPACK', 'BUY', 'UPLOAD', 'CERT'):
            raise ApiError(400, 'InvalidParameter', 'The specified parameter OrderType is not valid.')
        page = int(params.get('CurrentPage') or 1)
        size = int(params.get('ShowSize') or 50)
        if page < 1 or size < 1 or size > 100:
            raise ApiError(400, 'InvalidParameter', 'The specified parameter CurrentPage or ShowSize is not valid.')
        certs = sorted(self.certs.values(), key=lambda c: c['Id']) if order_type in ('UPLOAD', 'CERT') else []
        keyword = params.get('Keyword')
        if keyword:
            certs = [c for c in certs if keyword in c['Name'] or keyword in c['Sans'] or keyword in c['Common']]
        chunk = certs[(page - 1) * size:page * size]
        today = _now().strftime('%Y-%m-%d')
        out = [{'CertificateId': c['Id'], 'Name': c['Name'], 'CommonName': c['Common'], 'Sans': c['Sans'],
                'Fingerprint': c['Fingerprint'], 'Sha2': c['Sha2'], 'Issuer': c['Issuer'], 'SerialNo': c['SerialNo'],
                'StartDate': c['StartDate'], 'EndDate': c['EndDate'], 'CertStartTime': c['NotBefore'],
                'CertEndTime': c['NotAfter'], 'Expired': c['EndDate'] < today, 'Upload': True,
                'Algorithm': c['Algorithm'], 'ResourceGroupId': c['ResourceGroupId']} for c in chunk]
        return {'CertificateOrderList': out, 'TotalCount': len(certs), 'CurrentPage': page, 'ShowSize': size}

    def cas_GetUserCertificateDetail(self, params, region):
        self._req(params, 'CertId')
        cert = self._cert(params['CertId'])
        body = self._public(cert)
        body['Expired'] = cert['EndDate'] < _now().strftime('%Y-%m-%d')
        body['BuyInAliyun'] = False
        if not _bool(params.get('CertFilter')):
            body['Cert'] = cert['_cert']
            body['Key'] = cert['_key']
        return body

    def cas_DeleteUserCertificate(self, params, region):
        self._req(params, 'CertId')
        cert = self._cert(params['CertId'])
        if self._users(cert['Id']):
            raise ApiError(400, E_CAS_IN_USE, 'The certificate is being used by cloud resources and cannot be deleted.')
        del self.certs[str(cert['Id'])]
        return {}

    def cas_ListCloudResources(self, params, region):
        ids = params.get('CertIds')
        wanted = None
        if ids:
            try:
                wanted = set(str(i) for i in json.loads(ids))
            except ValueError:
                wanted = set(i.strip() for i in ids.split(','))
        page = int(params.get('CurrentPage') or 1)
        size = int(params.get('ShowSize') or 50)
        rows = []
        for cid in sorted(self.certs, key=int):
            if wanted is not None and cid not in wanted:
                continue
            for user in self._users(cid):
                rows.append(dict(user, CertId=int(cid), CertName=self.certs[cid]['Name'], CloudName='aliyun',
                                 EnableHttps=1, Status='Running'))
        return {'Data': rows[(page - 1) * size:page * size], 'Total': len(rows), 'CurrentPage': page, 'ShowSize': size}

    # ------------------------------------------------------------ ALB
    def _status(self, item):
        return 'Configuring' if time.time() < item['busy_until'] else 'Running'

    @staticmethod
    def _assoc_status(item, since):
        return 'Associating' if time.time() < since else 'Associated'

    def _cas_id(self, alb_cert_id):
        """ALB names a CAS certificate ``<CertId>-<region>``; the bare CertId is taken too."""
        head = str(alb_cert_id).split('-', 1)[0]
        if not head.isdigit() or head not in self.certs:
            raise ApiError(404, E_ALB_CERT_NOT_FOUND, 'The specified resource %s is not found.' % alb_cert_id)
        return head

    def _alb_cert_id(self, cert_id, region):
        return '%s-%s' % (self._cas_id(cert_id), region)

    def _listener(self, params, region, for_change=False):
        self._req(params, 'ListenerId')
        item = self.listeners.get(params['ListenerId'])
        if item is None or item['RegionId'] != region:
            raise ApiError(404, E_LISTENER_NOT_FOUND, 'The specified resource %s is not found.' % params['ListenerId'])
        if for_change:
            if item['ListenerProtocol'] not in ('HTTPS', 'QUIC'):
                raise ApiError(400, 'OperationDenied.NotHttpsListener',
                               'The operation is not allowed because the listener %s is not an HTTPS listener.' % item['ListenerId'])
            if self._status(item) != 'Running':
                raise ApiError(400, E_LISTENER_BUSY, 'The status of %s [%s] is incorrect.'
                               % (item['ListenerId'], self._status(item)))
        return item

    def _changed(self, item):
        item['busy_until'] = time.time() + self.configuring_seconds
        return {'JobId': uuid.uuid4().hex[:24]}

    def alb_GetListenerAttribute(self, params, region):
        item = self._listener(params, region)
        body = dict((k, v) for k, v in item.items() if k not in ('default', 'additional', 'busy_until'))
        body['ListenerStatus'] = self._status(item)
        body['Certificates'] = [{'CertificateId': item['default']}] if item['default'] else []
        return body

    def alb_UpdateListenerAttribute(self, params, region):
        item = self._listener(params, region, for_change=True)
        certs = _indexed(params, 'Certificates', 'CertificateId')
        resolved = [self._alb_cert_id(c, region) for c in certs]
        if len(resolved) > 1:
            raise ApiError(400, 'ResourceQuotaExceeded.DefaultCertificate', 'A listener has one default certificate.')
        self._dry_run(params)
        if resolved:
            item['default'] = resolved[0]
        for key in ('ListenerDescription', 'SecurityPolicyId'):
            if key in params:
                item[key] = params[key]
        return self._changed(item)

    def alb_AssociateAdditionalCertificatesWithListener(self, params, region):
        item = self._listener(params, region, for_change=True)
        certs = [self._alb_cert_id(c, region) for c in _indexed(params, 'Certificates', 'CertificateId')]
        if not certs:
            raise ApiError(400, 'MissingParameter', 'The input parameter "Certificates" that is mandatory for processing '
                                                    'this request is not supplied.')
        self._dry_run(params)
        until = time.time() + self.configuring_seconds
        for cid in certs:
            item['additional'][cid] = until
        return self._changed(item)

    def alb_DissociateAdditionalCertificatesFromListener(self, params, region):
        item = self._listener(params, region, for_change=True)
        certs = _indexed(params, 'Certificates', 'CertificateId')
        resolved = []
        for cid in certs:
            full = cid if '-' in str(cid) else '%s-%s' % (cid, region)
            if full not in item['additional']:
                raise ApiError(404, E_ALB_CERT_NOT_FOUND, 'The specified resource %s is not found.' % cid)
            resolved.append(full)
        if not resolved:
            raise ApiError(400, 'MissingParameter', 'The input parameter "Certificates" that is mandatory for processing '
                                                    'this request is not supplied.')
        self._dry_run(params)
        for full in resolved:
            del item['additional'][full]
        return self._changed(item)

    def alb_ListListenerCertificates(self, params, region):
        item = self._listener(params, region)
        ctype = params.get('CertificateType')
        rows = []
        if item['default']:
            rows.append({'CertificateId': item['default'], 'IsDefault': True, 'Status': 'Associated',
                         'CertificateType': 'Server'})
        for cid in sorted(item['additional']):
            rows.append({'CertificateId': cid, 'IsDefault': False, 'Status': self._assoc_status(item, item['additional'][cid]),
                         'CertificateType': 'Server'})
        if ctype and ctype != 'Server':
            rows = []
        wanted = [v for k, v in params.items() if re.match(r'^CertificateIds\.\d+$', k)]
        if wanted:
            rows = [r for r in rows if r['CertificateId'] in wanted or r['CertificateId'].split('-', 1)[0] in wanted]
        size = int(params.get('MaxResults') or 20)
        if size < 1 or size > 100:
            raise ApiError(400, 'InvalidParameter', 'The specified parameter MaxResults is not valid.')
        start = int(params.get('NextToken') or 0)
        chunk = rows[start:start + size]
        nxt = str(start + size) if start + size < len(rows) else ''
        return {'Certificates': chunk, 'TotalCount': len(rows), 'MaxResults': size, 'NextToken': nxt}

    # ------------------------------------------------------------ CDN
    def _cdn_cas(self, cert_id, region, name=None):
        text = str(cert_id).strip()
        if not text.isdigit() or text not in self.certs:
            raise ApiError(400, E_CDN_CAS_NOT_FOUND, 'The certificate %s does not exist in the Certificate Management '
                                                     'Service.' % text)
        if region not in CDN_CAS_REGIONS:
            raise ApiError(400, 'InvalidParameter', 'The specified parameter CertRegion is not valid.')
        cert = self.certs[text]
        return {'SSLProtocol': 'on', 'CertType': 'cas', 'CertId': text, 'CertRegion': region,
                'CertName': name or cert['Name'], '_pub': cert['_cert'], 'CertUpdateTime': _iso(_now())}

    def _cdn_upload(self, cert_pem, key_pem, name=None):
        blocks, leaf, dummy = self._load_pair(
            cert_pem, key_pem, (400, 'InvalidSSLPub', 'The specified SSLPub is invalid.'),
            (400, 'InvalidSSLPri', 'The specified SSLPri is invalid.'),
            (400, 'InvalidSSLPri', 'The specified SSLPri does not match the SSLPub.'))
        info = self._describe_leaf(leaf)
        return {'SSLProtocol': 'on', 'CertType': 'upload', 'CertId': '', 'CertRegion': '',
                'CertName': name or '%s-%s' % (info['Common'] or 'cert', info['Sha2'][:8].lower()),
                '_pub': '\n'.join(blocks) + '\n', '_pri': key_pem, 'CertUpdateTime': _iso(_now())}

    def _shown(self, domain):
        """What the domain serves: while configuring, still the previous certificate."""
        if domain.get('shown') is not None and time.time() < domain['busy_until']:
            return domain['shown']
        return domain['https']

    def _served_sha256(self, domain):
        https = self._shown(domain)
        if https.get('SSLProtocol') != 'on' or not https.get('_pub'):
            return None
        return x509.load_pem_x509_certificate(https['_pub'].encode()).fingerprint(hashes.SHA256()).hex()

    def _domain_status(self, domain):
        if domain['DomainStatus'] == 'online' and time.time() < domain['busy_until']:
            return 'configuring'
        return domain['DomainStatus']

    def _domain(self, params):
        self._req(params, 'DomainName')
        domain = self.domains.get(params['DomainName'].strip().lower())
        if domain is None:
            raise ApiError(404, E_CDN_DOMAIN_NOT_FOUND, 'The domain provided does not belong to you.')
        return domain

    def cdn_DescribeDomainCertificateInfo(self, params, region):
        domain = self._domain(params)
        https = self._shown(domain)
        entry = {'DomainName': domain['DomainName'], 'ServerCertificateStatus': https.get('SSLProtocol', 'off'),
                 'DomainCnameStatus': 'online'}
        if https.get('_pub'):
            leaf = x509.load_pem_x509_certificate(https['_pub'].encode())
            info = self._describe_leaf(leaf)
            entry.update({'CertType': https['CertType'], 'CertId': https['CertId'], 'CertRegion': https['CertRegion'],
                          'CertName': https['CertName'], 'ServerCertificate': https['_pub'],
                          'CertDomainName': info['Common'], 'CertOrg': info['Issuer'], 'CertLife': '3 months',
                          'CertStartTime': info['StartTime'], 'CertExpireTime': info['EndTime'],
                          'CertUpdateTime': https['CertUpdateTime'], 'Status': 'success'})
        return {'CertInfos': {'CertInfo': [entry]}}

    def cdn_SetCdnDomainSSLCertificate(self, params, region):
        domain = self._domain(params)
        protocol = params.get('SSLProtocol')
        if protocol in (None, ''):
            raise ApiError(400, 'MissingParameter', 'The input parameter "SSLProtocol" that is mandatory for processing '
                                                    'this request is not supplied.')
        if protocol not in ('on', 'off'):
            raise ApiError(400, 'InvalidSSLProtocol.ValueNotSupported', 'The specified SSLProtocol is invalid.')
        if protocol == 'off':
            new = dict(domain['https'], SSLProtocol='off', CertUpdateTime=_iso(_now()))
        else:
            cert_type = params.get('CertType') or ('cas' if params.get('CertId') else 'upload')
            if cert_type == 'cas':
                self._req(params, 'CertId')
                new = self._cdn_cas(params['CertId'], params.get('CertRegion') or 'cn-hangzhou', params.get('CertName'))
            elif cert_type == 'upload':
                if not params.get('SSLPub'):
                    raise ApiError(400, 'SSLPub.MissingParameter', 'The SSLPub parameter is required.')
                if not params.get('SSLPri'):
                    raise ApiError(400, 'SSLPri.MissingParameter', 'The SSLPri parameter is required.')
                new = self._cdn_upload(params['SSLPub'], params['SSLPri'], params.get('CertName'))
            else:
                raise ApiError(400, 'InvalidParameter', 'The specified parameter CertType is not valid.')
        domain['shown'] = self._shown(domain)
        domain['https'] = new
        domain['busy_until'] = time.time() + self.configuring_seconds
        return {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'FakeAlicloud/1.0'

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body):
        data = json.dumps(body).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json;charset=utf-8')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        if length > MAX_BODY:
            raise ValueError('body too large')
        return self.rfile.read(length) if length else b''

    def do_GET(self):
        self._dispatch('GET')

    def do_POST(self):
        self._dispatch('POST')

    def _dispatch(self, method):
        parts = urlsplit(self.path)
        raw = self._body()
        if parts.path.startswith('/_fake/'):
            return self._admin(method, parts.path[len('/_fake/'):], raw)
        headers = dict((k.lower(), v) for k, v in self.headers.items())
        query = parse_qsl(parts.query, keep_blank_values=True)
        status, body = self.server.fake.handle(method, parts.path or '/', query, headers, raw)
        self._send(status, body)

    def _admin(self, method, name, raw):
        fake = self.server.fake
        try:
            data = json.loads(raw.decode('utf-8')) if raw else {}
        except ValueError:
            return self._send(400, {'error': 'bad json'})
        if method == 'GET' and name == 'state':
            return self._send(200, fake.state())
        if method == 'GET' and name == 'calls':
            with fake.lock:
                return self._send(200, {'calls': list(fake.calls)})
        if method == 'POST' and name == 'seed':
            try:
                return self._send(200, fake.seed(data))
            except ApiError as exc:
                return self._send(400, {'error': exc.message, 'code': exc.code})
        if method == 'POST' and name == 'faults':
            with fake.lock:
                for key in ('throttle_next', 'unavailable_next', 'actions'):
                    if key in data:
                        fake.faults[key] = data[key]
                if 'configuring_seconds' in data:
                    fake.configuring_seconds = float(data['configuring_seconds'])
                return self._send(200, dict(fake.faults, configuring_seconds=fake.configuring_seconds))
        if method == 'POST' and name == 'reset':
            fake.reset(keep_access_keys=data.get('keep_access_keys', True))
            return self._send(200, {'ok': True})
        if method == 'POST' and name == 'access_keys':
            fake.seed({'access_keys': [data]})
            return self._send(200, {'ok': True})
        if method == 'POST' and name == 'clear_calls':
            with fake.lock:
                fake.calls = []
            return self._send(200, {'ok': True})
        return self._send(404, {'error': 'unknown admin endpoint %s %s' % (method, name)})


def make_server(listen='127.0.0.1:0', access_keys=None, region='cn-hangzhou', state_file=None, tls_cert=None,
                tls_key=None, configuring_seconds=0.6):
    host, port = listen.rsplit(':', 1)
    fake = FakeAlicloud(region=region, state_file=state_file, configuring_seconds=configuring_seconds)
    for ak, secret in (access_keys or {}).items():
        fake.access_keys[ak] = {'secret': secret, 'token': None}
    httpd = ThreadingHTTPServer((host, int(port)), Handler)
    httpd.daemon_threads = True
    httpd.fake = fake
    if tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_cert, tls_key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    return httpd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--listen', default='127.0.0.1:18100')
    parser.add_argument('--access-key', action='append', default=[], help='ID:SECRET (repeatable)')
    parser.add_argument('--region', default='cn-hangzhou')
    parser.add_argument('--state', help='JSON file to persist state in')
    parser.add_argument('--tls-cert')
    parser.add_argument('--tls-key')
    parser.add_argument('--configuring-seconds', type=float, default=0.6)
    parser.add_argument('--ready-file', help='write {"port": N} here once listening')
    args = parser.parse_args(argv)
    keys = dict(item.split(':', 1) for item in args.access_key)
    httpd = make_server(args.listen, keys, args.region, args.state, args.tls_cert, args.tls_key, args.configuring_seconds)
    port = httpd.server_address[1]
    if args.ready_file:
        with open(args.ready_file + '.tmp', 'w') as handle:
            json.dump({'port': port, 'pid': os.getpid()}, handle)
        os.replace(args.ready_file + '.tmp', args.ready_file)
    sys.stdout.write('fake alicloud CAS+ALB api listening on %s:%d\n' % (httpd.server_address[0], port))
    sys.stdout.flush()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()

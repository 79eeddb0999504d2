#!/usr/bin/env python
"""Fake Alibaba Cloud SLB (CLB) API, version 2014-05-15 -- a TEST DOUBLE.

It speaks the real RPC wire format (signature v1.0 verified exactly, JSON bodies,
``{"Plural": {"Singular": [...]}}`` lists, real error bodies and codes) for the
certificate-related actions, and for every HTTPS listener it actually serves TLS
on a loopback port with the bound certificate (SNI domain extensions included).

Admin endpoints (not part of the API, for tests) live under ``/_fake/``:
``GET state``, ``GET calls``, ``POST seed``, ``POST faults``, ``POST reset``, ``POST access_keys``.

Run standalone::

    python tests/fakes/slb_api/server.py --listen 127.0.0.1:18080 --tls-port-range 18443-18542 \
        --access-key testid:testsecret --state /tmp/slb.json
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import random
import re
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID, ExtensionOID

API_VERSION = '2014-05-15'
HOST_ID = 'slb.aliyuncs.com'
NAME_RE = re.compile(r'^[A-Za-z\u4e00-\u9fa5][A-Za-z0-9\u4e00-\u9fa5._-]{0,79}$')
COMMON = ('Action', 'Format', 'Version', 'AccessKeyId', 'SignatureMethod', 'SignatureVersion',
          'SignatureNonce', 'Timestamp', 'Signature', 'SecurityToken')
SECRET_PARAMS = ('PrivateKey',)


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def pe(value):
    return quote(str(value).encode('utf-8'), safe=b'~')


def server_string_to_sign(method, params):
    query = '&'.join('%s=%s' % (pe(k), pe(v)) for k, v in sorted(params.items()) if k != 'Signature')
    return '%s&%s&%s' % (method, pe('/'), pe(query))


def calc_signature(secret, sts):
    return base64.b64encode(hmac.new((secret + '&').encode(), sts.encode(), hashlib.sha1).digest()).decode()


def _utc(dt):
    return dt.strftime('%Y-%m-%dT%H:%M:%SZ')


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _wrap(plural, singular, items):
    return {plural: {singular: items}}


class FakeSlb:
    """In-memory state; every public method holds the lock."""

    def __init__(self, region='cn-hangzhou', tls_host='127.0.0.1', tls_ports=(18443, 18542),
                 state_file=None, workdir=None, account='1231579085529123'):
        self.lock = threading.RLock()
        self.default_region = region
        self.tls_host = tls_host
        self.tls_ports = list(range(tls_ports[0], tls_ports[1] + 1))
        self.state_file = state_file
        self.account = account
        self.workdir = workdir or tempfile.mkdtemp(prefix='fake-slb-')
        os.makedirs(self.workdir, mode=0o700, exist_ok=True)
        os.chmod(self.workdir, 0o700)
        self.access_keys = {}
        self.nonces = {}
        self.certs = {}
        self.lbs = {}
        self.exts = {}
        self.calls = []
        self.call_count = 0
        self.faults = {'throttle_next': 0, 'unavailable_next': 0, 'delay': 0.0, 'actions': None, 'retry_after': None}
        self.servers = {}
        self._load()

    # ------------------------------------------------------------ persistence
    def _dump(self):
        return {
            'access_keys': self.access_keys,
            'certs': self.certs,
            'lbs': self.lbs,
            'exts': self.exts,
        }

    def save(self):
        if not self.state_file:
            return
        tmp = self.state_file + '.tmp'
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump(self._dump(), handle)
        os.replace(tmp, self.state_file)

    def _load(self):
        if not self.state_file or not os.path.exists(self.state_file):
            return
        with open(self.state_file) as handle:
            data = json.load(handle)
        self.access_keys.update(data.get('access_keys', {}))
        self.certs.update(data.get('certs', {}))
        self.exts.update(data.get('exts', {}))
        for lb_id, lb in data.get('lbs', {}).items():
            lb['listeners'] = dict((str(p), v) for p, v in lb.get('listeners', {}).items())
            self.lbs[lb_id] = lb
        for lb in self.lbs.values():
            for listener in lb['listeners'].values():
                if listener['ListenerProtocol'] == 'https':
                    self._serve(lb['LoadBalancerId'], listener)

    # ------------------------------------------------------------ certificates
    def _register_cert(self, cert_pem, key_pem, name, region, resource_group=None, tags=None):
        blocks = re.findall(r'-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----', cert_pem, re.S)
        if not blocks:
            raise ApiError(400, 'InvalidParameter.ServerCertificate', 'The specified ServerCertificate is not valid.')
        if re.search(r'\n\s*\n', cert_pem.strip()):
            raise ApiError(400, 'InvalidParameter.ServerCertificate',
                           'The specified ServerCertificate is not valid: blank lines are not allowed.')
        try:
            chain = [x509.load_pem_x509_certificate(b.encode()) for b in blocks]
        except ValueError:
            raise ApiError(400, 'InvalidParameter.ServerCertificate', 'The specified ServerCertificate is not valid.')
        if '-----BEGIN RSA PRIVATE KEY-----' not in key_pem:
            raise ApiError(400, 'InvalidParameter.PrivateKey',
                           'The specified PrivateKey is not valid. Only RSA PKCS#1 private keys are supported.')
        try:
            key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        except (ValueError, TypeError):
            raise ApiError(400, 'InvalidParameter.PrivateKey', 'The specified PrivateKey is not valid.')
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ApiError(400, 'InvalidParameter.PrivateKey', 'The specified PrivateKey is not valid.')
        leaf = chain[0]
        if leaf.public_key().public_numbers() != key.public_key().public_numbers():
            raise ApiError(400, 'CertificateAndPrivateKeyIsNotMatch', 'The certificate and private key do not match.')
        for child, parent in zip(chain, chain[1:]):
            try:
                child.verify_directly_issued_by(parent)
            except Exception:
                raise ApiError(400, 'InvalidParameter.ServerCertificate',
                               'The specified ServerCertificate is not valid: the certificate chain is out of order.')
        if name and not NAME_RE.match(name):
            raise ApiError(400, 'InvalidParameter', 'The specified parameter ServerCertificateName is not valid.')
        now = _now()
        expires = getattr(leaf, 'not_valid_after_utc', None) or leaf.not_valid_after.replace(tzinfo=datetime.timezone.utc)
        cn = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        try:
            sans = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            sans = []
        cert_id = '%s_%x_%d_%d' % (self.account, int(now.timestamp() * 1000), random.randint(10 ** 9, 2 * 10 ** 9),
                                   random.randint(10 ** 8, 10 ** 9))
        self.certs[cert_id] = {
            'ServerCertificateId': cert_id,
            'ServerCertificateName': name or '',
            'Fingerprint': ':'.join('%02x' % b for b in leaf.fingerprint(hashes.SHA1())),
            'RegionId': region,
            'CreateTime': _utc(now),
            'CreateTimeStamp': int(now.timestamp() * 1000),
            'ExpireTime': _utc(expires),
            'ExpireTimeStamp': int(expires.timestamp() * 1000),
            'CommonName': cn[0].value if cn else '',
            'SubjectAlternativeNames': {'SubjectAlternativeName': sans},
            'IsAliCloudCertificate': 0,
            'AliCloudCertificateId': '',
            'AliCloudCertificateName': '',
            'ResourceGroupId': resource_group or 'rg-acfmdefault000',
            'Tags': {'Tag': [{'TagKey': k, 'TagValue': v} for k, v in (tags or [])]},
            '_cert_pem': '\n'.join(blocks) + '\n',
            '_key_pem': key_pem,
        }
        return self.certs[cert_id]

    def _public_cert(self, cert):
        return dict((k, v) for k, v in cert.items() if not k.startswith('_'))

    def _cert_files(self, cert_id):
        cert = self.certs[cert_id]
        path = os.path.join(self.workdir, 'cert-%s.pem' % hashlib.sha1(cert_id.encode()).hexdigest())
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, 'w') as handle:
                handle.write(cert['_key_pem'] + cert['_cert_pem'])
        return path

    # ------------------------------------------------------------ TLS serving
    def _context_for(self, cert_id):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self._cert_files(cert_id))
        return ctx

    def _pick_cert(self, lb_id, port, server_name):
        with self.lock:
            listener = self.lbs.get(lb_id, {}).get('listeners', {}).get(str(port))
            if listener is None:
                return None
            if server_name:
                name = server_name.lower()
                exts = [e for e in self.exts.values() if e['LoadBalancerId'] == lb_id and e['ListenerPort'] == int(port)]
                for ext in exts:  # exact match first, then wildcard
                    if ext['Domain'].lower() == name:
                        return ext['ServerCertificateId']
                for ext in exts:
                    dom = ext['Domain'].lower()
                    if dom.startswith('*.') and name.endswith(dom[1:]) and name.count('.') == dom.count('.'):
                        return ext['ServerCertificateId']
            return listener.get('ServerCertificateId')

    def _serve(self, lb_id, listener):
        key = (lb_id, str(listener['ListenerPort']))
        if key in self.servers:
            return
        port = listener.get('_serving_port')
        used = set(s.port for s in self.servers.values())
        candidates = ([port] if port else []) + [p for p in self.tls_ports if p not in used]
        for candidate in candidates:
            try:
                server = TlsListener(self, lb_id, listener['ListenerPort'], self.tls_host, candidate)
            except OSError:
                continue
            listener['_serving_port'] = candidate
            self.servers[key] = server
            return
        raise ApiError(503, 'ServiceUnavailable', 'No free TLS port in the fake range.')

    def shutdown(self):
        for server in list(self.servers.values()):
            server.close()
        self.servers.clear()

    # ------------------------------------------------------------ admin
    def seed(self, data):
        created = []
        with self.lock:
            for entry in data.get('access_keys', []):
                self.access_keys[entry['AccessKeyId']] = {'secret': entry['AccessKeySecret'],
                                                          'token': entry.get('SecurityToken')}
            for spec in data.get('load_balancers', []):
                region = spec.get('RegionId', self.default_region)
                lb_id = spec.get('LoadBalancerId') or 'lb-%s' % uuid.uuid4().hex[:20]
                lb = self.lbs.setdefault(lb_id, {
                    'LoadBalancerId': lb_id, 'LoadBalancerName': spec.get('LoadBalancerName', lb_id),
                    'RegionId': region, 'Address': spec.get('Address', '47.100.%d.%d' % (random.randint(0, 255), random.randint(1, 254))),
                    'AddressType': 'internet', 'NetworkType': 'classic', 'LoadBalancerStatus': 'active',
                    'LoadBalancerSpec': 'slb.s2.small', 'CreateTime': _utc(_now()), 'ResourceGroupId': 'rg-acfmdefault000',
                    'listeners': {}})
                for lspec in spec.get('listeners', []):
                    port = int(lspec['ListenerPort'])
                    proto = lspec.get('ListenerProtocol', 'https')
                    listener = {'ListenerPort': port, 'ListenerProtocol': proto,
                                'BackendServerPort': lspec.get('BackendServerPort', 80), 'Bandwidth': -1,
                                'Status': 'running', 'Scheduler': 'wrr', 'StickySession': 'off',
                                'HealthCheck': 'on', 'HealthCheckURI': '/', 'XForwardedFor': 'on',
                                'TLSCipherPolicy': 'tls_cipher_policy_1_0', 'EnableHttp2': 'on',
                                'RequestTimeout': 60, 'IdleTimeout': 15, 'Description': lspec.get('Description', ''),
                                'Gzip': 'on'}
                    if proto == 'https':
                        cert_id = lspec.get('ServerCertificateId')
                        if not cert_id:
                            name = 'seed-%s-%d' % (lb['LoadBalancerName'], port)
                            pem_cert, pem_key = _self_signed(lspec.get('CommonName', '%s.seed.example.test' % lb['LoadBalancerName']))
                            cert_id = self._register_cert(pem_cert, pem_key, re.sub(r'[^A-Za-z0-9._-]', '-', name),
                                                          region)['ServerCertificateId']
                        listener['ServerCertificateId'] = cert_id
                    lb['listeners'][str(port)] = listener
                    if proto == 'https':
                        self._serve(lb_id, listener)
                created.append(lb_id)
            self.save()
        return {'load_balancers': created}

    def state(self):
        with self.lock:
            lbs = []
            for lb in self.lbs.values():
                item = dict((k, v) for k, v in lb.items() if k != 'listeners')
                item['listeners'] = []
                for listener in lb['listeners'].values():
                    out = dict((k, v) for k, v in listener.items() if not k.startswith('_'))
                    out['serving_port'] = listener.get('_serving_port')
                    out['serving_host'] = self.tls_host if listener.get('_serving_port') else None
                    item['listeners'].append(out)
                lbs.append(item)
            return {'load_balancers': lbs,
                    'server_certificates': [self._public_cert(c) for c in self.certs.values()],
                    'domain_extensions': list(self.exts.values()),
                    'call_count': self.call_count,
                    'faults': self.faults}

    def reset(self, keep_access_keys=True):
        with self.lock:
            self.shutdown()
            self.certs.clear()
            self.lbs.clear()
            self.exts.clear()
            self.calls = []
            self.nonces.clear()
            self.faults.update({'throttle_next': 0, 'unavailable_next': 0, 'delay': 0.0, 'actions': None,
                                'retry_after': None})
            if not keep_access_keys:
                self.access_keys.clear()
            self.save()

    # ------------------------------------------------------------ API
    def authenticate(self, method, params):
        for name in ('AccessKeyId', 'Signature', 'SignatureNonce', 'Timestamp', 'SignatureMethod', 'Action', 'Version'):
            if not params.get(name):
                raise ApiError(400, 'MissingParameter',
                               'The input parameter "%s" that is mandatory for processing this request is not supplied.' % name)
        if params['Version'] != API_VERSION:
            raise ApiError(400, 'InvalidVersion', 'Specified parameter Version is not valid.')
        if params['SignatureMethod'] != 'HMAC-SHA1' or params.get('SignatureVersion') != '1.0':
            raise ApiError(400, 'InvalidSignatureMethod', 'Specified signature method is not valid.')
        entry = self.access_keys.get(params['AccessKeyId'])
        if entry is None:
            raise ApiError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.')
        sts = server_string_to_sign(method, params)
        if not hmac.compare_digest(calc_signature(entry['secret'], sts), params['Signature']):
            raise ApiError(400, 'SignatureDoesNotMatch',
                           'Specified signature is not matched with our calculation. server string to sign is:%s' % sts)
        try:
            stamp = datetime.datetime.strptime(params['Timestamp'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise ApiError(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date header is not valid.')
        if abs((_now() - stamp).total_seconds()) > 15 * 60:
            raise ApiError(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date header is expired.')
        cutoff = time.time() - 30 * 60
        for nonce in [n for n, t in self.nonces.items() if t < cutoff]:
            del self.nonces[nonce]
        if params['SignatureNonce'] in self.nonces:
            raise ApiError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.')
        self.nonces[params['SignatureNonce']] = time.time()
        if entry.get('token') and params.get('SecurityToken') != entry['token']:
            raise ApiError(400, 'InvalidSecurityToken.Mismatch', 'Specified SecurityToken mismatch with the AccessKey.')
        if params.get('SecurityToken') and not entry.get('token'):
            raise ApiError(400, 'InvalidSecurityToken.Malformed', 'Specified SecurityToken is malformed.')

    def handle(self, method, params):
        """Return (status, body dict, extra headers)."""
        request_id = str(uuid.uuid4()).upper()
        headers = {}
        delay = 0.0
        try:
            with self.lock:
                self.authenticate(method, params)
                self.call_count += 1
                action = params['Action']
                self.calls.append({'Action': action, 'n': self.call_count,
                                   'params': dict((k, ('<redacted>' if k in SECRET_PARAMS else v))
                                                  for k, v in params.items() if k not in COMMON)})
                faults = self.faults
                applies = not faults['actions'] or action in faults['actions']
                if applies and faults['delay']:
                    delay = float(faults['delay'])
                if applies and faults['throttle_next'] > 0:
                    faults['throttle_next'] -= 1
                    if faults['retry_after'] is not None:
                        headers['Retry-After'] = str(faults['retry_after'])
                    raise ApiError(400, 'Throttling.User', 'Request was denied due to user flow control.')
                if applies and faults['unavailable_next'] > 0:
                    faults['unavailable_next'] -= 1
                    raise ApiError(503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.')
                handler = getattr(self, 'a_' + action, None)
                if handler is None:
                    raise ApiError(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.')
                region = params.get('RegionId')
                if not region:
                    raise ApiError(400, 'MissingRegionId', 'RegionId is mandatory for this action.')
                body = handler(params, region)
                self.save()
            body['RequestId'] = request_id
            status = 200
        except ApiError as exc:
            status = exc.status
            body = {'RequestId': request_id, 'HostId': HOST_ID, 'Code': exc.code, 'Message': exc.message,
                    'Recommend': 'https://api.aliyun.com/troubleshoot?q=%s&product=Slb' % exc.code}
        if delay:
            time.sleep(delay)
        return status, body, headers

    # helpers
    @staticmethod
    def _req(params, *names):
        for name in names:
            if params.get(name) in (None, ''):
                raise ApiError(400, 'MissingParameter',
                               'The input parameter "%s" that is mandatory for processing this request is not supplied.' % name)

    def _lb(self, lb_id, region):
        lb = self.lbs.get(lb_id)
        if lb is None or lb['RegionId'] != region:
            raise ApiError(404, 'InvalidLoadBalancerId.NotFound', 'The specified LoadBalancerId does not exist.')
        return lb

    def _listener(self, params, region, proto='https'):
        self._req(params, 'LoadBalancerId', 'ListenerPort')
        lb = self._lb(params['LoadBalancerId'], region)
        listener = lb['listeners'].get(str(int(params['ListenerPort'])))
        if listener is None or listener['ListenerProtocol'] != proto:
            raise ApiError(400, 'InvalidParameter', 'The specified listener does not exist.')
        return lb, listener

    def _cert(self, cert_id, region, code='ServerCertificateId.NotFound', status=404):
        cert = self.certs.get(cert_id)
        if cert is None or cert['RegionId'] != region:
            raise ApiError(status, code, 'The specified ServerCertificateId does not exist.')
        return cert

    # actions
    def a_DescribeServerCertificates(self, params, region):
        certs = [c for c in self.certs.values() if c['RegionId'] == region]
        if params.get('ServerCertificateId'):
            certs = [c for c in certs if c['ServerCertificateId'] == params['ServerCertificateId']]
        if params.get('ResourceGroupId'):
            certs = [c for c in certs if c['ResourceGroupId'] == params['ResourceGroupId']]
        return _wrap('ServerCertificates', 'ServerCertificate', [self._public_cert(c) for c in certs])

    def a_UploadServerCertificate(self, params, region):
        self._req(params, 'ServerCertificate', 'PrivateKey')
        tags = []
        index = 1
        while params.get('Tag.%d.Key' % index):
            tags.append((params['Tag.%d.Key' % index], params.get('Tag.%d.Value' % index, '')))
            index += 1
        cert = self._register_cert(params['ServerCertificate'], params['PrivateKey'],
                                   params.get('ServerCertificateName'), region, params.get('ResourceGroupId'), tags)
        keys = ('ServerCertificateId', 'ServerCertificateName', 'Fingerprint', 'ExpireTime', 'ExpireTimeStamp',
                'CommonName', 'SubjectAlternativeNames', 'RegionId', 'ResourceGroupId', 'CreateTime',
                'CreateTimeStamp', 'AliCloudCertificateId', 'AliCloudCertificateName', 'IsAliCloudCertificate')
        return dict((k, cert[k]) for k in keys)

    def a_DeleteServerCertificate(self, params, region):
        self._req(params, 'ServerCertificateId')
        cert_id = params['ServerCertificateId']
        self._cert(cert_id, region)
        for lb in self.lbs.values():
            for listener in lb['listeners'].values():
                if listener.get('ServerCertificateId') == cert_id:
                    raise ApiError(400, 'CertificateAndPrivateKeyIsRefered',
                                   'The specified certificate is bound to listeners. You cannot delete it.')
        if any(e['ServerCertificateId'] == cert_id for e in self.exts.values()):
            raise ApiError(400, 'CertificateRelatedDomainExtensionExist',
                           'The domainExtension related with this ServerCertificate exists.')
        del self.certs[cert_id]
        return {}

    def a_DescribeLoadBalancers(self, params, region):
        lbs = [lb for lb in self.lbs.values() if lb['RegionId'] == region]
        if params.get('LoadBalancerId'):
            wanted = set(params['LoadBalancerId'].split(','))
            lbs = [lb for lb in lbs if lb['LoadBalancerId'] in wanted]
        if params.get('LoadBalancerName'):
            lbs = [lb for lb in lbs if lb['LoadBalancerName'] == params['LoadBalancerName']]
        lbs.sort(key=lambda lb: lb['LoadBalancerId'])
        page = int(params.get('PageNumber') or 1)
        size = int(params.get('PageSize') or 10)
        if size < 1 or size > 100 or page < 1:
            raise ApiError(400, 'InvalidParameter', 'The specified parameter PageSize or PageNumber is not valid.')
        chunk = lbs[(page - 1) * size:page * size]
        out = [dict((k, v) for k, v in lb.items() if k != 'listeners') for lb in chunk]
        body = _wrap('LoadBalancers', 'LoadBalancer', out)
        body.update({'TotalCount': len(lbs), 'PageNumber': page, 'PageSize': size})
        return body

    def a_DescribeLoadBalancerAttribute(self, params, region):
        self._req(params, 'LoadBalancerId')
        lb = self._lb(params['LoadBalancerId'], region)
        body = dict((k, v) for k, v in lb.items() if k != 'listeners')
        listeners = sorted(lb['listeners'].values(), key=lambda item: item['ListenerPort'])
        body['ListenerPorts'] = {'ListenerPort': [item['ListenerPort'] for item in listeners]}
        pairs = [{'ListenerPort': item['ListenerPort'], 'ListenerProtocol': item['ListenerProtocol']} for item in listeners]
        body['ListenerPortsAndProtocol'] = {'ListenerPortAndProtocol': pairs}
        # The real API also carries the misspelt twin.
        body['ListenerPortsAndProtocal'] = {'ListenerPortAndProtocal': [
            {'ListenerPort': p['ListenerPort'], 'ListenerProtocal': p['ListenerProtocol']} for p in pairs]}
        return body

    def a_DescribeLoadBalancerHTTPSListenerAttribute(self, params, region):
        dummy, listener = self._listener(params, region)
        body = dict((k, v) for k, v in listener.items() if not k.startswith('_') and k != 'ListenerProtocol')
        body['DomainExtensions'] = {'DomainExtension': [
            {'DomainExtensionId': e['DomainExtensionId'], 'Domain': e['Domain'], 'ServerCertificateId': e['ServerCertificateId']}
            for e in self.exts.values()
            if e['LoadBalancerId'] == params['LoadBalancerId'] and e['ListenerPort'] == int(params['ListenerPort'])]}
        return body

    def a_SetLoadBalancerHTTPSListenerAttribute(self, params, region):
        dummy, listener = self._listener(params, region)
        if params.get('ServerCertificateId'):
            self._cert(params['ServerCertificateId'], region)
        for key, value in params.items():
            if key in COMMON or key in ('RegionId', 'LoadBalancerId', 'ListenerPort'):
                continue
            listener[key] = int(value) if key in ('Bandwidth', 'RequestTimeout', 'IdleTimeout', 'BackendServerPort') else value
        return {}

    def a_DescribeDomainExtensions(self, params, region):
        lb, dummy = self._listener(params, region)
        exts = [e for e in self.exts.values()
                if e['LoadBalancerId'] == lb['LoadBalancerId'] and e['ListenerPort'] == int(params['ListenerPort'])]
        if params.get('DomainExtensionId'):
            exts = [e for e in exts if e['DomainExtensionId'] == params['DomainExtensionId']]
        return _wrap('DomainExtensions', 'DomainExtension', [
            {'DomainExtensionId': e['DomainExtensionId'], 'Domain': e['Domain'],
             'ServerCertificateId': e['ServerCertificateId']} for e in exts])

    def a_AddDomainExtension(self, params, region):
        self._req(params, 'Domain', 'ServerCertificateId')
        lb, dummy = self._listener(params, region)
        self._cert(params['ServerCertificateId'], region, 'InvalidParameter.ServerCertificateId', 400)
        port = int(params['ListenerPort'])
        for ext in self.exts.values():
            if ext['LoadBalancerId'] == lb['LoadBalancerId'] and ext['ListenerPort'] == port \
                    and ext['Domain'].lower() == params['Domain'].lower():
                raise ApiError(400, 'DomainExtensionExist', 'The domain extension already exists.')
        ext_id = 'de-%s' % uuid.uuid4().hex[:17]
        self.exts[ext_id] = {'DomainExtensionId': ext_id, 'Domain': params['Domain'], 'LoadBalancerId': lb['LoadBalancerId'],
                             'ListenerPort': port, 'ServerCertificateId': params['ServerCertificateId'], 'RegionId': region}
        return {'ListenerPort': port, 'DomainExtensionId': ext_id}

    def a_SetDomainExtensionAttribute(self, params, region):
        self._req(params, 'DomainExtensionId', 'ServerCertificateId')
        ext = self.exts.get(params['DomainExtensionId'])
        if ext is None or ext['RegionId'] != region:
            raise ApiError(400, 'InvalidParameter.DomainExtensionId', 'The specified DomainExtensionId does not exist.')
        self._cert(params['ServerCertificateId'], region, 'InvalidParameter.ServerCertificateId', 400)
        ext['ServerCertificateId'] = params['ServerCertificateId']
        return {}


def _self_signed(cn):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = _now() - datetime.timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()).decode())


class TlsListener:
    """Serves TLS for one HTTPS listener, choosing the certificate per handshake (default or SNI)."""

    def __init__(self, fake, lb_id, listener_port, host, port):
        self.fake, self.lb_id, self.listener_port, self.port = fake, lb_id, listener_port, port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.listen(32)
        self.sock.settimeout(0.5)
        self.closed = False
        self.thread = threading.Thread(target=self._loop, name='fake-slb-tls-%d' % port, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.closed:
            try:
                conn, dummy = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        conn.settimeout(10)
        holder = {}

        def sni(sslobj, server_name, dummy_ctx):
            cert_id = self.fake._pick_cert(self.lb_id, self.listener_port, server_name)
            if cert_id is None:
                return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
            try:
                sslobj.context = self.fake._context_for(cert_id)
            except Exception:
                return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
            holder['cert'] = cert_id
            return None

        base = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        default = self.fake._pick_cert(self.lb_id, self.listener_port, None)
        if default is None:
            conn.close()
            return
        base.load_cert_chain(self.fake._cert_files(default))
        base.sni_callback = sni
        try:
            with base.wrap_socket(conn, server_side=True) as tls:
                try:
                    tls.recv(4096)
                except (OSError, ssl.SSLError):
                    pass
                body = b'fake slb listener %s:%d\n' % (self.lb_id.encode(), self.listener_port)
                tls.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' % (len(body), body))
        except (OSError, ssl.SSLError):
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes up a pending accept on Linux
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.thread.join(2)


class Handler(BaseHTTPRequestHandler):
    server_version = 'FakeSLB/1.0'
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):  # quiet; tests look at /_fake/calls instead
        if os.environ.get('FAKE_SLB_VERBOSE'):
            sys.stderr.write('fake-slb: ' + (fmt % args) + '\n')

    def _send(self, status, body, headers=None):
        data = json.dumps(body).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json;charset=utf-8')
        self.send_header('Content-Length', str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def do_GET(self):
        self._dispatch('GET')

    def do_POST(self):
        self._dispatch('POST')

    def _dispatch(self, method):
        fake = self.server.fake
        url = urlsplit(self.path)
        raw = self._body()
        if url.path.startswith('/_fake/'):
            return self._admin(method, url.path[len('/_fake/'):], raw)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if method == 'POST' and raw:
            ctype = self.headers.get('Content-Type', '')
            if 'json' not in ctype:
                params.update(parse_qsl(raw.decode('utf-8'), keep_blank_values=True))
        status, body, headers = fake.handle(method, params)
        self._send(status, body, headers)

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
                return self._send(400, {'error': exc.message})
        if method == 'POST' and name == 'faults':
            with fake.lock:
                for key in ('throttle_next', 'unavailable_next', 'delay', 'actions', 'retry_after'):
                    if key in data:
                        fake.faults[key] = data[key]
                return self._send(200, fake.faults)
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


def make_server(listen='127.0.0.1:0', tls_ports=(18443, 18542), access_keys=None, region='cn-hangzhou',
                state_file=None, workdir=None):
    host, port = listen.rsplit(':', 1)
    fake = FakeSlb(region=region, tls_ports=tls_ports, state_file=state_file, workdir=workdir)
    for ak, secret in (access_keys or {}).items():
        fake.access_keys[ak] = {'secret': secret, 'token': None}
    httpd = ThreadingHTTPServer((host, int(port)), Handler)
    httpd.daemon_threads = True
    httpd.fake = fake
    return httpd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--listen', default='127.0.0.1:18080')
    parser.add_argument('--tls-port-range', default='18443-18542')
    parser.add_argument('--access-key', action='append', default=[], help='ID:SECRET (repeatable)')
    parser.add_argument('--region', default='cn-hangzhou')
    parser.add_argument('--state', help='JSON file to persist state in')
    parser.add_argument('--workdir', help='directory for served key files (0700)')
    parser.add_argument('--seed', help='JSON file passed to the seed admin action at start')
    parser.add_argument('--ready-file', help='write {"port": N} here once listening')
    args = parser.parse_args(argv)
    low, high = (int(x) for x in args.tls_port_range.split('-'))
    keys = dict(item.split(':', 1) for item in args.access_key)
    httpd = make_server(args.listen, (low, high), keys, args.region, args.state, args.workdir)
    if args.seed:
        with open(args.seed) as handle:
            httpd.fake.seed(json.load(handle))
    port = httpd.server_address[1]
    if args.ready_file:
        with open(args.ready_file + '.tmp', 'w') as handle:
            json.dump({'port': port, 'pid': os.getpid()}, handle)
        os.replace(args.ready_file + '.tmp', args.ready_file)
    sys.stdout.write('fake slb api listening on http://%s:%d/\n' % (httpd.server_address[0], port))
    sys.stdout.flush()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.fake.shutdown()


if __name__ == '__main__':
    main()

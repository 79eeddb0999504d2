# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A scripted new-order CA on ``fake_acme`` and the helpers the OrderRunner / Finalizer unit tests share."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.order_runner import OrderRunner, normalize_certificates
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey, generate_private_key

UTC = datetime.timezone.utc
KEY = AcmeKey.generate('ec256')
NS = 'urn:ietf:params:acme:error:'
PAST_WINDOW = ('2020-01-01T00:00:00Z', '2020-01-02T00:00:00Z')
FUTURE_WINDOW = ('2099-01-01T00:00:00Z', '2099-01-02T00:00:00Z')


def payload_of(body):
    """The decoded payload of a JWS request body (None for POST-as-GET)."""
    text = body['payload']
    return json.loads(base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))) if text else None


def problem(ptype, detail, status, headers=None, **extra):
    """A problem-document reply ``(status, headers, doc)`` of type ``NS + ptype``."""
    doc = {'type': NS + ptype, 'detail': detail, 'status': status}
    doc.update(extra)
    hdrs = {'Content-Type': 'application/problem+json'}
    hdrs.update(headers or {})
    return status, hdrs, doc


class CA:
    """new-order answers through ``self.refuse(payload)`` -> None (accept) or a (status, headers, doc) reply.

    One pending authorization (``token``), profiles ``classic`` and ``shortlived``, and ARI answering
    ``self.window`` (read at each request).
    """

    def __init__(self, fake, ari_window_passed=True, token='tok_1'):
        self.fake = fake
        self.orders = []       # payloads of every new-order request, accepted or not
        self.accepted = []
        self.refuse = lambda payload: None
        self.window = PAST_WINDOW if ari_window_passed else FUTURE_WINDOW
        fake.directory_extra.update({'renewalInfo': fake.url('/ari'),
                                     'meta': {'profiles': {'classic': 'the default', 'shortlived': '6 days'}}})
        fake.routes['/new-acct'] = lambda f, m, b, p, path: (200, {'Location': f.url('/acct/1')}, {'status': 'valid'})

        def new_order(f, method, body, protected, path):
            payload = payload_of(body)
            self.orders.append(payload)
            refusal = self.refuse(payload)
            if refusal is not None:
                return refusal
            self.accepted.append(payload)
            return 201, {'Location': f.url('/order/%d' % len(self.orders))}, {
                'status': 'pending', 'expires': '2099-01-01T00:00:00Z', 'identifiers': payload['identifiers'],
                'authorizations': [f.url('/authz/1')], 'finalize': f.url('/finalize/1')}
        fake.routes['/new-order'] = new_order
        fake.routes['/authz/*'] = lambda f, m, b, p, path: (200, {}, {
            'status': 'pending', 'identifier': {'type': 'dns', 'value': 'www.example.com'},
            'challenges': [{'type': 'http-01', 'url': f.url('/chall/1'), 'token': token, 'status': 'pending'}]})
        fake.routes['/ari/*'] = lambda f, m, b, p, path: (200, {'Retry-After': '600', 'Replay-Nonce': None}, {
            'suggestedWindow': {'start': self.window[0], 'end': self.window[1]}})

    @staticmethod
    def names_of(payload):
        return [i['value'] for i in payload['identifiers']]


def install_cert(store, name, names=('www.example.com',), days_left=60, lifetime=90):
    """A self-signed certificate for ``names`` (with an AKI, for ARI) as ``<store>/<name>/cert.pem``."""
    key = generate_private_key('ec256')
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(0x1234).not_valid_before(now - datetime.timedelta(days=lifetime - days_left))
            .not_valid_after(now + datetime.timedelta(days=days_left))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier(b'\x01\x02\x03', None, None), critical=False)
            .sign(key, hashes.SHA256()))
    os.makedirs(os.path.join(store, name))
    with open(os.path.join(store, name, 'cert.pem'), 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    return cert


def client(fake, seconds=20):
    """A client of ``fake`` with quick retries: a 5xx is retried twice, 10 ms apart."""
    return AcmeClient(fake.url('/dir'), verify=False, deadline=Deadline(seconds),
                      retry_policy=RetryPolicy(attempts=2, base=0.01, cap=0.01, jitter=0))


def runner(fake, store, seconds=20, **kwargs):
    return OrderRunner(client(fake, seconds), KEY, store, **kwargs)


def specs(*items):
    """normalize_certificates of (name, domains) pairs."""
    return normalize_certificates([{'name': n, 'domains': list(d)} for n, d in items])

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/finalizer.py: Finalizer against scripted servers.

Requests per certificate of OrderRunner + Finalizer against a stateful scripted CA (issue 15 item 1c/2).

The CA keeps order/authorization/challenge state like a real one (the challenge is validated a little after it
is answered, the certificate is issued a little after finalize), issues a real certificate for the CSR, and
answers RFC 8555 problems (orderNotReady, an answer to a challenge that is no longer pending). Every test
counts the signed requests of the per-certificate part (the per-run directory, nonce and account lookup are
counted separately). Per-certificate failures of acme_finalize: failed_certificates entries, rate limits.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import json
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.finalizer import Finalizer
from ansible_collections.certpilot.tls.plugins.module_utils.acme.order_runner import OrderRunner, normalize_certificates
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey, generate_private_key
from ansible_collections.certpilot.tls.plugins.module_utils.acme import rate_limits
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.acme.order_ca import (
    CA as NewOrderCA, KEY as ORDER_KEY, client as quick_client, runner as order_runner, specs as order_specs)

pytestmark = pytest.mark.timeout(60)
UTC = datetime.timezone.utc
NS = 'urn:ietf:params:acme:error:'
KEY = AcmeKey.generate('ec256')


def _b64d(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def _payload(body):
    text = body['payload']
    return json.loads(_b64d(text)) if text else None


def _problem(ptype, detail, status=400):
    doc = {'type': NS + ptype, 'detail': detail, 'status': status}
    return status, {'Content-Type': 'application/problem+json'}, doc


class StatefulCA:
    """One order per new-order call, one authorization per identifier, http-01 only."""

    def __init__(self, fake, validate_after=0.05, issue_after=0.05, valid_authz=False, pending_while_validating=False):
        self.fake = fake
        # pebble shows an answered challenge as 'pending' until it is validated; RFC 8555 says 'processing'
        self.pending_while_validating = pending_while_validating
        self.validate_after = validate_after
        self.issue_after = issue_after
        self.valid_authz = valid_authz   # authorizations already valid at order time (reused by the CA)
        self.lock = threading.Lock()
        self.orders, self.authzs = {}, {}
        self.ca_key = generate_private_key('ec256')
        self.ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'Scripted CA')])
        now = datetime.datetime.now(UTC)
        self.ca_cert = (x509.CertificateBuilder().subject_name(self.ca_name).issuer_name(self.ca_name)
                        .public_key(self.ca_key.public_key()).serial_number(1)
                        .not_valid_before(now - datetime.timedelta(days=1))
                        .not_valid_after(now + datetime.timedelta(days=365)).sign(self.ca_key, hashes.SHA256()))
        self.not_ready_once = set()  # order ids whose first finalize answers orderNotReady
        routes = fake.routes
        routes['/new-acct'] = lambda f, m, b, p, path: (200, {'Location': f.url('/acct/1')}, {'status': 'valid'})
        routes['/new-order'] = self.new_order
        routes['/order/*'] = self.order
        routes['/authz/*'] = self.authz
        routes['/chall/*'] = self.challenge
        routes['/finalize/*'] = self.finalize
        routes['/cert/*'] = self.cert

    # -- state ------------------------------------------------------------------------------------------
    def _authz_status(self, aid):
        authz = self.authzs[aid]
        if authz['status'] == 'pending' and authz['answered'] is not None \
                and time.monotonic() >= authz['answered'] + self.validate_after:
            authz['status'] = 'valid'
        return authz['status']

    def _order_status(self, oid):
        order = self.orders[oid]
        if order['status'] == 'pending' and all(self._authz_status(a) == 'valid' for a in order['authzs']):
            order['status'] = 'ready'
        if order['status'] == 'pending' and any(self._authz_status(a) == 'invalid' for a in order['authzs']):
            order['status'] = 'invalid'  # like pebble: with its own (less precise) error
            order['error'] = {'type': NS + 'unauthorized', 'detail': 'an authorization failed'}
        if order['status'] == 'processing' and time.monotonic() >= order['finalized'] + self.issue_after:
            order['status'] = 'valid'
        return order['status']

    def _order_doc(self, oid):
        order = self.orders[oid]
        doc = {'status': self._order_status(oid), 'expires': '2099-01-01T00:00:00Z',
               'identifiers': order['identifiers'], 'finalize': self.fake.url('/finalize/%d' % oid),
               'authorizations': [self.fake.url('/authz/%d' % a) for a in order['authzs']]}
        if doc['status'] == 'valid':
            doc['certificate'] = self.fake.url('/cert/%d' % oid)
        if order.get('error'):
            doc['error'] = order['error']
        return doc

    def _authz_doc(self, aid):
        authz = self.authzs[aid]
        status = self._authz_status(aid)
        answered = authz['answered'] is not None and not self.pending_while_validating
        chal_status = {'pending': 'processing' if answered else 'pending'}.get(status, status)
        chal = {'type': 'http-01', 'url': self.fake.url('/chall/%d' % aid), 'token': 'tok_%d' % aid,
                'status': chal_status}
        if status == 'invalid':
            chal['error'] = {'type': NS + 'unauthorized', 'detail': 'wrong key authorization'}
        return {'status': status, 'identifier': {'type': 'dns', 'value': authz['value']}, 'challenges': [chal]}

    # -- routes -----------------------------------------------------------------------------------------
    def new_order(self, fake, method, body, protected, path):
        payload = _payload(body)
        with self.lock:
            oid = len(self.orders) + 1
            aids = []
            for ident in payload['identifiers']:
                aid = len(self.authzs) + 1
                self.authzs[aid] = {'value': ident['value'], 'answered': None,
                                    'status': 'valid' if self.valid_authz else 'pending'}
                aids.append(aid)
            self.orders[oid] = {'identifiers': payload['identifiers'], 'authzs': aids, 'status': 'pending',
                                'finalized': None, 'pem': None}
            return 201, {'Location': fake.url('/order/%d' % oid)}, self._order_doc(oid)

    def order(self, fake, method, body, protected, path):
        with self.lock:
            return 200, {}, self._order_doc(int(path.rsplit('/', 1)[1]))

    def authz(self, fake, method, body, protected, path):
        with self.lock:
            return 200, {}, self._authz_doc(int(path.rsplit('/', 1)[1]))

    def challenge(self, fake, method, body, protected, path):
        aid = int(path.rsplit('/', 1)[1])
        with self.lock:
            if self._authz_status(aid) != 'pending' or self.authzs[aid]['answered'] is not None:
                # what pebble does with an answer to a challenge that is no longer pending
                return _problem('malformed', 'Cannot update challenge: not pending')
            self.authzs[aid]['answered'] = time.monotonic()
            if self.authzs[aid]['value'].startswith('bad'):
                self.authzs[aid]['status'] = 'invalid'
            return 200, {}, self._authz_doc(aid)['challenges'][0]

    def finalize(self, fake, method, body, protected, path):
        oid = int(path.rsplit('/', 1)[1])
        with self.lock:
            if oid in self.not_ready_once:
                self.not_ready_once.discard(oid)
                return _problem('orderNotReady', 'the order is not ready yet', 403)
            if self._order_status(oid) != 'ready':
                return _problem('orderNotReady', 'the order is %s' % self._order_status(oid), 403)
            csr = x509.load_der_x509_csr(_b64d(_payload(body)['csr']))
            now = datetime.datetime.now(UTC)
            names = [i['value'] for i in self.orders[oid]['identifiers']]
            leaf = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(self.ca_name)
                    .public_key(csr.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - datetime.timedelta(minutes=5))
                    .not_valid_after(now + datetime.timedelta(days=90))
                    .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=True)
                    .sign(self.ca_key, hashes.SHA256()))
            self.orders[oid]['pem'] = b''.join(c.public_bytes(serialization.Encoding.PEM)
                                               for c in (leaf, self.ca_cert))
            self.orders[oid]['status'] = 'processing'
            self.orders[oid]['finalized'] = time.monotonic()
            return 200, {}, self._order_doc(oid)

    def cert(self, fake, method, body, protected, path):
        with self.lock:
            return 200, {'Content-Type': 'application/pem-certificate-chain'}, \
                self.orders[int(path.rsplit('/', 1)[1])]['pem']


def _client(fake):
    return AcmeClient(fake.url('/dir'), verify=False, deadline=Deadline(20),
                      retry_policy=RetryPolicy(attempts=2, base=0.01, cap=0.01, jitter=0))


def _per_cert_posts(fake, start):
    """Signed requests after ``start`` except the per-run account lookup."""
    return len([1 for m, p, _h in fake.log[start:] if m == 'POST' and p != '/new-acct'])


def _issue(fake, store, names, before_finalize=None):
    specs = normalize_certificates([{'name': n, 'domains': ['%s.example.com' % n]} for n in names])
    start = len(fake.log)
    results, _chals, errors = OrderRunner(_client(fake), KEY, store).run(specs)
    assert errors == [] and all(results[n]['action'] == 'order' for n in names)
    order_posts = _per_cert_posts(fake, start)
    if before_finalize is not None:
        before_finalize()
    start = len(fake.log)
    finalizer = Finalizer(_client(fake), KEY, store)
    results, errors = finalizer.run(list(names))
    assert errors == [], errors
    assert all(results[n]['changed'] is True and results[n]['serial'] for n in names)
    finalize_log = fake.log[start:]
    # the per-run overhead is one directory GET, at most one HEAD and one account lookup
    assert len([1 for m, p, _h in finalize_log if m == 'GET' and p == '/dir']) == 1
    assert len([1 for m, p, _h in finalize_log if p == '/new-acct']) == 1
    return order_posts, _per_cert_posts(fake, start), finalize_log


def test_happy_path_is_the_protocol_floor(fake_acme, tmp_path):
    StatefulCA(fake_acme)
    store = str(tmp_path / 'store')
    order_posts, finalize_posts, log = _issue(fake_acme, store, ['www'])
    # acme_order: new order + authorization; acme_finalize: challenge, finalize (which is the authorization
    # poll), one order poll, download -- the order and its authorization are not fetched again before answering
    assert order_posts == 2
    paths = [p.split('/')[1] for m, p, _h in log if m == 'POST' and p != '/new-acct']
    assert paths == ['chall', 'finalize', 'order', 'cert']
    assert finalize_posts == 4
    assert CertStore(store).load_order('www')['status'] == 'done'


def test_many_certificates_stay_at_the_floor(fake_acme, tmp_path):
    StatefulCA(fake_acme)
    names = ['c%02d' % i for i in range(12)]
    order_posts, finalize_posts, _log = _issue(fake_acme, str(tmp_path / 'store'), names)
    assert (order_posts + finalize_posts) / float(len(names)) <= 6.5


@pytest.mark.parametrize('pending_while_validating', [False, True])
def test_slow_validation_waits_for_the_authorization_and_stays_bounded(fake_acme, tmp_path, pending_while_validating):
    StatefulCA(fake_acme, validate_after=0.8, pending_while_validating=pending_while_validating)
    store = str(tmp_path / 'store')
    _order_posts, finalize_posts, log = _issue(fake_acme, store, ['www'])
    paths = [p.split('/')[1] for m, p, _h in log if m == 'POST' and p != '/new-acct']
    # too early: orderNotReady, then the order and authorization as the CA has them, a poll, finalize again;
    # the challenge is not answered a second time even when the CA still shows it as pending
    assert paths[:4] == ['chall', 'finalize', 'order', 'authz']
    assert paths.count('finalize') == 2 and paths.count('chall') == 1 and paths[-1] == 'cert'
    assert finalize_posts <= 10


def test_order_not_ready_fetches_the_order_and_finalizes_once_more(fake_acme, tmp_path):
    ca = StatefulCA(fake_acme)
    store = str(tmp_path / 'store')
    _order_posts, finalize_posts, log = _issue(fake_acme, store, ['www'],
                                               before_finalize=lambda: ca.not_ready_once.add(1))
    paths = [p.split('/')[1] for m, p, _h in log if m == 'POST' and p != '/new-acct']
    assert paths.count('finalize') == 2
    # the refusal is followed by a fetch of the order (what the CA has now), then one more finalize
    first = paths.index('finalize')
    assert paths[first + 1] == 'order' and 'finalize' in paths[first + 2:]
    assert finalize_posts <= 8
    assert CertStore(store).load_order('www')['status'] == 'done'


def test_already_answered_challenge_takes_the_long_way_without_answering_again(fake_acme, tmp_path):
    ca = StatefulCA(fake_acme)
    store = str(tmp_path / 'store')

    def answered_elsewhere():
        # e.g. a previous acme_finalize run answered it and then stopped before finalizing
        ca.authzs[1]['answered'] = time.monotonic()
    _order_posts, finalize_posts, log = _issue(fake_acme, store, ['www'], before_finalize=answered_elsewhere)
    paths = [p.split('/')[1] for m, p, _h in log if m == 'POST' and p != '/new-acct']
    # one refused answer, then the order as the CA has it (ready by now), no second answer
    assert paths[:3] == ['chall', 'order', 'finalize']
    assert paths.count('chall') == 1
    assert paths[-1] == 'cert' and finalize_posts <= 8


def test_already_valid_authorization_is_not_answered(fake_acme, tmp_path):
    StatefulCA(fake_acme, valid_authz=True)
    store = str(tmp_path / 'store')
    order_posts, finalize_posts, log = _issue(fake_acme, store, ['www'])
    paths = [p.split('/')[1] for m, p, _h in log if m == 'POST' and p != '/new-acct']
    assert order_posts == 2
    assert paths == ['finalize', 'order', 'cert'] and finalize_posts == 3


def test_failed_validation_is_reported_and_the_order_marked_failed(fake_acme, tmp_path):
    ca = StatefulCA(fake_acme)
    store = str(tmp_path / 'store')
    specs = normalize_certificates([{'name': 'bad', 'domains': ['bad.example.com']}])
    OrderRunner(_client(fake_acme), KEY, store).run(specs)
    assert ca.authzs[1]['status'] == 'pending'
    finalizer = Finalizer(_client(fake_acme), KEY, store)
    results, errors = finalizer.run(['bad'])
    assert len(errors) == 1 and results['bad']['changed'] is False
    # the validation's own problem (naming the identifier and the challenge type), not the order's
    assert 'bad.example.com' in errors[0] and 'http-01' in errors[0] and 'wrong key authorization' in errors[0]
    assert CertStore(store).load_order('bad')['status'] == 'failed'


# -- acme_finalize -----------------------------------------------------------------------------------------

def test_finalizer_skips_a_rate_limited_certificate_and_reports_the_problem_of_another(fake_acme, tmp_path):
    NewOrderCA(fake_acme)
    store = str(tmp_path / 'store')
    specs = order_specs(('limited', ['limited.example.com']), ('invalid', ['invalid.example.com']))
    _results, _c, _e = order_runner(fake_acme, store).run(specs)
    cstore = CertStore(store)
    now = datetime.datetime.now(UTC)
    rate_limits.record(cstore, 'limited', now + datetime.timedelta(hours=1), None, now, 'finalize')
    fake_acme.routes['/order/*'] = lambda f, m, b, p, path: (200, {}, {
        'status': 'invalid', 'authorizations': [f.url('/authz/1')], 'finalize': f.url('/finalize/1'),
        'error': {'type': NS + 'connection', 'detail': 'Connection refused', 'status': 400,
                  'subproblems': [{'type': NS + 'connection', 'detail': 'refused',
                                   'identifier': {'type': 'dns', 'value': 'invalid.example.com'}}]}})
    posts_before = fake_acme.count('POST')
    finalizer = Finalizer(quick_client(fake_acme), ORDER_KEY, store)
    results, errors = finalizer.run(['limited', 'invalid'])
    assert sorted(finalizer.failed) == ['invalid', 'limited'] and len(errors) == 2
    assert finalizer.failed['limited']['reason'] == 'rate-limited-until'
    assert finalizer.failed['limited']['stage'] == 'finalize'
    assert results['limited']['changed'] is False and results['limited']['error']
    # the rate-limited order is kept pending for a later run
    assert cstore.load_order('limited')['status'] == 'pending'
    entry = finalizer.failed['invalid']
    assert entry['reason'] == 'ca-problem' and entry['stage'] == 'finalize'
    assert entry['problem']['type'] == NS + 'connection'
    assert entry['problem']['subproblems'][0]['identifier'] == {'type': 'dns', 'value': 'invalid.example.com'}
    assert cstore.load_order('invalid')['status'] == 'failed'
    # only the invalid one talked to the CA (order fetch + authz deactivation + account lookup)
    assert fake_acme.count('POST') - posts_before <= 4
    assert not any('limited' in (p or '') for _m, p, _h in fake_acme.log[-(fake_acme.count('POST') - posts_before):])


def test_an_order_that_ends_without_a_certificate_is_a_failed_order_without_a_problem(fake_acme, tmp_path):
    """The CA says valid but names no certificate and explains nothing: a bare OrderFailed, the order is failed."""
    NewOrderCA(fake_acme)
    store = str(tmp_path / 'store')
    order_runner(fake_acme, store).run(order_specs(('odd', ['odd.example.com'])))
    fake_acme.routes['/order/*'] = lambda f, m, b, p, path: (200, {}, {
        'status': 'valid', 'authorizations': [f.url('/authz/1')], 'finalize': f.url('/finalize/1')})
    finalizer = Finalizer(quick_client(fake_acme), ORDER_KEY, store)
    results, errors = finalizer.run(['odd'])
    entry = finalizer.failed['odd']
    assert entry['reason'] == 'error' and entry['problem'] is None and entry['stage'] == 'finalize'
    assert entry['msg'] == 'odd: the order is valid' and errors == ['odd: odd: the order is valid']
    assert results['odd'] == {'changed': False, 'error': 'odd: the order is valid'}
    assert CertStore(store).load_order('odd')['status'] == 'failed'

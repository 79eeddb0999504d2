# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-certificate failures of OrderRunner/Finalizer against the scripted server: failed_certificates entries
with the CA's problem document, rate limits recorded in the store and skipped until their time, and
RFC 9773 'replaces' only with a shared identifier, dropped once when the CA refuses it (alreadyReplaced, ...)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import json
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import parse_rfc3339
from ansible_collections.certpilot.tls.plugins.module_utils.acme import ari
from ansible_collections.certpilot.tls.plugins.module_utils.acme import failures
from ansible_collections.certpilot.tls.plugins.module_utils.acme import rate_limits
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.finalizer import Finalizer
from ansible_collections.certpilot.tls.plugins.module_utils.acme.order_runner import OrderRunner, normalize_certificates, shares_identifier
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey, generate_private_key
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore

pytestmark = pytest.mark.timeout(60)
UTC = datetime.timezone.utc
KEY = AcmeKey.generate('ec256')
NS = 'urn:ietf:params:acme:error:'


def _payload(body):
    text = body['payload']
    return json.loads(base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))) if text else None


def _problem(ptype, detail, status, headers=None, **extra):
    doc = {'type': NS + ptype, 'detail': detail, 'status': status}
    doc.update(extra)
    hdrs = {'Content-Type': 'application/problem+json'}
    hdrs.update(headers or {})
    return status, hdrs, doc


class CA:
    """new-order answers through ``self.refuse(payload)`` -> None (accept) or a (status, headers, doc) reply."""

    def __init__(self, fake, ari_window_passed=True):
        self.fake = fake
        self.orders = []       # payloads of every new-order request, accepted or not
        self.accepted = []
        self.refuse = lambda payload: None
        fake.directory_extra.update({'renewalInfo': fake.url('/ari')})
        fake.routes['/new-acct'] = lambda f, m, b, p, path: (200, {'Location': f.url('/acct/1')}, {'status': 'valid'})

        def new_order(f, method, body, protected, path):
            payload = _payload(body)
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
            'challenges': [{'type': 'http-01', 'url': f.url('/chall/1'), 'token': 'tok_1', 'status': 'pending'}]})
        window = ('2020-01-01T00:00:00Z', '2020-01-02T00:00:00Z') if ari_window_passed else \
            ('2099-01-01T00:00:00Z', '2099-01-02T00:00:00Z')
        fake.routes['/ari/*'] = lambda f, m, b, p, path: (200, {'Retry-After': '600', 'Replay-Nonce': None}, {
            'suggestedWindow': {'start': window[0], 'end': window[1]}})

    def names_of(self, payload):
        return [i['value'] for i in payload['identifiers']]


def _install_cert(store, name, names=('www.example.com',), days_left=60, lifetime=90):
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


def _client(fake, seconds=20):
    # quick retries: a 5xx is retried twice, 10 ms apart
    return AcmeClient(fake.url('/dir'), verify=False, deadline=Deadline(seconds),
                      retry_policy=RetryPolicy(attempts=2, base=0.01, cap=0.01, jitter=0))


def _runner(fake, store, seconds=20, **kwargs):
    return OrderRunner(_client(fake, seconds), KEY, store, **kwargs)


def _specs(*items):
    return normalize_certificates([{'name': n, 'domains': list(d)} for n, d in items])


# -- failed_certificates ---------------------------------------------------------------------------------

def test_one_refused_certificate_does_not_stop_the_others_and_carries_the_problem(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    cert = _install_cert(store, 'bad', names=('bad.example.com',), days_left=1)
    sub = {'type': NS + 'rejectedIdentifier', 'detail': 'forbidden by policy',
           'identifier': {'type': 'dns', 'value': 'bad.example.com'}, 'extra': 'x' * 50}
    ca.refuse = lambda payload: _problem('rejectedIdentifier', 'd' * 5000, 400, subproblems=[sub]) \
        if 'bad.example.com' in ca.names_of(payload) else None
    runner = _runner(fake_acme, store, use_ari='never')
    results, challenges, errors = runner.run(_specs(('bad', ['bad.example.com']), ('good', ['good.example.com']),
                                                    ('also', ['also.example.com'])))
    assert results['good']['action'] == 'order' and results['also']['action'] == 'order'
    assert sorted(c['certificate'] for c in challenges) == ['also', 'good']
    assert results['bad']['action'] == 'error'
    # the error result still says what is in the store, so that the current certificate is deployed
    assert results['bad']['not_after'] is not None
    assert parse_rfc3339(results['bad']['not_after']).date() == cert.not_valid_after_utc.date()
    assert results['bad']['identifiers'] == ['bad.example.com']
    assert list(runner.failed) == ['bad'] and len(errors) == 1 and errors[0].startswith('bad: ')
    entry = runner.failed['bad']
    assert entry['reason'] == 'ca-problem' and entry['stage'] == 'order' and entry['retry_at'] is None
    assert 'rejectedIdentifier' in entry['msg'] and entry['msg'] == results['bad']['error']
    problem = entry['problem']
    assert problem['type'] == NS + 'rejectedIdentifier' and problem['status'] == 400
    assert len(problem['detail']) == failures.MAX_DETAIL + 3          # bounded
    assert problem['subproblems'] == [{'type': NS + 'rejectedIdentifier', 'detail': 'forbidden by policy',
                                       'status': None,
                                       'identifier': {'type': 'dns', 'value': 'bad.example.com'}}]
    # no rate limit is recorded for a plain refusal
    assert not os.path.exists(os.path.join(store, 'bad', 'ratelimit.json'))
    # and nothing in the entries looks like key material
    assert 'PRIVATE' not in json.dumps(runner.failed)


def test_failure_without_a_problem_document_is_reason_error(fake_acme, tmp_path):
    CA(fake_acme)
    store = str(tmp_path / 'store')
    fake_acme.directory_extra['meta'] = {'profiles': {'classic': 'x'}}
    runner = _runner(fake_acme, store)
    specs = normalize_certificates([{'name': 'p', 'domains': ['p.example.com'], 'profile': 'nope'},
                                    {'name': 'ok', 'domains': ['ok.example.com']}])
    results, _c, _e = runner.run(specs)
    assert results['ok']['action'] == 'order' and results['ok']['error'] is None
    assert runner.failed['p']['reason'] == 'error' and runner.failed['p']['problem'] is None
    assert "profile 'nope'" in runner.failed['p']['msg']
    assert results['p']['not_after'] is None          # nothing in the store
    assert failures.summary(runner.failed, len(results)).startswith('1 of 2 certificates failed: p: ')


# -- rate limits -----------------------------------------------------------------------------------------

def _rate_limit(seconds):
    return lambda payload: _problem('rateLimited', 'too many certificates for this domain', 429,
                                    headers={'Retry-After': str(seconds)}) \
        if 'limited.example.com' in [i['value'] for i in payload['identifiers']] else None


def test_rate_limit_is_recorded_skipped_until_its_time_then_tried_again(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    ca.refuse = _rate_limit(3600)
    specs = _specs(('limited', ['limited.example.com']), ('fine', ['fine.example.com']))
    before = datetime.datetime.now(UTC)
    runner = _runner(fake_acme, store, seconds=10)
    results, _c, _e = runner.run(specs)
    assert results['fine']['action'] == 'order'                         # not blocked
    assert results['limited']['action'] == 'error'
    entry = runner.failed['limited']
    assert entry['reason'] == 'rate-limited-until' and entry['problem']['type'] == NS + 'rateLimited'
    assert entry['problem']['status'] == 429
    until = parse_rfc3339(entry['retry_at'])
    assert before + datetime.timedelta(seconds=3590) <= until <= before + datetime.timedelta(seconds=3610)
    doc = json.load(open(os.path.join(store, 'limited', 'ratelimit.json')))
    assert doc['until'] == entry['retry_at'] and doc['stage'] == 'order'
    assert doc['problem']['detail'] == 'too many certificates for this domain'
    assert oct(os.stat(os.path.join(store, 'limited', 'ratelimit.json')).st_mode & 0o777) == '0o644'
    asked = len([o for o in ca.orders if 'limited.example.com' in ca.names_of(o)])
    assert asked == 1                                                   # no retry for a long Retry-After

    # a later run before that time: skipped without asking the CA, reported as failed, the other one resumes
    ca.refuse = lambda payload: None
    fake_acme.routes['/order/*'] = lambda f, m, b, p, path: (200, {}, {
        'status': 'pending', 'expires': '2099-01-01T00:00:00Z', 'authorizations': [f.url('/authz/1')],
        'finalize': f.url('/finalize/1')})
    runner = _runner(fake_acme, store)
    results, challenges, errors = runner.run(specs)
    assert results['limited']['action'] == 'skipped'
    assert results['limited']['reason'] == 'rate-limited until %s' % entry['retry_at']
    assert [c['certificate'] for c in challenges] == ['fine'] and results['fine']['action'] == 'resume'
    assert len([o for o in ca.orders if 'limited.example.com' in ca.names_of(o)]) == 1
    assert runner.failed['limited']['reason'] == 'rate-limited-until'
    assert runner.failed['limited']['retry_at'] == entry['retry_at']
    assert entry['retry_at'] in runner.failed['limited']['msg'] and len(errors) == 1
    # check mode sees the skip too
    results, _c, _e = _runner(fake_acme, store, check_mode=True).run(specs)
    assert results['limited']['action'] == 'skipped'

    # after that time it is ordered again, and the record is gone
    later = until + datetime.timedelta(seconds=1)
    runner = _runner(fake_acme, store, now=lambda: later)
    results, _c, _e = runner.run(specs)
    assert results['limited']['action'] == 'order' and runner.failed == {}
    assert len([o for o in ca.accepted if 'limited.example.com' in ca.names_of(o)]) == 1
    assert not os.path.exists(os.path.join(store, 'limited', 'ratelimit.json'))


def test_short_retry_after_is_retried_within_the_run_and_not_recorded(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    ca.refuse = _rate_limit(1)
    runner = _runner(fake_acme, store)
    results, _c, _e = runner.run(_specs(('limited', ['limited.example.com'])))
    assert results['limited']['action'] == 'error'
    assert len(ca.orders) == 2                                          # retried once (attempts=2)
    assert runner.failed['limited']['reason'] == 'ca-problem'
    assert runner.failed['limited']['problem']['type'] == NS + 'rateLimited'
    assert not os.path.exists(os.path.join(store, 'limited', 'ratelimit.json'))


def test_a_long_retry_after_on_a_5xx_is_not_a_rate_limit(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    ca.refuse = lambda payload: _problem('serverInternal', 'maintenance', 503, headers={'Retry-After': '3600'})
    runner = _runner(fake_acme, store, seconds=10)
    results, _c, _e = runner.run(_specs(('www', ['www.example.com'])))
    assert results['www']['action'] == 'error' and 'run again after that time' in results['www']['error']
    assert runner.failed['www']['reason'] == 'ca-problem'
    assert runner.failed['www']['problem']['status'] == 503
    assert not os.path.exists(os.path.join(store, 'www', 'ratelimit.json'))


@pytest.mark.parametrize('content', ['not json', '{"until": "2026-13-01T00:00:00Z"}', '[1, 2]', '{"until": 5}'])
def test_a_damaged_rate_limit_record_does_not_block_the_certificate(fake_acme, tmp_path, content):
    CA(fake_acme)
    store = str(tmp_path / 'store')
    os.makedirs(os.path.join(store, 'www'))
    with open(os.path.join(store, 'www', 'ratelimit.json'), 'w') as handle:
        handle.write(content)
    runner = _runner(fake_acme, store)
    results, _c, _e = runner.run(_specs(('www', ['www.example.com'])))
    assert results['www']['action'] == 'order' and runner.failed == {}
    assert not os.path.exists(os.path.join(store, 'www', 'ratelimit.json'))


def test_rate_limit_helpers():
    now = datetime.datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
    from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem
    limited = AcmeProblem({'type': NS + 'rateLimited', 'detail': 'slow down'}, status=429)
    assert rate_limits.is_rate_limit(limited)
    assert rate_limits.is_rate_limit(AcmeProblem({'type': NS + 'rateLimited'}, status=403))
    assert not rate_limits.is_rate_limit(AcmeProblem({'type': NS + 'malformed'}, status=400))
    assert rate_limits.rate_limit_of(limited, now) is None              # no time known: not recorded
    limited.retry_after = 120.0
    until, problem = rate_limits.rate_limit_of(limited, now)
    assert until == now + datetime.timedelta(seconds=120) and problem is limited
    limited.retry_after = 10 ** 12                                      # clamped, never an OverflowError
    until, _p = rate_limits.rate_limit_of(limited, now)
    assert until <= now + datetime.timedelta(days=367)


# -- acme_finalize -----------------------------------------------------------------------------------------

def test_finalizer_skips_a_rate_limited_certificate_and_reports_the_problem_of_another(fake_acme, tmp_path):
    CA(fake_acme)
    store = str(tmp_path / 'store')
    specs = _specs(('limited', ['limited.example.com']), ('invalid', ['invalid.example.com']))
    _results, _c, _e = _runner(fake_acme, store).run(specs)
    cstore = CertStore(store)
    now = datetime.datetime.now(UTC)
    rate_limits.record(cstore, 'limited', now + datetime.timedelta(hours=1), None, now, 'finalize')
    fake_acme.routes['/order/*'] = lambda f, m, b, p, path: (200, {}, {
        'status': 'invalid', 'authorizations': [f.url('/authz/1')], 'finalize': f.url('/finalize/1'),
        'error': {'type': NS + 'connection', 'detail': 'Connection refused', 'status': 400,
                  'subproblems': [{'type': NS + 'connection', 'detail': 'refused',
                                   'identifier': {'type': 'dns', 'value': 'invalid.example.com'}}]}})
    posts_before = fake_acme.count('POST')
    finalizer = Finalizer(_client(fake_acme), KEY, store)
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


# -- replaces (RFC 9773) -----------------------------------------------------------------------------------

def test_shares_identifier():
    assert shares_identifier([('dns', 'a.example')], [('dns', 'a.example'), ('dns', 'b.example')])
    assert not shares_identifier([('dns', 'a.example')], [('dns', 'b.example')])
    assert not shares_identifier([('dns', '192.0.2.1')], [('ip', '192.0.2.1')])
    assert not shares_identifier(None, [('dns', 'a.example')])


def test_replaces_only_with_a_shared_identifier(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    cert = _install_cert(store, 'moved', names=('www.example.com',))
    _install_cert(store, 'grown', names=('www.example.com',))
    runner = _runner(fake_acme, store)
    results, _c, _e = runner.run(_specs(('moved', ['shop.example.com']),
                                        ('grown', ['www.example.com', 'new.example.com'])))
    assert results['moved']['action'] == 'order' and results['grown']['action'] == 'order'
    by_names = dict((tuple(sorted(ca.names_of(o))), o) for o in ca.orders)
    assert 'replaces' not in by_names[('shop.example.com',)]
    assert by_names[('new.example.com', 'www.example.com')]['replaces'] == ari.cert_id(cert)
    assert json.load(open(os.path.join(store, 'moved', 'order.json')))['replaces'] is None


@pytest.mark.parametrize('status, ptype, detail', [
    (409, 'alreadyReplaced', 'this certificate was replaced already'),
    (400, 'malformed', 'the certificate named in "replaces" has no identifier in common with this order'),
    (403, 'unauthorized', 'the certificate in replaces was not issued to this account'),
])
def test_refused_replacement_is_ordered_once_more_without_replaces(fake_acme, tmp_path, status, ptype, detail):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    _install_cert(store, 'www')
    ca.refuse = lambda payload: _problem(ptype, detail, status) if 'replaces' in payload else None
    runner = _runner(fake_acme, store)
    results, _c, errors = runner.run(_specs(('www', ['www.example.com'])))
    assert errors == [] and results['www']['action'] == 'order'
    assert len(ca.accepted) == 1 and 'replaces' not in ca.accepted[0]
    assert [('replaces' in o) for o in ca.orders] == [True, False]
    assert json.load(open(os.path.join(store, 'www', 'order.json')))['replaces'] is None
    assert any('refused the order with replaces' in w and str(status) in w for w in runner.warnings)


@pytest.mark.parametrize('status, ptype, detail', [
    (403, 'unauthorized', 'the account is not allowed to order for this name'),   # not about replaces
    (400, 'malformed', 'identifiers must not be empty'),
    (400, 'rejectedIdentifier', 'the CA will not issue for this name'),
    (400, 'badCSR', 'replaces is fine but the key is too short'),                  # mentions it, wrong type
])
def test_other_refusals_with_replaces_are_reported_not_retried_without_it(fake_acme, tmp_path, status, ptype,
                                                                           detail):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    _install_cert(store, 'www')
    ca.refuse = lambda payload: _problem(ptype, detail, status)
    runner = _runner(fake_acme, store)
    results, _c, errors = runner.run(_specs(('www', ['www.example.com'])))
    assert results['www']['action'] == 'error' and detail in results['www']['error'] and len(errors) == 1
    assert len(ca.orders) == 1 and 'replaces' in ca.orders[0], 'no second order without replaces'
    assert runner.failed['www']['problem']['type'] == NS + ptype
    assert not any('refused the order with replaces' in w for w in runner.warnings)


@pytest.mark.parametrize('status', [500, 503])
def test_a_server_error_with_replaces_is_retried_with_it_and_then_reported(fake_acme, tmp_path, status):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    _install_cert(store, 'www')
    ca.refuse = lambda payload: _problem('serverInternal', 'replaces broke us', status) if 'replaces' in payload else None
    runner = _runner(fake_acme, store)
    results, _c, _e = runner.run(_specs(('www', ['www.example.com'])))
    assert results['www']['action'] == 'error' and 'replaces broke us' in results['www']['error']
    assert ca.orders and all('replaces' in o for o in ca.orders), 'the client retries the same request (bounded)'
    assert ca.accepted == []


def test_refusal_without_replaces_and_rate_limit_with_replaces_are_not_retried(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    _install_cert(store, 'www')
    ca.refuse = lambda payload: _problem('rateLimited', 'slow down', 429, headers={'Retry-After': '3600'})
    runner = _runner(fake_acme, store, seconds=10)
    results, _c, _e = runner.run(_specs(('www', ['www.example.com'])))
    assert results['www']['action'] == 'error' and len(ca.orders) == 1 and 'replaces' in ca.orders[0]
    assert runner.failed['www']['reason'] == 'rate-limited-until'
    # no replaces (no current certificate): a refusal is not retried
    ca.orders[:] = []
    ca.refuse = lambda payload: _problem('rejectedIdentifier', 'no', 400)
    runner = _runner(fake_acme, store)
    results, _c, _e = runner.run(_specs(('new', ['new.example.com'])))
    assert results['new']['action'] == 'error' and len(ca.orders) == 1


def test_second_refusal_without_replaces_is_the_reported_failure(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    _install_cert(store, 'www')
    ca.refuse = lambda payload: (_problem('alreadyReplaced', 'replaced already', 409) if 'replaces' in payload
                                 else _problem('rejectedIdentifier', 'not this name', 400))
    runner = _runner(fake_acme, store)
    results, _c, _e = runner.run(_specs(('www', ['www.example.com'])))
    assert results['www']['action'] == 'error' and 'not this name' in results['www']['error']
    assert runner.failed['www']['problem']['type'] == NS + 'rejectedIdentifier'
    assert [('replaces' in o) for o in ca.orders] == [True, False]   # 1 with, 1 without

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/order_runner.py: OrderRunner against the scripted server.

Normalizing the certificates option; ARI 'replaces' (only with a shared identifier, dropped once when the CA
refuses it because of it: alreadyReplaced, ...), profiles, check mode, bad tokens, resuming and abandoning
orders; per-certificate failures (failed_certificates entries with the CA's problem document) and rate limits
recorded in the store and skipped until their time.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import parse_rfc3339
from ansible_collections.certpilot.tls.plugins.module_utils.acme import ari
from ansible_collections.certpilot.tls.plugins.module_utils.acme import failures
from ansible_collections.certpilot.tls.plugins.module_utils.acme.order_runner import (
    normalize_certificates, refuses_replacement, shares_identifier)
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.acme.order_ca import (
    CA, KEY, NS, UTC, install_cert as _install_cert, problem as _problem, runner as _runner, specs as _specs)

pytestmark = pytest.mark.timeout(60)

SPEC = [{'name': 'www', 'domains': ['www.example.com']}]


def test_ari_window_passed_orders_with_replaces(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    cert = _install_cert(store, 'www', days_left=60)
    results, challenges, errors = _runner(fake_acme, store).run(normalize_certificates(SPEC))
    assert errors == []
    assert results['www']['action'] == 'order' and 'ARI' in results['www']['reason']
    assert ca.orders[0]['replaces'] == ari.cert_id(cert)
    assert challenges[0]['token'] == 'tok_1' and challenges[0]['key_authorization'] == 'tok_1.' + KEY.thumbprint
    order = json.load(open(os.path.join(store, 'www', 'order.json')))
    assert order['status'] == 'pending' and order['replaces'] == ari.cert_id(cert)
    assert json.load(open(os.path.join(store, 'www', 'ari.json')))['cert_id'] == ari.cert_id(cert)


def test_ari_window_in_future_means_no_order_and_use_ari_never(fake_acme, tmp_path):
    ca = CA(fake_acme)
    ca.window = ('2099-01-01T00:00:00Z', '2099-01-02T00:00:00Z')
    store = str(tmp_path / 'store')
    _install_cert(store, 'www', days_left=60)
    results, _c, errors = _runner(fake_acme, store).run(normalize_certificates(SPEC))
    assert errors == [] and results['www']['action'] == 'none' and ca.orders == []
    ca.window = ('2020-01-01T00:00:00Z', '2020-01-02T00:00:00Z')
    os.unlink(os.path.join(store, 'www', 'ari.json'))
    results, _c, errors = _runner(fake_acme, store, use_ari='never').run(normalize_certificates(SPEC))
    assert results['www']['action'] == 'none' and ca.orders == []


def test_check_mode_creates_nothing(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    results, challenges, errors = _runner(fake_acme, store, check_mode=True).run(normalize_certificates(SPEC))
    assert errors == [] and results['www']['action'] == 'order' and challenges == []
    assert ca.orders == [] and fake_acme.count('POST') == 0
    assert not os.path.exists(store)


def test_profile_sent_and_unknown_profile_refused(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    spec = [{'name': 'a', 'domains': ['www.example.com'], 'profile': 'shortlived'},
            {'name': 'b', 'domains': ['www.example.com'], 'profile': 'tlsserver'}]
    results, _c, errors = _runner(fake_acme, store).run(normalize_certificates(spec))
    assert results['a']['action'] == 'order' and ca.orders[0]['profile'] == 'shortlived'
    assert results['b']['action'] == 'error' and "profile 'tlsserver'" in results['b']['error']
    assert 'classic, shortlived' in results['b']['error'] and len(errors) == 1


def test_malicious_token_is_refused_and_nothing_written(fake_acme, tmp_path):
    CA(fake_acme, token='../../etc/cron.d/x')
    store = str(tmp_path / 'store')
    results, challenges, errors = _runner(fake_acme, store).run(normalize_certificates(SPEC))
    assert results['www']['action'] == 'error' and 'invalid challenge token' in results['www']['error']
    assert challenges == [] and not os.path.exists(os.path.join(store, 'www', 'order.json'))


def test_pending_order_is_resumed_then_abandoned_when_invalid(fake_acme, tmp_path):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    status = {'value': 'pending'}
    fake_acme.routes['/order/*'] = lambda f, m, b, p, path: (200, {}, {
        'status': status['value'], 'expires': '2099-01-01T00:00:00Z', 'authorizations': [f.url('/authz/1')],
        'finalize': f.url('/finalize/1')})
    specs = normalize_certificates(SPEC)
    results, _c, _e = _runner(fake_acme, store).run(specs)
    first_url = results['www']['order_url']
    assert results['www']['action'] == 'order' and len(ca.orders) == 1
    # second run: the stored order is still pending at the CA -> resumed, no new order
    results, challenges, _e = _runner(fake_acme, store).run(specs)
    assert results['www']['action'] == 'resume' and results['www']['order_url'] == first_url
    assert len(ca.orders) == 1 and len(challenges) == 1
    # check mode sees the resume too, without writing
    before = open(os.path.join(store, 'www', 'order.json')).read()
    results, _c, _e = _runner(fake_acme, store, check_mode=True).run(specs)
    assert results['www']['action'] == 'resume'
    assert open(os.path.join(store, 'www', 'order.json')).read() == before
    # the order went invalid at the CA -> a new order replaces it
    status['value'] = 'invalid'
    results, _c, _e = _runner(fake_acme, store).run(specs)
    assert results['www']['action'] == 'order' and len(ca.orders) == 2
    assert results['www']['order_url'] != first_url
    # a changed request abandons the pending order even when nothing else is due
    status['value'] = 'pending'
    changed = normalize_certificates([{'name': 'www', 'domains': ['www.example.com', 'example.com']}])
    results, _c, _e = _runner(fake_acme, store, check_mode=True).run(changed)
    assert results['www']['action'] == 'order' and len(ca.orders) == 2


def _issuer(store, name, directory):
    with open(os.path.join(store, name, 'issuer.json'), 'w') as handle:
        json.dump({'directory': directory}, handle)


def test_certificate_from_another_directory_is_replaced_without_ari(fake_acme, tmp_path):
    ca = CA(fake_acme)
    ca.window = ('2099-01-01T00:00:00Z', '2099-01-02T00:00:00Z')   # ARI would say: not yet
    store = str(tmp_path / 'store')
    _install_cert(store, 'www', days_left=80)                        # and so would the lifetime
    _issuer(store, 'www', 'https://acme-staging.example/directory')
    results, _c, errors = _runner(fake_acme, store).run(normalize_certificates(SPEC))
    assert errors == []
    assert results['www']['action'] == 'order'
    assert 'another ACME directory (https://acme-staging.example/directory)' in results['www']['reason']
    # the other CA's certificate is not 'replaced' at this CA, and its ARI was not asked
    assert 'replaces' not in ca.orders[0]
    assert not os.path.exists(os.path.join(store, 'www', 'ari.json'))


def test_certificate_from_this_directory_follows_the_usual_rules(fake_acme, tmp_path):
    ca = CA(fake_acme)
    ca.window = ('2099-01-01T00:00:00Z', '2099-01-02T00:00:00Z')
    store = str(tmp_path / 'store')
    _install_cert(store, 'www', days_left=80)
    _issuer(store, 'www', fake_acme.url('/dir') + '/')               # a trailing slash is the same directory
    results, _c, errors = _runner(fake_acme, store).run(normalize_certificates(SPEC))
    assert errors == [] and results['www']['action'] == 'none' and ca.orders == []


@pytest.mark.parametrize('window', [('2026-13-01T00:00:00Z', '2026-12-01T00:00:00Z'), (5, None)])
def test_malformed_ari_falls_back_to_the_lifetime_rule_with_a_warning(fake_acme, tmp_path, window):
    ca = CA(fake_acme)
    ca.window = window
    store = str(tmp_path / 'store')
    _install_cert(store, 'www', days_left=10)   # the lifetime rule says: renew now
    runner = _runner(fake_acme, store)
    results, _c, errors = runner.run(normalize_certificates(SPEC))
    assert errors == []
    assert results['www']['action'] == 'order'
    assert 'replaces' not in ca.orders[0], 'no replaces without usable renewal information'
    assert any('ARI' in msg and 'lifetime rule' in msg for msg in runner.warnings)


def test_malformed_ari_with_use_ari_always_is_a_clear_error(fake_acme, tmp_path):
    ca = CA(fake_acme)
    ca.window = ('2026-13-01T00:00:00Z', '2026-12-01T00:00:00Z')
    store = str(tmp_path / 'store')
    _install_cert(store, 'www', days_left=10)
    results, _c, errors = _runner(fake_acme, store, use_ari='always').run(normalize_certificates(SPEC))
    assert ca.orders == []
    assert errors and 'RFC 3339' in str(errors)


def test_normalize_certificates_validates_up_front():
    specs = normalize_certificates([{'name': 'a', 'domains': ['a.example.com']}])
    assert specs[0]['key_type'] == 'ec256' and specs[0]['challenge'] == 'http-01' and specs[0]['reuse_key'] is False
    with pytest.raises(CertpilotError, match='used twice'):
        normalize_certificates([{'name': 'a', 'domains': ['a.example.com']}, {'name': 'a', 'domains': ['b.example.com']}])
    with pytest.raises(CertpilotError, match='^w: .*dns-01'):
        normalize_certificates([{'name': 'w', 'domains': ['*.example.com']}])
    with pytest.raises(CertpilotError, match='key_type'):
        normalize_certificates([{'name': 'k', 'domains': ['a.example.com'], 'key_type': 'dsa'}])


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
def test_other_refusals_with_replaces_are_reported_not_retried_without_it(fake_acme, tmp_path, status, ptype, detail):
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


@pytest.mark.parametrize('ptype, status, detail, expected', [
    ('alreadyReplaced', 409, 'replaced by another order', True),
    ('alreadyReplaced', 400, None, True),                        # the type says it, whatever the status
    ('malformed', 400, 'the certificate in "replaces" is unknown', True),
    ('unauthorized', 403, 'Replaced certificate was not issued to this account', True),
    ('unauthorized', 403, 'account is deactivated', False),      # a 403 that has nothing to do with replaces
    ('malformed', 400, 'bad JWS', False),
    ('rejectedIdentifier', 400, 'replaces: not for this name', False),
    ('rateLimited', 429, 'too many replacements', False),
    ('serverInternal', 500, 'replaces failed', False),
])
def test_refuses_replacement_only_for_refusals_about_replaces(ptype, status, detail, expected):
    assert refuses_replacement(AcmeProblem({'type': NS + ptype, 'detail': detail}, status=status)) is expected


def test_refuses_replacement_mentions_in_a_subproblem_and_not_a_problem():
    doc = {'type': NS + 'malformed', 'detail': 'order refused',
           'subproblems': [{'type': NS + 'malformed', 'detail': 'replaces names a revoked certificate'}]}
    assert refuses_replacement(AcmeProblem(doc, status=400))
    assert not refuses_replacement(CertpilotError('replaces'))


@pytest.mark.parametrize('force', [False, True])
def test_imported_certificate_is_never_ordered_even_when_due_or_forced(fake_acme, tmp_path, force):
    ca = CA(fake_acme)
    store = str(tmp_path / 'store')
    _install_cert(store, 'www', days_left=2)                           # due by every rule
    with open(os.path.join(store, 'www', 'issuer.json'), 'w') as handle:
        json.dump({'kind': 'import', 'source': 'DigiCert (purchasing@example.com)'}, handle)
    results, challenges, errors = _runner(fake_acme, store, force=force).run(normalize_certificates(SPEC))
    assert errors == [] and challenges == [] and ca.orders == []
    assert results['www']['action'] == 'imported' and results['www']['error'] is None
    assert 'imported from DigiCert (purchasing@example.com)' in results['www']['reason']

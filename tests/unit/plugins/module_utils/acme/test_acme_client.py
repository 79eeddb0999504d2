# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/client.py: directory, nonces, bounded retries, body caps and request slots against the scripted server.

(Named test_acme_client.py, not test_client.py: alicloud/test_client.py has that base name, and pytest's
default import mode cannot collect two test modules of the same name.)"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
import time

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError, RetryLater
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient, parse_links
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem

pytestmark = pytest.mark.timeout(60)

KEY = AcmeKey.generate('ec256')


def _client(fake, seconds=30, **kwargs):
    kwargs.setdefault('retry_policy', RetryPolicy(attempts=4, base=0.01, cap=0.05, jitter=0))
    client = AcmeClient(fake.url('/dir'), verify=False, deadline=Deadline(seconds), **kwargs)
    client.set_account(KEY, fake.url('/acct/1'))
    return client


def _ok(fake, method, body, protected, path):
    if protected is None or not fake.consume(protected.get('nonce')):
        return fake.problem('badNonce', 'JWS has an invalid anti-replay nonce')
    return 200, {}, {'status': 'valid', 'path': path}


def test_nonce_pool_reuses_every_replay_nonce(fake_acme):
    fake_acme.routes['/res*'] = _ok
    client = _client(fake_acme)
    for index in range(5):
        assert client.post_as_get(fake_acme.url('/res/%d' % index)).json['status'] == 'valid'
    # one HEAD for the first POST; afterwards every response's nonce is reused
    assert fake_acme.count('HEAD', '/nonce') == 1
    assert fake_acme.count('POST') == 5
    assert client.request_count == 1 + 1 + 5  # directory, HEAD, POSTs
    assert client.nonce_pool_size() == 1


def test_bad_nonce_is_retried_with_a_fresh_nonce(fake_acme):
    rejected = {'n': 0}

    def flaky(fake, method, body, protected, path):
        fake.consume(protected.get('nonce'))
        if rejected['n'] < 3:
            rejected['n'] += 1
            return fake.problem('badNonce', 'rejected on purpose')
        return 200, {}, {'ok': True}
    fake_acme.routes['/flaky'] = flaky
    client = _client(fake_acme)
    assert client.post(fake_acme.url('/flaky'), {'a': 1}).json == {'ok': True}
    nonces = [h['nonce'] for m, p, h in fake_acme.log if p == '/flaky']
    assert len(nonces) == 4 and len(set(nonces)) == 4, 'each retry must use a different nonce'
    assert client.bad_nonce_count == 3
    assert fake_acme.count('HEAD', '/nonce') == 1, 'rejected responses still carry a usable nonce'


def test_bad_nonce_retries_are_bounded(fake_acme):
    fake_acme.routes['/never'] = lambda fake, *a: fake.problem('badNonce', 'always')
    client = _client(fake_acme, bad_nonce_retries=4)
    with pytest.raises(AcmeProblem) as err:
        client.post(fake_acme.url('/never'), {})
    assert '5 times' in err.value.msg
    assert fake_acme.count('POST', '/never') == 5


def test_503_with_retry_after_is_retried(fake_acme):
    calls = []

    def busy(fake, method, body, protected, path):
        calls.append(time.monotonic())
        if len(calls) < 3:
            return fake.problem('serverInternal', 'busy', 503, headers={'Retry-After': '1'})
        return 200, {}, {'ok': True}
    fake_acme.routes['/busy'] = busy
    client = _client(fake_acme)
    assert client.post(fake_acme.url('/busy'), {}).json == {'ok': True}
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.95 and calls[2] - calls[1] >= 0.95, 'Retry-After: 1 must be honoured'


def test_retries_are_bounded_for_5xx(fake_acme):
    fake_acme.routes['/down'] = lambda fake, *a: fake.problem('serverInternal', 'down', 500)
    client = _client(fake_acme)
    with pytest.raises(AcmeProblem) as err:
        client.post(fake_acme.url('/down'), {})
    assert fake_acme.count('POST', '/down') == 4
    assert err.value.status == 500


def test_retry_after_beyond_deadline_fails_fast(fake_acme):
    fake_acme.routes['/limited'] = lambda fake, *a: fake.problem(
        'rateLimited', 'too many certificates', 429, headers={'Retry-After': '3600'})
    client = _client(fake_acme, seconds=20)
    started = time.monotonic()
    with pytest.raises(RetryLater) as err:
        client.post(fake_acme.url('/limited'), {})
    assert time.monotonic() - started < 5
    assert 'retry after 3600 seconds' in err.value.msg and err.value.details['retry_at'].endswith('Z')
    assert fake_acme.count('POST', '/limited') == 1


def test_problem_document_with_subproblems_names_identifiers(fake_acme):
    fake_acme.routes['/new-order'] = lambda fake, *a: fake.problem(
        'rejectedIdentifier', 'Some identifiers were rejected', 400,
        subproblems=[{'type': 'urn:ietf:params:acme:error:malformed', 'detail': 'invalid domain',
                      'identifier': {'type': 'dns', 'value': 'bad..example.com'}},
                     {'type': 'urn:ietf:params:acme:error:rejectedIdentifier', 'detail': 'policy forbids',
                      'identifier': {'type': 'dns', 'value': 'evil.example.com'}}])
    client = _client(fake_acme)
    with pytest.raises(AcmeProblem) as err:
        client.post(fake_acme.url('/new-order'), {'identifiers': []}, what='creating an order', identifier='www.example.com')
    msg = err.value.msg
    assert msg.startswith('creating an order failed: www.example.com: rejectedIdentifier: Some identifiers were rejected')
    assert 'bad..example.com: malformed: invalid domain' in msg
    assert 'evil.example.com: rejectedIdentifier: policy forbids' in msg
    assert len(err.value.subproblems) == 2 and err.value.is_type('rejectedIdentifier')
    assert fake_acme.count('POST', '/new-order') == 1, 'a 400 problem is not retried'


def test_connection_errors_are_retried_then_reported():
    client = AcmeClient('http://127.0.0.1:9/dir', verify=False, deadline=Deadline(10),
                        retry_policy=RetryPolicy(attempts=3, base=0.01, cap=0.02, jitter=0))
    with pytest.raises(CertpilotError) as err:
        client.directory()
    assert 'cannot reach' in err.value.msg
    assert client.request_count == 3


def test_concurrent_posts_share_the_pool_without_reusing_a_nonce(fake_acme):
    fake_acme.routes['/res*'] = _ok
    client = _client(fake_acme, pool_size=8)
    errors = []

    def worker(index):
        try:
            for round_ in range(5):
                client.post_as_get(fake_acme.url('/res/%d/%d' % (index, round_)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    nonces = [h['nonce'] for m, p, h in fake_acme.log if m == 'POST']
    assert len(nonces) == 40 and len(set(nonces)) == 40
    assert client.bad_nonce_count == 0
    assert fake_acme.count('HEAD', '/nonce') <= 8


def test_link_header_parsing():
    header = ('<https://ca/cert/1/alt/1>;rel="alternate", <https://ca/dir>;rel="index", '
              '</cert/1/alt/2>; rel=alternate')
    assert parse_links(header, 'alternate', 'https://ca/cert/1') == ['https://ca/cert/1/alt/1', 'https://ca/cert/1/alt/2']
    assert parse_links(header, 'index', 'https://ca/') == ['https://ca/dir']
    assert parse_links(None, 'alternate', 'https://ca/') == []


def test_not_a_directory(fake_acme):
    fake_acme.routes['/bogus'] = lambda fake, *a: (200, {}, {'hello': 'world'})
    client = AcmeClient(fake_acme.url('/bogus'), verify=False, deadline=Deadline(10))
    with pytest.raises(CertpilotError, match='does not look like an ACME directory'):
        client.directory()


# -- issue 12 item 4: hostile server input is bounded and never a traceback ---------------------------

def test_retry_after_is_strict_and_bounded():
    from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import (
        MAX_RETRY_AFTER, parse_retry_after, utc_after)
    assert parse_retry_after('\u00b2') is None, 'a non-ASCII digit is not delta-seconds'
    assert parse_retry_after('1\u0663') is None
    assert parse_retry_after('9' * 19) == MAX_RETRY_AFTER
    assert parse_retry_after('9' * 400) is None
    assert parse_retry_after('Fri, 31 Dec 9999 23:59:59 GMT') == MAX_RETRY_AFTER
    assert parse_retry_after('Mon, 99 Foo 2026 99:99:99 GMT') is None
    assert utc_after(10 ** 30).startswith('20'), 'a huge wait must not overflow a datetime'


@pytest.mark.parametrize('header,expected', [('0', 1.0), ('Thu, 01 Jan 1970 00:00:00 GMT', 1.0), ('5', 5.0),
                                             ('\u00b2', None), ('x', None)])
def test_response_retry_after_is_at_least_one_second(header, expected):
    from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeResponse
    assert AcmeResponse(503, {'Retry-After': header}, b'', 'https://ca/x').retry_after == expected


def test_huge_retry_after_fails_fast_with_retry_later(fake_acme):
    fake_acme.routes['/busy'] = lambda fake, *a: fake.problem('rateLimited', 'slow down', status=429,
                                                              headers={'Retry-After': '9' * 19})
    client = _client(fake_acme, seconds=20)
    with pytest.raises(RetryLater) as err:
        client.post(fake_acme.url('/busy'), {})
    assert 'retry after' in err.value.msg
    assert fake_acme.count('POST', '/busy') == 1


def test_nonce_that_is_not_base64url_is_a_bounded_clear_error(fake_acme):
    def bad_nonce(fake, method, body, protected, path):
        return 200, {'Replay-Nonce': 'not a nonce!'}, b''
    fake_acme.routes['/res'] = bad_nonce
    client = _client(fake_acme)
    client._directory = None
    # every response (including the HEAD) carries an unusable nonce
    original = fake_acme.new_nonce
    fake_acme.new_nonce = lambda: 'bad nonce\u00e9'
    try:
        with pytest.raises(CertpilotError) as err:
            client.post(fake_acme.url('/res'), {})
    finally:
        fake_acme.new_nonce = original
    assert 'base64url' in err.value.msg
    assert 1 <= fake_acme.count('HEAD', '/nonce') <= 4, 'bounded by the retry policy, no recursion'


def test_json_body_size_is_capped_while_streaming(fake_acme):
    fake_acme.routes['/big'] = lambda fake, *a: (200, {'Content-Type': 'application/json'},
                                                 b'{"a": "' + b'x' * 5000 + b'"}')
    client = _client(fake_acme, max_json_bytes=4096)
    with pytest.raises(CertpilotError) as err:
        client.post_as_get(fake_acme.url('/big'))
    assert 'bytes' in err.value.msg and '/big' in err.value.msg


def test_each_certificate_pem_size_is_capped(fake_acme):
    pem = b'-----BEGIN CERTIFICATE-----\n' + b'A' * 3000 + b'\n-----END CERTIFICATE-----\n'
    small = b'-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'
    fake_acme.routes['/cert/big'] = lambda fake, *a: (200, {'Content-Type': 'application/pem-certificate-chain'},
                                                      small + pem)
    fake_acme.routes['/cert/ok'] = lambda fake, *a: (200, {'Content-Type': 'application/pem-certificate-chain'},
                                                     small + small)
    client = _client(fake_acme, max_pem_bytes=2048)
    accept = 'application/pem-certificate-chain'
    assert client.post_as_get(fake_acme.url('/cert/ok'), accept=accept).content == small + small
    with pytest.raises(CertpilotError) as err:
        client.post_as_get(fake_acme.url('/cert/big'), accept=accept)
    assert 'per certificate' in err.value.msg


@pytest.mark.parametrize('doc,field', [
    ({'status': 'pending', 'authorizations': 'https://ca/authz/1'}, 'authorizations'),
    ({'authorizations': [{'url': 'x'}]}, 'authorizations[0]'),
    ({'identifier': 'www.example.com'}, 'identifier'),
    ({'identifier': {'type': 'dns', 'value': 7}}, 'identifier.value'),
    ({'challenges': ['http-01']}, 'challenges[0]'),
    ({'challenges': [{'type': 'http-01', 'token': ['x']}]}, 'challenges[0].token'),
    ({'status': True}, 'status'),
    ({'wildcard': 'yes'}, 'wildcard'),
    ({'error': 'bad'}, 'error'),
    ({'suggestedWindow': {'start': 1}}, 'suggestedWindow.start'),
    ({'newNonce': 'u', 'newOrder': 'u', 'newAccount': 'u', 'meta': {'profiles': ['a']}}, 'meta.profiles'),
])
def test_every_json_field_is_type_checked_naming_url_and_field(doc, field):
    import json as jsonlib
    from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeResponse
    resp = AcmeResponse(200, {}, jsonlib.dumps(doc).encode('utf-8'), 'https://ca/thing/1')
    with pytest.raises(CertpilotError) as err:
        resp.json
    assert repr(field) in err.value.msg and 'https://ca/thing/1' in err.value.msg
    with pytest.raises(CertpilotError):
        resp.json   # still refused on the second look, never cached unchecked


def test_deeply_nested_json_is_a_clear_error():
    from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeResponse
    resp = AcmeResponse(200, {}, b'[' * 100000 + b']' * 100000, 'https://ca/deep')
    with pytest.raises(CertpilotError, match='invalid JSON'):
        resp.json


def _count_in_flight(state):
    def slow(fake, method, body, protected, path):
        if protected is not None:
            fake.consume(protected.get('nonce'))
        with state['lock']:
            state['now'] += 1
            state['peak'] = max(state['peak'], state['now'])
        time.sleep(0.05)
        with state['lock']:
            state['now'] -= 1
        return 200, {}, {'ok': True}
    return slow


@pytest.mark.parametrize('limit', [1, 3])
def test_max_in_flight_bounds_requests_not_threads(fake_acme, limit):
    """16 threads share a client with max_in_flight: never more exchanges at once than the limit, yet all finish."""
    state = {'lock': threading.Lock(), 'now': 0, 'peak': 0}
    fake_acme.routes['/slow*'] = _count_in_flight(state)
    client = _client(fake_acme, max_in_flight=limit)
    client.directory()
    done = []

    def worker(index):
        done.append(client.post_as_get(fake_acme.url('/slow/%d' % index)).json['ok'])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert done == [True] * 16
    assert state['peak'] == limit  # bounded, and the bound is reached (the threads do run concurrently)


def test_without_max_in_flight_threads_are_not_serialised(fake_acme):
    state = {'lock': threading.Lock(), 'now': 0, 'peak': 0}
    fake_acme.routes['/slow*'] = _count_in_flight(state)
    client = _client(fake_acme)
    client.directory()
    threads = [threading.Thread(target=client.get, args=(fake_acme.url('/slow/%d' % i),)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert state['peak'] > 1


def test_slot_wait_without_a_deadline_is_bounded_by_max_slot_wait(fake_acme, monkeypatch):
    """Deadline(None) never expires: MAX_SLOT_WAIT still bounds the wait for a request slot."""
    from ansible_collections.certpilot.tls.plugins.module_utils.acme import client as clientlib
    monkeypatch.setattr(clientlib, 'MAX_SLOT_WAIT', 0.6)
    fake_acme.routes['/slow*'] = lambda fake, method, body, protected, path: (200, {}, {'ok': True})
    client = _client(fake_acme, seconds=None, max_in_flight=1)
    client.directory()
    assert client._in_flight.acquire(timeout=1)  # pylint: disable=protected-access  # the one slot is taken
    started = time.monotonic()
    with pytest.raises(CertpilotError, match='no free connection slot within 0.6 seconds'):
        client.get(fake_acme.url('/slow/1'))
    assert 0.5 <= time.monotonic() - started < 5

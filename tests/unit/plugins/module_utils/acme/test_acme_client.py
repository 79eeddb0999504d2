# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
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
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem, describe_problem

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


def test_describe_problem_without_json():
    assert describe_problem({'detail': 'x'}, {'type': 'ip', 'value': '10.0.0.1'}) == '10.0.0.1: about:blank: x'


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

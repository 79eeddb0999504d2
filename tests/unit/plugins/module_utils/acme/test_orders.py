# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/orders.py: challenge entries, the failed validation of an authorization, finding a challenge, polling."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError, DeadlineExceeded, RetryLater
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey, b64u
from ansible_collections.certpilot.tls.plugins.module_utils.acme.orders import authz_error, challenge_entry, find_challenge, poll
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import OrderFailed, ValidationFailed

pytestmark = pytest.mark.timeout(60)
NS = 'urn:ietf:params:acme:error:'


def test_challenge_entry():
    key = AcmeKey.generate('ec256')
    authz = {'identifier': {'type': 'dns', 'value': 'example.com'}, 'wildcard': True}
    entry = challenge_entry('c', authz, {'type': 'dns-01', 'token': 'tok_1', 'url': 'u'}, key)
    assert entry['identifier'] == '*.example.com'
    assert entry['key_authorization'] == 'tok_1.' + key.thumbprint
    assert entry['path'] == '.well-known/acme-challenge/tok_1'
    assert entry['dns_record'] == '_acme-challenge.example.com'
    assert entry['dns_value'] == b64u(hashlib.sha256(entry['key_authorization'].encode()).digest())
    with pytest.raises(CertpilotError):
        challenge_entry('c', authz, {'type': 'http-01', 'token': '../x', 'url': 'u'}, key)


def _authz(status='invalid', challenges=None):
    return {'status': status, 'identifier': {'type': 'dns', 'value': 'www.example'}, 'challenges': challenges or []}


def test_authz_error_is_the_failed_challenge_as_a_validation_failure():
    authz = _authz(challenges=[
        {'type': 'dns-01', 'url': 'd', 'error': {'type': NS + 'dns', 'detail': 'no TXT record'}},
        {'type': 'http-01', 'url': 'h', 'error': {'type': NS + 'incorrectResponse', 'detail': 'got 404'}}])
    exc = authz_error(authz, 'http-01')
    assert isinstance(exc, ValidationFailed) and isinstance(exc, OrderFailed)
    assert exc.is_type('incorrectResponse') and exc.identifier == 'www.example'
    assert exc.msg == 'http-01 validation failed: www.example: incorrectResponse: got 404'
    assert authz_error(authz).is_type('dns'), 'without a type: the first failed challenge'


def test_authz_error_without_a_challenge_error_says_the_authorization_status():
    exc = authz_error(_authz(status='deactivated'), 'http-01')
    assert isinstance(exc, ValidationFailed) and exc.type == NS + 'unauthorized'
    assert exc.msg == 'http-01 validation failed: www.example: unauthorized: authorization is deactivated'


def test_find_challenge():
    authz = _authz('pending', [{'type': 'http-01', 'url': 'h', 'token': 't'}, {'type': 'dns-01', 'url': 'd'}])
    assert find_challenge(authz, 'dns-01')['url'] == 'd'
    with pytest.raises(CertpilotError, match=r'does not offer the tls-alpn-01 challenge .*\(offered: dns-01, http-01\)'):
        find_challenge(authz, 'tls-alpn-01')
    with pytest.raises(CertpilotError, match='the http-01 challenge has no url'):
        find_challenge(_authz('pending', [{'type': 'http-01'}]), 'http-01')


class _Resp:
    def __init__(self, retry_after=None):
        self.retry_after = retry_after


class _Clock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_poll_backs_off_until_done_and_honours_retry_after():
    clock = _Clock()
    deadline = Deadline(60, clock=clock, sleep=clock.sleep)
    answers = iter([(_Resp(), {'status': 'pending'}), (_Resp(2.0), {'status': 'pending'}),
                    (_Resp(), {'status': 'pending'}), (_Resp(), {'status': 'valid'})])
    doc = poll(lambda: next(answers), lambda d: d['status'] != 'pending', deadline, 'waiting', first_wait=0.3)
    assert doc == {'status': 'valid'}
    assert clock.slept == [0.3, 0.25, 2.0, 1.0]


def test_poll_never_waits_past_the_deadline():
    clock = _Clock()
    deadline = Deadline(5, clock=clock, sleep=clock.sleep)
    with pytest.raises(RetryLater, match='come back in 3600 seconds'):
        poll(lambda: (_Resp(3600.0), {'status': 'pending'}), lambda d: False, deadline, 'waiting')
    assert clock.slept == []

    def fetch():
        deadline.check('polling')  # as every request of the client does
        return _Resp(), {'status': 'pending'}
    with pytest.raises(DeadlineExceeded):
        poll(fetch, lambda d: False, deadline, 'waiting')
    assert sum(clock.slept) == 5

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/failures.py: the failed_certificates entries: reason, stage, the bounded problem document."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError, RetryLater
from ansible_collections.certpilot.tls.plugins.module_utils.acme import failures
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem, OrderFailed, ValidationFailed

NS = 'urn:ietf:params:acme:error:'


def test_entry_of_a_ca_problem_carries_its_document():
    exc = ValidationFailed({'type': NS + 'incorrectResponse', 'detail': 'got 404', 'status': 403,
                            'subproblems': [{'type': NS + 'dns', 'detail': 'NXDOMAIN',
                                             'identifier': {'type': 'dns', 'value': 'a.example'}}]},
                           identifier='a.example', what='http-01 validation')
    entry = failures.entry(exc, 'finalize')
    assert entry == {'msg': exc.msg, 'reason': failures.CA_PROBLEM, 'stage': 'finalize', 'retry_at': None,
                     'problem': {'type': NS + 'incorrectResponse', 'detail': 'got 404', 'status': 403,
                                 'subproblems': [{'type': NS + 'dns', 'detail': 'NXDOMAIN', 'status': None,
                                                  'identifier': {'type': 'dns', 'value': 'a.example'}}]}}


def test_entry_without_a_problem_and_with_a_retry_time():
    assert failures.entry(OrderFailed('www: the order is valid'), 'finalize') == {
        'msg': 'www: the order is valid', 'reason': failures.ERROR, 'stage': 'finalize', 'retry_at': None,
        'problem': None}
    entry = failures.entry(CertpilotError('limited'), 'order', retry_at='2026-12-02T13:00:00Z')
    assert entry['reason'] == failures.RATE_LIMITED and entry['retry_at'] == '2026-12-02T13:00:00Z'
    assert failures.entry(ValueError('boom'), 'order')['msg'] == 'ValueError: boom'


def test_problem_of_a_retry_later_is_the_refusal_it_gave_up_on():
    refusal = AcmeProblem({'type': NS + 'rateLimited', 'detail': 'slow down'}, status=429)
    try:
        try:
            raise refusal
        except AcmeProblem:
            raise RetryLater('come back later')
    except RetryLater as exc:
        assert failures.problem_of(exc) is refusal
    assert failures.problem_of(CertpilotError('x')) is None


def test_the_problem_summary_is_bounded():
    doc = {'type': NS + 'malformed', 'detail': 'd' * 5000,
           'subproblems': [{'type': NS + 'malformed', 'identifier': 'not a dict'}] * 50}
    summary = failures.problem_summary(AcmeProblem(doc))
    assert len(summary['detail']) == failures.MAX_DETAIL + 3 and summary['detail'].endswith('...')
    assert len(summary['subproblems']) == failures.MAX_SUBPROBLEMS
    assert summary['subproblems'][0]['identifier'] is None
    assert failures.problem_summary(CertpilotError('x')) is None


def test_summary_and_rate_limited_entry():
    failed = {'b': {'msg': 'second'}, 'a': {'msg': 'first'}}
    assert failures.summary(failed, 3) == '2 of 3 certificates failed: a: first; b: second'
    entry = failures.rate_limited_entry('2026-12-02T13:00:00Z', {'recorded': '2026-12-02T12:00:00Z',
                                                                 'problem': {'detail': 'slow down'}}, 'order')
    assert entry['msg'] == ('skipped: rate-limited until 2026-12-02T13:00:00Z (the CA refused it at '
                            '2026-12-02T12:00:00Z: slow down)')
    assert entry['reason'] == failures.RATE_LIMITED and entry['problem'] == {'detail': 'slow down'}

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/rate_limits.py: what a rate limit is, when it ends, and its record in the store."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import RetryLater
from ansible_collections.certpilot.tls.plugins.module_utils.acme import rate_limits
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem
from ansible_collections.certpilot.tls.plugins.module_utils.acme.store import CertStore

UTC = datetime.timezone.utc
NS = 'urn:ietf:params:acme:error:'


def test_rate_limit_helpers():
    now = datetime.datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
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


def test_a_retry_later_behind_a_rate_limit_ends_at_its_retry_at():
    now = datetime.datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
    refusal = AcmeProblem({'type': NS + 'rateLimited', 'detail': 'slow down'}, status=429)
    with pytest.raises(RetryLater) as info:
        try:
            raise refusal
        except AcmeProblem:
            raise RetryLater('come back later', retry_at='2026-12-02T13:00:00Z')
    until, problem = rate_limits.rate_limit_of(info.value, now)
    assert until == now + datetime.timedelta(hours=1) and problem is refusal
    assert rate_limits.rate_limit_of(RetryLater('no problem behind it', retry_at='2026-12-02T13:00:00Z'), now) is None


def test_record_load_and_clear(tmp_path):
    store = CertStore(str(tmp_path / 'store'))
    now = datetime.datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
    problem = AcmeProblem({'type': NS + 'rateLimited', 'detail': 'slow down'}, status=429)
    doc = rate_limits.record(store, 'www', now + datetime.timedelta(hours=1), problem, now, 'order')
    assert doc == {'until': '2026-12-02T13:00:00Z', 'recorded': '2026-12-02T12:00:00Z', 'stage': 'order',
                   'problem': {'type': NS + 'rateLimited', 'detail': 'slow down', 'status': 429, 'subproblems': []}}
    assert rate_limits.load(store, 'www', now)['until'] == now + datetime.timedelta(hours=1)
    assert rate_limits.load(store, 'www', now + datetime.timedelta(hours=1)) is None   # over at its time
    rate_limits.clear(store, 'www')
    assert store.read('www', rate_limits.FILE) is None
    rate_limits.clear(store, 'www')   # nothing to clear: no error


@pytest.mark.parametrize('status', [429, '429'])
def test_status_as_text_counts_too(status):
    assert rate_limits.is_rate_limit(AcmeProblem({'type': NS + 'malformed'}, status=status))

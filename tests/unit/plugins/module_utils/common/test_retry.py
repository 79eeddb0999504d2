# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import random

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import DeadlineExceeded, RetryLater
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import (
    RetryPolicy, Retryable, call_with_retry, parse_retry_after)


class FakeClock:
    """A clock whose sleeps only move time forward, so tests never wait."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_parse_retry_after_seconds_and_dates():
    now = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
    assert parse_retry_after('120', now) == 120.0
    assert parse_retry_after(' 7 ', now) == 7.0
    assert parse_retry_after('Thu, 01 Jan 2026 12:01:30 GMT', now) == 90.0
    # A date in the past means "now", never a negative sleep.
    assert parse_retry_after('Thu, 01 Jan 2026 11:00:00 GMT', now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after('') is None
    assert parse_retry_after('soon') is None
    assert parse_retry_after('-5') is None


def test_policy_backs_off_exponentially_with_cap():
    policy = RetryPolicy(attempts=6, base=1.0, cap=5.0, jitter=0)
    assert [policy.delay(i) for i in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    # The server's Retry-After wins when longer than our own backoff.
    assert policy.delay(0, retry_after=30) == 30.0
    assert policy.delay(3, retry_after=1) == 5.0


def test_policy_jitter_stays_in_band():
    policy = RetryPolicy(base=2.0, cap=100, jitter=0.25, rng=random.Random(7))
    delays = [policy.delay(1) for dummy in range(200)]
    assert min(delays) >= 3.0 and max(delays) <= 5.0
    assert len(set(delays)) > 1


def test_call_with_retry_retries_then_succeeds():
    clock = FakeClock()
    deadline = Deadline(60, clock=clock, sleep=clock.sleep)
    calls = []

    def attempt():
        calls.append(1)
        if len(calls) < 3:
            raise Retryable(IOError('busy'))
        return 'done'

    seen = []
    result = call_with_retry(attempt, RetryPolicy(attempts=5, base=1, jitter=0), deadline,
                             on_retry=lambda n, d, e: seen.append((n, d)))
    assert result == 'done'
    assert len(calls) == 3
    assert seen == [(1, 1.0), (2, 2.0)]
    assert clock.slept == [1.0, 2.0]


def test_call_with_retry_is_bounded_and_reraises_cause():
    clock = FakeClock()
    deadline = Deadline(600, clock=clock, sleep=clock.sleep)

    def attempt():
        raise Retryable(ValueError('still failing'))

    with pytest.raises(ValueError, match='still failing'):
        call_with_retry(attempt, RetryPolicy(attempts=4, base=1, jitter=0), deadline)
    assert len(clock.slept) == 3


def test_retry_after_beyond_deadline_fails_fast_with_time():
    clock = FakeClock()
    deadline = Deadline(30, clock=clock, sleep=clock.sleep)

    def attempt():
        raise Retryable(IOError('rate limited'), retry_after=3600, what='newOrder')

    with pytest.raises(RetryLater) as info:
        call_with_retry(attempt, RetryPolicy(attempts=5, jitter=0), deadline)
    assert clock.slept == []  # never slept for an hour
    assert 'newOrder' in info.value.msg and '3600' in info.value.msg
    assert info.value.details['retry_after'] == 3600


def test_deadline_sleep_refuses_to_cross():
    clock = FakeClock()
    deadline = Deadline(5, clock=clock, sleep=clock.sleep)
    deadline.sleep(2)
    assert deadline.remaining() == 3.0
    with pytest.raises(DeadlineExceeded):
        deadline.sleep(4, 'polling')
    assert deadline.cap(10) == 3.0


class RecordingDeadline(Deadline):
    """A Deadline on a fake clock that records what each sleep is for."""

    def __init__(self, seconds, clock):
        super(RecordingDeadline, self).__init__(seconds, clock=clock, sleep=clock.sleep)
        self.sleeps = []

    def sleep(self, seconds, what='operation'):
        self.sleeps.append((seconds, what))
        super(RecordingDeadline, self).sleep(seconds, what)


def _busy_twice():
    calls = []

    def attempt():
        calls.append(1)
        if len(calls) < 3:
            raise Retryable(IOError('busy'))
        return 'done'
    return attempt


def test_without_sleep_the_retries_sleep_on_the_deadline_naming_the_request():
    clock = FakeClock()
    deadline = RecordingDeadline(60, clock)
    assert call_with_retry(_busy_twice(), RetryPolicy(attempts=5, base=1, jitter=0), deadline,
                           what='creating an order') == 'done'
    assert deadline.sleeps == [(1.0, 'creating an order'), (2.0, 'creating an order')]
    assert clock.slept == [1.0, 2.0]


def test_the_sleep_names_what_the_attempt_retries():
    clock = FakeClock()
    deadline = RecordingDeadline(60, clock)
    calls = []

    def attempt():
        calls.append(1)
        if len(calls) < 2:
            raise Retryable(IOError('busy'), what='fetching the directory')
        return 'done'
    assert call_with_retry(attempt, RetryPolicy(attempts=3, base=1, jitter=0), deadline, what='request') == 'done'
    assert deadline.sleeps == [(1.0, 'fetching the directory')]

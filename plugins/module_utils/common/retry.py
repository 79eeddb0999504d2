# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded retries with exponential backoff, jitter and ``Retry-After``.

Both the ACME client and the Alibaba RPC client use this, so that every retry
has a bound, backs off, and never sleeps past the caller's deadline.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import random
import re
from email.utils import parsedate_to_datetime

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import RetryLater

# A server may ask for any wait; we never believe more than this (and never overflow a datetime).
MAX_RETRY_AFTER = 366 * 86400.0
_DIGITS = re.compile(r'[0-9]{1,20}')


def parse_retry_after(value, now=None):
    """Parse a ``Retry-After`` header (delta-seconds or HTTP-date) into seconds.

    Returns ``None`` for a missing or unparsable value, and never a negative number
    nor more than ``MAX_RETRY_AFTER``. Only ASCII digits count as delta-seconds
    (``'\u00b2'`` is refused, not turned into a traceback). ``now`` is a UTC ``datetime`` (for tests).
    """
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    if _DIGITS.fullmatch(value):
        return min(MAX_RETRY_AFTER, float(int(value)))
    if not value.isascii():
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        seconds = (when - now).total_seconds()
    except OverflowError:  # pragma: no cover - both are bounded datetimes
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def utc_after(seconds):
    """ISO 8601 UTC timestamp ``seconds`` from now (for 'retry at' messages)."""
    seconds = min(MAX_RETRY_AFTER, max(0.0, float(seconds)))
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return when.replace(microsecond=0).isoformat().replace('+00:00', 'Z')


class RetryPolicy:
    """How often and how long to back off.

    ``attempts`` counts the first try, so ``attempts=4`` means up to 3 retries.
    Delay n (0-based) is ``min(cap, base * 2**n)`` scaled by a random factor in
    ``[1 - jitter, 1 + jitter]`` so that concurrent workers do not retry in lockstep.
    """

    def __init__(self, attempts=5, base=0.5, cap=20.0, jitter=0.25, rng=None):
        if attempts < 1:
            raise ValueError('attempts must be >= 1')
        self.attempts = attempts
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self._rng = rng or random.Random()

    def delay(self, retry_index, retry_after=None):
        """Seconds to wait before retry number ``retry_index`` (0-based).

        A server's ``Retry-After`` wins over our own backoff when it is longer.
        """
        backoff = min(self.cap, self.base * (2 ** retry_index))
        if self.jitter:
            backoff *= 1.0 + self._rng.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            return max(float(retry_after), backoff)
        return backoff


class Retryable(Exception):
    """Raised by an attempt to ask ``call_with_retry`` for another try.

    ``cause`` is the exception to re-raise when retries run out and
    ``retry_after`` the server's requested wait, in seconds, if any.
    """

    def __init__(self, cause, retry_after=None, what=None):
        super(Retryable, self).__init__(str(cause))
        self.cause = cause
        self.retry_after = retry_after
        self.what = what


def call_with_retry(attempt, policy, deadline, what='request', on_retry=None):
    """Call ``attempt()`` until it returns, raising ``Retryable`` to ask for more tries.

    - Gives up after ``policy.attempts`` tries and re-raises the last cause.
    - If the server's ``Retry-After`` is longer than the deadline allows, raises
      ``RetryLater`` at once with the time to come back, instead of sleeping.
    - ``on_retry(n, delay, exc)`` is called before each sleep (for progress logs).
    - Sleeps with ``deadline.sleep(delay, what)`` (the waits are bound by the deadline and name the request).
    """
    last = None
    for index in range(policy.attempts):
        try:
            return attempt()
        except Retryable as exc:
            last = exc
            if index + 1 >= policy.attempts:
                break
            wait = policy.delay(index, exc.retry_after)
            if wait > deadline.remaining():
                if exc.retry_after is not None and exc.retry_after > deadline.remaining():
                    raise RetryLater(
                        '%s: the server asked us to retry after %d seconds (at %s), which is past '
                        'the %.0fs left of the timeout; run again after that time'
                        % (exc.what or what, int(exc.retry_after), utc_after(exc.retry_after), deadline.remaining()),
                        retry_at=utc_after(exc.retry_after), retry_after=exc.retry_after)
                break
            if on_retry is not None:
                on_retry(index + 1, wait, exc.cause)
            deadline.sleep(wait, exc.what or what)
    raise last.cause

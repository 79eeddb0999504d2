# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-certificate rate-limit records: ``<store>/<name>/ratelimit.json``.

When the CA refuses a certificate with HTTP 429 / ``rateLimited`` and a ``Retry-After`` longer than the
time left in the run, the certificate is skipped until that time by every later run (it must not cost
the other certificates their renewal, nor hammer the CA). The record is written atomically (through the
store's JSON helper) and removed as soon as the certificate gets through the CA again.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError, RetryLater
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import MAX_RETRY_AFTER
from ansible_collections.certpilot.tls.plugins.module_utils.common.timeutil import UTC, iso_z, parse_rfc3339
from ansible_collections.certpilot.tls.plugins.module_utils.acme.failures import problem_of, problem_summary
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import RATE_LIMITED, AcmeProblem

FILE = 'ratelimit.json'
REASON = 'rate-limited-until'


def is_rate_limit(problem):
    """True for an ACME problem that is a rate limit (HTTP 429 or type rateLimited)."""
    if not isinstance(problem, AcmeProblem):
        return False
    try:
        status = int(problem.status)
    except (TypeError, ValueError):
        status = None
    return status == 429 or problem.is_type(RATE_LIMITED)


def rate_limit_of(exc, now):
    """``(until datetime, AcmeProblem)`` when ``exc`` is a rate limit with a known end, else None.

    - ``RetryLater`` raised by the retry loop because the CA's ``Retry-After`` is past the deadline: the
      refusal it retried is its context (``Retryable.cause``); ``retry_at`` is the time to come back.
    - An ``AcmeProblem`` 429/rateLimited that carries a ``retry_after`` (seconds) attribute.
    A rate limit without a usable time is not recorded (the next run simply tries again).
    """
    if isinstance(exc, RetryLater):
        problem = problem_of(exc)
        if not is_rate_limit(problem):
            return None
        try:
            until = parse_rfc3339(exc.details.get('retry_at'), 'retry time')
        except CertpilotError:
            return None
        return _bounded(until, now), problem
    if is_rate_limit(exc):
        seconds = getattr(exc, 'retry_after', None)
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds > 0:
            return _bounded(now + datetime.timedelta(seconds=min(float(seconds), MAX_RETRY_AFTER)), now), exc
    return None


def _bounded(until, now):
    latest = now + datetime.timedelta(seconds=MAX_RETRY_AFTER)
    return min(until.astimezone(UTC), latest)


def load(store, name, now):
    """The active record of ``name`` ({'until': datetime, 'record': dict}) or None (none, expired or unreadable)."""
    doc = store.load_json(name, FILE)
    if not doc:
        return None
    try:
        until = parse_rfc3339(doc.get('until'), 'rate-limit time in %s' % store.path(name, FILE))
    except CertpilotError:
        return None  # a damaged record must not block the certificate forever
    if until <= now:
        return None
    return {'until': until, 'record': doc}


def record(store, name, until, problem, now, stage):
    """Write ``ratelimit.json`` for ``name`` (atomically). Returns the document written."""
    doc = {'until': iso_z(until), 'recorded': iso_z(now), 'stage': stage,
           'problem': problem_summary(problem)}
    store.save_json(name, FILE, doc)
    return doc


def clear(store, name):
    """Remove the record of ``name`` (the CA accepted it again)."""
    if store.read(name, FILE) is not None:
        store.remove(name, FILE)

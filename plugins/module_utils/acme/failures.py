# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``failed_certificates`` entries of acme_order / acme_finalize: one per failed certificate.

Each entry says what failed (``msg``), why in one word (``reason``), at which step (``stage``) and, when
the CA sent one, its RFC 7807 problem document (type, detail, status, subproblems), bounded in size.
Only what the CA sent about the request and our own messages go in: never a key, CSR or account secret.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import RetryLater
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem

# reason values
RATE_LIMITED = 'rate-limited-until'
CA_PROBLEM = 'ca-problem'
ERROR = 'error'

MAX_DETAIL = 1000
MAX_SUBPROBLEMS = 20


def _text(value, limit=MAX_DETAIL):
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + '...'


def _status(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def problem_summary(problem):
    """The RFC 7807 fields of an ``AcmeProblem`` (type, detail, status, subproblems), bounded; None otherwise."""
    if not isinstance(problem, AcmeProblem):
        return None
    subs = []
    for sub in problem.subproblems[:MAX_SUBPROBLEMS]:
        ident = sub.get('identifier')
        if isinstance(ident, dict):
            ident = {'type': _text(ident.get('type'), 20), 'value': _text(ident.get('value'), 300)}
        else:
            ident = None
        subs.append({'type': _text(sub.get('type'), 200), 'detail': _text(sub.get('detail')),
                     'status': _status(sub.get('status')), 'identifier': ident})
    return {'type': _text(problem.type, 200), 'detail': _text(problem.detail), 'status': _status(problem.status),
            'subproblems': subs}


def problem_of(exc):
    """The CA's problem behind ``exc``: itself, or the refusal a ``RetryLater`` gave up waiting for."""
    if isinstance(exc, AcmeProblem):
        return exc
    if isinstance(exc, RetryLater):
        context = exc.__cause__ or exc.__context__
        context = getattr(context, 'cause', context)
        if isinstance(context, AcmeProblem):
            return context
    return None


def message(exc):
    return getattr(exc, 'msg', None) or '%s: %s' % (type(exc).__name__, exc)


def entry(exc, stage, retry_at=None):
    """The ``failed_certificates`` entry for an exception raised while handling one certificate."""
    problem = problem_of(exc)
    if retry_at:
        reason = RATE_LIMITED
    elif problem is not None:
        reason = CA_PROBLEM
    else:
        reason = ERROR
    return {'msg': message(exc), 'reason': reason, 'stage': stage, 'retry_at': retry_at,
            'problem': problem_summary(problem)}


def rate_limited_entry(until_text, record, stage):
    """The entry of a certificate skipped because of a ``ratelimit.json`` record still in force."""
    problem = record.get('problem') if isinstance(record.get('problem'), dict) else None
    detail = (': %s' % problem.get('detail')) if problem and problem.get('detail') else ''
    return {'msg': 'skipped: rate-limited until %s (the CA refused it at %s%s)'
                   % (until_text, record.get('recorded') or '?', detail),
            'reason': RATE_LIMITED, 'stage': stage, 'retry_at': until_text, 'problem': problem}


def summary(failed, total):
    """One line: ``N of M certificates failed: name: msg; name: msg``."""
    return '%d of %d certificates failed: %s' % (
        len(failed), total, '; '.join('%s: %s' % (name, failed[name]['msg']) for name in sorted(failed)))

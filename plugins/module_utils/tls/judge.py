# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turning certificate facts into a status.

Status precedence, most severe first (a result gets the first that applies):

1. ``error``    - no certificate: no TLS handshake (refused, timeout, TLS alert) or unreadable file;
2. ``expired``  - the leaf's notAfter is in the past;
3. ``invalid``  - the chain does not validate, or the name does not match (RFC 6125),
                  or the leaf is not yet valid;
4. ``critical`` - days remaining < critical_days, or remaining/lifetime < critical_ratio (when set);
5. ``warning``  - days remaining < warn_days, or remaining/lifetime < warn_ratio (when set);
6. ``ok``.

Both rules are OR-ed: a certificate is ``warning`` if days < warn_days OR (when
warn_ratio is set) remaining/lifetime < warn_ratio; the same for critical. Ratios
are fractions of the certificate's own lifetime (notAfter - notBefore), so one
setting judges 90-day and 6-day certificates fairly: with warn_days=2,
warn_ratio=0.33 a 90-day certificate warns 30 days before expiry and a 6-day
certificate 2 days before.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

STATUSES = ('ok', 'warning', 'critical', 'invalid', 'expired', 'error')
SEVERITY = dict((name, rank) for rank, name in enumerate(STATUSES))
# The one order of every report, summary line and metric: most severe first.
MOST_SEVERE_FIRST = tuple(reversed(STATUSES))
FAIL_ON = {
    'never': frozenset(),
    'error': frozenset(('error', 'expired', 'invalid')),
    'critical': frozenset(('error', 'expired', 'invalid', 'critical')),
    'warning': frozenset(('error', 'expired', 'invalid', 'critical', 'warning')),
}


class Thresholds:
    """warn/critical limits in days and, optionally, as fractions of the lifetime left."""

    def __init__(self, warn_days=21, critical_days=7, warn_ratio=None, critical_ratio=None):
        for label, value in (('warn_days', warn_days), ('critical_days', critical_days)):
            if value is None or value < 0:
                raise CertpilotError('%s must be a number >= 0, got %r' % (label, value))
        if critical_days > warn_days:
            raise CertpilotError('critical_days (%s) must not be larger than warn_days (%s)' % (critical_days, warn_days))
        for label, value in (('warn_ratio', warn_ratio), ('critical_ratio', critical_ratio)):
            if value is not None and not 0.0 < value < 1.0:
                raise CertpilotError('%s must be between 0 and 1 (exclusive), got %r' % (label, value))
        if warn_ratio is not None and critical_ratio is not None and critical_ratio > warn_ratio:
            raise CertpilotError('critical_ratio (%s) must not be larger than warn_ratio (%s)' % (critical_ratio, warn_ratio))
        self.warn_days = float(warn_days)
        self.critical_days = float(critical_days)
        self.warn_ratio = warn_ratio
        self.critical_ratio = critical_ratio

    def level(self, days_remaining, remaining_ratio):
        """'critical', 'warning' or 'ok' for a certificate that is otherwise fine."""
        if days_remaining < self.critical_days or (
                self.critical_ratio is not None and remaining_ratio is not None and remaining_ratio < self.critical_ratio):
            return 'critical'
        if days_remaining < self.warn_days or (
                self.warn_ratio is not None and remaining_ratio is not None and remaining_ratio < self.warn_ratio):
            return 'warning'
        return 'ok'


def remaining_ratio(not_before, not_after, now):
    """Fraction of the lifetime left (0 when expired, 1 when just issued), None for a zero lifetime."""
    lifetime = (not_after - not_before).total_seconds()
    if lifetime <= 0:
        return None
    left = (not_after - now).total_seconds()
    return max(0.0, min(1.0, left / lifetime))


def decide_status(*, expired, not_yet_valid, chain_valid, hostname_match, days_remaining, ratio, thresholds):
    """The status of a certificate that was obtained, by the precedence documented in this module.

    ``error`` (no certificate at all) is never decided here: a result without a certificate has no facts to judge.
    """
    if expired:
        return 'expired'
    if not_yet_valid or chain_valid is False or hostname_match is False:
        return 'invalid'
    return thresholds.level(days_remaining, ratio)


def should_fail(statuses, fail_on):
    """Names of the statuses that make the task fail under ``fail_on``."""
    if fail_on not in FAIL_ON:
        raise CertpilotError('fail_on must be one of %s, got %r' % (', '.join(FAIL_ON), fail_on))
    bad = FAIL_ON[fail_on]
    return sorted(set(s for s in statuses if s in bad), key=lambda s: -SEVERITY[s])

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The renewal decision: a pure function of the current certificate and what is wanted."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

SHORT_LIFETIME = datetime.timedelta(days=10)


def default_ratio(lifetime):
    """1/3 of the lifetime, or 1/2 for short-lived certificates (< 10 days)."""
    return 0.5 if lifetime < SHORT_LIFETIME else 1.0 / 3.0


def _fmt(delta):
    seconds = int(delta.total_seconds())
    if abs(seconds) >= 86400:
        return '%.1f days' % (seconds / 86400.0)
    if abs(seconds) >= 3600:
        return '%.1f hours' % (seconds / 3600.0)
    return '%d seconds' % seconds


def decide(now, *, not_before=None, not_after=None, have_identifiers=None, want_identifiers=None,
           have_key_type=None, want_key_type=None, renew_ratio=None, renew_days=None, force=False,
           ari_renew_at=None, ari_explanation=None, issued_by_other=None):
    """Return ``(renew, reason)``. Everything after ``now`` is passed by keyword (thirteen values, most optional).

    ``issued_by_other``: the ACME directory the current certificate came from, when it is not
    the one asked for now (for example staging, before the switch to production).

    ``now``, ``not_before``, ``not_after`` and ``ari_renew_at`` are aware datetimes;
    ``not_after`` None means there is no usable certificate. Identifier lists are
    compared order-independently.
    """
    if renew_ratio is not None and not 0 < float(renew_ratio) < 1:
        raise CertpilotError('renew_ratio must be between 0 and 1 (exclusive), got %r' % (renew_ratio,))
    if renew_days is not None and float(renew_days) < 0:
        raise CertpilotError('renew_days must not be negative, got %r' % (renew_days,))
    if force:
        return True, 'forced renewal (force=true)'
    if not_after is None:
        return True, 'no certificate yet'
    if want_identifiers is not None and sorted(have_identifiers or []) != sorted(want_identifiers):
        return True, 'identifiers changed (have %s, want %s)' % (
            ', '.join(v for _t, v in sorted(have_identifiers or [])) or 'none', ', '.join(v for _t, v in sorted(want_identifiers)))
    if want_key_type is not None and have_key_type != want_key_type:
        return True, 'key type changed (have %s, want %s)' % (have_key_type, want_key_type)
    if issued_by_other:
        return True, 'the certificate comes from another ACME directory (%s)' % issued_by_other
    remaining = not_after - now
    if remaining.total_seconds() <= 0:
        return True, 'certificate expired %s ago' % _fmt(-remaining)
    lifetime = not_after - (not_before or not_after)
    if lifetime.total_seconds() > 0:
        ratio = float(renew_ratio) if renew_ratio is not None else default_ratio(lifetime)
        threshold = lifetime * ratio
        if remaining < threshold:
            return True, 'remaining lifetime %s is less than %.0f%% of the lifetime %s' % (
                _fmt(remaining), ratio * 100, _fmt(lifetime))
    if renew_days is not None and remaining < datetime.timedelta(days=float(renew_days)):
        return True, 'remaining lifetime %s is less than renew_days=%s' % (_fmt(remaining), renew_days)
    if ari_renew_at is not None and now >= ari_renew_at:
        reason = 'the CA suggests renewal (ARI window, chosen time %s)' % ari_renew_at.replace(microsecond=0).isoformat()
        if ari_explanation:
            reason += ', see %s' % ari_explanation
        return True, reason
    reason = 'certificate valid for %s more' % _fmt(remaining)
    if ari_renew_at is not None:
        reason += '; the CA suggests renewal from %s (ARI window)' % ari_renew_at.replace(microsecond=0).isoformat()
    return False, reason

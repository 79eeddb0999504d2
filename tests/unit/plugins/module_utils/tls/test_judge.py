# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls/judge.py: status precedence, thresholds and fail_on."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.tls import judge


# ---- status precedence and thresholds --------------------------------------------------------------
T = judge.Thresholds(warn_days=21, critical_days=7)


@pytest.mark.parametrize('args,expected', [
    # (expired, not_yet_valid, chain_valid, hostname_match, days)
    ((True, True, False, False, -5), 'expired'),
    ((True, False, False, False, -5), 'expired'),
    ((True, False, True, True, -0.01), 'expired'),
    ((False, False, False, True, 2), 'invalid'),       # invalid beats critical
    ((False, False, True, False, 2), 'invalid'),
    ((False, True, True, True, 90), 'invalid'),        # not yet valid
    ((False, False, True, None, 2), 'critical'),       # files: no hostname check
    ((False, False, True, True, 6.99), 'critical'),
    ((False, False, True, True, 7.0), 'warning'),
    ((False, False, True, True, 20.99), 'warning'),
    ((False, False, True, True, 21.0), 'ok'),
])
def test_status_precedence(args, expected):
    expired, nyv, chain, host, days = args
    assert judge.decide_status(expired=expired, not_yet_valid=nyv, chain_valid=chain, hostname_match=host,
                               days_remaining=days, ratio=None, thresholds=T) == expected


def test_ratio_judgement_short_and_long_lived():
    now = datetime.datetime(2026, 1, 10, tzinfo=datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    t = judge.Thresholds(warn_days=2, critical_days=1, warn_ratio=0.33, critical_ratio=0.15)
    # 90-day cert with 29 days left: ratio 0.32 -> warning, although days >> warn_days.
    nb, na = now - 61 * day, now + 29 * day
    ratio = judge.remaining_ratio(nb, na, now)
    assert abs(ratio - 29 / 90.0) < 1e-9
    assert t.level(29, ratio) == 'warning'
    # Same cert with 12 days left: ratio 0.13 -> critical.
    assert t.level(12, judge.remaining_ratio(now - 78 * day, now + 12 * day, now)) == 'critical'
    # 6-day cert with 2.5 days left: ratio 0.42 -> ok (days above 2, ratio above 0.33).
    assert t.level(2.5, judge.remaining_ratio(now - 3.5 * day, now + 2.5 * day, now)) == 'ok'
    # 6-day cert with 1.5 days left: days < warn_days -> warning.
    assert t.level(1.5, judge.remaining_ratio(now - 4.5 * day, now + 1.5 * day, now)) == 'warning'
    # Without ratios the same 90-day cert with 29 days left is ok.
    assert judge.Thresholds(2, 1).level(29, ratio) == 'ok'
    assert judge.remaining_ratio(now, now, now) is None
    assert judge.remaining_ratio(now - 10 * day, now - day, now) == 0.0


@pytest.mark.parametrize('kwargs', [
    dict(warn_days=5, critical_days=10), dict(warn_ratio=1.5), dict(critical_ratio=0),
    dict(warn_ratio=0.2, critical_ratio=0.3), dict(warn_days=-1, critical_days=-2),
])
def test_thresholds_reject_nonsense(kwargs):
    with pytest.raises(CertpilotError):
        judge.Thresholds(**kwargs)


def test_fail_on_sets():
    statuses = ['ok', 'warning', 'critical']
    assert judge.should_fail(statuses, 'never') == []
    assert judge.should_fail(statuses, 'error') == []
    assert judge.should_fail(statuses, 'critical') == ['critical']
    assert judge.should_fail(statuses, 'warning') == ['critical', 'warning']
    assert judge.should_fail(['expired', 'ok'], 'error') == ['expired']
    assert judge.should_fail(['invalid', 'error'], 'error') == ['error', 'invalid']
    with pytest.raises(CertpilotError):
        judge.should_fail([], 'sometimes')

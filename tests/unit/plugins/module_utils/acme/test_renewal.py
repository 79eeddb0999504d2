# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme.renewal import decide

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
DAY = datetime.timedelta(days=1)
IDS = [('dns', 'a.example.com'), ('dns', 'b.example.com')]


def _cert(issued_days_ago, lifetime_days):
    start = NOW - DAY * issued_days_ago
    return start, start + DAY * lifetime_days


# (issued days ago, lifetime days, kwargs, expected renew, reason fragment)
TABLE = [
    (10, 90, {}, False, 'valid for'),
    (59, 90, {}, False, 'valid for'),             # 31 days left > 30 (1/3 of 90)
    (61, 90, {}, True, '33% of the lifetime'),     # 29 days left < 30
    (89.5, 90, {}, True, 'less than'),
    (91, 90, {}, True, 'expired'),
    (2, 6, {}, False, 'valid for'),                # short-lived: 4 of 6 days left, ratio 1/2 -> 3
    (3.5, 6, {}, True, '50% of the lifetime'),     # 2.5 < 3
    (40, 90, {'renew_ratio': 0.6}, True, '60%'),   # 50 < 54
    (30, 90, {'renew_ratio': 0.6}, False, 'valid for'),
    (30, 90, {'renew_days': 70}, True, 'renew_days=70'),
    (30, 90, {'renew_days': 50}, False, 'valid for'),
    (1, 90, {'force': True}, True, 'forced'),
    (1, 90, {'have_identifiers': IDS[:1]}, True, 'identifiers changed'),
    (1, 90, {'have_identifiers': list(reversed(IDS))}, False, 'valid for'),   # order does not matter
    (1, 90, {'have_key_type': 'rsa2048'}, True, 'key type changed'),
    (1, 90, {'ari_renew_at': NOW - DAY}, True, 'ARI'),
    (1, 90, {'ari_renew_at': NOW + DAY}, False, 'valid for'),
    (1, 90, {'ari_renew_at': NOW + DAY}, False, 'suggests renewal from 2026-01-11T12:00:00+00:00 (ARI window)'),
    # staging certificate, production asked for: renew at once, whatever the lifetime says
    (1, 90, {'issued_by_other': 'https://acme-staging.example/dir'}, True, 'another ACME directory (https://acme-staging.example/dir)'),
]


@pytest.mark.parametrize('ago,lifetime,kwargs,expected,fragment', TABLE)
def test_decision_table(ago, lifetime, kwargs, expected, fragment):
    start, end = _cert(ago, lifetime)
    args = {'have_identifiers': IDS, 'want_identifiers': IDS, 'have_key_type': 'ec256', 'want_key_type': 'ec256'}
    args.update(kwargs)
    renew, reason = decide(NOW, not_before=start, not_after=end, **args)
    assert renew is expected, reason
    assert fragment in reason


def test_missing_certificate():
    assert decide(NOW, want_identifiers=IDS) == (True, 'no certificate yet')


def test_bad_parameters_are_clear():
    start, end = _cert(1, 90)
    with pytest.raises(CertpilotError, match='renew_ratio'):
        decide(NOW, not_before=start, not_after=end, have_identifiers=IDS, want_identifiers=IDS, renew_ratio=1.5)
    with pytest.raises(CertpilotError, match='renew_days'):
        decide(NOW, not_before=start, not_after=end, have_identifiers=IDS, want_identifiers=IDS, renew_days=-1)


def test_everything_after_now_is_keyword_only():
    start, end = _cert(1, 90)
    with pytest.raises(TypeError):
        decide(NOW, start, end)  # pylint: disable=too-many-function-args
    assert decide(NOW, not_before=start, not_after=end)[0] is False

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""common/timeutil: one output format, strict RFC 3339 parsing."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common import timeutil
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError


def test_iso_z_is_utc_whole_seconds_with_z():
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    assert timeutil.iso_z(datetime.datetime(2026, 12, 2, 13, 15, 18, 999999, tzinfo=plus2)) == '2026-12-02T11:15:18Z'
    assert timeutil.iso_z(datetime.datetime(2026, 12, 2, 11, 15, 18)) == '2026-12-02T11:15:18Z'  # naive = UTC
    assert timeutil.iso_z(None) is None


def test_now_is_aware_utc():
    assert timeutil.now().tzinfo is timeutil.UTC


@pytest.mark.parametrize('text, want', [
    ('2026-12-02T11:15:18Z', datetime.datetime(2026, 12, 2, 11, 15, 18, tzinfo=timeutil.UTC)),
    ('2026-12-02t11:15:18.5z', datetime.datetime(2026, 12, 2, 11, 15, 18, 500000, tzinfo=timeutil.UTC)),
    ('2026-12-02 13:15:18+02:00', datetime.datetime(2026, 12, 2, 11, 15, 18, tzinfo=timeutil.UTC)),
    ('2026-12-02T11:15:18.123456789-00:30', datetime.datetime(2026, 12, 2, 11, 45, 18, 123456, tzinfo=timeutil.UTC)),
])
def test_parse_rfc3339(text, want):
    assert timeutil.parse_rfc3339(text) == want


@pytest.mark.parametrize('text', [
    '2026-13-02T11:15:18Z',           # month 13
    '2026-02-30T11:15:18Z',           # no such day
    '2026-12-02T25:15:18Z',           # hour 25
    '2026-12-02T11:15:18+24:00',      # offset out of range
    '\u0662026-12-02T11:15:18Z',      # a non-ASCII digit
    '2026-12-02T11:15:18', '', None, 42, 'soon',
])
def test_parse_rfc3339_refuses_with_a_clear_error(text):
    with pytest.raises(CertpilotError) as info:
        timeutil.parse_rfc3339(text, what='ARI window start')
    assert 'invalid RFC 3339 ARI window start' in info.value.msg

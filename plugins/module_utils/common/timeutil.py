# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time in one place: the UTC zone, one ISO 8601 output format, strict RFC 3339 parsing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

UTC = datetime.timezone.utc
# ASCII digits only: '\d' would also take '²' or Arabic-Indic digits.
_RFC3339_RE = re.compile(r'^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?'
                         r'([Zz]|[+-][0-9]{2}:[0-9]{2})$')


def now():
    """The current time, timezone-aware, in UTC."""
    return datetime.datetime.now(UTC)


def iso_z(when):
    """``2026-12-02T11:15:18Z`` (UTC, whole seconds), or None for None. The one output format."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_rfc3339(text, what='timestamp'):
    """RFC 3339 text -> aware UTC datetime; CertpilotError naming ``what`` for anything else (month 13 included)."""
    match = _RFC3339_RE.match(str(text if text is not None else '').strip())
    if not match:
        raise CertpilotError('invalid RFC 3339 %s %r' % (what, text))
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    micro = int((match.group(7) or '.0')[1:7].ljust(6, '0'))
    zone = match.group(8)
    try:
        if zone in ('Z', 'z'):
            tz = UTC
        else:
            sign = 1 if zone[0] == '+' else -1
            tz = datetime.timezone(sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        return datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise CertpilotError('invalid RFC 3339 %s %r: %s' % (what, text, exc))

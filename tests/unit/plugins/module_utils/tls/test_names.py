# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls/names.py: server identity checks (RFC 6125, as browsers apply it)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.tls.names import dns_name_matches, match_hostname


# (presented pattern, reference name, expected) - RFC 6125 section 6.4 and browser practice.
DNS_TABLE = [
    ('www.example.com', 'www.example.com', True),
    ('WWW.Example.COM', 'www.example.com', True),
    ('www.example.com.', 'www.example.com', True),
    ('www.example.com', 'www.example.com.', True),
    ('www.example.com', 'example.com', False),
    ('*.example.com', 'www.example.com', True),
    ('*.example.com', 'WWW.EXAMPLE.COM', True),
    ('*.example.com', 'example.com', False),            # wildcard needs one label
    ('*.example.com', 'a.b.example.com', False),        # exactly one label
    ('*.example.com', '.example.com', False),
    ('w*.example.com', 'www.example.com', False),       # partial wildcard
    ('*w.example.com', 'www.example.com', False),
    ('www.*.example.com', 'www.a.example.com', False),  # not left-most
    ('*.*.example.com', 'a.b.example.com', False),
    ('*.com', 'example.com', False),                    # too broad
    ('*', 'localhost', False),
    ('*.example.com', 'xn--bcher-kva.example.com', False),  # never match an A-label with a wildcard
    ('xn--bcher-kva.example.com', 'bücher.example.com', True),  # U-label reference converted to A-label
    ('bücher.example.com', 'xn--bcher-kva.example.com', True),
    ('www.example.com', 'www.example.org', False),
]


@pytest.mark.parametrize('pattern,name,expected', DNS_TABLE)
def test_dns_name_matching_table(pattern, name, expected):
    assert dns_name_matches(pattern, name) is expected


def test_ip_reference_only_matches_ip_sans():
    ips = [ipaddress.ip_address('192.0.2.10'), ipaddress.ip_address('2001:db8::1')]
    assert match_hostname('192.0.2.10', [], ips, []) is True
    assert match_hostname('2001:db8:0:0::1', [], ips, []) is True
    assert match_hostname('[2001:db8::1]', [], ips, []) is True
    assert match_hostname('192.0.2.11', [], ips, []) is False
    # An IP written as a DNS SAN or CN does not count.
    assert match_hostname('192.0.2.10', ['192.0.2.10'], [], ['192.0.2.10']) is False


def test_common_name_ignored_when_sans_present():
    assert match_hostname('legacy.example.com', ['www.example.com'], [], ['legacy.example.com']) is False
    assert match_hostname('legacy.example.com', [], [ipaddress.ip_address('192.0.2.1')], ['legacy.example.com']) is False
    # Without any SAN, the CN is the only identity (legacy certificates).
    assert match_hostname('legacy.example.com', [], [], ['legacy.example.com']) is True
    assert match_hostname('other.example.com', [], [], ['legacy.example.com']) is False
    assert match_hostname('', ['www.example.com'], [], []) is False

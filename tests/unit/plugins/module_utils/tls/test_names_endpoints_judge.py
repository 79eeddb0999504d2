# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.tls import judge
from ansible_collections.certpilot.tls.plugins.module_utils.tls.endpoints import parse_endpoint, parse_file, split_hostport
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


@pytest.mark.parametrize('text,host,port', [
    ('example.com', 'example.com', None),
    ('example.com:8443', 'example.com', 8443),
    ('192.0.2.1:25', '192.0.2.1', 25),
    ('[2001:db8::1]:443', '2001:db8::1', 443),
    ('[::1]', '::1', None),
    ('2001:db8::1', '2001:db8::1', None),
    (' example.com:1 ', 'example.com', 1),
])
def test_split_hostport(text, host, port):
    assert split_hostport(text) == (host, port)


@pytest.mark.parametrize('bad', ['', 'example.com:0', 'example.com:65536', 'example.com:https', '[2001:db8::1',
                                 '[example.com]:443', 'exa mple.com', 'https://example.com/', '2001:db8::zz',
                                 '[::1]443', 'a..b', 'bad_*host'])
def test_split_hostport_rejects_bad_input_with_clear_error(bad):
    with pytest.raises(CertpilotError) as info:
        split_hostport(bad)
    assert 'endpoint' in str(info.value)


def test_parse_endpoint_dict_defaults_and_starttls_ports():
    ep = parse_endpoint({'host': 'mail.example.com', 'starttls': 'smtp'})
    assert (ep.host, ep.port, ep.server_name, ep.starttls) == ('mail.example.com', 25, 'mail.example.com', 'smtp')
    assert parse_endpoint({'host': 'db', 'starttls': 'postgres'}).port == 5432
    ep = parse_endpoint({'host': 'lb.example.com', 'port': '8443', 'server_name': 'shop.example.com',
                         'address': '192.0.2.7', 'name': 'shop'})
    assert (ep.port, ep.server_name, ep.address, ep.name) == (8443, 'shop.example.com', '192.0.2.7', 'shop')
    ep = parse_endpoint({'host': '[2001:db8::2]:8443'})
    assert (ep.host, ep.port, ep.name) == ('2001:db8::2', 8443, '[2001:db8::2]:8443')
    ep = parse_endpoint({'host': '192.0.2.1', 'server_name': 'www.example.com'})
    assert ep.name == 'www.example.com@192.0.2.1:443'
    assert parse_endpoint('example.com').name == 'example.com:443'


@pytest.mark.parametrize('item,message', [
    ({'port': 443}, '"host" is required'),
    ({'host': 'a.example', 'starttls': 'xmpp'}, 'starttls must be one of'),
    ({'host': 'a.example', 'colour': 'red'}, 'unknown key(s) colour'),
    ({'host': 'a.example:443', 'port': 443}, 'port given both'),
    ({'host': 'a.example', 'address': 'not a name'}, 'not a valid host name or IP address'),
    ({'host': 'a.example', 'port': True}, 'port must be a number'),
    (42, 'expected "host[:port]" or a dict'),
])
def test_parse_endpoint_errors(item, message):
    with pytest.raises(CertpilotError) as info:
        parse_endpoint(item, index=3)
    assert message in str(info.value)
    assert 'endpoints[3]' in str(info.value)


def test_parse_file_forms():
    assert parse_file('/etc/x.pem').name == '/etc/x.pem'
    entry = parse_file({'path': '/etc/x.pem', 'name': 'x', 'server_name': 'x.example'})
    assert (entry.path, entry.name, entry.server_name) == ('/etc/x.pem', 'x', 'x.example')
    with pytest.raises(CertpilotError):
        parse_file({'name': 'x'})


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

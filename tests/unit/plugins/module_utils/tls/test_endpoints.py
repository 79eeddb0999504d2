# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tls/endpoints.py: endpoint and file items (host:port forms, dicts, expect)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.tls.endpoints import (
    parse_endpoint, parse_file, split_hostport)

pytestmark = pytest.mark.timeout(60)


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


def test_expect_is_validated_and_normalized():
    leaf = 'AB:' * 31 + 'AB'
    ep = parse_endpoint({'host': 'a.test', 'expect': {'fingerprint_sha256': leaf, 'chain_sha256': ['cd' * 32]}})
    assert ep.expect == {'fingerprint_sha256': 'ab' * 32, 'chain_sha256': ['cd' * 32]}
    for bad, word in [({'fingerprint_sha256': 'ab' * 32}, 'chain_sha256'),
                      ({'chain_sha256': []}, 'fingerprint_sha256'),
                      ({'fingerprint_sha256': 'xyz', 'chain_sha256': []}, 'not a SHA-256'),
                      ({'fingerprint_sha256': 'ab' * 32, 'chain_sha256': 'cd' * 32}, 'must be a list'),
                      ({'fingerprint_sha256': 'ab' * 32, 'chain_sha256': [], 'extra': 1}, 'unknown key'),
                      ('ab' * 32, 'expected a dict')]:
        with pytest.raises(CertpilotError) as err:
            parse_endpoint({'host': 'a.test', 'expect': bad}, index=4)
        assert word in err.value.msg and 'endpoints[4] expect' in err.value.msg

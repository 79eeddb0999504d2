# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``address`` of an endpoint may be a host name, resolved on the controller; failure is an error."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.tls import endpoints


def _fake(answers):
    def getaddrinfo(host, port, family, kind):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')
        return [(fam, socket.SOCK_STREAM, 6, '', (addr, port) if fam == socket.AF_INET else (addr, port, 0, 0))
                for fam, addr in answers[host]]
    return getaddrinfo


def test_ip_addresses_are_kept():
    assert endpoints.resolve_address('192.0.2.1', 443, 'x') == '192.0.2.1'
    assert endpoints.resolve_address('[2001:db8::1]', 443, 'x') == '2001:db8::1'


@pytest.mark.parametrize('family, addr', [(socket.AF_INET, '192.0.2.7'), (socket.AF_INET6, '2001:db8::7')])
def test_host_names_resolve_to_ipv4_or_ipv6(family, addr):
    got = endpoints.resolve_address('web1.example.test', 443, 'x', getaddrinfo=_fake({'web1.example.test': [(family, addr)]}))
    assert got == addr


def test_unresolvable_name_fails_closed():
    with pytest.raises(CertpilotError) as err:
        endpoints.resolve_address('nowhere.invalid', 443, 'endpoints[0]', getaddrinfo=_fake({}))
    assert 'nowhere.invalid' in err.value.msg and 'does not resolve' in err.value.msg


def test_invalid_address_is_refused():
    with pytest.raises(CertpilotError):
        endpoints.resolve_address('bad name!', 443, 'x', getaddrinfo=_fake({}))


def test_parse_endpoint_resolves_localhost():
    ep = endpoints.parse_endpoint({'host': 'www.example.test', 'address': 'localhost', 'port': 8443})
    assert ep.address in ('127.0.0.1', '::1') and ep.server_name == 'www.example.test'

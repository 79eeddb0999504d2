# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``address`` of an endpoint may be a host name, resolved where the module runs (IPv4 and IPv6) under the
endpoint's deadline; a name that does not resolve is that endpoint's error, the others are still checked."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import socket

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.tls import endpoints
from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import CertCache
from ansible_collections.certpilot.tls.plugins.module_utils.tls.facts import Collector, Options
from ansible_collections.certpilot.tls.plugins.module_utils.tls.probe import ProbeError, Resolver
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import NOW, server_tls_context

pytestmark = pytest.mark.timeout(60)


def _fake(answers):
    def getaddrinfo(host, port, family, kind):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')
        return [(fam, socket.SOCK_STREAM, 6, '', (addr, port) if fam == socket.AF_INET else (addr, port, 0, 0))
                for fam, addr in answers[host]]
    return getaddrinfo


def test_ip_addresses_are_kept_and_names_are_not_resolved_while_parsing():
    assert endpoints.parse_endpoint({'host': 'a.test', 'address': '192.0.2.1'}).address == '192.0.2.1'
    assert endpoints.parse_endpoint({'host': 'a.test', 'address': '[2001:db8::1]'}).address == '2001:db8::1'
    # A name that does not resolve is no input error: it is resolved (and fails) when the endpoint is probed.
    assert endpoints.parse_endpoint({'host': 'a.test', 'address': 'nowhere.invalid'}).address == 'nowhere.invalid'


def test_invalid_address_is_refused():
    with pytest.raises(CertpilotError) as err:
        endpoints.parse_endpoint({'host': 'a.test', 'address': 'bad name!'}, index=2)
    assert 'endpoints[2]' in err.value.msg


@pytest.mark.parametrize('family, addr', [(socket.AF_INET, '192.0.2.7'), (socket.AF_INET6, '2001:db8::7')])
def test_host_names_resolve_to_ipv4_or_ipv6(family, addr):
    resolver = Resolver(getaddrinfo=_fake({'web1.example.test': [(family, addr)]}))
    assert resolver.resolve('web1.example.test', 443, Deadline(5)) == [(family, (addr, 443))]


def test_both_families_in_resolver_order():
    answers = {'dual.example.test': [(socket.AF_INET6, '2001:db8::9'), (socket.AF_INET, '192.0.2.9')]}
    resolver = Resolver(getaddrinfo=_fake(answers))
    got = resolver.resolve('dual.example.test', 8443, Deadline(5))
    assert got == [(socket.AF_INET6, ('2001:db8::9', 8443)), (socket.AF_INET, ('192.0.2.9', 8443))]


def test_unresolvable_name_is_a_probe_error():
    with pytest.raises(ProbeError) as err:
        Resolver(getaddrinfo=_fake({})).resolve('nowhere.invalid', 443, Deadline(5))
    assert 'nowhere.invalid' in err.value.msg


def test_unresolvable_address_is_one_endpoint_error_and_the_others_are_checked(tiny_server, pki, tmp_path):
    leaf = pki.leaf('srv.unit.test')
    ctx = server_tls_context(tmp_path, [leaf, pki.inter], leaf.key_pem)

    def script(conn):
        tls = ctx.wrap_socket(conn, server_side=True)
        try:
            tls.recv(1)
        except OSError:
            pass
        tls.close()
    server = tiny_server(script)
    collector = Collector(Options(timeout=3, retries=0, system_roots=False), now=NOW,
                          roots=[CertCache().get(pki.root.der)])
    collector.resolver = Resolver(getaddrinfo=_fake({'web1.unit.test': [(socket.AF_INET, '127.0.0.1')]}))
    parsed = endpoints.parse_endpoints([
        {'host': 'srv.unit.test', 'address': 'nowhere.unit.invalid', 'port': server.port, 'name': 'gone'},
        {'host': 'srv.unit.test', 'address': 'web1.unit.test', 'port': server.port, 'name': 'named'},
        {'host': 'srv.unit.test', 'address': '127.0.0.1', 'port': server.port, 'name': 'ip'},
    ])
    gone, named, ip = collector.run(parsed, [])
    assert gone['status'] == 'error'
    assert 'nowhere.unit.invalid' in gone['error'] and 'does not resolve' in gone['error'] and 'gone' in gone['error']
    assert gone['address'] == 'nowhere.unit.invalid' and gone['fingerprint_sha256'] is None
    for result in (named, ip):
        assert result['status'] == 'ok', result
        assert result['address'] == '127.0.0.1'
        assert result['fingerprint_sha256'] == hashlib.sha256(leaf.der).hexdigest()

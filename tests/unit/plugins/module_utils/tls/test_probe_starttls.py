# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""STARTTLS dialogues and handshakes against tiny loopback servers."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket
import struct
import time

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import CertCache
from ansible_collections.certpilot.tls.plugins.module_utils.tls.endpoints import parse_endpoint
from ansible_collections.certpilot.tls.plugins.module_utils.tls.facts import Collector, Options
from ansible_collections.certpilot.tls.plugins.module_utils.tls.probe import ProbeError, Resolver, make_context, probe
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import server_tls_context

pytestmark = pytest.mark.timeout(60)


def _lines(conn):
    """Read one CRLF line from a plain socket."""
    data = b''
    while not data.endswith(b'\n'):
        chunk = conn.recv(1)
        if not chunk:
            raise EOFError('client went away')
        data += chunk
    return data.decode()


def _tls(conn, ctx):
    tls = ctx.wrap_socket(conn, server_side=True)
    try:
        tls.recv(1)  # wait for the client to close
    except OSError:
        pass
    tls.close()


def smtp_script(ctx, seen, offer=True):
    def script(conn):
        conn.sendall(b'220-mx.unit.test ESMTP\r\n220 ready\r\n')
        seen.append(_lines(conn))
        caps = b'250-mx.unit.test\r\n250-PIPELINING\r\n' + (b'250-STARTTLS\r\n' if offer else b'') + b'250 8BITMIME\r\n'
        conn.sendall(caps)
        if not offer:
            return
        seen.append(_lines(conn))
        conn.sendall(b'220 go ahead\r\n')
        _tls(conn, ctx)
    return script


def imap_script(ctx, seen):
    def script(conn):
        conn.sendall(b'* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n')
        seen.append(_lines(conn))
        conn.sendall(b'* informational untagged line\r\na001 OK Begin TLS negotiation now\r\n')
        _tls(conn, ctx)
    return script


def pop3_script(ctx, seen):
    def script(conn):
        conn.sendall(b'+OK POP3 ready\r\n')
        seen.append(_lines(conn))
        conn.sendall(b'+OK begin TLS\r\n')
        _tls(conn, ctx)
    return script


def ftp_script(ctx, seen):
    def script(conn):
        conn.sendall(b'220-Welcome\r\n220-to the\r\n220 FTP server\r\n')
        seen.append(_lines(conn))
        conn.sendall(b'234 AUTH TLS successful\r\n')
        _tls(conn, ctx)
    return script


def postgres_script(ctx, seen, answer=b'S'):
    def script(conn):
        data = b''
        while len(data) < 8:
            data += conn.recv(8 - len(data))
        seen.append(data)
        conn.sendall(answer)
        if answer == b'S':
            _tls(conn, ctx)
    return script


def _probe(port, starttls, timeout=5.0, retries=0, name='srv.unit.test'):
    endpoint = parse_endpoint({'host': '127.0.0.1', 'port': port, 'starttls': starttls, 'server_name': name})
    return probe(endpoint, make_context(), Resolver(), timeout, retries)


@pytest.fixture
def served(pki, tmp_path):
    leaf = pki.leaf('srv.unit.test')
    return leaf, server_tls_context(tmp_path, [leaf, pki.inter], leaf.key_pem)


@pytest.mark.parametrize('kind,script,expected_client_bytes', [
    ('smtp', smtp_script, ['EHLO certpilot.invalid\r\n', 'STARTTLS\r\n']),
    ('imap', imap_script, ['a001 STARTTLS\r\n']),
    ('pop3', pop3_script, ['STLS\r\n']),
    ('ftp', ftp_script, ['AUTH TLS\r\n']),
    ('postgres', postgres_script, [struct.pack('!ii', 8, 80877103)]),
])
def test_starttls_dialogues_reach_the_tls_handshake(tiny_server, served, pki, kind, script, expected_client_bytes):
    leaf, ctx = served
    seen = []
    server = tiny_server(script(ctx, seen))
    shake = _probe(server.port, kind)
    assert seen == expected_client_bytes
    # The whole presented chain, leaf first, exactly as the server sent it.
    assert shake.chain_der == [leaf.der, pki.inter.der]
    assert shake.tls_version.startswith('TLS')
    assert not server.errors


def test_smtp_without_starttls_is_a_clear_error(tiny_server, served):
    _leaf, ctx = served
    server = tiny_server(smtp_script(ctx, [], offer=False))
    with pytest.raises(ProbeError) as info:
        _probe(server.port, 'smtp')
    assert 'does not offer STARTTLS' in str(info.value)


def test_postgres_refusing_ssl(tiny_server, served):
    _leaf, ctx = served
    server = tiny_server(postgres_script(ctx, [], answer=b'N'))
    with pytest.raises(ProbeError) as info:
        _probe(server.port, 'postgres')
    assert 'does not accept SSL' in str(info.value)


def test_data_after_go_ahead_is_refused(tiny_server, served):
    """STARTTLS command injection: bytes after the 220 must not be fed into TLS."""
    _leaf, ctx = served

    def script(conn):
        conn.sendall(b'+OK ready\r\n')
        _lines(conn)
        conn.sendall(b'+OK go\r\n+OK injected\r\n')
        time.sleep(0.5)
    server = tiny_server(script)
    with pytest.raises(ProbeError) as info:
        _probe(server.port, 'pop3')
    assert 'unexpected data before the TLS handshake' in str(info.value)


def test_slow_drip_greeting_cannot_outlive_the_deadline(tiny_server):
    def script(conn):
        for _drop in range(100):
            conn.sendall(b'2')  # never a full line
            time.sleep(0.1)
    server = tiny_server(script)
    start = time.monotonic()
    with pytest.raises(ProbeError) as info:
        _probe(server.port, 'smtp', timeout=1.0)
    elapsed = time.monotonic() - start
    assert 'timed out' in str(info.value)
    assert elapsed < 2.0  # the server would drip for 10 s


def test_tarpit_handshake_bounded_by_timeout_even_with_retries(tiny_server):
    def script(_conn):
        time.sleep(4)  # accept, read nothing, answer nothing
    server = tiny_server(script)
    start = time.monotonic()
    with pytest.raises(ProbeError) as info:
        _probe(server.port, 'none', timeout=1.0, retries=3)
    elapsed = time.monotonic() - start
    assert 'timed out' in str(info.value)
    assert 0.9 < elapsed < 2.0  # one timeout, not (retries + 1) x timeout = 4 s


def test_refused_is_retried_within_the_budget_tls_alert_is_not(tiny_server):
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    start = time.monotonic()
    with pytest.raises(ProbeError) as info:
        _probe(port, 'none', timeout=3.0, retries=2)
    assert 'connection refused' in str(info.value)
    # Two backoffs of ~0.1 and ~0.2 s happened (jitter 25 %), well inside the budget.
    assert 0.15 < time.monotonic() - start < 1.5

    def not_tls(conn):
        conn.recv(1024)
        conn.sendall(b'HTTP/1.0 400 Bad Request\r\n\r\n')
    server = tiny_server(not_tls)
    with pytest.raises(ProbeError) as info:
        _probe(server.port, 'none', timeout=3.0, retries=3)
    assert 'TLS handshake failed' in str(info.value)
    assert server.accepted == 1  # protocol errors are answers, not retried


def test_collector_reports_presented_chain_that_does_not_verify(tiny_server, pki, tmp_path):
    """Expired and self-signed certificates are recorded, not hidden behind a handshake error."""
    from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import DAY, NOW, issue
    expired = pki.leaf('old.unit.test', not_before=NOW - 60 * DAY, not_after=NOW - 3 * DAY)
    ctx = server_tls_context(tmp_path, [expired, pki.inter], expired.key_pem)
    server = tiny_server(lambda conn: _tls(conn, ctx))
    selfsigned = issue('self.unit.test', dns=['self.unit.test'])
    (tmp_path / 'b').mkdir()
    ctx2 = server_tls_context(tmp_path / 'b', [selfsigned], selfsigned.key_pem)
    server2 = tiny_server(lambda conn: _tls(conn, ctx2))
    collector = Collector(Options(timeout=3, system_roots=False), now=NOW, roots=[CertCache().get(pki.root.der)])
    first = collector.endpoint_result(parse_endpoint({'host': '127.0.0.1', 'port': server.port,
                                                      'server_name': 'old.unit.test'}))
    second = collector.endpoint_result(parse_endpoint({'host': '127.0.0.1', 'port': server2.port,
                                                       'server_name': 'self.unit.test'}))
    assert first['status'] == 'expired' and first['hostname_match'] is True and first['chain_valid'] is False
    assert first['days_remaining'] == pytest.approx(-3.0, abs=1e-3)
    assert len(first['chain']) == 2
    assert second['status'] == 'invalid' and 'self-signed' in second['chain_error']


def test_names_are_resolved_under_the_deadline(tiny_server, served, pki):
    leaf, ctx = served
    server = tiny_server(lambda conn: _tls(conn, ctx))
    endpoint = parse_endpoint({'host': 'localhost', 'port': server.port, 'server_name': 'srv.unit.test'})
    shake = probe(endpoint, make_context(), Resolver(), 5.0, 0)
    assert shake.chain_der[0] == leaf.der
    assert shake.peer_address in ('127.0.0.1', '::ffff:127.0.0.1')
    missing = parse_endpoint('no-such-host.invalid:443')
    start = time.monotonic()
    with pytest.raises(ProbeError) as info:
        probe(missing, make_context(), Resolver(), 3.0, 2)
    assert 'resolve' in str(info.value) and 'no-such-host.invalid' in str(info.value)
    assert time.monotonic() - start < 3.5


def test_ipv6_literal_endpoint(tiny_server, served):
    leaf, ctx = served
    server = tiny_server(lambda conn: _tls(conn, ctx), host='::1')
    endpoint = parse_endpoint('[::1]:%d' % server.port)
    assert endpoint.name == '[::1]:%d' % server.port
    shake = probe(endpoint, make_context(), Resolver(), 5.0, 0)
    assert shake.chain_der[0] == leaf.der and shake.peer_address == '::1'

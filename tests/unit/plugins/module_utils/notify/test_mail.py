# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""notify.mail against a scripted loopback SMTP server (plain, STARTTLS + AUTH, temporary failure)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import email
import ssl

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.notify.mail import MailError, build_message, send
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import server_tls_context

pytestmark = pytest.mark.timeout(60)


class Reader:
    def __init__(self, conn):
        self.conn = conn
        self.buf = b''

    def line(self):
        while b'\r\n' not in self.buf:
            chunk = self.conn.recv(4096)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line.decode()


def smtp_server(store, tls_ctx=None, user=None, password=None, first_reply=None):
    """A minimal SMTP server; ``first_reply`` replaces the greeting once (e.g. '421 busy')."""
    state = {'greeted': 0}

    def script(conn):
        state['greeted'] += 1
        if first_reply and state['greeted'] == 1:
            conn.sendall(first_reply.encode() + b'\r\n')
            return
        conn.sendall(b'220 unit ESMTP\r\n')
        reader = Reader(conn)
        secure = False
        authed = user is None
        while True:
            cmd = reader.line()
            verb = cmd.split(' ')[0].upper()
            if verb == 'EHLO':
                caps = [b'250-unit']
                if tls_ctx is not None and not secure:
                    caps.append(b'250-STARTTLS')
                if secure and user:
                    caps.append(b'250-AUTH PLAIN')
                caps.append(b'250 8BITMIME')
                conn.sendall(b'\r\n'.join(caps) + b'\r\n')
            elif verb == 'STARTTLS':
                conn.sendall(b'220 go ahead\r\n')
                conn = tls_ctx.wrap_socket(conn, server_side=True)
                reader = Reader(conn)
                secure = True
            elif verb == 'AUTH':
                _mech, blob = cmd.split(' ')[1:3]
                _authz, login, secret = base64.b64decode(blob).split(b'\0')
                if (login.decode(), secret.decode()) == (user, password):
                    authed = True
                    conn.sendall(b'235 ok\r\n')
                else:
                    conn.sendall(b'535 bad credentials\r\n')
            elif verb == 'MAIL':
                if not authed:
                    conn.sendall(b'530 auth required\r\n')
                    continue
                store.append({'from': cmd, 'rcpt': [], 'secure': secure})
                conn.sendall(b'250 ok\r\n')
            elif verb == 'RCPT':
                store[-1]['rcpt'].append(cmd)
                conn.sendall(b'250 ok\r\n')
            elif verb == 'DATA':
                conn.sendall(b'354 go\r\n')
                lines = []
                while True:
                    line = reader.line()
                    if line == '.':
                        break
                    lines.append(line[1:] if line.startswith('..') else line)
                store[-1]['data'] = '\r\n'.join(lines)
                conn.sendall(b'250 queued\r\n')
            elif verb == 'QUIT':
                conn.sendall(b'221 bye\r\n')
                return
            else:
                conn.sendall(b'500 what\r\n')
    return script


def test_build_message_parts_and_header_injection(tmp_path):
    attachment = tmp_path / 'report.csv'
    attachment.write_text('name,status\nweb,ok\n')
    msg = build_message('certpilot@example.test', ['a@example.test', 'b@example.test'], 'TLS: 1 expired',
                        body='text body', html_body='<p>html</p>', attachments=[str(attachment)])
    types = [part.get_content_type() for part in msg.walk()]
    assert 'text/plain' in types and 'text/html' in types and 'text/csv' in types
    assert msg['To'] == 'a@example.test, b@example.test'
    with pytest.raises(MailError):
        build_message('x@example.test', ['a@example.test'], 'hi\r\nBcc: evil@example.test')
    with pytest.raises(MailError):
        build_message('x@example.test', [], 'no recipients')
    with pytest.raises(MailError) as info:
        build_message('x@example.test', ['a@example.test'], 's', attachments=[str(tmp_path / 'missing')])
    assert 'cannot read attachment' in str(info.value)


def test_plain_delivery(tiny_server):
    store = []
    server = tiny_server(smtp_server(store))
    msg = build_message('certpilot@example.test', ['ops@example.test', 'dev@example.test'], 'plain', body='hello')
    accepted = send(msg, host='127.0.0.1', port=server.port, security='none', timeout=10)
    assert accepted == ['ops@example.test', 'dev@example.test']
    assert len(store) == 1 and store[0]['secure'] is False
    assert email.message_from_string(store[0]['data'])['Subject'] == 'plain'


def test_starttls_with_auth_and_verified_certificate(tiny_server, pki, tmp_path):
    leaf = pki.leaf('localhost', dns=['localhost'], ips=['127.0.0.1'])
    ctx = server_tls_context(tmp_path, [leaf, pki.inter], leaf.key_pem)
    ca = tmp_path / 'ca.pem'
    ca.write_bytes(pki.root.pem)
    store = []
    server = tiny_server(smtp_server(store, tls_ctx=ctx, user='u', password='s3cret'))
    msg = build_message('certpilot@example.test', ['ops@example.test'], 'secure', body='hello')
    send(msg, host='127.0.0.1', port=server.port, security='starttls', username='u', password='s3cret', ca_bundle=str(ca))
    assert store and store[0]['secure'] is True
    # Wrong password: a clear error that never contains the password.
    with pytest.raises(MailError) as info:
        send(msg, host='127.0.0.1', port=server.port, security='starttls', username='u', password='wrong-pw', ca_bundle=str(ca),
             retries=0)
    assert 'authentication failed' in str(info.value) and 'wrong-pw' not in str(info.value)
    # Certificate not trusted (no ca_bundle, system roots only): refused before AUTH.
    with pytest.raises(MailError) as info:
        send(msg, host='127.0.0.1', port=server.port, security='starttls', username='u', password='s3cret', retries=0)
    assert 'certificate verification failed' in str(info.value)
    assert len(store) == 1


def test_password_never_sent_in_clear_to_remote_hosts():
    msg = build_message('a@example.test', ['b@example.test'], 's')
    with pytest.raises(MailError) as info:
        send(msg, host='smtp.example.test', port=25, security='none', username='u', password='p')
    assert 'unencrypted' in str(info.value)


def test_temporary_failure_is_retried(tiny_server):
    store = []
    server = tiny_server(smtp_server(store, first_reply='421 try later'))
    msg = build_message('a@example.test', ['b@example.test'], 'retry')
    send(msg, host='127.0.0.1', port=server.port, security='none', timeout=15, retries=2)
    assert server.accepted == 2 and len(store) == 1


def test_starttls_required_but_not_offered(tiny_server):
    server = tiny_server(smtp_server([]))
    msg = build_message('a@example.test', ['b@example.test'], 's')
    with pytest.raises(MailError) as info:
        send(msg, host='127.0.0.1', port=server.port, security='starttls', retries=0)
    assert 'does not offer STARTTLS' in str(info.value)


def test_tls_context_defaults_verify():
    from ansible_collections.certpilot.tls.plugins.module_utils.notify.mail import tls_context
    assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname is True
    assert tls_context(validate_certs=False).verify_mode == ssl.CERT_NONE

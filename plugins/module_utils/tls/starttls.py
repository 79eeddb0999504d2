# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain-text preludes that upgrade a connection to TLS (STARTTLS and friends).

Every read is bounded in size and by the endpoint's ``Deadline``: a server that
answers slowly, never, or with endless text cannot hold a worker longer than the
endpoint timeout.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket
import struct

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError, DeadlineExceeded

MAX_LINE = 8192
MAX_REPLY = 65536
POSTGRES_SSL_REQUEST = struct.pack('!ii', 8, 80877103)


class StartTLSError(CertpilotError):
    """The server's plain-text dialogue did not lead to a TLS upgrade."""


class LineReader:
    """Read CRLF/LF-terminated lines from a socket under a deadline."""

    def __init__(self, sock, deadline, what='STARTTLS'):
        self.sock = sock
        self.deadline = deadline
        self.what = what
        self.buffer = b''
        self.total = 0

    def _recv(self):
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise DeadlineExceeded('%s: timed out after %ss waiting for the server' % (self.what, self.deadline.seconds))
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            raise DeadlineExceeded('%s: timed out after %ss waiting for the server' % (self.what, self.deadline.seconds))
        if not data:
            raise StartTLSError('%s: the server closed the connection' % self.what)
        self.total += len(data)
        if self.total > MAX_REPLY:
            raise StartTLSError('%s: the server sent more than %d bytes without finishing its reply' % (self.what, MAX_REPLY))
        return data

    def readline(self):
        while b'\n' not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                raise StartTLSError('%s: reply line longer than %d bytes' % (self.what, MAX_LINE))
            self.buffer += self._recv()
        line, self.buffer = self.buffer.split(b'\n', 1)
        return line.rstrip(b'\r').decode('utf-8', 'replace')

    def read_exact(self, count):
        while len(self.buffer) < count:
            self.buffer += self._recv()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def leftover(self):
        """Bytes received after the last reply: must be empty before the TLS handshake."""
        return self.buffer


def _send(sock, deadline, data, what):
    remaining = deadline.remaining()
    if remaining <= 0:
        raise DeadlineExceeded('%s: timed out after %ss' % (what, deadline.seconds))
    sock.settimeout(remaining)
    try:
        sock.sendall(data)
    except socket.timeout:
        raise DeadlineExceeded('%s: timed out after %ss sending to the server' % (what, deadline.seconds))


def _read_reply(reader):
    """A (possibly multi-line, 'NNN-' continued) numeric reply: (code, [lines])."""
    lines = []
    while True:
        line = reader.readline()
        lines.append(line)
        if len(line) >= 3 and line[:3].isdigit() and (len(line) == 3 or line[3] != '-'):
            return int(line[:3]), lines
        if len(lines) > 200:
            raise StartTLSError('%s: reply with more than 200 lines' % reader.what)


def _expect_code(reader, expected, step):
    code, lines = _read_reply(reader)
    if code != expected:
        raise StartTLSError('%s: expected %d after %s, got: %s' % (reader.what, expected, step, lines[-1][:200]))
    return lines


def smtp(sock, deadline, server_name):
    reader = LineReader(sock, deadline, 'SMTP STARTTLS')
    _expect_code(reader, 220, 'connecting (greeting)')
    _send(sock, deadline, b'EHLO certpilot.invalid\r\n', reader.what)
    lines = _expect_code(reader, 250, 'EHLO')
    capabilities = [line[4:].strip().upper() for line in lines]
    if not any(cap == 'STARTTLS' or cap.startswith('STARTTLS ') for cap in capabilities):
        raise StartTLSError('SMTP STARTTLS: the server does not offer STARTTLS (EHLO capabilities: %s)'
                            % ', '.join(c.split(' ')[0] for c in capabilities[1:])[:200])
    _send(sock, deadline, b'STARTTLS\r\n', reader.what)
    _expect_code(reader, 220, 'STARTTLS')
    return reader.leftover()


def imap(sock, deadline, server_name):
    reader = LineReader(sock, deadline, 'IMAP STARTTLS')
    greeting = reader.readline()
    if not greeting.upper().startswith('* OK'):
        raise StartTLSError('IMAP STARTTLS: unexpected greeting: %s' % greeting[:200])
    _send(sock, deadline, b'a001 STARTTLS\r\n', reader.what)
    for _count in range(200):
        line = reader.readline()
        if line.startswith('a001 '):
            if line[5:].upper().startswith('OK'):
                return reader.leftover()
            raise StartTLSError('IMAP STARTTLS: the server refused STARTTLS: %s' % line[:200])
    raise StartTLSError('IMAP STARTTLS: no tagged reply to STARTTLS')


def pop3(sock, deadline, server_name):
    reader = LineReader(sock, deadline, 'POP3 STLS')
    greeting = reader.readline()
    if not greeting.startswith('+OK'):
        raise StartTLSError('POP3 STLS: unexpected greeting: %s' % greeting[:200])
    _send(sock, deadline, b'STLS\r\n', reader.what)
    reply = reader.readline()
    if not reply.startswith('+OK'):
        raise StartTLSError('POP3 STLS: the server refused STLS: %s' % reply[:200])
    return reader.leftover()


def ftp(sock, deadline, server_name):
    reader = LineReader(sock, deadline, 'FTP AUTH TLS')
    _expect_code(reader, 220, 'connecting (greeting)')
    _send(sock, deadline, b'AUTH TLS\r\n', reader.what)
    _expect_code(reader, 234, 'AUTH TLS')
    return reader.leftover()


def postgres(sock, deadline, server_name):
    reader = LineReader(sock, deadline, 'PostgreSQL SSLRequest')
    _send(sock, deadline, POSTGRES_SSL_REQUEST, reader.what)
    answer = reader.read_exact(1)
    if answer == b'S':
        return reader.leftover()
    if answer == b'N':
        raise StartTLSError('PostgreSQL SSLRequest: the server does not accept SSL connections')
    raise StartTLSError('PostgreSQL SSLRequest: unexpected answer %r' % answer)


DIALOGUES = {'smtp': smtp, 'imap': imap, 'pop3': pop3, 'ftp': ftp, 'postgres': postgres}


def upgrade(kind, sock, deadline, server_name):
    """Run the plain-text prelude for ``kind`` ('none' does nothing)."""
    if kind in (None, 'none'):
        return
    leftover = DIALOGUES[kind](sock, deadline, server_name)
    if leftover:
        # Bytes after the "go ahead" would be injected into the TLS stream (STARTTLS injection).
        raise StartTLSError('%s: the server sent unexpected data before the TLS handshake' % kind)

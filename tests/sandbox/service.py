# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service-slot API of the sandbox (stdlib only).

A service plugin is a file ``tests/sandbox/services/<anything>.py`` (files whose
name starts with ``_`` are ignored) that defines ``SERVICES = [Service(...), ...]``.
``sandbox.py up`` starts every service, ``down`` stops it, ``status`` shows it,
and ``record(ctx)`` lands in ``sandbox.json["services"][name]``.

Plugins import this module as ``from service import Service, tcp_probe, http_probe``
(``tests/sandbox`` is on ``sys.path`` when plugins are loaded).

Minimal plugin::

    from service import Service, http_probe

    def _argv(ctx):
        return [ctx.python, ctx.repo_path('tests/fakes/my_fake.py'),
                '--state', ctx.path('services', 'my_fake'), '--port', str(ctx.port(18080))]

    SERVICES = [Service(
        name='my_fake',
        argv=_argv,
        ports=lambda ctx: [('127.0.0.1', ctx.port(18080))],
        probe=lambda ctx: http_probe('http://127.0.0.1:%d/health' % ctx.port(18080)),
        record=lambda ctx: {'endpoint': 'http://127.0.0.1:%d' % ctx.port(18080)},
    )]

Rules (enforced by sandbox.py):

* the command line MUST contain the sandbox state dir (``ctx.dir``), e.g. a
  ``--state`` argument below ``ctx.path(...)``: that is how the sandbox knows a
  process is its own before it ever kills it;
* ports come from ``ctx.port(base)`` (adds ``$CERTPILOT_SANDBOX_PORT_OFFSET``, so a
  scratch sandbox can run beside the real one) and listen on 127.0.0.1 or a
  ``ctx.host_address(n)`` address;
* the process must stay in the foreground (no self-daemonising) unless
  ``pidfile`` names the file the daemon writes itself.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import ssl
import struct
import time

from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen


class ProbeFailed(Exception):
    """A readiness probe did not succeed (yet)."""


def _call(value, ctx):
    return value(ctx) if callable(value) else value


class Port(object):
    """A port a service needs: ``proto`` is ``tcp`` or ``udp``."""

    def __init__(self, host, port, proto='tcp'):
        self.host = host
        self.port = int(port)
        self.proto = proto

    def __repr__(self):
        return '%s/%s:%d' % (self.proto, self.host, self.port)

    def __str__(self):
        return '%s:%d/%s' % (self.host, self.port, self.proto)


def as_port(value):
    if isinstance(value, Port):
        return value
    if isinstance(value, (tuple, list)):
        return Port(*value)
    raise TypeError('a port is a Port or a (host, port[, proto]) tuple, not %r' % (value,))


class Service(object):
    """One process the sandbox owns.

    :param name: unique slot name (``[a-z0-9_-]+``); also the pidfile/log name.
    :param argv: list of strings, or ``callable(ctx) -> list``.
    :param env: dict or ``callable(ctx) -> dict``, merged over ``os.environ``.
    :param ports: list of ``(host, port[, 'tcp'|'udp'])`` or ``callable(ctx)``;
        checked for foreign holders before start; default probe = TCP connect to all tcp ports.
    :param probe: ``callable(ctx)``; raise or return False while not ready. Helpers:
        :func:`tcp_probe`, :func:`http_probe`, :func:`banner_probe`.
    :param record: ``callable(ctx) -> dict`` for ``sandbox.json["services"][name]``.
    :param setup: ``callable(ctx)`` run before every start (write configs, make keys once).
    :param after_start: ``callable(ctx)`` run on every ``up`` once the service is healthy.
    :param pidfile: only for self-daemonising programs: the pid file the program writes.
    :param cwd: working directory (default: the state dir).
    :param ready_timeout: seconds to wait for the probe (default 20).
    """

    def __init__(self, name, argv, env=None, ports=(), probe=None, record=None, setup=None,
                 after_start=None, pidfile=None, cwd=None, ready_timeout=20.0, group=None,
                 description=None):
        self.name = name
        self._argv = argv
        self._env = env
        self._ports = ports
        self._probe = probe
        self._record = record
        self._setup = setup
        self._after_start = after_start
        self._pidfile = pidfile
        self._cwd = cwd
        self.ready_timeout = float(ready_timeout)
        self.group = group
        self.description = description or name

    # The sandbox calls these with its context object.
    def argv(self, ctx):
        return [str(a) for a in _call(self._argv, ctx)]

    def env(self, ctx):
        return dict(_call(self._env, ctx) or {})

    def ports(self, ctx):
        return [as_port(p) for p in (_call(self._ports, ctx) or [])]

    def cwd(self, ctx):
        return _call(self._cwd, ctx) or ctx.dir

    def self_pidfile(self, ctx):
        """The pid file a self-daemonising program writes, or None."""
        return _call(self._pidfile, ctx)

    def probe(self, ctx):
        if self._probe is not None:
            result = self._probe(ctx)
            if result is False:
                raise ProbeFailed('%s: probe returned False' % self.name)
            return
        for port in self.ports(ctx):
            if port.proto == 'tcp':
                tcp_probe(port.host, port.port)

    def record(self, ctx):
        return dict(self._record(ctx)) if self._record else {}

    def setup(self, ctx):
        if self._setup:
            self._setup(ctx)

    def after_start(self, ctx):
        if self._after_start:
            self._after_start(ctx)


def tcp_probe(host, port, timeout=2.0):
    """Succeeds when a TCP connection to host:port is accepted."""
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    except (OSError, socket.error) as exc:
        raise ProbeFailed('tcp %s:%s: %s' % (host, port, exc))
    sock.close()
    return True


def banner_probe(host, port, prefix, timeout=3.0):
    """Succeeds when the server greets with a line starting with ``prefix`` (bytes)."""
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    except (OSError, socket.error) as exc:
        raise ProbeFailed('tcp %s:%s: %s' % (host, port, exc))
    try:
        sock.settimeout(timeout)
        data = b''
        deadline = time.monotonic() + timeout
        while b'\n' not in data and time.monotonic() < deadline:
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
    except (OSError, socket.error) as exc:
        raise ProbeFailed('banner %s:%s: %s' % (host, port, exc))
    finally:
        sock.close()
    if not data.startswith(prefix):
        raise ProbeFailed('banner %s:%s: got %r, want %r...' % (host, port, data[:60], prefix))
    return True


def http_probe(url, status=200, body=None, cafile=None, method='GET', data=None, timeout=3.0):
    """Succeeds when ``url`` answers ``status`` (and contains ``body`` bytes if given).

    HTTPS is verified against ``cafile``. Returns the body bytes.
    """
    ctx = None
    if url.startswith('https:'):
        ctx = ssl.create_default_context(cafile=cafile)
    req = Request(url, method=method, data=data)
    try:
        resp = urlopen(req, timeout=timeout, context=ctx)
        code, payload = resp.status, resp.read()
    except HTTPError as exc:
        code, payload = exc.code, exc.read()
    except (URLError, OSError, socket.error, ssl.SSLError) as exc:
        raise ProbeFailed('%s %s: %s' % (method, url, exc))
    if code != status:
        raise ProbeFailed('%s %s: status %s, want %s' % (method, url, code, status))
    if body is not None and body not in payload:
        raise ProbeFailed('%s %s: body %r does not contain %r' % (method, url, payload[:80], body))
    return payload


_QTYPES = {'A': 1, 'AAAA': 28, 'TXT': 16, 'CAA': 257}


def _skip_name(msg, off):
    while True:
        length = msg[off]
        if length == 0:
            return off + 1
        if length & 0xC0 == 0xC0:
            return off + 2
        off += 1 + length


def dns_query(server, port, name, qtype='A', timeout=2.0):
    """Ask ``server:port`` (UDP) for ``name``; returns (rcode, [answers of qtype]).

    A/AAAA answers are address strings, TXT answers are strings, others raw bytes.
    """
    code = _QTYPES[qtype]
    tid = int.from_bytes(os.urandom(2), 'big')
    qname = b''.join(bytes([len(label)]) + label.encode('ascii') for label in name.rstrip('.').split('.')) + b'\0'
    packet = struct.pack('>HHHHHH', tid, 0x0100, 1, 0, 0, 0) + qname + struct.pack('>HH', code, 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        sock.sendto(packet, (server, int(port)))
        while True:
            msg, _addr = sock.recvfrom(4096)
            if len(msg) >= 12 and struct.unpack('>H', msg[:2])[0] == tid:
                break
    finally:
        sock.close()
    flags, qdcount, ancount = struct.unpack('>HHH', msg[2:8])
    off = 12
    for _i in range(qdcount):
        off = _skip_name(msg, off) + 4
    answers = []
    for _i in range(ancount):
        off = _skip_name(msg, off)
        rtype, _rclass, _ttl, rdlen = struct.unpack('>HHIH', msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        off += rdlen
        if rtype != code:
            continue
        if rtype == 1:
            answers.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28:
            answers.append(socket.inet_ntop(socket.AF_INET6, rdata))
        elif rtype == 16:
            answers.append(rdata[1:1 + rdata[0]].decode('utf-8', 'replace'))
        else:
            answers.append(rdata)
    return flags & 0xF, answers

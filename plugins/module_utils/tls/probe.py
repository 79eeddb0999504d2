# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One TLS handshake per endpoint, recording the presented chain whether or not it verifies.

The handshake runs with ``CERT_NONE`` (and the widest protocol/cipher range
OpenSSL allows) so that expired, self-signed or weak certificates are *reported*,
not turned into handshake failures; judging happens afterwards with cryptography.

The full presented chain comes from ``SSLSocket.get_unverified_chain()`` (public
in Python 3.13+), else the C-level ``_sslobj.get_unverified_chain()`` that CPython
has had since 3.10; on older Pythons only the leaf is available
(``chain_source`` says which was used).

Every endpoint has an absolute ``Deadline`` covering name resolution, connect,
STARTTLS and handshake, and all retries: ``timeout`` is the most a single endpoint
can ever cost.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import random
import socket
import ssl
import threading

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError, DeadlineExceeded
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy, Retryable, call_with_retry
from ansible_collections.certpilot.tls.plugins.module_utils.tls import starttls as _starttls
from ansible_collections.certpilot.tls.plugins.module_utils.tls.names import parse_ip

try:
    import _ssl
    _DER = _ssl.ENCODING_DER
except (ImportError, AttributeError):  # pragma: no cover
    _DER = None

_RNG = random.Random()  # one shared jitter source (seeding one per endpoint costs more than the probe's bookkeeping)

TRANSIENT_ERRNOS = frozenset(getattr(errno, name) for name in (
    'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE')
    if hasattr(errno, name))


class ProbeError(CertpilotError):
    """The endpoint gave us no certificate. ``transient`` errors are worth a retry."""

    def __init__(self, msg, transient=False, **details):
        super(ProbeError, self).__init__(msg, **details)
        self.transient = transient


class Handshake:
    """What a successful handshake gave us."""

    __slots__ = ('chain_der', 'tls_version', 'cipher', 'peer_address', 'chain_source')

    def __init__(self, chain_der, tls_version, cipher, peer_address, chain_source):
        self.chain_der = chain_der
        self.tls_version = tls_version
        self.cipher = cipher
        self.peer_address = peer_address
        self.chain_source = chain_source


def make_context():
    """One client context for every probe: no verification, widest compatibility."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    except (ValueError, AttributeError):  # pragma: no cover
        pass
    try:
        # Security level 0: a server with a 1024-bit key or SHA-1 certificate must still be
        # reported (as invalid) rather than fail the handshake.
        ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
    except ssl.SSLError:  # pragma: no cover - libraries without security levels
        pass
    return ctx


class Resolver:
    """getaddrinfo under a deadline (it has no timeout of its own), cached per (host, port)."""

    def __init__(self, getaddrinfo=None):
        self._cache = {}
        self._lock = threading.Lock()
        self._getaddrinfo = getaddrinfo or socket.getaddrinfo

    def resolve(self, host, port, deadline):
        ip = parse_ip(host)
        if ip is not None:
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            return [(family, (str(ip), port))]
        key = (host.lower(), port)
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                entry = {'event': threading.Event(), 'value': None, 'error': None}
                self._cache[key] = entry
                worker = threading.Thread(target=self._lookup, args=(entry, host, port, self._getaddrinfo),
                                          name='resolve-%s' % host)
                worker.daemon = True
                worker.start()
        if not entry['event'].wait(deadline.remaining()):
            raise ProbeError('name resolution of %s did not finish within %ss' % (host, deadline.seconds))
        if entry['error'] is not None:
            raise entry['error']
        return entry['value']

    @staticmethod
    def _lookup(entry, host, port, getaddrinfo):
        try:
            infos = getaddrinfo(host, port, 0, socket.SOCK_STREAM)
            # IPv4 and IPv6, in the resolver's preference order (RFC 6724), as a TLS client tries them.
            entry['value'] = [(info[0], info[4][:2]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]
            if not entry['value']:
                entry['error'] = ProbeError('%s has no addresses' % host)
        except socket.gaierror as exc:
            entry['error'] = ProbeError('cannot resolve %s: %s' % (host, exc.strerror or exc))
        except Exception as exc:  # noqa: BLE001 - reported as a probe error
            entry['error'] = ProbeError('cannot resolve %s: %s' % (host, exc))
        finally:
            entry['event'].set()


def _connect(addresses, deadline, what):
    last = None
    for family, sockaddr in addresses:
        remaining = deadline.remaining()
        if remaining <= 0:
            break
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(remaining)
        try:
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except socket.timeout:
            sock.close()
            last = ProbeError('%s: connect timed out after %ss' % (what, deadline.seconds), transient=True)
        except OSError as exc:
            sock.close()
            last = _os_error(exc, what, 'connect')
    if last is None:
        last = ProbeError('%s: connect timed out after %ss' % (what, deadline.seconds), transient=True)
    raise last


def _os_error(exc, what, step):
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return ProbeError('%s: connection refused' % what, transient=True)
    if isinstance(exc, ConnectionResetError) or exc.errno == errno.ECONNRESET:
        return ProbeError('%s: connection reset during %s' % (what, step), transient=True)
    transient = exc.errno in TRANSIENT_ERRNOS
    return ProbeError('%s: %s failed: %s' % (what, step, exc.strerror or exc), transient=transient)


def presented_chain(ssock):
    """(list of DER, source) of the chain the server sent, leaf first.

    ``source`` is ``public``/``private`` (the whole chain), ``leaf-only`` (this Python can read only the
    leaf) or ``none``.
    """
    getter = getattr(ssock, 'get_unverified_chain', None)
    if getter is not None:
        chain = getter()
        if chain:
            return [bytes(c) if isinstance(c, (bytes, bytearray)) else c.public_bytes(_DER) for c in chain], 'public'
    sslobj = getattr(ssock, '_sslobj', None)
    getter = getattr(sslobj, 'get_unverified_chain', None)
    if getter is not None and _DER is not None:
        chain = getter()
        if chain:
            return [c.public_bytes(_DER) for c in chain], 'private'
    leaf = ssock.getpeercert(binary_form=True)
    if leaf:
        return [leaf], 'leaf-only'
    return [], 'none'


def handshake_once(endpoint, context, resolver, deadline):
    """Connect, run STARTTLS if asked, complete the TLS handshake, return a ``Handshake``."""
    what = endpoint.name
    if endpoint.address:
        try:
            addresses = resolver.resolve(endpoint.address, endpoint.port, deadline)
        except ProbeError as exc:
            # The address option names where to connect: if it does not resolve, the check cannot run (fail closed).
            raise ProbeError('%s: address %s does not resolve on the host running the check: %s' % (
                what, endpoint.address, exc.msg))
    else:
        addresses = resolver.resolve(endpoint.host, endpoint.port, deadline)
    sock = _connect(addresses, deadline, what)
    ssock = None
    try:
        try:
            _starttls.upgrade(endpoint.starttls, sock, deadline, endpoint.server_name)
        except _starttls.StartTLSError as exc:
            raise ProbeError('%s: %s' % (what, exc.msg))
        except OSError as exc:
            raise _os_error(exc, what, 'STARTTLS')
        remaining = deadline.remaining()
        if remaining <= 0:
            raise DeadlineExceeded('%s: timed out after %ss' % (what, deadline.seconds))
        sni = endpoint.server_name if parse_ip(endpoint.server_name) is None else None
        ssock = context.wrap_socket(sock, server_hostname=sni, do_handshake_on_connect=False)
        # CPython runs do_handshake against one deadline computed from the socket timeout.
        ssock.settimeout(remaining)
        try:
            ssock.do_handshake()
        except socket.timeout:
            raise ProbeError('%s: TLS handshake timed out after %ss' % (what, deadline.seconds), transient=True)
        except ssl.SSLError as exc:
            # TLS alerts and protocol errors are answers, not network trouble: never retried.
            raise ProbeError('%s: TLS handshake failed: %s' % (what, exc.reason or exc))
        except OSError as exc:
            raise _os_error(exc, what, 'TLS handshake')
        chain, source = presented_chain(ssock)
        if not chain:
            raise ProbeError('%s: the server presented no certificate' % what)
        try:
            peer = ssock.getpeername()[0]
        except OSError:
            peer = None
        return Handshake(chain, ssock.version(), (ssock.cipher() or (None,))[0], peer, source)
    finally:
        (ssock or sock).close()


def probe(endpoint, context, resolver, timeout, retries):
    """``handshake_once`` with bounded retries of transient failures, all within ``timeout``."""
    deadline = Deadline(timeout)
    policy = RetryPolicy(attempts=max(0, int(retries)) + 1, base=0.1, cap=1.0, jitter=0.25, rng=_RNG)

    def attempt():
        try:
            return handshake_once(endpoint, context, resolver, deadline)
        except ProbeError as exc:
            if exc.transient and deadline.remaining() > 0:
                raise Retryable(exc)
            raise

    try:
        return call_with_retry(attempt, policy, deadline, what=endpoint.name)
    except DeadlineExceeded as exc:
        raise ProbeError(exc.msg if endpoint.name in exc.msg else '%s: %s' % (endpoint.name, exc.msg))

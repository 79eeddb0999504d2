# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsing of the ``endpoints`` and ``files`` inputs of ``tls_expiry_facts``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import socket

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.tls.names import parse_ip

STARTTLS_CHOICES = ('none', 'smtp', 'imap', 'pop3', 'ftp', 'postgres')
DEFAULT_PORTS = {'none': 443, 'smtp': 25, 'imap': 143, 'pop3': 110, 'ftp': 21, 'postgres': 5432}
ENDPOINT_KEYS = ('host', 'port', 'server_name', 'starttls', 'name', 'address')
FILE_KEYS = ('path', 'name', 'server_name')

_HOST_RE = re.compile(r'^[A-Za-z0-9_.-]+$')


class Endpoint:
    """One network endpoint to probe."""

    __slots__ = ('host', 'port', 'server_name', 'starttls', 'name', 'address', 'index')

    def __init__(self, host, port, server_name=None, starttls='none', name=None, address=None, index=0):
        self.host = host
        self.port = port
        self.server_name = server_name or host
        self.starttls = starttls
        self.address = address
        self.index = index
        self.name = name or default_name(host, port, self.server_name)

    def __repr__(self):
        return 'Endpoint(%r)' % (self.name,)


class CertFile:
    """One certificate file on the target host."""

    __slots__ = ('path', 'name', 'server_name', 'index')

    def __init__(self, path, name=None, server_name=None, index=0):
        self.path = path
        self.name = name or path
        self.server_name = server_name
        self.index = index


def format_hostport(host, port):
    if ':' in host:
        return '[%s]:%d' % (host, port)
    return '%s:%d' % (host, port)


def default_name(host, port, server_name):
    base = format_hostport(host, port)
    if server_name and server_name.lower() != host.lower():
        return '%s@%s' % (server_name, base)
    return base


def _check_host(host, where):
    if parse_ip(host) is not None:
        text = host[1:-1] if host.startswith('[') else host
        return text
    if not host or not _HOST_RE.match(host) or '..' in host or len(host) > 253:
        try:
            # Internationalized names are fine if IDNA can encode them.
            encoded = host.encode('idna').decode('ascii')
        except (UnicodeError, ValueError):
            encoded = ''
        if not encoded or not _HOST_RE.match(encoded):
            raise CertpilotError('%s: %r is not a valid host name or IP address' % (where, host))
    return host


def _check_port(port, where):
    if isinstance(port, bool):
        raise CertpilotError('%s: port must be a number, got %r' % (where, port))
    try:
        value = int(str(port).strip())
    except (TypeError, ValueError):
        raise CertpilotError('%s: port must be a number between 1 and 65535, got %r' % (where, port))
    if not 1 <= value <= 65535:
        raise CertpilotError('%s: port must be between 1 and 65535, got %d' % (where, value))
    return value


def split_hostport(text, where='endpoint'):
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 literal -> (host, port or None)."""
    text = text.strip()
    if not text:
        raise CertpilotError('%s: empty endpoint' % where)
    if any(ch.isspace() for ch in text):
        raise CertpilotError('%s: %r contains white space' % (where, text))
    if '://' in text:
        raise CertpilotError('%s: %r: give host[:port], not a URL' % (where, text))
    if text.startswith('['):
        end = text.find(']')
        if end < 0:
            raise CertpilotError('%s: %r: missing "]" after IPv6 address' % (where, text))
        host = text[1:end]
        rest = text[end + 1:]
        if parse_ip(host) is None or ':' not in host:
            raise CertpilotError('%s: %r: brackets are only for IPv6 addresses' % (where, text))
        if not rest:
            return host, None
        if not rest.startswith(':'):
            raise CertpilotError('%s: %r: expected ":port" after "]"' % (where, text))
        return host, _check_port(rest[1:], '%s %r' % (where, text))
    if text.count(':') > 1:
        # Bare IPv6 literal without a port.
        if parse_ip(text) is None:
            raise CertpilotError('%s: %r is neither host:port nor an IPv6 address (use [v6]:port)' % (where, text))
        return text, None
    if ':' in text:
        host, port = text.rsplit(':', 1)
        return _check_host(host, '%s %r' % (where, text)), _check_port(port, '%s %r' % (where, text))
    return _check_host(text, '%s %r' % (where, text)), None


def parse_endpoint(item, index=0):
    """Turn one ``endpoints`` entry (string or dict) into an ``Endpoint``; raise CertpilotError on bad input."""
    where = 'endpoints[%d]' % index
    if isinstance(item, str):
        host, port = split_hostport(item, where)
        return Endpoint(host, port or DEFAULT_PORTS['none'], index=index)
    if not isinstance(item, dict):
        raise CertpilotError('%s: expected "host[:port]" or a dict, got %s' % (where, type(item).__name__))
    unknown = sorted(set(item) - set(ENDPOINT_KEYS))
    if unknown:
        raise CertpilotError('%s: unknown key(s) %s (allowed: %s)' % (where, ', '.join(unknown), ', '.join(ENDPOINT_KEYS)))
    if not item.get('host'):
        raise CertpilotError('%s: "host" is required' % where)
    starttls = item.get('starttls') or 'none'
    if starttls not in STARTTLS_CHOICES:
        raise CertpilotError('%s: starttls must be one of %s, got %r' % (where, ', '.join(STARTTLS_CHOICES), starttls))
    host, port = split_hostport(str(item['host']), where)
    if item.get('port') is not None:
        if port is not None:
            raise CertpilotError('%s: port given both in "host" and "port"' % where)
        port = _check_port(item['port'], where)
    if port is None:
        port = DEFAULT_PORTS[starttls]
    server_name = item.get('server_name')
    if server_name is not None:
        server_name = str(server_name).strip()
        if not server_name:
            raise CertpilotError('%s: server_name must not be empty' % where)
        _check_host(server_name, where + ' server_name')
    address = item.get('address')
    if address is not None:
        address = resolve_address(str(address).strip(), port, where)
    name = item.get('name')
    return Endpoint(host, port, server_name=server_name, starttls=starttls,
                    name=str(name) if name not in (None, '') else None, address=address, index=index)


def resolve_address(address, port, where, getaddrinfo=socket.getaddrinfo):
    """An IP address as given, or a host name resolved here (on the controller), IPv4 or IPv6.

    A name that does not resolve is an error, never a reason to skip the check: the caller
    (a verification after a deploy) must fail closed. The first address in the resolver's
    preference order (RFC 6724) is used, as a TLS client would.
    """
    if not address:
        raise CertpilotError('%s: address must not be empty' % where)
    ip = parse_ip(address)
    if ip is not None:
        return str(ip)
    _check_host(address, where + ' address')
    try:
        infos = getaddrinfo(address, port, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise CertpilotError('%s: address %r does not resolve on the controller: %s' % (where, address, exc))
    for family, dummy_type, dummy_proto, dummy_name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            return str(parse_ip(sockaddr[0].split('%', 1)[0]))
    raise CertpilotError('%s: address %r has no IPv4 or IPv6 address' % (where, address))


def parse_endpoints(items):
    return [parse_endpoint(item, index) for index, item in enumerate(items or [])]


def parse_file(item, index=0):
    where = 'files[%d]' % index
    if isinstance(item, str):
        if not item.strip():
            raise CertpilotError('%s: empty path' % where)
        return CertFile(item, index=index)
    if not isinstance(item, dict):
        raise CertpilotError('%s: expected a path or a dict, got %s' % (where, type(item).__name__))
    unknown = sorted(set(item) - set(FILE_KEYS))
    if unknown:
        raise CertpilotError('%s: unknown key(s) %s (allowed: %s)' % (where, ', '.join(unknown), ', '.join(FILE_KEYS)))
    if not item.get('path'):
        raise CertpilotError('%s: "path" is required' % where)
    server_name = item.get('server_name')
    if server_name is not None:
        _check_host(str(server_name), where + ' server_name')
    return CertFile(str(item['path']), name=item.get('name') or None, server_name=server_name, index=index)


def parse_files(items):
    return [parse_file(item, index) for index, item in enumerate(items or [])]

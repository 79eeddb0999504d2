# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsing of the ``endpoints`` and ``files`` inputs of ``tls_expiry_facts``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.tls.names import parse_ip

STARTTLS_CHOICES = ('none', 'smtp', 'imap', 'pop3', 'ftp', 'postgres')
DEFAULT_PORTS = {'none': 443, 'smtp': 25, 'imap': 143, 'pop3': 110, 'ftp': 21, 'postgres': 5432}
ENDPOINT_KEYS = ('host', 'port', 'server_name', 'starttls', 'name', 'address', 'expect', 'renewed_by')
EXPECT_KEYS = ('fingerprint_sha256', 'chain_sha256')
FILE_KEYS = ('path', 'name', 'server_name', 'renewed_by')
RENEWED_BY_MAX = 200

_HOST_RE = re.compile(r'^[A-Za-z0-9_.-]+$')
_SHA256_RE = re.compile(r'^[0-9a-f]{64}$')


class Endpoint:
    """One network endpoint to probe."""

    __slots__ = ('host', 'port', 'server_name', 'starttls', 'name', 'address', 'expect', 'index', 'renewed_by')

    def __init__(self, host, port, server_name=None, starttls='none', name=None, address=None, index=0, expect=None,
                 renewed_by=None):
        self.host = host
        self.port = port
        self.server_name = server_name or host
        self.starttls = starttls
        # An IP address, or a host name resolved when the endpoint is probed (under its deadline).
        self.address = address
        # None, or {'fingerprint_sha256': hex, 'chain_sha256': [hex, ...]} (normalized, see parse_expect).
        self.expect = expect
        self.index = index
        self.name = name or default_name(host, port, self.server_name)
        # Who renews the certificate when certpilot does not (an imported one: its source), or None.
        self.renewed_by = renewed_by

    def __repr__(self):
        return 'Endpoint(%r)' % (self.name,)


class CertFile:
    """One certificate file on the target host."""

    __slots__ = ('path', 'name', 'server_name', 'index', 'renewed_by')

    def __init__(self, path, name=None, server_name=None, index=0, renewed_by=None):
        self.path = path
        self.name = name or path
        self.server_name = server_name
        self.index = index
        self.renewed_by = renewed_by


def parse_renewed_by(value, where):
    """The optional ``renewed_by`` label: a short one-line text, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise CertpilotError('%s renewed_by: expected a text, got %s' % (where, type(value).__name__))
    text = ' '.join(value.split())
    if not text:
        return None
    if len(text) > RENEWED_BY_MAX:
        raise CertpilotError('%s renewed_by: at most %d characters, got %d' % (where, RENEWED_BY_MAX, len(text)))
    return text


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
        address = check_address(str(address).strip(), where)
    expect = item.get('expect')
    if expect is not None:
        expect = parse_expect(expect, where)
    name = item.get('name')
    return Endpoint(host, port, server_name=server_name, starttls=starttls,
                    name=str(name) if name not in (None, '') else None, address=address, index=index,
                    expect=expect, renewed_by=parse_renewed_by(item.get('renewed_by'), where))


def check_address(address, where):
    """An IP address (normalized) or a syntactically valid host name; the name is resolved at probe time.

    Resolution happens per endpoint, under the endpoint's deadline, so that a name that does not
    resolve is that endpoint's ``error`` result (never a reason to skip the check, never the loss of
    the other endpoints).
    """
    if not address:
        raise CertpilotError('%s: address must not be empty' % where)
    ip = parse_ip(address)
    if ip is not None:
        return str(ip)
    return _check_host(address, where + ' address')


def normalize_sha256(value, where):
    """Lower-case hex without separators; ``AB:CD:..`` and upper case are accepted."""
    if not isinstance(value, str):
        raise CertpilotError('%s: expected a SHA-256 fingerprint (64 hex digits), got %s' % (where, type(value).__name__))
    text = value.strip().replace(':', '').lower()
    if not _SHA256_RE.match(text):
        raise CertpilotError('%s: %r is not a SHA-256 fingerprint (64 hex digits, colons allowed)' % (where, value))
    return text


def parse_expect(expect, where):
    """The ``expect`` key of an endpoint: what the server must serve, leaf and chain."""
    where = where + ' expect'
    if not isinstance(expect, dict):
        raise CertpilotError('%s: expected a dict with %s' % (where, ' and '.join(EXPECT_KEYS)))
    unknown = sorted(set(expect) - set(EXPECT_KEYS))
    if unknown:
        raise CertpilotError('%s: unknown key(s) %s (allowed: %s)' % (where, ', '.join(unknown), ', '.join(EXPECT_KEYS)))
    missing = [key for key in EXPECT_KEYS if expect.get(key) is None]
    if missing:
        raise CertpilotError('%s: %s required (the chain may be an empty list, never left out)' % (
            where, ' and '.join('"%s"' % key for key in missing) + (' is' if len(missing) == 1 else ' are')))
    chain = expect['chain_sha256']
    if isinstance(chain, (str, bytes)) or not isinstance(chain, (list, tuple)):
        raise CertpilotError('%s: chain_sha256 must be a list of fingerprints (the chain after the leaf, in order)' % where)
    return {
        'fingerprint_sha256': normalize_sha256(expect['fingerprint_sha256'], where + ' fingerprint_sha256'),
        'chain_sha256': [normalize_sha256(item, '%s chain_sha256[%d]' % (where, i)) for i, item in enumerate(chain)],
    }


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
    return CertFile(str(item['path']), name=item.get('name') or None, server_name=server_name, index=index,
                    renewed_by=parse_renewed_by(item.get('renewed_by'), where))


def parse_files(items):
    return [parse_file(item, index) for index, item in enumerate(items or [])]

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH connections with strict host key checking (paramiko).

Host keys come from an explicit known_hosts file. ``strict`` refuses unknown
and changed keys; ``accept_new`` (explicit opt-in) records unknown keys in the
file, but still refuses a key that differs from the recorded one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import os
import socket
import threading

try:
    import paramiko
    HAS_PARAMIKO = True
    PARAMIKO_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    paramiko = None
    HAS_PARAMIKO = False
    PARAMIKO_IMPORT_ERROR = exc

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import (
    Retryable, RetryPolicy, call_with_retry)

HOST_KEY_POLICIES = ('strict', 'accept_new')

_KNOWN_HOSTS_LOCK = threading.Lock()


def host_key_name(address, port):
    """The name a host is stored under in known_hosts (OpenSSH convention)."""
    if int(port) == 22:
        return address
    return '[%s]:%d' % (address, int(port))


def load_private_key(content=None, path=None, passphrase=None):
    """A paramiko key from PEM/OpenSSH text or a file; errors never include key material."""
    if content is None and path is None:
        return None
    if content is None:
        try:
            with open(path, 'r') as handle:
                content = handle.read()
        except (IOError, OSError) as exc:
            raise CertpilotError('cannot read SSH private key %s: %s' % (path, exc.strerror or exc))
    key_classes = [paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey]
    if hasattr(paramiko, 'DSSKey'):
        key_classes.append(paramiko.DSSKey)
    last = None
    for key_class in key_classes:
        try:
            return key_class.from_private_key(io.StringIO(content), password=passphrase)
        except paramiko.PasswordRequiredException:
            raise CertpilotError('the SSH private key is encrypted: set the passphrase option')
        except (paramiko.SSHException, ValueError, TypeError, IndexError) as exc:
            last = exc
    raise CertpilotError('the SSH private key could not be loaded (unsupported type, bad passphrase '
                         'or not a private key): %s' % type(last).__name__)


class _AcceptNewPolicy(object):
    """Record an unknown host key in known_hosts (OpenSSH's StrictHostKeyChecking=accept-new)."""

    def __init__(self, known_hosts):
        self.known_hosts = known_hosts
        self.added = []

    def missing_host_key(self, client, hostname, key):
        line = '%s %s %s\n' % (hostname, key.get_name(), key.get_base64())
        with _KNOWN_HOSTS_LOCK:
            # Another worker may have recorded it meanwhile; never record two keys.
            current = paramiko.HostKeys()
            if os.path.exists(self.known_hosts):
                current.load(self.known_hosts)
            known = current.lookup(hostname)
            if known is not None and key.get_name() in known:
                if known[key.get_name()] != key:
                    raise paramiko.BadHostKeyException(hostname, key, known[key.get_name()])
            else:
                fd = os.open(self.known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, 'a') as handle:
                    handle.write(line)
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.added.append(hostname)


class _RejectPolicy(object):
    def missing_host_key(self, client, hostname, key):
        raise CertpilotError(
            'host key of %s (%s, SHA256 fingerprint %s) is not in the known_hosts file; refusing to connect. '
            'Add the key to known_hosts after checking it out of band, or set host_key_policy=accept_new '
            '(trust on first use)' % (hostname, key.get_name(), key_fingerprint(key)))


def key_fingerprint(key):
    import base64
    import hashlib
    digest = hashlib.sha256(key.asbytes()).digest()
    return 'SHA256:' + base64.b64encode(digest).decode('ascii').rstrip('=')


class Connector(object):
    """Opens authenticated SSH connections, checking host keys against ``known_hosts``."""

    def __init__(self, known_hosts, host_key_policy='strict', username=None, pkey=None,
                 password=None, timeout=10, attempts=3):
        if host_key_policy not in HOST_KEY_POLICIES:
            raise CertpilotError('host_key_policy must be one of %s' % ', '.join(HOST_KEY_POLICIES))
        if not known_hosts:
            raise CertpilotError('known_hosts is required: host keys are always checked')
        self.known_hosts = os.path.expanduser(known_hosts)
        if host_key_policy == 'strict' and not os.path.isfile(self.known_hosts):
            raise CertpilotError('known_hosts file %s does not exist; with host_key_policy=strict every '
                                 'host key must be listed there' % self.known_hosts)
        self.host_key_policy = host_key_policy
        self.username = username
        self.pkey = pkey
        self.password = password
        self.timeout = timeout
        self.policy = RetryPolicy(attempts=max(1, attempts), base=1.0, cap=5.0)

    def connect(self, address, port, deadline, username=None):
        username = username or self.username

        def attempt():
            client = paramiko.SSHClient()
            if os.path.exists(self.known_hosts):
                try:
                    client.load_host_keys(self.known_hosts)
                except (IOError, OSError, paramiko.SSHException) as exc:
                    raise CertpilotError('cannot read known_hosts %s: %s' % (self.known_hosts, exc))
            if self.host_key_policy == 'accept_new':
                client.set_missing_host_key_policy(_AcceptNewPolicy(self.known_hosts))
            else:
                client.set_missing_host_key_policy(_RejectPolicy())
            timeout = max(1.0, deadline.cap(self.timeout))
            try:
                client.connect(address, port=int(port), username=username, pkey=self.pkey,
                               password=self.password, timeout=timeout, banner_timeout=timeout,
                               auth_timeout=timeout, look_for_keys=False, allow_agent=False)
                return client
            except paramiko.BadHostKeyException as exc:
                client.close()
                raise CertpilotError(
                    'host key of %s CHANGED: known_hosts has %s, the server offered %s. Refusing to connect '
                    '(possible man-in-the-middle); if the change is expected, update %s'
                    % (host_key_name(address, port), key_fingerprint(exc.expected_key),
                       key_fingerprint(exc.key), self.known_hosts))
            except paramiko.AuthenticationException as exc:
                client.close()
                raise CertpilotError('SSH authentication as %s to %s:%s failed: %s' % (username, address, port, exc))
            except CertpilotError:
                client.close()
                raise
            except (socket.error, EOFError, paramiko.SSHException) as exc:
                client.close()
                # Refused/reset/timeouts are worth another try, within the deadline.
                raise Retryable(CertpilotError('cannot connect to %s:%s: %s' % (address, port, exc)),
                                what='SSH connection to %s:%s' % (address, port))

        return call_with_retry(attempt, self.policy, deadline, what='SSH connection to %s:%s' % (address, port))

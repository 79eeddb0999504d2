# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host of ``sftp_push``: the install transaction over SFTP, with SSH commands and a TLS check.

The steps and the rollback live in ``common/install_transaction.py`` (the same code as
``cert_files``), the file decisions in ``common/file_transaction.py``; this file adds what is
SSH-specific: the command runner (timeouts, lost connections), reconnecting for a restore, and
the served-certificate check used as the verify step.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import shlex
import socket
import ssl

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.install_transaction import (
    CommandTimeout, ConnectionLost, InMemoryBackups, InstallTransaction, TransactionFailed)
from ansible_collections.certpilot.tls.plugins.module_utils.common.reload import ReloadSpec, signal_name
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import (
    Retryable, RetryPolicy, call_with_retry)
from ansible_collections.certpilot.tls.plugins.module_utils.ssh.sftp_files import SFTPFiles
from ansible_collections.certpilot.tls.plugins.module_utils.tls.certinfo import pem_to_ders
from ansible_collections.certpilot.tls.plugins.module_utils.tls.probe import presented_chain
from ansible_collections.certpilot.tls.plugins.module_utils.tls.served import served_mismatch


# Where systemd runs, ``systemctl reload``; elsewhere the SysV ``service`` wrapper.
_SERVICE_RELOAD = ('if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; '
                   'then exec systemctl reload %(name)s; else exec service %(name)s reload; fi')


def _lost(command, exc):
    return ConnectionLost('connection lost while running %r: %s' % (command, exc or 'channel closed'))


def run_command(client, command, timeout=60):
    """Run a remote command; (rc, stdout, stderr). Output is bounded, the wait has a timeout.

    Raises ``CommandTimeout`` when it does not finish in time (the channel is closed) and
    ``ConnectionLost`` when the connection breaks (sshd gone, network cut).
    """
    if isinstance(command, (list, tuple)):
        command = ' '.join(shlex.quote(str(a)) for a in command)
    wait = max(1.0, float(timeout))
    try:
        stdin, stdout, stderr = client.exec_command(command, timeout=wait)
    except socket.timeout as exc:
        raise CommandTimeout('command %r did not complete within %.0fs: %s' % (command, wait, exc))
    except Exception as exc:  # paramiko SSHException, EOFError, socket errors: the session is gone
        raise _lost(command, exc)
    channel = stdout.channel
    try:
        stdin.close()
        out = stdout.read(65536).decode('utf-8', 'replace')
        err = stderr.read(65536).decode('utf-8', 'replace')
        status = getattr(channel, 'status_event', None)
        if status is not None and not status.wait(wait):
            raise socket.timeout('no exit status')
        rc = channel.recv_exit_status()
    except socket.timeout as exc:
        _close_quietly(channel)
        raise CommandTimeout('command %r did not complete within %.0fs: %s' % (command, wait, exc))
    except Exception as exc:  # pylint: disable=broad-except
        _close_quietly(channel)
        raise _lost(command, exc)
    transport = getattr(client, 'get_transport', lambda: None)()
    if rc == -1 and (transport is None or not transport.is_active()):
        raise _lost(command, None)
    return rc, out, err


def _close_quietly(thing):
    try:
        thing.close()
    except Exception:  # pylint: disable=broad-except
        pass  # closing a broken channel or client: nothing more to do


class SSHRunner(object):
    """The command runner of ``install_transaction`` over an SSH connection."""

    def __init__(self, client):
        self.client = client

    def run(self, command, timeout):
        return run_command(self.client, command, timeout)

    def service_reload(self, name, timeout):
        return self.run(_SERVICE_RELOAD % {'name': shlex.quote(name)}, timeout)

    def signal(self, pid, name, timeout):
        return self.run('kill -s %s %d' % (signal_name(name), int(pid)), timeout)


def chain_fingerprints(pem_data):
    """SHA-256 (lowercase hex) of every certificate in a PEM bundle, in file order (leaf first); [] if none."""
    try:
        return [hashlib.sha256(der).hexdigest() for der in pem_to_ders(pem_data)]
    except ValueError:
        return []


def leaf_fingerprint(pem_data):
    """SHA-256 (lowercase hex) of the first certificate in a PEM bundle, or None."""
    chain = chain_fingerprints(pem_data)
    return chain[0] if chain else None


def normalize_fingerprint(value):
    return (value or '').replace(':', '').strip().lower()


def served_chain(address, port, server_name, deadline, timeout=10):
    """SHA-256 of every certificate a TLS server presents for ``server_name``, leaf first.

    ``address`` may be a host name: it is resolved here (IPv4 and IPv6). Chain validation is off on
    purpose: the check is an exact match with the certificates we just pushed, which is stronger
    than any trust check. Raises ``CertpilotError`` when this Python cannot read past the leaf.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = socket.create_connection((address, int(port)), timeout=max(1.0, deadline.cap(timeout)))
    try:
        with context.wrap_socket(sock, server_hostname=server_name) as tls:
            ders, source = presented_chain(tls)
    finally:
        sock.close()
    if source not in ('public', 'private') or not ders:
        raise CertpilotError('cannot read the certificate chain %s:%s presents (this Python reads %s)'
                             % (address, port, source))
    return [hashlib.sha256(der).hexdigest() for der in ders]


def verify_served(endpoints, expected, deadline, probe=served_chain, attempts=5):
    """Check every endpoint serves ``expected``; retry briefly (workers take a moment after reload).

    ``expected`` is the list of fingerprints of the pushed file, leaf first (a string: the leaf only).
    The leaf must match; when the file holds a chain, the served chain after the leaf must be exactly
    that chain, in order. ``probe`` returns the served fingerprints (a list, leaf first; a string is a
    leaf only). A check that cannot run (no name, no connection, no handshake) is a failure.
    Returns a list of ``{server_name, address, port, fingerprint_sha256, served_chain_sha256, ok, error}``.
    """
    expected = [expected] if isinstance(expected, str) else list(expected)
    expected = [normalize_fingerprint(value) for value in expected]
    results = []
    policy = RetryPolicy(attempts=attempts, base=0.3, cap=2.0)
    for endpoint in endpoints:
        entry = dict(endpoint)
        entry['ok'] = False

        def attempt(endpoint=endpoint):
            try:
                got = probe(endpoint['address'], endpoint['port'], endpoint['server_name'], deadline)
            except (OSError, ssl.SSLError) as exc:
                raise Retryable(CertpilotError('TLS handshake failed: %s' % exc))
            got = [got] if isinstance(got, str) else list(got)
            got = [normalize_fingerprint(value) for value in got]
            leaf = got[0] if got else ''
            # A leaf-only file says nothing about the chain: compare the chain only when the file holds one.
            why = served_mismatch(expected[0], leaf, expected_chain=expected[1:] if len(expected) > 1 else None,
                                  served_chain=got[1:])
            if why:
                raise Retryable(CertpilotError(why), what=leaf)
            return got

        try:
            got = call_with_retry(attempt, policy, deadline, what='TLS verification')
            entry['fingerprint_sha256'] = got[0]
            entry['served_chain_sha256'] = got[1:]
            entry['ok'] = True
        except CertpilotError as exc:
            entry['error'] = exc.msg
        results.append(entry)
    return results


class HostPush(object):
    """One host over SSH: the install transaction with SFTP files, SSH commands and a TLS verify step."""

    def __init__(self, name, address, port, specs, validate_command=None, reload_command=None,
                 username=None, command_timeout=60, verify_attempts=5, probe=served_chain, reload=None):
        self.name = name
        self.address = address
        self.port = port
        self.specs = specs
        self.validate_command = validate_command
        if reload is None and reload_command:
            reload = ReloadSpec('command', command=reload_command, timeout=command_timeout)
        self.reload = reload
        self.username = username
        self.command_timeout = command_timeout
        self.verify_attempts = verify_attempts
        self.probe = probe
        self._deadline = None

    def run(self, connector, deadline, check_mode=False):
        opened = []

        def connect():
            client = connector.connect(self.address, self.port, deadline, username=self.username)
            opened.append(client)
            raw = client.open_sftp()
            # Test doubles implement create() themselves; a paramiko client gets it from SFTPFiles.
            sftp = raw if hasattr(raw, 'create') else SFTPFiles(raw)
            opened.append(sftp)
            return sftp, SSHRunner(client)

        def reconnect():
            for thing in reversed(opened):
                _close_quietly(thing)
            del opened[:]
            return connect()

        self._deadline = deadline
        try:
            sftp, runner = connect()
            verify = self._verify if any(spec.verify for spec in self.specs) else None
            transaction = InstallTransaction(
                sftp, self.specs, backups=InMemoryBackups(), runner=runner, validate=self.validate_command,
                validate_timeout=self.command_timeout, reload=self.reload, verify=verify, deadline=deadline,
                reconnect=reconnect)
            try:
                result = transaction.run(check_mode=check_mode)
            except TransactionFailed as exc:
                details = dict(exc.details)
                details['host'] = self.name
                raise CertpilotError('%s: %s' % (self.name, exc.msg), **details)
        finally:
            for thing in reversed(opened):
                _close_quietly(thing)
        out = result.as_dict()
        out['name'] = self.name
        return out

    def _verify(self, states):
        checks = []
        for state in states:
            spec = state.spec
            if not spec.verify or spec.state != 'present':
                continue
            expected = chain_fingerprints(spec.data)
            if not expected:
                raise CertpilotError('%s has verify endpoints but holds no PEM certificate' % spec.dest)
            checks.extend(verify_served(spec.verify, expected, self._deadline, probe=self.probe,
                                        attempts=self.verify_attempts))
        return checks


def read_local(path):
    try:
        with open(os.path.expanduser(path), 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        raise CertpilotError('cannot read %s: %s' % (path, exc.strerror or exc))

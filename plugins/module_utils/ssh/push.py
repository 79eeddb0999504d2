# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Push files over SFTP atomically, validate, reload, verify, and roll back on failure.

The file decisions (create, update, chmod, remove, undo) live in ``common/file_transaction.py``;
this file adds what is SSH-specific: remote commands, the served-certificate check, one host's flow.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import ssl

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import apply, plan, rollback
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import (
    Retryable, RetryPolicy, call_with_retry)
from ansible_collections.certpilot.tls.plugins.module_utils.ssh.sftp_files import SFTPFiles


def run_command(client, command, deadline, timeout=60):
    """Run a remote command; (rc, stdout, stderr). Output is bounded, the wait has a deadline."""
    wait = max(1.0, deadline.cap(timeout))
    try:
        stdin, stdout, stderr = client.exec_command(command, timeout=wait)
        stdin.close()
        out = stdout.read(65536).decode('utf-8', 'replace')
        err = stderr.read(65536).decode('utf-8', 'replace')
        rc = stdout.channel.recv_exit_status()
    except Exception as exc:  # socket.timeout, SSHException
        raise CertpilotError('command %r did not complete within %.0fs: %s' % (command, wait, exc))
    return rc, out, err


def leaf_fingerprint(pem_data):
    """SHA-256 (lowercase hex) of the first certificate in a PEM bundle, or None."""
    text = pem_data.decode('ascii', 'replace')
    begin = text.find('-----BEGIN CERTIFICATE-----')
    end = text.find('-----END CERTIFICATE-----', begin)
    if begin < 0 or end < 0:
        return None
    der = ssl.PEM_cert_to_DER_cert(text[begin:end + len('-----END CERTIFICATE-----')] + '\n')
    return hashlib.sha256(der).hexdigest()


def normalize_fingerprint(value):
    return (value or '').replace(':', '').strip().lower()


def served_fingerprint(address, port, server_name, deadline, timeout=10):
    """SHA-256 of the certificate a TLS server presents for ``server_name``.

    Chain validation is deliberately off: the check is an exact fingerprint match
    with the certificate we just pushed, which is stronger than any chain check.
    """
    import socket
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = socket.create_connection((address, int(port)), timeout=max(1.0, deadline.cap(timeout)))
    try:
        with context.wrap_socket(sock, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    finally:
        sock.close()
    return hashlib.sha256(der).hexdigest()


def verify_served(endpoints, expected, deadline, probe=served_fingerprint, attempts=5):
    """Check every endpoint serves ``expected``; retry briefly (workers take a moment after reload).

    Returns a list of ``{server_name, address, port, fingerprint_sha256, ok, error}``.
    """
    expected = normalize_fingerprint(expected)
    results = []
    policy = RetryPolicy(attempts=attempts, base=0.3, cap=2.0)
    for endpoint in endpoints:
        entry = dict(endpoint)
        entry['ok'] = False

        def attempt(endpoint=endpoint):
            try:
                got = normalize_fingerprint(probe(endpoint['address'], endpoint['port'], endpoint['server_name'], deadline))
            except (OSError, ssl.SSLError) as exc:
                raise Retryable(CertpilotError('TLS handshake failed: %s' % exc))
            if got != expected:
                raise Retryable(CertpilotError('serves %s, expected %s' % (got, expected)), what=got)
            return got

        try:
            entry['fingerprint_sha256'] = call_with_retry(attempt, policy, deadline, what='TLS verification')
            entry['ok'] = True
        except CertpilotError as exc:
            entry['error'] = exc.msg
        results.append(entry)
    return results


class HostPush(object):
    """Everything that happens on one host: plan, write, validate, reload, verify, roll back."""

    def __init__(self, name, address, port, specs, validate_command=None, reload_command=None,
                 username=None, command_timeout=60, verify_attempts=5, probe=served_fingerprint):
        self.name = name
        self.address = address
        self.port = port
        self.specs = specs
        self.validate_command = validate_command
        self.reload_command = reload_command
        self.username = username
        self.command_timeout = command_timeout
        self.verify_attempts = verify_attempts
        self.probe = probe
        self._restored = self._reload_started = False

    def run(self, connector, deadline, check_mode=False):
        result = {'name': self.name, 'changed': False, 'files': [], 'validated': False,
                  'reloaded': False, 'rolled_back': False, 'verified': [], 'diff': []}
        client = connector.connect(self.address, self.port, deadline, username=self.username)
        try:
            raw = client.open_sftp()
            # Test doubles implement create() themselves; a paramiko client gets it from SFTPFiles.
            sftp = raw if hasattr(raw, 'create') else SFTPFiles(raw)
            try:
                return self._run(client, sftp, deadline, check_mode, result)
            finally:
                sftp.close()
        finally:
            client.close()

    def _fail(self, result, msg, **details):
        details.update(result)
        details['host'] = self.name
        raise CertpilotError('%s: %s' % (self.name, msg), **details)

    def _run(self, client, sftp, deadline, check_mode, result):
        try:
            states = plan(sftp, self.specs)
        except (IOError, OSError) as exc:
            self._fail(result, 'cannot read the current files: %s' % exc)
        result['files'] = [state.summary() for state in states]
        result['diff'] = [d for d in (state.diff() for state in states) if d]
        changed = any(state.changed for state in states)
        result['changed'] = changed
        if check_mode:
            return result
        if not changed:
            return self._verify(client, sftp, deadline, states, result, changed)
        self._restored = self._reload_started = False
        try:
            return self._after_write(client, sftp, deadline, states, result)
        except CertpilotError as exc:
            if self._restored:
                raise
            reason = exc.msg
        except Exception as exc:  # pylint: disable=broad-except
            # paramiko SSHException, socket errors, EOF of a lost connection: still a failed step
            if self._restored:
                raise
            reason = '%s: %s' % (type(exc).__name__, exc)
        # A timeout, a lost channel or an error in validate, reload or verify: the step did not
        # complete, so the new files must not stay. Restore, and reload again if a reload ran.
        # A reload that timed out may have happened: reload again with the previous files.
        self._restore(client, sftp, states, deadline, result, reload=self._reload_started)
        self._fail(result, '%s; previous files restored%s' % (reason, ' and reloaded' if self._reload_started else ''))
        return result  # not reached: _fail raises

    def _after_write(self, client, sftp, deadline, states, result):
        """Write, validate, reload, verify; every failure handled here restores before it raises."""
        try:
            apply(sftp, states)
        except (IOError, OSError) as exc:
            self._restored = True
            problems = rollback(sftp, states)
            result['rolled_back'] = not problems
            self._fail(result, 'upload failed (%s); previous files restored%s'
                       % (exc, '' if not problems else ' EXCEPT ' + '; '.join(problems)))
        for step, command, done in (('validation', self.validate_command, 'validated'),
                                    ('reload', self.reload_command, 'reloaded')):
            if not command:
                continue
            if step == 'reload':
                self._reload_started = True
            rc, out, err = run_command(client, command, deadline, self.command_timeout)
            if rc != 0:
                self._restore(client, sftp, states, deadline, result, reload=step == 'reload')
                self._fail(result, '%s command %r failed (rc=%d), previous files restored: %s'
                           % (step, command, rc, (err or out).strip()), stdout=out, stderr=err)
            result[done] = True
        return self._verify(client, sftp, deadline, states, result, True)

    def _verify(self, client, sftp, deadline, states, result, changed):
        failures = []
        for state in states:
            spec = state.spec
            if not spec.verify or spec.state != 'present':
                continue
            expected = leaf_fingerprint(spec.data)
            if expected is None:
                self._fail(result, '%s has verify endpoints but holds no PEM certificate' % spec.dest)
            checks = verify_served(spec.verify, expected, deadline, probe=self.probe, attempts=self.verify_attempts)
            result['verified'].extend(checks)
            failures.extend('%s:%s (%s) %s' % (c['address'], c['port'], c['server_name'], c.get('error', ''))
                            for c in checks if not c['ok'])
        if failures:
            if changed:
                self._restore(client, sftp, states, deadline, result, reload=bool(self.reload_command))
                self._fail(result, 'after the reload the new certificate is not served: %s; previous files '
                           'restored and reloaded' % '; '.join(failures))
            self._fail(result, 'files are up to date but the served certificate differs: %s' % '; '.join(failures))
        return result

    def _restore(self, client, sftp, states, deadline, result, reload):
        self._restored = True
        try:
            problems = rollback(sftp, states)
        except Exception as exc:  # pylint: disable=broad-except
            problems = ['restore failed: %s: %s' % (type(exc).__name__, exc)]
        result['rolled_back'] = not problems
        if problems:
            result['rollback_errors'] = problems
        if reload and self.reload_command:
            try:
                rc, out, err = run_command(client, self.reload_command, deadline, self.command_timeout)
            except CertpilotError as exc:
                rc, out, err = -1, '', exc.msg
            if rc != 0:
                result.setdefault('rollback_errors', []).append('reload after rollback failed: %s' % (err or out).strip())


def read_local(path):
    try:
        with open(os.path.expanduser(path), 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        raise CertpilotError('cannot read %s: %s' % (path, exc.strerror or exc))

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a host reloads its server: one mechanism per host, the same on the forward path and in a rollback.

``service``: ``systemctl reload <name>`` where systemd runs, ``service <name> reload`` otherwise.
``command``: a command (an argument list locally, a command line over SSH).
``signal``: a signal (``HUP`` by default) to the pid written in a pid file (nginx, haproxy, ...).

A ``ReloadSpec`` is plain data (``to_dict``/``from_dict``), so the install step of a transaction can
return it and the commit or rollback step (a later module call) reloads in exactly the same way.
The work itself goes through a runner (``LocalRunner`` in ``local_files``, ``SSHRunner`` in
``ssh/push``): ``run(command, timeout)``, ``service_reload(name, timeout)``, ``signal(pid, name, timeout)``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import shlex
import signal as signal_module

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

MECHANISMS = ('service', 'command', 'signal')
DEFAULT_TIMEOUT = 60
# A pid file holds a number and a newline; anything much longer is not a pid file.
_PID_FILE_LIMIT = 64
_SERVICE_RE = re.compile(r'^[A-Za-z0-9@._:-]+$')


def signal_name(value):
    """``'HUP'``, ``'SIGHUP'``, ``'hup'`` -> ``'HUP'``; a clear error for anything that is not a signal."""
    name = str(value or 'HUP').strip().upper()
    if name.startswith('SIG'):
        name = name[3:]
    if not name.isalnum() or not isinstance(getattr(signal_module, 'SIG' + name, None), int):
        raise CertpilotError('reload: %r is not a signal name (HUP, USR1, USR2, ...)' % (value,))
    return name


def signal_number(name):
    return int(getattr(signal_module, 'SIG' + signal_name(name)))


class ReloadSpec(object):
    """One reload mechanism, validated."""

    def __init__(self, mechanism, service=None, command=None, pid_file=None, signal='HUP', timeout=DEFAULT_TIMEOUT):
        if mechanism not in MECHANISMS:
            raise CertpilotError('reload: mechanism must be one of %s, got %r' % (', '.join(MECHANISMS), mechanism))
        self.mechanism = mechanism
        self.service = service or None
        self.command = command or None
        self.pid_file = pid_file or None
        self.signal = signal_name(signal) if mechanism == 'signal' else None
        try:
            self.timeout = DEFAULT_TIMEOUT if timeout in (None, '') else int(timeout)
        except (TypeError, ValueError):
            raise CertpilotError('reload: timeout must be a number of seconds, got %r' % (timeout,))
        if self.timeout < 1:
            raise CertpilotError('reload: timeout must be at least 1 second')
        if mechanism == 'service' and not (self.service and _SERVICE_RE.match(self.service)):
            raise CertpilotError('reload: mechanism service needs a service name (letters, digits, @._:-), got %r'
                                 % (service,))
        if mechanism == 'command' and not self.command:
            raise CertpilotError('reload: mechanism command needs a command')
        if mechanism == 'signal' and not (self.pid_file and self.pid_file.startswith('/')):
            raise CertpilotError('reload: mechanism signal needs an absolute pid_file, got %r' % (pid_file,))

    @classmethod
    def from_dict(cls, data):
        """From module parameters or a ``to_dict`` result; None or an empty mechanism means no reload."""
        if not data:
            return None
        if not isinstance(data, dict):
            raise CertpilotError('reload must be a dictionary')
        if not data.get('mechanism'):
            return None
        unknown = set(k for k, v in data.items() if v is not None) - set(
            ('mechanism', 'service', 'command', 'pid_file', 'signal', 'timeout'))
        if unknown:
            raise CertpilotError('reload: unknown keys %s' % ', '.join(sorted(unknown)))
        return cls(data['mechanism'], service=data.get('service'), command=data.get('command'),
                   pid_file=data.get('pid_file'), signal=data.get('signal') or 'HUP',
                   timeout=data.get('timeout'))

    def to_dict(self):
        out = {'mechanism': self.mechanism, 'timeout': self.timeout}
        if self.mechanism == 'service':
            out['service'] = self.service
        elif self.mechanism == 'command':
            out['command'] = list(self.command) if isinstance(self.command, (list, tuple)) else self.command
        else:
            out.update(pid_file=self.pid_file, signal=self.signal)
        return out

    def describe(self):
        if self.mechanism == 'service':
            return 'reload of service %s' % self.service
        if self.mechanism == 'command':
            text = self.command if not isinstance(self.command, (list, tuple)) else ' '.join(
                shlex.quote(str(a)) for a in self.command)
            return 'reload command %r' % text
        return 'SIG%s to the pid in %s' % (self.signal, self.pid_file)

    def run(self, fs, runner, timeout=None):
        """Reload once. Raises ``CertpilotError`` (or the runner's exception) when the reload did not work."""
        limit = min(self.timeout, timeout) if timeout else self.timeout
        limit = max(1.0, limit)
        what = self.describe()
        if self.mechanism == 'signal':
            pid = read_pid(fs, self.pid_file)
            what = 'SIG%s to pid %d (from %s)' % (self.signal, pid, self.pid_file)
            rc, out, err = runner.signal(pid, self.signal, limit)
        elif self.mechanism == 'service':
            rc, out, err = runner.service_reload(self.service, limit)
        else:
            rc, out, err = runner.run(self.command, limit)
        if rc != 0:
            raise CertpilotError('%s failed (rc=%s): %s' % (what, rc, (err or out or 'no output').strip()), rc=rc)
        return rc


def read_pid(fs, path):
    """The pid in ``path``, read through the transaction's file system (never through a symlink)."""
    from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import read_remote
    try:
        data, dummy = read_remote(fs, path)
    except (IOError, OSError) as exc:
        raise CertpilotError('cannot read pid file %s: %s' % (path, exc))
    if data is None:
        raise CertpilotError('pid file %s does not exist (is the server running?)' % path)
    text = data[:_PID_FILE_LIMIT].decode('ascii', 'replace').strip()
    if not text.isdigit() or int(text) < 2:
        raise CertpilotError('pid file %s does not hold a process id' % path)
    return int(text)

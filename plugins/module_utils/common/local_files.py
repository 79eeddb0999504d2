# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local side of ``install_transaction`` (``cert_files`` on the target host).

The steps and the rollback come from ``install_transaction``, the file decisions from
``file_transaction``; this file adds what a local install needs: the file system (fsync,
owner and group, ``O_NOFOLLOW``, final-mode creation), a command runner with timeouts
(``LocalRunner``) and backups that survive the call (``HardLinkBackups``). A backup is a
hard link to the replaced inode, so it keeps the exact content, mode and owner at no cost,
and a later call (after a TLS check on the controller) commits or rolls back with one
rename or unlink each (``finish_local``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import errno
import grp
import os
import posixpath
import pwd
import shlex
import shutil
import signal
import threading

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.files import fsync_dir
from ansible_collections.certpilot.tls.plugins.module_utils.common.install_transaction import (
    CommandTimeout, InstallTransaction, finish)
from ansible_collections.certpilot.tls.plugins.module_utils.common.parallel import progress_writer
from ansible_collections.certpilot.tls.plugins.module_utils.common.reload import signal_number

BACKUP_SUFFIX = '.certpilot-backup'


class _SyncedFile(object):
    """A file opened for writing that reaches the disk before it is renamed over the old one."""

    def __init__(self, handle):
        self._handle = handle

    def write(self, data):
        self._handle.write(data)

    def read(self):
        return self._handle.read()

    def close(self):
        if 'w' in self._handle.mode:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        self._handle.close()


class LocalFS(object):
    """The SFTP client subset ``file_transaction`` needs, on the local file system.

    New files and directories get ``uid``/``gid`` before they are renamed into place, so a key
    file is never visible with the wrong owner.
    """

    def __init__(self, uid=-1, gid=-1):
        self.uid = uid
        self.gid = gid
        self.dirs_created = []
        self._unsynced_dirs = None  # a set while directory syncs are deferred (see deferred_directory_sync)

    def stat(self, path):
        return os.stat(path)

    def lstat(self, path):
        return os.lstat(path)

    def open(self, path, mode):
        if 'w' in mode:
            raise CertpilotError('internal error: files are written with create(), never open()')
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
        return _SyncedFile(os.fdopen(fd, 'rb'))

    def create(self, path, mode):
        """A new file with ``mode`` from its first instant (O_CREAT|O_EXCL; the umask can only narrow it).

        The owner is set before any data is written. The umask may have removed bits the wanted
        mode has (group read of a 0640 key): fchmod then only adds what ``mode`` allows.
        """
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), mode & 0o777)
        try:
            if self.uid != -1 or self.gid != -1:
                os.fchown(fd, self.uid, self.gid)
            if (os.fstat(fd).st_mode & 0o7777) != mode:
                os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        return _SyncedFile(os.fdopen(fd, 'wb'))

    def chmod(self, path, mode):
        os.chmod(path, mode)
        if self.uid != -1 or self.gid != -1:
            os.chown(path, self.uid, self.gid)

    def posix_rename(self, src, dest):
        os.rename(src, dest)
        if self._unsynced_dirs is None:
            fsync_dir(posixpath.dirname(dest))
        else:
            self._unsynced_dirs.add(posixpath.dirname(dest))

    @contextlib.contextmanager
    def deferred_directory_sync(self):
        """Renames inside sync each directory once, when the block ends, instead of once per file.

        Each rename is atomic either way (a reader sees the old file or the new one); the directory fsync
        only makes the new names durable, and one per directory gives the same guarantee as one per file
        for 2,000 files in 500 directories. On success a failed sync is raised (the install then restores);
        after an error every directory is still synced, and the first error is the one raised.
        """
        self._unsynced_dirs = set()
        failed = True
        try:
            yield
            failed = False
        finally:
            pending, self._unsynced_dirs = sorted(self._unsynced_dirs), None
            for directory in pending:
                try:
                    fsync_dir(directory)
                except OSError:
                    if not failed:
                        raise

    rename = posix_rename

    def remove(self, path):
        os.unlink(path)

    def mkdir(self, path, mode):
        os.mkdir(path, mode)
        os.chmod(path, mode)  # not reduced by the umask
        if self.uid != -1 or self.gid != -1:
            os.chown(path, self.uid, self.gid)
        self.dirs_created.append(path)


def _kill(proc):
    try:
        proc.kill()
    except OSError:
        pass  # it ended just now


def _text(data):
    if isinstance(data, bytes):
        return data.decode('utf-8', 'replace')
    return data or ''


def resolve_owner(owner, group):
    """(uid, gid) for names or numbers; -1 means leave as is."""
    uid = gid = -1
    if owner not in (None, ''):
        try:
            uid = int(owner) if str(owner).isdigit() else pwd.getpwnam(owner).pw_uid
        except KeyError:
            raise CertpilotError('owner %r does not exist on this host' % (owner,))
    if group not in (None, ''):
        try:
            gid = int(group) if str(group).isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise CertpilotError('group %r does not exist on this host' % (group,))
    return uid, gid


def backup_path(dest):
    return posixpath.join(posixpath.dirname(dest), '.%s%s' % (posixpath.basename(dest), BACKUP_SUFFIX))


def _remove_quietly(path):
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def _keep_previous(dest):
    """Hard-link the current file to its backup name (a copy where links are not possible)."""
    backup = backup_path(dest)
    _remove_quietly(backup)  # a leftover from an earlier, interrupted run
    try:
        os.link(dest, backup)
    except OSError:
        # No hard links here: a copy created with the original's mode and owner from the start.
        st = os.lstat(dest)
        fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), st.st_mode & 0o700)
        try:
            os.fchown(fd, st.st_uid, st.st_gid)
            with open(dest, 'rb') as source, os.fdopen(os.dup(fd), 'wb') as copy:
                shutil.copyfileobj(source, copy)
            os.fchmod(fd, st.st_mode & 0o7777)
            os.fsync(fd)
        finally:
            os.close(fd)
    return backup


def _owner_differs(path, uid, gid):
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid)


class HardLinkBackups(object):
    """Backups of ``install_transaction`` that outlive the module call: ``.<name>.certpilot-backup`` hard links.

    A chmod or chown would change the backup too (same inode), so the transaction writes a new
    inode for those (``rewrite_in_place``).
    """

    rewrite_in_place = True

    def keep(self, fs, state):
        backup = _keep_previous(state.spec.dest) if state.old is not None else None
        return {'dest': state.spec.dest, 'action': state.action, 'backup': backup}

    def restore(self, fs, entries):
        return restore([record for record, dummy in entries])

    def discard(self, fs, records):
        return discard(records)

    def pending(self, records):
        return pending_restores(records)


class LocalRunner(object):
    """Commands on this host with a timeout, through ``AnsibleModule.run_command``.

    ``run_command`` has no timeout of its own: a timer kills the command (SIGKILL) when it runs
    out, and the run counts as failed (``CommandTimeout``). An exception while it runs (an
    interruption, see ``interrupts_as_errors``) kills it too: the command never outlives the call.
    """

    def __init__(self, run_command):
        self._run_command = run_command

    def run(self, command, timeout):
        argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
        if not argv:
            return 127, '', 'empty command'
        # A missing binary gives a clear failure (and a restore), not an exception deep in the runner.
        exe = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])
        if not exe or not os.access(exe, os.X_OK):
            return 127, '', 'cannot run %s: no such executable' % argv[0]
        running = {'proc': None, 'timed_out': False}

        def started(proc):
            running['proc'] = proc

        def expire():
            proc = running['proc']
            if proc is not None and proc.poll() is None:
                running['timed_out'] = True
                _kill(proc)
        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
        try:
            rc, out, err = self._run_command([exe] + argv[1:], before_communicate_callback=started,
                                             handle_exceptions=False)
        except BaseException:
            timer.cancel()
            if running['proc'] is not None:
                _kill(running['proc'])
            raise
        finally:
            timer.cancel()
        if running['timed_out']:
            raise CommandTimeout('command %r did not complete within %ds (killed)' % (' '.join(argv), timeout))
        return rc, _text(out), _text(err)

    def service_reload(self, name, timeout):
        if os.path.isdir('/run/systemd/system') and shutil.which('systemctl'):
            return self.run(['systemctl', 'reload', name], timeout)
        return self.run(['service', name, 'reload'], timeout)

    def signal(self, pid, name, timeout):
        try:
            os.kill(pid, signal_number(name))
        except ProcessLookupError:
            return 1, '', 'no process %d (stale pid file?)' % pid
        except OSError as exc:
            return 1, '', 'cannot signal process %d: %s' % (pid, exc.strerror or exc)
        return 0, '', ''


class LocalFileInstall(object):
    """Write a set of ``FileSpec`` on this host through the install transaction."""

    def __init__(self, specs, owner=None, group=None, directory_mode=0o755, run_command=None):
        """``run_command``: ``AnsibleModule.run_command`` (needed for a validate command or a reload)."""
        self.run_command = run_command
        self.group_given = group not in (None, '')
        names = [s.dest for s in specs]
        duplicates = sorted(set(n for n in names if names.count(n) > 1))
        if duplicates:
            raise CertpilotError('the same dest is listed more than once: %s' % ', '.join(duplicates))
        self.specs = specs
        self.uid, self.gid = resolve_owner(owner, group)
        self.directory_mode = directory_mode

    def transaction(self, validate_command=None, validate_timeout=60, reload=None, runner=None, progress=None):
        uid, gid = self.uid, self.gid

        def owner_change(state):
            return 'chown' if _owner_differs(state.spec.dest, uid, gid) else None
        return InstallTransaction(
            LocalFS(uid, gid), self.specs, backups=HardLinkBackups(),
            runner=runner or (LocalRunner(self.run_command) if self.run_command else None),
            validate=validate_command or None, validate_timeout=validate_timeout, reload=reload,
            extra_change=owner_change, directory_mode=self.directory_mode, group_given=self.group_given,
            progress=progress)

    def run(self, check_mode=False, validate_command=None, keep_backups=True, reload=None, validate_timeout=60,
            runner=None):
        """Install. ``keep_backups``: leave the backups for a later commit or rollback (``finish_local``).

        With ``CERTPILOT_PROGRESS_FILE`` set (the action plugin of ``cert_files`` on a long run), the files done and
        the step running are kept in that progress document.
        """
        progress = progress_writer(len(self.specs))
        transaction = self.transaction(validate_command, validate_timeout, reload, runner, progress)
        if progress is not None:
            progress.start()
        try:
            with interrupts_as_errors():
                return transaction.run(check_mode=check_mode, defer_commit=keep_backups)
        finally:
            if progress is not None:
                progress.stop()


class Interrupted(CertpilotError):
    """SIGTERM, SIGHUP or SIGINT arrived (sshd stopped, the connection cut, Ctrl-C)."""


class interrupts_as_errors(object):  # pylint: disable=invalid-name
    """Turn the first SIGTERM/SIGHUP/SIGINT into ``Interrupted``, so the transaction restores before exiting.

    When sshd goes away, the module (and its validate command) get SIGTERM or SIGHUP: without
    this the process would die between the write and the commit and leave the new files and the
    backups. Later signals are ignored until the restore is done (SIGKILL still ends everything).
    Only in the main thread (``signal.signal`` refuses elsewhere, and then nothing changes).
    """

    _SIGNALS = ('SIGTERM', 'SIGHUP', 'SIGINT')

    def __init__(self):
        self.previous = {}

    def _handler(self, signum, frame):
        for number in self.previous:
            signal.signal(number, signal.SIG_IGN)
        raise Interrupted('interrupted by signal %d (connection cut or service stopping)' % signum)

    def __enter__(self):
        for name in self._SIGNALS:
            number = getattr(signal, name, None)
            if number is None:
                continue
            try:
                self.previous[number] = signal.signal(number, self._handler)
            except (ValueError, OSError):
                pass  # not the main thread: leave the handlers alone
        return self

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            try:
                signal.signal(number, handler)
            except (ValueError, OSError, TypeError):
                pass  # a handler we cannot put back (None from C code): keep ours, harmless
        return False


def finish_local(records, commit, reload=None, reloaded=False, check_mode=False, runner=None, run_command=None):
    """Commit (remove the backups) or roll back (restore, reload again if the install reloaded)."""
    if runner is None and run_command is not None:
        runner = LocalRunner(run_command)
    if reload is not None and reloaded and runner is None:
        raise CertpilotError('internal error: a reload needs a command runner')
    if check_mode:
        if commit:
            return {'restored': 0, 'removed': discard(records, check_mode=True), 'reloaded_again': False, 'errors': []}
        return {'restored': pending_restores(records), 'removed': [], 'reloaded_again': False,
                'errors': restore(records, check_mode=True)}
    with interrupts_as_errors():
        return finish(LocalFS(), HardLinkBackups(), records, commit, runner=runner, reload=reload, reloaded=reloaded)


def restore(backups, check_mode=False):
    """Undo an install: put each backup back, remove files that did not exist. Returns errors."""
    errors = []
    for item in reversed(list(backups or [])):
        dest, backup = item.get('dest'), item.get('backup')
        if not dest or not posixpath.isabs(dest):
            errors.append('invalid backup entry %r' % (item,))
            continue
        if backup is not None and posixpath.dirname(backup) != posixpath.dirname(dest):
            errors.append('%s: backup %s is not next to it' % (dest, backup))
            continue
        if check_mode:
            continue
        try:
            if backup is None:
                if item.get('action') == 'create':
                    _remove_quietly(dest)
            elif not os.path.lexists(backup):
                continue  # restored already (a second restore changes nothing)
            else:
                os.rename(backup, dest)
                fsync_dir(posixpath.dirname(dest))
        except OSError as exc:
            errors.append('%s: %s' % (dest, exc.strerror or exc))
    return errors


def pending_restores(backups):
    """How many entries of ``backups`` would change something if restored now."""
    count = 0
    for item in backups or []:
        if item.get('backup') is None:
            count += 1 if item.get('action') == 'create' and os.path.lexists(item.get('dest') or '') else 0
        elif os.path.lexists(item['backup']):
            count += 1
    return count


def discard(backups, check_mode=False):
    """Delete the backups of a successful install. Returns the paths removed (or to remove)."""
    removed = []
    for item in backups or []:
        backup, dest = item.get('backup'), item.get('dest') or ''
        if not backup or posixpath.dirname(backup) != posixpath.dirname(dest) or not backup.endswith(BACKUP_SUFFIX):
            continue  # only ever delete our own backup files
        if os.path.lexists(backup):
            if not check_mode:
                _remove_quietly(backup)
            removed.append(backup)
    return removed

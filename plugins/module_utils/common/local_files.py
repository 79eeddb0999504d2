# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install many files on the local host in one call, keep what they replaced, undo on demand.

The decisions (create, update, chmod, remove) come from ``file_transaction``; this file
adds what a local install needs on top: fsync, owner and group, and backups that survive
the call. A backup is a hard link to the replaced inode, so it keeps the exact content,
mode and owner at no cost, and a later task (after a reload and a TLS check) can put the
previous files back with one rename each.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import grp
import os
import posixpath
import pwd
import shutil

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import (
    apply, directory_mode_for, makedirs, plan)
from ansible_collections.certpilot.tls.plugins.module_utils.common.files import fsync_dir

BACKUP_SUFFIX = '.certpilot-backup'
# Bounded output of the validate command: nginx -t is short; never keep megabytes.
_OUTPUT_LIMIT = 8192


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
        fsync_dir(posixpath.dirname(dest))

    rename = posix_rename

    def remove(self, path):
        os.unlink(path)

    def mkdir(self, path, mode):
        os.mkdir(path, mode)
        os.chmod(path, mode)  # not reduced by the umask
        if self.uid != -1 or self.gid != -1:
            os.chown(path, self.uid, self.gid)
        self.dirs_created.append(path)


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


class InstallResult(object):
    def __init__(self):
        self.files = []
        self.backups = []
        self.diff = []
        self.changed = False
        self.validate = None


class LocalFileInstall(object):
    """Write a set of ``FileSpec`` on this host: all changes, then validate, or none at all."""

    def __init__(self, specs, owner=None, group=None, directory_mode=0o755):
        self.group_given = group not in (None, '')
        names = [s.dest for s in specs]
        duplicates = sorted(set(n for n in names if names.count(n) > 1))
        if duplicates:
            raise CertpilotError('the same dest is listed more than once: %s' % ', '.join(duplicates))
        self.specs = specs
        self.uid, self.gid = resolve_owner(owner, group)
        self.directory_mode = directory_mode

    def run(self, check_mode=False, validate_command=None, keep_backups=True, run_command=None):
        """``run_command(argv) -> (rc, stdout, stderr)``: AnsibleModule.run_command in the module."""
        if validate_command and run_command is None:
            raise CertpilotError('internal error: validate_command given without a command runner')
        fs = LocalFS(self.uid, self.gid)
        result = InstallResult()
        try:
            states = plan(fs, self.specs)
        except (IOError, OSError) as exc:
            raise CertpilotError('cannot read %s: %s' % (getattr(exc, 'filename', '') or 'a destination', exc.strerror or exc))
        owner_fix = [s for s in states if s.spec.state == 'present' and not s.changed
                     and _owner_differs(s.spec.dest, self.uid, self.gid)]
        for state in states:
            summary = state.summary()
            if state in owner_fix:
                summary.update(action='chown', changed=True)
            result.files.append(summary)
            diff = state.diff()
            if diff:
                result.diff.append(diff)
        result.changed = any(s.changed for s in states) or bool(owner_fix)
        if check_mode or not result.changed:
            return result

        for state in states:
            # chmod or chown on the existing inode would change its backup (a hard link) too:
            # write a new inode instead, so the backup keeps the previous mode and owner.
            if state.action == 'chmod' or state in owner_fix:
                state.action = 'update'
        backups = []
        try:
            for state in states:
                if state.changed:
                    backups.append({'dest': state.spec.dest, 'action': state.action,
                                    'backup': _keep_previous(state.spec.dest) if state.old is not None else None})
            for state in states:
                if state.changed and state.spec.state == 'present':
                    # Directories of new files are created with the wanted mode and owner; those of
                    # keys 0700 (0750 when a group is given), whatever directory_mode says.
                    makedirs(fs, posixpath.dirname(state.spec.dest),
                             directory_mode_for(state.spec, self.directory_mode, self.group_given))
            apply(fs, states)
        except (IOError, OSError, CertpilotError) as exc:
            errors = restore(backups)
            msg = 'writing the files failed, the previous files were restored: %s' % (getattr(exc, 'strerror', None) or exc,)
            if errors:
                msg += '; could not restore: %s' % '; '.join(errors)
            raise CertpilotError(msg)

        if validate_command:
            rc, out = _validate(validate_command, run_command)
            result.validate = {'command': list(validate_command), 'rc': rc, 'output': out}
            if rc != 0:
                errors = restore(backups)
                msg = 'validation failed (%s exited %s), the previous files were restored: %s' % (
                    validate_command[0], rc, out.strip() or 'no output')
                if errors:
                    msg += '; could not restore: %s' % '; '.join(errors)
                raise CertpilotError(msg, files=result.files, validate=result.validate, restored=True)
        if not keep_backups:
            discard(backups)
            backups = [dict(b, backup=None) for b in backups]
        result.backups = backups
        return result


def _validate(argv, run_command):
    # A missing binary must give a clear failure here (and a restore), not an exception deep in the runner.
    exe = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])
    if not exe or not os.access(exe, os.X_OK):
        return 127, 'cannot run %s: no such executable' % argv[0]
    rc, out, err = run_command([exe] + list(argv[1:]))
    text = '%s%s' % (out or '', err or '')
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    return rc, text[-_OUTPUT_LIMIT:]


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

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A set of files made as wanted in one go, and undone when anything fails.

Transport-neutral: works on any object with the paramiko ``SFTPClient`` subset used here
(``open``, ``stat``, ``lstat``, ``chmod``, ``posix_rename``, ``rename``, ``remove``, ``mkdir``)
plus ``create(path, mode)``, which makes a new file that has ``mode`` from its first instant
(``O_CREAT|O_EXCL`` locally, SFTP ``open`` with attributes remotely).

Private keys are recognised by parsing the PEM (``key_material``), old and new content alike:
their text and digest never reach a result or a diff, whatever ``secret`` says. Destinations
that are symlinks or not regular files are refused, and so is a symlinked directory between
a spec's ``base`` and its file.
``ssh/push.py`` passes a real SFTP client, ``common/local_files.py`` the local file system,
so both transports share one decision logic (what to create, update, chmod or remove). The
steps around it (validate, reload, verify, commit, and the restore when any of them fails)
are ``install_transaction.py``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import hashlib
import posixpath
import stat as stat_module
import uuid

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.key_material import holds_private_key

# Shown in a diff instead of the text of a file that holds (or held) a private key.
KEY_PLACEHOLDER = '<private key, not shown>\n'


def parse_mode(value, dest, default=0o644):
    """An octal mode from a string such as "0640" or an int; clear error otherwise."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise CertpilotError('file %s: invalid mode %r' % (dest, value))
    if isinstance(value, int):
        mode = value
    else:
        try:
            mode = int(str(value), 8)
        except ValueError:
            raise CertpilotError('file %s: mode must be octal like "0640", got %r' % (dest, value))
    if not 0 <= mode <= 0o7777:
        raise CertpilotError('file %s: mode %o out of range' % (dest, mode))
    return mode


class FileSpec(object):
    """One remote file: wanted ``data`` (bytes) and ``mode``, or ``state='absent'``."""

    def __init__(self, dest, data=None, mode=0o644, state='present', secret=False, verify=None, base=None):
        if not dest or not posixpath.isabs(dest):
            raise CertpilotError('file dest must be an absolute path, got %r' % (dest,))
        if state == 'present' and data is None:
            raise CertpilotError('file %s: src or content is required when state=present' % dest)
        if base is not None and not (posixpath.isabs(base) and dest.startswith(base.rstrip('/') + '/')):
            raise CertpilotError('file %s is not below its base directory %s' % (dest, base))
        self.dest = dest
        self.data = data
        self.mode = mode
        self.state = state
        # Parsed, not trusted to a flag: a private key is secret whether or not the caller said so.
        self.secret = bool(secret) or holds_private_key(data)
        self.verify = verify or []
        self.base = base


class FileState(object):
    """What a remote file looks like now and what has to happen to it."""

    def __init__(self, spec, old=None, old_mode=None):
        self.spec = spec
        self.old = old
        self.old_mode = old_mode
        self.applied = False
        if spec.state == 'absent':
            self.action = 'remove' if old is not None else 'none'
        elif old is None:
            self.action = 'create'
        elif old != spec.data:
            self.action = 'update'
        elif old_mode is not None and old_mode != spec.mode:
            self.action = 'chmod'
        else:
            self.action = 'none'

    @property
    def changed(self):
        return self.action != 'none'

    @property
    def sensitive(self):
        """The new or the current content is (or holds) a private key."""
        return self.spec.secret or holds_private_key(self.old)

    def summary(self):
        out = {'dest': self.spec.dest, 'action': self.action, 'changed': self.changed}
        if self.spec.state == 'present':
            if not self.sensitive:
                out['sha256'] = hashlib.sha256(self.spec.data).hexdigest()
            out['mode'] = '%04o' % self.spec.mode
        return out

    def diff(self):
        if not self.changed:
            return None
        if self.sensitive:
            before = KEY_PLACEHOLDER if self.old is not None else ''
            after = KEY_PLACEHOLDER if self.spec.state == 'present' else ''
        else:
            before = _text(self.old) if self.old is not None else ''
            after = _text(self.spec.data) if self.spec.state == 'present' else ''
        return {'before_header': self.spec.dest, 'after_header': self.spec.dest,
                'before': before, 'after': after}


def _text(data):
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        return '<binary data, sha256 %s>\n' % hashlib.sha256(data).hexdigest()


def _is_missing(exc):
    return isinstance(exc, (IOError, OSError)) and getattr(exc, 'errno', None) == errno.ENOENT


def read_remote(sftp, path):
    """(content, mode) of a regular file, or (None, None) when it does not exist.

    A symlink or any other non-regular file is refused, never followed: reading it for a diff
    would show its target, writing would replace something we did not expect.
    """
    try:
        attrs = sftp.lstat(path)
    except (IOError, OSError) as exc:
        if _is_missing(exc):
            return None, None
        raise CertpilotError('cannot stat %s: %s' % (path, exc))
    kind = attrs.st_mode
    if kind is not None and stat_module.S_ISLNK(kind):
        raise CertpilotError('refusing %s: it is a symlink; replace it with a regular file or remove it' % path)
    if kind is not None and not stat_module.S_ISREG(kind):
        raise CertpilotError('refusing %s: it is not a regular file' % path)
    handle = sftp.open(path, 'rb')
    try:
        data = handle.read()
    finally:
        handle.close()
    mode = None if attrs.st_mode is None else attrs.st_mode & 0o7777
    return data, mode


def check_directories(sftp, spec):
    """Refuse a symlink (or non-directory) among the existing directories from ``spec.base`` to the file."""
    if spec.base is None:
        return
    base = spec.base.rstrip('/') or '/'
    current = base
    for part in posixpath.dirname(spec.dest)[len(base):].strip('/').split('/'):
        if not part:
            continue
        current = posixpath.join(current, part)
        try:
            attrs = sftp.lstat(current)
        except (IOError, OSError) as exc:
            if _is_missing(exc):
                return
            raise CertpilotError('cannot stat %s: %s' % (current, exc))
        if attrs.st_mode is not None and stat_module.S_ISLNK(attrs.st_mode):
            raise CertpilotError('refusing %s: directory %s below %s is a symlink' % (spec.dest, current, base))
        if attrs.st_mode is not None and not stat_module.S_ISDIR(attrs.st_mode):
            raise CertpilotError('refusing %s: %s is not a directory' % (spec.dest, current))


def plan(sftp, specs):
    """Read every destination and decide what to do with it."""
    states = []
    for spec in specs:
        check_directories(sftp, spec)
        states.append(FileState(spec, *read_remote(sftp, spec.dest)))
    return states


def directory_mode_for(spec, default=0o755, group=False):
    """Mode of a directory created for ``spec``: 0700 for a key (0750 when a group shares it)."""
    if spec.secret:
        return 0o750 if group else 0o700
    return default


def makedirs(sftp, directory, mode=0o755):
    missing = []
    while directory not in ('', '/'):
        try:
            sftp.stat(directory)
            break
        except (IOError, OSError) as exc:
            if not _is_missing(exc):
                raise
            missing.append(directory)
            directory = posixpath.dirname(directory)
    for path in reversed(missing):
        sftp.mkdir(path, mode)


def _replace(sftp, tmp, dest):
    try:
        sftp.posix_rename(tmp, dest)
    except IOError as exc:
        if _is_missing(exc):
            raise
        # Servers without posix-rename@openssh.com: plain SFTP rename refuses to overwrite.
        try:
            sftp.remove(dest)
        except IOError:
            pass
        sftp.rename(tmp, dest)


def write_atomic(sftp, dest, data, mode, directory_mode=0o755):
    """Write a new temporary file that has ``mode`` from its creation, then rename it over ``dest``."""
    makedirs(sftp, posixpath.dirname(dest), directory_mode)
    tmp = posixpath.join(posixpath.dirname(dest), '.%s.certpilot-%s.tmp' % (posixpath.basename(dest), uuid.uuid4().hex[:12]))
    handle = sftp.create(tmp, mode)
    try:
        try:
            handle.write(data)
        finally:
            handle.close()
        _replace(sftp, tmp, dest)
    except BaseException:
        try:
            sftp.remove(tmp)
        except (IOError, OSError):
            pass
        raise


def apply(sftp, states, on_applied=None):
    """Make every changed file as wanted; raise on the first error (``install_transaction`` restores).

    ``on_applied(state)`` is called after each changed file (progress counting).
    """
    for state in states:
        if not state.changed:
            continue
        spec = state.spec
        if state.action == 'remove':
            sftp.remove(spec.dest)
        elif state.action == 'chmod':
            sftp.chmod(spec.dest, spec.mode)
        else:
            write_atomic(sftp, spec.dest, spec.data, spec.mode, directory_mode_for(spec))
        state.applied = True
        if on_applied is not None:
            on_applied(state)

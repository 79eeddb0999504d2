# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A paramiko SFTP client with the one call ``file_transaction`` needs beyond paramiko's: ``create``.

paramiko's ``SFTPClient.open`` sends empty attributes, so the server creates the file with its
default mode (0666 minus its umask) and a chmod can only follow: a reader who opens the file in
between keeps the descriptor and reads the key afterwards. ``create`` sends the SSH_FXP_OPEN
request itself with ``CREAT|EXCL`` and the permissions attribute, so the server creates the
file with the wanted mode (narrowed by its umask, never widened) before any data exists.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class SFTPFiles(object):
    """Wraps a paramiko ``SFTPClient``; every other attribute is the client's own."""

    def __init__(self, sftp):
        self._sftp = sftp

    def __getattr__(self, name):
        return getattr(self._sftp, name)

    def create(self, path, mode):
        from paramiko.sftp import (CMD_HANDLE, CMD_OPEN, SFTP_FLAG_CREATE, SFTP_FLAG_EXCL,
                                   SFTP_FLAG_WRITE, SFTPError)
        from paramiko.sftp_attr import SFTPAttributes
        from paramiko.sftp_file import SFTPFile

        attrs = SFTPAttributes()
        attrs.st_mode = mode & 0o7777
        # pylint: disable-next=protected-access
        kind, msg = self._sftp._request(CMD_OPEN, path, SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_EXCL, attrs)
        if kind != CMD_HANDLE:
            raise SFTPError('Expected handle')
        handle = SFTPFile(self._sftp, msg.get_binary(), 'wb', -1)
        try:
            current = handle.stat().st_mode
            if current is not None and (current & 0o7777) != (mode & 0o7777):
                # The server's umask removed bits the wanted mode has: add them (never more).
                handle.chmod(mode & 0o7777)
        except BaseException:
            handle.close()
            raise
        return handle

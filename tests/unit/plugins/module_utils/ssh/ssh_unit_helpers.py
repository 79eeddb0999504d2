# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test doubles of the SSH side (paramiko client, SFTP server, connector) and a throwaway certificate."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import errno
import hashlib
import posixpath

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class _Attrs(object):
    def __init__(self, mode):
        self.st_mode = mode


class _Handle(object):
    def __init__(self, fs, path, mode):
        self.fs, self.path, self.mode = fs, path, mode
        self.buf = b''
        if 'w' in mode:
            fs.files[path] = [b'', 0o100644]

    def read(self, size=None):
        return self.fs.files[self.path][0]

    def write(self, data):
        if self.fs.fail_write_on and self.path.endswith('.tmp') and self.fs.fail_write_on in self.path:
            raise IOError(errno.ENOSPC, 'No space left on device')
        self.fs.files[self.path][0] += data
        self.fs.writes.append((self.path, self.fs.files[self.path][1] & 0o7777, data))

    def close(self):
        pass


class FakeSFTP(object):
    """An in-memory SFTP server subset with a journal of operations."""

    def __init__(self, files=None, posix_rename=True):
        self.files = dict((k, [v[0], 0o100000 | v[1]]) for k, v in (files or {}).items())
        self.dirs = set(['/'])
        for path in self.files:
            d = posixpath.dirname(path)
            while d not in self.dirs:
                self.dirs.add(d)
                d = posixpath.dirname(d)
        self.ops = []
        self.writes = []
        self.fail_write_on = None
        self.has_posix_rename = posix_rename
        self.links = set()

    def stat(self, path):
        if path in self.files:
            return _Attrs(self.files[path][1])
        if path in self.dirs:
            return _Attrs(0o040755)
        raise IOError(errno.ENOENT, 'No such file')

    def lstat(self, path):
        if path in self.links:
            return _Attrs(0o120777)
        return self.stat(path)

    def create(self, path, mode):
        if posixpath.dirname(path) not in self.dirs:
            raise IOError(errno.ENOENT, 'No such directory')
        if path in self.files:
            raise IOError(errno.EEXIST, 'File exists')
        self.ops.append(('create', path, mode))
        handle = _Handle(self, path, 'wb')
        self.files[path][1] = 0o100000 | mode
        return handle

    def open(self, path, mode='rb'):
        if 'w' in mode and posixpath.dirname(path) not in self.dirs:
            raise IOError(errno.ENOENT, 'No such directory')
        if 'r' in mode and path not in self.files:
            raise IOError(errno.ENOENT, 'No such file')
        self.ops.append(('open', path, mode))
        return _Handle(self, path, mode)

    def chmod(self, path, mode):
        self.ops.append(('chmod', path, mode))
        self.files[path][1] = 0o100000 | mode

    def posix_rename(self, old, new):
        if not self.has_posix_rename:
            raise IOError('Operation unsupported')
        self.ops.append(('posix_rename', old, new))
        self.files[new] = self.files.pop(old)

    def rename(self, old, new):
        if new in self.files:
            raise IOError('Failure')
        self.ops.append(('rename', old, new))
        self.files[new] = self.files.pop(old)

    def remove(self, path):
        if path not in self.files:
            raise IOError(errno.ENOENT, 'No such file')
        self.ops.append(('remove', path))
        del self.files[path]

    def mkdir(self, path, mode=0o777):
        self.ops.append(('mkdir', path, mode))
        self.dirs.add(path)

    def close(self):
        pass

    def content(self, path):
        return self.files[path][0]

    def mode(self, path):
        return self.files[path][1] & 0o7777


class _Stream(object):
    def __init__(self, data, rc):
        self.data = data
        self.channel = self
        self.rc = rc

    def read(self, size=-1):
        return self.data

    def recv_exit_status(self):
        return self.rc

    def close(self):
        pass


class FakeClient(object):
    """SSH client double: commands answer from a table, the SFTP side is a FakeSFTP."""

    def __init__(self, sftp, commands=None):
        self.sftp = sftp
        self.commands = commands or {}
        self.ran = []

    def open_sftp(self):
        return self.sftp

    def exec_command(self, command, timeout=None):
        self.ran.append(command)
        answer = self.commands.get(command, (0, b'', b''))
        if callable(answer):
            answer = answer(self)
        rc, out, err = answer
        return _Stream(b'', 0), _Stream(out, rc), _Stream(err, rc)

    def close(self):
        pass


class FakeConnector(object):
    def __init__(self, clients):
        self.clients = clients

    def connect(self, address, port, deadline, username=None):
        client = self.clients[address]
        if isinstance(client, Exception):
            raise client
        return client


def make_cert(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem, key_pem, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()

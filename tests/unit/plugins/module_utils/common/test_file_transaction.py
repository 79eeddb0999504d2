# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""common/file_transaction.py over a fake SFTP server: plan, atomic write, modes, rollback of the files."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import posixpath

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common import file_transaction as ft
from ansible_collections.certpilot.tls.plugins.module_utils.common.install_transaction import InMemoryBackups
from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import parse_mode
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.ssh.ssh_unit_helpers import FakeSFTP

pytestmark = pytest.mark.timeout(30)


def test_plan_actions():
    sftp = FakeSFTP({'/c/same.pem': (b'A', 0o644), '/c/diff.pem': (b'old', 0o644), '/c/mode.pem': (b'M', 0o644),
                     '/c/gone.pem': (b'G', 0o644)})
    specs = [ft.FileSpec('/c/same.pem', b'A', 0o644), ft.FileSpec('/c/diff.pem', b'new', 0o644),
             ft.FileSpec('/c/mode.pem', b'M', 0o600), ft.FileSpec('/c/new.pem', b'N', 0o644),
             ft.FileSpec('/c/gone.pem', state='absent'), ft.FileSpec('/c/never.pem', state='absent')]
    actions = [s.action for s in ft.plan(sftp, specs)]
    assert actions == ['none', 'update', 'chmod', 'create', 'remove', 'none']


def test_write_is_atomic_and_key_mode_set_before_data():
    sftp = FakeSFTP({'/etc/certs/privkey.pem': (b'OLDKEY', 0o600)})
    ft.write_atomic(sftp, '/etc/certs/privkey.pem', b'NEWKEY', 0o600)
    assert sftp.content('/etc/certs/privkey.pem') == b'NEWKEY'
    assert sftp.mode('/etc/certs/privkey.pem') == 0o600
    # every byte of key data was written while the temp file already had mode 0600
    assert sftp.writes and all(mode == 0o600 for _path, mode, _data in sftp.writes)
    renames = [op for op in sftp.ops if op[0] == 'posix_rename']
    assert len(renames) == 1 and renames[0][2] == '/etc/certs/privkey.pem'
    assert posixpath.dirname(renames[0][1]) == '/etc/certs' and renames[0][1] != '/etc/certs/privkey.pem'
    # the destination itself was never opened for writing
    assert not [op for op in sftp.ops if op[0] == 'open' and op[1] == '/etc/certs/privkey.pem' and 'w' in op[2]]
    assert [p for p in sftp.files if p.endswith('.tmp')] == []


def test_write_without_posix_rename_falls_back():
    sftp = FakeSFTP({'/x/a': (b'1', 0o644)}, posix_rename=False)
    ft.write_atomic(sftp, '/x/a', b'2', 0o644)
    assert sftp.content('/x/a') == b'2'
    assert [p for p in sftp.files if p.endswith('.tmp')] == []


def test_write_creates_missing_directories():
    sftp = FakeSFTP()
    ft.write_atomic(sftp, '/srv/certs/site/fullchain.pem', b'X', 0o644)
    assert ('mkdir', '/srv', 0o755) in sftp.ops and ('mkdir', '/srv/certs/site', 0o755) in sftp.ops
    assert sftp.content('/srv/certs/site/fullchain.pem') == b'X'


def test_failed_upload_leaves_no_temp_and_rollback_restores():
    sftp = FakeSFTP({'/c/cert.pem': (b'oldcert', 0o644), '/c/key.pem': (b'oldkey', 0o600)})
    states = ft.plan(sftp, [ft.FileSpec('/c/cert.pem', b'newcert', 0o644),
                            ft.FileSpec('/c/key.pem', b'newkey', 0o600, secret=True)])
    sftp.fail_write_on = 'key.pem'
    with pytest.raises(IOError):
        ft.apply(sftp, states)
    assert sftp.content('/c/cert.pem') == b'newcert'
    assert [s.applied for s in states] == [True, False]
    assert InMemoryBackups().restore(sftp, [(None, s) for s in states if s.changed]) == []
    assert sftp.content('/c/cert.pem') == b'oldcert' and sftp.content('/c/key.pem') == b'oldkey'
    assert [p for p in sftp.files if p.endswith('.tmp')] == []


def test_rollback_removes_created_files():
    sftp = FakeSFTP()
    states = ft.plan(sftp, [ft.FileSpec('/n/cert.pem', b'c', 0o644)])
    ft.apply(sftp, states)
    assert '/n/cert.pem' in sftp.files
    InMemoryBackups().restore(sftp, [(None, s) for s in states if s.changed])
    assert '/n/cert.pem' not in sftp.files


@pytest.mark.parametrize('value,expected', [('0600', 0o600), ('640', 0o640), (0o644, 0o644), (None, 0o644)])
def test_parse_mode(value, expected):
    assert parse_mode(value, '/x') == expected


@pytest.mark.parametrize('value', ['rw-r--r--', '99999', True])
def test_parse_mode_rejects(value):
    with pytest.raises(CertpilotError):
        parse_mode(value, '/x')

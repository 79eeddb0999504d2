# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Local file transaction (cert_files): real files in a temp dir, no mocks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import KEY_PLACEHOLDER, FileSpec
from ansible_collections.certpilot.tls.plugins.module_utils.common import local_files as lf

pytestmark = pytest.mark.timeout(30)


def run_command(args, before_communicate_callback=None, handle_exceptions=True, **kwargs):
    """What ``AnsibleModule.run_command`` does for the runner: Popen, the callback, then communicate."""
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if before_communicate_callback:
        before_communicate_callback(proc)
    out, err = proc.communicate()
    return proc.returncode, out.decode(), err.decode()


def _mode(path):
    return os.stat(path).st_mode & 0o7777


def _read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def _write(path, data, mode=0o644):
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, mode)


def _leftovers(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith('.tmp'))


def test_install_creates_directories_modes_and_reports_no_secret(tmp_path):
    base = str(tmp_path)
    cert, key = os.path.join(base, 'site', 'fullchain.pem'), os.path.join(base, 'site', 'privkey.pem')
    install = lf.LocalFileInstall([FileSpec(cert, b'CERT', 0o644), FileSpec(key, b'SECRETKEY', 0o600, secret=True)],
                                  directory_mode=0o750)
    result = install.run()
    assert result.changed
    assert _read(cert) == b'CERT' and _read(key) == b'SECRETKEY'
    assert _mode(cert) == 0o644 and _mode(key) == 0o600
    assert _mode(os.path.dirname(cert)) == 0o750
    assert [f['action'] for f in result.files] == ['create', 'create']
    assert 'sha256' in result.files[0] and 'sha256' not in result.files[1]
    assert 'SECRETKEY' not in repr(result.files) + repr(result.diff) + repr(result.backups)
    assert [d['before_header'] for d in result.diff] == [cert, key]
    assert result.diff[1]['after'] == KEY_PLACEHOLDER
    assert [b['backup'] for b in result.backups] == [None, None]
    assert _leftovers(os.path.dirname(cert)) == []


def test_an_install_syncs_each_directory_once_after_its_renames(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(lf, 'fsync_dir', synced.append)
    specs = []
    for site in ('a', 'b', 'c'):
        for part in ('fullchain', 'chain', 'privkey'):
            specs.append(FileSpec(str(tmp_path / site / ('%s.pem' % part)), part.encode(), 0o644))
    result = lf.LocalFileInstall(specs).run()
    assert result.changed and _read(str(tmp_path / 'b' / 'chain.pem')) == b'chain'
    # 9 renames, 3 directories: each directory synced once, after the files are in place
    assert sorted(synced) == sorted(str(tmp_path / site) for site in ('a', 'b', 'c'))
    # outside an install, a rename syncs its directory at once
    fs = lf.LocalFS()
    (tmp_path / 'x.tmp').write_bytes(b'x')
    synced[:] = []
    fs.posix_rename(str(tmp_path / 'x.tmp'), str(tmp_path / 'x'))
    assert synced == [str(tmp_path)]


def test_deferred_directory_sync_still_syncs_after_an_error(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(lf, 'fsync_dir', synced.append)
    fs = lf.LocalFS()
    (tmp_path / 'one.tmp').write_bytes(b'1')
    with pytest.raises(RuntimeError):
        with fs.deferred_directory_sync():
            fs.posix_rename(str(tmp_path / 'one.tmp'), str(tmp_path / 'one'))
            raise RuntimeError('the second file failed')
    assert synced == [str(tmp_path)]


def test_second_run_changes_nothing_and_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / 'a.pem')
    lf.LocalFileInstall([FileSpec(path, b'one', 0o644)]).run()
    again = lf.LocalFileInstall([FileSpec(path, b'one', 0o644)]).run()
    assert not again.changed and again.backups == []
    check = lf.LocalFileInstall([FileSpec(path, b'two', 0o644)]).run(check_mode=True)
    assert check.changed and _read(path) == b'one'
    assert os.listdir(str(tmp_path)) == ['a.pem']


def test_backup_keeps_previous_content_and_mode_even_for_a_chmod(tmp_path):
    cert, key = str(tmp_path / 'cert.pem'), str(tmp_path / 'key.pem')
    _write(cert, b'oldcert')
    _write(key, b'KEY', 0o640)
    result = lf.LocalFileInstall([FileSpec(cert, b'newcert', 0o644), FileSpec(key, b'KEY', 0o600, secret=True)]).run()
    assert [f['action'] for f in result.files] == ['update', 'chmod']
    assert _read(cert) == b'newcert' and _mode(key) == 0o600
    backups = {b['dest']: b['backup'] for b in result.backups}
    assert _read(backups[cert]) == b'oldcert'
    # the chmod wrote a new inode: the backup still has the old mode
    assert _mode(backups[key]) == 0o640
    assert lf.pending_restores(result.backups) == 2
    assert lf.restore(result.backups) == []
    assert _read(cert) == b'oldcert' and _mode(key) == 0o640
    assert lf.pending_restores(result.backups) == 0
    # restoring twice is harmless
    assert lf.restore(result.backups) == []
    assert sorted(os.listdir(str(tmp_path))) == ['cert.pem', 'key.pem']


def test_restore_removes_files_that_did_not_exist(tmp_path):
    new = str(tmp_path / 'new.conf')
    result = lf.LocalFileInstall([FileSpec(new, b'server {}', 0o644)]).run()
    assert os.path.exists(new)
    assert lf.restore(result.backups) == []
    assert not os.path.exists(new)


def test_failed_validation_puts_everything_back(tmp_path):
    cert = str(tmp_path / 'cert.pem')
    new = str(tmp_path / 'vhost.conf')
    _write(cert, b'good')
    install = lf.LocalFileInstall([FileSpec(cert, b'broken', 0o644), FileSpec(new, b'x', 0o644)], run_command=run_command)
    failing = [sys.executable, '-c', 'import sys; sys.stderr.write("emerg: bad certificate\\n"); sys.exit(1)']
    with pytest.raises(CertpilotError) as err:
        install.run(validate_command=failing)
    assert 'bad certificate' in err.value.msg and 'previous files were restored' in err.value.msg
    assert err.value.details['restored'] is True
    assert _read(cert) == b'good' and not os.path.exists(new)
    assert sorted(os.listdir(str(tmp_path))) == ['cert.pem']


def test_validation_runs_only_when_something_changed(tmp_path):
    path = str(tmp_path / 'a')
    marker = str(tmp_path / 'ran')
    cmd = [sys.executable, '-c', 'open(%r, "a").write("x")' % marker]
    first = lf.LocalFileInstall([FileSpec(path, b'1', 0o644)], run_command=run_command).run(validate_command=cmd)
    assert first.validate['rc'] == 0 and _read(marker) == b'x'
    second = lf.LocalFileInstall([FileSpec(path, b'1', 0o644)], run_command=run_command).run(validate_command=cmd)
    assert second.validate is None and _read(marker) == b'x'


def test_missing_validate_binary_is_a_clear_failure(tmp_path):
    path = str(tmp_path / 'a')
    with pytest.raises(CertpilotError) as err:
        lf.LocalFileInstall([FileSpec(path, b'1', 0o644)], run_command=run_command).run(
            validate_command=[str(tmp_path / 'no-nginx'), '-t'])
    assert 'cannot run' in err.value.msg
    assert not os.path.exists(path)


def test_discard_deletes_only_our_backups(tmp_path):
    cert = str(tmp_path / 'cert.pem')
    _write(cert, b'old')
    result = lf.LocalFileInstall([FileSpec(cert, b'new', 0o644)]).run()
    other = str(tmp_path / 'precious')
    _write(other, b'keep')
    forged = result.backups + [{'dest': cert, 'backup': other}, {'dest': '/etc/passwd', 'backup': '/etc/shadow'}]
    removed = lf.discard(forged)
    assert removed == [lf.backup_path(cert)]
    assert sorted(os.listdir(str(tmp_path))) == ['cert.pem', 'precious']
    assert lf.discard(result.backups) == []


def test_restore_refuses_a_backup_outside_the_destination_directory(tmp_path):
    cert = str(tmp_path / 'cert.pem')
    _write(cert, b'current')
    errors = lf.restore([{'dest': cert, 'backup': '/tmp/elsewhere/x', 'action': 'update'}])
    assert errors and 'not next to it' in errors[0]
    assert _read(cert) == b'current'


def test_keep_backups_false_leaves_no_backup_files(tmp_path):
    cert = str(tmp_path / 'cert.pem')
    _write(cert, b'old')
    result = lf.LocalFileInstall([FileSpec(cert, b'new', 0o644)]).run(keep_backups=False)
    assert result.changed and [b['backup'] for b in result.backups] == [None]
    assert os.listdir(str(tmp_path)) == ['cert.pem']


def test_absent_files_are_removed_and_restorable(tmp_path):
    old = str(tmp_path / 'old.conf')
    _write(old, b'legacy')
    result = lf.LocalFileInstall([FileSpec(old, state='absent')]).run()
    assert not os.path.exists(old)
    lf.restore(result.backups)
    assert _read(old) == b'legacy'


def test_duplicate_destinations_and_unknown_owner_are_refused(tmp_path):
    path = str(tmp_path / 'a')
    with pytest.raises(CertpilotError, match='more than once'):
        lf.LocalFileInstall([FileSpec(path, b'1'), FileSpec(path, b'2')])
    with pytest.raises(CertpilotError, match='does not exist'):
        lf.LocalFileInstall([FileSpec(path, b'1')], owner='certpilot-no-such-user')
    with pytest.raises(CertpilotError, match='does not exist'):
        lf.LocalFileInstall([FileSpec(path, b'1')], group='certpilot-no-such-group')


@pytest.mark.skipif(os.geteuid() != 0, reason='chown needs root')
def test_owner_change_alone_is_a_change_and_backup_keeps_old_owner(tmp_path):
    path = str(tmp_path / 'key.pem')
    _write(path, b'KEY', 0o600)
    result = lf.LocalFileInstall([FileSpec(path, b'KEY', 0o600, secret=True)], group='1').run()
    assert result.changed and result.files[0]['action'] == 'chown'
    assert os.stat(path).st_gid == 1
    assert os.stat(result.backups[0]['backup']).st_gid == 0
    assert not lf.LocalFileInstall([FileSpec(path, b'KEY', 0o600, secret=True)], group='1').run().changed


# A real-looking key body: detection parses the PEM armor, the ``secret`` flag is not needed.
_KEY = (b'-----BEGIN PRIVATE KEY-----\n'
        b'MC4CAQAwBQYDK2VwBCIEIJ0jR0pGZ2ZpY2VydHBpbG90a2V5Ym9keTAxMjM0NTY3\n'
        b'-----END PRIVATE KEY-----\n')


def test_key_found_by_parsing_without_secret_flag_never_shown(tmp_path):
    key = str(tmp_path / 'k' / 'privkey.pem')
    old = str(tmp_path / 'old.pem')
    with open(old, 'wb') as handle:
        handle.write(_KEY.replace(b'MC4C', b'MC4D'))
    result = lf.LocalFileInstall([FileSpec(key, _KEY, 0o600), FileSpec(old, b'now a plain file\n', 0o644)]).run()
    text = repr(result.files) + repr(result.diff) + repr(result.backups)
    assert 'PRIVATE KEY' not in text and 'MC4CAQAw' not in text and 'MC4DAQAw' not in text
    assert 'sha256' not in result.files[0] and 'sha256' not in result.files[1]
    assert [d['after'] for d in result.diff] == [KEY_PLACEHOLDER, KEY_PLACEHOLDER]
    # the key's directory is 0700 although directory_mode is 0755
    assert _mode(os.path.dirname(key)) == 0o700 and _mode(key) == 0o600


def test_key_directory_is_0750_with_a_group(tmp_path):
    key = str(tmp_path / 'k' / 'privkey.pem')
    lf.LocalFileInstall([FileSpec(key, _KEY, 0o640)], group=str(os.getgid())).run()
    assert _mode(os.path.dirname(key)) == 0o750 and _mode(key) == 0o640


def test_created_with_final_mode_never_chmod_after(tmp_path, monkeypatch):
    key = str(tmp_path / 'privkey.pem')
    opened = []
    real_open = os.open

    def spy_open(path, flags, mode=0o777, *args):
        if path.endswith('.tmp'):
            opened.append((flags & (os.O_CREAT | os.O_EXCL), mode))
        return real_open(path, flags, mode, *args)

    def no_chmod(*args):
        raise AssertionError('chmod after create')

    monkeypatch.setattr(os, 'open', spy_open)
    monkeypatch.setattr(os, 'chmod', no_chmod)
    old_umask = os.umask(0o022)
    try:
        lf.LocalFileInstall([FileSpec(key, _KEY, 0o600)]).run()
    finally:
        os.umask(old_umask)
    assert opened == [(os.O_CREAT | os.O_EXCL, 0o600)]
    assert _mode(key) == 0o600


def test_symlink_destination_is_refused_and_not_read(tmp_path):
    target = tmp_path / 'secret.txt'
    target.write_bytes(b'TARGET CONTENT')
    link = tmp_path / 'fullchain.pem'
    os.symlink(str(target), str(link))
    with pytest.raises(CertpilotError) as err:
        lf.LocalFileInstall([FileSpec(str(link), b'CERT', 0o644)]).run(check_mode=True)
    assert str(link) in err.value.msg and 'symlink' in err.value.msg
    assert 'TARGET CONTENT' not in repr(err.value.details)
    assert os.path.islink(str(link)) and target.read_bytes() == b'TARGET CONTENT'


def test_non_regular_destination_is_refused(tmp_path):
    (tmp_path / 'cert.pem').mkdir()
    with pytest.raises(CertpilotError) as err:
        lf.LocalFileInstall([FileSpec(str(tmp_path / 'cert.pem'), b'CERT', 0o644)]).run()
    assert 'not a regular file' in err.value.msg


def test_symlinked_directory_below_base_is_refused(tmp_path):
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    base = tmp_path / 'base'
    base.mkdir()
    os.symlink(str(elsewhere), str(base / 'shop'))
    dest = str(base / 'shop' / 'privkey.pem')
    with pytest.raises(CertpilotError) as err:
        lf.LocalFileInstall([FileSpec(dest, _KEY, 0o600, base=str(base))]).run()
    assert str(base / 'shop') in err.value.msg and 'symlink' in err.value.msg
    assert list(elsewhere.iterdir()) == []


def test_dest_outside_base_is_refused(tmp_path):
    with pytest.raises(CertpilotError):
        FileSpec(str(tmp_path / 'x.pem'), b'x', base=str(tmp_path / 'base'))

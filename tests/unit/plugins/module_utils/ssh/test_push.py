# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decision logic of the SFTP push: plan, atomic write, rollback, validate/reload/verify failures."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import errno
import hashlib
import posixpath
import socket

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common import file_transaction as ft
from ansible_collections.certpilot.tls.plugins.module_utils.common.install_transaction import InMemoryBackups
from ansible_collections.certpilot.tls.plugins.module_utils.ssh import push
from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import KEY_PLACEHOLDER, parse_mode
from ansible_collections.certpilot.tls.plugins.module_utils.ssh.runner import run_push

pytestmark = pytest.mark.timeout(30)


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


def _params(files, **extra):
    params = {'targets': [{'name': 'h1', 'address': '10.0.0.1', 'port': 22, 'files': []}], 'files': files,
              'username': 'root', 'validate_command': 'nginx -t', 'reload_command': 'nginx -s reload',
              'concurrency': 2, 'command_timeout': 5, 'total_timeout': 20}
    params.update(extra)
    return params


def test_validate_failure_restores_old_files_and_skips_reload():
    sftp = FakeSFTP({'/c/cert.pem': (b'oldcert', 0o644)})
    client = FakeClient(sftp, {'nginx -t': (1, b'', b'nginx: [emerg] unknown directive "sl_certificate"')})
    result = run_push(_params([{'dest': '/c/cert.pem', 'content': 'newcert'}]),
                      connector=FakeConnector({'10.0.0.1': client}))
    assert result['failed_hosts'] == ['h1']
    assert 'unknown directive' in result['hosts']['h1']['error']
    assert result['hosts']['h1']['rolled_back'] is True
    assert result['changed'] is False
    assert sftp.content('/c/cert.pem') == b'oldcert'
    assert 'nginx -s reload' not in client.ran


def test_verify_mismatch_rolls_back_and_reloads_again():
    new_pem, _key, new_fp = make_cert('new.example.test')
    old_pem, _key2, old_fp = make_cert('old.example.test')
    sftp = FakeSFTP({'/c/fullchain.pem': (old_pem, 0o644)})
    client = FakeClient(sftp)
    served = []

    def probe(address, port, server_name, deadline):
        served.append((address, port, server_name))
        return old_fp  # nginx keeps serving the old certificate

    params = _params([{'dest': '/c/fullchain.pem', 'content': new_pem.decode(),
                       'verify': [{'server_name': 'new.example.test', 'port': 5443}]}])
    hosts = None
    from ansible_collections.certpilot.tls.plugins.module_utils.ssh import runner
    hosts = runner.build_hosts(params)
    hosts[0].probe = probe
    hosts[0].verify_attempts = 2
    with pytest.raises(CertpilotError) as info:
        hosts[0].run(FakeConnector({'10.0.0.1': client}), Deadline(20))
    assert 'not served' in info.value.msg and new_fp in info.value.msg
    assert info.value.details['rolled_back'] is True
    assert sftp.content('/c/fullchain.pem') == old_pem
    assert client.ran == ['nginx -t', 'nginx -s reload', 'nginx -s reload']
    assert served[0] == ('10.0.0.1', 5443, 'new.example.test')


def test_verify_success_and_second_run_unchanged():
    pem, key, fp = make_cert('ok.example.test')
    sftp = FakeSFTP()
    client = FakeClient(sftp)
    from ansible_collections.certpilot.tls.plugins.module_utils.ssh import runner
    params = _params([{'dest': '/c/fullchain.pem', 'content': pem.decode(), 'verify': [{'server_name': 'ok.example.test'}]},
                      {'dest': '/c/privkey.pem', 'content': key.decode(), 'mode': '0600', 'secret': True}])
    for expected_changed, expected_cmds in ((True, ['nginx -t', 'nginx -s reload']), (False, [])):
        client.ran = []
        host = runner.build_hosts(params)[0]
        host.probe = lambda a, p, s, d: fp.upper()  # fingerprints compare case-insensitively
        result = host.run(FakeConnector({'10.0.0.1': client}), Deadline(20))
        assert result['changed'] is expected_changed
        assert client.ran == expected_cmds
        assert result['verified'][0]['ok'] is True
    assert sftp.mode('/c/privkey.pem') == 0o600
    # nothing derived from the key is returned: no content in a diff, no hash
    key_summary = [f for f in result['files'] if f['dest'] == '/c/privkey.pem'][0]
    assert 'sha256' not in key_summary
    assert [f for f in result['files'] if f['dest'] == '/c/fullchain.pem'][0]['sha256'] == hashlib.sha256(pem).hexdigest()
    assert all('PRIVATE KEY' not in d['after'] for d in result['diff'])


def test_check_mode_writes_nothing_and_reports_diff():
    sftp = FakeSFTP({'/c/cert.pem': (b'old\n', 0o644), '/c/key.pem': (b'oldkey', 0o600)})
    client = FakeClient(sftp)
    result = run_push(_params([{'dest': '/c/cert.pem', 'content': 'new\n'},
                               {'dest': '/c/key.pem', 'content': 'newkey', 'secret': True, 'mode': '0600'}]),
                      check_mode=True, connector=FakeConnector({'10.0.0.1': client}))
    assert result['changed'] is True
    assert client.ran == []
    assert [op for op in sftp.ops if op[0] != 'open' or 'w' in op[2]] == []
    assert len(result['diff']) == 2 and result['diff'][0]['before'] == 'old\n' and result['diff'][0]['after'] == 'new\n'
    assert result['diff'][0]['before_header'] == 'h1:/c/cert.pem'
    # The secret file shows that it changes, never what it holds.
    assert result['diff'][1]['before'] == result['diff'][1]['after'] == KEY_PLACEHOLDER
    assert 'oldkey' not in repr(result) and 'newkey' not in repr(result)


def test_one_host_down_does_not_stop_others():
    ok = FakeSFTP()
    params = _params([{'dest': '/c/cert.pem', 'content': 'x'}])
    params['targets'] = [{'name': 'down', 'address': '10.0.0.9', 'port': 22},
                         {'name': 'up', 'address': '10.0.0.1', 'port': 22}]
    result = run_push(params, connector=FakeConnector({'10.0.0.9': CertpilotError('cannot connect to 10.0.0.9:22'),
                                                       '10.0.0.1': FakeClient(ok)}))
    assert result['failed_hosts'] == ['down']
    assert result['hosts']['up']['changed'] is True and ok.content('/c/cert.pem') == b'x'
    assert 'down: cannot connect' in result['msg']


@pytest.mark.parametrize('value,expected', [('0600', 0o600), ('640', 0o640), (0o644, 0o644), (None, 0o644)])
def test_parse_mode(value, expected):
    assert parse_mode(value, '/x') == expected


@pytest.mark.parametrize('value', ['rw-r--r--', '99999', True])
def test_parse_mode_rejects(value):
    with pytest.raises(CertpilotError):
        parse_mode(value, '/x')


def test_bad_file_items_are_clear_errors():
    with pytest.raises(CertpilotError, match='absolute'):
        run_push(_params([{'dest': 'relative.pem', 'content': 'x'}]), connector=FakeConnector({}))
    with pytest.raises(CertpilotError, match='cannot read'):
        run_push(_params([{'dest': '/a', 'src': '/nonexistent/certpilot/file'}]), connector=FakeConnector({}))


def test_leaf_fingerprint_uses_first_certificate():
    pem1, _k1, fp1 = make_cert('a')
    pem2, _k2, _fp2 = make_cert('b')
    assert push.leaf_fingerprint(pem1 + pem2) == fp1
    assert push.leaf_fingerprint(b'no cert here') is None


def test_symlink_destination_is_refused_on_the_host_and_nothing_written():
    sftp = FakeSFTP({'/c/cert.pem': (b'target of the link\n', 0o644)})
    sftp.links.add('/c/cert.pem')
    client = FakeClient(sftp)
    result = run_push(_params([{'dest': '/c/cert.pem', 'content': 'new\n'}]), connector=FakeConnector({'10.0.0.1': client}))
    assert result['failed_hosts'] == ['h1']
    assert 'refusing /c/cert.pem: it is a symlink' in result['hosts']['h1']['error']
    assert 'target of the link' not in repr(result)
    assert [op for op in sftp.ops if op[0] != 'open'] == []


def test_key_without_secret_flag_is_created_with_its_mode_and_never_shown():
    key = ('-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKeybodyKeybodyKeybodyKeybodyKeybody0123456789oAoGCCqGSM49\n'
           '-----END EC PRIVATE KEY-----\n')
    sftp = FakeSFTP()
    client = FakeClient(sftp)
    result = run_push(_params([{'dest': '/c/privkey.pem', 'content': key, 'mode': '0600'}]),
                      connector=FakeConnector({'10.0.0.1': client}))
    assert 'PRIVATE KEY' not in repr(result) and 'MHcCAQEEIK' not in repr(result)
    creates = [op for op in sftp.ops if op[0] == 'create']
    assert len(creates) == 1 and creates[0][2] == 0o600
    assert not [op for op in sftp.ops if op[0] == 'chmod']
    assert [w[1] for w in sftp.writes] == [0o600]
    assert ('mkdir', '/c', 0o700) in sftp.ops


@pytest.mark.parametrize('step', ['nginx -t', 'nginx -s reload'])
def test_command_timeout_restores_and_reloads_only_if_a_reload_ran(step):
    sftp = FakeSFTP({'/c/cert.pem': (b'old\n', 0o644)})

    def hang(client):
        raise socket.timeout('timed out')  # what paramiko raises when the channel times out

    calls = {'n': 0}

    def reload_times_out_once(client):
        calls['n'] += 1
        if calls['n'] == 1:
            raise socket.timeout('timed out')
        return (0, b'', b'')

    commands = {'nginx -t': hang} if step == 'nginx -t' else {'nginx -s reload': reload_times_out_once}
    client = FakeClient(sftp, commands)
    result = run_push(_params([{'dest': '/c/cert.pem', 'content': 'new\n'}]), connector=FakeConnector({'10.0.0.1': client}))
    assert result['failed_hosts'] == ['h1']
    host = result['hosts']['h1']
    assert 'did not complete' in host['error'] and 'previous files were restored' in host['error']
    assert host['step'] == ('validate' if step == 'nginx -t' else 'reload')
    assert host['rolled_back'] is True
    assert sftp.content('/c/cert.pem') == b'old\n'
    assert not [p for p in sftp.files if p.endswith('.tmp')]
    if step == 'nginx -t':
        assert client.ran == ['nginx -t']
    else:
        # the reload did not complete: it may have happened, so the restore reloads again
        assert client.ran == ['nginx -t', 'nginx -s reload', 'nginx -s reload']


def test_lost_connection_reconnects_and_restores_on_the_new_session():
    sftp = FakeSFTP({'/c/cert.pem': (b'old\n', 0o644)})
    state = {'cut': False}

    class Session(object):
        """The first session's SFTP channel: dead once the connection is cut."""

        def __getattr__(self, name):
            if state['cut']:
                raise EOFError('connection reset')
            return getattr(sftp, name)

    def cut(client):
        state['cut'] = True
        raise EOFError('connection reset')  # what paramiko raises when sshd goes away

    first = FakeClient(Session(), {'nginx -t': cut})
    second = FakeClient(sftp)
    sessions = [first, second]

    class Reconnecting(object):
        connects = 0

        def connect(self, address, port, deadline, username=None):
            self.connects += 1
            return sessions.pop(0)

    connector = Reconnecting()
    result = run_push(_params([{'dest': '/c/cert.pem', 'content': 'new\n'}]), connector=connector)
    host = result['hosts']['h1']
    assert connector.connects == 2
    assert host['step'] == 'validate' and 'connection lost' in host['error']
    assert 'previous files were restored' in host['error'] and host['rolled_back'] is True
    assert sftp.content('/c/cert.pem') == b'old\n'
    assert second.ran == []  # no reload had started, so none after the restore
    assert result['changed'] is False


def test_verify_wrong_served_chain_rolls_back():
    """The right leaf with another intermediate (a stale chain file on the server) is a failed verify."""
    leaf_pem, _key, leaf_fp = make_cert('chain.example.test')
    inter_pem, _k2, inter_fp = make_cert('Intermediate A')
    _other_pem, _k3, other_fp = make_cert('Intermediate B')
    old_pem, _k4, _old_fp = make_cert('old.example.test')
    sftp = FakeSFTP({'/c/fullchain.pem': (old_pem, 0o644)})
    client = FakeClient(sftp)
    from ansible_collections.certpilot.tls.plugins.module_utils.ssh import runner
    params = _params([{'dest': '/c/fullchain.pem', 'content': (leaf_pem + inter_pem).decode(),
                       'verify': [{'server_name': 'chain.example.test'}]}])
    host = runner.build_hosts(params)[0]
    host.probe = lambda a, p, s, d: [leaf_fp, other_fp]
    host.verify_attempts = 2
    with pytest.raises(CertpilotError) as info:
        host.run(FakeConnector({'10.0.0.1': client}), Deadline(20))
    assert 'wrong chain' in info.value.msg and other_fp in info.value.msg and inter_fp in info.value.msg
    assert info.value.details['rolled_back'] is True
    assert sftp.content('/c/fullchain.pem') == old_pem

    host = runner.build_hosts(params)[0]
    host.probe = lambda a, p, s, d: [leaf_fp, inter_fp]
    result = host.run(FakeConnector({'10.0.0.1': FakeClient(FakeSFTP())}), Deadline(20))
    check = result['verified'][0]
    assert check['ok'] is True and check['fingerprint_sha256'] == leaf_fp and check['served_chain_sha256'] == [inter_fp]


def test_leaf_only_file_checks_the_leaf_only():
    leaf_pem, _key, leaf_fp = make_cert('leaf.example.test')
    _inter_pem, _k2, inter_fp = make_cert('Intermediate A')
    checks = push.verify_served([{'server_name': 'leaf.example.test', 'address': '10.0.0.1', 'port': 443}],
                                push.chain_fingerprints(leaf_pem), Deadline(5),
                                probe=lambda a, p, s, d: [leaf_fp, inter_fp], attempts=1)
    assert checks[0]['ok'] is True and checks[0]['served_chain_sha256'] == [inter_fp]


@pytest.fixture
def chain_server(tmp_path):
    """A real TLS server on 127.0.0.1 presenting a leaf and its issuer (a two-certificate chain file)."""
    import ssl
    import threading
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'Push Test CA')])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'localhost')]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(u'localhost')]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    chain_pem = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = str(tmp_path / 'chain.pem'), str(tmp_path / 'key.pem')
    with open(cert_path, 'wb') as handle:
        handle.write(chain_pem)
    with open(key_path, 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(8)
    stop = []

    def serve():
        while not stop:
            try:
                conn, _addr = sock.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass
    thread = threading.Thread(target=serve)
    thread.daemon = True
    thread.start()
    try:
        yield sock.getsockname()[1], chain_pem
    finally:
        stop.append(True)
        sock.close()


def test_served_chain_reads_the_whole_presented_chain_by_host_name(chain_server):
    port, chain_pem = chain_server
    expected = push.chain_fingerprints(chain_pem)
    assert len(expected) == 2
    assert push.served_chain('localhost', port, 'localhost', Deadline(10)) == expected
    checks = push.verify_served([{'server_name': 'localhost', 'address': 'localhost', 'port': port}], expected,
                                Deadline(10), attempts=1)
    assert checks[0]['ok'] is True, checks


def test_verify_that_cannot_run_fails_closed(chain_server):
    port, chain_pem = chain_server
    expected = push.chain_fingerprints(chain_pem)
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more: connection refused
    endpoints = [{'server_name': 'localhost', 'address': 'no-such-host.invalid', 'port': port},
                 {'server_name': 'localhost', 'address': '127.0.0.1', 'port': closed_port}]
    checks = push.verify_served(endpoints, expected, Deadline(20), attempts=2)
    assert [c['ok'] for c in checks] == [False, False]
    assert all('TLS handshake failed' in c['error'] for c in checks), checks

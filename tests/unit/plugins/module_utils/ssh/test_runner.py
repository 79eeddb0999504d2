# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssh/runner.py: sftp_push parameters to concurrent host pushes - validate, reload, verify, rollback, check mode, failures."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import socket

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.common.file_transaction import KEY_PLACEHOLDER
from ansible_collections.certpilot.tls.plugins.module_utils.ssh.runner import run_push
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.ssh.ssh_unit_helpers import (
    FakeClient, FakeConnector, FakeSFTP, make_cert)

pytestmark = pytest.mark.timeout(30)


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


def test_bad_file_items_are_clear_errors():
    with pytest.raises(CertpilotError, match='absolute'):
        run_push(_params([{'dest': 'relative.pem', 'content': 'x'}]), connector=FakeConnector({}))
    with pytest.raises(CertpilotError, match='cannot read'):
        run_push(_params([{'dest': '/a', 'src': '/nonexistent/certpilot/file'}]), connector=FakeConnector({}))


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

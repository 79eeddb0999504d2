# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keys over both transports against the real sandbox (sshd, SFTP): never shown with ``--diff -vvv``
(even without ``secret``), never readable by another uid at any instant, and no write through a
planted symlink at a destination, a key directory or a challenge directory."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

pytestmark = pytest.mark.timeout(600)

PEEK_USER = 'certpilot-peek'
# Runs as PEEK_USER: opens every file that appears in the directory tree, as fast as it can,
# and reports each one it could open and read key text from. Stops when the stop file appears.
_PEEKER = r'''
import os, sys, json
root, stop = sys.argv[1], sys.argv[2]
opened, polls = [], 0
while not os.path.exists(stop):
    polls += 1
    for top, dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(top, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                data = os.read(fd, 65536)
            finally:
                os.close(fd)
            opened.append(path)
            if b'PRIVATE KEY' in data:
                print(json.dumps({'key': path}), flush=True)
print(json.dumps({'polls': polls, 'opened': len(opened)}), flush=True)
'''


def _key_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _body_lines(pem):
    return [line for line in pem.splitlines() if line and not line.startswith('-----')]


def _assert_no_key_text(output, keys):
    assert 'PRIVATE KEY' not in output
    for pem in keys:
        for line in _body_lines(pem):
            assert line not in output, 'a line of the key body is in the output'


def _sftp_task(sandbox, host, files, register='push'):
    info = sandbox['hosts'][host]
    return {'name': register, 'register': register, 'certpilot.tls.sftp_push': {
        'known_hosts': sandbox['ssh']['known_hosts'], 'private_key_src': sandbox['ssh']['private_key'],
        'username': sandbox['ssh']['user'],
        'targets': [{'name': host, 'address': info['address'], 'port': info['ssh_port']}],
        'files': files}}


def _local_play(*tasks):
    return json.dumps([{'hosts': 'localhost', 'gather_facts': False, 'tasks': list(tasks)}])


def _web1_play(*tasks):
    return json.dumps([{'hosts': 'web1', 'gather_facts': False, 'tasks': list(tasks)}])


@pytest.fixture
def dirs(sandbox):
    tag = 'sec-%s' % uuid.uuid4().hex[:8]
    made = {host: os.path.join(sandbox['hosts'][host]['cert_dir'], tag) for host in ('appliance1', 'web1')}
    yield made
    for path in made.values():
        shutil.rmtree(path, ignore_errors=True)


def test_diff_vvv_never_shows_a_key_over_either_transport(sandbox, run_playbook, dirs):
    old, new = _key_pem(), _key_pem()
    for key in (old, new):  # the second run replaces a key: the old one must not show either
        sftp_files = [{'dest': dirs['appliance1'] + '/site/privkey.pem', 'content': key, 'mode': '0600'}]
        result = run_playbook(_local_play(_sftp_task(sandbox, 'appliance1', sftp_files)), extra_args=('-vvv', '--diff'))
        assert result.rc == 0, result.explain()
        _assert_no_key_text(result.stdout + result.stderr, [old, new])
        local_files = [{'dest': dirs['web1'] + '/site/privkey.pem', 'content': key, 'mode': '0600'}]
        result = run_playbook(_web1_play({'name': 'install', 'register': 'install',
                                          'certpilot.tls.cert_files': {'files': local_files}}),
                              extra_args=('-vvv', '--diff'))
        assert result.rc == 0, result.explain()
        _assert_no_key_text(result.stdout + result.stderr, [old, new])
        assert '<private key, not shown>' in result.stdout
    for path in (dirs['appliance1'], dirs['web1']):
        with open(path + '/site/privkey.pem') as handle:
            assert handle.read() == new
        assert os.stat(path + '/site').st_mode & 0o777 == 0o700
        assert os.stat(path + '/site/privkey.pem').st_mode & 0o777 == 0o600


def test_symlinks_at_destination_and_key_directory_are_refused(sandbox, run_playbook, dirs, tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'victim.pem').write_text('VICTIM CONTENT\n')
    for base in dirs.values():
        os.makedirs(base)
        os.symlink(str(outside / 'victim.pem'), base + '/fullchain.pem')
    key = _key_pem()
    push = run_playbook(_local_play(_sftp_task(sandbox, 'appliance1', [
        {'dest': dirs['appliance1'] + '/fullchain.pem', 'content': 'CERT\n'}])), extra_args=('--diff',))
    assert push.rc != 0
    assert 'refusing %s/fullchain.pem: it is a symlink' % dirs['appliance1'] in push.stdout
    assert 'VICTIM CONTENT' not in push.stdout
    install = run_playbook(_web1_play({'name': 'install', 'certpilot.tls.cert_files': {'files': [
        {'dest': dirs['web1'] + '/fullchain.pem', 'content': 'CERT\n'}]}}), extra_args=('--diff',))
    assert install.rc != 0
    assert 'refusing %s/fullchain.pem: it is a symlink' % dirs['web1'] in install.stdout
    assert 'VICTIM CONTENT' not in install.stdout
    assert (outside / 'victim.pem').read_text() == 'VICTIM CONTENT\n'
    for base in dirs.values():
        assert os.path.islink(base + '/fullchain.pem')
    # a key file at a destination that is a symlink to a directory elsewhere: refused as not regular/symlink
    os.symlink(str(outside), dirs['appliance1'] + '/privkey.pem')
    push = run_playbook(_local_play(_sftp_task(sandbox, 'appliance1', [
        {'dest': dirs['appliance1'] + '/privkey.pem', 'content': key, 'mode': '0600'}])))
    assert push.rc != 0 and 'refusing %s/privkey.pem' % dirs['appliance1'] in push.stdout
    assert sorted(os.listdir(str(outside))) == ['victim.pem']


def test_symlinked_challenge_directory_is_refused_on_a_web_host(sandbox, run_playbook, dirs, tmp_path):
    """acme_http01_files on web1 (over SSH, as root): a planted .well-known/acme-challenge symlink is refused,
    nothing is written where it points, and the same holds for a symlinked .well-known."""
    outside = tmp_path / 'outside'
    outside.mkdir()
    webroot = dirs['web1'] + '/www'
    token = 'tok_%s' % uuid.uuid4().hex[:12]
    challenge = {'token': token, 'key_authorization': token + '.thumbprint_abc'}
    task = {'name': 'challenge files', 'certpilot.tls.acme_http01_files': {
        'webroot': webroot, 'challenges': [challenge]}}
    os.makedirs(webroot + '/.well-known')
    os.symlink(str(outside), webroot + '/.well-known/acme-challenge')
    result = run_playbook(_web1_play(task), extra_args=('--diff',))
    assert result.rc != 0
    assert 'refusing %s/.well-known/acme-challenge: it is a symlink below the webroot' % webroot in result.stdout, \
        result.explain()
    assert os.listdir(str(outside)) == []

    os.unlink(webroot + '/.well-known/acme-challenge')
    os.rmdir(webroot + '/.well-known')
    os.symlink(str(outside), webroot + '/.well-known')
    result = run_playbook(_web1_play(task))
    assert result.rc != 0
    assert 'refusing %s/.well-known: it is a symlink below the webroot' % webroot in result.stdout, result.explain()
    assert os.listdir(str(outside)) == []

    os.unlink(webroot + '/.well-known')  # the control: a real directory works
    result = run_playbook(_web1_play(task))
    assert result.rc == 0, result.explain()
    with open(os.path.join(webroot, '.well-known', 'acme-challenge', challenge['token'])) as handle:
        assert handle.read() == challenge['key_authorization']


@pytest.fixture(scope='module')
def peek_user():
    if os.geteuid() != 0:
        pytest.fail('the unprivileged-reader test needs root to create %s; it cannot pass without running' % PEEK_USER)
    if subprocess.call(['id', PEEK_USER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) != 0:
        subprocess.check_call(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', PEEK_USER])
    return PEEK_USER


def test_another_uid_never_opens_a_key_during_200_pushes(sandbox, run_playbook, dirs, peek_user, tmp_path):
    keys = [_key_pem() for dummy in range(100)]
    for base in dirs.values():
        os.makedirs(base, 0o755)
        os.chmod(base, 0o755)  # the reader may list the directory, never read a key
    # The reader must see the stop file, and run a python it may execute (not the 0700 checkout's venv).
    flag_dir = tempfile.mkdtemp(prefix='certpilot-peek-')
    os.chmod(flag_dir, 0o755)
    stop = os.path.join(flag_dir, 'stop')
    python = shutil.which('python3', path='/usr/bin:/bin') or sys.executable
    peekers = [subprocess.Popen(['runuser', '-u', peek_user, '--', python, '-c', _PEEKER, base, stop],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for base in dirs.values()]
    try:
        sftp_files = [{'dest': '%s/k%03d.pem' % (dirs['appliance1'], i), 'content': k, 'mode': '0600'}
                      for i, k in enumerate(keys)]
        local_files = [{'dest': '%s/k%03d.pem' % (dirs['web1'], i), 'content': k, 'mode': '0600'}
                       for i, k in enumerate(keys)]
        push = run_playbook(_local_play(_sftp_task(sandbox, 'appliance1', sftp_files)))
        assert push.rc == 0, push.explain()
        install = run_playbook(_web1_play({'name': 'install', 'certpilot.tls.cert_files': {'files': local_files}}))
        assert install.rc == 0, install.explain()
    finally:
        with open(stop, 'w'):
            pass
        outputs = [p.communicate(timeout=60) for p in peekers]
        shutil.rmtree(flag_dir, ignore_errors=True)
    reports = [[json.loads(line) for line in out.decode().splitlines() if line.strip()] for out, err in outputs]
    for report, (out, err) in zip(reports, outputs):
        assert report and 'polls' in report[-1], err.decode()
        assert report[-1]['polls'] > 1  # it really watched while the files were written
        assert [r for r in report if 'key' in r] == []
    for base in dirs.values():
        assert len([n for n in os.listdir(base) if n.endswith('.pem')]) == 100
        assert not [n for n in os.listdir(base) if n.endswith('.tmp')]

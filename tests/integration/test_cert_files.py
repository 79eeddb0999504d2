# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""certpilot.tls.cert_files over real SSH on a sandbox web host: one call, secrets hidden, check/diff,
idempotence, validation failure restores, restore and discard."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import stat
import uuid

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

pytestmark = pytest.mark.timeout(300)


def _key_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _play(*tasks):
    return json.dumps([{'hosts': 'web1', 'gather_facts': False, 'tasks': list(tasks)}])


def _install(files, register='out', **extra):
    args = dict(files=files, **extra)
    return {'name': register, 'certpilot.tls.cert_files': args, 'register': register}


def _read(path):
    with open(path) as handle:
        return handle.read()


@pytest.fixture
def target(sandbox):
    base = os.path.join(sandbox['hosts']['web1']['cert_dir'], 'cf-%s' % uuid.uuid4().hex[:8])
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _files(base, cert_text, key_text):
    return [{'dest': base + '/site/fullchain.pem', 'content': cert_text},
            {'dest': base + '/site/privkey.pem', 'secret_content': key_text}]


def test_install_hides_the_key_and_converges(run_playbook, target):
    key = _key_pem()
    files = _files(target, 'CERT one\n', key)
    first = run_playbook(_play(_install(files)), extra_args=('-vvv', '--diff'))
    assert first.rc == 0, first.explain()
    out = first.task_results('out')['web1']
    assert out['changed'] and [f['action'] for f in out['files']] == ['create', 'create']
    assert _read(target + '/site/fullchain.pem') == 'CERT one\n' and _read(target + '/site/privkey.pem') == key
    assert stat.S_IMODE(os.stat(target + '/site/privkey.pem').st_mode) == 0o600
    assert stat.S_IMODE(os.stat(target + '/site/fullchain.pem').st_mode) == 0o644
    # the key is nowhere: not in -vvv output, diff or results
    text = first.stdout + first.stderr + json.dumps(first.results)
    for line in key.splitlines():
        if not line.startswith('-----'):
            assert line not in text
    # ... while the verbose output really carried the module results and the certificate diff
    assert 'CERT one' in first.stdout and '"sha256"' in first.stdout, first.stdout[-3000:]

    second = run_playbook(_play(_install(files)))
    assert second.rc == 0 and second.changed('web1') == 0, second.explain()

    # check mode reports the change and writes nothing
    changed = _files(target, 'CERT two\n', key)
    check = run_playbook(_play(_install(changed)), check=True, extra_args=('--diff',))
    assert check.rc == 0 and check.changed('web1') == 1, check.explain()
    assert _read(target + '/site/fullchain.pem') == 'CERT one\n'
    assert 'CERT two' in check.stdout
    assert sorted(os.listdir(target + '/site')) == ['fullchain.pem', 'privkey.pem']


def test_validation_failure_restores_and_later_restore_and_discard(run_playbook, target):
    key_one, key_two = _key_pem(), _key_pem()
    setup = run_playbook(_play(_install(_files(target, 'CERT one\n', key_one))))
    assert setup.rc == 0, setup.explain()

    failing = run_playbook(_play(_install(_files(target, 'CERT two\n', key_two),
                                          validate_command=['/bin/sh', '-c', 'echo "emerg: bad cert" >&2; exit 1'])))
    assert failing.rc != 0
    msg = failing.task_results('out')['web1']['msg']
    assert 'bad cert' in msg and 'previous files were restored' in msg, failing.explain()
    assert _read(target + '/site/fullchain.pem') == 'CERT one\n' and _read(target + '/site/privkey.pem') == key_one
    assert sorted(os.listdir(target + '/site')) == ['fullchain.pem', 'privkey.pem']

    # a successful install keeps backups; restore puts the old files back, a second restore changes nothing
    play = _play(_install(_files(target, 'CERT two\n', key_two)),
                 {'name': 'restore', 'certpilot.tls.cert_files': {'state': 'restore', 'backups': '{{ out.backups }}'},
                  'register': 'restore'},
                 {'name': 'restore again', 'certpilot.tls.cert_files': {'state': 'restore', 'backups': '{{ out.backups }}'},
                  'register': 'again'})
    res = run_playbook(play)
    assert res.rc == 0, res.explain()
    assert res.task_results('restore')['web1']['restored'] == 2
    assert res.task_results('restore again')['web1']['changed'] is False
    assert _read(target + '/site/fullchain.pem') == 'CERT one\n' and _read(target + '/site/privkey.pem') == key_one
    assert stat.S_IMODE(os.stat(target + '/site/privkey.pem').st_mode) == 0o600

    play = _play(_install(_files(target, 'CERT three\n', key_two)),
                 {'name': 'discard', 'certpilot.tls.cert_files': {'state': 'discard', 'backups': '{{ out.backups }}'},
                  'register': 'discard'})
    res = run_playbook(play)
    assert res.rc == 0, res.explain()
    assert len(res.task_results('discard')['web1']['removed']) == 2
    assert _read(target + '/site/fullchain.pem') == 'CERT three\n'
    assert sorted(os.listdir(target + '/site')) == ['fullchain.pem', 'privkey.pem']


def test_bad_input_is_a_clear_error(run_playbook, target):
    both = [{'dest': target + '/x.pem', 'content': 'a', 'secret_content': 'b'}]
    res = run_playbook(_play(_install(both)))
    assert res.rc != 0
    assert 'exactly one of content or secret_content' in res.task_results('out')['web1']['msg']
    res = run_playbook(_play(_install([{'dest': 'relative/x.pem', 'content': 'a'}])))
    assert res.rc != 0 and 'absolute path' in res.task_results('out')['web1']['msg']
    res = run_playbook(_play(_install([{'dest': target + '/x.pem', 'content': 'a', 'mode': 'rw-r'}])))
    assert res.rc != 0 and 'octal' in res.task_results('out')['web1']['msg']
    assert not os.path.exists(target)

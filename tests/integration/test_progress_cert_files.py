# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress of certpilot.tls.cert_files (the install transaction on a web host), over ssh with become.

4,200 files is above cert_files' own default threshold (4,000), so ``auto`` watches the run without any
setting: the module runs with ``async`` and the action prints lines with the files done and the step
running (a validate command that takes a few seconds). The result is the module's own: the same keys and
values as an unwatched run of the same files, a second run changes nothing, no key in the output, the
key files 0600 and no async job left. Durations are never asserted, only lines, counts and order.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import shutil
import stat
import tempfile

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

LINE = re.compile(r'^certpilot\.tls\.cert_files \[(?P<host>[^\]]+)\]: (?P<done>\d+)/(?P<total>\d+) done, '
                  r'(?P<failed>\d+) failed, (?P<left>\d+) left(?P<rest>.*)$')
ANY_LINE = re.compile(r'^certpilot\.tls\.cert_files \[')
TASK = 'Install the files'
CERTS = 1400  # x 3 files: above cert_files' own threshold of 4000
PLAYBOOK = '''
- name: cert_files progress
  hosts: web1
  gather_facts: false
  become: true
  tasks:
    - name: %s
      certpilot.tls.cert_files:
        files: "{{ progress_files }}"
        validate_command: ["/bin/sh", "-c", "sleep {{ progress_validate_seconds }}"]
        keep_backups: false
      register: progress_result
''' % TASK

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope='module')
def secret():
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode('ascii')


def files(root, secret):
    out = []
    for index in range(CERTS):
        base = os.path.join(root, 'site-%03d' % index)
        out.append({'dest': base + '/fullchain.pem', 'content': 'chain of site %d\n' % index})
        out.append({'dest': base + '/cert.pem', 'content': 'leaf of site %d\n' % index})
        out.append({'dest': base + '/privkey.pem', 'secret_content': secret})
    return out


def progress_lines(stdout):
    return [line for line in stdout.splitlines() if ANY_LINE.match(line)]


def comparable(result):
    """The module's result with the paths of the one run replaced (two runs write to two directories)."""
    text = repr(sorted((k, v) for k, v in result.items() if k not in ('invocation',)))
    return re.sub(r'/[^\'"]*/(run-[ab])/', '/ROOT/', text)


def test_watched_install_reports_files_and_steps(run_playbook, secret, tmp_path):
    remote_async = tempfile.mkdtemp(prefix='progress-async-', dir='/tmp')  # the sandbox hosts share this machine
    roots = {name: str(tmp_path / name) for name in ('run-a', 'run-b')}
    try:
        env = {'ANSIBLE_ASYNC_DIR': remote_async}
        watched_vars = {'progress_files': files(roots['run-a'], secret), 'progress_validate_seconds': 4,
                        'certpilot_progress_interval': 1}
        watched = run_playbook(PLAYBOOK, extra_vars=watched_vars, env=env, timeout=600)
        assert watched.rc == 0, watched.explain()
        lines = watched.stdout.splitlines()
        progress = progress_lines(watched.stdout)
        assert len(progress) >= 3, watched.stdout[-3000:]
        result_at = [i for i, line in enumerate(lines) if line.startswith('changed: [web1]')]
        assert result_at and lines.index(progress[0]) < result_at[0], watched.stdout[-3000:]
        counted = [LINE.match(line) for line in progress if LINE.match(line)]
        assert counted, progress
        previous = -1
        for match in counted:
            done, left = int(match.group('done')), int(match.group('left'))
            assert int(match.group('total')) == 3 * CERTS and int(match.group('failed')) == 0
            assert done + left == 3 * CERTS and done >= previous
            previous = done
        # while nginx -t (here: a 4 s validate command) runs, every file is written and the step is named
        assert any(int(m.group('done')) == 3 * CERTS and 'running longest validate' in m.group('rest')
                   for m in counted), progress
        assert secret.strip().splitlines()[1] not in watched.stdout
        assert os.listdir(remote_async) == []

        plain_vars = dict(watched_vars, progress_files=files(roots['run-b'], secret), certpilot_progress='never')
        plain = run_playbook(PLAYBOOK, extra_vars=plain_vars, env=env, timeout=600)
        assert plain.rc == 0, plain.explain()
        assert progress_lines(plain.stdout) == []
        first = watched.task_results(TASK)['web1']
        assert sorted(first) == sorted(plain.task_results(TASK)['web1'])
        assert comparable(first) == comparable(plain.task_results(TASK)['web1'])
        assert first['changed'] is True and first['validate']['rc'] == 0 and len(first['files']) == 3 * CERTS

        key = os.path.join(roots['run-a'], 'site-000', 'privkey.pem')
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        with open(key) as handle:
            assert handle.read() == secret

        again = run_playbook(PLAYBOOK, extra_vars=watched_vars, env=env, timeout=600)
        assert again.rc == 0, again.explain()
        assert again.task_results(TASK)['web1']['changed'] is False
        assert os.listdir(remote_async) == []
    finally:
        shutil.rmtree(remote_async)

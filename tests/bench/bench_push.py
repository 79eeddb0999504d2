#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy benchmark: N certificates + keys to one web host over real SSH.

Ours: one ``certpilot.tls.cert_files`` task (what the cert_push role runs).
Loop: the usual role shape, ``ansible.builtin.file`` + ``ansible.builtin.copy`` loops
(one module round trip per directory and per file), which cert_push used before.
Both deploy the same files to web1 of the sandbox (``make sandbox-up``); after every
run the files on the host are compared with the local store, so a fast wrong run fails.
"""
from __future__ import absolute_import, division, print_function

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

OURS = r'''
- name: certpilot.tls.cert_files, one task
  hosts: web1
  gather_facts: false
  tasks:
    - name: Install every certificate and key
      certpilot.tls.cert_files:
        files: "{{ lookup('ansible.builtin.template', files_template) | from_json }}"
        keep_backups: false
'''

# The shape of the list the cert_push role gives cert_files (the certpilot.tls.cert_push_install_files filter).
FILES_TEMPLATE = r'''{%- set out = [] -%}
{%- for c in certs -%}
{%- set _ = out.append({'dest': dest ~ '/' ~ c ~ '/fullchain.pem',
                        'content': lookup('ansible.builtin.file', store ~ '/' ~ c ~ '/fullchain.pem', rstrip=false)}) -%}
{%- set _ = out.append({'dest': dest ~ '/' ~ c ~ '/privkey.pem',
                        'secret_content': lookup('ansible.builtin.file', store ~ '/' ~ c ~ '/privkey.pem', rstrip=false)}) -%}
{%- endfor -%}
{{ out | to_json }}
'''

LOOP = r'''
- name: file + copy loops
  hosts: web1
  gather_facts: false
  tasks:
    - name: Directories
      ansible.builtin.file:
        path: "{{ dest }}/{{ item }}"
        state: directory
        mode: "0755"
      loop: "{{ certs }}"
    - name: Certificates
      ansible.builtin.copy:
        src: "{{ store }}/{{ item }}/fullchain.pem"
        dest: "{{ dest }}/{{ item }}/fullchain.pem"
        mode: "0644"
      loop: "{{ certs }}"
    - name: Keys
      ansible.builtin.copy:
        src: "{{ store }}/{{ item }}/privkey.pem"
        dest: "{{ dest }}/{{ item }}/privkey.pem"
        mode: "0600"
      loop: "{{ certs }}"
      no_log: true
'''


def make_store(store, count, generation):
    """``count`` self-signed EC certificates with keys; ``generation`` makes a renewal differ."""
    names = []
    now = datetime.datetime.now(datetime.timezone.utc)
    for i in range(count):
        name = 'bench-%03d' % i
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '%s-g%d.example.test' % (name, generation))])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=90)).sign(key, hashes.SHA256()))
        folder = os.path.join(store, name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, 'fullchain.pem'), 'wb') as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(os.path.join(folder, 'privkey.pem'), 'wb') as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        os.chmod(os.path.join(folder, 'privkey.pem'), 0o600)
        names.append(name)
    return names


def check_deployed(store, dest, names):
    for name in names:
        for leaf, mode in (('fullchain.pem', 0o644), ('privkey.pem', 0o600)):
            with open(os.path.join(store, name, leaf), 'rb') as a, open(os.path.join(dest, name, leaf), 'rb') as b:
                if a.read() != b.read():
                    raise SystemExit('%s/%s on the host differs from the store' % (name, leaf))
            if os.stat(os.path.join(dest, name, leaf)).st_mode & 0o7777 != mode:
                raise SystemExit('%s/%s has the wrong mode' % (name, leaf))


def run(sandbox, playbook, extra_vars, workdir, label):
    pb = os.path.join(workdir, label + '.yml')
    with open(pb, 'w') as handle:
        handle.write(playbook)
    vars_path = os.path.join(workdir, label + '-vars.json')
    with open(vars_path, 'w') as handle:
        json.dump(extra_vars, handle)
    env = dict(os.environ, ANSIBLE_CONFIG=sandbox['ansible_cfg'], ANSIBLE_NOCOLOR='1')
    env.pop('ANSIBLE_COLLECTIONS_PATH', None)
    cmd = [os.path.join(REPO, '.venv', 'bin', 'ansible-playbook'), pb, '-e', '@' + vars_path]
    started = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, universal_newlines=True,
                          timeout=1800, check=False)
    elapsed = time.monotonic() - started
    with open(os.path.join(workdir, label + '.log'), 'w') as handle:
        handle.write(proc.stdout)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-3000:])
        raise SystemExit('%s failed (rc=%s)' % (label, proc.returncode))
    changed = sum(int(part.split('=')[1]) for line in proc.stdout.splitlines() if line.startswith('web1 ')
                  for part in line.split() if part.startswith('changed='))
    return elapsed, changed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=os.path.join(HERE, 'results', 'push.md'))
    parser.add_argument('--count', type=int, default=50)
    parser.add_argument('--sandbox', default=os.path.join(REPO, '.sandbox', 'sandbox.json'))
    parser.add_argument('--only', choices=['both', 'ours'], default='both',
                        help='ours: skip the (slow) file + copy loops; their column then says "not run"')
    args = parser.parse_args()
    with open(args.sandbox) as handle:
        sandbox = json.load(handle)
    workdir = tempfile.mkdtemp(prefix='bench-push-')
    target = os.path.join(sandbox['hosts']['web1']['cert_dir'], 'bench-push-%s' % uuid.uuid4().hex[:8])
    rows = []
    files_template = os.path.join(workdir, 'files.j2')
    with open(files_template, 'w') as handle:
        handle.write(FILES_TEMPLATE)
    try:
        for label, playbook in (('ours', OURS), ('loop', LOOP))[:1 if args.only == 'ours' else 2]:
            store = os.path.join(workdir, 'store-' + label)
            dest = os.path.join(target, label)
            names = make_store(store, args.count, 1)
            extra = {'certs': names, 'store': store, 'dest': dest, 'files_template': files_template}
            result = {'tool': label}
            for scenario in ('deploy', 'noop', 'renew'):
                if scenario == 'renew':
                    make_store(store, args.count, 2)
                print('[bench] %s %s: %d certificates ...' % (label, scenario, args.count), flush=True)
                elapsed, changed = run(sandbox, playbook, extra, workdir, '%s-%s' % (label, scenario))
                check_deployed(store, dest, names)
                if scenario == 'noop' and changed:
                    raise SystemExit('%s: the no-op run changed %d tasks' % (label, changed))
                print('[bench] %s %s: %.1fs' % (label, scenario, elapsed), flush=True)
                result[scenario] = round(elapsed, 2)
            rows.append(result)
    finally:
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)  # the generated store holds private keys
    ours, loop = rows[0], (rows[1] if len(rows) > 1 else None)
    stamp = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    lines = ['# Deploy benchmark: one cert_files task vs file/copy loops', '',
             '%d certificates (fullchain + key each, %d files) to one sandbox web host over real SSH (pipelining on). '
             '%s, %s CPUs, Python %s.' % (args.count, 2 * args.count, stamp, os.cpu_count(), platform.python_version()),
             '', '| scenario | certpilot.tls.cert_files (one task) | file + copy loops | speed-up |',
             '| --- | ---: | ---: | ---: |']
    for scenario, title in (('deploy', 'first deploy'), ('noop', 'nightly no-op (nothing changed)'),
                            ('renew', 'all renewed')):
        if loop is None:
            lines.append('| %s | %.1f s | not run | - |' % (title, ours[scenario]))
            continue
        ratio = loop[scenario] / max(ours[scenario], 0.01)
        lines.append('| %s | %.1f s | %.1f s | %.1fx |' % (title, ours[scenario], loop[scenario], ratio))
    lines += ['', 'Wall time of one `ansible-playbook` run each (start-up included). After every run the files on the host '
              'are compared byte for byte and by mode with the local store. The loop playbook is what a role without a '
              'bulk module does (and what `cert_push` did before `cert_files`).', '',
              'Reproduce: `make sandbox-up && .venv/bin/python tests/bench/bench_push.py --count %d`' % args.count, '']
    with open(args.out, 'w') as handle:
        handle.write('\n'.join(lines))
    with open(os.path.splitext(args.out)[0] + '.json', 'w') as handle:
        json.dump({'count': args.count, 'when': stamp, 'results': rows}, handle, indent=2)
    print('[bench] wrote %s' % args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: certpilot.tls ACME modules vs community.crypto, against pebble.

(a) N new certificates end to end (keys, orders, challenge files, validation, download);
(b) the daily no-op re-check of the same N certificates.

Ours: one playbook (acme_account + acme_order + copy challenge files + acme_finalize), run with
.venv/bin/ansible-playbook. Theirs: the idiomatic community.crypto playbook (openssl_privatekey,
openssl_csr, two-step acme_certificate loops, copy challenge files), run with
.venv-bench/bin/ansible-playbook (PyPI `ansible`, which bundles community.crypto).

HTTP requests are counted the same way for both: pebble logs one line
"<METHOD> <path> -> calling handler()" per request it serves; the benchmark runs its own pebble
(same binary, config, TLS certificate, DNS server and PEBBLE_WFE_NONCEREJECT as the sandbox pebble,
other ports) so that no other traffic is counted. Ours is cross-checked with the modules'
``http_requests`` counters. Use --sandbox-pebble to run against the shared sandbox pebble instead
(counts are then the log delta and may include other users' traffic).

Usage: .venv/bin/python tests/bench/bench_acme.py --out tests/bench/results/acme.md [--count 50]
Needs the sandbox (make sandbox-up) and .venv-bench (make bench-venv).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import ssl
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from latency_proxy import LatencyProxy  # noqa: E402  pylint: disable=wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OURS_BIN = os.path.join(REPO, '.venv', 'bin')
THEIRS_BIN = os.path.join(REPO, '.venv-bench', 'bin')
LOG_LINE = re.compile(r'^Pebble \S+ \S+ (GET|HEAD|POST) (\S+) -> calling handler\(\)')

OURS_PLAYBOOK = r'''
- name: certpilot.tls issuance
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/certpilot.tls.acme:
      acme_directory: "{{ acme_directory }}"
      ca_bundle: "{{ ca_bundle }}"
      account_key_src: "{{ account_key }}"
  tasks:
    - name: Account
      certpilot.tls.acme_account:
        generate_account_key: true
        terms_agreed: true
        contact: ["mailto:bench@example.test"]
      register: account
    - name: Order
      certpilot.tls.acme_order:
        store: "{{ store }}"
        certificates: "{{ certs | map('combine', {'key_type': 'ec256'}) | list }}"
        concurrency: "{{ concurrency }}"
      register: order
    - name: Challenge files
      # __PUBLISH__
    - name: Finalize
      certpilot.tls.acme_finalize:
        store: "{{ store }}"
        concurrency: "{{ concurrency }}"
      register: finalize
    - name: Report
      ansible.builtin.debug:
        msg: "BENCH_COUNTERS={{ {'account': account.http_requests, 'order': order.http_requests,
                                'finalize': finalize.http_requests} | to_json }}"
'''

# How ours publishes the challenge files: one certpilot.tls.sftp_push call to web1 over SSH (all files in
# one task), or the same ansible.builtin.copy loop as community.crypto (ours-copy).
PUBLISH_SFTP = r'''certpilot.tls.sftp_push:
        known_hosts: "{{ ssh_known_hosts }}"
        private_key_src: "{{ ssh_private_key }}"
        username: "{{ ssh_user }}"
        targets:
          - name: web1
            address: "{{ web_address }}"
            port: "{{ web_ssh_port }}"
        files: >-
          {% set out = [] %}{% for c in order.challenges %}{% set _ = out.append({'dest': webroot ~ '/' ~ c.path,
          'content': c.key_authorization, 'mode': '0644'}) %}{% endfor %}{{ out }}
      when: order.challenges | length > 0'''
PUBLISH_COPY = r'''ansible.builtin.copy:
        dest: "{{ webroot }}/{{ item.path }}"
        content: "{{ item.key_authorization }}"
        mode: "0644"
      loop: "{{ order.challenges }}"
      loop_control:
        label: "{{ item.identifier }}"'''

THEIRS_PLAYBOOK = r'''
- name: community.crypto issuance
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Account key
      community.crypto.openssl_privatekey:
        path: "{{ account_key }}"
        type: ECC
        curve: secp256r1
        mode: "0600"
    - name: Account
      community.crypto.acme_account:
        account_key_src: "{{ account_key }}"
        acme_directory: "{{ acme_directory }}"
        acme_version: 2
        state: present
        terms_agreed: true
        contact: ["mailto:bench@example.test"]
    - name: Private keys
      community.crypto.openssl_privatekey:
        path: "{{ store }}/{{ item.name }}.key"
        type: ECC
        curve: secp256r1
        mode: "0600"
      loop: "{{ certs }}"
    - name: CSRs
      community.crypto.openssl_csr:
        path: "{{ store }}/{{ item.name }}.csr"
        privatekey_path: "{{ store }}/{{ item.name }}.key"
        common_name: "{{ item.domains[0] }}"
        subject_alt_name: "{{ item.domains | map('regex_replace', '^', 'DNS:') | list }}"
      loop: "{{ certs }}"
    - name: Create challenges
      community.crypto.acme_certificate:
        account_key_src: "{{ account_key }}"
        acme_directory: "{{ acme_directory }}"
        acme_version: 2
        terms_agreed: true
        challenge: http-01
        csr: "{{ store }}/{{ item.name }}.csr"
        dest: "{{ store }}/{{ item.name }}.crt"
        fullchain_dest: "{{ store }}/{{ item.name }}-fullchain.crt"
        remaining_days: 30
      loop: "{{ certs }}"
      register: challenge
    - name: Challenge files
      ansible.builtin.copy:
        dest: "{{ webroot }}/{{ item.value['http-01'].resource }}"
        content: "{{ item.value['http-01'].resource_value }}"
        mode: "0644"
      loop: "{{ challenge.results | selectattr('changed') | map(attribute='challenge_data') | map('dict2items') | flatten }}"
      loop_control:
        label: "{{ item.key }}"
    - name: Finish
      community.crypto.acme_certificate:
        account_key_src: "{{ account_key }}"
        acme_directory: "{{ acme_directory }}"
        acme_version: 2
        terms_agreed: true
        challenge: http-01
        csr: "{{ store }}/{{ item.item.name }}.csr"
        dest: "{{ store }}/{{ item.item.name }}.crt"
        fullchain_dest: "{{ store }}/{{ item.item.name }}-fullchain.crt"
        remaining_days: 30
        data: "{{ item }}"
      loop: "{{ challenge.results }}"
      loop_control:
        label: "{{ item.item.name }}"
      when: item is changed
'''


def log(msg):
    sys.stdout.write('[bench] %s\n' % msg)
    sys.stdout.flush()


class Pebble:
    """A private pebble configured like the sandbox one (or the sandbox pebble itself)."""

    def __init__(self, sandbox, workdir, use_sandbox=False, port=14900, nonce_reject=None):
        self.sandbox = sandbox
        self.proc = None
        self.nonce_reject = int(sandbox['acme'].get('nonce_reject_percent', 0)) if nonce_reject is None else nonce_reject
        if use_sandbox and nonce_reject is not None:
            raise SystemExit('--nonce-reject needs the benchmark\'s own pebble (not --sandbox-pebble)')
        self.ca_bundle = sandbox['acme']['ca_bundle']
        if use_sandbox:
            self.directory = sandbox['acme']['directory']
            self.log_path = os.path.join(sandbox['dir'], 'logs', 'pebble.log')
            self.shared = True
            return
        self.shared = False
        conf_src = os.path.join(sandbox['dir'], 'pebble', 'pebble-config.json')
        with open(conf_src) as handle:
            conf = json.load(handle)
        conf['pebble']['listenAddress'] = '127.0.0.1:%d' % port
        conf['pebble']['managementListenAddress'] = '127.0.0.1:%d' % (port + 1)
        self.conf_path = os.path.join(workdir, 'pebble-config.json')
        with open(self.conf_path, 'w') as handle:
            json.dump(conf, handle)
        self.directory = 'https://127.0.0.1:%d/dir' % port
        self.log_path = os.path.join(workdir, 'pebble.log')
        self.argv = ['/usr/bin/pebble', '-config', self.conf_path, '-dnsserver', sandbox['dns']['server']]
        self.env = dict(os.environ, PEBBLE_VA_NOSLEEP='1', PEBBLE_WFE_NONCEREJECT=str(self.nonce_reject))

    def start(self):
        if self.shared:
            return
        self.log_handle = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(self.argv, stdout=self.log_handle, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        ctx = ssl.create_default_context(cafile=self.ca_bundle)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.directory, context=ctx, timeout=2).read()
                return
            except Exception:  # noqa: BLE001 - not up yet
                if self.proc.poll() is not None:
                    raise SystemExit('pebble exited: see %s' % self.log_path)
                time.sleep(0.2)
        raise SystemExit('pebble did not start within 30s')

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None:
            self.log_handle.close()

    def request_count(self):
        count = 0
        try:
            with open(self.log_path, 'r', errors='replace') as handle:
                for line in handle:
                    if LOG_LINE.match(line):
                        count += 1
        except IOError:
            pass
        return count


def run_playbook(binary, playbook, extra_vars, env, workdir, label):
    pb_path = os.path.join(workdir, '%s.yml' % label)
    with open(pb_path, 'w') as handle:
        handle.write(playbook)
    vars_path = os.path.join(workdir, '%s-vars.json' % label)
    with open(vars_path, 'w') as handle:
        json.dump(extra_vars, handle)
    cmd = [os.path.join(binary, 'ansible-playbook'), '-i', 'localhost,', pb_path, '-e', '@' + vars_path]
    started = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, universal_newlines=True,
                          timeout=3600, check=False)
    elapsed = time.monotonic() - started
    with open(os.path.join(workdir, '%s.log' % label), 'w') as handle:
        handle.write(proc.stdout)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-3000:])
        raise RuntimeError('%s failed (rc=%s), log in %s' % (label, proc.returncode, workdir))
    return elapsed, proc.stdout


def base_env(python):
    env = dict(os.environ)
    for name in ('ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_CONFIG', 'PYTHONPATH', 'ANSIBLE_CALLBACKS_ENABLED'):
        env.pop(name, None)
    env.update({'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_HOST_KEY_CHECKING': 'False', 'ANSIBLE_RETRY_FILES_ENABLED': '0',
                'ANSIBLE_PYTHON_INTERPRETER': python, 'ANSIBLE_LOCALHOST_WARNING': 'False',
                'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False', 'ANSIBLE_DEPRECATION_WARNINGS': 'False'})
    return env


def check_ours(store, certs):
    for cert in certs:
        path = os.path.join(store, cert['name'], 'fullchain.pem')
        if not os.path.exists(path):
            raise SystemExit('ours: %s missing' % path)


def check_theirs(store, certs):
    for cert in certs:
        path = os.path.join(store, '%s-fullchain.crt' % cert['name'])
        if not os.path.exists(path):
            raise SystemExit('theirs: %s missing' % path)


def remove_challenge_files(webroot, account_key_path):
    """Delete the challenge files of one account (content ends with its JWK thumbprint)."""
    sys.path.insert(0, os.path.join(REPO, '.build', 'collections'))
    from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey
    try:
        with open(account_key_path, 'rb') as handle:
            thumbprint = AcmeKey.from_pem(handle.read()).thumbprint
    except (IOError, OSError):
        return 0
    directory = os.path.join(webroot, '.well-known', 'acme-challenge')
    removed = 0
    for entry in os.listdir(directory) if os.path.isdir(directory) else []:
        path = os.path.join(directory, entry)
        try:
            with open(path) as handle:
                if handle.read().strip().endswith('.' + thumbprint):
                    os.unlink(path)
                    removed += 1
        except (IOError, OSError, UnicodeDecodeError):
            continue
    return removed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default=os.path.join(REPO, 'tests', 'bench', 'results', 'acme.md'))
    parser.add_argument('--count', type=int, default=50)
    parser.add_argument('--concurrency', type=int, default=10)
    parser.add_argument('--sandbox-pebble', action='store_true', help='use the shared sandbox pebble (noisy counts)')
    parser.add_argument('--only', choices=['ours', 'theirs', 'both'], default='both')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    parser.add_argument('--noop-runs', type=int, default=3, help='no-op runs of ours (median reported)')
    parser.add_argument('--latency-ms', type=int, default=0,
                        help='round-trip time added in front of pebble by tests/bench/latency_proxy.py (0: none)')
    parser.add_argument('--nonce-reject', type=int, default=None, metavar='PERCENT',
                        help="pebble's nonce reject rate (default: the sandbox's, 30)")
    args = parser.parse_args()

    sandbox_json = os.environ.get('CERTPILOT_SANDBOX_JSON') or os.path.join(REPO, '.sandbox', 'sandbox.json')
    with open(sandbox_json) as handle:
        sandbox = json.load(handle)
    if args.only != 'ours' and not os.path.exists(os.path.join(THEIRS_BIN, 'ansible-playbook')):
        raise SystemExit('.venv-bench is missing: run `make bench-venv`')
    workdir = tempfile.mkdtemp(prefix='bench-acme-')
    webroot = sandbox['hosts']['web1']['webroot']
    pebble = Pebble(sandbox, workdir, use_sandbox=args.sandbox_pebble, nonce_reject=args.nonce_reject)
    pebble.start()
    proxy = None
    if args.latency_ms > 0:
        # pebble builds its URLs from the Host header, so every request of both clients goes through the relay
        target = urllib.parse.urlsplit(pebble.directory)
        proxy = LatencyProxy(('127.0.0.1', 0), (target.hostname, target.port), args.latency_ms / 2000.0).start()
        pebble.directory = 'https://127.0.0.1:%d%s' % (proxy.listen[1], target.path)
        log('pebble %s behind a %d ms latency relay' % (pebble.directory, args.latency_ms))
    runs = {}
    failures = []
    try:
        whos = {'both': ['ours', 'ours-copy', 'theirs'], 'ours': ['ours', 'ours-copy'], 'theirs': ['theirs']}[args.only]
        for who in whos:
            prefix = 'bench-%s-%s' % (who, uuid.uuid4().hex[:6])
            certs = [{'name': '%s-%02d' % (prefix, i), 'domains': ['%s-%02d.example.test' % (prefix, i)]}
                     for i in range(args.count)]
            store = os.path.join(workdir, who, 'store')
            os.makedirs(store)
            extra = {'acme_directory': pebble.directory, 'ca_bundle': pebble.ca_bundle, 'certs': certs,
                     'account_key': os.path.join(workdir, who, 'account.key'), 'store': store, 'webroot': webroot,
                     'concurrency': args.concurrency,
                     'ssh_known_hosts': sandbox['ssh']['known_hosts'], 'ssh_private_key': sandbox['ssh']['private_key'],
                     'ssh_user': sandbox['ssh']['user'], 'web_address': sandbox['hosts']['web1']['address'],
                     'web_ssh_port': sandbox['hosts']['web1']['ssh_port']}
            if who.startswith('ours'):
                env = base_env(os.path.join(OURS_BIN, 'python'))
                env['ANSIBLE_COLLECTIONS_PATH'] = os.path.join(REPO, '.build', 'collections')
                publish = PUBLISH_SFTP if who == 'ours' else PUBLISH_COPY
                binary, playbook, check = OURS_BIN, OURS_PLAYBOOK.replace('# __PUBLISH__', publish), check_ours
            else:
                env = base_env(os.path.join(THEIRS_BIN, 'python'))
                env['SSL_CERT_FILE'] = pebble.ca_bundle  # community.crypto has no ca_bundle option
                binary, playbook, check = THEIRS_BIN, THEIRS_PLAYBOOK, check_theirs
            for phase in ('issue', 'noop'):
                # ours' no-op run is a handful of tasks, so machine noise matters: median of --noop-runs runs
                # (theirs runs ~150 task executions per no-op, which averages the noise; it runs once)
                repeat = args.noop_runs if (phase == 'noop' and who.startswith('ours')) else 1
                samples, requests_list = [], []
                for index in range(repeat):
                    before = pebble.request_count()
                    log('%s %s: %d certificates ...' % (who, phase, args.count))
                    try:
                        elapsed, out = run_playbook(binary, playbook, extra, env, workdir,
                                                    '%s-%s-%d' % (who, phase, index))
                    except RuntimeError as exc:
                        failures.append(str(exc))
                        break
                    time.sleep(0.5)
                    requests_list.append(pebble.request_count() - before)
                    samples.append(elapsed)
                    check(store, certs)
                if len(samples) < repeat:
                    runs['%s_%s' % (who, phase)] = {'error': failures[-1]}
                    break
                order = sorted(range(repeat), key=lambda i: samples[i])
                mid = order[len(order) // 2]
                elapsed, requests = samples[mid], requests_list[mid]
                entry = {'seconds': round(elapsed, 2), 'requests': requests,
                         'requests_per_cert': round(requests / float(args.count), 2),
                         'seconds_per_cert': round(elapsed / args.count, 3)}
                if repeat > 1:
                    entry['samples_seconds'] = [round(x, 2) for x in samples]
                    entry['samples_requests'] = requests_list
                found = re.search(r'BENCH_COUNTERS=(\{[^}]*\})', out)
                if who.startswith('ours') and found:
                    counters = json.loads(found.group(1).replace('\\"', '"'))
                    entry['module_counters'] = counters
                    entry['module_counter_total'] = sum(counters.values())
                runs['%s_%s' % (who, phase)] = entry
                log('%s %s: %.1fs, %d requests' % (who, phase, elapsed, requests))
            log('%s: removed %d challenge files' % (who, remove_challenge_files(webroot, extra['account_key'])))
    finally:
        if proxy is not None:
            proxy.stop()
        pebble.stop()
    write_results(args, runs, pebble, workdir)
    if failures:
        log('FAILED runs (results incomplete, work directory kept: %s): %s' % (workdir, '; '.join(failures)))
        return 1
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _fmt_ratio(a, b):
    return '%.1fx' % (a / b) if a and b else 'n/a'


def write_results(args, runs, pebble, workdir):
    out_md = os.path.abspath(args.out)
    out_json = os.path.splitext(out_md)[0] + '.json'
    os.makedirs(os.path.dirname(out_md), exist_ok=True)
    versions = {}
    for who, binary in (('ours', OURS_BIN), ('theirs', THEIRS_BIN)):
        try:
            versions[who] = subprocess.run([os.path.join(binary, 'ansible'), '--version'], stdout=subprocess.PIPE,
                                           universal_newlines=True, check=False).stdout.splitlines()[0]
        except OSError:
            versions[who] = None
    doc = {
        'date': datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        'count': args.count, 'concurrency': args.concurrency, 'latency_ms': args.latency_ms,
        'pebble': 'sandbox (shared)' if pebble.shared else 'dedicated, sandbox config',
        'nonce_reject_percent': pebble.nonce_reject,
        'machine': {'cpus': os.cpu_count(), 'python': platform.python_version(), 'platform': platform.platform()},
        'ansible': versions, 'runs': runs,
        'reproduce': ['make sandbox-up', 'make bench-venv',
                      '.venv/bin/python tests/bench/bench_acme.py --out %s --count %d%s' % (
                          os.path.relpath(out_md, REPO), args.count,
                          ' --latency-ms %d' % args.latency_ms if args.latency_ms else '')],
        'method': ('wall time of each ansible-playbook run; HTTP requests counted from pebble\'s per-request log '
                   'lines ("<METHOD> <path> -> calling handler()") of a dedicated pebble started with the sandbox '
                   'config, DNS and nonce reject rate'),
    }
    for phase in ('issue', 'noop'):
        for who in ('ours', 'ours-copy'):
            ours, theirs = runs.get('%s_%s' % (who, phase)), runs.get('theirs_' + phase)
            if ours and theirs and 'seconds' in ours and 'seconds' in theirs:
                doc['speedup_%s_%s' % (phase, who.replace('-', '_'))] = round(theirs['seconds'] / ours['seconds'], 2)
    with open(out_json, 'w') as handle:
        json.dump(doc, handle, indent=2, sort_keys=True)
        handle.write('\n')
    lines = [
        '# ACME benchmark: certpilot.tls vs community.crypto', '',
        '%d certificates (one DNS name each, EC P-256 keys, http-01 via files in web1\'s webroot), pebble with '
        '%d%% nonce rejection%s, concurrency %d for certpilot.tls. %s, %d CPUs shared with other work.'
        % (args.count, pebble.nonce_reject,
           ', **%d ms round trip** added in front of pebble by a TCP relay (tests/bench/latency_proxy.py; '
           'both clients go through it)' % args.latency_ms if args.latency_ms else '',
           args.concurrency, doc['date'], os.cpu_count() or 0), '',
        '| scenario | certpilot.tls | community.crypto | speed-up | goal | requests/cert ours | requests/cert theirs |',
        '| --- | --- | --- | --- | --- | --- | --- |',
    ]
    goals = {'issue': '>= 10x', 'noop': '>= 20x'}
    if args.latency_ms:
        goals['issue'] = '< 6 s and >= 30x' if args.count == 50 else '>= 30x'
    titles = {'issue': '(a) issue %d new certificates' % args.count, 'noop': '(b) daily no-op re-check'}
    variants = [('ours', ''), ('ours-copy', ', challenge files with the same copy loop as theirs')]
    for phase in ('issue', 'noop'):
        theirs = runs.get('theirs_' + phase) or {}
        theirs = {} if 'error' in theirs else theirs
        for who, note in variants:
            ours = runs.get('%s_%s' % (who, phase)) or {}
            ours = {} if 'error' in ours else ours
            if not ours and who != 'ours':
                continue
            lines.append('| %s%s | %s | %s | %s | %s | %s | %s |' % (
                titles[phase], note,
                '%.1f s (%.3f s/cert)' % (ours['seconds'], ours['seconds_per_cert']) if ours else 'n/a',
                '%.1f s (%.3f s/cert)' % (theirs['seconds'], theirs['seconds_per_cert']) if theirs else 'n/a',
                _fmt_ratio(theirs.get('seconds'), ours.get('seconds')), goals[phase] if who == 'ours' else '',
                ours.get('requests_per_cert', 'n/a'), theirs.get('requests_per_cert', 'n/a')))
    errors = ['%s: %s' % (k, v['error']) for k, v in sorted(runs.items()) if 'error' in v]
    if errors:
        lines += ['', '**Incomplete run**: ' + '; '.join(errors)]
    lines += ['', '## Method', '',
              '- Wall time of one `ansible-playbook` run per scenario (process start to exit), on localhost. '
              'The no-op of ours is the median of %d runs (it is only a few tasks, so machine noise matters; all '
              'samples are in the JSON); theirs runs once (about 150 task executions average the noise).' % args.noop_runs,
              '- Ours: one playbook: `certpilot.tls.acme_account` + `acme_order` (all certificates, one task) + '
              'the challenge files pushed to web1 over SSH in one `certpilot.tls.sftp_push` task + `acme_finalize` '
              '(one task). Row "same copy loop": identical but with the `ansible.builtin.copy` loop (one item per '
              'challenge, local) that the community.crypto playbook uses; the loop costs most of the time. '
              'Theirs: `community.crypto.openssl_privatekey` (account), `acme_account`, `openssl_privatekey` + '
              '`openssl_csr` loops, `acme_certificate` step 1 loop, the same copy of challenge files, '
              '`acme_certificate` step 2 loop. Both re-run unchanged for the no-op check.',
              '- HTTP requests: %s. Ours is cross-checked with the `http_requests` counters the modules return '
              '(`module_counter_total` in the JSON).' % (
                  'counted from the log of the shared sandbox pebble (may include other traffic)' if pebble.shared else
                  'every request pebble serves is logged as `<METHOD> <path> -> calling handler()`; the benchmark '
                  'runs its own pebble (same binary, config, certificate, DNS server and nonce reject rate as the '
                  'sandbox one, other ports), so only benchmark traffic is counted'),
              '- community.crypto has no CA bundle option; it trusts pebble through `SSL_CERT_FILE`.',
              '- Versions: ours `%s`, theirs `%s`.' % (versions.get('ours'), versions.get('theirs')), '',
              '## Reproduce', '', '```'] + doc['reproduce'] + ['```', '']
    with open(out_md, 'w') as handle:
        handle.write('\n'.join(lines))
    log('wrote %s and %s' % (out_md, out_json))


if __name__ == '__main__':
    sys.exit(main())

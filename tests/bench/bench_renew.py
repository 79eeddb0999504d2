#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the certpilot.tls.renew playbook end to end, N certificates deployed to 3 web hosts.

For every size N (default 50,500; ``--sizes 50,500,5000``) three ``ansible-playbook certpilot.tls.renew``
runs against the sandbox:

1. first run: N new certificates (one DNS name each) issued by pebble (30 % nonce rejection, http-01
   files on the web hosts over SSH), pushed to web1, web2 and web3 over real SSH (certificate, chain,
   key and an nginx server block each), nginx tested and reloaded, every name checked by a TLS handshake;
2. nightly no-op: the same run again, nothing due (must report changed=0 on every host);
3. forced renewal of all N (``acme_certificates_force: true``): new orders, new keys, deployed again.

Measured per run: wall time of the ansible-playbook process, seconds per certificate, requests to pebble
per certificate (pebble's per-request log lines ``<METHOD> <path> -> calling handler()``, like
bench_acme.py), the per-task time (tests/bench/callback_plugins/bench_timing.py, what profile_tasks
reports), CPU time of ansible-playbook + local modules (children rusage) and of pebble, and the machine
load (load average, and CPU busy share of the whole machine from /proc/stat) during the run.

After every run the store and every host are checked: each host's fullchain.pem equals the store's, a
sample of names is served (TLS handshake, leaf fingerprint = store), the no-op changed nothing, the
forced renewal replaced every certificate. A fast wrong run fails the benchmark.

``--profile`` (default: when a goal is missed) repeats the forced renewal and the no-op of the largest
size with every module process (local and on the web hosts) under a wall-clock sampler of all threads
(tests/bench/profsite; cProfile cannot profile thread pools on Python 3.12), through a wrapper interpreter in a copy of the sandbox inventory, and
summarises the thread time of each module by category (TLS, HTTP, JSON, crypto, SSH, waiting, imports, ...)
and its top functions; "Ansible overhead" of a task = task time - time of its module processes.

Pebble: by default a dedicated one (same binary, config, certificate, DNS and nonce reject rate as the
sandbox pebble, other ports; ``--sandbox-pebble`` uses the sandbox's own, counts then include other
traffic).

Usage: .venv/bin/python tests/bench/bench_renew.py --out tests/bench/results/renew.md [--sizes 50,500]
Needs the sandbox (make sandbox-up).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import concurrent.futures
import hashlib
import json
import os
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))

import benchlib  # noqa: E402  pylint: disable=wrong-import-position
from bench_acme import Pebble  # noqa: E402  pylint: disable=wrong-import-position
import helpers  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = os.path.join(REPO, '.venv', 'bin')
COLLECTIONS = os.path.join(REPO, '.build', 'collections')
PLAYBOOK = 'certpilot.tls.renew'
WEB = ('web1', 'web2', 'web3')
PHASES = ('first', 'noop', 'force')
PHASE_TITLES = {'first': 'first run (issue + deploy)', 'noop': 'nightly no-op', 'force': 'forced renewal of all'}
GOALS = {('first', 500): 30.0, ('noop', 500): 5.0}
FLAT_FACTOR = 1.5


def log(msg):
    sys.stdout.write('[bench] %s\n' % msg)
    sys.stdout.flush()


class Scenario(object):
    """N certificates with unique names, all served by the same web hosts; its own store."""

    def __init__(self, sandbox, dns, workdir, count, hosts):
        self.sandbox = sandbox
        self.tag = 'b' + uuid.uuid4().hex[:6]
        self.count = count
        self.hosts = list(hosts)
        self.dir = os.path.join(workdir, '%s-%d' % (self.tag, count))
        self.store = os.path.join(self.dir, 'store')
        os.makedirs(self.store)
        self.zone = '%s.example.test' % self.tag
        self.certs = [{'name': '%s-%05d' % (self.tag, i), 'domains': ['c%05d.%s' % (i, self.zone)],
                       'hosts': list(self.hosts)} for i in range(count)]
        # challtestsrv answers unknown names with its default address; when that is one of our hosts
        # (the http-01 files go to every host of a certificate) no A record is needed.
        self.dns = dns
        self.dns_names = []
        addresses = [sandbox['hosts'][h]['address'] for h in self.hosts]
        if sandbox['dns'].get('default_ipv4') not in addresses:
            self.dns_names = [c['domains'][0] for c in self.certs]
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda n: dns.add_a(n, addresses[0]), self.dns_names))

    def extra_vars(self, pebble, **overrides):
        demo = {
            'renew_web_hosts': ':'.join(self.hosts),
            'renew_acme_host': 'localhost',
            'renew_become': False,
            'renew_certificates': self.certs,
            'acme_certificates_directory': pebble.directory,
            'acme_certificates_ca_bundle': pebble.ca_bundle,
            'acme_certificates_store': self.store,
            'acme_certificates_account_key_src': os.path.join(self.dir, 'account.key'),
            'acme_certificates_terms_agreed': True,
            'acme_certificates_webroot_var': 'sandbox_webroot',
            'nginx_webroot_path': '{{ sandbox_webroot }}',
            'nginx_webroot_snippet': False,
            'nginx_webroot_http_port': '{{ sandbox_http_port }}',
            'nginx_webroot_https_port': '{{ sandbox_https_port }}',
            'nginx_webroot_listen_address': '{{ sandbox_address }}',
            'nginx_webroot_server_names': ['*.' + self.zone],
            'nginx_webroot_conf_dir': '{{ sandbox_nginx_conf_dir }}',
            'nginx_webroot_http_conf_name': 'certpilot-%s-http.conf' % self.tag,
            'nginx_webroot_binary': '{{ sandbox_nginx_binary }}',
            'nginx_webroot_conf': '{{ sandbox_nginx_conf }}',
            'nginx_webroot_reload_command': '{{ sandbox_nginx_binary }} -c {{ sandbox_nginx_conf }} -s reload',
            'cert_push_store': self.store,
            'cert_push_dest_dir': '{{ sandbox_cert_dir }}',
            'cert_push_nginx_binary': '{{ sandbox_nginx_binary }}',
            'cert_push_nginx_conf': '{{ sandbox_nginx_conf }}',
            'cert_push_nginx_conf_dir': '{{ sandbox_nginx_conf_dir }}',
            'cert_push_reload_command': '{{ sandbox_nginx_binary }} -c {{ sandbox_nginx_conf }} -s reload',
            'cert_push_vhost': True,
            'cert_push_https_port': '{{ sandbox_https_port }}',
            'cert_push_listen_address': '{{ sandbox_address }}',
            'cert_push_verify_address': '{{ sandbox_address }}',
        }
        demo.update(overrides)
        return demo

    def store_fingerprints(self):
        return dict((c['name'], leaf_fingerprint_file(os.path.join(self.store, c['name'], 'fullchain.pem')))
                    for c in self.certs)

    def cleanup(self):
        for host in self.hosts:
            info = self.sandbox['hosts'][host]
            for cert in self.certs:
                path = os.path.join(info['nginx_conf_dir'], 'certpilot-%s.conf' % cert['name'])
                if os.path.lexists(path):
                    os.unlink(path)
                shutil.rmtree(os.path.join(info['cert_dir'], cert['name']), ignore_errors=True)
            http = os.path.join(info['nginx_conf_dir'], 'certpilot-%s-http.conf' % self.tag)
            if os.path.lexists(http):
                os.unlink(http)
            subprocess.run([info['nginx_binary'], '-c', info['nginx_conf'], '-s', 'reload'], check=False,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
            challenge_dir = os.path.join(info['webroot'], '.well-known', 'acme-challenge')
            if os.path.isdir(challenge_dir):
                left = len([f for f in os.listdir(challenge_dir) if f != 'sandbox-probe'])
                if left:
                    log('%s: %d files in the challenge directory after the runs (other users or left over)'
                        % (host, left))
        if self.dns_names:
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                list(pool.map(self.dns.clear_a, self.dns_names))


def leaf_fingerprint_file(path):
    with open(path) as handle:
        pem = handle.read()
    end = '-----END CERTIFICATE-----'
    first = pem[:pem.index(end) + len(end)] + '\n'
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest()


def served_fingerprint(address, port, server_name):
    return hashlib.sha256(helpers.tls_peer_cert(address, port, server_name)).hexdigest()


def check_deployed(sc, sample=5):
    """Every host has the store's fullchain for every certificate; a sample of names is really served."""
    problems = []
    store = {}
    for cert in sc.certs:
        with open(os.path.join(sc.store, cert['name'], 'fullchain.pem'), 'rb') as handle:
            store[cert['name']] = handle.read()
    for host in sc.hosts:
        info = sc.sandbox['hosts'][host]
        for cert in sc.certs:
            path = os.path.join(info['cert_dir'], cert['name'], 'fullchain.pem')
            try:
                with open(path, 'rb') as handle:
                    if handle.read() != store[cert['name']]:
                        problems.append('%s: %s differs from the store' % (host, cert['name']))
            except (IOError, OSError) as exc:
                problems.append('%s: %s: %s' % (host, cert['name'], exc))
            key = os.path.join(info['cert_dir'], cert['name'], 'privkey.pem')
            if os.path.exists(key) and os.stat(key).st_mode & 0o077:
                problems.append('%s: %s key is readable by others' % (host, cert['name']))
        step = max(1, len(sc.certs) // sample)
        for cert in sc.certs[::step][:sample]:
            want = leaf_fingerprint_file(os.path.join(sc.store, cert['name'], 'fullchain.pem'))
            try:
                got = served_fingerprint(info['address'], info['https_port'], cert['domains'][0])
            except (OSError, ssl.SSLError) as exc:
                problems.append('%s: handshake for %s failed: %s' % (host, cert['domains'][0], exc))
                continue
            if got != want:
                problems.append('%s serves another certificate for %s' % (host, cert['domains'][0]))
    return problems


def write_inventory(sandbox, workdir, profile_dir=None):
    """A copy of the sandbox inventory; with ``profile_dir`` every host's Python is the profiling wrapper."""
    with open(sandbox['inventory']) as handle:
        inventory = yaml.safe_load(handle)
    if profile_dir:
        wrappers = {}

        def patch(hosts):
            for hostvars in (hosts or {}).values():
                real = hostvars.get('ansible_python_interpreter')
                if not real:
                    continue
                if real not in wrappers:
                    wrappers[real] = benchlib.write_profiling_interpreter(workdir, real, profile_dir,
                                                                          str(len(wrappers)))
                hostvars['ansible_python_interpreter'] = wrappers[real]

        def walk(group):
            patch(group.get('hosts'))
            for child in (group.get('children') or {}).values():
                walk(child or {})
        walk(inventory['all'])
    path = os.path.join(workdir, 'inventory-profiled.yml' if profile_dir else 'inventory.yml')
    with open(path, 'w') as handle:
        yaml.safe_dump(inventory, handle)
    return path


def ansible_env(sandbox):
    env = dict(os.environ)
    for name in ('ANSIBLE_CALLBACKS_ENABLED', 'ANSIBLE_STDOUT_CALLBACK', 'PYTHONPATH'):
        env.pop(name, None)
    env.update({'ANSIBLE_CONFIG': sandbox['ansible_cfg'], 'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS,
                'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0', 'ANSIBLE_RETRY_FILES_ENABLED': '0',
                'ANSIBLE_DEPRECATION_WARNINGS': 'False'})
    return env


def run_renew(sandbox, inventory, extra_vars, workdir, label, pebble, timeout):
    vars_path = os.path.join(workdir, '%s-vars.json' % label)
    with open(vars_path, 'w') as handle:
        json.dump(extra_vars, handle)
    timing_path = os.path.join(workdir, '%s-timing.json' % label)
    env = benchlib.timing_env(ansible_env(sandbox), timing_path)
    cmd = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inventory, PLAYBOOK, '-e', '@' + vars_path]
    requests_before = pebble.request_count()
    pebble_cpu_before = benchlib.proc_cpu_seconds(pebble.pid) if pebble.pid else None
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sample_before = benchlib.MachineSample()
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, universal_newlines=True,
                              timeout=timeout, check=False)
        output, rc = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as exc:
        output, rc = (exc.stdout or b'').decode('utf-8', 'replace') if isinstance(exc.stdout, bytes) else (
            exc.stdout or ''), 'timeout after %ds' % timeout
    elapsed = time.monotonic() - started
    sample_after = benchlib.MachineSample()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    time.sleep(0.3)  # pebble writes its log lines asynchronously
    requests = pebble.request_count() - requests_before
    pebble_cpu_after = benchlib.proc_cpu_seconds(pebble.pid) if pebble.pid else None
    log_path = os.path.join(workdir, '%s.log' % label)
    with open(log_path, 'w') as handle:
        handle.write(output)
    timing = benchlib.read_timing(timing_path) if os.path.exists(timing_path) else {}
    entry = {
        'command': ' '.join(cmd), 'rc': rc, 'seconds': round(elapsed, 2), 'requests': requests,
        'load': benchlib.load_between(sample_before, sample_after),
        'cpu_seconds_ansible_and_local_modules': round(
            (children_after.ru_utime - children_before.ru_utime) + (children_after.ru_stime - children_before.ru_stime), 2),
        'cpu_seconds_pebble': round(pebble_cpu_after - pebble_cpu_before, 2)
        if pebble_cpu_before is not None and pebble_cpu_after is not None else None,
        'stats': timing.get('stats', {}), 'log': log_path,
        'tasks': benchlib.task_breakdown(timing) if timing else [],
    }
    if rc != 0:
        entry['output_tail'] = output[-4000:]
    return entry, timing


def measure_size(args, sandbox, dns, pebble, workdir, inventory, count, earlier):
    sc = Scenario(sandbox, dns, workdir, count, WEB[:args.hosts])
    log('%d certificates (tag %s) to %s' % (count, sc.tag, ', '.join(sc.hosts)))
    result = {'count': count, 'tag': sc.tag, 'hosts': sc.hosts, 'runs': {}, 'problems': []}
    timeout = max(600, 2 * count)
    before = None
    try:
        for phase in PHASES:
            overrides = {'acme_certificates_force': True} if phase == 'force' else {}
            if phase == 'force':
                before = sc.store_fingerprints()
            log('  %s ...' % PHASE_TITLES[phase])
            entry, _timing = run_renew(sandbox, inventory, sc.extra_vars(pebble, **overrides), sc.dir,
                                       '%d-%s' % (count, phase), pebble, timeout)
            entry['seconds_per_cert'] = round(entry['seconds'] / count, 4)
            entry['requests_per_cert'] = round(entry['requests'] / float(count), 2)
            result['runs'][phase] = entry
            log('  %s: rc=%s %.1fs (%.3f s/cert), %d requests (%.1f/cert), load %s -> %s, machine busy %.0f%%' % (
                phase, entry['rc'], entry['seconds'], entry['seconds_per_cert'], entry['requests'],
                entry['requests_per_cert'], entry['load']['loadavg_1m_before'], entry['load']['loadavg_1m_after'],
                entry['load']['machine_cpu_busy_percent']))
            for task in entry['tasks'][:5]:
                log('      %7.2fs  %s [%s]' % (task['seconds'], task['name'], task['action']))
            if entry['rc'] != 0:
                result['problems'].append('%s run failed (rc=%s), log %s' % (phase, entry['rc'], entry['log']))
                log('  FAILED, tail of the output:\n%s' % entry.get('output_tail', '')[-2500:])
                break
            problems = check_deployed(sc)
            if phase == 'noop':
                changed = dict((h, s.get('changed', 0)) for h, s in entry['stats'].items() if s.get('changed'))
                if changed:
                    problems.append('the no-op run changed tasks: %s' % changed)
            if phase == 'force':
                after = sc.store_fingerprints()
                same = [n for n in after if after[n] == before[n]]
                if same:
                    problems.append('forced renewal left %d certificates unchanged (e.g. %s)' % (len(same), same[0]))
            entry['checks'] = problems or 'ok'
            result['problems'].extend('%s: %s' % (phase, p) for p in problems)
            if problems:
                log('  CHECK FAILED: %s' % '; '.join(problems[:5]))
        missed = any(met is False for _g, _m, met in goals(earlier + [result]))
        if count == args.profile_size and (args.profile == 'always' or (args.profile == 'auto' and missed)) \
                and result['runs'].get('first', {}).get('rc') == 0:
            log('  profiling (%s)' % ('a goal is missed' if missed else '--profile always'))
            result['profile'] = profile_size(args, sandbox, sc, pebble, workdir)
    finally:
        if not args.keep:
            sc.cleanup()
    return result


def profile_size(args, sandbox, sc, pebble, workdir):
    """Forced renewal and no-op again with every module process sampled (profsite); summary per module."""
    out = {}
    for phase in ('force', 'noop'):
        profile_dir = os.path.join(sc.dir, 'profile-%s' % phase)
        os.makedirs(profile_dir)
        inventory = write_inventory(sandbox, sc.dir, profile_dir)
        overrides = {'acme_certificates_force': True} if phase == 'force' else {}
        log('  profiling %s (%d certificates, every module process sampled) ...' % (phase, sc.count))
        entry, _timing = run_renew(sandbox, inventory, sc.extra_vars(pebble, **overrides), sc.dir,
                                   '%d-%s-profiled' % (sc.count, phase), pebble, max(900, 3 * sc.count))
        modules = benchlib.summarise_profiles(profile_dir)
        # Ansible overhead per module = time of its tasks - time of its module processes
        # (processes of one task run in parallel on its hosts: divide by the hosts per task)
        task_seconds, task_runs = {}, {}
        for task in entry['tasks']:
            short = task['action'].rsplit('.', 1)[-1]
            task_seconds[short] = task_seconds.get(short, 0.0) + task['seconds']
            task_runs[short] = task_runs.get(short, 0) + (task['count'] if task['hosts'] else 0)
        for name, mod in modules.items():
            if name in task_seconds:
                mod['task_seconds'] = round(task_seconds[name], 3)
                parallel = max(1.0, mod['processes'] / float(max(1, task_runs[name])))
                mod['module_wall_per_task_seconds'] = round(mod['wall_seconds'] / parallel, 3)
                mod['ansible_overhead_seconds'] = round(task_seconds[name] - mod['wall_seconds'] / parallel, 3)
        out[phase] = {'seconds': entry['seconds'], 'rc': entry['rc'], 'tasks': entry['tasks'][:12],
                      'load': entry['load'], 'modules': modules, 'profile_dir': profile_dir}
        log('  profiled %s: rc=%s %.1fs; module processes: %s' % (phase, entry['rc'], entry['seconds'], ', '.join(
            '%s %d x %.1fs wall %.1fs cpu' % (k, v['processes'], v['wall_seconds'], v['cpu_seconds'])
            for k, v in sorted(modules.items(), key=lambda kv: -kv[1]['wall_seconds'])[:6])))
    return out


FLOOR_PLAYBOOK = """
- name: Floor of one task (ping) on the web hosts and the ACME host
  hosts: "{{ floor_hosts }}"
  gather_facts: false
  tasks:
%s
"""


# Tasks that run no module (the controller evaluates them): they cost far less than a module round trip and
# are left out of the floor, which is then a lower bound for them.
NO_MODULE_ACTIONS = ('set_fact', 'assert', 'debug', 'fail', 'meta', 'include_role', 'import_role', 'include_tasks',
                     'import_tasks', 'include_vars', 'add_host', 'group_by', 'set_stats')


def runs_a_module(action):
    return action.rsplit('.', 1)[-1] not in NO_MODULE_ACTIONS


def measure_floors(sandbox, inventory, workdir, hosts, tasks=10):
    """The floor twice: a module task on the web hosts and the controller (SSH), and one on the controller only."""
    out = {'remote': measure_floor(sandbox, inventory, workdir, hosts, tasks)}
    if 'error' not in out['remote']:
        out['local'] = measure_floor(sandbox, inventory, workdir, 'localhost', tasks)
    errors = [f['error'] for f in out.values() if 'error' in f]
    if errors:
        return {'error': '; '.join(errors)}
    return out


def floor_of(run, floors):
    """(module tasks on web hosts, module tasks on the controller only, floor seconds) of one renew run."""
    remote = sum(t['count'] for t in run['tasks'] if t['hosts'] > 0 and runs_a_module(t['action']) and t.get('remote'))
    local = sum(t['count'] for t in run['tasks'] if t['hosts'] > 0 and runs_a_module(t['action']) and not t.get('remote'))
    seconds = (floors['remote']['startup_seconds'] + remote * floors['remote']['per_task_seconds'] +
               local * floors['local']['per_task_seconds'])
    return remote, local, seconds


def measure_floor(sandbox, inventory, workdir, hosts, tasks=10):
    """Ansible's own cost on this machine: ansible-playbook with 1 and with 1+tasks ping tasks on ``hosts``."""
    out = {'hosts': hosts}
    env = ansible_env(sandbox)
    times = {}
    for count in (1, 1 + tasks):
        path = os.path.join(workdir, 'floor-%d-%s.yml' % (count, 'local' if hosts == 'localhost' else 'remote'))
        with open(path, 'w') as handle:
            body = '\n'.join('    - name: ping %d\n      ansible.builtin.ping:' % i for i in range(count))
            handle.write(FLOOR_PLAYBOOK % body)
        cmd = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', inventory, path, '-e', 'floor_hosts=%s' % hosts]
        before = benchlib.MachineSample()
        started = time.monotonic()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, universal_newlines=True,
                              timeout=600, check=False)
        times[count] = time.monotonic() - started
        if proc.returncode != 0:
            return {'error': 'floor playbook failed (rc=%d): %s' % (proc.returncode, proc.stdout[-1000:])}
        out['load_%d_tasks' % count] = benchlib.load_between(before, benchlib.MachineSample())
    per_task = (times[1 + tasks] - times[1]) / tasks
    out.update({'playbook_1_task_seconds': round(times[1], 2),
                'playbook_%d_tasks_seconds' % (1 + tasks): round(times[1 + tasks], 2),
                'per_task_seconds': round(per_task, 3), 'startup_seconds': round(times[1] - per_task, 2)})
    return out


def goals(results):
    """[(goal, measured, met)] for the figures issue 15 asks for."""
    rows = []
    by_count = dict((r['count'], r) for r in results)
    for (phase, count), limit in sorted(GOALS.items()):
        run = by_count.get(count, {}).get('runs', {}).get(phase)
        if run and run.get('rc') == 0:
            rows.append(('%d certificates, %s < %.0f s' % (count, PHASE_TITLES[phase], limit),
                         '%.1f s' % run['seconds'], run['seconds'] < limit))
        else:
            rows.append(('%d certificates, %s < %.0f s' % (count, PHASE_TITLES[phase], limit), 'not measured', None))
    ok = [r for r in results if r['runs'].get('first', {}).get('rc') == 0]
    if len(ok) >= 2:
        low, high = min(ok, key=lambda r: r['count']), max(ok, key=lambda r: r['count'])
        for phase in ('first', 'force'):
            a, b = low['runs'].get(phase), high['runs'].get(phase)
            if a and b and a.get('rc') == 0 and b.get('rc') == 0:
                # growth only: a lower cost per certificate at the larger size (fixed costs spread) meets the goal
                ratio = b['seconds_per_cert'] / max(1e-9, a['seconds_per_cert'])
                marginal = (b['seconds'] - a['seconds']) / float(high['count'] - low['count'])
                rows.append(('per-certificate cost of the %s flat from %d to %d (at most %.1fx)' % (
                    PHASE_TITLES[phase], low['count'], high['count'], FLAT_FACTOR),
                    '%.3f -> %.3f s/cert (%.2fx; marginal %.3f s/cert; loads %.0f and %.0f)' % (
                        a['seconds_per_cert'], b['seconds_per_cert'], ratio, marginal,
                        a['load']['loadavg_1m_after'], b['load']['loadavg_1m_after']),
                    ratio <= FLAT_FACTOR))
    return rows


def _na(value):
    return 'n/a' if value is None else value


def write_results(args, results, pebble, versions, started, load_start, load_end, floor=None):
    out_md = os.path.abspath(args.out)
    out_json = os.path.splitext(out_md)[0] + '.json'
    os.makedirs(os.path.dirname(out_md), exist_ok=True)
    goal_rows = goals(results)
    doc = {
        'date': started, 'sizes': [r['count'] for r in results], 'hosts': list(WEB[:args.hosts]),
        'pebble': 'sandbox (shared)' if pebble.shared else 'dedicated, sandbox config',
        'nonce_reject_percent': pebble.nonce_reject, 'machine': benchlib.machine_info(), 'versions': versions,
        'load_whole_benchmark': benchlib.load_between(load_start, load_end),
        'goals': [{'goal': g, 'measured': m, 'met': met} for g, m, met in goal_rows],
        'results': results, 'floor': floor,
        'reproduce': ['make sandbox-up', '.venv/bin/python tests/bench/bench_renew.py --out %s --sizes %s' % (
            os.path.relpath(out_md, REPO), args.sizes)],
        'method': ('wall time of each `ansible-playbook certpilot.tls.renew` process against the sandbox inventory; '
                   'requests counted from pebble\'s per-request log lines; per-task time from the bench_timing '
                   'callback (task start to next task start, like profile_tasks); load from /proc/loadavg and '
                   '/proc/stat around each run'),
    }
    with open(out_json, 'w') as handle:
        json.dump(doc, handle, indent=1, sort_keys=True)
        handle.write('\n')
    lines = ['# Renewal benchmark: the certpilot.tls.renew playbook end to end', '',
             'N certificates (one DNS name each, default key type), issued by pebble (%d%% nonce rejection, %s), '
             'http-01 files on the web hosts, each certificate deployed over real SSH to %s (fullchain, chain, key '
             'and an nginx server block per certificate and host; nginx tested, reloaded once, every name verified '
             'by a TLS handshake). %s, %s; %d CPUs **shared with other work** (see the load columns: a load above '
             '%d means the benchmark did not have the machine to itself).'
             % (pebble.nonce_reject, doc['pebble'], ', '.join(WEB[:args.hosts]), started, versions.get('ansible'),
                os.cpu_count() or 0, os.cpu_count() or 0), '',
             '| certificates | run | wall time | per certificate | requests/cert | CPU s (ansible+local modules / pebble) '
             '| load 1 min before -> after | machine CPU busy | checks |',
             '| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |']
    for res in results:
        for phase in PHASES:
            run = res['runs'].get(phase)
            if not run:
                continue
            lines.append('| %d | %s | %s | %s | %.1f | %s / %s | %.1f -> %.1f | %.0f %% | %s |' % (
                res['count'], PHASE_TITLES[phase], '%.1f s' % run['seconds'] if run['rc'] == 0 else
                'FAILED (rc=%s) after %.1f s' % (run['rc'], run['seconds']),
                '%.3f s' % run['seconds_per_cert'], run['requests_per_cert'],
                _na(run['cpu_seconds_ansible_and_local_modules']), _na(run['cpu_seconds_pebble']),
                run['load']['loadavg_1m_before'], run['load']['loadavg_1m_after'],
                run['load']['machine_cpu_busy_percent'],
                'ok' if run.get('checks') == 'ok' else ('; '.join(run.get('checks') or ['not checked'])[:200])))
    lines += ['', '## Goals (issue 15)', '', '| goal | measured | met |', '| --- | --- | --- |']
    for goal, measured, met in goal_rows:
        lines.append('| %s | %s | %s |' % (goal, measured, {True: 'yes', False: '**NO**', None: 'n/a'}[met]))
    problems = ['%d: %s' % (r['count'], p) for r in results for p in r['problems']]
    if problems:
        lines += ['', '**Problems**: ' + '; '.join(problems)]
    if floor and 'remote' in floor:
        remote, local = floor['remote'], floor['local']
        lines += ['', '## Floor: Ansible\'s own cost on this machine at this load', '',
                  '`ansible-playbook` with 1 and with 11 `ansible.builtin.ping` tasks (same inventory, SSH settings '
                  'and load): on %s, start-up %.2f s and **%.2f s per task** (one task on all these hosts in '
                  'parallel, over SSH); on the controller alone, **%.2f s per task**; load %.1f -> %.1f. '
                  'A renew run executes the module tasks counted below (tasks that run no module, such as '
                  '`set_fact` and `assert`, are left out): start-up + tasks x per-task cost is the part of its time '
                  'no module change can remove, a lower bound.' % (
                      remote['hosts'], remote['startup_seconds'], remote['per_task_seconds'],
                      local['per_task_seconds'], remote['load_1_tasks']['loadavg_1m_before'],
                      local['load_11_tasks']['loadavg_1m_after'])]
        for res in results:
            for phase in PHASES:
                run = res['runs'].get(phase)
                if run and run.get('tasks'):
                    on_hosts, on_controller, seconds = floor_of(run, floor)
                    lines.append('- %d certificates, %s: %d module tasks on the web hosts, %d on the controller '
                                 'only -> floor about %.1f s of %.1f s' % (
                                     res['count'], PHASE_TITLES[phase], on_hosts, on_controller, seconds,
                                     run['seconds']))
    elif floor:
        lines += ['', 'Floor measurement failed: %s' % floor.get('error')]
    lines += ['', '## Where the time goes (per task, largest first)', '']
    for res in results:
        for phase in PHASES:
            run = res['runs'].get(phase)
            if not run or not run['tasks']:
                continue
            lines.append('%d certificates, %s (%.1f s):' % (res['count'], PHASE_TITLES[phase], run['seconds']))
            lines.append('')
            lines.append('| task | module | hosts | s |')
            lines.append('| --- | --- | ---: | ---: |')
            for task in run['tasks'][:args.top_tasks]:
                lines.append('| %s | %s | %d | %.2f |' % (task['name'].replace('|', '/'), task['action'],
                                                          task['hosts'], task['seconds']))
            rest = sum(t['seconds'] for t in run['tasks'][args.top_tasks:])
            lines.append('| (%d other tasks) | | | %.2f |' % (max(0, len(run['tasks']) - args.top_tasks), rest))
            lines.append('| ansible-playbook start-up and end (wall - sum of tasks) | | | %.2f |' % (
                run['seconds'] - sum(t['seconds'] for t in run['tasks'])))
            lines.append('')
    for res in results:
        if not res.get('profile'):
            continue
        lines += ['## Profile (%d certificates, every module process sampled, all threads)' % res['count'], '',
                  'Every module process (on localhost and on the web hosts) ran under tests/bench/profsite (a '
                  'wall-clock sampler of all threads every 5 ms; cProfile cannot profile thread pools on Python 3.12). '
                  'Figures are thread-seconds: N threads blocked for 1 s count N s. "waiting" is a thread blocked in '
                  'a sleep, lock, pool join or poll; "TLS" includes waiting for pebble\'s or nginx\'s answer inside '
                  'ssl reads. Ansible overhead of a module = time of its tasks - wall time of its module processes (those of '
                  'one task run in parallel on its hosts, so the sum is divided by the hosts per task) '
                  '(templating, AnsiballZ build and transfer over SSH, forks, result processing). Categories are '
                  'shares of the sampled thread time.', '']
        for phase, prof in res['profile'].items():
            lines += ['### %s (profiled run %.1f s, rc=%s)' % (PHASE_TITLES[phase], prof['seconds'], prof['rc']), '',
                      '| module | processes | task s | module wall s (sum / per task) | module CPU s | Ansible overhead s | '
                      'top categories (share of sampled thread time) |', '| --- | ---: | ---: | ---: | ---: | ---: | --- |']
            mods = sorted(prof['modules'].items(), key=lambda kv: -kv[1]['wall_seconds'])
            for name, mod in mods:
                task_s = mod.get('task_seconds')
                lines.append('| %s | %d | %s | %.2f / %s | %.2f | %s | %s |' % (
                    name, mod['processes'], '%.2f' % task_s if task_s is not None else '-', mod['wall_seconds'],
                    '%.2f' % mod['module_wall_per_task_seconds'] if task_s is not None else '-',
                    mod['cpu_seconds'], '%.2f' % mod['ansible_overhead_seconds'] if task_s is not None else '-',
                    ', '.join('%s %.0f%%' % (c['category'], c['percent']) for c in mod['categories'][:4])))
            lines.append('')
            for name, mod in mods[:3]:
                lines.append('Where the threads of %s were (innermost frame, thread-seconds over %d process(es), up to '
                             '%d threads):' % (name, mod['processes'], mod['max_threads']))
                lines.append('')
                lines.append('| innermost frame | thread-s | category |')
                lines.append('| --- | ---: | --- |')
                for row in mod['top'][:10]:
                    where = row['where'].replace('|', '/').replace('`', "'")[:160]
                    lines.append('| `%s` | %.2f | %s |' % (where, row['thread_seconds'], row['category']))
                if mod['top_inclusive_certpilot']:
                    lines.append('')
                    lines.append('Our functions on the stack (inclusive thread-s): ' + ', '.join(
                        '`%s` %.2f' % (r['function'], r['thread_seconds']) for r in mod['top_inclusive_certpilot'][:6]))
                lines.append('')
    lines += ['## Method', '',
              '- One `ansible-playbook certpilot.tls.renew` process per run (start-up included), inventory = the '
              'sandbox inventory, `renew_web_hosts: %s`, become off; the same group vars as '
              'tests/integration/test_roles_renew.py (webroot, nginx paths, vhost on, verify on).' % ':'.join(
                  WEB[:args.hosts]),
              '- Requests: %s.' % ('log delta of the shared sandbox pebble (may include other traffic)' if pebble.shared
                                   else 'lines `<METHOD> <path> -> calling handler()` of a dedicated pebble (same '
                                   'binary, config, certificate, DNS server and nonce reject rate as the sandbox one)'),
              '- Per-task time: tests/bench/callback_plugins/bench_timing.py (task start to the next task start).',
              '- CPU: children rusage of the benchmark process (ansible-playbook, its forks and the modules run on '
              'localhost; the modules on the web hosts run under their sshd and are not included) and '
              '/proc/<pid>/stat of pebble. Load: 1-minute load average before/after and the busy share of all CPUs '
              'from /proc/stat during the run (includes other users of the machine).',
              '- Checks after each run: every host\'s fullchain.pem equals the store\'s, keys not readable by others, '
              'a sample of names served with the store\'s certificate (TLS handshake), no-op changed=0, forced '
              'renewal replaced every certificate.',
              '- Versions: %s.' % ', '.join('%s `%s`' % kv for kv in sorted(versions.items())), '',
              '## Reproduce', '', '```'] + doc['reproduce'] + ['```', '']
    with open(out_md, 'w') as handle:
        handle.write('\n'.join(lines))
    log('wrote %s and %s' % (out_md, out_json))


def free_port_pair(start):
    for port in range(start, start + 200, 2):
        try:
            for p in (port, port + 1):
                with socket.socket() as sock:
                    sock.bind(('127.0.0.1', p))
            return port
        except OSError:
            continue
    raise SystemExit('no free port pair for the benchmark pebble near %d' % start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default=os.path.join(HERE, 'results', 'renew.md'))
    parser.add_argument('--sizes', default='50,500', help='comma-separated certificate counts (e.g. 50,500,5000)')
    parser.add_argument('--hosts', type=int, default=3, choices=(1, 2, 3), help='web hosts per certificate')
    parser.add_argument('--sandbox-pebble', action='store_true', help='use the shared sandbox pebble (noisy counts)')
    parser.add_argument('--profile', choices=('auto', 'always', 'never'), default='auto',
                        help='profile the largest size: auto = only when a goal is missed there')
    parser.add_argument('--top-tasks', type=int, default=8)
    parser.add_argument('--no-floor', action='store_true', help='skip the ping-playbook floor measurement')
    parser.add_argument('--keep', action='store_true', help='keep the work directory and the deployed files')
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(',') if s.strip()]
    sandbox_json = os.environ.get('CERTPILOT_SANDBOX_JSON') or os.path.join(
        os.environ.get('CERTPILOT_SANDBOX_DIR') or os.path.join(REPO, '.sandbox'), 'sandbox.json')
    with open(sandbox_json) as handle:
        sandbox = json.load(handle)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    except (ValueError, OSError):
        pass
    workdir = tempfile.mkdtemp(prefix='bench-renew-')
    log('work directory %s, sandbox %s' % (workdir, sandbox['dir']))
    sandbox_port = int(sandbox['acme']['directory'].split(':')[2].split('/')[0])
    port = None if args.sandbox_pebble else free_port_pair(sandbox_port + 70)
    pebble = Pebble(sandbox, workdir, use_sandbox=args.sandbox_pebble, port=port or 0)
    pebble.start()
    pebble.pid = pebble.proc.pid if pebble.proc is not None else None
    log('pebble %s (%s)' % (pebble.directory, 'sandbox' if pebble.shared else 'dedicated'))
    versions = {'ansible': benchlib.tool_version([os.path.join(VENV_BIN, 'ansible'), '--version']),
                'pebble': benchlib.tool_version(['dpkg-query', '-W', 'pebble']),
                'nginx': benchlib.tool_version(['/usr/sbin/nginx', '-v']),
                'openssh': benchlib.tool_version(['ssh', '-V'])}
    try:
        versions['certpilot.tls'] = yaml.safe_load(open(os.path.join(REPO, 'galaxy.yml')))['version']
        versions['git'] = subprocess.run(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'], stdout=subprocess.PIPE,
                                         universal_newlines=True, check=False).stdout.strip() + ' (+ working tree)'
    except (IOError, OSError, KeyError, TypeError):
        pass
    started = benchlib.utc_now()
    load_start = benchlib.MachineSample()
    dns = helpers.SandboxDNS(sandbox)
    inventory = write_inventory(sandbox, workdir)
    args.profile_size = None if args.profile == 'never' else max(sizes)
    results = []
    floor = None
    try:
        if not args.no_floor:
            log('floor: ansible-playbook with 1 and 11 ping tasks on %s ...' % ':'.join(WEB[:args.hosts] + ('localhost',)))
            floor = measure_floors(sandbox, inventory, workdir, ':'.join(WEB[:args.hosts] + ('localhost',)))
            log('floor: %s' % json.dumps(floor))
        for count in sizes:
            results.append(measure_size(args, sandbox, dns, pebble, workdir, inventory, count, results))
            # written after every size, so a long run that is stopped still leaves its figures
            write_results(args, results, pebble, versions, started, load_start, benchlib.MachineSample(), floor)
    finally:
        pebble.stop()
    load_end = benchlib.MachineSample()
    write_results(args, results, pebble, versions, started, load_start, load_end, floor)
    failed = [p for r in results for p in r['problems']]
    if failed:
        log('PROBLEMS (work directory kept: %s): %s' % (workdir, '; '.join(failed)))
        return 1
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

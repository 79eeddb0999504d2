#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: certpilot.tls.tls_expiry_facts vs community.crypto.get_certificate in a loop.

Usage:
    .venv/bin/python tests/bench/bench_tls.py --out tests/bench/results/tls.md
        [--sizes 500,5000] [--crypto-count 100] [--repeat 3]

What is measured (all against the same private nginx TLS farm, tests/integration/tls_farm.py,
SNI names on one 127.43.1.1 port):

* ours: one ``ansible-playbook`` run with ONE ``tls_expiry_facts`` task over N endpoints
  (default options: concurrency 64, timeout 5 s). Wall time of the whole ansible-playbook
  process (start-up included, so it over-states the task time); the task time as
  reported by the module's own per-task duration in the JSON callback is given too.
* community.crypto: ``community.crypto.get_certificate`` in a loop over ``--crypto-count``
  endpoints from /work/main/.venv-bench (PyPI ``ansible``), same playbook shape; the time for
  500 is extrapolated linearly from that count when it is smaller, and labelled so.
* peak memory of the module process: the module file run directly by the venv Python with the
  same arguments (``python tls_expiry_facts.py args.json``, which is what the AnsiballZ
  wrapper does after unpacking), under ``/usr/bin/time -v`` (maximum resident set size).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))

from tls_farm import Farm  # noqa: E402  pylint: disable=wrong-import-position

VENV = os.path.join(REPO, '.venv')
BENCH_VENV = os.path.join(REPO, '.venv-bench')
COLLECTIONS = os.path.join(REPO, '.build', 'collections')
MODULE = os.path.join(REPO, 'plugins', 'modules', 'tls_expiry_facts.py')

OURS = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: ours
      certpilot.tls.tls_expiry_facts:
        endpoints: "{{ eps }}"
        ca_bundle: "{{ ca }}"
      register: facts
    - name: summary
      ansible.builtin.copy:
        content: "{{ facts.tls_expiry.summary | combine({'task_result_bytes': facts | to_json | length}) | to_json }}"
        dest: "{{ summary_out }}"
        mode: "0644"
'''

# Large runs, as the AWX guide says: endpoints from a file, the full results to a file, the summary returned.
OURS_SUMMARY = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: ours
      certpilot.tls.tls_expiry_facts:
        endpoints_file: "{{ endpoints_file }}"
        ca_bundle: "{{ ca }}"
        return_results: summary
        results_file: "{{ results_file }}"
        set_facts: false
      register: facts
    - name: summary
      ansible.builtin.copy:
        content: "{{ facts.tls_expiry.summary | combine({'task_result_bytes': facts | to_json | length}) | to_json }}"
        dest: "{{ summary_out }}"
        mode: "0644"
'''

THEIRS = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: theirs
      community.crypto.get_certificate:
        host: "{{ item.address }}"
        port: "{{ item.port }}"
        server_name: "{{ item.host }}"
      loop: "{{ eps }}"
      register: certs
      ignore_errors: true
    - name: summary
      ansible.builtin.copy:
        content: "{{ {'ok': certs.results | rejectattr('failed') | list | length,
                      'failed': certs.results | selectattr('failed') | list | length,
                      'first_error': (certs.results | selectattr('failed') | map(attribute='msg') | first)
                      if (certs.results | selectattr('failed') | list) else None} | to_json }}"
        dest: "{{ summary_out }}"
        mode: "0644"
'''


def run_playbook(venv, text, extra_vars, workdir, label):
    pb = os.path.join(workdir, '%s.yml' % label)
    with open(pb, 'w') as handle:
        handle.write(text)
    ev = os.path.join(workdir, '%s-vars.json' % label)
    summary_out = os.path.join(workdir, '%s-summary.json' % label)
    data = dict(extra_vars, summary_out=summary_out, ansible_python_interpreter=os.path.join(venv, 'bin', 'python'))
    with open(ev, 'w') as handle:
        json.dump(data, handle)
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCALHOST_WARNING='0',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='0', ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    if venv == BENCH_VENV:
        env.pop('ANSIBLE_COLLECTIONS_PATH')  # community.crypto comes bundled with the PyPI 'ansible' package
    env.pop('ANSIBLE_CONFIG', None)
    cmd = [os.path.join(venv, 'bin', 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', pb, '-e', '@' + ev]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError('%s failed (rc=%d):\n%s\n%s' % (label, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    with open(summary_out) as handle:
        summary = json.load(handle)
    return elapsed, summary, ' '.join(cmd)


def module_peak_rss(eps, ca, workdir, summary_mode=False):
    args = os.path.join(workdir, 'module-args.json')
    module_args = {'endpoints': eps, 'ca_bundle': ca}
    if summary_mode:
        module_args = {'endpoints_file': write_endpoints_file(eps, workdir), 'ca_bundle': ca, 'return_results': 'summary',
                       'results_file': os.path.join(workdir, 'direct-results.json'), 'set_facts': False}
    with open(args, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': module_args}, handle)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    cmd = ['/usr/bin/time', '-v', os.path.join(VENV, 'bin', 'python'), MODULE, args]
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.monotonic() - start
    match = re.search(r'Maximum resident set size \(kbytes\): (\d+)', proc.stderr)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError('the module run directly printed no JSON (rc=%s): %s\n%s' % (
            proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:]))
    if result.get('failed'):
        raise RuntimeError('module failed: %s' % result.get('msg'))
    return int(match.group(1)) / 1024.0, elapsed, result['tls_expiry']['summary'], ' '.join(cmd)


def write_endpoints_file(eps, workdir):
    path = os.path.join(workdir, 'endpoints-%d.json' % len(eps))
    with open(path, 'w') as handle:
        json.dump(eps, handle)
    return path


def machine_busy():
    with open('/proc/stat') as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]


def busy_percent(before, after):
    total, idle = after[0] - before[0], after[1] - before[1]
    return round(100.0 * (total - idle) / total, 1) if total else None


def farm_endpoints(farm, count):
    eps = []
    for case in farm.cases:
        entry = case.endpoint()
        entry.setdefault('address', case.address)
        eps.append(entry)
    return eps[:count]


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', default=os.path.join(HERE, 'results', 'tls.md'))
    parser.add_argument('--sizes', default='500,5000')
    parser.add_argument('--crypto-count', type=int, default=100,
                        help='endpoints for the community.crypto loop (extrapolated to 500 when smaller)')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--summary-from', type=int, default=5000,
                        help='sizes from this one up are also run the large-run way: endpoints_file, results_file, '
                             'return_results=summary (sizes above 5,000 only that way)')
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(',')]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    except (ValueError, OSError):
        pass
    workdir = tempfile.mkdtemp(prefix='bench-tls-')
    rows, data = [], {'machine': {'cpus': os.cpu_count(), 'python': platform.python_version(),
                                  'platform': platform.platform()}, 'runs': []}
    build_start = time.monotonic()
    farm = Farm(net=1, filler=max(sizes), with_side_servers=False)
    farm.start()
    data['farm_build_seconds'] = round(time.monotonic() - build_start, 1)
    try:
        for size in sizes:
            eps = farm_endpoints(farm, size)
            assert len(eps) == size, (len(eps), size)
            modes = []
            if size <= 5000:
                modes.append('full')
            if size >= args.summary_from:
                modes.append('summary')
            for mode in modes:
                times, results_bytes = [], []
                load_before, busy_before = os.getloadavg()[0], machine_busy()
                repeat = args.repeat if size <= 5000 else 1
                for _round in range(repeat):
                    if mode == 'full':
                        extra = {'eps': eps, 'ca': farm.ca_bundle}
                        text = OURS
                    else:
                        extra = {'endpoints_file': write_endpoints_file(eps, workdir), 'ca': farm.ca_bundle,
                                 'results_file': os.path.join(workdir, 'results-%d.json' % size)}
                        text = OURS_SUMMARY
                    elapsed, summary, cmd = run_playbook(VENV, text, extra, workdir, 'ours')
                    times.append(elapsed)
                    results_bytes.append(summary.pop('task_result_bytes'))
                    if mode == 'summary':
                        with open(extra['results_file']) as handle:
                            written = json.load(handle)
                        assert len(written['results']) == size, 'the results file must hold every result'
                load_after, busy = os.getloadavg()[0], busy_percent(busy_before, machine_busy())
                rss, direct, direct_summary, rss_cmd = module_peak_rss(eps, farm.ca_bundle, workdir, mode == 'summary')
                run = {'tool': 'certpilot.tls.tls_expiry_facts (one task)', 'endpoints': size, 'mode': mode,
                       'playbook_seconds_median': round(statistics.median(times), 2),
                       'playbook_seconds_all': [round(t, 2) for t in times],
                       'task_result_bytes': max(results_bytes),
                       'module_direct_seconds': round(direct, 2), 'module_peak_rss_mib': round(rss, 1),
                       'summary': summary, 'command': cmd, 'memory_command': rss_cmd,
                       'load_average_1m_before_after': [round(load_before, 2), round(load_after, 2)],
                       'machine_cpu_busy_percent': busy}
                assert direct_summary['total'] == size and summary['total'] == size
                data['runs'].append(run)
                print(json.dumps(run), flush=True)
        if os.path.exists(os.path.join(BENCH_VENV, 'bin', 'ansible-playbook')):
            # Two loop sizes give start-up cost + per-item cost; 500 is extrapolated from that line.
            points = []
            for count in sorted(set([max(20, args.crypto_count // 5), args.crypto_count])):
                eps = farm_endpoints(farm, count)
                load_before = os.getloadavg()[0]
                elapsed, summary, cmd = run_playbook(BENCH_VENV, THEIRS, {'eps': eps}, workdir, 'theirs')
                if summary['failed']:
                    raise RuntimeError('get_certificate failed on %d endpoints: %s' % (summary['failed'], summary['first_error']))
                points.append((count, elapsed))
                run = {'tool': 'community.crypto.get_certificate (loop)', 'endpoints': count,
                       'playbook_seconds_median': round(elapsed, 2), 'playbook_seconds_all': [round(elapsed, 2)],
                       'per_endpoint_seconds': round(elapsed / count, 3), 'summary': summary, 'command': cmd,
                       'load_average_1m_before_after': [round(load_before, 2), round(os.getloadavg()[0], 2)]}
                data['runs'].append(run)
                print(json.dumps(run), flush=True)
            (n1, t1), (n2, t2) = points[0], points[-1]
            per_item = (t2 - t1) / (n2 - n1) if n2 != n1 else t2 / n2
            startup = max(0.0, t2 - per_item * n2)
            data['community_crypto_fit'] = {'startup_seconds': round(startup, 2), 'per_endpoint_seconds': round(per_item, 3),
                                            'points': points,
                                            'extrapolated_500_seconds': round(startup + 500 * per_item, 1)}
        else:
            data['community_crypto'] = 'not measured: %s/bin/ansible-playbook missing (make bench-venv)' % BENCH_VENV
    finally:
        farm.stop()
    write_report(args.out, data, args)
    return 0


def write_report(out, data, args):
    runs = data['runs']
    ours_all = [r for r in runs if r['tool'].startswith('certpilot')]
    ours = dict((r['endpoints'], r) for r in ours_all if r.get('mode', 'full') == 'full')
    large = dict((r['endpoints'], r) for r in ours_all if r.get('mode') == 'summary')
    theirs = [r for r in runs if r['tool'].startswith('community')]
    lines = ['# TLS expiry check benchmark', '',
             'Machine: %(cpus)s CPUs, Python %(python)s, %(platform)s.' % data['machine'],
             'Farm: private nginx (tests/integration/tls_farm.py), SNI names on one 127.43.1.1 port, '
             'built in %ss. The machine is shared: other jobs ran at the same time (see the load column; '
             '2 CPUs, so a load above 2 means the benchmark got less than the whole machine).' % data['farm_build_seconds'], '',
             '| tool | endpoints | results returned | wall time (s) | per endpoint (ms) | module alone (s) '
             '| peak RSS of module process (MiB) | task result (bytes) | load avg (1 min) before/after | machine CPU busy |',
             '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |']
    for r in sorted(ours_all, key=lambda r: (r['endpoints'], r.get('mode', 'full'))):
        lines.append('| %s | %d | %s | %.2f (median of %s, whole ansible-playbook run) | %.2f | %.2f | %.1f | %s | %s | %s |' % (
            r['tool'], r['endpoints'], 'all' if r.get('mode', 'full') == 'full' else 'summary (all in results_file)',
            r['playbook_seconds_median'], r['playbook_seconds_all'],
            1000.0 * r['playbook_seconds_median'] / r['endpoints'], r['module_direct_seconds'], r['module_peak_rss_mib'],
            '{:,}'.format(r['task_result_bytes']) if r.get('task_result_bytes') is not None else 'n/a',
            ' / '.join('%.1f' % v for v in r['load_average_1m_before_after']),
            '%s %%' % r['machine_cpu_busy_percent'] if r.get('machine_cpu_busy_percent') is not None else 'n/a'))
    for r in theirs:
        lines.append('| %s | %d | all | %.2f (measured) | %.1f | n/a | n/a | n/a | %s | n/a |' % (
            r['tool'], r['endpoints'], r['playbook_seconds_median'], 1000.0 * r['per_endpoint_seconds'],
            ' / '.join('%.1f' % v for v in r['load_average_1m_before_after'])))
    fit = data.get('community_crypto_fit')
    if fit:
        lines.append('| community.crypto.get_certificate (loop) | 500 | all | %.1f (**extrapolated**: %.2f s start-up + '
                     '%.0f ms per endpoint, fitted on %s endpoints) | %.1f | n/a | n/a | n/a | - | n/a |' % (
                         fit['extrapolated_500_seconds'], fit['startup_seconds'], 1000 * fit['per_endpoint_seconds'],
                         ' and '.join(str(p[0]) for p in fit['points']), 1000 * fit['per_endpoint_seconds']))
    lines.append('')
    if 500 in ours and fit:
        speedup = fit['extrapolated_500_seconds'] / ours[500]['playbook_seconds_median']
        lines.append('Speed-up at 500 endpoints: **%.0f×** (goal ≥ 30×; ours includes ansible-playbook start-up). '
                     'Ours under 5 s: **%s**.' % (speedup, 'yes' if ours[500]['playbook_seconds_median'] < 5 else 'NO'))
        data['speedup_500'] = round(speedup, 1)
    goals = []
    for size, table, label in ((5000, ours, 'all results returned'), (5000, large, 'large-run way')):
        if size in table:
            goals.append('5,000 endpoints (%s) in %.2f s (goal < 8 s): **%s**.' % (
                label, table[size]['playbook_seconds_median'], 'yes' if table[size]['playbook_seconds_median'] < 8 else 'NO'))
    if 50000 in large:
        r = large[50000]
        goals.append('50,000 endpoints in %.1f s (goal < 90 s): **%s**; peak RSS %.0f MiB (goal < 400 MB): **%s**; '
                     'task result %s bytes (goal < 500,000): **%s**.' % (
                         r['playbook_seconds_median'], 'yes' if r['playbook_seconds_median'] < 90 else 'NO',
                         r['module_peak_rss_mib'], 'yes' if r['module_peak_rss_mib'] * 1.048576 < 400 else 'NO',
                         '{:,}'.format(r['task_result_bytes']), 'yes' if r['task_result_bytes'] < 500000 else 'NO'))
    lines += goals
    lines += ['', 'Statuses found (ours): ' + '; '.join('%d: %s' % (s, json.dumps(
        dict((k, ours[s]['summary'][k]) for k in ('ok', 'warning', 'critical', 'invalid', 'expired', 'error', 'total'))))
        for s in sorted(ours)), '',
        '"module alone" is the module file run directly by Python with the same arguments (no ansible-playbook '
        'start-up, no result transfer): the part of the time that is ours.', '',
        'Method: wall time of the whole `ansible-playbook` process (one task for ours; a loop task for '
        'community.crypto, run without `ca_cert` so expired certificates do not fail it). Peak memory: '
        'the module file run directly with the same arguments under `/usr/bin/time -v` '
        '("Maximum resident set size"); `ansible-playbook` itself is not included. Task result: the length of '
        'the registered result as JSON (`facts | to_json | length`), what ansible-playbook and AWX carry. '
        '"summary (all in results_file)" is the large-run way of docs/awx.md: `endpoints_file`, `results_file` '
        '(every result, checked after the run), `return_results: summary`, `set_facts: false`.', '',
        'Reproduce:', '', '```',
        '.venv/bin/python tests/bench/bench_tls.py --out %s --sizes %s --crypto-count %d --repeat %d --summary-from %d' % (
            os.path.relpath(out, REPO), args.sizes, args.crypto_count, args.repeat, args.summary_from), '```', '',
        'Commands that were timed:', '']
    for r in runs:
        lines.append('- %s (%d): `%s`' % (r['tool'], r['endpoints'], r['command']))
        if r.get('memory_command'):
            lines.append('  - memory: `%s`' % r['memory_command'])
    with open(out, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    with open(os.path.splitext(out)[0] + '.json', 'w') as handle:
        json.dump(data, handle, indent=1)
    print('\n'.join(lines))


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of the benchmarks: machine load, versions, per-task timing, process profiles.

* ``MachineSample`` / ``load_between``: load average and CPU busy time of the whole machine
  (from /proc/stat) around a measurement, so every figure says how busy the shared machine was.
* ``proc_cpu_seconds``: CPU time used so far by one process (e.g. pebble) from /proc/<pid>/stat.
* ``timing_env`` / ``read_timing``: enable tests/bench/callback_plugins/bench_timing.py (per-task
  wall time, like profile_tasks, as JSON).
* ``write_profiling_interpreter`` / ``summarise_profiles``: a wrapper interpreter that runs every
  module process under a sampler of all threads (tests/bench/profsite/sitecustomize.py), and a
  summary of the profiles by module and by category (TLS, HTTP, JSON, crypto, SSH, waiting, ...).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import datetime
import glob
import json
import os
import platform
import re
import stat
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CALLBACK_DIR = os.path.join(HERE, 'callback_plugins')
PROFSITE_DIR = os.path.join(HERE, 'profsite')


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _proc_stat_cpu():
    with open('/proc/stat') as handle:
        fields = handle.readline().split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values[:8]), idle


class MachineSample(object):
    """Load average and cumulative CPU counters at one instant."""

    def __init__(self):
        self.when = time.monotonic()
        self.loadavg = os.getloadavg()
        self.total, self.idle = _proc_stat_cpu()


def load_between(before, after):
    """Load figures of the interval between two samples (for the results files)."""
    ticks = max(1, after.total - before.total)
    busy = 1.0 - (after.idle - before.idle) / float(ticks)
    return {'loadavg_1m_before': round(before.loadavg[0], 2), 'loadavg_1m_after': round(after.loadavg[0], 2),
            'loadavg_5m_before': round(before.loadavg[1], 2),
            'machine_cpu_busy_percent': round(100.0 * busy, 1),
            'machine_busy_cores': round(busy * (os.cpu_count() or 1), 2)}


def proc_cpu_seconds(pid):
    """utime + stime of one process (its threads included), or None when it is gone."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / float(os.sysconf('SC_CLK_TCK'))
    except (IOError, OSError, ValueError, IndexError):
        return None


def machine_info():
    return {'cpus': os.cpu_count(), 'python': platform.python_version(), 'platform': platform.platform()}


def tool_version(argv):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                             timeout=60, check=False).stdout
        return out.splitlines()[0].strip() if out else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def timing_env(env, out_path):
    """``env`` with the bench_timing callback enabled, writing to ``out_path``."""
    env = dict(env)
    env['ANSIBLE_CALLBACK_PLUGINS'] = os.pathsep.join(
        [CALLBACK_DIR] + [p for p in env.get('ANSIBLE_CALLBACK_PLUGINS', '').split(os.pathsep) if p])
    enabled = [c for c in env.get('ANSIBLE_CALLBACKS_ENABLED', '').split(',') if c and c != 'bench_timing']
    env['ANSIBLE_CALLBACKS_ENABLED'] = ','.join(['bench_timing'] + enabled)
    env['BENCH_TIMING_OUT'] = out_path
    return env


def read_timing(path):
    with open(path) as handle:
        return json.load(handle)


def task_breakdown(timing, top=None):
    """Tasks by time (desc), same name+action merged (include_role repeats): [{name, action, seconds, count}]."""
    merged = collections.OrderedDict()
    for task in timing.get('tasks', []):
        key = (task.get('play'), task['name'], task['action'])
        entry = merged.setdefault(key, {'play': task.get('play'), 'name': task['name'], 'action': task['action'],
                                        'seconds': 0.0, 'count': 0, 'hosts': 0, 'remote': False})
        entry['seconds'] += task.get('seconds') or 0.0
        entry['count'] += 1
        ran = [name for name, h in task['hosts'].items() if h.get('status') != 'skipped']
        entry['hosts'] = max(entry['hosts'], len(ran))
        # on a host other than the controller (a delegate_to: localhost task of a web host still counts as remote)
        entry['remote'] = entry['remote'] or any(name not in ('localhost', '127.0.0.1') for name in ran)
    rows = sorted(merged.values(), key=lambda r: -r['seconds'])
    for row in rows:
        row['seconds'] = round(row['seconds'], 3)
    return rows[:top] if top else rows


def write_profiling_interpreter(directory, real_python, profile_dir, name):
    """A /bin/sh wrapper that runs ``real_python`` with tests/bench/profsite first on PYTHONPATH."""
    path = os.path.join(directory, 'python-profiled-%s' % name)
    text = ('#!/bin/sh\n'
            '# benchmark profiling wrapper (tests/bench/benchlib.py)\n'
            'BENCH_PROFILE_DIR=%s\nexport BENCH_PROFILE_DIR\n'
            'PYTHONPATH=%s${PYTHONPATH:+:$PYTHONPATH}\nexport PYTHONPATH\n'
            'exec %s "$@"\n') % (profile_dir, PROFSITE_DIR, real_python)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)
    os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) | 0o111)
    return path


_MODULE_FILE = re.compile(r'/(?:plugins/modules|ansible/modules)/(\w+)\.py$')
_WAIT_TEXT = re.compile(r'(\bsleep\(|\.wait\(|\.acquire\(|\.result\(|\.join\(|\bselect\(|\.poll\(|as_completed\(|'
                        r'\bwait\(|\.get\()')

# (category, test on (file, function, source line of the innermost frame)); first match wins
_CATEGORIES = [
    ('waiting (sleep, locks, thread-pool joins, polls)', lambda f, n, t: f.endswith(('/threading.py', '/selectors.py',
                                                                                     '/queue.py'))
     or '/concurrent/futures/' in f or bool(_WAIT_TEXT.search(t))),
    ('TLS (ssl reads/writes/handshakes, incl. waiting for the peer)', lambda f, n, t: f.endswith('/ssl.py')),
    ('HTTP client (requests, urllib3, http.client)', lambda f, n, t: '/requests/' in f or '/urllib3/' in f
     or f.endswith('/http/client.py') or '/email/' in f),
    ('socket I/O and DNS (plain)', lambda f, n, t: f.endswith('/socket.py')),
    ('JSON', lambda f, n, t: '/json/' in f),
    ('crypto (cryptography, hashlib, base64)', lambda f, n, t: '/cryptography/' in f or f.endswith(
        ('/hashlib.py', '/base64.py', '/hmac.py'))),
    ('SSH (paramiko)', lambda f, n, t: '/paramiko/' in f),
    ('subprocess (nginx -t, reload)', lambda f, n, t: f.endswith('/subprocess.py')),
    ('imports (AnsiballZ payload unzip + compile)', lambda f, n, t: 'importlib' in f or 'zipimport' in f or f.startswith('<frozen')),
    ('file system (os, shutil, tempfile)', lambda f, n, t: f.endswith(('/os.py', '/shutil.py', '/tempfile.py',
                                                                       '/genericpath.py', '/posixpath.py'))),
    ('chain verification (libcrypto via ctypes: d2i_X509, X509_verify_cert)', lambda f, n, t:
     f.endswith('/openssl_verify.py')),
    ('certpilot module_utils and modules', lambda f, n, t: '/certpilot/' in f or '/work/main/plugins/' in f),
    ('Ansible module_utils (AnsibleModule, argument spec)', lambda f, n, t: '/ansible/module_utils/' in f
     or '/ansible/modules/' in f or 'AnsiballZ' in f),
]


def categorise(file_name, func_name, text=''):
    for label, test in _CATEGORIES:
        try:
            if test(file_name, func_name, text or ''):
                return label
        except Exception:  # noqa: BLE001  pylint: disable=broad-except
            continue
    return 'other Python'


def _short(file_name):
    for marker in ('/site-packages/', '/ansible_collections/'):
        if marker in file_name:
            return file_name.split(marker, 1)[1]
    return re.sub(r'^.*/lib/python3\.\d+/', '', file_name)


def summarise_profiles(profile_dir, top=12):
    """Samples of tests/bench/profsite by module: {module: {processes, wall, cpu, categories, top, top_inclusive}}.

    Seconds are thread-seconds: a sample of N busy threads counts N times (a pool of 8 workers blocked on
    TLS reads for 1 s is 8 s of "TLS"), scaled so that one thread sampled all the time = the process wall time.
    """
    per_module = {}
    for path in sorted(glob.glob(os.path.join(profile_dir, '*.json'))):
        try:
            with open(path) as handle:
                doc = json.load(handle)
        except (IOError, OSError, ValueError):
            continue
        module = None
        for file_name, _func, _count in doc.get('inclusive', []):
            found = _MODULE_FILE.search(file_name)
            if found and not file_name.endswith('/__init__.py'):
                module = found.group(1)
                break
        module = module or 'other (%s)' % os.path.basename(doc.get('executable') or 'python')
        entry = per_module.setdefault(module, {'processes': 0, 'wall_seconds': 0.0, 'cpu_seconds': 0.0,
                                               'thread_seconds': 0.0, 'max_threads': 0,
                                               '_leaf': collections.Counter(), '_cat': collections.Counter(),
                                               '_incl': collections.Counter()})
        per_sample = doc['wall_seconds'] / float(max(1, doc.get('samples') or 1))
        entry['processes'] += 1
        entry['wall_seconds'] += doc['wall_seconds']
        entry['cpu_seconds'] += doc['cpu_seconds']
        entry['max_threads'] = max(entry['max_threads'], doc.get('max_threads', 0))
        for file_name, func, line, text, count in doc.get('leaf', []):
            seconds = count * per_sample
            entry['thread_seconds'] += seconds
            entry['_cat'][categorise(file_name, func, text)] += seconds
            entry['_leaf'][('%s:%d(%s) %s' % (_short(file_name), line, func, text)).strip(),
                           categorise(file_name, func, text)] += seconds
        for file_name, func, count in doc.get('inclusive', []):
            if '/certpilot/' in file_name or '/work/main/plugins/' in file_name:
                entry['_incl']['%s(%s)' % (_short(file_name), func)] += count * per_sample
    result = {}
    for module, entry in per_module.items():
        leaf, cats, incl = entry.pop('_leaf'), entry.pop('_cat'), entry.pop('_incl')
        total = entry['thread_seconds']
        for key in ('wall_seconds', 'cpu_seconds', 'thread_seconds'):
            entry[key] = round(entry[key], 3)
        entry['categories'] = [{'category': k, 'seconds': round(v, 3),
                                'percent': round(100.0 * v / total, 1) if total else 0.0} for k, v in cats.most_common()]
        entry['top'] = [{'where': where, 'category': cat, 'thread_seconds': round(v, 3)}
                        for (where, cat), v in leaf.most_common(top)]
        entry['top_inclusive_certpilot'] = [{'function': k, 'thread_seconds': round(v, 3)}
                                            for k, v in incl.most_common(top)]
        result[module] = entry
    return result

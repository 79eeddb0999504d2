# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only: a wall-clock sampling profiler of a whole Python process, every thread.

Active only when BENCH_PROFILE_DIR is set and this directory is on PYTHONPATH (the benchmarks do
that through a wrapper interpreter, see benchlib.write_profiling_interpreter).

Why not cProfile: from Python 3.12 cProfile runs on sys.monitoring, so only one profiler can be
active in a process; a second one in a worker thread raises, the thread dies and the module waits
for it forever (seen with acme_order's thread pool). A per-thread cProfile also misses C calls made
while blocked. Instead a daemon thread samples ``sys._current_frames()`` every BENCH_PROFILE_INTERVAL
seconds (default 0.005) and counts, per thread and sample, the innermost frame (file, function, line
text) and every function on the stack once. At exit it writes BENCH_PROFILE_DIR/<pid>.json:
wall/CPU time of the process, the interval, the sample counts. Nothing of the module's arguments,
variables or results is recorded (only code locations and source lines of our code and libraries).
"""
import os

_DIR = os.environ.get('BENCH_PROFILE_DIR')

if _DIR:
    import atexit
    import collections
    import json
    import linecache
    import resource
    import sys
    import threading
    import time

    _T0 = time.monotonic()
    _INTERVAL = float(os.environ.get('BENCH_PROFILE_INTERVAL', '0.005'))
    _LEAF = collections.Counter()
    _INCLUSIVE = collections.Counter()
    _STATE = {'samples': 0, 'thread_samples': 0, 'max_threads': 0, 'stop': False}

    def _where(frame):
        code = frame.f_code
        return code.co_filename, code.co_name, frame.f_lineno

    def _sampler():
        me = threading.get_ident()
        while not _STATE['stop']:
            time.sleep(_INTERVAL)
            frames = sys._current_frames()  # pylint: disable=protected-access
            _STATE['samples'] += 1
            busy = 0
            for ident, frame in frames.items():
                if ident == me:
                    continue
                busy += 1
                file_name, func, line = _where(frame)
                text = linecache.getline(file_name, line).strip()[:120]
                _LEAF[(file_name, func, line, text)] += 1
                seen = set()
                while frame is not None:
                    key = (frame.f_code.co_filename, frame.f_code.co_name)
                    if key not in seen:
                        seen.add(key)
                        _INCLUSIVE[key] += 1
                    frame = frame.f_back
            _STATE['thread_samples'] += busy
            _STATE['max_threads'] = max(_STATE['max_threads'], busy)

    def _dump():
        _STATE['stop'] = True
        try:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            doc = {'pid': os.getpid(), 'wall_seconds': round(time.monotonic() - _T0, 4),
                   'cpu_seconds': round(usage.ru_utime + usage.ru_stime, 4), 'interval': _INTERVAL,
                   'samples': _STATE['samples'], 'thread_samples': _STATE['thread_samples'],
                   'max_threads': _STATE['max_threads'], 'executable': sys.executable,
                   'leaf': [[f, n, l, t, c] for (f, n, l, t), c in _LEAF.most_common(400)],
                   'inclusive': [[f, n, c] for (f, n), c in _INCLUSIVE.most_common(400)]}
            with open(os.path.join(_DIR, '%d.json' % os.getpid()), 'w') as handle:
                json.dump(doc, handle)
        except Exception:  # noqa: BLE001  pylint: disable=broad-except
            # profiling must never change what the module returns (its JSON is already written)
            pass

    atexit.register(_dump)
    threading.Thread(target=_sampler, name='bench-sampler', daemon=True).start()

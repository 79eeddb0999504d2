#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run every benchmark (tests/bench/bench_*.py) and print the combined results.

Each benchmark writes tests/bench/results/<area>.md and .json; this runner only
orders them, reports failures, and prints the markdown tables for the README.
"""
from __future__ import absolute_import, division, print_function

import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, 'results')


def main():
    os.makedirs(RESULTS, exist_ok=True)
    only = sys.argv[1:]
    failed = []
    for script in sorted(glob.glob(os.path.join(HERE, 'bench_*.py'))):
        area = os.path.basename(script)[len('bench_'):-len('.py')]
        if only and area not in only:
            continue
        out = os.path.join(RESULTS, area + '.md')
        print('==> bench %s' % area, flush=True)
        start = time.monotonic()
        rc = subprocess.call([sys.executable, script, '--out', out])
        print('==> bench %s finished in %.1fs (rc=%d)' % (area, time.monotonic() - start, rc), flush=True)
        if rc != 0:
            failed.append(area)
            continue
        with open(out) as handle:
            print(handle.read())
    if failed:
        print('benchmarks FAILED: %s' % ', '.join(failed))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

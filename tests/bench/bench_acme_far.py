#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: a CA 100 ms away. bench_acme.py with a 100 ms round trip in front of pebble.

50 certificates, ours vs community.crypto through the same relay (tests/bench/latency_proxy.py,
50 ms each way). Goal (issue 15): ours < 6 s and at least 30x faster than theirs.

Usage: .venv/bin/python tests/bench/bench_acme_far.py --out tests/bench/results/acme_far.md
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_acme  # noqa: E402  pylint: disable=wrong-import-position

if __name__ == '__main__':
    defaults = ['--latency-ms', '100', '--count', '50', '--noop-runs', '1']
    sys.argv[1:1] = defaults  # later arguments (from run.py or the user) win
    sys.exit(bench_acme.main())

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only callback: per-task wall time (like profile_tasks) written as JSON.

Enabled by the benchmarks with ANSIBLE_CALLBACK_PLUGINS=tests/bench/callback_plugins and
ANSIBLE_CALLBACKS_ENABLED=bench_timing; BENCH_TIMING_OUT names the JSON file written at the end:
``{"tasks": [{"name", "action", "play", "seconds", "hosts": {host: {"seconds", "status", "changed"}}}],
"stats": {host: {...}}, "playbook_seconds"}``. A task's time runs from its start to the start of
the next task (what profile_tasks reports); a host's time from the task start to that host's result
(the last item of a loop). Nothing of the task arguments or results is recorded (keys never leave
the modules).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = '''
name: bench_timing
type: aggregate
short_description: per-task wall time as JSON (benchmarks only)
description:
  - Writes the wall time of every task and every host result to the file named by C(BENCH_TIMING_OUT).
requirements:
  - enable in configuration
options: {}
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timing'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._start = time.monotonic()
        self._tasks = []
        self._current = None
        self._play = None

    def _close_current(self):
        if self._current is not None:
            self._current['seconds'] = round(time.monotonic() - self._current.pop('_t0'), 3)
            self._current = None

    def v2_playbook_on_play_start(self, play):
        self._close_current()
        self._play = play.get_name()

    def _task_start(self, task):
        self._close_current()
        self._current = {'name': task.get_name(), 'action': task.action, 'play': self._play, 'hosts': {},
                         '_t0': time.monotonic()}
        self._tasks.append(self._current)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start(task)

    def _host_result(self, result, status):
        if self._current is None:
            return
        host = result._host.get_name()
        entry = self._current['hosts'].setdefault(host, {'changed': False})
        entry['seconds'] = round(time.monotonic() - self._current['_t0'], 3)
        entry['status'] = status
        entry['changed'] = entry['changed'] or bool(result._result.get('changed'))
        delegated = result._result.get('_ansible_delegated_vars') or {}
        if delegated.get('ansible_host'):
            entry['delegated_to'] = delegated.get('ansible_delegated_host') or delegated.get('ansible_host')

    def v2_runner_on_ok(self, result):
        self._host_result(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._host_result(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_skipped(self, result):
        self._host_result(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._host_result(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        self._close_current()
        out = os.environ.get('BENCH_TIMING_OUT')
        if not out:
            return
        hosts = sorted(stats.processed.keys())
        doc = {'tasks': self._tasks, 'playbook_seconds': round(time.monotonic() - self._start, 3),
               'stats': dict((h, stats.summarize(h)) for h in hosts)}
        with open(out, 'w') as handle:
            json.dump(doc, handle, indent=1)

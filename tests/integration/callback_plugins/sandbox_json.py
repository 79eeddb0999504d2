# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: dumps the whole run as JSON to $CERTPILOT_JSON_OUT (or stdout).

Used by tests/integration/conftest.py (ansible-core ships no json callback).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = '''
name: sandbox_json
type: aggregate
short_description: write every task result and the play recap as JSON to a file
description:
  - Test-only callback of certpilot.tls integration tests, modelled on C(ansible.posix.json).
  - Writes to the file named by E(CERTPILOT_JSON_OUT), or to stdout when unset.
'''

import datetime
import json
import os

from ansible.plugins.callback import CallbackBase

try:
    from ansible.vars.clean import module_response_deepcopy, strip_internal_keys
except ImportError:  # pragma: no cover
    module_response_deepcopy = None
    strip_internal_keys = None


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _default(obj):
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode('utf-8', 'replace')
    return str(obj)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'sandbox_json'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display)
        self.results = []
        self.warnings = []

    def _clean(self, result):
        data = result._result  # pylint: disable=protected-access
        if strip_internal_keys is not None:
            data = strip_internal_keys(module_response_deepcopy(data))
        return json.loads(json.dumps(data, default=_default))

    def v2_playbook_on_play_start(self, play):
        self.results.append({'play': {'name': play.get_name(), 'id': str(play._uuid),  # pylint: disable=protected-access
                                      'duration': {'start': _now()}}, 'tasks': []})

    def _new_task(self, task):
        return {'task': {'name': task.get_name(), 'action': task.action, 'id': str(task._uuid),  # pylint: disable=protected-access
                         'duration': {'start': _now()}}, 'hosts': {}}

    def v2_playbook_on_task_start(self, task, is_conditional):
        if self.results:
            self.results[-1]['tasks'].append(self._new_task(task))

    def v2_playbook_on_handler_task_start(self, task):
        if self.results:
            self.results[-1]['tasks'].append(self._new_task(task))

    def _record(self, result, **extra):
        if not self.results:
            return
        host = result._host.get_name()  # pylint: disable=protected-access
        task = result._task  # pylint: disable=protected-access
        entry = None
        for item in reversed(self.results[-1]['tasks']):
            if item['task']['id'] == str(task._uuid):  # pylint: disable=protected-access
                entry = item
                break
        if entry is None:
            entry = self._new_task(task)
            self.results[-1]['tasks'].append(entry)
        data = self._clean(result)
        data.update(extra)
        data['action'] = task.action
        entry['hosts'][host] = data
        entry['task']['duration']['end'] = _now()

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, failed=True, ignore_errors=ignore_errors)

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._record(result, unreachable=True)

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, skipped=True)

    def v2_playbook_on_stats(self, stats):
        summary = {}
        for host in sorted(stats.processed.keys()):
            summary[host] = stats.summarize(host)
        output = {'plays': self.results, 'stats': summary, 'custom_stats': stats.custom}
        text = json.dumps(output, indent=2, sort_keys=True, default=_default)
        path = os.environ.get('CERTPILOT_JSON_OUT')
        if path:
            tmp = path + '.tmp'
            with open(tmp, 'w') as fh:
                fh.write(text)
            os.rename(tmp, path)
        else:
            self._display.display(text)

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of the watched progress: line formatting, document parsing, settings."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.certpilot.tls.plugins.plugin_utils import progress
from ansible_collections.certpilot.tls.plugins.plugin_utils.progress import (
    DEFAULTS, Settings, format_line, format_seconds, job_running, parse_document, parse_json_line, strip_async_keys)

MODULE = 'certpilot.tls.acme_finalize'


def doc(**kw):
    base = {'format': 1, 'total': 500, 'done': 120, 'failed': 2, 'running': 10, 'left': 378,
            'slowest': {'label': 'www-12', 'seconds': 8.1}, 'oldest_running': None, 'started': 1.0, 'updated': 2.0}
    base.update(kw)
    return base


def test_line_has_counts_and_slowest():
    line = format_line(MODULE, 'web1', doc(), 42.0)
    assert line == ('certpilot.tls.acme_finalize [web1]: 120/500 done, 2 failed, 378 left; '
                    'slowest www-12 (8.1 s); 42.0 s elapsed')


def test_line_left_computed_when_missing():
    line = format_line(MODULE, 'h', doc(left=None, done=10, failed=5, total=20), 1)
    assert ' 10/20 done, 5 failed, 5 left;' in line


def test_line_without_labels_for_no_log():
    line = format_line(MODULE, 'web1', doc(oldest_running={'label': 'secret-host', 'seconds': 30.0}), 40, False)
    assert 'www-12' not in line and 'secret-host' not in line
    assert 'slowest (8.1 s)' in line and 'running longest (30.0 s)' in line


def test_line_shows_a_hanging_item_longer_than_the_slowest():
    line = format_line(MODULE, 'web1', doc(oldest_running={'label': 'stuck:443', 'seconds': 65.0}), 70)
    assert 'running longest stuck:443 (1 min 05 s)' in line
    shorter = format_line(MODULE, 'web1', doc(oldest_running={'label': 'quick:443', 'seconds': 1.0}), 70)
    assert 'quick:443' not in shorter


def test_line_before_any_document():
    assert format_line(MODULE, 'web1 -> acme', None, 5.04) == \
        'certpilot.tls.acme_finalize [web1 -> acme]: running for 5.0 s, no progress reported yet'


@pytest.mark.parametrize('seconds, text', [(0.04, '0.0 s'), (59.94, '59.9 s'), (61, '1 min 01 s'),
                                           (3725, '1 h 02 min')])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_parse_documents():
    text = 'some become banner\n%s\n' % json.dumps(doc())
    assert parse_document(text)['done'] == 120
    assert parse_document('') is None
    assert parse_document('{"total": 3, "done"') is None  # cut
    assert parse_document('{"other": 1}') is None
    assert parse_json_line('[1, 2]') is None
    assert parse_json_line('x\n{"started": 1, "finished": 0}\n') == {'started': 1, 'finished': 0}


@pytest.mark.parametrize('job, running', [
    ({'started': 1, 'finished': 0, 'ansible_job_id': 'j1'}, True),
    ({'started': 1, 'finished': 1}, False),
    ({'changed': False, 'tls_expiry': {}}, False),  # the module's result: finished
    (None, None),
])
def test_job_running(job, running):
    assert job_running(job) is running


def settings(**kw):
    values = dict(DEFAULTS)
    values.update(kw)
    return Settings(values)


def test_settings_auto_threshold():
    auto = settings()
    assert not auto.wanted(DEFAULTS['certpilot_progress_threshold'] - 1, False)
    assert auto.wanted(DEFAULTS['certpilot_progress_threshold'], False)
    assert auto.wanted(0, True)  # an items file: count unknown, assume long
    assert settings(certpilot_progress='always').wanted(0, False)
    assert not settings(certpilot_progress='never').wanted(10 ** 6, True)
    assert settings(certpilot_progress=True).mode == 'always'
    assert settings(certpilot_progress='no').mode == 'never'
    assert settings(certpilot_progress_threshold='3').wanted(3, False)


@pytest.mark.parametrize('name, value', [
    ('certpilot_progress', 'sometimes'), ('certpilot_progress', 3),
    ('certpilot_progress_threshold', 0), ('certpilot_progress_interval', 'soon'),
    ('certpilot_progress_timeout', -1), ('certpilot_progress_poll', None),
])
def test_settings_reject_bad_values(name, value):
    with pytest.raises(AnsibleActionFail) as err:
        settings(**{name: value})
    assert name in str(err.value)


def test_settings_floor_intervals():
    s = settings(certpilot_progress_interval=0.01, certpilot_progress_poll=0.01)
    assert s.interval == 1.0 and s.poll == 0.2


def test_strip_async_keys():
    status = {'changed': True, 'tls_expiry': {'summary': {}}, 'ansible_job_id': 'j1', 'finished': True,
              'started': True, 'results_file': '/x', 'stderr': 'noise', 'warnings': ['w']}
    assert strip_async_keys(status) == {'changed': True, 'tls_expiry': {'summary': {}}, 'warnings': ['w']}
    assert 'changed' not in strip_async_keys({'changed': True, 'failed': True, 'msg': 'x'}, launch=True)


def test_env_name_matches_module_side():
    from ansible_collections.certpilot.tls.plugins.module_utils.common import parallel
    assert progress.PROGRESS_ENV == parallel.PROGRESS_ENV


def test_cert_files_watches_from_its_own_threshold_unless_the_task_var_says_otherwise():
    from ansible_collections.certpilot.tls.plugins.action.cert_files import ActionModule
    action = ActionModule.__new__(ActionModule)  # only _task_var is used: no task, connection or loader needed
    action._templar = None
    assert action._task_var({}, 'certpilot_progress_threshold') == 4000
    assert action._task_var({'certpilot_progress_threshold': 7}, 'certpilot_progress_threshold') == 7
    assert action._task_var({}, 'certpilot_progress_interval') == DEFAULTS['certpilot_progress_interval']
    assert ActionModule.ITEM_ARGS == ('files',)

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The expiry_report playbook at AWX scale (issue 13 item 4): 5,000 real TLS endpoints, and no single task
result over 500,000 bytes (AWX drops a job event over 700,000 bytes and shows ``res: {}``).

The farm (tls_farm.py) serves every endpoint as an SNI name of one private nginx listener, each with its own
certificate, so the 5,000 handshakes are real and nothing is extrapolated. Task results are measured as the
JSON the test callback recorded for every task and host (the ``res`` of an AWX job event).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys

import pytest

import helpers  # noqa: E402  (tests/integration is on sys.path via conftest)
from helpers import REPO  # noqa: E402
from tls_farm import Farm  # noqa: E402

pytestmark = pytest.mark.timeout(1800)

ENDPOINTS = 5000
LIMIT = 500000
AWX_EVENT_LIMIT = 700000


@pytest.fixture(scope='module')
def big_farm():
    farm = Farm(net=7, filler=ENDPOINTS, with_side_servers=False)
    try:
        farm.start()
        yield farm
    finally:
        farm.stop()


def _run(farm, tmp_path, extra_vars):
    env = dict(os.environ)
    env['ANSIBLE_COLLECTIONS_PATH'] = helpers.COLLECTIONS
    env['PYTHONPATH'] = helpers.COLLECTIONS
    env['ANSIBLE_CALLBACK_PLUGINS'] = helpers.CALLBACK_DIR
    env['ANSIBLE_CALLBACKS_ENABLED'] = 'sandbox_json'
    env['ANSIBLE_NOCOLOR'] = '1'
    env['ANSIBLE_RETRY_FILES_ENABLED'] = '0'
    env.pop('ANSIBLE_CONFIG', None)
    env.pop('ANSIBLE_STDOUT_CALLBACK', None)
    inventory = {'all': {'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': os.path.join(
        os.path.dirname(os.path.abspath(sys.executable)), 'python')}}}}
    return helpers.run_ansible_playbook(os.path.join(REPO, 'playbooks', 'expiry_report.yml'), env, str(tmp_path),
                                        inventory, extra_vars=extra_vars, timeout=1500)


def _task_result_sizes(run):
    sizes = []
    for play in run.results['plays']:
        for task in play['tasks']:
            for host, result in task['hosts'].items():
                sizes.append((len(json.dumps(result, separators=(',', ':'))), task['task']['name'], host))
    return sorted(sizes, reverse=True)


def test_5000_endpoints_no_task_result_over_500000_bytes(big_farm, tmp_path):
    endpoints = big_farm.endpoints()
    assert len(endpoints) >= ENDPOINTS
    out = tmp_path / 'report'
    run = _run(big_farm, tmp_path, {
        'expiry_report_endpoints': endpoints, 'expiry_report_ca_bundle': big_farm.ca_bundle,
        'expiry_report_dir': str(out), 'expiry_report_timeout': 10, 'expiry_report_fail_on': 'never'})
    assert run.rc == 0, run.explain()
    sizes = _task_result_sizes(run)
    assert sizes, run.explain()
    biggest = sizes[0]
    assert biggest[0] <= LIMIT, 'largest task results: %r' % (sizes[:5],)
    # Every endpoint really was checked, and the reports hold all of them.
    with open(str(out / 'tls-expiry.json')) as handle:
        full = json.load(handle)
    assert len(full['results']) == len(endpoints)
    assert [r['name'] for r in full['results']] == [e['name'] for e in endpoints]
    errors = [r for r in full['results'] if r['status'] == 'error']
    assert not errors, errors[:3]
    assert sum(1 for line in open(str(out / 'tls-expiry.csv')) if line.strip()) == len(endpoints) + 1
    check = run.task_results('Check the certificates')['localhost']
    summary = check['tls_expiry']['summary']
    assert summary['total'] == len(endpoints) == sum(summary[s] for s in ('ok', 'warning', 'critical', 'invalid',
                                                                          'expired', 'error'))
    returned = check['tls_expiry']['returned']
    assert returned['mode'] == 'problems'
    assert returned['problems'] == len(endpoints) - summary['ok']
    assert returned['results'] + returned['omitted'] == len(endpoints)
    assert len(check['tls_expiry']['results']) == returned['results'] > 0
    # The bound is meaningful: returning everything (the results twice, as tls_expiry and as the fact) would be
    # far over AWX's event limit.
    everything = len(json.dumps(full['results'], separators=(',', ':')))
    assert 2 * everything > AWX_EVENT_LIMIT, everything

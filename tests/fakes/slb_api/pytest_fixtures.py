"""pytest fixtures for the SLB integration tests (import them into a test module).

``slb``: the fake SLB API -- the sandbox's ``services.slb_api`` when the sandbox runs it,
otherwise a private instance started for the test module (and stopped after it).
``slb_run``: run a playbook against localhost with the collection importable.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from .testkit import Admin, _free_port_range

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
INTEGRATION = os.path.join(REPO, 'tests', 'integration')
COLLECTIONS = os.path.join(REPO, '.build', 'collections')


class SlbEndpoint:
    def __init__(self, endpoint, admin, access_key, secret_key, region, source):
        self.endpoint = endpoint
        self.admin = Admin(admin)
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.source = source

    def module_args(self, **extra):
        args = {'alicloud_access_key': self.access_key, 'alicloud_secret_key': self.secret_key,
                'alicloud_region': self.region, 'alicloud_endpoint': self.endpoint}
        args.update(extra)
        return args


def _sandbox_record():
    path = os.environ.get('CERTPILOT_SANDBOX_JSON') or os.path.join(
        os.environ.get('CERTPILOT_SANDBOX_DIR') or os.path.join(REPO, '.sandbox'), 'sandbox.json')
    try:
        with open(path) as handle:
            record = json.load(handle).get('services', {}).get('slb_api')
    except (IOError, OSError, ValueError):
        return None
    if not record:
        return None
    try:
        urllib.request.urlopen(record['admin'] + '/state', timeout=3).read()
    except Exception:
        return None
    return record


@pytest.fixture(scope='module')
def slb():
    record = _sandbox_record()
    if record:
        yield SlbEndpoint(record['endpoint'], record['admin'], record['access_key'], record['secret_key'],
                          record['region'], 'sandbox')
        return
    workdir = tempfile.mkdtemp(prefix='slb-itest-')
    ready = os.path.join(workdir, 'ready.json')
    low, high = _free_port_range(16)
    api_port = _free_port_range(1)[0]
    secret = 'itest-secret-%d' % os.getpid()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, 'server.py'), '--listen', '127.0.0.1:%d' % api_port,
                             '--tls-port-range', '%d-%d' % (low, high), '--access-key', 'LTAIitest:%s' % secret,
                             '--workdir', os.path.join(workdir, 'keys'), '--ready-file', ready],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 20
    while not os.path.exists(ready):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError('the fake SLB API did not start')
        time.sleep(0.1)
    base = 'http://127.0.0.1:%d' % api_port
    try:
        yield SlbEndpoint(base + '/', base + '/_fake', 'LTAIitest', secret, 'cn-hangzhou', 'private')
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope='module')
def slb_run(tmp_path_factory):
    if INTEGRATION not in sys.path:
        sys.path.insert(0, INTEGRATION)
    import helpers
    workdir = str(tmp_path_factory.mktemp('slb-playbooks'))
    inventory = {'all': {'hosts': {'localhost': {'ansible_connection': 'local',
                                                 'ansible_python_interpreter': sys.executable}}}}

    def run(playbook, extra_vars=None, check=False, env=None, extra_args=(), timeout=300):
        run_env = dict(os.environ)
        for key in list(run_env):
            if key.startswith('ALICLOUD_'):
                del run_env[key]
        run_env.update({
            'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS,
            'PYTHONPATH': COLLECTIONS,
            'ANSIBLE_CALLBACK_PLUGINS': helpers.CALLBACK_DIR,
            'ANSIBLE_CALLBACKS_ENABLED': 'sandbox_json',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_RETRY_FILES_ENABLED': '0',
            'ANSIBLE_LOCALHOST_WARNING': '0',
            'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
            'HOME': run_env.get('HOME', workdir),
        })
        run_env.pop('ANSIBLE_STDOUT_CALLBACK', None)
        run_env.update(dict((k, str(v)) for k, v in (env or {}).items()))
        return helpers.run_ansible_playbook(playbook, run_env, workdir, inventory, extra_vars=extra_vars,
                                            check=check, extra_args=extra_args, timeout=timeout)
    return run


def one_result(result, task_name, host='localhost'):
    return result.task_results(task_name)[host]

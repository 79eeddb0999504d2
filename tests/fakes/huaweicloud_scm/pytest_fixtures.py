"""pytest fixtures for tests against the fake SCM API (import them into a test module).

``scm``: the sandbox's ``services.huaweicloud_scm`` when the sandbox runs it (HTTPS with the sandbox CA),
otherwise a private plain-HTTP instance started for the test module (and stopped after it).
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from .testkit import Admin

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))


class ScmEndpoint:
    def __init__(self, endpoint, ak, sk, domain_id, region, ca_bundle=None, source='private'):
        self.endpoint = endpoint
        self.ak, self.sk, self.domain_id, self.region = ak, sk, domain_id, region
        self.ca_bundle = ca_bundle
        self.admin = Admin(endpoint + '/_fake', cafile=ca_bundle)
        self.source = source

    def module_args(self, **extra):
        args = {'ak': self.ak, 'sk': self.sk, 'domain_id': self.domain_id, 'endpoint': self.endpoint}
        if self.ca_bundle:
            args['ca_bundle'] = self.ca_bundle
        args.update(extra)
        return args


def _sandbox_record():
    path = os.environ.get('CERTPILOT_SANDBOX_JSON') or os.path.join(
        os.environ.get('CERTPILOT_SANDBOX_DIR') or os.path.join(REPO, '.sandbox'), 'sandbox.json')
    try:
        with open(path) as handle:
            record = json.load(handle).get('services', {}).get('huaweicloud_scm')
    except (IOError, OSError, ValueError):
        return None
    if not record:
        return None
    try:
        Admin(record['endpoint'] + '/_fake', cafile=record.get('ca_bundle')).state()
    except Exception:  # pylint: disable=broad-except
        return None
    return record


@pytest.fixture(scope='module')
def scm():
    record = _sandbox_record()
    if record:
        yield ScmEndpoint(record['endpoint'], record['ak'], record['sk'], record['domain_id'], record['region'],
                          record.get('ca_bundle'), 'sandbox')
        return
    workdir = tempfile.mkdtemp(prefix='scm-itest-')
    ready = os.path.join(workdir, 'ready.json')
    sk = 'itest-sk-%d' % os.getpid()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, 'server.py'), '--listen', '127.0.0.1:0',
                             '--access-key', 'ITESTAK:%s:itestdomain' % sk, '--ready-file', ready],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 20
    while not os.path.exists(ready) or not os.path.getsize(ready):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError('the fake SCM API did not start')
        time.sleep(0.1)
    time.sleep(0.05)
    with open(ready) as handle:
        port = json.load(handle)['port']
    try:
        yield ScmEndpoint('http://127.0.0.1:%d' % port, 'ITESTAK', sk, 'itestdomain', 'ap-southeast-1')
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

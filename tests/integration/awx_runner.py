# -*- coding: utf-8 -*-
# Copyright: certpilot maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a playbook the way AWX / Automation Controller runs a job: through ansible-runner's Python API.

Per job: a fresh private data dir (project/, inventory/, env/), credentials injected exactly as AWX
injects a custom credential type (file templates written under env/ with mode 0600 and exposed as
``tower.filename``; ``extra_vars`` and ``env`` rendered in a sandboxed Jinja2 environment with
StrictUndefined), AWX's own ``awx_*`` meta variables, and the whole private data dir removed after the
job (only what the playbook wrote outside it, such as the persistent store, survives).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import json
import os
import shutil
import tempfile

import ansible_runner
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

import helpers

DOCS_AWX = os.path.join(helpers.REPO, 'docs', 'awx')


def load_credential_type(name):
    with open(os.path.join(DOCS_AWX, name)) as handle:
        return yaml.safe_load(handle)


class Credential(object):
    """A credential of one of the documented credential types, with its input values."""

    def __init__(self, type_file, **inputs):
        self.type = load_credential_type(type_file)
        self.inputs = inputs

    def inject(self, private_data_dir, extra_vars, env):
        """What AWX's CredentialType.inject_credential does, for custom (non-managed) types."""
        jinja = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
        namespace = {}
        for field in self.type['inputs'].get('fields', []):
            if field.get('type', 'string') == 'string':
                namespace[field['id']] = self.inputs.get(field['id'], field.get('default', ''))
            else:
                namespace[field['id']] = bool(self.inputs.get(field['id'], field.get('default', False)))
        injectors = self.type.get('injectors', {})
        files = {}
        for key, template in (injectors.get('file') or {}).items():
            fd, path = tempfile.mkstemp(prefix='tmp', dir=os.path.join(private_data_dir, 'env'))
            with os.fdopen(fd, 'w') as handle:  # mkstemp creates 0600
                handle.write(jinja.from_string(template).render(**namespace))
            files[key.split('.', 1)[1] if '.' in key else None] = path
        if files:
            namespace['tower'] = {'filename': files[None] if list(files) == [None] else files}

        def render(value):
            if isinstance(value, dict):
                return dict((jinja.from_string(k).render(**namespace), render(v)) for k, v in value.items())
            if isinstance(value, list):
                return [render(v) for v in value]
            return jinja.from_string(value).render(**namespace)
        for key, template in (injectors.get('env') or {}).items():
            env[key] = jinja.from_string(template).render(**namespace)
        extra_vars.update(render(injectors.get('extra_vars') or {}))


class JobResult(object):
    def __init__(self, status, rc, events, raw_events, stats):
        self.status = status
        self.rc = rc
        self.events = events
        self.raw_events = raw_events  # the job_events/*.json texts, as AWX would store them
        self.stats = stats

    def changed(self, host):
        return (self.stats.get('changed') or {}).get(host, 0)

    def failed_hosts(self):
        return sorted(set((self.stats.get('failures') or {})) | set((self.stats.get('dark') or {})))

    def explain(self, lines=60):
        out = []
        for event in self.events:
            data = event.get('event_data', {})
            if event.get('event') == 'runner_on_ok' and (data.get('res') or {}).get('changed'):
                out.append('CHANGED %s %s' % (data.get('host'), data.get('task')))
            if event.get('event') in ('runner_on_failed', 'runner_on_unreachable'):
                out.append('%s %s: %s' % (data.get('host'), data.get('task'), json.dumps(data.get('res'))[:2000]))
        tail = [e.get('stdout', '') for e in self.events if e.get('stdout')][-lines:]
        return 'status=%s rc=%s\n%s\n--- stdout tail ---\n%s' % (self.status, self.rc, '\n'.join(out), '\n'.join(tail))

    def find_secret(self, *secrets):
        """(file, secret prefix) of the first secret found in any job event file, None when clean."""
        for name, text in sorted(self.raw_events.items()):
            for secret in secrets:
                if secret and secret in text:
                    return name, secret[:12] + '...'
        return None


def run_job(sandbox, jobs_root, playbook_text, extra_vars, credentials=(), limit=None, timeout=600):
    """One AWX-style job. ``jobs_root`` holds the private data dirs; each is removed after its job."""
    private_data_dir = tempfile.mkdtemp(prefix='awx_job_', dir=str(jobs_root))
    os.makedirs(os.path.join(private_data_dir, 'project'))
    os.makedirs(os.path.join(private_data_dir, 'inventory'))
    os.makedirs(os.path.join(private_data_dir, 'env'), mode=0o700)
    with open(os.path.join(private_data_dir, 'project', 'job.yml'), 'w') as handle:
        handle.write(playbook_text)
    shutil.copy(sandbox['inventory'], os.path.join(private_data_dir, 'inventory', 'hosts.yml'))

    job_vars = {'awx_job_id': 4242, 'awx_job_template_name': 'certpilot renew', 'awx_job_launch_type': 'scheduled',
                'tower_job_id': 4242}
    job_vars.update(extra_vars)
    envvars = {
        # The collection installed in the EE.
        'ANSIBLE_COLLECTIONS_PATH': helpers.COLLECTIONS,
        # ansible-playbook of the EE (the test venv).
        'PATH': os.pathsep.join([os.path.dirname(helpers.ansible_bin('ansible-playbook')), os.environ.get('PATH', '')]),
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_HOST_KEY_CHECKING': 'True',
    }
    for credential in credentials:
        credential.inject(private_data_dir, job_vars, envvars)
    try:
        runner = ansible_runner.run(
            private_data_dir=private_data_dir, playbook='job.yml', inventory=os.path.join(private_data_dir, 'inventory'),
            extravars=job_vars, envvars=envvars, limit=limit, quiet=True, timeout=timeout, ident='job')
        raw = {}
        for path in glob.glob(os.path.join(private_data_dir, 'artifacts', 'job', 'job_events', '*.json')):
            with open(path) as handle:
                raw[os.path.basename(path)] = handle.read()
        events = [json.loads(text) for _name, text in sorted(raw.items(), key=lambda kv: int(kv[0].split('-')[0]))]
        return JobResult(runner.status, runner.rc, events, raw, runner.stats or {})
    finally:
        shutil.rmtree(private_data_dir)  # the controller's files do not survive the job

# -*- coding: utf-8 -*-
# Copyright: certpilot maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every credential type published under docs/awx/ must be accepted by AWX.

No sandbox needed (a unit-level check that lives here because it reads the repository's docs and
the shared AWX schema with the test venv). The schema is AWX's own (awx/main/fields.py,
awx/main/constants.py; see ../shared/awx/README.md), applied with jsonschema's Draft4Validator as AWX
does, plus the rules AWX checks in code, written out below from AWX's documentation:
field ids, types, ``secret``/``multiline`` only on strings, injector templates are strings that
render in a sandboxed Jinja2 environment with StrictUndefined using only the defined inputs and
``tower.filename``; env names not ``ANSIBLE_*`` nor blocked.

On top of AWX's rules, what the collection needs: each injected extra var is an option of one of
our roles (with the right suboptions: EAB is ``kid``/``key``), each injected env var is one our
modules read, and each input that lands in a ``no_log`` option is a ``secret`` field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re

import jsonschema
import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.exceptions import UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS_AWX = os.path.join(REPO, 'docs', 'awx')
CREDENTIAL_FILES = sorted(glob.glob(os.path.join(DOCS_AWX, '*credential*.yml')))


def _schema_path():
    candidates = []
    if os.environ.get('CERTPILOT_AWX_SCHEMA'):
        candidates.append(os.environ['CERTPILOT_AWX_SCHEMA'])
    candidates.append(os.path.join(os.path.dirname(REPO), 'shared', 'awx', 'credential_type_schema.json'))
    for path in candidates:
        if os.path.isfile(path):
            return path
    pytest.fail('AWX credential-type schema not found (looked at %s); it is the data this check validates '
                'against, so its absence is a failure, not a skip. Set CERTPILOT_AWX_SCHEMA to its path.'
                % ', '.join(candidates))
    return None  # not reached


@pytest.fixture(scope='module')
def awx_schema():
    with open(_schema_path()) as f:
        return json.load(f)


def _role_options():
    """{option name: spec} over every role's main entry point."""
    options = {}
    for path in glob.glob(os.path.join(REPO, 'roles', '*', 'meta', 'argument_specs.yml')):
        with open(path) as f:
            spec = yaml.safe_load(f)
        options.update(spec['argument_specs']['main'].get('options', {}))
    return options


def _module_suboptions(module, option):
    path = os.path.join(REPO, 'plugins', 'modules', module + '.py')
    with open(path) as f:
        source = f.read()
    doc = re.search(r"DOCUMENTATION = r'''(.*?)'''", source, re.S).group(1)
    return yaml.safe_load(doc)['options'][option]['suboptions']


def _alicloud_env_names():
    with open(os.path.join(REPO, 'plugins', 'module_utils', 'alicloud', 'connection.py')) as f:
        return set(re.findall(r"'(ALICLOUD_[A-Z_]+)'", f.read()))


def _load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def _walk_extra_vars(value, prefix=()):
    """Yield (key path, template) for every key and string value of an extra_vars injector."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield prefix + (key,), key
            yield from _walk_extra_vars(sub, prefix + (key,))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _walk_extra_vars(sub, prefix + (index,))
    else:
        yield prefix, value


def _namespace(inputs, injectors):
    """What AWX renders injector templates with: the input fields plus tower.filename."""
    namespace = {}
    for field in inputs.get('fields', []):
        namespace[field['id']] = 'value-of-' + field['id'] if field.get('type', 'string') == 'string' else True
    files = sorted((injectors.get('file') or {}).keys())
    if files:
        if files == ['template']:
            filename = '/runner/env/tmpfile'
        else:
            filename = dict((name.split('.', 1)[1], '/runner/env/tmp-' + name.split('.', 1)[1])
                            for name in files if '.' in name)
        namespace['tower'] = {'filename': filename}
    return namespace


def test_credential_types_are_published():
    names = [os.path.basename(p) for p in CREDENTIAL_FILES]
    # The guide documents these; a rename must update docs/awx.md too.
    for expected in ('credential_type_acme_account.yml', 'credential_type_acme_account_eab.yml',
                     'credential_type_alicloud.yml', 'credential_type_sftp.yml', 'credential_type_smtp.yml'):
        assert expected in names
    with open(os.path.join(REPO, 'docs', 'awx.md')) as f:
        guide = f.read()
    for name in names:
        assert 'awx/' + name in guide, '%s is not referenced from docs/awx.md' % name


@pytest.mark.parametrize('path', CREDENTIAL_FILES, ids=os.path.basename)
def test_awx_accepts_credential_type(path, awx_schema):
    doc = _load(path)
    assert set(doc) <= {'name', 'description', 'kind', 'inputs', 'injectors'}, sorted(doc)
    assert doc.get('kind') == 'cloud' and doc.get('name')
    inputs, injectors = doc['inputs'], doc['injectors']

    errors = [e.message for e in jsonschema.Draft4Validator(awx_schema['inputs']).iter_errors(inputs)]
    errors += [e.message for e in jsonschema.Draft4Validator(awx_schema['injectors']).iter_errors(injectors)]
    assert errors == [], errors

    # Rules AWX checks in code (CredentialTypeInputField.validate / CredentialTypeInjectorField.validate).
    ids = [field['id'] for field in inputs['fields']]
    assert 'tower' not in ids
    assert len(ids) == len(set(ids)), 'duplicate field ids'
    for field in inputs['fields']:
        ftype = field.get('type', 'string')
        if ftype != 'string':
            for key in ('choices', 'multiline', 'format', 'secret'):
                assert key not in field, '%s: %s only on string fields' % (field['id'], key)
        if 'default' in field:
            assert isinstance(field['default'], str if ftype == 'string' else bool), field['id']
    for required in inputs.get('required', []):
        assert required in ids, 'required %s is not a field' % required

    for name in (injectors.get('env') or {}):
        assert not name.startswith('ANSIBLE_'), name
        assert name not in awx_schema['env_blocklist'], name

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    namespace = _namespace(inputs, injectors)
    templates = list((injectors.get('env') or {}).values()) + list((injectors.get('file') or {}).values())
    templates += [template for _path, template in _walk_extra_vars(injectors.get('extra_vars') or {})]
    for template in templates:
        assert isinstance(template, str), 'injector template %r is not a string' % (template,)
        try:
            env.from_string(template).render(**namespace)
        except UndefinedError as exc:
            pytest.fail('%s: template %r: %s' % (os.path.basename(path), template, exc))


@pytest.mark.parametrize('path', CREDENTIAL_FILES, ids=os.path.basename)
def test_credential_type_feeds_real_options(path):
    doc = _load(path)
    inputs, injectors = doc['inputs'], doc['injectors']
    secret_ids = set(f['id'] for f in inputs['fields'] if f.get('secret'))
    options = _role_options()

    def field_ids(template):
        return set(re.findall(r'{{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*}}', template))

    for name, value in (injectors.get('extra_vars') or {}).items():
        assert name in options, '%s injects %s, which no role of the collection has' % (os.path.basename(path), name)
        spec = options[name]
        if isinstance(value, dict):
            assert spec.get('type') == 'dict', name
            if name == 'acme_certificates_external_account_binding':
                allowed = _module_suboptions('acme_account', 'external_account_binding')
            else:
                allowed = spec.get('options') or {}
            for sub, template in value.items():
                assert sub in allowed, '%s.%s is not a suboption (valid: %s)' % (name, sub, sorted(allowed))
                if allowed[sub].get('no_log') or sub in ('key', 'password', 'secret'):
                    assert field_ids(template) <= secret_ids, '%s.%s must come from a secret field' % (name, sub)
        elif spec.get('no_log'):
            assert field_ids(value) <= secret_ids, '%s is no_log: its input must be a secret field' % name

    env_names = _alicloud_env_names()
    for name, template in (injectors.get('env') or {}).items():
        assert name in env_names, '%s is not read by the certpilot.tls.slb_* modules' % name
        if 'SECRET' in name:
            assert field_ids(template) <= secret_ids, name


SURVEY_TYPES = ('text', 'textarea', 'password', 'integer', 'float', 'multiplechoice', 'multiselect')
RRULE = re.compile(r'^DTSTART;TZID=[A-Za-z_/+-]+:\d{8}T\d{6} RRULE:FREQ=(DAILY|WEEKLY|HOURLY);INTERVAL=\d+$')


def _playbook_vars():
    """Variables the collection's playbooks read: renew_* (documented in renew.yml's header) and expiry_report_hosts."""
    names = set()
    for name in ('renew.yml', 'expiry_report.yml'):
        with open(os.path.join(REPO, 'playbooks', name)) as f:
            names.update(re.findall(r'\b((?:renew|expiry_report)_[a-z_]+)\b', f.read()))
    return names


@pytest.mark.parametrize('path', sorted(glob.glob(os.path.join(DOCS_AWX, 'job_template_*.yml'))), ids=os.path.basename)
def test_job_template_examples(path):
    doc = _load(path)
    known = set(_role_options()) | _playbook_vars()
    template = doc['job_template']
    assert template['playbook'].endswith('.yml')
    for name in template.get('extra_vars', {}):
        assert name in known, '%s: extra var %s is read by nothing in the collection' % (os.path.basename(path), name)
    if template.get('survey_enabled'):
        for question in doc['survey_spec']['spec']:
            assert question['type'] in SURVEY_TYPES, question
            assert question['variable'] in known, question['variable']
            if question['type'] == 'multiplechoice':
                assert question['default'] in question['choices'], question
    assert RRULE.match(doc['schedule']['rrule']), doc['schedule']['rrule']


def test_container_group_pod_spec_mounts_store_writable():
    doc = _load(os.path.join(DOCS_AWX, 'container_group_pod_spec.yml'))
    container = doc['spec']['containers'][0]
    mounts = dict((m['name'], m) for m in container['volumeMounts'])
    volumes = dict((v['name'], v) for v in doc['spec']['volumes'])
    store = mounts['certpilot-store']
    assert store.get('readOnly') is False
    assert 'persistentVolumeClaim' in volumes['certpilot-store']


def test_guide_never_mounts_the_store_with_overlay():
    with open(os.path.join(REPO, 'docs', 'awx.md')) as f:
        guide = f.read()
    for mount in re.findall(r'"(/[^"]+:/[^"]+:[A-Za-z,]+)"', guide):
        options = mount.rsplit(':', 1)[1].split(',')
        assert 'O' not in options, mount
        assert set(options) & {'rw', 'z', 'Z'}, mount
    with open(os.path.join(REPO, 'docs', 'execution-environment.yml')) as f:
        assert '/runner' not in yaml.safe_load(f).get('additional_build_steps', {}).__repr__()

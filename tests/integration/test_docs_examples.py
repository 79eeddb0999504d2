# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documented ACME examples, run against the sandbox's pebble exactly as they are written.

Sources: every fenced ```yaml block of docs/*.md and README.md, and the EXAMPLES of the ACME modules
(acme_account, acme_order, acme_finalize, acme_http01_files).

* A docs block that runs is marked on the line before its fence with
  ``<!-- docs-example: NAME ... -->`` (or listed in RUN_BLOCKS for files this test does not mark);
  it is written to a file verbatim and run with ``-e`` overrides of its own documented variables
  (directory, CA bundle, key, store, webroot) and an inventory whose ``web`` group is a sandbox host.
* Every other yaml block must be listed in NOT_ACME with the reason it does not talk to an ACME server,
  so that a new ACME example cannot be added without a run here (test_every_yaml_block_is_classified).
* Module EXAMPLES are task lists: they are run in one play, in the order of MODULE_EXAMPLE_STEPS (every
  example task must be in it), with only their literal directory URLs and paths pointed at the sandbox
  (_module_substitutions; each must match, so a changed example fails here until this test knows it),
  the sandbox CA bundle in module_defaults, and the EAB variables they use (vault_eab_*) as extra vars.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import copy
import glob
import io
import json
import os
import re
import shutil
import subprocess
import uuid

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

import helpers
from acme_store_util import Challenges, public_key_der  # noqa: E402  (tests/integration is on sys.path)
from revoke_util import ISSUE, Pebble  # noqa: E402

from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.acme.account import Account
from ansible_collections.certpilot.tls.plugins.module_utils.acme.client import AcmeClient
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey
from ansible_collections.certpilot.tls.plugins.module_utils.acme.problems import AcmeProblem

pytestmark = pytest.mark.timeout(900)

DOC_FILES = sorted(glob.glob(os.path.join(helpers.REPO, 'docs', '*.md'))) + [os.path.join(helpers.REPO, 'README.md')]
MARKER_RE = re.compile(r'^<!--\s*docs-example:\s*([A-Za-z0-9_-]+)')
FENCE_RE = re.compile(r'^```ya?ml\s*$')

# Blocks of files this test does not mark with a comment: (file relative to the repo, first line) -> runner name.
RUN_BLOCKS = {
    ('README.md', "# Let's Encrypt *staging* first: same protocol, no rate-limit pain, untrusted roots."):
        'readme-group-vars',
}
# yaml blocks that do not talk to an ACME server: (file, first line) -> why.
NOT_ACME = {
    ('docs/awx.md', 'webservers:'): 'an AWX inventory (hosts and groups), no ACME call',
    ('docs/expiry.md', '- certpilot.tls.tls_expiry_facts:'): 'TLS expiry checks of endpoints and files, no ACME call',
    ('docs/alibaba.md', 'module_defaults:'): 'module_defaults of the Alibaba Cloud group, no ACME call',
    ('docs/alibaba.md', '- name: Rotate the certificate on ALB listeners and CDN domains'):
        'Alibaba Cloud CAS/ALB/CDN, no ACME call; run as written by tests/integration/test_alicloud_rotate.py',
    ('docs/huaweicloud.md', '- name: Fetch the certificates from Huawei Cloud CCM into the store'):
        'Huawei Cloud CCM, no ACME call; run as written by tests/integration/test_huaweicloud_ccm.py',
    ('docs/huaweicloud.md', 'certpilot_store: /var/lib/certpilot/store'):
        'variables of the Huawei Cloud CCM example, used by tests/integration/test_huaweicloud_ccm.py',
}
ACME_MODULES = ('acme_account', 'acme_order', 'acme_finalize', 'acme_http01_files')


def yaml_blocks():
    """[(relative file, runner name or None, first line, text)] of every ```yaml block of DOC_FILES."""
    blocks = []
    for path in DOC_FILES:
        rel = os.path.relpath(path, helpers.REPO)
        with io.open(path, encoding='utf-8') as handle:
            lines = handle.read().split('\n')
        index = 0
        while index < len(lines):
            if FENCE_RE.match(lines[index]):
                end = index + 1
                while end < len(lines) and lines[end].strip() != '```':
                    end += 1
                text = '\n'.join(lines[index + 1:end]) + '\n'
                first = next((line for line in lines[index + 1:end] if line.strip()), '')
                marker = MARKER_RE.match(lines[index - 1].strip()) if index > 0 else None
                name = marker.group(1) if marker else RUN_BLOCKS.get((rel, first))
                blocks.append((rel, name, first, text))
                index = end
            index += 1
    return blocks


def block(name):
    found = [text for _rel, block_name, _first, text in yaml_blocks() if block_name == name]
    assert len(found) == 1, 'expected exactly one docs example named %s, found %d' % (name, len(found))
    return found[0]


def module_examples(module):
    """The EXAMPLES task list of a module, read from its source without importing it."""
    path = os.path.join(helpers.REPO, 'plugins', 'modules', module + '.py')
    with io.open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'EXAMPLES' for t in node.targets):
            return node.value.value
    raise AssertionError('%s has no EXAMPLES' % path)


def web_inventory(sandbox, web_host='web1'):
    """The sandbox inventory plus a ``web`` group (the name the examples use) holding ``web_host``."""
    with open(sandbox['inventory']) as handle:
        inventory = yaml.safe_load(handle)
    inventory = copy.deepcopy(inventory)
    inventory['all']['children']['web'] = {'hosts': {web_host: {}}}
    return inventory


def cert_names(path):
    with open(str(path), 'rb') as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    return sorted(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                  .get_values_for_type(x509.DNSName))


def challenge_files(sandbox, host):
    directory = os.path.join(sandbox['hosts'][host]['webroot'], '.well-known', 'acme-challenge')
    return set(os.listdir(directory)) if os.path.isdir(directory) else set()


def remove_challenge_files(sandbox, host, tokens):
    directory = os.path.join(sandbox['hosts'][host]['webroot'], '.well-known', 'acme-challenge')
    for token in tokens:
        path = os.path.join(directory, token)
        if os.path.lexists(path):
            os.unlink(path)


def test_every_yaml_block_is_classified():
    """A yaml block of docs/*.md or README.md either runs here or says why it does not talk to an ACME server."""
    blocks = yaml_blocks()
    assert blocks, 'no yaml block found in %s' % DOC_FILES
    runners = set(RUNNERS)
    unknown = []
    for rel, name, first, text in blocks:
        yaml.safe_load(text)  # every example is valid YAML
        if name is not None:
            assert name in runners, '%s: docs example %s has no runner in this test' % (rel, name)
        elif (rel, first) not in NOT_ACME:
            unknown.append('%s: %r' % (rel, first))
    assert not unknown, ('yaml blocks neither run by tests/integration/test_docs_examples.py nor listed in its '
                         'NOT_ACME: %s' % '; '.join(unknown))
    listed = set(NOT_ACME) | set(RUN_BLOCKS)
    present = set((rel, first) for rel, _name, first, _text in blocks)
    assert listed <= present, 'registry entries whose block is gone: %s' % sorted(listed - present)
    assert set(name for _r, name, _f, _t in blocks if name) == runners, 'a runner whose docs example is gone'


def test_acme_daily_job(sandbox, run_playbook, sandbox_dns, tmp_path):
    """docs/acme.md's daily job, verbatim, with its documented variables pointed at the sandbox."""
    text = block('acme-daily-job')
    playbook = tmp_path / 'daily.yml'
    playbook.write_text(text)
    tag = 'd' + uuid.uuid4().hex[:8]
    address = sandbox['hosts']['web1']['address']
    certificates = [
        {'name': tag + '-www', 'domains': ['%s.example.test' % tag, 'www.%s.example.test' % tag]},
        {'name': tag + '-api', 'domains': ['api.%s.example.test' % tag], 'key_type': 'rsa2048'},
    ]
    names = [d for c in certificates for d in c['domains']]
    for name in names:
        sandbox_dns.add_a(name, address)
    overrides = {
        'certpilot_acme_directory': sandbox['acme']['directory'],
        'certpilot_ca_bundle': sandbox['acme']['ca_bundle'],
        'certpilot_account_key': str(tmp_path / 'account.key'),
        'certpilot_store': str(tmp_path / 'store'),
        'certpilot_webroot': sandbox['hosts']['web1']['webroot'],
        'certpilot_certificates': certificates,
    }
    (tmp_path / 'store').mkdir()
    before = challenge_files(sandbox, 'web1')
    written = set()
    try:
        res = run_playbook(str(playbook), extra_vars=overrides, inventory=web_inventory(sandbox))
        assert res.rc == 0, res.explain()
        order = res.task_results('Decide and order')['localhost']
        assert sorted(order['certificates']) == sorted(c['name'] for c in certificates)
        assert all(v['action'] == 'order' for v in order['certificates'].values()), res.explain()
        # the entries go to acme_http01_files as acme_order returns them, extra keys included
        assert {'certificate', 'identifier', 'dns_record', 'dns_value'} <= set(order['challenges'][0])
        publish = res.task_results('Publish http-01 challenges (one call per web host, all files at once)')['localhost']
        assert publish['changed'] is True and not publish.get('skipped'), res.explain()
        written = set(publish['changed_tokens'])
        assert written == set(c['token'] for c in order['challenges'] if c['type'] == 'http-01')
        assert len(written) == len(names)
        assert written <= challenge_files(sandbox, 'web1')
        final = res.task_results('Validate, finalize, download')['localhost']
        for cert in certificates:
            outcome = final['certificates'][cert['name']]
            assert outcome['changed'] is True and outcome['error'] is None, res.explain()
            assert cert_names(outcome['cert_path']) == sorted(cert['domains'])
            assert outcome['cert_path'].startswith(str(tmp_path / 'store'))

        # the next day: nothing due, nothing published, nothing changed
        res = run_playbook(str(playbook), extra_vars=overrides, inventory=web_inventory(sandbox))
        assert res.rc == 0, res.explain()
        assert res.stats['localhost']['changed'] == 0, res.explain()
        assert res.task_results('Publish http-01 challenges (one call per web host, all files at once)')[
            'localhost'].get('skipped') is True
    finally:
        remove_challenge_files(sandbox, 'web1', written)
        for name in names:
            sandbox_dns.clear_a(name)
    assert challenge_files(sandbox, 'web1') <= before | written


# Module EXAMPLES -> the sandbox. Each (old, new) must occur in that module's EXAMPLES.
def _module_substitutions(sandbox, tmp_path):
    acme, eab = sandbox['acme'], sandbox['acme_eab']
    keys, store, webroot = str(tmp_path / 'keys'), str(tmp_path / 'store'), sandbox['hosts']['web1']['webroot']
    staging = ('https://acme-staging-v02.api.letsencrypt.org/directory', acme['directory'])
    production = ('https://acme-v02.api.letsencrypt.org/directory', acme['directory'])
    return {
        'acme_account': [staging, production, ('https://acme.example-ca.com/directory', eab['directory']),
                         ('/etc/certpilot/', keys + '/')],
        'acme_order': [staging, ('/etc/certpilot/', keys + '/'), ('/var/lib/certpilot', store),
                       ('/var/www/acme', webroot)],
        'acme_finalize': [production, ('/etc/certpilot/', keys + '/'), ('/var/lib/certpilot', store)],
        'acme_http01_files': [('/var/www/acme', webroot)],
    }


def _tasks(module, substitutions):
    text = module_examples(module)
    for old, new in substitutions[module]:
        assert old in text, '%s EXAMPLES no longer contain %r: update MODULE_SUBSTITUTIONS' % (module, old)
        text = text.replace(old, new)
    tasks = yaml.safe_load(text)
    assert isinstance(tasks, list) and tasks, '%s EXAMPLES are not a task list' % module
    return dict((task['name'], task) for task in tasks)


def _lookup(server, key_path):
    client = AcmeClient(server['directory'], verify=server['ca_bundle'], deadline=Deadline(60))
    with open(key_path, 'rb') as handle:
        return Account(client, AcmeKey.from_pem(handle.read())).find()


# The module EXAMPLES as one job: (module, task name) in the order they run. Some run twice (the
# publishing task of acme_order serves both orders).
MODULE_EXAMPLE_STEPS = [
    ('acme_account', "Make sure the Let's Encrypt staging account exists"),
    # the whole job: order, publish (both ways), finalize, show, clean up
    ('acme_order', 'Order what needs ordering'),
    ('acme_order', 'Publish the http-01 challenges'),
    ('acme_http01_files', 'Publish the challenges this host must serve'),
    ('acme_finalize', 'Finalize everything that acme_order left pending'),
    ('acme_finalize', 'Show new certificates'),
    ('acme_http01_files', 'Remove them again'),
    # the per-certificate failure variants (www with other names: a new order)
    ('acme_order', 'Order, but let the good certificates go on when some fail'),
    ('acme_order', 'Publish the http-01 challenges'),
    ('acme_order', 'Finalize only what was ordered or resumed'),
    ('acme_finalize', 'Finalize, report failures without failing the task'),
    ('acme_finalize', 'Fail at the end, naming every certificate that failed'),
    # the account's life: EAB, contact removal, rollover, deactivation
    ('acme_account', 'Account at a CA requiring External Account Binding'),
    ('acme_account', 'Remove the contact of an account (an empty list clears it; leaving contact out keeps it)'),
    ('acme_account', 'Roll the account key over'),
    ('acme_account', 'Deactivate the account (for good; running it again changes nothing)'),
]


def test_module_examples(sandbox, run_playbook, sandbox_dns, tmp_path):
    """acme_account, acme_order, acme_finalize and acme_http01_files EXAMPLES as one job, in a working order."""
    subs = _module_substitutions(sandbox, tmp_path)
    examples = dict((module, _tasks(module, subs)) for module in ACME_MODULES)
    every = set((module, name) for module in ACME_MODULES for name in examples[module])
    missing = [step for step in MODULE_EXAMPLE_STEPS if step not in every]
    assert not missing, 'example tasks that are gone or renamed: %s (have: %s)' % (missing, sorted(every))
    not_run = sorted(every - set(MODULE_EXAMPLE_STEPS))
    assert not not_run, 'example tasks this test does not run, add them to MODULE_EXAMPLE_STEPS: %s' % not_run
    steps = []
    for index, (module, name) in enumerate(MODULE_EXAMPLE_STEPS):
        step = copy.deepcopy(examples[module][name])
        step.setdefault('register', '_example_%d' % index)
        if MODULE_EXAMPLE_STEPS.index((module, name)) != index:
            step['name'] = '%s #2' % name  # results are looked up by task name
        steps.append(step)
    play = [{
        'name': 'The ACME modules EXAMPLES against the sandbox',
        'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
        # the sandbox CAs are private: the CA bundle is the one thing the examples cannot carry
        'module_defaults': {'group/certpilot.tls.acme': {'ca_bundle': sandbox['acme']['ca_bundle']}},
        'tasks': steps,
    }]
    os.makedirs(str(tmp_path / 'keys'))
    os.makedirs(str(tmp_path / 'store'))
    # the rollover example rolls over to an existing key file
    new_key = tmp_path / 'keys' / 'account-2025.key'
    fd = os.open(str(new_key), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(AcmeKey.generate('ec256').to_pem())
    kid, hmac_key = sorted(sandbox['acme_eab']['keys'].items())[0]
    address = sandbox['hosts']['web1']['address']
    names = ['www.example.com', 'example.com', 'api.example.com']
    for name in names:
        sandbox_dns.add_a(name, address)
    before = challenge_files(sandbox, 'web1')
    tokens, second_tokens = set(), set()
    try:
        res = run_playbook(yaml.safe_dump(play, sort_keys=False), inventory=web_inventory(sandbox),
                           extra_vars={'vault_eab_kid': kid, 'vault_eab_hmac_key': hmac_key})
        ordered = res.task_results('Order what needs ordering').get('localhost') or {}
        again = res.task_results('Order, but let the good certificates go on when some fail').get('localhost') or {}
        tokens = set(c['token'] for c in ordered.get('challenges') or [])
        second_tokens = set(c['token'] for c in again.get('challenges') or [])
        assert res.rc == 0, res.explain()
        assert hmac_key not in res.stdout
        assert sorted(ordered['certificates']) == ['api', 'www']
        assert len(tokens) == len(names)
        copied = res.task_results('Publish the http-01 challenges')['localhost']
        assert len(copied['results']) == len(names) and all(r['changed'] for r in copied['results'])
        published = res.task_results('Publish the challenges this host must serve')['localhost']
        assert published['changed'] is False, 'the files acme_order returned were not what the copy wrote'
        issued = res.task_results('Finalize everything that acme_order left pending')['localhost']
        assert sorted(issued['issued']) == ['api', 'www'], res.explain()
        assert sorted(ordered['certificates']['www']['identifiers']) == ['example.com', 'www.example.com']
        assert cert_names(issued['certificates']['api']['cert_path']) == ['api.example.com']
        shown = res.task_results('Show new certificates')['localhost']
        assert len(shown['results']) == 2
        removed = res.task_results('Remove them again')['localhost']
        assert set(removed['changed_tokens']) == tokens
        assert not tokens & challenge_files(sandbox, 'web1')

        assert again['certificates']['www']['action'] == 'order' and again['due'] == ['www'], res.explain()
        due = res.task_results('Finalize only what was ordered or resumed')['localhost']
        assert due['issued'] == ['www'] and cert_names(due['certificates']['www']['cert_path']) == ['www.example.com']
        assert due['certificates']['www']['serial'] != issued['certificates']['www']['serial']
        rest = res.task_results('Finalize, report failures without failing the task')['localhost']
        assert rest['changed'] is False and rest['failed_certificates'] == {}
        assert res.task_results('Fail at the end, naming every certificate that failed')['localhost'].get('skipped')

        eab = res.task_results('Account at a CA requiring External Account Binding')['localhost']
        assert eab['changed'] is True and eab['status'] == 'valid'
        cleared = res.task_results(
            'Remove the contact of an account (an empty list clears it; leaving contact out keeps it)')['localhost']
        assert cleared['changed'] is True and cleared['contact'] == []
        rolled = res.task_results('Roll the account key over')['localhost']
        assert 'rollover' in rolled['actions']
        gone = res.task_results('Deactivate the account (for good; running it again changes nothing)')['localhost']
        assert gone['changed'] is True and gone['status'] == 'deactivated'
        assert gone['account_uri'] == rolled['account_uri']
        # pebble itself refuses the account now (RFC 8555 section 7.3.6)
        client = AcmeClient(sandbox['acme']['directory'], verify=sandbox['acme']['ca_bundle'], deadline=Deadline(60))
        with open(str(new_key), 'rb') as handle:
            key = AcmeKey.from_pem(handle.read())
        with pytest.raises(AcmeProblem) as refused:
            client.post(gone['account_uri'], {}, key=key, kid=gone['account_uri'])
        assert refused.value.is_type('unauthorized') and str(refused.value.status) == '403'
    finally:
        remove_challenge_files(sandbox, 'web1', tokens | second_tokens)
        for name in names:
            sandbox_dns.clear_a(name)
    assert challenge_files(sandbox, 'web1') <= before


# How the sandbox hosts differ from a stock Debian nginx host (paths, ports, addresses, reload): group
# variables of the test inventory, as a user would have them in their own inventory. Nothing of the
# README's variables is replaced.
SANDBOX_HOST_VARS = {
    'renew_become': False,
    'acme_certificates_webroot_var': 'sandbox_webroot',
    'nginx_webroot_path': '{{ sandbox_webroot }}',
    'nginx_webroot_snippet': False,
    'nginx_webroot_http_port': '{{ sandbox_http_port }}',
    'nginx_webroot_https_port': '{{ sandbox_https_port }}',
    'nginx_webroot_listen_address': '{{ sandbox_address }}',
    'nginx_webroot_conf_dir': '{{ sandbox_nginx_conf_dir }}',
    'nginx_webroot_binary': '{{ sandbox_nginx_binary }}',
    'nginx_webroot_conf': '{{ sandbox_nginx_conf }}',
    'nginx_webroot_reload_command': '{{ sandbox_nginx_binary }} -c {{ sandbox_nginx_conf }} -s reload',
    'cert_push_dest_dir': '{{ sandbox_cert_dir }}',
    'cert_push_nginx_binary': '{{ sandbox_nginx_binary }}',
    'cert_push_nginx_conf': '{{ sandbox_nginx_conf }}',
    'cert_push_nginx_conf_dir': '{{ sandbox_nginx_conf_dir }}',
    'cert_push_reload_command': '{{ sandbox_nginx_binary }} -c {{ sandbox_nginx_conf }} -s reload',
    'cert_push_vhost': True,
    'cert_push_https_port': '{{ sandbox_https_port }}',
    'cert_push_listen_address': '{{ sandbox_address }}',
    'cert_push_verify_address': '{{ sandbox_address }}',
}


def readme_inventory(sandbox, tag, server_names):
    """The README's hosts: `webservers` holds web1 and api1/api2, which are web2 and web3 of the sandbox."""
    with open(sandbox['inventory']) as handle:
        inventory = copy.deepcopy(yaml.safe_load(handle))
    webservers = inventory['all']['children']['webservers']['hosts']
    webservers['api1'], webservers['api2'] = webservers.pop('web2'), webservers.pop('web3')
    for group in list(inventory['all']['children']):
        if group not in ('webservers', 'acme_hosts'):
            inventory['all']['children'][group] = {}
    host_vars = dict(SANDBOX_HOST_VARS, nginx_webroot_server_names=server_names,
                     nginx_webroot_http_conf_name='certpilot-%s-http.conf' % tag)
    inventory['all']['children']['webservers']['vars'] = host_vars
    return inventory


def cleanup_nginx(sandbox, tag, cert_names_list):
    """Remove what renew.yml put into the sandbox hosts' nginx (server blocks, certificates) and reload."""
    for info in sandbox['hosts'].values():
        if 'nginx_conf_dir' not in info:
            continue
        paths = [os.path.join(info['nginx_conf_dir'], 'certpilot-%s-http.conf' % tag)]
        paths += [os.path.join(info['nginx_conf_dir'], 'certpilot-%s.conf' % name) for name in cert_names_list]
        changed = False
        for path in paths:
            if os.path.exists(path):
                os.unlink(path)
                changed = True
        for name in cert_names_list:
            shutil.rmtree(os.path.join(info['cert_dir'], name), ignore_errors=True)
        if changed:
            subprocess.run([info['nginx_binary'], '-c', info['nginx_conf'], '-s', 'reload'], check=False,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)


def test_readme_group_vars_with_the_renew_playbook(sandbox, run_playbook, sandbox_dns, tmp_path):
    """README's group_vars, verbatim, through certpilot.tls.renew; -e points the directory and paths at the sandbox."""
    text = block('readme-group-vars')
    vars_file = tmp_path / 'certpilot.yml'
    vars_file.write_text(text)
    readme = yaml.safe_load(text)
    tag = 'g' + uuid.uuid4().hex[:8]
    serving = {'www': 'web1', 'api': 'web2'}  # the first host serving each (api1 is web2)
    names = [n for cert in readme['renew_certificates'] for n in cert['domains']]
    for cert in readme['renew_certificates']:
        for name in cert['domains']:
            sandbox_dns.add_a(name, sandbox['hosts'][serving[cert['name']]]['address'])
    overrides = tmp_path / 'overrides.json'
    overrides.write_text(json.dumps({
        'acme_certificates_directory': sandbox['acme']['directory'],
        'acme_certificates_ca_bundle': sandbox['acme']['ca_bundle'],
        'acme_certificates_account_key_src': str(tmp_path / 'account.key'),
        'acme_certificates_store': str(tmp_path / 'store'),
    }))
    (tmp_path / 'store').mkdir()
    renew = os.path.join(helpers.REPO, 'playbooks', 'renew.yml')
    args = ['-e', '@' + str(vars_file), '-e', '@' + str(overrides)]
    inventory = readme_inventory(sandbox, tag, names)
    try:
        res = run_playbook(renew, inventory=inventory, extra_args=args)
        assert res.rc == 0, res.explain()
        for cert in readme['renew_certificates']:
            assert cert_names(tmp_path / 'store' / cert['name'] / 'cert.pem') == sorted(cert['domains'])
        api = x509.load_pem_x509_certificate((tmp_path / 'store' / 'api' / 'cert.pem').read_bytes())
        assert isinstance(api.public_key(), rsa.RSAPublicKey) and api.public_key().key_size == 2048
        # every host serves the certificate of the names it serves, checked with a TLS handshake
        for host, cert in (('web1', 'www'), ('web2', 'www'), ('web3', 'api'), ('web2', 'api')):
            der = helpers.tls_peer_cert(sandbox['hosts'][host]['address'], sandbox['hosts'][host]['https_port'],
                                        readme['renew_certificates'][0 if cert == 'www' else 1]['domains'][0])
            stored = x509.load_pem_x509_certificate((tmp_path / 'store' / cert / 'cert.pem').read_bytes())
            assert x509.load_der_x509_certificate(der) == stored, '%s does not serve %s' % (host, cert)
        assert _lookup(sandbox['acme'], str(tmp_path / 'account.key')).data.get('contact') == \
            readme['acme_certificates_contact']

        res = run_playbook(renew, inventory=inventory, extra_args=args)
        assert res.rc == 0, res.explain()
        assert sum(s['changed'] for s in res.stats.values()) == 0, res.explain()
    finally:
        cleanup_nginx(sandbox, tag, [cert['name'] for cert in readme['renew_certificates']])
        for name in names:
            sandbox_dns.clear_a(name)


def _issue_www_api(sandbox, run_playbook, tmp_path, tag):
    """``www`` and ``api`` issued into ``tmp_path/store`` by the account ``tmp_path/account.key`` (names the
    revocation examples use); returns {name: serial hex}."""
    store = tmp_path / 'store'
    extra = {'acme_directory': sandbox['acme']['directory'], 'acme_ca_bundle': sandbox['acme']['ca_bundle'],
             'account_key': str(tmp_path / 'account.key'), 'store': str(store),
             'webroot': sandbox['hosts']['web1']['webroot'],
             # the sandbox DNS answers these unknown names with web1's address
             'certificates': [{'name': n, 'domains': ['%s.%s.example.test' % (n, tag)]} for n in ('www', 'api')]}
    res = run_playbook(ISSUE, extra_vars=extra)
    assert res.rc == 0, res.explain()
    serials = {}
    for name in ('www', 'api'):
        with open(str(store / name / 'cert.pem'), 'rb') as handle:
            serials[name] = '%x' % x509.load_pem_x509_certificate(handle.read()).serial_number
    return serials


def test_revoke_names(sandbox, run_playbook, tmp_path):
    """docs/revocation.md's play, verbatim: revoke www and api by their own keys, then again (nothing sent)."""
    text = block('revoke-names')
    playbook = tmp_path / 'revoke.yml'
    playbook.write_text(text)
    tracker = Challenges(sandbox)
    pebble = Pebble(sandbox)
    try:
        serials = _issue_www_api(sandbox, lambda *a, **k: tracker.note(run_playbook(*a, **k)), tmp_path,
                                 'v' + uuid.uuid4().hex[:8])
    finally:
        tracker.remove()
    overrides = {
        'certpilot_acme_directory': sandbox['acme']['directory'],
        'certpilot_ca_bundle': sandbox['acme']['ca_bundle'],
        'certpilot_account_key': str(tmp_path / 'account.key'),
        'certpilot_store': str(tmp_path / 'store'),
    }
    res = run_playbook(str(playbook), extra_vars=overrides)
    assert res.rc == 0, res.explain()
    first = res.task_results('Revoke the compromised certificates with their own keys')['localhost']
    assert first['changed'] is True and first['revoked'] == ['api', 'www'], res.explain()
    for name, serial in serials.items():
        status = pebble.status(serial)
        assert status['Status'] == 'Revoked' and status['Reason'] == 1, (name, status)
    again = res.task_results('Revoke them again (recorded in the store - nothing changes, nothing is sent)')['localhost']
    assert again['changed'] is False and again['http_requests'] == 0
    assert again['already_revoked'] == ['api', 'www']
    shown = res.task_results('Show what was revoked')['localhost']
    assert len(shown['results']) == 2


def test_revoke_and_replace_vars(sandbox, run_playbook, sandbox_dns, tmp_path):
    """docs/revocation.md's incident variables, verbatim, with the revoke_and_replace playbook after a renew."""
    text = block('revoke-and-replace-vars')
    incident = tmp_path / 'incident.yml'
    incident.write_text(text)
    names = yaml.safe_load(text)['revoke_and_replace_names']
    tag = 'i' + uuid.uuid4().hex[:8]
    certificates = [{'name': name, 'domains': ['%s.%s.example.test' % (name, tag)], 'hosts': ['web1']}
                    for name in names]
    for cert in certificates:
        sandbox_dns.add_a(cert['domains'][0], sandbox['hosts']['web1']['address'])
    with open(sandbox['inventory']) as handle:
        inventory = copy.deepcopy(yaml.safe_load(handle))
    inventory['all']['children']['webservers']['vars'] = dict(
        SANDBOX_HOST_VARS, nginx_webroot_server_names=[c['domains'][0] for c in certificates],
        nginx_webroot_http_conf_name='certpilot-%s-http.conf' % tag)
    (tmp_path / 'store').mkdir()
    common = {'renew_web_hosts': 'web1', 'renew_certificates': certificates,
              'acme_certificates_directory': sandbox['acme']['directory'],
              'acme_certificates_ca_bundle': sandbox['acme']['ca_bundle'],
              'acme_certificates_account_key_src': str(tmp_path / 'account.key'),
              'acme_certificates_store': str(tmp_path / 'store'), 'acme_certificates_terms_agreed': True}
    overrides = tmp_path / 'overrides.json'
    overrides.write_text(json.dumps(common))
    pebble = Pebble(sandbox)
    address, port = sandbox['hosts']['web1']['address'], sandbox['hosts']['web1']['https_port']
    try:
        res = run_playbook(os.path.join(helpers.REPO, 'playbooks', 'renew.yml'), inventory=inventory,
                           extra_args=['-e', '@' + str(overrides)])
        assert res.rc == 0, res.explain()
        before = {}
        for cert in certificates:
            before[cert['name']] = x509.load_der_x509_certificate(
                helpers.tls_peer_cert(address, port, cert['domains'][0]))
        res = run_playbook(os.path.join(helpers.REPO, 'playbooks', 'revoke_and_replace.yml'), inventory=inventory,
                           extra_args=['-e', '@' + str(overrides), '-e', '@' + str(incident)])
        assert res.rc == 0, res.explain()
        for cert in certificates:
            old = before[cert['name']]
            status = pebble.status('%x' % old.serial_number)
            assert status['Status'] == 'Revoked' and status['Reason'] == 1, status
            served = x509.load_der_x509_certificate(helpers.tls_peer_cert(address, port, cert['domains'][0]))
            assert served.serial_number != old.serial_number
            assert public_key_der(served) != public_key_der(old), 'the replacement has the revoked key'
            assert pebble.status('%x' % served.serial_number)['Status'] == 'Valid'
    finally:
        cleanup_nginx(sandbox, tag, [c['name'] for c in certificates])
        for cert in certificates:
            sandbox_dns.clear_a(cert['domains'][0])


RUNNERS = {
    'acme-daily-job': test_acme_daily_job,
    'readme-group-vars': test_readme_group_vars_with_the_renew_playbook,
    'revoke-names': test_revoke_names,
    'revoke-and-replace-vars': test_revoke_and_replace_vars,
}

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A dedicated ACME host: renew.yml with the store on web3 (over SSH, not localhost), deploying to web1/web2
over the ansible transport and to appliance1 over SFTP with the SSH key given as content (for the challenge
files and for the push), rendered from docs/awx/credential_type_sftp_acme_host.yml as AWX injects it.

Round trips to the ACME host are counted in the ``-vvv`` output (``<address> SSH: EXEC`` lines, one per
module run with pipelining) during the deploy play: they do not grow with the number of certificates.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import uuid

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

import helpers
from test_roles_renew import RENEW, Scenario, assert_serving_store, served, store_fingerprint

pytestmark = pytest.mark.timeout(900)

ACME_HOST = 'web3'
WEB = ('web1', 'web2', 'appliance1')
DEPLOY_PLAY = 'PLAY [Deploy, reload and verify on the web hosts]'
CREDENTIAL_TYPE = os.path.join(helpers.REPO, 'docs', 'awx', 'credential_type_sftp_acme_host.yml')


def _inventory(sandbox, tmp_path):
    """The sandbox inventory, with appliance1 on the sftp transport and web3 able to run the ACME modules."""
    with open(sandbox['inventory']) as handle:
        inv = yaml.safe_load(handle)
    # A host can be listed in several groups (web3 is also in haproxy_hosts and apache_hosts), and the entries
    # are merged in an order of Ansible's choosing: set the variables on every entry of the host.
    entries = dict((name, []) for name in (ACME_HOST, 'appliance1'))
    for group in inv['all']['children'].values():
        for name, host_vars in (group.get('hosts') or {}).items():
            if name in entries:
                if host_vars is None:
                    host_vars = group['hosts'][name] = {}
                entries[name].append(host_vars)
    assert all(entries.values()), entries
    for host_vars in entries[ACME_HOST]:
        # the ACME host needs the runtime dependencies (requests, cryptography): this venv's Python
        host_vars['ansible_python_interpreter'] = os.path.join(helpers.VENV_BIN, 'python')
    for host_vars in entries['appliance1']:
        host_vars['cert_push_transport'] = 'sftp'
    path = tmp_path / 'inventory.yml'
    path.write_text(yaml.safe_dump(inv))
    return str(path)


class AcmeHostScenario(Scenario):
    """Certificates for web1, web2 and appliance1 (``per_host`` each), store and ACME on web3."""

    def __init__(self, sandbox, dns, store, per_host=1):
        Scenario.__init__(self, sandbox, dns, store, hosts=WEB, shared=False)
        for host in WEB:
            for index in range(1, per_host):
                name = '%s-%s-%d.example.test' % (self.tag, host, index)
                dns.add_a(name, sandbox['hosts'][host]['address'])
                self.dns_names.append(name)
                self.certs.append({'name': '%s-%s-%d' % (self.tag, host, index), 'domains': [name], 'hosts': [host]})

    def acme_host_vars(self):
        ssh = self.sandbox['ssh']
        values = self.extra_vars(
            renew_web_hosts=':'.join(WEB),
            renew_acme_host=ACME_HOST,
            cert_push_sftp_known_hosts=ssh['known_hosts'],
            acme_certificates_sftp_known_hosts=ssh['known_hosts'],
        )
        values.update(credential_extra_vars(ssh))
        return values


def credential_extra_vars(ssh):
    """The extra vars AWX injects from docs/awx/credential_type_sftp_acme_host.yml: the key as content, no file."""
    with open(CREDENTIAL_TYPE) as handle:
        injectors = yaml.safe_load(handle)['injectors']
    assert set(injectors) == {'extra_vars'}, 'a file injector would not reach the ACME host'
    with open(ssh['private_key']) as handle:
        inputs = {'ssh_key': handle.read(), 'username': ssh['user']}
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    values = dict((name, env.from_string(template).render(**inputs)) for name, template in injectors['extra_vars'].items())
    assert values['cert_push_sftp_private_key_content'] == inputs['ssh_key']
    # the challenge files for SFTP targets are written from the ACME host with the same key, no file there
    assert values['acme_certificates_sftp_private_key_content'] == inputs['ssh_key']
    assert values['acme_certificates_sftp_username'] == inputs['username']
    return values


@pytest.fixture
def acme_scenario(sandbox, sandbox_dns, tmp_path):
    made = []

    def make(per_host=1):
        store = tmp_path / ('store-%d' % len(made))
        store.mkdir()
        item = AcmeHostScenario(sandbox, sandbox_dns, store, per_host=per_host)
        made.append(item)
        return item
    yield make
    for item in made:
        item.cleanup(sandbox_dns)


def _deploy_round_trips(sandbox, result):
    """Module runs on the ACME host during the deploy play (from the -vvv output)."""
    out = result.stdout
    assert DEPLOY_PLAY in out, result.explain()
    play = out[out.index(DEPLOY_PLAY):]
    nxt = play.find('\nPLAY [', 1)
    play = play if nxt < 0 else play[:nxt]
    address = re.escape(sandbox['hosts'][ACME_HOST]['address'])
    return len(re.findall(r'^<%s> SSH: EXEC ' % address, play, re.M))


def _store_secrets(sc, sandbox):
    keys = []
    for cert in sc.certs:
        with open(os.path.join(str(sc.store), cert['name'], 'privkey.pem')) as handle:
            keys.append(handle.read())
    with open(sandbox['ssh']['private_key']) as handle:
        keys.append(handle.read())
    return keys


def _assert_no_key_text(result, keys):
    output = result.stdout + result.stderr
    assert 'PRIVATE KEY' not in output
    for pem in keys:
        for line in pem.splitlines():
            if line and not line.startswith('-----'):
                assert line not in output, 'a line of a private key body is in the output'


def test_store_on_a_dedicated_acme_host(sandbox, run_playbook, acme_scenario, tmp_path):
    inventory = _inventory(sandbox, tmp_path)
    small = acme_scenario(per_host=1)
    first = run_playbook(RENEW, inventory=inventory, extra_vars=small.acme_host_vars(), extra_args=('-vvv',))
    assert first.rc == 0, first.explain()
    assert_serving_store(sandbox, small)
    for host in WEB:
        cert = small.certs_of(host)[0]
        key = os.path.join(sandbox['hosts'][host]['cert_dir'], cert['name'], 'privkey.pem')
        assert os.stat(key).st_mode & 0o777 == 0o600
    # the ACME play ran on web3, not on the controller
    assert first.changed(ACME_HOST) > 0, first.explain()
    # one cert_bundle call per web host on the ansible transport, one for all sftp hosts
    bundle = first.task_results("Read this host's certificates and keys from the ACME host, checking every key "
                                "(one call, nothing shown)")
    assert sorted(bundle) == ['web1', 'web2']
    assert all('censored' in r for r in bundle.values()), 'the bundle result must be no_log'
    small_trips = _deploy_round_trips(sandbox, first)
    # web1 + web2 (one bundle each), appliance1: one check + one sftp_push
    assert 0 < small_trips <= 4, small_trips
    _assert_no_key_text(first, _store_secrets(small, sandbox))

    second = run_playbook(RENEW, inventory=inventory, extra_vars=small.acme_host_vars(), extra_args=('-vvv',))
    assert second.rc == 0, second.explain()
    for host in list(WEB) + [ACME_HOST, 'localhost']:
        assert second.changed(host) == 0, '%s changed on the second run\n%s' % (host, second.explain())
    assert _deploy_round_trips(sandbox, second) == small_trips
    _assert_no_key_text(second, _store_secrets(small, sandbox))

    # four times the certificates per host: the same number of round trips to the ACME host
    large = acme_scenario(per_host=4)
    big = run_playbook(RENEW, inventory=inventory, extra_vars=large.acme_host_vars(), extra_args=('-vvv',))
    assert big.rc == 0, big.explain()
    assert_serving_store(sandbox, large)
    assert len(large.certs) == 4 * len(small.certs)
    assert _deploy_round_trips(sandbox, big) == small_trips
    _assert_no_key_text(big, _store_secrets(large, sandbox))


PUSH_ONLY = '''
- name: Push from the dedicated ACME host
  hosts: web1:web2
  gather_facts: false
  tasks:
    - name: Push
      ansible.builtin.include_role:
        name: certpilot.tls.cert_push
      vars:
        cert_push_certificates: "{{ renew_certificates }}"
        cert_push_acme_host: web3
'''


def test_a_key_that_does_not_match_is_not_pushed_from_the_acme_host(sandbox, run_playbook, acme_scenario, tmp_path):
    inventory = _inventory(sandbox, tmp_path)
    sc = acme_scenario(per_host=1)
    first = run_playbook(RENEW, inventory=inventory, extra_vars=sc.acme_host_vars())
    assert first.rc == 0, first.explain()
    web1_cert = sc.certs_of('web1')[0]
    served_before = served(sandbox, 'web1', web1_cert['domains'][0])
    deployed_key = os.path.join(sandbox['hosts']['web1']['cert_dir'], web1_cert['name'], 'privkey.pem')
    with open(deployed_key, 'rb') as handle:
        old_key = handle.read()
    # the store on the ACME host now holds a key of another certificate for web1's certificate
    stored_key = os.path.join(str(sc.store), web1_cert['name'], 'privkey.pem')
    wrong = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with open(stored_key, 'w') as handle:
        handle.write(wrong)
    result = run_playbook(PUSH_ONLY, inventory=inventory, extra_vars=sc.acme_host_vars(), extra_args=('-vvv',))
    assert result.rc != 0
    assert result.failed_hosts() == ['web1'], result.explain()
    assert 'not pushing to web1' in result.stdout and 'the private key does not match the certificate' in result.stdout
    assert result.changed('web2') == 0, result.explain()
    _assert_no_key_text(result, [wrong, old_key.decode()])
    with open(deployed_key, 'rb') as handle:
        assert handle.read() == old_key
    assert served(sandbox, 'web1', web1_cert['domains'][0]) == served_before == store_fingerprint(sc.store, web1_cert['name'])


def test_cert_bundle_refuses_to_return_keys_without_no_log(sandbox, run_playbook, acme_scenario, tmp_path):
    store = tmp_path / ('nolog-%s' % uuid.uuid4().hex[:6])
    store.mkdir()
    task = {'name': 'bundle', 'certpilot.tls.cert_bundle': {
        'store': str(store), 'names': ['www'], 'include': ['fullchain', 'privkey']}}
    play = json.dumps([{'hosts': ACME_HOST, 'gather_facts': False, 'tasks': [task]}])
    result = run_playbook(play, inventory=_inventory(sandbox, tmp_path))
    assert result.rc != 0
    res = result.task_results('bundle')[ACME_HOST]
    assert 'the task must set no_log: true' in res['msg'], result.explain()
    assert 'certificates' not in res and 'bundle' not in res

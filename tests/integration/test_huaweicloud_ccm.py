# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""huaweicloud_ccm_certificate (issue 16 item 3) against our fake SCM API: certificates of a test CA held in CCM
are imported into the store, cert_push deploys one over real SSH to the sandbox's web1 and its nginx serves it;
a second run changes nothing; a wrong SK fails clearly without printing it; one missing id fails by name while the
others import; check mode and list mode write nothing; the docs and EXAMPLES run as written."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import hashlib
import json
import os
import sys
import uuid

import pytest
import yaml
from cryptography.hazmat.primitives import hashes

import helpers
from test_docs_examples import module_examples, web_inventory, yaml_blocks  # noqa: E402
from test_roles_renew import scenario  # noqa: F401  pylint: disable=unused-import

FAKES = os.path.join(helpers.REPO, 'tests', 'fakes')
if FAKES not in sys.path:
    sys.path.insert(0, FAKES)

from huaweicloud_scm.pytest_fixtures import scm  # noqa: E402,F401  pylint: disable=unused-import
from huaweicloud_scm.testkit import TestCa  # noqa: E402

pytestmark = pytest.mark.timeout(600)

IMPORT = 'Import from Huawei Cloud CCM'
PLAYBOOK = r'''
- name: Import from CCM into the store
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Import from Huawei Cloud CCM
      certpilot.tls.huaweicloud_ccm_certificate:
        endpoint: "{{ scm_endpoint }}"
        ca_bundle: "{{ scm_ca_bundle | default(omit) }}"
        domain_id: "{{ scm_domain_id }}"
        store: "{{ cert_push_store }}"
        certificates: "{{ ccm_certificates }}"
        chain_ca_bundle: "{{ corp_root }}"
        system_roots: false
        mode: "{{ ccm_mode | default('import') }}"
        list_filter: "{{ ccm_list_filter | default(omit) }}"
      register: imported

- name: Deploy from the store
  hosts: web1
  gather_facts: false
  roles:
    - role: certpilot.tls.cert_push
      vars:
        cert_push_certificates: "{{ push_certificates }}"
'''


@pytest.fixture(scope='module')
def test_ca():
    return TestCa('CCM itest')


def _env(scm, sk=None):
    return {'HUAWEICLOUD_SDK_AK': scm.ak, 'HUAWEICLOUD_SDK_SK': sk or scm.sk}


def _vars(scm, tmp_path, test_ca, **more):
    root = tmp_path / 'ccm-root.pem'
    root.write_text(test_ca.root_pem)
    out = {'scm_endpoint': scm.endpoint, 'scm_domain_id': scm.domain_id, 'corp_root': str(root),
           'push_certificates': []}
    if scm.ca_bundle:
        out['scm_ca_bundle'] = scm.ca_bundle
    out.update(more)
    return out


def _task(res, name=IMPORT):
    return res.task_results(name)['localhost']


def _fingerprint(cert):
    return cert.fingerprint(hashes.SHA256()).hex()


def test_ccm_certificate_is_imported_deployed_and_served_then_nothing_changes(
        sandbox, run_playbook, scenario, scm, test_ca, tmp_path):
    sc = scenario(hosts=('web1',), shared=False)
    cert_name, domain = sc.certs[0]['name'], sc.certs[0]['domains'][0]
    web, web_leaf = test_ca.issue(domain)
    other, other_leaf = test_ca.issue('other-%s.example.test' % sc.tag)
    ids = scm.admin.seed(dict(name='ccm-%s' % sc.tag, **web), dict(name='other-%s' % sc.tag, **other))
    try:
        extra = sc.extra_vars(**_vars(
            scm, tmp_path, test_ca,
            ccm_certificates=[{'name': cert_name, 'domain': domain},
                              {'name': sc.tag + '-other', 'certificate_id': ids[1]}],
            push_certificates=[{'name': cert_name, 'domains': [domain], 'hosts': ['web1']}]))
        first = run_playbook(PLAYBOOK, extra_vars=extra, env=_env(scm))
        assert first.rc == 0, first.explain()
        result = _task(first)
        item = result['certificates'][cert_name]
        assert item['action'] == 'imported' and item['ccm']['id'] == ids[0], first.explain()
        assert item['fingerprint_sha256'] == _fingerprint(web_leaf)
        assert result['certificates'][sc.tag + '-other']['fingerprint_sha256'] == _fingerprint(other_leaf)
        for secret in (scm.sk, web['private_key'], other['private_key'], 'PRIVATE KEY'):
            assert secret not in first.stdout and secret not in first.stderr
            assert secret not in json.dumps(first.results)
        info = sandbox['hosts']['web1']
        served = hashlib.sha256(helpers.tls_peer_cert(info['address'], info['https_port'], domain)).hexdigest()
        assert served == _fingerprint(web_leaf), 'web1 serves the CCM certificate for %s' % domain
        with open(os.path.join(str(sc.store), cert_name, 'issuer.json')) as handle:
            assert json.load(handle)['source'] == 'Huawei Cloud CCM %s' % ids[0]

        second = run_playbook(PLAYBOOK, extra_vars=extra, env=_env(scm))
        assert second.rc == 0, second.explain()
        assert _task(second)['certificates'][cert_name]['action'] == 'unchanged'
        assert (second.changed('localhost'), second.changed('web1')) == (0, 0), second.explain()

        # CCM renews: a new certificate id for the same domain, expiring later, is picked and deployed
        renewed, renewed_leaf = test_ca.issue(domain, days=120)
        ids += scm.admin.seed(dict(name='ccm-%s-renewed' % sc.tag, **renewed))
        third = run_playbook(PLAYBOOK, extra_vars=extra, env=_env(scm))
        assert third.rc == 0, third.explain()
        assert _task(third)['certificates'][cert_name]['ccm']['id'] == ids[2]
        served = hashlib.sha256(helpers.tls_peer_cert(info['address'], info['https_port'], domain)).hexdigest()
        assert served == _fingerprint(renewed_leaf)
    finally:
        scm.admin.remove(*ids)


def test_a_wrong_sk_fails_clearly_without_printing_it(run_playbook, scm, test_ca, tmp_path):
    wrong = 'wrong-sk-%s' % uuid.uuid4().hex
    extra = _vars(scm, tmp_path, test_ca, cert_push_store=str(tmp_path / 'store'),
                  ccm_certificates=[{'name': 'x', 'certificate_id': 'scs0000000000001'}])
    res = run_playbook(PLAYBOOK, extra_vars=extra, env=_env(scm, sk=wrong), extra_args=('--limit', 'localhost'))
    assert res.rc != 0
    result = _task(res)
    assert result['error_code'] == 'APIGW.0301' and result['http_status'] == 401
    assert result['request_id'] and result['request_id'] in result['msg']
    assert wrong not in res.stdout and wrong not in res.stderr and wrong not in json.dumps(res.results)
    assert not os.path.exists(str(tmp_path / 'store' / 'x'))


def test_one_missing_id_fails_by_name_while_the_others_import(run_playbook, scm, test_ca, tmp_path):
    tag = uuid.uuid4().hex[:8]
    good, leaf = test_ca.issue('good-%s.example.test' % tag)
    ids = scm.admin.seed(dict(name='good-%s' % tag, **good),
                         {'name': 'pending-%s' % tag, 'domain': 'pending-%s.example.test' % tag, 'status': 'CHECKING'})
    store = tmp_path / 'store'
    try:
        extra = _vars(scm, tmp_path, test_ca, cert_push_store=str(store), ccm_certificates=[
            {'name': 'missing', 'certificate_id': 'scs0000000000000'},
            {'name': 'good', 'certificate_id': ids[0]},
            {'name': 'pending', 'domain': 'pending-%s.example.test' % tag}])
        res = run_playbook(PLAYBOOK, extra_vars=extra, env=_env(scm), extra_args=('--limit', 'localhost'))
        assert res.rc != 0
        result = _task(res)
        assert result['failed_certificates'] == ['missing', 'pending'], res.explain()
        missing = result['certificates']['missing']
        assert missing['error_code'] == 'SCM.0020' and missing['request_id'] in missing['msg']
        assert 'is issued yet' in result['certificates']['pending']['msg']
        assert 'CHECKING' in result['certificates']['pending']['msg']
        assert 'missing: ' in result['msg'] and 'pending: ' in result['msg']
        assert result['certificates']['good']['action'] == 'imported'
        assert result['certificates']['good']['fingerprint_sha256'] == _fingerprint(leaf)
        assert os.path.isfile(os.path.join(str(store), 'good', 'current', 'fullchain.pem'))
        assert not os.path.exists(os.path.join(str(store), 'missing'))
        assert good['private_key'] not in res.stdout and good['private_key'] not in json.dumps(res.results)
    finally:
        scm.admin.remove(*ids)


def test_check_mode_and_list_mode_write_nothing(run_playbook, scm, test_ca, tmp_path):
    tag = uuid.uuid4().hex[:8]
    names = ['www-%s.example.test' % tag, 'api-%s.example.test' % tag]
    export, _leaf = test_ca.issue(names[0], sans=names)
    ids = scm.admin.seed(dict(name='www-%s' % tag, **export),
                         {'name': 'www-%s-next' % tag, 'domain': 'www-%s.example.test' % tag, 'status': 'CHECKING'})
    store = tmp_path / 'store'
    try:
        extra = _vars(scm, tmp_path, test_ca, cert_push_store=str(store),
                      ccm_certificates=[{'name': 'www', 'domain': 'api-%s.example.test' % tag}])
        before = len(scm.admin.calls())
        checked = run_playbook(PLAYBOOK, extra_vars=extra, env=_env(scm), check=True,
                               extra_args=('--limit', 'localhost'))
        assert checked.rc == 0, checked.explain()
        item = _task(checked)['certificates']['www']
        assert item['action'] == 'imported' and item['changed'] is True and item['generation'] is None
        assert not os.path.exists(os.path.join(str(store), 'www'))
        assert len(scm.admin.calls()) > before

        listed = run_playbook(PLAYBOOK, env=_env(scm), extra_args=('--limit', 'localhost'), extra_vars=dict(
            extra, ccm_mode='list', ccm_list_filter={'domain': 'www-%s.example.test' % tag}))
        assert listed.rc == 0, listed.explain()
        result = _task(listed)
        assert sorted(c['id'] for c in result['ccm_certificates']) == sorted(ids)
        assert sorted(c['status'] for c in result['ccm_certificates']) == ['CHECKING', 'ISSUED']
        assert result['certificates']['www']['action'] == 'found' and result['certificates']['www']['ccm']['id'] == ids[0]
        assert result['changed'] is False and not os.path.exists(os.path.join(str(store), 'www'))
        exports = [c for c in scm.admin.calls() if c['path'].endswith('/export')]
        assert all(c['request_id'] not in listed.stdout for c in exports)
        assert 'BEGIN CERTIFICATE' not in json.dumps(result)
    finally:
        scm.admin.remove(*ids)


def _docs_block(first_line):
    found = [text for rel, _name, first, text in yaml_blocks() if rel == 'docs/huaweicloud.md' and first == first_line]
    assert len(found) == 1, 'docs/huaweicloud.md no longer has the block starting %r' % first_line
    return found[0]


def test_docs_playbook_runs_as_written(sandbox, run_playbook, scenario, scm, test_ca, tmp_path):
    """docs/huaweicloud.md's playbook, verbatim, with its documented variables pointed at the sandbox."""
    playbook = tmp_path / 'ccm.yml'
    playbook.write_text(_docs_block('- name: Fetch the certificates from Huawei Cloud CCM into the store'))
    documented = yaml.safe_load(_docs_block('certpilot_store: /var/lib/certpilot/store'))
    sc = scenario(hosts=('web1',), shared=False)
    cert_name, domain = sc.certs[0]['name'], sc.certs[0]['domains'][0]
    export, leaf = test_ca.issue(domain)
    ids = scm.admin.seed(dict(name='docs-%s' % sc.tag, **export))
    root = tmp_path / 'private-ca.pem'
    root.write_text(test_ca.root_pem)
    overrides = sc.extra_vars(
        certpilot_store=str(sc.store), ccm_account_id=scm.domain_id, ccm_private_ca=str(root),
        ccm_region=scm.region,
        ccm_certificates=[dict(documented['ccm_certificates'][0], name=cert_name, domain=domain)],
        ccm_deploy=[dict(documented['ccm_deploy'][0], name=cert_name, domains=[domain], hosts=['web1'])])
    assert set(documented) <= set(overrides)
    env = dict(_env(scm), **{'HUAWEICLOUD_SDK_REGION_SCM_%s' % scm.region.replace('-', '_').upper(): scm.endpoint})
    if scm.ca_bundle:
        env['REQUESTS_CA_BUNDLE'] = scm.ca_bundle
    try:
        res = run_playbook(str(playbook), extra_vars=overrides, inventory=web_inventory(sandbox), env=env)
        assert res.rc == 0, res.explain()
        info = sandbox['hosts']['web1']
        served = hashlib.sha256(helpers.tls_peer_cert(info['address'], info['https_port'], domain)).hexdigest()
        assert served == _fingerprint(leaf)
    finally:
        scm.admin.remove(*ids)


def test_module_examples_run_as_written(run_playbook, scm, test_ca, tmp_path):
    """The EXAMPLES, with the store path pointed at a temporary directory and the region's endpoint at the fake
    (the SDK's HUAWEICLOUD_SDK_REGION_SCM_<REGION> variable); the play adds only the test CA as a trust anchor."""
    text = module_examples('huaweicloud_ccm_certificate')
    assert '/var/lib/certpilot/store' in text, 'EXAMPLES no longer use /var/lib/certpilot/store: update this test'
    tasks = yaml.safe_load(text.replace('/var/lib/certpilot/store', str(tmp_path / 'store')))
    www, www_leaf = test_ca.issue('www.example.com')
    shop, _shop_leaf = test_ca.issue('shop.example.com')
    api, _api_leaf = test_ca.issue('api.example.com')
    ids = scm.admin.seed(dict(name='www-example-com', **www), dict(name='shop', id='scs1700000000001', **shop),
                         dict(name='api-example-com', **api))
    root = tmp_path / 'root.pem'
    root.write_text(test_ca.root_pem)
    playbook = yaml.safe_dump([{
        'name': 'huaweicloud_ccm_certificate EXAMPLES', 'hosts': 'localhost', 'connection': 'local',
        'gather_facts': False,
        'module_defaults': {'certpilot.tls.huaweicloud_ccm_certificate': {
            'chain_ca_bundle': str(root), 'system_roots': False}},
        'tasks': copy.deepcopy(tasks)}])
    env = dict(_env(scm), HUAWEICLOUD_SDK_REGION_SCM_AP_SOUTHEAST_1=scm.endpoint)
    if scm.ca_bundle:
        env['REQUESTS_CA_BUNDLE'] = scm.ca_bundle
    try:
        res = run_playbook(playbook, env=env, extra_args=('--limit', 'localhost'), extra_vars={
            'huaweicloud_account_id': scm.domain_id, 'vault_huaweicloud_ak': scm.ak, 'vault_huaweicloud_sk': scm.sk})
        assert res.rc == 0, res.explain()
        listed = _task(res, tasks[0]['name'])
        assert ids[0] in [c['id'] for c in listed['ccm_certificates']]
        imported = _task(res, tasks[1]['name'])
        assert imported['certificates']['www']['fingerprint_sha256'] == _fingerprint(www_leaf)
        assert imported['certificates']['shop']['ccm']['id'] == 'scs1700000000001'
        assert _task(res, tasks[2]['name'])['certificates']['api']['action'] == 'imported'
    finally:
        scm.admin.remove(*ids)

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role argument specs catch the typical mistakes before anything is done (issue: a misspelled
``acme_certificates_list`` used to give a green no-op run that still registered an account)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

pytestmark = pytest.mark.timeout(300)

PLAY = """
- name: Role argument spec check
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run the role
      ansible.builtin.include_role:
        name: certpilot.tls.{role}
"""


def _vars(sandbox, tmp_path, **extra):
    data = {'acme_certificates_directory': sandbox['acme']['directory'],
            'acme_certificates_ca_bundle': sandbox['acme']['ca_bundle'],
            'acme_certificates_account_key_src': str(tmp_path / 'account.key'),
            'acme_certificates_store': str(tmp_path / 'store'),
            'acme_certificates_terms_agreed': True}
    data.update(extra)
    return data


def _refused(result, *words):
    text = result.stdout + result.stderr
    assert result.rc != 0, result.explain()
    assert 'Validating arguments against arg spec' in text, result.explain()
    for word in words:
        assert word in text, (word, result.explain())


def _nothing_done(tmp_path):
    assert not (tmp_path / 'account.key').exists(), 'an account key was created before the input was checked'
    assert not (tmp_path / 'store').exists(), 'the store was touched before the input was checked'


def test_misspelled_certificate_list_variable_is_refused(sandbox, run_playbook, tmp_path):
    extra = _vars(sandbox, tmp_path, acme_certificate_list=[{'name': 'www', 'domains': ['www.example.test']}])
    result = run_playbook(PLAY.format(role='acme_certificates'), extra_vars=extra)
    _refused(result, 'acme_certificates_list')
    _nothing_done(tmp_path)


def test_misspelled_item_key_is_refused_by_name(sandbox, run_playbook, tmp_path):
    extra = _vars(sandbox, tmp_path, acme_certificates_list=[
        {'name': 'www', 'domains': ['www.example.test'], 'hosts': ['web1']},
        {'name': 'api', 'domain': ['api.example.test'], 'hosts': ['web1']},
    ])
    result = run_playbook(PLAY.format(role='acme_certificates'), extra_vars=extra)
    _refused(result, 'acme_certificates_list.domain', 'Supported parameters include')
    _nothing_done(tmp_path)


def test_bad_challenge_and_eab_key_name_are_refused(sandbox, run_playbook, tmp_path):
    extra = _vars(sandbox, tmp_path,
                  acme_certificates_list=[{'name': 'www', 'domains': ['www.example.test'], 'challenge': 'http01'}],
                  acme_certificates_external_account_binding={'kid': 'kid-1', 'hmac_key': 'c2VjcmV0LW5vdC1wcmludGVk'})
    result = run_playbook(PLAY.format(role='acme_certificates'), extra_vars=extra)
    _refused(result, 'acme_certificates_external_account_binding.hmac_key', 'http01')
    assert 'c2VjcmV0LW5vdC1wcmludGVk' not in result.stdout + result.stderr
    _nothing_done(tmp_path)


def test_cert_push_item_typo_is_refused(sandbox, run_playbook, tmp_path):
    extra = {'cert_push_store': str(tmp_path / 'store'),
             'cert_push_certificates': [{'name': 'www', 'domains': ['www.example.test'], 'host': ['web1']}]}
    result = run_playbook(PLAY.format(role='cert_push'), extra_vars=extra)
    _refused(result, 'cert_push_certificates.host', 'Supported parameters include')


def test_alicloud_rotate_bad_region_and_types_are_refused(sandbox, run_playbook, tmp_path):
    extra = {'alicloud_rotate_certificate_src': str(tmp_path / 'fullchain.pem'),
             'alicloud_rotate_private_key_src': str(tmp_path / 'privkey.pem'),
             'alicloud_rotate_cdn_domains': ['static.example.test'],
             'alicloud_rotate_certificate_region': 'cn-beijing',
             'alicloud_rotate_prune_keep': 'two'}
    result = run_playbook(PLAY.format(role='alicloud_rotate'), extra_vars=extra)
    _refused(result, 'alicloud_rotate_certificate_region', 'cn-hangzhou', 'alicloud_rotate_prune_keep')
    # refused before the role's first task: no module ran, so nothing was sent anywhere
    assert 'Check the role input' not in result.stdout

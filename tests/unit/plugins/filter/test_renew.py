# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/plugin_utils/renew.py: the renew_certificates filter of playbooks/renew.yml."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.certpilot.tls.plugins.plugin_utils import renew

CERTS = [{'name': 'www', 'domains': ['www.example.com'], 'group': 'webservers'},
         {'name': 'api', 'domains': ['api.example.com'], 'hosts': ['web2']},
         {'name': 'bought', 'domains': ['shop.example.com'], 'hosts': ['web1']},
         {'name': 'internal', 'domains': ['intra.example.com'], 'hosts': ['web3']}]
IMPORTS = [{'name': 'bought', 'source': 'DigiCert', 'pem_paths': ['/srv/bought.pem']},
           {'name': 'internal', 'source': 'internal CA', 'directory': '/srv/drop'}]
ACME = {'www': {'action': 'order', 'issued': True, 'not_after': '2027-01-01T00:00:00Z', 'error': None},
        'api': {'action': 'order', 'issued': False, 'not_after': None,
                'error': 'api.example.com: http-01 validation failed:\n  connection refused'}}
IMPORTED = {'changed': True, 'certificates': {
    'bought': {'action': 'imported', 'changed': True, 'not_after': '2027-03-01T00:00:00Z', 'error': None},
    'internal': {'action': 'error', 'changed': False, 'not_after': None, 'error': 'chain does not verify'}}}


def test_the_filter_is_registered():
    plugin = importlib.import_module('ansible_collections.certpilot.tls.plugins.filter.renew_certificates')
    filters = plugin.FilterModule().filters()
    assert list(filters) == ['renew_certificates'] and filters['renew_certificates'] is renew.renew_certificates


def test_imported_names_are_never_ordered():
    views = renew.renew_certificates(CERTS, imports=IMPORTS)
    assert [c['name'] for c in views['acme']] == ['www', 'api']
    assert views['acme'][0] is CERTS[0]
    assert renew.renew_certificates(CERTS)['acme'] == CERTS
    assert renew.renew_certificates(CERTS, imports=[])['acme'] == CERTS


def test_results_join_acme_and_imports():
    views = renew.renew_certificates(CERTS, IMPORTS, ACME, IMPORTED)
    assert sorted(views['results']) == ['api', 'bought', 'internal', 'www']
    assert views['results']['www'] == ACME['www'] and views['results']['internal'] == IMPORTED['certificates']['internal']
    # the inputs are not changed
    assert sorted(ACME) == ['api', 'www'] and sorted(IMPORTED['certificates']) == ['bought', 'internal']


def test_deployable_drops_what_failed_without_a_certificate_in_order():
    views = renew.renew_certificates(CERTS, IMPORTS, ACME, IMPORTED)
    assert [c['name'] for c in views['deployable']] == ['www', 'bought']


def test_failed_names_acme_and_import_failures_on_one_line():
    views = renew.renew_certificates(CERTS, IMPORTS, ACME, IMPORTED)
    assert views['failed'] == {'api': 'api.example.com: http-01 validation failed: connection refused',
                               'internal': 'chain does not verify'}


def test_a_failed_renewal_with_a_current_certificate_is_still_deployed():
    acme = {'www': {'error': 'rejectedIdentifier', 'not_after': '2026-12-20T00:00:00Z'}}
    views = renew.renew_certificates(CERTS[:1], acme_result=acme)
    assert views['deployable'] == CERTS[:1] and views['failed'] == {'www': 'rejectedIdentifier'}


@pytest.mark.parametrize('import_result', [None, {}, {'skipped': True, 'changed': False}])
def test_no_results_every_certificate_is_deployable(import_result):
    views = renew.renew_certificates(CERTS, IMPORTS, None, import_result)
    assert views['deployable'] == CERTS and views['failed'] == {} and views['results'] == {}


def test_an_import_result_wins_over_an_acme_result_of_the_same_name():
    acme = {'bought': {'error': 'should not have been ordered', 'not_after': None}}
    views = renew.renew_certificates(CERTS, IMPORTS, acme, IMPORTED)
    assert views['results']['bought'] == IMPORTED['certificates']['bought'] and 'bought' not in views['failed']


@pytest.mark.parametrize('args, match', [
    (('nope',), 'renew_certificates input must be a list'),
    (([{'domains': ['x']}],), 'renew_certificates item 0 must be a dict with a name'),
    ((CERTS, 'bought'), 'imports must be a list'),
    ((CERTS, [{'source': 'x'}]), 'imports item 0 must be a dict with a name'),
    ((CERTS, None, ['www']), 'acme_result must be a dict'),
    ((CERTS, None, None, 'x'), 'import_result must be a dict'),
    ((CERTS, None, None, {'certificates': ['bought']}), 'import_result.certificates must be a dict'),
    ((CERTS, None, {'www': 'issued'}), r'acme_certificates_result\[www\] must be a dict'),
])
def test_bad_input_is_a_filter_error(args, match):
    with pytest.raises(AnsibleFilterError, match=match):
        renew.renew_certificates(*args)

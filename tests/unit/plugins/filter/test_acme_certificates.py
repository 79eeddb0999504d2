# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the acme_certificates role's failure filters (acme_failures, acme_failure_summary, acme_deployable)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.certpilot.tls.plugins.plugin_utils import acme_certificates as f

RESULT = {
    'www': {'action': 'order', 'issued': True, 'not_after': '2027-01-01T00:00:00Z', 'error': None},
    'api': {'action': 'order', 'issued': False, 'not_after': None,
            'error': 'api.example.com: http-01 validation failed:\n  connection: refused'},
    'old': {'action': 'order', 'issued': False, 'not_after': '2026-12-20T00:00:00Z', 'error': 'rejectedIdentifier'},
    'shop': {'action': 'skipped', 'issued': False, 'not_after': None,
             'error': 'skipped: rate-limited until 2026-12-03T04:00:00Z'},
    'idle': {'action': 'none', 'issued': False, 'not_after': '2027-02-01T00:00:00Z', 'error': ''},
}


def test_filters_are_registered():
    # one filter plugin file per filter, each registering only its own name and the shared implementation
    for name in ['acme_failures', 'acme_failure_summary', 'acme_deployable']:
        plugin = importlib.import_module('ansible_collections.certpilot.tls.plugins.filter.' + name)
        filters = plugin.FilterModule().filters()
        assert list(filters) == [name]
        assert filters[name].__module__ == f.__name__


def test_failures_are_the_entries_with_an_error_on_one_line():
    assert f.failures(RESULT) == {
        'api': 'api.example.com: http-01 validation failed: connection: refused',
        'old': 'rejectedIdentifier',
        'shop': 'skipped: rate-limited until 2026-12-03T04:00:00Z',
    }
    assert f.failures({}) == {} and f.failures(None) == {}


def test_summary_is_one_sorted_line_naming_each():
    line = f.failure_summary(f.failures(RESULT))
    assert '\n' not in line
    assert line == ('3 certificates failed: api: api.example.com: http-01 validation failed: connection: refused; '
                    'old: rejectedIdentifier; shop: skipped: rate-limited until 2026-12-03T04:00:00Z')
    assert f.failure_summary({'a': 'x'}) == '1 certificate failed: a: x'
    assert f.failure_summary({}) == ''


def test_deployable_drops_only_failed_certificates_with_nothing_in_the_store():
    certs = [{'name': n, 'domains': ['%s.example.com' % n]} for n in ('www', 'api', 'old', 'shop', 'idle', 'new')]
    got = f.deployable(certs, RESULT)
    # api and shop failed and have no certificate; old failed to renew but its current certificate is deployed;
    # new has no result at all (e.g. check mode) and is kept
    assert [c['name'] for c in got] == ['www', 'old', 'idle', 'new']
    assert got[0] is certs[0]
    assert f.deployable(certs, {}) == certs


@pytest.mark.parametrize('call, words', [
    (lambda: f.failures(['x']), 'must be a dict'),
    (lambda: f.failures({'a': 'x'}), 'acme_certificates_result[a] must be a dict'),
    (lambda: f.failure_summary('x'), 'must be a dict'),
    (lambda: f.deployable('www', {}), 'must be a list'),
    (lambda: f.deployable([{'domains': []}], {}), 'certificate 0 must be a dict with a name'),
    (lambda: f.deployable([], 'x'), 'must be a dict'),
])
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(AnsibleFilterError) as err:
        call()
    assert words in str(err.value)

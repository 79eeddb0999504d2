# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/module_utils/tls/renewal_owner.py and the renewed_by of tls_expiry_facts results."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.acme import store
from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.tls import renewal_owner
from ansible_collections.certpilot.tls.plugins.module_utils.tls.endpoints import parse_endpoint, parse_file
from ansible_collections.certpilot.tls.plugins.module_utils.tls.facts import Options, collect
from ansible_collections.certpilot.tls.tests.unit.plugins.module_utils.tls.tls_unit_helpers import DAY, NOW

SOURCE = 'Internal CA (pki-team@example.test)'


def _store_dir(tmp_path, issuer):
    """<store>/<name>/ as cert_import leaves it: current -> generations/1, issuer.json -> current/issuer.json."""
    name = tmp_path / 'store' / 'intranet'
    generation = name / 'generations' / '1'
    generation.mkdir(parents=True)
    if issuer is not None:
        (generation / 'issuer.json').write_text(issuer if isinstance(issuer, str) else json.dumps(issuer))
        os.symlink('current/issuer.json', str(name / 'issuer.json'))
    os.symlink('generations/1', str(name / 'current'))
    return name


def test_import_kind_is_the_store_one():
    assert renewal_owner.IMPORT_KIND == store.IMPORT_KIND
    assert store.imported_source({'kind': renewal_owner.IMPORT_KIND, 'source': 'x'}) == 'x'


@pytest.mark.parametrize('issuer, expected', [
    ({'kind': 'import', 'source': SOURCE}, SOURCE),
    ({'kind': 'import', 'source': '  two\n lines  '}, 'two lines'),
    ({'kind': 'import'}, 'unknown source'),
    ({'kind': 'import', 'source': 7}, 'unknown source'),
    ({'directory': 'https://acme.example/dir'}, None),  # ACME-issued: certpilot renews it
    ('not json', None),
    ('[1, 2]', None),
    (None, None),  # no record at all
])
def test_imported_from_reads_the_record_next_to_the_file(tmp_path, issuer, expected):
    name = _store_dir(tmp_path, issuer)
    assert renewal_owner.imported_from(str(name / 'fullchain.pem')) == expected
    assert renewal_owner.imported_from(str(name / 'current' / 'fullchain.pem')) == expected


def test_an_oversized_record_is_not_read(tmp_path):
    name = _store_dir(tmp_path, json.dumps({'kind': 'import', 'source': 'x' * (renewal_owner.MAX_BYTES + 10)}))
    assert renewal_owner.imported_from(str(name / 'fullchain.pem')) is None


def test_the_note_only_for_a_status_that_needs_someone():
    assert 'up to PKI' in renewal_owner.renewal_note('critical', 'PKI')
    assert renewal_owner.renewal_note('expired', 'PKI') and renewal_owner.renewal_note('warning', 'PKI')
    assert renewal_owner.renewal_note('ok', 'PKI') is None and renewal_owner.renewal_note('invalid', 'PKI') is None
    assert renewal_owner.renewal_note('critical', None) is None


def test_entries_take_renewed_by_bounded():
    assert parse_endpoint({'host': 'a.test', 'renewed_by': ' PKI  team '}).renewed_by == 'PKI team'
    assert parse_endpoint({'host': 'a.test'}).renewed_by is None
    assert parse_file({'path': '/x', 'renewed_by': 'Vendor'}).renewed_by == 'Vendor'
    with pytest.raises(CertpilotError, match='renewed_by: expected a text'):
        parse_file({'path': '/x', 'renewed_by': ['a']})
    with pytest.raises(CertpilotError, match='at most 200'):
        parse_endpoint({'host': 'a.test', 'renewed_by': 'x' * 201})


def test_an_imported_store_file_names_who_renews_it(pki, tmp_path):
    name = _store_dir(tmp_path, {'kind': 'import', 'source': SOURCE, 'imported_at': '2026-12-01T00:00:00Z'})
    soon = pki.leaf('intranet.unit.test', not_after=NOW + 3 * DAY, not_before=NOW - 87 * DAY)
    fine = pki.leaf('fine.unit.test', not_after=NOW + 80 * DAY, not_before=NOW - 10 * DAY)
    (name / 'generations' / '1' / 'fullchain.pem').write_bytes(soon.pem + pki.inter.pem)
    os.symlink('current/fullchain.pem', str(name / 'fullchain.pem'))
    acme_dir = _store_dir(tmp_path / 'acme', {'directory': 'https://acme.example/dir'})
    (acme_dir / 'generations' / '1' / 'fullchain.pem').write_bytes(soon.pem + pki.inter.pem)
    other = tmp_path / 'bought.pem'
    other.write_bytes(fine.pem + pki.inter.pem)
    root = tmp_path / 'root.pem'
    root.write_bytes(pki.root.pem)
    facts, _failing = collect(files=[str(name / 'fullchain.pem'), str(acme_dir / 'current' / 'fullchain.pem'),
                                     {'path': str(other), 'renewed_by': 'Vendor portal'},
                                     {'path': str(name / 'fullchain.pem'), 'renewed_by': 'Overridden'}],
                              options=Options(ca_bundle=str(root), system_roots=False), now=NOW)
    imported, acme, bought, overridden = facts['results']
    assert imported['status'] == 'critical' and imported['renewed_by'] == SOURCE
    assert imported['reason'].startswith('expires in 3.0 days') and 'renewal is up to %s' % SOURCE in imported['reason']
    assert acme['status'] == 'critical' and acme['renewed_by'] is None and 'renewal is up to' not in acme['reason']
    assert bought['status'] == 'ok' and bought['renewed_by'] == 'Vendor portal' and bought['reason'] is None
    assert overridden['renewed_by'] == 'Overridden' and 'up to Overridden' in overridden['reason']

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The expiry report flags an imported certificate nearing expiry with who must renew it (its source).

Real modules end to end on localhost: certpilot.tls.cert_import puts an internal CA's certificate that
expires in 3 days (and one that has 80 days left) into a store; the certpilot.tls.expiry_report role then
checks the store files. The JSON and Markdown reports must name the source recorded at import for the
one nearing expiry, and nothing for the healthy one.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import sys

import pytest

from test_cert_import import _issue, _key_pem, _pem

pytestmark = pytest.mark.timeout(300)

SOURCE = 'corp internal CA (pki@corp.test)'

PLAYBOOK = r'''
- name: Import, then report
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Import the internal CA's certificates
      certpilot.tls.cert_import:
        store: "{{ store }}"
        certificates: "{{ import_certificates }}"
        ca_bundle: "{{ corp_root }}"
        system_roots: false

    - name: Report on the store files
      ansible.builtin.include_role:
        name: certpilot.tls.expiry_report
      vars:
        expiry_report_files:
          - "{{ store }}/soon/fullchain.pem"
          - "{{ store }}/later/fullchain.pem"
        expiry_report_ca_bundle: "{{ corp_root }}"
        expiry_report_system_roots: false
        expiry_report_dir: "{{ report_dir }}"
        expiry_report_formats: [json, markdown]
        expiry_report_return_results: full
'''


def test_report_names_the_source_of_an_imported_certificate_nearing_expiry(run_playbook, tmp_path):
    root = _issue('corp root imported-expiry', ca=True, days=3650)
    soon = _issue('soon.corp.test', issuer=root, dns=['soon.corp.test'], days=3)
    later = _issue('later.corp.test', issuer=root, dns=['later.corp.test'], days=80)
    (tmp_path / 'corp-root.pem').write_bytes(_pem(root[0]))
    report_dir = tmp_path / 'report'
    report_dir.mkdir()
    inventory = {'all': {'hosts': {'localhost': {'ansible_connection': 'local',
                                                 'ansible_python_interpreter': sys.executable}}}}
    extra = {
        'store': str(tmp_path / 'store'), 'corp_root': str(tmp_path / 'corp-root.pem'), 'report_dir': str(report_dir),
        'import_certificates': [
            {'name': name, 'source': SOURCE, 'pem_content': [(_pem(cert) + _key_pem(key)).decode()]}
            for name, (cert, key) in (('soon', soon), ('later', later))],
    }
    run = run_playbook(PLAYBOOK, extra_vars=extra, inventory=inventory)
    assert run.rc == 0, run.explain()
    data = json.loads((report_dir / 'tls-expiry.json').read_text())
    by_name = dict((r['name'].rsplit('/', 2)[-2], r) for r in data['results'])
    assert by_name['soon']['status'] == 'critical', by_name['soon']
    assert by_name['soon']['renewed_by'] == SOURCE
    assert by_name['soon']['reason'].endswith('not renewed by certpilot: renewal is up to %s' % SOURCE)
    assert by_name['later']['status'] == 'ok' and by_name['later']['renewed_by'] == SOURCE
    assert by_name['later']['reason'] is None
    markdown = (report_dir / 'tls-expiry.md').read_text()
    rows = [line for line in markdown.splitlines() if 'soon/fullchain.pem' in line]
    assert rows and all('renewal is up to %s' % SOURCE in row for row in rows), markdown

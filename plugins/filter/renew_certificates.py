# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The renew_certificates filter (logic in plugins/plugin_utils/renew.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: renew_certificates
author: certpilot.tls contributors
version_added: 0.2.0
short_description: What the renew playbook does with each certificate - order, deploy, report as failed
description:
  - Joins the two sources of the C(certpilot.tls.renew) playbook - the P(certpilot.tls.acme_certificates#role)
    role (C(acme_certificates_result)) and M(certpilot.tls.cert_import) (C(renew_imports)) - and gives the
    views the playbook needs, so that no play combines them in Jinja.
  - A certificate listed in O(imports) is never ordered over ACME (its source renews it), not even when its
    import failed.
  - A certificate that failed (ACME or import) and has no certificate in the store is not deployed; one whose
    renewal failed but that has a current certificate is (see P(certpilot.tls.acme_deployable#filter)).
  - A missing result (O(acme_result) or O(import_result) not given, or without an entry for a certificate) removes
    nothing, so in check mode, or when a play did not run on the ACME host, the certificates are deployed as they are.
options:
  _input:
    description: The certificates, C(renew_certificates) (items with a C(name)).
    type: list
    elements: dict
    required: true
  imports:
    description: The certificates that come from elsewhere, C(renew_imports) (items with a C(name)).
    type: list
    elements: dict
  acme_result:
    description: The fact C(acme_certificates_result) of the ACME host.
    type: dict
  import_result:
    description: The registered result of the M(certpilot.tls.cert_import) task (may be skipped).
    type: dict
"""

EXAMPLES = r"""
- name: Order what is not imported
  ansible.builtin.include_role:
    name: certpilot.tls.acme_certificates
  vars:
    acme_certificates_list: "{{ (renew_certificates | certpilot.tls.renew_certificates(imports=renew_imports)).acme }}"

- name: Push what can be deployed
  ansible.builtin.include_role:
    name: certpilot.tls.cert_push
  vars:
    cert_push_certificates: >-
      {{ (renew_certificates | certpilot.tls.renew_certificates(
            acme_result=hostvars['localhost'].acme_certificates_result | default({}),
            import_result=hostvars['localhost']._renew_import | default({}))).deployable }}

- name: Fail naming every failed certificate
  ansible.builtin.fail:
    msg: "{{ _failed | certpilot.tls.acme_failure_summary }}"
  vars:
    _failed: >-
      {{ (renew_certificates | certpilot.tls.renew_certificates(acme_result=acme_certificates_result | default({}),
         import_result=_renew_import)).failed }}
  when: _failed | length > 0
"""

RETURN = r"""
_value:
  description: The views of the certificates.
  type: dict
  contains:
    acme:
      description: The certificates of the input to order over ACME (without those in O(imports)), in their order.
      type: list
      elements: dict
    results:
      description: O(acme_result) and the C(certificates) of O(import_result) in one dict by certificate name.
      type: dict
    deployable:
      description: The certificates of the input that can be deployed, in their order.
      type: list
      elements: dict
    failed:
      description: The certificates that failed (ACME or import), name to the reason on one line.
      type: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.renew import renew_certificates  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'renew_certificates': renew_certificates}

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The acme_certificates_http_by_host filter (logic in plugins/plugin_utils/acme_certificates.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: acme_certificates_http_by_host
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The http-01 files each web host must serve, from the challenges of acme_order
description:
  - Groups the V(http-01) challenges returned by M(certpilot.tls.acme_order) by the host serving their
    certificate, one entry per host, in the order the challenges first name it, each token once.
  - The webroot of a host is its variable named O(webroot_var), else O(webroot). A host whose
    C(cert_push_transport) is V(sftp) (no Python) gets its files through M(certpilot.tls.sftp_push)
    (C(target) and C(cleanup) are its targets), the others through M(certpilot.tls.acme_http01_files)
    (C(webroot) and C(files)).
  - Used by the P(certpilot.tls.acme_certificates#role) role.
positional: by_cert, hostvars, webroot_var, webroot
options:
  _input:
    description: The C(challenges) returned by M(certpilot.tls.acme_order) (C(type), C(certificate), C(token), C(key_authorization)).
    type: list
    elements: dict
    required: true
  by_cert:
    description: The output of P(certpilot.tls.acme_certificates_hosts_by_cert#filter).
    type: dict
    required: true
  hostvars:
    description: The magic variable C(hostvars).
    type: dict
    required: true
  webroot_var:
    description: The name of the host variable holding a host's webroot.
    type: str
    required: true
  webroot:
    description: The webroot of a host without that variable.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Put the http-01 files in the webroot of every host
  certpilot.tls.acme_http01_files:
    webroot: "{{ item.webroot }}"
    challenges: "{{ item.files }}"
  loop: "{{ order.challenges | certpilot.tls.acme_certificates_http_by_host(by_cert, hostvars, 'nginx_webroot_path', '/var/www/acme')
            | rejectattr('sftp') | list }}"
  delegate_to: "{{ item.host }}"
"""

RETURN = r"""
_value:
  description:
    - One dict per host - V(host), V(webroot), V(sftp) (boolean), V(files) (V(token), V(key_authorization)),
      V(target) and V(cleanup) (M(certpilot.tls.sftp_push) targets writing and removing the files).
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.acme_certificates import http_by_host  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'acme_certificates_http_by_host': http_by_host}

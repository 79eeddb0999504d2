# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_sftp_targets filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_sftp_targets
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The sftp_push targets of the hosts using the sftp transport
description:
  - One M(certpilot.tls.sftp_push) target per host of the input whose C(cert_push_transport) is V(sftp) and
    that serves a certificate - its address and SSH port, the store files (and the server blocks), the
    endpoints to verify, V(nginx -t -q -c <conf>) as validate command and one reload mechanism.
  - Certificates in the setting V(missing) (not issued yet, check mode) are left out.
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: hostvars, groups, certificates, settings, rendered
options:
  _input:
    description: The hosts to consider (the magic variable C(ansible_play_hosts)); only those whose C(cert_push_transport) is V(sftp) are used.
    type: list
    elements: str
    required: true
  hostvars:
    description: The magic variable C(hostvars).
    type: dict
    required: true
  groups:
    description: The inventory groups (the magic variable C(groups)); a certificate's C(group) adds its hosts.
    type: dict
    required: true
  certificates:
    description: The certificates, as in C(cert_push_certificates) (items with C(name), C(domains), C(hosts), C(group)).
    type: list
    elements: dict
    required: true
  settings:
    description:
      - The role's settings, by the role variable name without its C(cert_push_) prefix - V(dest_dir), V(store),
        V(missing) (certificates not issued yet, skipped), V(verify), V(verify_port), V(verify_wildcard_label),
        V(cert_mode), V(key_mode), V(chain), V(vhost), V(listen_address), V(https_port), V(nginx_conf_dir),
        V(nginx_binary), V(nginx_conf), V(reload), V(reload_timeout), V(reload_service), V(reload_pid_file),
        V(reload_signal).
      - A host variable C(cert_push_<name>) overrides V(dest_dir), V(listen_address), V(https_port),
        V(nginx_conf_dir), V(nginx_binary), V(nginx_conf) and the V(reload*) settings for that host.
    type: dict
    required: true
  rendered:
    description: The text of each server block, by its C(id) (rendered by the role's C(vhost.conf.j2)).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Push to every host without Python over SFTP
  certpilot.tls.sftp_push:
    targets: >-
      {{ ansible_play_hosts | certpilot.tls.cert_push_sftp_targets(hostvars, groups, cert_push_certificates,
         settings, rendered) }}
    known_hosts: /etc/certpilot/known_hosts
  run_once: true
"""

RETURN = r"""
_value:
  description: One M(certpilot.tls.sftp_push) target per host.
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import sftp_targets  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_sftp_targets': sftp_targets}

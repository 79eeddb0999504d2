# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_sftp_server_blocks filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_sftp_server_blocks
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The nginx server blocks of the hosts using the sftp transport
description:
  - Like P(certpilot.tls.cert_push_server_blocks#filter), for every host of the input whose
    C(cert_push_transport) is V(sftp), with that host's variables (empty unless the setting V(vhost)).
  - The role renders them with its C(vhost.conf.j2) before building the targets with
    P(certpilot.tls.cert_push_sftp_targets#filter).
  - Used by the P(certpilot.tls.cert_push#role) role.
positional: hostvars, groups, certificates, settings
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
"""

EXAMPLES = r"""
- name: Server blocks of the SFTP hosts
  ansible.builtin.debug:
    msg: >-
      {{ ansible_play_hosts | certpilot.tls.cert_push_sftp_server_blocks(hostvars, groups,
         cert_push_certificates, settings) | map(attribute='dest') }}
"""

RETURN = r"""
_value:
  description: One dict per host and certificate, as returned by P(certpilot.tls.cert_push_server_blocks#filter).
  type: list
  elements: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import sftp_server_blocks  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_sftp_server_blocks': sftp_server_blocks}

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the filters certpilot.tls.cert_push_sftp_server_blocks and certpilot.tls.cert_push_sftp_targets."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
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
'''

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_target_service filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_target_service
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The service the cert_push role reloads by default for a deploy target
description:
  - O(haproxy_service) for V(haproxy), O(apache_service) for V(apache), else O(nginx_service) (V(nginx), and
    V(command), which has no service of its own).
  - The default of O(certpilot.tls.cert_push#role:main:cert_push_reload_service) in the
    P(certpilot.tls.cert_push#role) role.
positional: nginx_service, haproxy_service, apache_service
options:
  _input:
    description: The deploy target.
    type: str
    required: true
    choices: [nginx, haproxy, apache, command]
  nginx_service:
    description: nginx's service.
    type: str
    default: nginx
  haproxy_service:
    description: HAProxy's service.
    type: str
    default: haproxy
  apache_service:
    description: Apache's service.
    type: str
    default: apache2
"""

EXAMPLES = r"""
- name: The service reloaded after a haproxy deploy
  ansible.builtin.debug:
    msg: "{{ 'haproxy' | certpilot.tls.cert_push_target_service('nginx', 'haproxy', 'apache2') }}"
"""

RETURN = r"""
_value:
  description: The service name.
  type: str
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import target_service  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_target_service': target_service}

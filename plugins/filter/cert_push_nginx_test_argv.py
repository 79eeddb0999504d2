# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_push_nginx_test_argv filter (logic in plugins/plugin_utils/cert_push.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: cert_push_nginx_test_argv
author: certpilot.tls contributors
version_added: 0.2.0
short_description: The command testing an nginx configuration
description:
  - V([<binary>, -t, -q, -c, <conf>]) - test the configuration, quiet unless it fails.
  - The one definition of that command in the P(certpilot.tls.cert_push#role) role, for both transports.
positional: conf
options:
  _input:
    description: The nginx binary.
    type: str
    required: true
  conf:
    description: The main nginx configuration file.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Install and test nginx
  certpilot.tls.cert_files:
    files: []
    validate_command: "{{ '/usr/sbin/nginx' | certpilot.tls.cert_push_nginx_test_argv('/etc/nginx/nginx.conf') }}"
"""

RETURN = r"""
_value:
  description: The command, one argument per item.
  type: list
  elements: str
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.cert_push import nginx_test_argv  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'cert_push_nginx_test_argv': nginx_test_argv}

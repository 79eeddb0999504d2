# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The template_each filter (logic in plugins/plugin_utils/template_each.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: template_each
author: certpilot.tls contributors
version_added: 0.3.0
short_description: Render a config-file template once per item, in one pass
description:
  - Renders the Jinja2 text O(template_text) once for each item of the input list, with the item as the
    only variable (named O(var_name)), and returns the texts by the item's O(key).
  - For many small files (one nginx server block per certificate). A C(set_fact) loop or one
    C(lookup('ansible.builtin.template')) per item copies every host variable on each call, which costs
    minutes for a few hundred items. This renders 500 items in well under a second.
  - The settings of Ansible's template lookup that matter for a config file are kept - C(trim_blocks),
    trailing newlines kept, no autoescape. An undefined variable is an error, never an empty string.
  - Only the item is visible to the template (no host variables, no Ansible filters or lookups); the
    standard Jinja2 filters (C(join), C(default), ...) are available.
  - Read the template with C(lookup('ansible.builtin.file', path, rstrip=false)) so that its last newline is kept.
positional: template_text, var_name, key
options:
  _input:
    description: The items, one dict each.
    type: list
    elements: dict
    required: true
  template_text:
    description: The Jinja2 template text.
    type: str
    required: true
  var_name:
    description: The name under which the template sees the item.
    type: str
    required: true
  key:
    description: The key of each item whose value names its rendered text (unique).
    type: str
    default: id
"""

EXAMPLES = r"""
- name: Render one server block per certificate, in one pass
  ansible.builtin.set_fact:
    rendered: "{{ blocks | certpilot.tls.template_each(lookup('ansible.builtin.file', 'templates/vhost.conf.j2', rstrip=false),
      'vhost') }}"
  vars:
    blocks:
      - {id: www.example.com, domains: [www.example.com, example.com], port: 443}
      - {id: api.example.com, domains: [api.example.com], port: 8443}
"""

RETURN = r"""
_value:
  description: The rendered text of each item, by the value of its O(key).
  type: dict
"""

from ansible_collections.certpilot.tls.plugins.plugin_utils.template_each import template_each  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {'template_each': template_each}

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render one small config-file template once per item, in one pass (the ``template_each`` filter).

``lookup('ansible.builtin.template')`` deep-copies every variable of the host on each call (the
``cert_bundle`` result with all certificates included), so rendering N server blocks with it, or with a
``set_fact`` loop, costs O(N^2): about 8 s for 50 certificates on three hosts and minutes for 500. Here
the template is compiled once and rendered with only the item as its variables, with the settings of
Ansible's template lookup that matter for a config file: ``trim_blocks``, no ``lstrip_blocks``, trailing
newlines kept, no autoescape, and an undefined name is an error (never an empty string in a config).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment


def _environment():
    return ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=False, keep_trailing_newline=True,
                                         autoescape=False, undefined=StrictUndefined)


def template_each(items, template_text, var_name, key='id'):
    """``{item[key]: text}``: ``template_text`` rendered once per item, the item bound to ``var_name``."""
    if not isinstance(items, list):
        raise AnsibleFilterError('template_each: the items must be a list, got %s' % type(items).__name__)
    if not isinstance(template_text, str) or not template_text:
        raise AnsibleFilterError('template_each: the template text must be a non-empty string')
    if not isinstance(var_name, str) or not var_name.isidentifier():
        raise AnsibleFilterError('template_each: the variable name must be an identifier, got %r' % (var_name,))
    try:
        template = _environment().from_string(template_text)
    except TemplateError as exc:
        raise AnsibleFilterError('template_each: the template does not compile: %s' % exc)
    out = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or key not in item:
            raise AnsibleFilterError('template_each: item %d has no %r' % (index, key))
        name = str(item[key])
        if name in out:
            raise AnsibleFilterError('template_each: two items have the %s %s' % (key, name))
        try:
            out[name] = template.render({var_name: item})
        except TemplateError as exc:
            raise AnsibleFilterError('template_each: %s: %s' % (name, exc))
    return out

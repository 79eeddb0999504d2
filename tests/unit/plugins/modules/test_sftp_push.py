# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sftp_push's argument spec: files items (top level and per target) have real suboptions."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.ssh.runner import build_hosts
from ansible_collections.certpilot.tls.plugins.modules import sftp_push


def _validate(files=None, target_files=None):
    params = {'known_hosts': '/etc/certpilot/known_hosts',
              'targets': [{'name': 'h1', 'address': '192.0.2.1', 'files': target_files or []}],
              'files': files or []}
    return ArgumentSpecValidator(sftp_push.argument_spec()).validate(params)


@pytest.mark.parametrize('where', ['files', 'target_files'])
def test_unknown_file_keys_are_refused_by_the_argument_spec(where):
    result = _validate(**{where: [{'dest': '/etc/x.pem', 'content': 'x', 'owner': 'root'}]})
    assert any('owner' in msg for msg in result.error_messages), result.error_messages


@pytest.mark.parametrize('item, missing', [
    ({'content': 'x'}, 'dest'),
    ({'dest': '/etc/x.pem', 'verify': [{'port': 443}]}, 'server_name'),
])
def test_required_file_and_verify_keys(item, missing):
    result = _validate(files=[item])
    assert any(missing in msg for msg in result.error_messages), result.error_messages


def test_file_items_get_types_and_defaults():
    result = _validate(files=[{'dest': '/etc/k.pem', 'content': 'k', 'secret': 'yes', 'mode': '0600',
                               'verify': [{'server_name': 'www.example.test', 'port': '8443'}]}],
                       target_files=[{'dest': '/etc/c.pem', 'content': 'c'}])
    assert not result.error_messages, result.error_messages
    params = result.validated_parameters
    top = params['files'][0]
    assert top['secret'] is True and top['state'] == 'present' and top['mode'] == '0600'
    assert top['verify'] == [{'server_name': 'www.example.test', 'port': 8443, 'address': None}]
    own = params['targets'][0]['files'][0]
    assert own['secret'] is False and own['state'] == 'present' and own['verify'] == [] and own['src'] is None
    # What the spec produced is what the runner builds on: the secret flag and the verify endpoint arrive.
    params.update(concurrency=1, command_timeout=5, total_timeout=10)
    specs = dict((spec.dest, spec) for spec in build_hosts(params)[0].specs)
    assert specs['/etc/k.pem'].secret is True and specs['/etc/c.pem'].secret is False
    assert specs['/etc/k.pem'].verify == [{'server_name': 'www.example.test', 'address': '192.0.2.1', 'port': 8443}]
    assert specs['/etc/k.pem'].mode == 0o600 and specs['/etc/c.pem'].mode == 0o644


@pytest.mark.parametrize('item', [{'dest': '/etc/x', 'state': 'gone'}, {'dest': '/etc/x', 'secret': 'perhaps'},
                                  {'dest': '/etc/x', 'verify': [{'server_name': 'a', 'port': 'https'}]}])
def test_bad_values_are_refused(item):
    assert _validate(files=[item]).error_messages


def test_src_and_content_together_are_refused_by_the_runner():
    params = _validate(files=[{'dest': '/etc/x', 'src': '/tmp/x', 'content': 'x'}]).validated_parameters
    with pytest.raises(CertpilotError, match='mutually exclusive'):
        build_hosts(params)

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""acme/module_runtime.py: what every acme_* module run does around its work (no AnsibleModule needed)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError
from ansible_collections.certpilot.tls.plugins.module_utils.acme import module_runtime
from ansible_collections.certpilot.tls.plugins.module_utils.acme.jws import AcmeKey, generate_private_key, private_key_pem

pytestmark = pytest.mark.timeout(60)


def _params(**kwargs):
    params = dict((k, v.get('default')) for k, v in module_runtime.common_argument_spec().items())
    params.update(acme_directory='https://ca.example/dir')
    params.update(kwargs)
    return params


def test_the_connection_options():
    spec = module_runtime.common_argument_spec()
    assert sorted(spec) == ['account_key_content', 'account_key_passphrase', 'account_key_src', 'acme_directory',
                            'ca_bundle', 'timeout', 'validate_certs']
    assert spec['account_key_content']['no_log'] and spec['account_key_passphrase']['no_log']
    assert module_runtime.missing_libs() == []


def test_load_key_from_content_file_or_nothing(tmp_path):
    pem = private_key_pem(generate_private_key('ec256'))
    path = tmp_path / 'account.key'
    path.write_bytes(pem)
    from_content = module_runtime.load_key(_params(account_key_content=pem.decode('ascii')))
    from_file = module_runtime.load_key(_params(account_key_src=str(path)))
    assert isinstance(from_file, AcmeKey) and from_file.thumbprint == from_content.thumbprint
    assert module_runtime.load_key(_params()) is None
    missing = _params(account_key_src=str(tmp_path / 'nope.key'))
    assert module_runtime.load_key(missing, allow_missing=True) is None
    with pytest.raises(CertpilotError, match='cannot read account key'):
        module_runtime.load_key(missing)


@pytest.mark.parametrize('params, match', [
    ({'timeout': 0}, 'timeout must be a positive number'),
    ({'acme_directory': 'ftp://ca.example/dir'}, 'must be an https:// URL'),
    ({'ca_bundle': '/nonexistent/ca.pem'}, 'ca_bundle /nonexistent/ca.pem does not exist'),
])
def test_make_client_refuses_bad_options(params, match):
    with pytest.raises(CertpilotError, match=match):
        module_runtime.make_client(_params(**params))


def test_make_client(tmp_path):
    bundle = tmp_path / 'ca.pem'
    bundle.write_text('not checked here')
    client = module_runtime.make_client(_params(ca_bundle=str(bundle), timeout=30), pool_size=4)
    assert client.directory_url == 'https://ca.example/dir' and client.verify == str(bundle)
    assert 29 < client.deadline.remaining() <= 30
    assert module_runtime.make_client(_params(validate_certs=False, ca_bundle=str(bundle))).verify is False


def test_take_timings_moves_the_seconds_out_of_the_results():
    results = {'a': {'seconds': 1.5, 'x': 1}, 'b': {'x': 2}}
    timings = module_runtime.take_timings(results, time.monotonic() - 2)
    assert results == {'a': {'x': 1}, 'b': {'x': 2}}
    assert timings['a'] == 1.5 and 'b' not in timings and 2 <= timings['total'] < 10

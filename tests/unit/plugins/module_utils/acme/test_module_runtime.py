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


def _validate(kwargs, **params):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    rules = dict((k, v) for k, v in kwargs.items() if k not in ('argument_spec', 'supports_check_mode'))
    params.setdefault('acme_directory', 'https://ca.example/dir')
    return ArgumentSpecValidator(kwargs['argument_spec'], **rules).validate(params).error_messages


def test_module_kwargs_account_key_rules():
    kwargs = module_runtime.module_kwargs(dict(extra=dict(type='str')))
    assert kwargs['supports_check_mode'] is True
    assert set(kwargs['argument_spec']) == set(module_runtime.common_argument_spec()) | {'extra'}
    assert _validate(kwargs, account_key_src='/k') == []
    both = _validate(kwargs, account_key_src='/k', account_key_content='pem')
    assert len(both) == 1 and 'mutually exclusive: account_key_src|account_key_content' in both[0]
    none = _validate(kwargs)
    assert len(none) == 1 and 'one of the following is required: account_key_src, account_key_content' in none[0]


def test_module_kwargs_optional_account_key_and_module_rules():
    kwargs = module_runtime.module_kwargs(
        dict(a=dict(type='str'), b=dict(type='str')), account_key_required=False,
        mutually_exclusive=[('a', 'b')], required_one_of=[('a', 'b')], required_by={'a': 'account_key_src'})
    assert kwargs['mutually_exclusive'] == [module_runtime.ACCOUNT_KEY_OPTIONS, ('a', 'b')]
    assert kwargs['required_one_of'] == [('a', 'b')]
    assert _validate(kwargs, b='x') == []
    assert any('mutually exclusive: account_key_src|account_key_content' in m
               for m in _validate(kwargs, b='x', account_key_src='/k', account_key_content='pem'))
    assert any('mutually exclusive: a|b' in m for m in _validate(kwargs, a='x', b='y', account_key_src='/k'))
    assert any('missing parameter(s) required by \'a\': account_key_src' in m for m in _validate(kwargs, a='x'))
    assert 'required_one_of' not in module_runtime.module_kwargs({}, account_key_required=False)


def test_store_argument_spec():
    spec = module_runtime.store_argument_spec()
    assert sorted(spec) == ['concurrency', 'fail_on_error', 'lock_timeout', 'store']
    assert spec['store'] == dict(type='path', required=True)
    assert spec['lock_timeout']['default'] == 300 and spec['concurrency']['default'] == 10
    assert spec['fail_on_error']['default'] is True
    assert 'required' not in module_runtime.store_argument_spec(store_required=False)['store']

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud import credentials as credlib
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.errors import AlicloudCredentialsError

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def metadata():
    from slb_api.metadata import start_metadata
    httpd, url = start_metadata('SlbRotator', 'STS.meta-ak', 'meta-secret', 'meta-token-value')
    yield httpd, url
    httpd.shutdown()
    httpd.server_close()


def _profile_file(tmp_path, profiles, current='default'):
    path = tmp_path / 'config.json'
    path.write_text(json.dumps({'current': current, 'profiles': profiles}))
    return str(path)


def test_options_win_over_everything(tmp_path, metadata):
    shared = _profile_file(tmp_path, [{'name': 'default', 'mode': 'AK', 'access_key_id': 'p-ak',
                                       'access_key_secret': 'p-sk', 'region_id': 'cn-beijing'}])
    creds, region = credlib.resolve_credentials({
        'alicloud_access_key': 'o-ak', 'alicloud_secret_key': 'o-sk', 'alicloud_region': 'cn-hangzhou',
        'ecs_role_name': 'SlbRotator', 'alicloud_metadata_url': metadata[1], 'shared_credentials_file': shared})
    assert (creds.access_key, creds.secret_key, creds.source, region) == ('o-ak', 'o-sk', 'options', 'cn-hangzhou')
    assert metadata[0].meta['credential_requests'] == 0


def test_ecs_role_before_profile_hardened_mode(tmp_path, metadata):
    shared = _profile_file(tmp_path, [{'name': 'default', 'mode': 'AK', 'access_key_id': 'p-ak',
                                       'access_key_secret': 'p-sk', 'region_id': 'cn-beijing'}])
    creds, region = credlib.resolve_credentials({
        'ecs_role_name': 'SlbRotator', 'alicloud_metadata_url': metadata[1], 'shared_credentials_file': shared,
        'alicloud_region': 'eu-central-1'})
    assert creds.access_key == 'STS.meta-ak' and creds.secret_key == 'meta-secret'
    assert creds.security_token == 'meta-token-value'
    assert region == 'eu-central-1'
    assert metadata[0].meta['token_requests'] == 1 and metadata[0].meta['credential_requests'] == 1


def test_unknown_ecs_role_is_clear(metadata):
    with pytest.raises(AlicloudCredentialsError) as info:
        credlib.resolve_credentials({'ecs_role_name': 'Nope', 'alicloud_metadata_url': metadata[1],
                                     'alicloud_region': 'cn-hangzhou'})
    assert 'Nope' in info.value.msg and 'not attached' in info.value.msg


def test_profile_modes_and_region_from_profile(tmp_path):
    shared = _profile_file(tmp_path, [
        {'name': 'default', 'mode': 'AK', 'access_key_id': 'd-ak', 'access_key_secret': 'd-sk', 'region_id': 'cn-beijing'},
        {'name': 'sts', 'mode': 'StsToken', 'access_key_id': 's-ak', 'access_key_secret': 's-sk',
         'sts_token': 's-token', 'region_id': 'cn-shanghai'},
    ])
    creds, region = credlib.resolve_credentials({'shared_credentials_file': shared})
    assert (creds.access_key, creds.security_token, region) == ('d-ak', None, 'cn-beijing')
    creds, region = credlib.resolve_credentials({'shared_credentials_file': shared, 'profile': 'sts'})
    assert (creds.access_key, creds.security_token, region) == ('s-ak', 's-token', 'cn-shanghai')
    creds, region = credlib.resolve_credentials({'shared_credentials_file': shared, 'profile': 'sts',
                                                 'alicloud_region': 'us-west-1'})
    assert region == 'us-west-1'


def test_profile_current_is_used(tmp_path):
    shared = _profile_file(tmp_path, [
        {'name': 'default', 'mode': 'AK', 'access_key_id': 'd-ak', 'access_key_secret': 'd-sk', 'region_id': 'r1'},
        {'name': 'work', 'mode': 'AK', 'access_key_id': 'w-ak', 'access_key_secret': 'w-sk', 'region_id': 'r2'},
    ], current='work')
    creds, region = credlib.resolve_credentials({'shared_credentials_file': shared})
    assert (creds.access_key, region) == ('w-ak', 'r2')


def test_profile_ecs_ram_role(tmp_path, metadata):
    shared = _profile_file(tmp_path, [{'name': 'default', 'mode': 'EcsRamRole', 'ram_role_name': 'SlbRotator',
                                       'region_id': 'cn-hangzhou'}])
    creds, region = credlib.resolve_credentials({'shared_credentials_file': shared, 'alicloud_metadata_url': metadata[1]})
    assert creds.access_key == 'STS.meta-ak' and creds.security_token == 'meta-token-value' and region == 'cn-hangzhou'


@pytest.mark.parametrize('entry,needle', [
    ({'name': 'default', 'mode': 'RamRoleArn', 'access_key_id': 'a', 'access_key_secret': 'b'}, 'RamRoleArn'),
    ({'name': 'default', 'mode': 'StsToken', 'access_key_id': 'a', 'access_key_secret': 'b'}, 'sts_token'),
    ({'name': 'default', 'mode': 'AK', 'access_key_id': 'a'}, 'access_key_secret'),
])
def test_bad_profiles_are_clear(tmp_path, entry, needle):
    shared = _profile_file(tmp_path, [entry])
    with pytest.raises(AlicloudCredentialsError) as info:
        credlib.resolve_credentials({'shared_credentials_file': shared, 'alicloud_region': 'r'})
    assert needle in info.value.msg


def test_missing_profile_name_lists_available(tmp_path):
    shared = _profile_file(tmp_path, [{'name': 'default', 'mode': 'AK', 'access_key_id': 'a', 'access_key_secret': 'b'}])
    with pytest.raises(AlicloudCredentialsError) as info:
        credlib.resolve_credentials({'shared_credentials_file': shared, 'profile': 'prod', 'alicloud_region': 'r'})
    assert 'prod' in info.value.msg and 'default' in info.value.msg


def test_half_a_key_pair_is_refused():
    with pytest.raises(AlicloudCredentialsError) as info:
        credlib.resolve_credentials({'alicloud_access_key': 'a', 'alicloud_region': 'r'})
    assert 'together' in info.value.msg


def test_nothing_configured(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    with pytest.raises(AlicloudCredentialsError) as info:
        credlib.resolve_credentials({'alicloud_region': 'r'})
    assert 'No Alibaba Cloud credentials' in info.value.msg


def test_no_region():
    with pytest.raises(AlicloudCredentialsError) as info:
        credlib.resolve_credentials({'alicloud_access_key': 'a', 'alicloud_secret_key': 'b'})
    assert 'region' in info.value.msg


def test_env_fallbacks_feed_the_options(monkeypatch):
    """The argument spec maps the ALICLOUD_* environment onto the options."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.connection import alicloud_argument_spec
    monkeypatch.setenv('ALICLOUD_ACCESS_KEY', 'env-ak')
    monkeypatch.setenv('ALICLOUD_SECRET_KEY', 'env-sk')
    monkeypatch.setenv('ALICLOUD_SECURITY_TOKEN', 'env-token')
    monkeypatch.setenv('ALICLOUD_REGION', 'cn-qingdao')
    result = ArgumentSpecValidator(alicloud_argument_spec()).validate({})
    assert result.error_messages == []
    creds, region = credlib.resolve_credentials(result.validated_parameters)
    assert (creds.access_key, creds.secret_key, creds.security_token, region) == ('env-ak', 'env-sk', 'env-token', 'cn-qingdao')
    # an explicit option beats the environment
    result = ArgumentSpecValidator(alicloud_argument_spec()).validate({'alicloud_access_key': 'opt-ak'})
    creds, dummy = credlib.resolve_credentials(result.validated_parameters)
    assert creds.access_key == 'opt-ak'


def test_repr_hides_secret():
    creds = credlib.Credentials('AKID', 'VERY-SECRET', 'TOKEN-SECRET')
    assert 'VERY-SECRET' not in repr(creds) and 'TOKEN-SECRET' not in repr(creds)
    assert not os.environ.get('X_UNUSED')

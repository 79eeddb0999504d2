# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options every alicloud module shares, and building a client from them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.basic import env_fallback

from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.client import RpcClient
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.credentials import resolve_credentials
from ansible_collections.certpilot.tls.plugins.module_utils.alicloud.slb import SlbApi
from ansible_collections.certpilot.tls.plugins.module_utils.common.deadline import Deadline
from ansible_collections.certpilot.tls.plugins.module_utils.common.retry import RetryPolicy


def alicloud_argument_spec():
    """Matches ``plugins/doc_fragments/alicloud.py``."""
    return dict(
        alicloud_access_key=dict(type='str', aliases=['access_key_id', 'access_key'], no_log=True,
                                 fallback=(env_fallback, ['ALICLOUD_ACCESS_KEY', 'ALICLOUD_ACCESS_KEY_ID'])),
        alicloud_secret_key=dict(type='str', aliases=['secret_access_key', 'secret_key'], no_log=True,
                                 fallback=(env_fallback, ['ALICLOUD_SECRET_KEY', 'ALICLOUD_SECRET_ACCESS_KEY'])),
        alicloud_security_token=dict(type='str', aliases=['security_token'], no_log=True,
                                     fallback=(env_fallback, ['ALICLOUD_SECURITY_TOKEN'])),
        alicloud_region=dict(type='str', aliases=['region', 'region_id'],
                             fallback=(env_fallback, ['ALICLOUD_REGION', 'ALICLOUD_REGION_ID'])),
        ecs_role_name=dict(type='str', aliases=['role_name'], fallback=(env_fallback, ['ALICLOUD_ECS_ROLE_NAME'])),
        profile=dict(type='str', fallback=(env_fallback, ['ALICLOUD_PROFILE'])),
        shared_credentials_file=dict(type='path', fallback=(env_fallback, ['ALICLOUD_SHARED_CREDENTIALS_FILE'])),
        alicloud_endpoint=dict(type='str', fallback=(env_fallback, ['ALICLOUD_SLB_ENDPOINT'])),
        alicloud_cas_endpoint=dict(type='str', fallback=(env_fallback, ['ALICLOUD_CAS_ENDPOINT'])),
        alicloud_alb_endpoint=dict(type='str', fallback=(env_fallback, ['ALICLOUD_ALB_ENDPOINT'])),
        alicloud_cdn_endpoint=dict(type='str', fallback=(env_fallback, ['ALICLOUD_CDN_ENDPOINT'])),
        alicloud_signature_version=dict(type='str', choices=['v1', 'v3'],
                                        fallback=(env_fallback, ['ALICLOUD_SIGNATURE_VERSION'])),
        alicloud_ca_bundle=dict(type='path', fallback=(env_fallback, ['ALICLOUD_CA_BUNDLE'])),
        alicloud_metadata_url=dict(type='str', fallback=(env_fallback, ['ALICLOUD_METADATA_URL'])),
        validate_certs=dict(type='bool', default=True),
        api_timeout=dict(type='float', default=30.0),
        timeout=dict(type='int', default=300),
        retries=dict(type='int', default=6),
    )


ENDPOINT_OPTIONS = {'slb': 'alicloud_endpoint', 'cas': 'alicloud_cas_endpoint', 'alb': 'alicloud_alb_endpoint',
                    'cdn': 'alicloud_cdn_endpoint'}


def build_clients(params, products, log=None, session=None):
    """Resolve credentials once; return ``{product: RpcClient}`` sharing one overall deadline and one credential source.

    ``alicloud_signature_version`` (if set) applies to every product; otherwise each uses its default
    (V1 for SLB, V3 for CAS, ALB and CDN).
    """
    deadline = Deadline(params.get('timeout') or 300)
    credentials, region = resolve_credentials(params, session=session, deadline=deadline)
    policy = RetryPolicy(attempts=max(1, int(params.get('retries') or 1)), base=0.5, cap=10.0)
    clients = {}
    for product in products:
        clients[product] = RpcClient(credentials, region, endpoint=params.get(ENDPOINT_OPTIONS[product]),
                                     timeout=params.get('api_timeout') or 30.0, deadline=deadline, policy=policy,
                                     session=session, validate_certs=params.get('validate_certs', True),
                                     ca_bundle=params.get('alicloud_ca_bundle'), log=log, product=product,
                                     signature_version=params.get('alicloud_signature_version'))
    return clients


def build_api(params, log=None, session=None):
    """Resolve credentials and return an ``SlbApi`` whose client shares one overall deadline."""
    return SlbApi(build_clients(params, ['slb'], log=log, session=session)['slb'])


def exit_bulk(module, result, count, key, noun):
    """End a bulk module: drop the diff unless asked for, fail naming every ``failed_items`` entry (by ``key``)
    after all the others were handled, else exit with ``result``."""
    if not module._diff:
        result.pop('diff', None)
    if result['failed_items']:
        module.fail_json(msg='%d of %d %s failed: %s' % (
            len(result['failed_items']), count, noun,
            '; '.join('%s: %s' % (f[key], f['msg']) for f in result['failed_items'])), **result)
    module.exit_json(**result)

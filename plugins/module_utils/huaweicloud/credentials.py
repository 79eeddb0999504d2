# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Huawei Cloud credentials and the SCM endpoint, from module options or the SDK's environment variables.

The module options fall back to the variables Huawei's SDKs read (``huaweicloudsdkcore.auth.provider``):
``HUAWEICLOUD_SDK_AK``, ``HUAWEICLOUD_SDK_SK``, ``HUAWEICLOUD_SDK_SECURITY_TOKEN`` (temporary
credentials), ``HUAWEICLOUD_SDK_DOMAIN_ID`` (the account id, sent as ``X-Domain-Id``: SCM is a
global service) and ``HUAWEICLOUD_SDK_PROJECT_ID`` (sent as ``X-Project-Id``).

The endpoint is, in this order: the ``endpoint`` option; the SDK's per-service override
``HUAWEICLOUD_SDK_REGION_SCM_<REGION>`` (region upper-cased, ``-`` as ``_``; the first of a comma
list); ``https://scm.<region>.myhuaweicloud.com``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import CertpilotError

REGION_RE = re.compile(r'^[a-z]{2,}(-[a-z0-9]+)+$')
ENV_ENDPOINT_PREFIX = 'HUAWEICLOUD_SDK_REGION_SCM_'


class Credentials:
    """An AK/SK pair (with a security token for temporary credentials), the account and project ids."""

    __slots__ = ('access_key', 'secret_key', 'security_token', 'domain_id', 'project_id')

    def __init__(self, access_key, secret_key, security_token=None, domain_id=None, project_id=None):
        self.access_key = access_key
        self.secret_key = secret_key
        self.security_token = security_token or None
        self.domain_id = domain_id or None
        self.project_id = project_id or None

    def __repr__(self):
        # Never the secret key, never the token.
        return 'Credentials(access_key=%r, domain_id=%r)' % (self.access_key, self.domain_id)


def _nonempty(value):
    value = value.strip() if isinstance(value, str) else value
    return value if value not in (None, '') else None


def resolve_credentials(params):
    """``Credentials`` from module-style ``params`` (``ak``, ``sk``, ``security_token``, ``domain_id``, ``project_id``)."""
    ak, sk = _nonempty(params.get('ak')), _nonempty(params.get('sk'))
    if not ak or not sk:
        missing = ' and '.join(n for n, v in (('ak', ak), ('sk', sk)) if not v)
        raise CertpilotError('no Huawei Cloud credentials: %s missing (module options ak/sk or the environment '
                             'variables HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK)' % missing)
    return Credentials(ak, sk, _nonempty(params.get('security_token')), _nonempty(params.get('domain_id')),
                       _nonempty(params.get('project_id')))


def resolve_endpoint(params, environ=None):
    """The SCM base URL (see the module docstring for the order)."""
    environ = os.environ if environ is None else environ
    endpoint = _nonempty(params.get('endpoint'))
    if endpoint:
        return endpoint
    region = _nonempty(params.get('region'))
    if not region:
        raise CertpilotError('no Huawei Cloud region: set region (for example ap-southeast-1 or cn-north-4) '
                             'or endpoint')
    if not REGION_RE.match(region):
        raise CertpilotError('%r is not a Huawei Cloud region id (like ap-southeast-1)' % region)
    override = _nonempty(environ.get(ENV_ENDPOINT_PREFIX + region.replace('-', '_').upper()))
    if override:
        return override.split(',')[0].strip()
    return 'https://scm.%s.myhuaweicloud.com' % region

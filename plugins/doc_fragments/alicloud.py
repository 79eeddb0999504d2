# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  alicloud_access_key:
    description:
      - Alibaba Cloud AccessKey ID.
      - If not set, the environment variable E(ALICLOUD_ACCESS_KEY) (or E(ALICLOUD_ACCESS_KEY_ID)) is used.
      - Credentials are searched in this order, first match wins
        1. O(alicloud_access_key) + O(alicloud_secret_key) (+ O(alicloud_security_token)),
        2. O(ecs_role_name) (ECS instance metadata),
        3. O(profile) in O(shared_credentials_file).
    type: str
    aliases: [access_key_id, access_key]
  alicloud_secret_key:
    description:
      - Alibaba Cloud AccessKey secret.
      - If not set, the environment variable E(ALICLOUD_SECRET_KEY) (or E(ALICLOUD_SECRET_ACCESS_KEY)) is used.
    type: str
    aliases: [secret_access_key, secret_key]
  alicloud_security_token:
    description:
      - STS security token, for temporary credentials.
      - If not set, the environment variable E(ALICLOUD_SECURITY_TOKEN) is used.
    type: str
    aliases: [security_token]
  alicloud_region:
    description:
      - Region of the load balancers and certificates, for example V(cn-hangzhou).
      - If not set, the environment variable E(ALICLOUD_REGION) (or E(ALICLOUD_REGION_ID)) is used, then the
        profile's C(region_id).
    type: str
    aliases: [region, region_id]
  ecs_role_name:
    description:
      - Name of the RAM role attached to the ECS instance that runs the module. Temporary
        credentials are read from the instance metadata service in hardened mode (session token first).
      - If not set, the environment variable E(ALICLOUD_ECS_ROLE_NAME) is used.
    type: str
    aliases: [role_name]
  profile:
    description:
      - Profile name in O(shared_credentials_file). Modes C(AK), C(StsToken) and C(EcsRamRole) are supported.
      - Without it, the file's C(current) profile is used when the file exists.
      - If not set, the environment variable E(ALICLOUD_PROFILE) is used.
    type: str
  shared_credentials_file:
    description:
      - Path of the aliyun CLI configuration file. Defaults to C(~/.aliyun/config.json).
      - If not set, the environment variable E(ALICLOUD_SHARED_CREDENTIALS_FILE) is used.
    type: path
  alicloud_endpoint:
    description:
      - SLB API endpoint, as a host name (HTTPS is used) or a full URL such as C(http://127.0.0.1:18080/).
      - By default C(slb.aliyuncs.com) for the regions the official SDK maps there (for example V(cn-hangzhou)),
        C(slb.<region>.aliyuncs.com) for the others. Use it for VPC endpoints.
      - If not set, the environment variable E(ALICLOUD_SLB_ENDPOINT) is used.
    type: str
  alicloud_cas_endpoint:
    description:
      - Certificate Management Service (CAS, API 2020-04-07) endpoint, as a host name (HTTPS is used) or a full URL.
      - By default C(cas.aliyuncs.com); for example C(cas.ap-southeast-1.aliyuncs.com) for the international site.
      - Used by the modules that talk to CAS (M(certpilot.tls.alicloud_cas_certificate)).
      - If not set, the environment variable E(ALICLOUD_CAS_ENDPOINT) is used.
    type: str
  alicloud_alb_endpoint:
    description:
      - Application Load Balancer (ALB, API 2020-06-16) endpoint, as a host name (HTTPS is used) or a full URL.
      - By default C(alb.<region>.aliyuncs.com).
      - Used by M(certpilot.tls.alb_listener_certificate).
      - If not set, the environment variable E(ALICLOUD_ALB_ENDPOINT) is used.
    type: str
  alicloud_cdn_endpoint:
    description:
      - CDN (API 2018-05-10) endpoint, as a host name (HTTPS is used) or a full URL.
      - By default C(cdn.aliyuncs.com) (CDN is a global service).
      - Used by M(certpilot.tls.cdn_domain_certificate).
      - If not set, the environment variable E(ALICLOUD_CDN_ENDPOINT) is used.
    type: str
  alicloud_signature_version:
    description:
      - How API requests are signed, V(v1) (HMAC-SHA1, the legacy RPC signature) or V(v3)
        (C(ACS3-HMAC-SHA256), the signature of Alibaba's current SDKs).
      - By default each API uses its own, V(v1) for SLB and V(v3) for CAS, ALB and CDN.
      - If not set, the environment variable E(ALICLOUD_SIGNATURE_VERSION) is used.
    type: str
    choices: [v1, v3]
  alicloud_ca_bundle:
    description:
      - PEM file of CA certificates to verify the API endpoints with, instead of the system store.
      - If not set, the environment variable E(ALICLOUD_CA_BUNDLE) is used.
    type: path
  alicloud_metadata_url:
    description:
      - Base URL of the ECS metadata service. Defaults to C(http://100.100.100.200). For tests.
      - The temporary credentials of an ECS RAM role are fetched again shortly before they expire,
        so a long run does not fail half-way with an expired token.
      - If not set, the environment variable E(ALICLOUD_METADATA_URL) is used.
    type: str
  validate_certs:
    description:
      - Verify the API endpoint's TLS certificate.
    type: bool
    default: true
  api_timeout:
    description:
      - Timeout of a single API request, in seconds.
    type: float
    default: 30.0
  timeout:
    description:
      - Overall time budget of the module run, in seconds; retries and waits never go past it.
    type: int
    default: 300
  retries:
    description:
      - Attempts per API call (including the first) for throttling, busy and temporary errors.
        Retries back off exponentially with jitter and honour C(Retry-After).
    type: int
    default: 6
notes:
  - The AccessKey secret, security token and private keys are never logged or returned.
  - Module defaults can be set for all the Alibaba Cloud modules (SLB, CAS, ALB) at once with the
    C(group/certpilot.tls.alicloud) action group.
attributes:
  action_group:
    description: Use C(group/certpilot.tls.alicloud) in C(module_defaults) to set the options above once for every module of the group.
    support: full
    membership:
      - certpilot.tls.alicloud
'''

# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the modules that import certificates into the store through sources.importer: cert_import and
huaweicloud_ccm_certificate (the checks and the store lock)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  system_roots:
    description:
      - Trust the system's CA certificates for the chain check as well.
    type: bool
    default: true
  validate_chain:
    description:
      - Check that the chain verifies to a trust anchor. Turn it off only for a certificate whose chain is
        checked elsewhere; a check that cannot run otherwise fails the certificate.
    type: bool
    default: true
  min_days_remaining:
    description:
      - Refuse a certificate that expires within this many days.
    type: float
    default: 0
  replace_acme:
    description:
      - Allow replacing a certificate that an ACME CA issued into the store. Remove it from the ACME list too,
        or the next ACME run reports it as imported and leaves it alone.
    type: bool
    default: false
  lock_timeout:
    description:
      - Seconds to wait for the store lock held by another run before failing, naming the holder.
    type: int
    default: 300
'''

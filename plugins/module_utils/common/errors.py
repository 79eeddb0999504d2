# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Error base class shared by every certpilot module_utils package.

Modules catch ``CertpilotError`` and turn it into ``fail_json(msg=..., **details)``;
anything else reaching a module is a bug and is reported as such.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class CertpilotError(Exception):
    """An expected, user-facing failure with a clear message and optional details."""

    def __init__(self, msg, **details):
        super(CertpilotError, self).__init__(msg)
        self.msg = msg
        self.details = details

    def __str__(self):
        return self.msg


class DeadlineExceeded(CertpilotError):
    """An overall deadline ran out before the work could finish."""


class RetryLater(CertpilotError):
    """The server asked us to come back later than our deadline allows.

    ``retry_at`` is an ISO 8601 UTC timestamp the operator can act on.
    """

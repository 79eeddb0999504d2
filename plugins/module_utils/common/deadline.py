# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An overall time budget that every wait and retry loop draws from."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.certpilot.tls.plugins.module_utils.common.errors import DeadlineExceeded


class Deadline:
    """A monotonic deadline. ``Deadline(None)`` never expires (use sparingly)."""

    def __init__(self, seconds, clock=time.monotonic, sleep=time.sleep):
        self._clock = clock
        self._sleep = sleep
        self.seconds = seconds
        self._end = None if seconds is None else clock() + float(seconds)

    def remaining(self):
        if self._end is None:
            return float('inf')
        return max(0.0, self._end - self._clock())

    def expired(self):
        return self.remaining() <= 0.0

    def check(self, what='operation'):
        if self.expired():
            raise DeadlineExceeded('%s did not finish within %ss' % (what, self.seconds))

    def cap(self, seconds):
        """Return ``seconds`` limited to what is left, e.g. for a socket timeout."""
        return min(float(seconds), self.remaining())

    def sleep(self, seconds, what='operation'):
        """Sleep ``seconds`` but never past the deadline; raise if it would be crossed."""
        if seconds > self.remaining():
            raise DeadlineExceeded('%s did not finish within %ss' % (what, self.seconds))
        if seconds > 0:
            self._sleep(seconds)

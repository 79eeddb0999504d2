# -*- coding: utf-8 -*-
# Copyright: certpilot.tls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

FAKES = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'fakes'))
if FAKES not in sys.path:
    sys.path.insert(0, FAKES)


@pytest.fixture
def fake_scm():
    from huaweicloud_scm.testkit import InProcessFake
    fake = InProcessFake({'TESTAK': ('testsk', 'testdomain')})
    yield fake
    fake.stop()


@pytest.fixture(scope='session')
def test_ca():
    from huaweicloud_scm.testkit import TestCa
    return TestCa('Unit SCM')

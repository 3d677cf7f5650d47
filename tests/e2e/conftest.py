"""End-to-end tests may use the real Redmine and the real Request Tracker."""

from tests.support.redmine import redmine  # noqa: F401 (a fixture)
from tests.support.rt import rt  # noqa: F401 (a fixture)

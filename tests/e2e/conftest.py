"""End-to-end tests may use the real Redmine."""

from tests.support.redmine import redmine  # noqa: F401 (a fixture)

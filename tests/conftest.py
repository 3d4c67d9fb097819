"""Shared pytest set-up: the plugins that start real etcd, real servers and fetch real kubectl."""

pytest_plugins = ["tests.fixtures.etcd", "tests.fixtures.kubectl", "tests.fixtures.server"]

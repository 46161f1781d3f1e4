"""deploy/environments.toml: roles per host, checked before anything connects."""

import pytest
from invoke import Exit

from deploy.config import load_target

HEAD = """
[test]
user = "deploy"
path = "/srv/miniprogram"
settings = "project.settings_test"
supervisor_conf = "supervisord_test.conf"
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    def write(hosts: str):
        path = tmp_path / "environments.toml"
        path.write_text(HEAD + f"hosts = [\n{hosts}\n]\n")
        monkeypatch.setenv("DEPLOY_CONFIG", str(path))

    return write


def test_the_repositorys_file_describes_both_environments(monkeypatch):
    monkeypatch.delenv("DEPLOY_CONFIG", raising=False)
    test, master = load_target("test"), load_target("master")
    assert [host.roles for host in test.hosts] == [("web", "worker", "scheduler")]
    assert master.dba_schema and master.check_deploy and not test.dba_schema
    assert [host.address for host in master.rollout_order][-1] == "jobs-1.internal"


def test_web_hosts_go_first_then_workers_then_the_scheduler(config):
    config("""
        { address = "jobs", roles = ["worker", "scheduler"], workers = 4 },
        { address = "more-jobs", roles = ["worker"], workers = 2 },
        { address = "web-1", roles = ["web"] },
        { address = "web-2", roles = ["web"] },
    """)
    target = load_target("test")
    assert [host.address for host in target.rollout_order] == ["web-1", "web-2", "more-jobs", "jobs"]
    assert [host.workers for host in target.rollout_order] == [0, 0, 2, 4]


@pytest.mark.parametrize(
    ("hosts", "found"),
    [
        ('{ address = "a", roles = ["web", "worker"] }', "none"),
        ('{ address = "a", roles = ["web", "scheduler"] }, { address = "b", roles = ["worker", "scheduler"] }', "a, b"),
    ],
)
def test_it_refuses_an_environment_without_exactly_one_scheduler(config, hosts, found):
    config(hosts)
    with pytest.raises(Exit) as refused:
        load_target("test")
    assert f"needs exactly one host with the scheduler role (found: {found})" in str(refused.value.message)


def test_it_refuses_an_unknown_role(config):
    config('{ address = "a", roles = ["web", "scheduler", "cron"] }')
    with pytest.raises(Exit) as refused:
        load_target("test")
    assert "host a has roles ['web', 'scheduler', 'cron']" in str(refused.value.message)

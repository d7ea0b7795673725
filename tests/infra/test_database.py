"""Aurora PostgreSQL Serverless v2 (behind RDS Proxy in production); migrations on deploy."""

from __future__ import annotations

import pytest

from tests.infra.cfn import Resources, herald_functions, logical_id, of_type

pytestmark = pytest.mark.infra


def test_cluster_is_encrypted_aurora_postgresql_16_serverless_v2(resources: Resources) -> None:
    # given
    (cluster,) = of_type(resources, "AWS::RDS::DBCluster").values()

    # when
    properties = cluster["Properties"]
    scaling = properties["ServerlessV2ScalingConfiguration"]

    # then
    assert properties["Engine"] == "aurora-postgresql"
    assert properties["EngineVersion"].startswith("16.")
    assert properties["DatabaseName"] == "herald"
    assert properties["StorageEncrypted"] is True
    assert scaling["MinCapacity"] in (0, 0.5)
    assert scaling["MaxCapacity"] >= scaling["MinCapacity"]
    assert cluster["DeletionPolicy"] == "Snapshot"
    instances = of_type(resources, "AWS::RDS::DBInstance").values()
    assert {instance["Properties"]["DBInstanceClass"] for instance in instances} == {
        "db.serverless"
    }


def test_functions_reach_the_database_through_a_proxy_requiring_tls_in_production(
    production_resources: Resources,
) -> None:
    # given
    resources = production_resources
    (proxy_id, proxy), *others = of_type(resources, "AWS::RDS::DBProxy").items()

    # when
    proxy_security_groups = {
        logical_id(group) for group in proxy["Properties"]["VpcSecurityGroupIds"]
    }
    opened_to = {
        logical_id(rule["Properties"]["SourceSecurityGroupId"])
        for rule in of_type(resources, "AWS::EC2::SecurityGroupIngress").values()
        if logical_id(rule["Properties"]["GroupId"]) in proxy_security_groups
    }
    function_groups = {
        logical_id(group)
        for function in herald_functions(resources).values()
        for group in function["Properties"]["VpcConfig"]["SecurityGroupIds"]
    }

    # then
    assert not others
    assert proxy["Properties"]["RequireTLS"] is True
    assert proxy["Properties"]["EngineFamily"] == "POSTGRESQL"
    assert opened_to == function_groups, f"{proxy_id} admits exactly the functions"


def test_migrations_run_on_deploy_after_the_cluster_and_any_proxy(resources: Resources) -> None:
    # given
    (trigger,) = of_type(resources, "Custom::Trigger").values()
    migrations = herald_functions(resources)["functions.migrations.handler.handler"]

    # when
    version = resources[logical_id(trigger["Properties"]["HandlerArn"])]
    depends_on = set(trigger.get("DependsOn", []))

    # then
    assert resources[logical_id(version["Properties"]["FunctionName"])] is migrations
    assert set(of_type(resources, "AWS::RDS::DBCluster")) <= depends_on
    assert set(of_type(resources, "AWS::RDS::DBInstance")) <= depends_on
    assert set(of_type(resources, "AWS::RDS::DBProxy")) <= depends_on

"""Deployment profiles: `small` bills almost nothing while idle, `production` is today's shape."""

from __future__ import annotations

from typing import Any

import pytest

from infra.profile import DEFAULT_PROFILE, PROFILES, SMALL, max_connections, profile_named
from tests.infra.cfn import Resources, herald_functions, logical_id, of_type

pytestmark = pytest.mark.infra


def _scaling(resources: Resources) -> dict[str, Any]:
    (cluster,) = of_type(resources, "AWS::RDS::DBCluster").values()
    scaling: dict[str, Any] = cluster["Properties"]["ServerlessV2ScalingConfiguration"]
    return scaling


def test_small_is_the_default_and_an_unknown_profile_is_refused() -> None:
    # given / when / then
    assert profile_named(None) is PROFILES[DEFAULT_PROFILE] is SMALL
    with pytest.raises(ValueError, match=r"unknown deployment profile 'tiny'.*production, small"):
        profile_named("tiny")


def test_small_egresses_through_one_graviton_nat_instance_without_a_gateway(
    small_resources: Resources,
) -> None:
    # given
    instances = of_type(small_resources, "AWS::EC2::Instance")

    # when
    (instance,) = instances.values()
    properties = instance["Properties"]
    routes = [
        route["Properties"]
        for route in of_type(small_resources, "AWS::EC2::Route").values()
        if route["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"
        and "InstanceId" in route["Properties"]
    ]

    # then
    assert not of_type(small_resources, "AWS::EC2::NatGateway")
    assert properties["InstanceType"] == "t4g.nano"
    assert properties["SourceDestCheck"] is False
    # The AMI is an SSM parameter resolved at deploy time: synthesis looked nothing up.
    assert properties["ImageId"]["Ref"].startswith("SsmParameterValueawsserviceami")
    assert properties["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    # Both private (function) subnets route through it: one AZ for the NAT, two for the rest.
    assert len(routes) == 2
    assert {logical_id(route["InstanceId"]) for route in routes} == set(instances)


def test_the_nat_instance_forwards_for_the_vpc_only(small_resources: Resources) -> None:
    # given
    (instance,) = of_type(small_resources, "AWS::EC2::Instance").values()
    (interface,) = instance["Properties"]["NetworkInterfaces"]
    (group_ref,) = interface["GroupSet"]

    # when
    group = small_resources[logical_id(group_ref)]["Properties"]

    # then
    assert {rule["CidrIp"] for rule in group["SecurityGroupIngress"]} == {"10.0.0.0/16"}


def test_small_has_no_proxy_and_aurora_pauses_at_zero_capacity(small_resources: Resources) -> None:
    # given
    scaling = _scaling(small_resources)

    # when
    proxies = of_type(small_resources, "AWS::RDS::DBProxy")

    # then
    assert not proxies
    assert scaling["MinCapacity"] == 0
    assert 0 < scaling["SecondsUntilAutoPause"] <= 3600


def test_small_ends_idle_sessions_so_warm_functions_do_not_keep_aurora_awake(
    small_resources: Resources,
) -> None:
    # given
    (cluster,) = of_type(small_resources, "AWS::RDS::DBCluster").values()

    # when
    group = small_resources[logical_id(cluster["Properties"]["DBClusterParameterGroupName"])]

    # then: sessions end after 5 idle minutes (the connection reopens on the next use)
    assert group["Properties"]["Parameters"]["idle_session_timeout"] == "300000"


def test_production_has_a_nat_gateway_a_proxy_and_a_minimum_capacity(
    production_resources: Resources,
) -> None:
    # given
    scaling = _scaling(production_resources)

    # when
    gateways = of_type(production_resources, "AWS::EC2::NatGateway")

    # then
    assert len(gateways) >= 1
    assert not of_type(production_resources, "AWS::EC2::Instance")
    assert len(of_type(production_resources, "AWS::RDS::DBProxy")) == 1
    assert scaling["MinCapacity"] > 0
    assert "SecondsUntilAutoPause" not in scaling
    assert of_type(production_resources, "AWS::CloudWatch::Alarm")


def test_small_caps_every_function_so_connections_fit_a_resumed_cluster(
    small_resources: Resources,
) -> None:
    # given
    functions = herald_functions(small_resources)
    budget = SMALL.connection_budget
    assert budget is not None

    # when
    reserved = {
        handler: function["Properties"].get("ReservedConcurrentExecutions")
        for handler, function in functions.items()
    }

    # then
    assert None not in reserved.values(), reserved
    assert sum(reserved.values()) <= budget < max_connections(0.5)


def test_queue_consumers_may_use_all_the_concurrency_their_mappings_ask_for(
    small_resources: Resources,
) -> None:
    # given
    functions = {
        key: function for key, function in of_type(small_resources, "AWS::Lambda::Function").items()
    }

    # when
    pairs = [
        (
            mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"],
            functions[logical_id(mapping["Properties"]["FunctionName"])]["Properties"][
                "ReservedConcurrentExecutions"
            ],
        )
        for mapping in of_type(small_resources, "AWS::Lambda::EventSourceMapping").values()
    ]

    # then: a mapping above its function's reservation would be throttled, messages redriven
    assert pairs
    assert all(maximum <= reserved for maximum, reserved in pairs), pairs


def test_a_workers_reservation_covers_both_its_lanes_so_bulk_never_takes_the_normal_share(
    small_resources: Resources,
) -> None:
    # given
    functions = of_type(small_resources, "AWS::Lambda::Function")

    # when: the maximum concurrency of all the mappings of each function, summed
    asked: dict[str, int] = {}
    for mapping in of_type(small_resources, "AWS::Lambda::EventSourceMapping").values():
        key = logical_id(mapping["Properties"]["FunctionName"])
        maximum = mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        asked[key] = asked.get(key, 0) + maximum

    # then: a worker consuming a bulk lane and a normal one can run both at their maximum
    assert sum(1 for total in asked.values() if total) >= 8
    for key, total in asked.items():
        assert total <= functions[key]["Properties"]["ReservedConcurrentExecutions"], key


def test_nothing_periodic_runs_a_function(resources: Resources) -> None:
    # given: an idle Herald must let Aurora pause

    # when
    rules = [
        rule
        for rule in of_type(resources, "AWS::Events::Rule").values()
        if "ScheduleExpression" in rule["Properties"]
    ]
    schedules = of_type(resources, "AWS::Scheduler::Schedule")

    # then: the sweeper runs on one-time schedules created while work is in flight
    assert rules == []
    assert schedules == {}

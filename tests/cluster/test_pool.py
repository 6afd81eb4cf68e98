"""The one pool lifecycle of AzureBatchCluster and submit_job: PoolSettings, ensure_pool,
restore_pool, against the Batch emulator (no tasks run: pools only)."""

import dask
import pytest
from azure.batch import models as m

from vegdask.cluster import PoolSettings, ensure_pool, restore_pool


@pytest.fixture
def batch(batch_emulator, shared_key_client):
    return shared_key_client(batch_emulator)


def targets(batch, pool_id):
    pool = batch.get_pool(pool_id)
    return pool.target_dedicated_nodes or 0, pool.target_low_priority_nodes or 0


def test_vm_size_is_the_setting_unless_given():
    assert PoolSettings().vm_size == "Standard_A1_v2"  # pyveg's VM, the documented default
    with dask.config.set({"vegdask.azure.vm-size": "Standard_A4_v2"}):
        assert PoolSettings().vm_size == "Standard_A4_v2"
        assert PoolSettings(vm_size="Standard_D2s_v3").vm_size == "Standard_D2s_v3"


def test_low_priority_is_the_setting_unless_given():
    assert PoolSettings().low_priority is False
    assert PoolSettings().target == "targetDedicatedNodes"
    with dask.config.set({"vegdask.azure.low-priority": True}):
        assert PoolSettings().low_priority is True
        assert PoolSettings().target == "targetLowPriorityNodes"
        assert PoolSettings(low_priority=False).low_priority is False  # the argument wins
    with dask.config.set({"vegdask.azure.low-priority": "true"}):  # as DASK_VEGDASK__... gives it
        assert PoolSettings().low_priority is True


def test_settings_refuse_a_node_without_slots():
    with pytest.raises(ValueError, match="slots_per_node must be 1 or more, got 0"):
        PoolSettings(slots_per_node=0)


def test_a_missing_pool_is_created_as_the_settings_say_and_restored_to_empty(batch):
    with dask.config.set({"vegdask.azure.vm-size": "Standard_A8_v2"}):  # the argument wins
        settings = PoolSettings("made", "Standard_A2_v2", slots_per_node=2, low_priority=True)
    claim = ensure_pool(batch, settings, nodes=1)
    assert (claim.pool_id, claim.created, claim.grown) == ("made", True, False)
    assert claim.previous == (0, 0)
    assert claim.changed
    pool = batch.get_pool("made")
    assert pool.vm_size.lower() == "standard_a2_v2"
    assert pool.task_slots_per_node == 2
    assert targets(batch, "made") == (0, 1)  # the one node is low-priority, as asked
    restore_pool(batch, "made", claim.previous)
    assert targets(batch, "made") == (0, 0)


def test_vm_size_setting_reaches_a_created_pool(batch):
    with dask.config.set({"vegdask.azure.vm-size": "Standard_F2s_v2"}):
        ensure_pool(batch, PoolSettings("configured"))
    assert batch.get_pool("configured").vm_size.lower() == "standard_f2s_v2"
    assert targets(batch, "configured") == (0, 0)


def test_an_empty_pool_grows_by_the_settings_kind_and_gets_its_targets_back(batch):
    batch.create_pool(m.BatchPoolCreateOptions(id="empty", vm_size="Standard_A1_v2"))
    claim = ensure_pool(batch, PoolSettings("empty"), nodes=1)
    assert (claim.created, claim.grown, claim.previous) == (False, True, (0, 0))
    assert targets(batch, "empty") == (1, 0)
    restore_pool(batch, "empty", claim.previous)
    assert targets(batch, "empty") == (0, 0)


def test_a_pool_big_enough_is_left_as_it_is(batch):
    options = m.BatchPoolCreateOptions(id="busy", vm_size="x", target_low_priority_nodes=2)
    batch.create_pool(options)
    claim = ensure_pool(batch, PoolSettings("busy"), nodes=1)  # dedicated settings: not asked
    assert (claim.created, claim.grown, claim.changed) == (False, False, False)
    assert claim.previous == (0, 2)
    assert targets(batch, "busy") == (0, 2)


def test_an_autoscaled_pool_is_never_resized(batch):
    formula = "$TargetDedicatedNodes = 0;"
    options = m.BatchPoolCreateOptions(
        id="auto", vm_size="x", enable_auto_scale=True, auto_scale_formula=formula
    )
    batch.create_pool(options)
    claim = ensure_pool(batch, PoolSettings("auto"), nodes=1)
    assert (claim.created, claim.grown, claim.previous) == (False, False, None)
    assert batch.get_pool("auto").enable_auto_scale


def test_a_missing_pool_is_an_error_when_not_to_be_created(batch):
    with pytest.raises(
        ValueError, match="Batch pool 'absent' does not exist and create_pool=False"
    ):
        ensure_pool(batch, PoolSettings("absent"), create=False)
    assert [p.id for p in batch.list_pools()] == []

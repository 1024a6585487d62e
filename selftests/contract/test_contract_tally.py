"""contract/tally: the contract's own 5xx, counted across processes, named on the error gates."""

from __future__ import annotations

from pathlib import Path

from phasegate.contract.tally import ContractTraffic, annotate, read_traffic, record_traffic


def test_traffic_adds_up_across_workers_and_runs_stay_apart(tmp_path: Path) -> None:
    record_traffic(tmp_path, "pg-1", "gw0", "contract.post-memory-items-import", 40, 25)
    record_traffic(tmp_path, "pg-1", "gw1", "contract.get-memory-items", 40, 0)
    record_traffic(tmp_path, "pg-1", "gw1", "contract.put-memory-items-item_id", 40, 1)
    record_traffic(tmp_path, "pg-2", "main", "contract.get-memory-items", 40, 7)
    traffic = read_traffic(tmp_path, "pg-1")
    assert traffic.requests == 120
    assert traffic.server_errors == 26
    assert traffic.by_check == {
        "contract.post-memory-items-import": 25,
        "contract.put-memory-items-item_id": 1,
    }
    assert read_traffic(tmp_path, "pg-3") == ContractTraffic()


def test_a_failed_error_gate_names_the_contract_errors_and_keeps_its_outcome() -> None:
    entry = {"outcome": "fail", "reason": "28 errors in 3,255 requests", "evidence": {"id": "x"}}
    traffic = ContractTraffic(1200, 26, {"contract.post-memory-items-import": 25, "c.b": 1})
    annotated = annotate(entry, traffic)
    assert annotated["outcome"] == "fail"
    assert annotated["reason"] == (
        "28 errors in 3,255 requests; 26 of the server's 5xx answered this run's contract "
        "cases (c.b, contract.post-memory-items-import)"
    )
    assert annotated["evidence"]["id"] == "x"
    assert annotated["evidence"]["contract_traffic"]["server_errors"] == 26
    assert entry["reason"] == "28 errors in 3,255 requests"  # the stored result is untouched


def test_no_contract_errors_no_note() -> None:
    entry = {"outcome": "pass", "reason": "0 errors in 3,300 requests"}
    assert annotate(entry, ContractTraffic(1200, 0, {})) is entry

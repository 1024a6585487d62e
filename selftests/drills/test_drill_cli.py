"""`phasegate drill`: usage errors name the option, a deployment without commands is left alone.

Against a deployment the drills cause downtime, so they run only with the user's own commands;
without them each drill is INCONCLUSIVE with the options it needs, the exit status is 6, and
not one request reaches the target.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET

import pytest

from phasegate.cli import main
from phasegate.drills import runner
from phasegate.drills.allure_timeline import timeline_svg, write_allure
from phasegate.drills.common import CommandFailed, shell_action
from phasegate.drills.runner import Deployment, DrillRun, previous_release
from phasegate.outcomes import Conclusion, Outcome
from support import memory_double
from support.http_double import running


def test_commands_without_api_url_are_a_usage_error(capsys):
    assert main(["drill", "disable", "--disable-cmd", "docker compose up -d"]) == 4
    assert "--disable-cmd" in capsys.readouterr().err


def test_a_bad_api_url_is_a_usage_error(capsys):
    assert main(["drill", "all", "--api-url", "staging.example"]) == 4
    assert "--api-url" in capsys.readouterr().err


def test_deployment_without_commands_is_inconclusive_and_untouched(tmp_path, capsys):
    with running() as target:
        code = main(["drill", "all", "--api-url", target.url, "--report-dir", str(tmp_path)])
        sent = list(target.received)
    assert code == 6
    assert sent == []
    verdict = json.loads((tmp_path / "verdict-drill.json").read_text())
    assert verdict["decision"] == "INCONCLUSIVE"
    reasons = {c["id"]: c["reason"] for c in verdict["checks"]}
    assert {c["outcome"] for c in verdict["checks"]} == {"inconclusive"}
    assert "--disable-cmd, --enable-cmd not given" in reasons["drill.disable"]
    assert "--rollback-cmd, --forward-cmd not given" in reasons["drill.rollback"]
    assert "--backup-cmd, --restore-cmd not given" in reasons["drill.recover"]
    assert "drill: disable ..." in capsys.readouterr().out


def test_only_the_missing_command_is_named(tmp_path):
    run = DrillRun(report_dir=tmp_path, progress=lambda _: None)
    result = run.deployed("disable", Deployment("http://127.0.0.1:9", disable_cmd="true"))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.reason.endswith("--enable-cmd not given")


def test_a_failing_command_names_its_option():
    with pytest.raises(CommandFailed, match="--rollback-cmd 'exit 3' exited 3"):
        shell_action("--rollback-cmd", "exit 3")()


def test_timeline_picture_and_allure_result(tmp_path):
    drill = {
        "budget": {"seconds": 60},
        "traffic": {"first_failure_s": 5.3, "last_failure_s": 13.9, "failed": 39},
        "timeline": [
            {"t_s": 3.1, "event": "dataset stored"},
            {"t_s": 5.2, "event": "disable command"},
            {"t_s": 14.1, "event": "config reports the flag OFF"},
        ],
    }
    svg = timeline_svg(drill, "Immediate disable")
    root = ET.fromstring(svg)
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "budget 60 s from the command: beyond the chart" in texts
    drill["budget"] = {"seconds": 10}  # within the chart: a dashed line where it ends
    tight = ET.fromstring(timeline_svg(drill, "Immediate disable"))
    assert "budget 10 s" in [t.text for t in tight.iter("{http://www.w3.org/2000/svg}text")]
    assert "39 failed requests over 8.6 s" in texts
    assert any("config reports the flag OFF" in t for t in texts)
    run = DrillRun(report_dir=tmp_path, progress=lambda _: None)
    result = run.deployed("disable", Deployment("http://127.0.0.1:9"))
    written = write_allure([result], tmp_path / "allure")
    document = json.loads(written[0].read_text())
    assert document["status"] == "skipped" and document["fullName"] == "drill.disable"


def test_previous_release_from_the_index_listing():
    listing = "skillmeat (0.74.0)\nAvailable versions: 0.74.0, 0.61.0, 0.55.1, 0.9.0\n"
    assert previous_release("0.74.0", listing) == "0.61.0"
    assert previous_release("0.55.1", listing) == "0.9.0"
    assert previous_release("0.9.0", listing) is None


def test_deployment_disable_runs_the_users_commands(tmp_path):
    with memory_double.running() as target:

        def command(flag: str) -> str:
            url = f"{target.url}/__control/restart?flag={flag}"
            return f"{sys.executable} -c 'import urllib.request; urllib.request.urlopen(\"{url}\")'"

        code = main(
            [
                "drill",
                "disable",
                "--api-url",
                target.url,
                "--disable-cmd",
                command("off"),
                "--enable-cmd",
                command("on"),
                "--report-dir",
                str(tmp_path),
            ]
        )
        left = list(target.projects)
    verdict = json.loads((tmp_path / "verdict-drill.json").read_text())
    check = verdict["checks"][0]
    assert code == 0 and check["outcome"] == "pass", check["reason"]
    assert verdict["target"]["embedded"] is False
    events = [e["event"] for e in check["evidence"]["facts"]["drill"]["timeline"]]
    assert "config reports the flag OFF" in events and "memory write refused" in events
    assert left == []  # the drill's dataset project and the traffic's projects are deleted


def test_a_drill_that_breaks_is_an_error_not_a_traceback():
    def broken() -> Conclusion:
        raise KeyError("id")

    conclusion = runner._guarded(broken)
    assert conclusion.outcome is Outcome.ERROR
    assert conclusion.reason == "the drill broke: KeyError('id')"


def _control(url: str) -> str:
    """A shell command that calls the double's control path, as a user's own command would."""
    return f"{sys.executable} -c 'import urllib.request; urllib.request.urlopen(\"{url}\")'"


@pytest.mark.parametrize(
    ("restore_query", "outcome", "said"),
    [
        ("", "pass", "the item written after the backup gone with it"),
        ("drop_one=1", "fail", "missing"),  # a restore that loses a recorded row
        ("noop=1", "fail", "the restore did not put the backup back"),
    ],
)
def test_deployment_recovery_runs_the_users_backup_and_restore(
    tmp_path, restore_query, outcome, said
):
    with memory_double.running() as target:
        code = main(
            [
                "drill",
                "recover",
                "--api-url",
                target.url,
                "--backup-cmd",
                _control(f"{target.url}/__control/backup"),
                "--restore-cmd",
                _control(f"{target.url}/__control/restore?{restore_query}"),
                "--report-dir",
                str(tmp_path),
            ]
        )
        left = list(target.projects)
    check = json.loads((tmp_path / "verdict-drill.json").read_text())["checks"][0]
    assert check["outcome"] == outcome, check["reason"]
    assert said in check["reason"]
    assert code == (0 if outcome == "pass" else 1)
    events = [e["event"] for e in check["evidence"]["facts"]["drill"]["timeline"]]
    assert "backup command (--backup-cmd)" in events
    assert "restore command (--restore-cmd)" in events
    assert left == []  # the dataset's project is deleted at the end, restored or not

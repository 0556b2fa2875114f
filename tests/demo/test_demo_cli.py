"""`vlkit demo` from the command line: it serves the page on localhost until stopped, and a careless user's
wrong values are one clear error line before anything loads."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import invoke_cli


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_demo_help_has_an_example(tmp_path):
    assert "Example: vlkit demo" in invoke_cli(["demo", "--help"], cwd=tmp_path).stdout


@pytest.mark.parametrize("args,message", [
    (["--port", "70000"], "--port must be 0 (any free port) to 65535, got 70000"),
    (["--concurrency", "0"], "--concurrency must be a positive integer, got 0"),
    (["--queue-size", "-3"], "--queue-size must be a positive integer, got -3"),
    (["--max-upload-mb", "0"], "max-upload-mb must be a positive number, got 0.0"),
    (["--max-question-words", "-1"], "max-question-words must be a positive number, got -1"),
    (["--checkpoint", "middle"], "--checkpoint must be best or last, got 'middle'"),
    (["--device", "tpu"], "--device must be auto, cpu or cuda, got 'tpu'"),
    (["--host", "no.such.host.invalid"], "--host 'no.such.host.invalid' is not an address this machine can listen on: "
                                         "use 127.0.0.1 (this machine only) or 0.0.0.0 (every network interface)"),
])
def test_a_wrong_option_is_one_error_line(demo_runs, tmp_path, args, message):
    run = str(demo_runs[1].predictor.trained.run_dir)
    result = invoke_cli(["demo", run, *args], cwd=tmp_path, check=False)
    assert result.returncode == 2 and result.stderr.strip() == f"error: {message}"


def test_a_run_that_does_not_exist_is_one_error_line(tmp_path):
    result = invoke_cli(["demo", "no_such_run"], cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: run directory not found: no_such_run (looked for the path and under " \
                                    "runs/<task>/)"


def test_without_gradio_the_demo_says_how_to_install_it(demo_runs, tmp_path):
    run = str(demo_runs[1].predictor.trained.run_dir)
    result = invoke_cli(["demo", run], cwd=tmp_path, check=False, hidden_modules=("gradio",))
    assert result.returncode == 2 and "pip install 'vlkit[demo]'" in result.stderr


def test_the_demo_serves_its_runs_on_localhost_until_sigterm(demo_runs, tmp_path):
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    runs = [str(run.predictor.trained.run_dir) for run in demo_runs]
    server = subprocess.Popen([sys.executable, "-m", "vlkit", "demo", *runs, "--port", str(port)], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        logged, deadline = [], time.monotonic() + 180
        while server.poll() is None and not (logged and logged[-1].startswith("serving on")):
            ready, _, _ = select.select([server.stderr], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no page after 180 s: {logged}"
            logged.append(server.stderr.readline().strip())  # the command says where once the page is up
        assert logged[-1] == f"serving on http://127.0.0.1:{port} (Ctrl-C stops it)", "\n".join(logged)
        # the page's description (title, components, their values) that the browser builds it from
        config = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30).read())
        assert config["title"] == "vlkit demo"
        choices = [c["props"].get("value") for c in config["components"] if c["props"].get("label") == "run"]
        assert choices == [run.label for run in demo_runs]
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 128 + signal.SIGTERM
    assert stderr.strip().splitlines()[-1] == "interrupted: SIGTERM"
    for run in demo_runs:
        assert f"loaded {run.task} run {run.label} on cpu" in logged


def test_a_port_that_is_taken_is_one_error_line_naming_it(demo_runs, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke_cli(["demo", str(demo_runs[1].predictor.trained.run_dir), "--port", str(port)], cwd=tmp_path,
                            check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot serve the demo on 127.0.0.1:{port} (Cannot find empty port in range: {port}-{port}): the port "
        "is taken or the address is not this machine's; choose another --port, or --port 0 for a free one")

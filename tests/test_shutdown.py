"""A stopping web process runs `settings.SHUTDOWN_HOOKS` (config/shutdown.py): at the ASGI
lifespan shutdown under uvicorn (tests/security/test_blocklist.py, tests/integration/test_serve.py)
and at exit under a WSGI server."""

from __future__ import annotations

from tests.test_settings import run_manage


def test_a_wsgi_process_runs_the_shutdown_hooks_when_it_exits():
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "import config.wsgi, security.blocklist as b; b.flush_hits = lambda: print('flushed')",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["flushed"]


def test_one_failing_hook_does_not_stop_the_others(settings, capsys, caplog):
    from config.shutdown import run_shutdown_hooks

    settings.SHUTDOWN_HOOKS = ["tests.test_shutdown.failing_hook", "tests.test_shutdown.hook"]
    run_shutdown_hooks()
    assert capsys.readouterr().out == "hook ran\n"
    assert "shutdown hook failed" in caplog.text


def failing_hook() -> None:
    raise RuntimeError("boom")


def hook() -> None:
    print("hook ran")

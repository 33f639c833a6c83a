"""The work-arounds for upstream bugs (scripts/workarounds.py): each names its issue, and each was checked against
the versions installed. When a pinned version changes, this fails, so that someone checks whether the work-around is
still needed before the new version lands."""
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from scripts import workarounds

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("w", workarounds.WORKAROUNDS, ids=lambda w: w.name)
def test_each_work_around_names_its_issue_and_was_checked_against_the_installed_versions(w):
    assert re.fullmatch(r"[\w.-]+/[\w.-]+#\d+", w.upstream), f"{w.name}: name the upstream issue as owner/repo#N"
    assert w.checked_with and w.remove_when
    installed = {name: version(name) for name in w.checked_with}
    assert installed == w.checked_with, (
        f"{w.name} ({w.upstream}) was checked with {w.checked_with}, and {installed} is installed: check whether the "
        f"work-around is still needed ({w.remove_when}?), then update checked_with in scripts/workarounds.py or remove it")


def test_requirements_pin_every_package_a_work_around_depends_on():
    pins = dict(re.findall(r"^([\w.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), flags=re.M))
    pins = {name.lower().replace("_", "-"): v for name, v in pins.items()}
    for w in workarounds.WORKAROUNDS:
        for name, checked in w.checked_with.items():
            assert pins.get(name.lower().replace("_", "-")) == checked, f"pin {name}=={checked} in requirements.txt"


def test_the_book_build_loads_the_sphinx_work_around():
    """Jupyter Book's own reading of _config.yml puts the module among Sphinx's extensions, and its setup connects
    the handler to every page."""
    from types import SimpleNamespace

    from jupyter_book.config import get_final_config

    config, _ = get_final_config(user_yaml=ROOT / "_config.yml", cli_config={"latex_individualpages": False},
                                 sourcedir=ROOT)
    assert "scripts.workarounds" in config["extensions"]
    connected = []
    app = SimpleNamespace(connect=lambda event, handler, priority=500: connected.append((event, handler)))
    workarounds.setup(app)
    assert ("html-page-context", workarounds.drop_duplicate_scripts) in connected


def test_nbvals_kernel_start_is_retried_and_gives_up_after_three_tries(monkeypatch):
    import nbval.kernel

    calls = []

    def dies(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(nbval.kernel, "start_new_kernel", dies)
    workarounds.retry_nbval_kernel_starts()
    with pytest.raises(RuntimeError, match="Kernel died"):
        nbval.kernel.start_new_kernel()
    assert len(calls) == 3
    calls.clear()
    outcomes = iter([RuntimeError("died"), "kernel"])

    def dies_once(*args, **kwargs):
        calls.append(1)
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(nbval.kernel, "start_new_kernel", dies_once)
    workarounds.retry_nbval_kernel_starts()
    assert nbval.kernel.start_new_kernel() == "kernel" and len(calls) == 2


def test_a_script_included_twice_is_kept_once():
    from types import SimpleNamespace as JS

    inline = dict(filename=None, priority=500, attributes={"body": "const THEBE_JS_URL = 1"})
    scripts = [JS(**inline), JS(**{**inline, "filename": ""}), JS(filename="a.js", priority=500, attributes={})]
    context = {"script_files": scripts}
    workarounds.drop_duplicate_scripts(None, "page", "page.html", context, None)
    assert [s.filename for s in context["script_files"]] == [None, "a.js"] and context["script_files"] is scripts


def test_installing_the_reply_slices_twice_wraps_jupyter_clients_own_wait_once(monkeypatch):
    import importlib

    from jupyter_client.channels import AsyncZMQSocketChannel

    original = getattr(AsyncZMQSocketChannel.get_msg, "__wrapped__", AsyncZMQSocketChannel.get_msg)
    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", original)
    workarounds.install_kernel_reply_slices()
    workarounds.install_kernel_reply_slices()
    assert AsyncZMQSocketChannel.get_msg is workarounds._get_msg_in_slices and workarounds._original_get_msg is original
    fresh = importlib.reload(workarounds)  # a reloaded module must not wrap the slices in themselves
    fresh.install_kernel_reply_slices()
    assert fresh._original_get_msg is original


def test_every_tool_executes_notebooks_through_one_module():
    """The kernel work-arounds are put in place in scripts/kernels.py alone: no other file executes a notebook itself
    or installs them."""
    direct = re.compile(r"execute_notebook\(|single_nb_execution\(|executenb\(|NotebookClient\(|ExecutePreprocessor|"
                        r"install_kernel_reply_slices\(\)|transport.{0,5}ipc")
    allowed = {ROOT / "scripts" / "kernels.py", ROOT / "scripts" / "workarounds.py", Path(__file__).resolve()}
    offenders = [str(p.relative_to(ROOT)) for folder in ("scripts", "tests", "bench", "vaebook")
                 for p in (ROOT / folder).rglob("*.py") if p not in allowed and direct.search(p.read_text())]
    assert not offenders, f"execute notebooks through scripts.kernels (papermill or in_place): {offenders}"


def test_a_kernel_started_by_the_tools_gets_both_work_arounds(monkeypatch):
    from scripts import kernels

    installed = []
    monkeypatch.setattr(workarounds, "install_kernel_reply_slices", lambda: installed.append(1))
    with kernels._kernel_config() as kwargs:
        config = kwargs["config"]
        folder = Path(config.KernelManager.ip).parent
        assert config.KernelManager.transport == "ipc" and folder.is_dir()
        assert len(str(folder)) <= kernels.SOCKET_FOLDER_MAX  # a Unix socket's path has at most about 100 characters
    assert installed == [1] and not folder.exists()
    with kernels._kernel_config(slices=False):
        assert installed == [1]

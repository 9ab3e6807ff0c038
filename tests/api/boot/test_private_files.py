"""World-readable data closed (api.boot.private_files): every command runs under umask 077,
and what an earlier run left readable (data dir, databases, evidence, keys, exports) is
narrowed at start-up; links are left alone."""

import os
import stat
import subprocess
import sys
from pathlib import Path

from api.boot.private_files import narrow_modes, private_roots
from api.settings import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_narrowing_removes_group_and_other_bits_everywhere(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "evidence" / "store").mkdir(parents=True)
    (data / "keys").mkdir()
    files = [data / "fhir.sqlite", data / "evidence" / "store" / "part.bin", data / "keys" / "k"]
    for file in files:
        file.write_bytes(b"x")
        file.chmod(0o644)
    (data / "keys" / "narrow").write_bytes(b"x")
    (data / "keys" / "narrow").chmod(0o400)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"x")
    outside.chmod(0o644)
    (data / "link").symlink_to(outside)
    for folder in (data, data / "evidence", data / "evidence" / "store", data / "keys"):
        folder.chmod(0o755)
    narrow_modes([data, tmp_path / "missing"])
    assert {mode(p) for p in files} == {0o600}
    assert mode(data / "keys" / "narrow") == 0o400  # already narrower: kept
    for folder in (data, data / "evidence", data / "evidence" / "store", data / "keys"):
        assert mode(folder) == 0o700, folder
    assert mode(outside) == 0o644  # a link is not followed


def test_the_roots_are_the_data_export_and_signing_key_dirs(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", export_dir=tmp_path / "e",
                        signing_key_file=tmp_path / "k" / "key.pem")  # fmt: skip
    assert private_roots(settings) == [tmp_path / "d", tmp_path / "e", tmp_path / "k"]


def test_a_command_leaves_only_private_files_behind(tmp_path: Path) -> None:
    """`fhir-evidence seed` over a data dir an earlier version left 0755/0644: afterwards the
    dir is 0700 and every file in it (the new database too) 0600."""
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "outbox.sqlite").write_bytes(b"")
    (data / "outbox.sqlite").chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_EVIDENCE_")}
    env["FHIR_EVIDENCE_DATA_DIR"] = str(data)
    done = subprocess.run(
        [sys.executable, "-m", "api.boot.cli", "seed", "--patients", "1"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert mode(data) == 0o700
    created = sorted(p.name for p in data.rglob("*"))
    assert "fhir.sqlite" in created
    for path in data.rglob("*"):
        assert mode(path) == (0o700 if path.is_dir() else 0o600), (path, oct(mode(path)))


def test_the_embedded_evidence_store_writes_private_files_under_the_umask(tmp_path: Path) -> None:
    """chDB creates its files itself: under umask 077 (set by every command) they are
    private too (a process of its own: one chDB per process)."""
    script = (
        "import os, sys; from pathlib import Path\n"
        "from api.boot.private_files import make_private\n"
        "from api.boot.stores import open_evidence\n"
        "from api.settings import Settings\n"
        "settings = Settings(data_dir=Path(sys.argv[1]))\n"
        "make_private(settings)\n"
        "open_evidence(settings).close()\n"
    )
    data = tmp_path / "data"
    done = subprocess.run([sys.executable, "-c", script, str(data)], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    paths = [p for p in data.rglob("*") if not p.is_symlink()]
    assert any(p.parts[-2:] == ("data", "evidence") for p in paths)
    assert [(str(p), oct(mode(p))) for p in paths if mode(p) & 0o077] == []

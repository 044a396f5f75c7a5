"""Hostile model files: each refused with one line (API, command line, app), nothing changed, memory bounded.

Every file is generated here: configs nested 100,000 deep or holding 5,000-digit numbers, archives of
20,000 members, and zip bombs whose directory understates what a member inflates to (a 20 GB deflate
stream of zeros, built from one repeated block of 1 KB per MB).
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nn.cli import main
from nn.config import ModelConfig
from nn.model import MLP
from nn.serialize import ModelFileError, load_model, model_config_json, save_model

ROOT = Path(__file__).resolve().parents[1]
GB = 2**30


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def members(config: str | None = None) -> dict[str, bytes]:
    """The .npy members of a valid 784-4-10 model; ``config`` replaces its JSON."""
    model = MLP(ModelConfig(hidden=(4,)), np.random.default_rng(0))
    out = {"config.npy": npy(np.array(config if config is not None else model_config_json(model)))}
    for l, (W, b) in enumerate(zip(model.weights, model.biases), start=1):
        out[f"W{l}.npy"], out[f"b{l}.npy"] = npy(W), npy(b)
    return out


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def config_with(**changes) -> str:
    doc = json.loads(model_config_json(MLP(ModelConfig(hidden=(4,)), np.random.default_rng(0))))
    doc.update(changes)
    return json.dumps(doc)


def with_meta(raw_meta: str) -> str:
    """A valid config whose meta is the JSON text ``raw_meta``, spliced in as written."""
    text = config_with(meta="__META__")
    return text.replace('"__META__"', raw_meta)


# ---------------------------------------------------------------- zip bombs


def deflate_zeros(header: bytes, inflated: int) -> bytes:
    """A raw deflate stream of ``header`` then zeros, ``inflated`` bytes in all, from one repeated block.

    After a full flush the compressor starts afresh, so every 1 MiB block of zeros compresses to the
    same bytes: the stream is that block repeated, and 20 GB of zeros take 20 MB.
    """
    block = 1 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH)
    zeros = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert zeros == compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + zeros * ((inflated - len(header)) // block) + compressor.flush()


def patch_member(data: bytes, name: str, *, method: int, file_size: int) -> bytes:
    """``data`` with member ``name``'s compression method and uncompressed size rewritten in both its
    local header and its central-directory entry (the CRC is left wrong: nothing reads that far)."""
    out = bytearray(data)
    archive = zipfile.ZipFile(io.BytesIO(data))
    local = archive.getinfo(name).header_offset
    struct.pack_into("<H", out, local + 8, method)
    struct.pack_into("<L", out, local + 22, file_size)
    pos = archive.start_dir
    while out[pos:pos + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack_from("<3H", out, pos + 28)
        if out[pos + 46:pos + 46 + n] == name.encode():
            struct.pack_into("<H", out, pos + 10, method)
            struct.pack_into("<L", out, pos + 24, file_size)
            return bytes(out)
        pos += 46 + n + m + k
    raise AssertionError(f"{name} not in the central directory")


def bomb(target: str, claimed: int, inflated: int = 20 * GB) -> bytes:
    """A model file whose member ``target`` inflates to ``inflated`` bytes while its directory says ``claimed``.

    The stream starts with the member's genuine .npy header, so only the size gives it away.
    """
    files = members()
    header = files[target][:128]  # numpy's .npy header: 128 bytes for these arrays
    assert np.lib.format.read_magic(io.BytesIO(header)) == (1, 0)
    files[target] = deflate_zeros(header, inflated)  # stored as it is, then marked deflated
    return patch_member(zip_of(files), target, method=zipfile.ZIP_DEFLATED, file_size=claimed)


PEAK_SCRIPT = textwrap.dedent("""
    import resource, sys
    from nn.serialize import ModelFileError, load_model
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        load_model(sys.argv[1])
        print("LOADED")
    except ModelFileError as exc:
        print("REFUSED", exc)
    print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


def refusal_peak(path: Path) -> tuple[str, int]:
    """(the refusal line, peak resident memory above the interpreter's baseline in bytes) of loading
    ``path`` in a child process."""
    proc = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line, numbers = proc.stdout.strip().splitlines()
    base_kb, peak_kb = map(int, numbers.split())
    return line, (peak_kb - base_kb) * 1024


@pytest.mark.parametrize("target, claimed", [("W1.npy", 12_672), ("config.npy", 2_000)])
def test_a_member_that_inflates_far_beyond_its_directory_entry_is_refused_in_bounded_memory(
        tmp_path: Path, target: str, claimed: int) -> None:
    path = tmp_path / "bomb.npz"
    path.write_bytes(bomb(target, claimed))
    assert zipfile.ZipFile(path).getinfo(target).file_size == claimed  # the directory lies
    line, peak = refusal_peak(path)
    assert line.startswith("REFUSED") and target in line and "\n" not in line
    assert peak < 300 * 2**20, f"refusing the 20 GB bomb took {peak / 2**20:.0f} MB"


def test_a_member_whose_directory_admits_its_size_is_refused_before_reading() -> None:
    data = bomb("W1.npy", claimed=0xFFFFFFFF - 1)  # "4 GB": W1 of 784 x 4 floats may hold 29 KB
    with pytest.raises(ModelFileError, match=r"W1.npy claims 4,294,967,294 bytes; it may hold at most"):
        load_model(data)


def test_a_config_larger_than_allowed_is_refused_before_parsing() -> None:
    big = config_with(meta={"note": "x" * (2 << 20)})
    with pytest.raises(ModelFileError, match=r"config.npy claims [\d,]+ bytes; it may hold at most 1,05"):
        load_model(zip_of(members(big)))


def test_a_corrupt_deflate_stream_is_refused_with_its_reason() -> None:
    files = members()
    files["W1.npy"] = b"\xff" * 64  # block type 3: no such thing in deflate
    data = patch_member(zip_of(files), "W1.npy", method=zipfile.ZIP_DEFLATED, file_size=12_672)
    with pytest.raises(ModelFileError, match="W1.npy cannot be decompressed .*invalid block type"):
        load_model(data)


def test_members_compressed_with_an_unbounded_method_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_BZIP2) as archive:
        for name, data in members().items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match="compression method 12; only stored or deflate"):
        load_model(buffer.getvalue())


# ---------------------------------------------------------------- member counts


def many_members(n: int) -> bytes:
    return zip_of({**members(), **{f"junk/{i:05d}.txt": b"" for i in range(n)}})


def test_an_archive_of_20000_members_is_refused_by_its_count_in_one_short_line() -> None:
    with pytest.raises(ModelFileError) as info:
        load_model(many_members(20_000))
    message = str(info.value)
    assert "20,005 members; at most 64" in message and len(message) < 120


def test_an_end_record_that_undercounts_is_caught_by_the_directory_size() -> None:
    data = bytearray(many_members(20_000))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 3, 3)  # "3 members"; the directory still holds 20,005
    with pytest.raises(ModelFileError, match=r"directory is [\d,]+ bytes; at most 262,144"):
        load_model(bytes(data))


def zip64(build) -> bytes:
    """The archive ``build()`` writes, with a zip64 end record and its plain end record counting 0xFFFF
    members, as a writer of more than 65,535 members leaves it."""
    import unittest.mock

    with unittest.mock.patch.object(zipfile, "ZIP_FILECOUNT_LIMIT", 2):  # zipfile then adds the zip64 record
        data = bytearray(build())
    assert data[-22 - 20 - 56:][:4] == b"PK\x06\x06"
    struct.pack_into("<HH", data, len(data) - 22 + 8, 0xFFFF, 0xFFFF)
    return bytes(data)


def test_a_zip64_end_record_is_read_for_the_true_count() -> None:
    valid = zip64(lambda: zip_of(members()))
    model, _ = load_model(valid)
    assert model.config.hidden == (4,)
    with pytest.raises(ModelFileError, match="lists 105 members; at most 64"):
        load_model(zip64(lambda: many_members(100)))
    with pytest.raises(ModelFileError, match="zip64 end-of-directory record is missing"):
        load_model(valid[:-22 - 20 - 56] + valid[-22:])


def test_unexpected_members_are_named_a_few_and_counted() -> None:
    with pytest.raises(ModelFileError) as info:
        load_model(many_members(50))
    message = str(info.value)
    assert message == ("unexpected members 'junk/00000.txt', 'junk/00001.txt', 'junk/00002.txt' and 47 more "
                       "in the archive (only .npy arrays belong)")


def test_unexpected_arrays_are_named_a_few_and_counted() -> None:
    files = {**members(), **{f"extra{'x' * 100}{i}.npy": npy(np.zeros(1)) for i in range(40)}}
    with pytest.raises(ModelFileError) as info:
        load_model(zip_of(files))
    message = str(info.value)
    assert message.startswith("unexpected array(s) 'extraxxx") and "and 37 more" in message
    assert len(message) < 250


# ---------------------------------------------------------------- the config's JSON


HOSTILE_CONFIGS = {
    "nested 100,000 deep": (with_meta("[" * 100_000 + "]" * 100_000), "nested more than 32 levels deep"),
    "nested 900 deep": (with_meta("[" * 900 + "]" * 900), "nested more than 32 levels deep"),
    "brackets inside a string": (with_meta('{"s": "\\"[' + "{" * 50 + '"}'), None),
    "5,000-digit integer": (with_meta('{"seed": ' + "7" * 5000 + "}"), "number written with 5,000 characters"),
    "5,000-digit layer size": (config_with(layer_sizes=[784, 4, 10]).replace("784", "1" * 5000, 1),
                               "number written with 5,000 characters"),
    "NaN": (with_meta('{"loss": NaN}'), "holds NaN, which is not a JSON number"),
    "infinite number": (with_meta('{"loss": 1e999}'), "holds the number 1e999, too large to be finite"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_CONFIGS))
def test_hostile_config_json_is_refused_with_its_reason(case: str) -> None:
    text, reason = HOSTILE_CONFIGS[case]
    data = zip_of(members(text))
    if reason is None:  # brackets inside strings do not count as nesting: it loads
        _, meta = load_model(data)
        assert meta == {"s": '"[' + "{" * 50}
        return
    with pytest.raises(ModelFileError) as info:
        load_model(data)
    assert reason in str(info.value) and str(info.value).startswith("config ")
    assert "\n" not in str(info.value) and len(str(info.value)) < 200


def test_nesting_within_the_limit_loads() -> None:
    _, meta = load_model(zip_of(members(with_meta('{"a": ' + "[" * 25 + "]" * 25 + "}"))))
    assert isinstance(meta["a"], list)


def test_saving_refuses_meta_that_could_not_be_read_back() -> None:
    model = MLP(ModelConfig(hidden=(4,)), np.random.default_rng(0))
    deep: list = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than 30 levels"):
        save_model(io.BytesIO(), model, {"deep": deep})
    with pytest.raises(ValueError, match="integer of 40 digits"):
        save_model(io.BytesIO(), model, {"big": 10**39})


# ---------------------------------------------------------------- every way in: API, command line, app


def with_timeline(steps: list[int], values: float) -> bytes:
    """A valid model with a two-checkpoint timeline of 4 batches an epoch at ``steps``, every number ``values``."""
    files = members(config_with(timeline={"batches_per_epoch": 4, "steps": steps, "kinds": ["start", "epoch"]}))
    files["timeline.npy"] = npy(np.full((2, 784 * 4 + 4 + 4 * 10 + 10), values, np.float32))
    return zip_of(files)


HOSTILE = {  # case -> (how to build the file, what its refusal says)
    "timeline steps": (lambda: with_timeline([0, 6], 0.0), "an epoch's end must be a multiple of the 4 batches"),
    "timeline nan": (lambda: with_timeline([0, 4], np.nan), "timeline contains NaN"),
    "deep": (lambda: zip_of(members(with_meta("[" * 100_000 + "]" * 100_000))), "nested more than 32"),
    "digits": (lambda: zip_of(members(with_meta("[" + "9" * 5000 + "]"))), "5,000 characters"),
    "members": (lambda: many_members(20_000), "20,005 members"),
    "bomb": (lambda: bomb("W1.npy", 12_672, inflated=64 * 2**20), "W1.npy"),
}


def test_the_timeline_cases_differ_from_a_valid_file_only_by_their_flaw() -> None:
    assert [c.kind for c in load_model(with_timeline([0, 4], 0.0))[1]["timeline"]] == ["start", "epoch"]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_evaluate_refuses_a_hostile_file_with_one_line_and_exit_2(case: str, tmp_path: Path, capsys) -> None:
    build, reason = HOSTILE[case]
    data = build()
    path = tmp_path / "hostile.npz"
    path.write_bytes(data)
    assert main(["evaluate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and reason in captured.err and str(path) in captured.err


def test_evaluate_on_a_deeply_nested_config_from_a_real_process(tmp_path: Path) -> None:
    path = tmp_path / "deep.npz"
    path.write_bytes(HOSTILE["deep"][0]())
    proc = subprocess.run([sys.executable, "-m", "nn", "evaluate", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "nested more than 32 levels deep" in proc.stderr


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_the_app_refuses_a_hostile_upload_with_its_message_and_changes_nothing(case: str) -> None:
    from dashboard.session import SessionData
    from dashboard.train_view import _load_upload

    build, reason = HOSTILE[case]
    data = build()
    earlier = object()  # stands for a model uploaded before
    session = SessionData(uploaded=earlier)
    upload = SimpleNamespace(name="hostile.npz", getvalue=lambda: data)
    kind, text = _load_upload(session, upload)
    assert kind == "error" and reason in text and text.endswith("Nothing was changed.") and "\n" not in text
    assert session.uploaded is earlier and session.run is None

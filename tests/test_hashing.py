"""utils.hashing names cached results on disk: its digests must stay those the copies it replaced wrote."""
import hashlib
import json

from utils.hashing import files_hash, stable_hash, text_hash


def test_stable_hash_is_the_canonical_json_sha256_prefix():
    obj = {"b": [1, 2.5, None], "a": {"z": "x", "y": (1, 2)}, "p": object.__name__}
    old = hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]
    assert stable_hash(obj) == old and len(stable_hash(obj)) == 16
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})


def test_text_and_files_hash(tmp_path):
    assert text_hash("org/model", 8, "sha1") == hashlib.sha1(b"org/model").hexdigest()[:8]
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"x" * (3 << 20))
    b.write_bytes(b"tail")
    assert files_hash([a, b], algorithm="sha1") == hashlib.sha1(a.read_bytes() + b.read_bytes()).hexdigest()[:16]
    assert files_hash([a, b]) != files_hash([b, a])

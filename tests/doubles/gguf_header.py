"""Read a GGUF header with the standard library only (no numpy, no ``gguf`` package).

The Ollama double and the stand-in ``ollama`` read a model's family, quantization, size label,
context length and chat template from it, as Ollama does when it imports a GGUF; the stand-in
must run from a tarball next to nothing but the standard library and xllamacpp.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

# GGUF general.file_type -> Ollama's quantization_level label.
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    32: "BF16",
}

# GGUF value types -> struct format (8 = string, 9 = array are handled apart).
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}


def read_gguf_metadata(path: Path) -> dict[str, tuple[Any, int, int | None]]:
    """Every key/value of a GGUF header as ``key -> (value, type, array item type)``.

    A direct parser: ``gguf.GGUFReader`` builds a numpy view per array item, which takes
    seconds for a 49k-token vocabulary; this reads the header in a few tens of ms.
    """
    data = Path(path).read_bytes() if Path(path).stat().st_size < 64 << 20 else _head(path)
    if data[:4] != b"GGUF":
        raise ValueError(f"{path} is not a GGUF file")
    pos = 8
    _, n_kv = struct.unpack_from("<QQ", data, pos)
    pos += 16

    def string() -> str:
        nonlocal pos
        (n,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        pos += n
        return data[pos - n : pos].decode("utf-8", "replace")

    def value(vtype: int) -> Any:
        nonlocal pos
        if vtype == 8:
            return string()
        fmt = _SCALARS[vtype]
        (v,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v

    out: dict[str, tuple[Any, int, int | None]] = {}
    for _ in range(n_kv):
        key = string()
        (vtype,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if vtype == 9:
            sub, count = struct.unpack_from("<IQ", data, pos)
            pos += 12
            out[key] = ([value(sub) for _ in range(count)], vtype, sub)
        else:
            out[key] = (value(vtype), vtype, None)
    return out


def _head(path: Path, size: int = 32 << 20) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def ollama_details(path: Path) -> dict[str, Any]:
    """Family, quantization, parameter size, context and template, as Ollama shows them.

    Empty for a file that is not a GGUF (tests may upload any bytes as a blob).
    """
    try:
        meta = {k: v for k, (v, _, _) in read_gguf_metadata(path).items()}
    except (ValueError, KeyError, struct.error):
        return {}
    arch = meta.get("general.architecture") or ""
    return {
        "family": arch,
        "quantization_level": FILE_TYPES.get(meta.get("general.file_type"), "unknown"),
        "parameter_size": meta.get("general.size_label") or "",
        "context_length": meta.get(f"{arch}.context_length"),
        "template": meta.get("tokenizer.chat_template") or "",
    }

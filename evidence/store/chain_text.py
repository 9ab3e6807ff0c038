"""A chain row read as TabSeparated text (the slow path of `chain_reader`)."""

from evidence.core.seal.verify import ChainRow


def parse_text_row(line: str) -> ChainRow:
    sequence, event_id, prev_hash, event_hash, ok = line.split("\t")
    if "\\" in line:  # TabSeparated escapes: only forged values hold any
        event_id, prev_hash, event_hash = map(_unescape, (event_id, prev_hash, event_hash))
    return ChainRow(int(sequence), event_id, prev_hash, event_hash, ok == "1")


_ESCAPES = {"b": "\b", "f": "\f", "r": "\r", "n": "\n", "t": "\t", "0": "\0", "'": "'", "\\": "\\"}


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            out.append(_ESCAPES.get(value[i + 1], value[i + 1]))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)

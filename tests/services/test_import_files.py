"""The import file formats: JSON Lines and CSV read as numbered records."""

from __future__ import annotations

from pathlib import Path

from rosterd.services.import_files import Format, facts, read


def test_csv_rows_are_numbered_by_the_line_they_start_on(tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    data.write_text(
        'username,title,groups\nann,"two\nlines",A; B ;\n\n,,\nbob,,\n', encoding="utf-8"
    )
    records = list(read(data, Format.of(data)))
    assert [(r.line, r.cells) for r in records] == [
        (2, {"type": "user", "username": "ann", "title": "two\nlines", "groups": ["A", " B "]}),
        (6, {"type": "user", "username": "bob"}),
    ]


def test_a_csv_row_of_the_wrong_width_is_a_bad_line(tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    data.write_text("username,email\nann\nbob,bob@corp.example\n")
    records = list(read(data, Format.csv))
    assert records[0].line == 2
    assert records[0].error == ("record", "1 cells where the header has 2")
    assert records[1].cells == {"type": "user", "username": "bob", "email": "bob@corp.example"}


def test_jsonl_skips_blank_lines_but_counts_them(tmp_path: Path) -> None:
    data = tmp_path / "people.jsonl"
    data.write_text('{"a": 1}\n\n   \n{"b": 2}')
    assert [(r.line, r.text) for r in read(data, Format.jsonl)] == [
        (1, '{"a": 1}\n'),
        (4, '{"b": 2}'),
    ]
    assert facts(data, Format.jsonl).lines == 4


def test_the_import_id_is_the_content_and_format_not_the_name(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.txt"
    one.write_text('{"type": "team", "name": "x"}\n')
    two.write_text('{"type": "team", "name": "x"}\n')
    assert facts(one, Format.jsonl).import_id == facts(two, Format.jsonl).import_id
    assert facts(one, Format.jsonl).import_id != facts(one, Format.csv).import_id
    two.write_text('{"type": "team", "name": "y"}\n')
    assert facts(one, Format.jsonl).import_id != facts(two, Format.jsonl).import_id

"""The fenced blocks of a Markdown page: commands (```bash, and ```bat for Windows), config files
(a block whose first line is ``# /absolute/path``), fragments (``# fragment: <section>``) and
everything else (output shown to the reader, ignored)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\w*)\s*$")
FILE_HEADER = re.compile(r"^#\s+(/\S+)\s*$")
FRAGMENT_HEADER = re.compile(r"^#\s+fragment:\s*(\S+)\s*$")
EXIT_NOTE = re.compile(r"\(exit (\d+)\)")
COMMAND_LANGS = {"bash": "bash", "bat": "bat"}


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    shell: str  # bash | bat
    text: str  # the command, continuation lines joined, without its trailing comment
    comment: str

    @property
    def expected_exit(self) -> int:
        """0, or the N of an ``(exit N)`` in its comment: a failure the page shows on purpose."""
        m = EXIT_NOTE.search(self.comment)
        return int(m.group(1)) if m else 0

    def where(self) -> str:
        return f"{self.page}:{self.line}: {self.text}"


@dataclass(frozen=True)
class FileBlock:
    page: str
    line: int
    lang: str
    path: str | None  # the absolute path it is shown for; None for a fragment
    fragment: str | None  # the section a fragment belongs under
    text: str


@dataclass(frozen=True)
class Page:
    name: str
    items: tuple[Command | FileBlock, ...]  # in page order: a file is written before what uses it

    @property
    def commands(self) -> list[Command]:
        return [i for i in self.items if isinstance(i, Command)]

    @property
    def files(self) -> list[FileBlock]:
        return [i for i in self.items if isinstance(i, FileBlock)]


def split_comment(line: str) -> tuple[str, str]:
    """(command, comment): the first ``#`` that starts a word outside quotes begins the comment."""
    quote: str | None = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def _commands(page: str, start: int, shell: str, lines: list[str]) -> list[Command]:
    out: list[Command] = []
    pending: list[str] = []
    first = 0
    for offset, raw in enumerate(lines):
        if not pending:
            first = start + offset
        if raw.rstrip().endswith("\\"):
            pending.append(raw.rstrip()[:-1].strip())
            continue
        pending.append(raw.strip())
        joined = " ".join(p for p in pending if p)
        pending = []
        text, comment = split_comment(joined)
        if text:
            out.append(Command(page=page, line=first, shell=shell, text=text, comment=comment))
    return out


def parse(path: Path) -> Page:
    items: list[Command | FileBlock] = []
    lang: str | None = None
    body: list[str] = []
    opened = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = FENCE.match(line)
        if lang is None:
            if m:
                lang, body, opened = m.group(1).lower(), [], number
            continue
        if not (m and m.group(1) == ""):
            body.append(line)
            continue
        if lang in COMMAND_LANGS:
            items += _commands(path.name, opened + 1, COMMAND_LANGS[lang], body)
        elif body and (fm := FILE_HEADER.match(body[0])):
            items.append(FileBlock(page=path.name, line=opened, lang=lang, path=fm.group(1), fragment=None,
                                   text="\n".join(body) + "\n"))
        elif body and (gm := FRAGMENT_HEADER.match(body[0])):
            items.append(FileBlock(page=path.name, line=opened, lang=lang, path=None, fragment=gm.group(1),
                                   text="\n".join(body[1:]) + "\n"))
        lang = None
    if lang is not None:
        raise ValueError(f"{path.name}:{opened}: a fenced block is never closed")
    return Page(name=path.name, items=tuple(items))


def words(command: Command) -> list[str]:
    """The command's words as its shell reads them (bat: split on spaces, no quoting)."""
    if command.shell == "bat":
        return command.text.split()
    return shlex.split(command.text)

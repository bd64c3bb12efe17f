#!/usr/bin/env python3
"""The man pages against the programs' own --help, both ways (TAP).

    tests/test-man-options.py FILECACHED FILECACHE MAN_SOURCE_DIR

e.g. `tests/test-man-options.py build-check/src/filecached
build-check/src/client/filecache man` from the top of the sources.

Every option in `filecached --help` must be a tagged paragraph (.TP) under
OPTIONS in filecached.8.in, and every option there must be in --help; the
same for filecache.1.in against `filecache --help` and each
`filecache COMMAND --help` (the commands are read from the "Commands:"
list, and must each be a tagged paragraph under COMMANDS); and the keys
under KEYS in filecached.conf.5.in must be the daemon's long options less
help, version, config and check-config, plus root (the DIR operand).

A tag line whose comment says `pending` documents what another branch
adds: it may be missing from --help, and once it is there the mark must
go. With groff installed, each page must also format without a warning.
"""

import os
import re
import shutil
import subprocess
import sys

# What the daemon takes on the command line only, never from its file.
COMMAND_LINE_ONLY = {"--help", "--version", "--config", "--check-config"}

OPTION = re.compile(r"(?<![\w-])(--[A-Za-z0-9][\w-]*|-[A-Za-z0-9](?![\w-]))")


def run_help(argv):
    env = dict(os.environ, LC_ALL="C.UTF-8")
    env.pop("LANGUAGE", None)
    result = subprocess.run(argv + ["--help"], env=env, capture_output=True,
                            text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} --help: exit {result.returncode}: "
                           f"{result.stderr.strip()}")
    return result.stdout


def help_options(text):
    """The options GOptionContext lists: lines whose first word is one."""
    options = set()
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("-"):
            continue
        # "-H, --host=HOST   Server..." : the names end at the first "  ".
        names = re.split(r"\s{2,}", stripped, maxsplit=1)[0]
        options.update(OPTION.findall(names))
    return options


def help_commands(text):
    commands = []
    lines = iter(text.splitlines())
    for line in lines:
        if line.strip() == "Commands:":
            break
    for line in lines:
        match = re.match(r"^  (\w[\w-]*)\s{2,}", line)
        if match is None:
            break
        commands.append(match.group(1))
    return commands


def plain(roff):
    """A roff line's text, fonts and escapes removed."""
    text = re.sub(r"^\.(B|I|BI|BR|IB|IR|RB|RI)\b\s*", "", roff)
    text = re.sub(r"\\f(\[[^\]]*\]|.)", "", text)
    text = text.replace("\\-", "-").replace("\\&", "").replace('"', "")
    return text


def tags(path, section):
    """(tag text, pending) for each .TP tag line under .SH SECTION."""
    result = []
    current = None
    lines = open(path, encoding="utf-8").read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            current = line[4:].strip().strip('"')
        elif current == section and line.strip() == ".TP" and i + 1 < len(lines):
            tag, _, comment = lines[i + 1].partition('\\"')
            result.append((plain(tag), "pending" in comment))
    return result


def documented_options(path, section="OPTIONS"):
    options, pending = set(), set()
    for tag, is_pending in tags(path, section):
        found = set(OPTION.findall(tag))
        options |= found
        if is_pending:
            pending |= found
    return options, pending


def documented_words(path, section):
    """The first word of each tag, up to a space or '='."""
    words, pending = set(), set()
    for tag, is_pending in tags(path, section):
        word = re.split(r"[\s=]", tag.strip(), maxsplit=1)[0]
        words.add(word)
        if is_pending:
            pending.add(word)
    return words, pending


class Tap:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def check(self, description, problems, notes=()):
        self.count += 1
        if problems:
            self.failed += 1
            print(f"not ok {self.count} {description}")
        else:
            print(f"ok {self.count} {description}")
        for line in list(problems) + list(notes):
            print(f"# {line}")

    def skip(self, description, why):
        self.count += 1
        print(f"ok {self.count} {description} # SKIP {why}")


def compare(tap, page, what, in_help, documented, pending):
    """Both directions, as two tests; `what` names the help output."""
    tap.check(f"{page}: documents every {what}",
              [f"{name} is missing from {page}"
               for name in sorted(in_help - documented)])
    problems = [f"{name} is in {page} but is no {what}"
                for name in sorted(documented - in_help - pending)]
    problems += [f"{name} exists now: remove its pending mark from {page}"
                 for name in sorted(pending & in_help)]
    notes = [f"pending, documented ahead of its branch: {name}"
             for name in sorted(pending - in_help)]
    tap.check(f"{page}: documents no {what} that does not exist", problems, notes)


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    filecached, filecache, man_dir = argv[1:]
    tap = Tap()

    daemon_help = help_options(run_help([filecached]))
    page = os.path.join(man_dir, "filecached.8.in")
    compare(tap, "filecached.8", "option of filecached --help", daemon_help,
            *documented_options(page))

    keys = {name[2:] for name in daemon_help
            if name.startswith("--") and name not in COMMAND_LINE_ONLY}
    keys.add("root")
    # The one option that is its key's negation (HTTP.md: `--no-http`,
    # key `http = false`).
    if "no-http" in keys:
        keys.remove("no-http")
        keys.add("http")
    page = os.path.join(man_dir, "filecached.conf.5.in")
    compare(tap, "filecached.conf.5", "key (a long option of filecached)", keys,
            *documented_words(page, "KEYS"))

    main_help = run_help([filecache])
    commands = help_commands(main_help)
    client_help = help_options(main_help)
    for command in commands:
        client_help |= help_options(run_help([filecache, command]))
    page = os.path.join(man_dir, "filecache.1.in")
    compare(tap, "filecache.1", "command of filecache --help", set(commands),
            *documented_words(page, "COMMANDS"))
    compare(tap, "filecache.1", "option of filecache [COMMAND] --help", client_help,
            *documented_options(page))

    groff = shutil.which("groff")
    for name in ("filecached.8.in", "filecache.1.in", "filecached.conf.5.in"):
        description = f"{name} formats without a warning"
        if groff is None:
            tap.skip(description, "no groff")
            continue
        result = subprocess.run([groff, "-man", "-ww", "-z", "-Tutf8",
                                 os.path.join(man_dir, name)],
                                capture_output=True, text=True, timeout=30)
        tap.check(description, result.stderr.splitlines())

    print(f"1..{tap.count}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""fc_http_parse() against h11 (Debian's python3-h11), request by request.

Generates a few thousand request heads from a fixed seed, valid ones and
mutations of them, runs each through tests/http-parse-driver and through
h11, and compares: what each accepts or refuses, and the method, target,
version and fields. Where HTTP.md deliberately differs from h11 the rule
is written out below with the text it comes from; any other disagreement
fails the test. Exit 77 (a skip for meson) only when h11 is missing.

Usage: test-http-differential.py DRIVER [COUNT] [SEED]
"""
import ipaddress
import json
import random
import re
import subprocess
import sys
import urllib.parse

try:
    import h11
    from h11._connection import _keep_alive as h11_keep_alive
except ImportError:
    print("h11 cannot be imported: apt-get install python3-h11")
    sys.exit(77)

NOT_ALLOWED = {b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH"}
TCHAR = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def httpmd_request_line(line):
    """HTTP.md "One port, two dialects": the shape of an HTTP first line."""
    return re.fullmatch(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+ (/[^ ]*|\*|[hH][tT][tT][pP]://[^ ]*) "
                        rb"HTTP/[0-9]\.[0-9]", line) is not None


def name_ok(name):
    """PROTOCOL.md "Names"."""
    if not 1 <= len(name) <= 4000 or any(c < 0x20 or c == 0x7f for c in name):
        return False
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c not in (b"", b".", b"..") for c in name.split(b"/"))


def httpmd_target(target):
    """HTTP.md "Requests", the target: (path, name, trailing slash) or None for 400."""
    if any(c <= 0x20 or c >= 0x7f or c == ord("#") for c in target):
        return None
    if target.startswith(b"/"):
        path = target
    elif target[:7].lower() == b"http://":
        rest = target[7:]
        m = re.search(rb"[/?]", rest)
        path = rest[m.start():] if m else b""
    else:
        return None
    path = path.split(b"?", 1)[0] or b"/"
    segments = path[1:].split(b"/")
    trailing = segments[-1] in (b"", b".")
    if trailing:
        segments = segments[:-1]
    segments = [s for s in segments if s != b"."]
    if b"" in segments:
        return None
    joined = b"/".join(segments)
    if re.search(rb"%(?![0-9A-Fa-f]{2})", joined):
        return None
    name = urllib.parse.unquote_to_bytes(joined)
    if name and (b"\0" in name or not name_ok(name)):
        return None
    return path, name, trailing


def host_ok(value):
    """RFC 9110 7.2 / RFC 3986 3.2.2; an empty value is valid (see http-parse.c)."""
    if value == b"":
        return True
    m = re.fullmatch(rb"(\[[^\]]*\]|[^:\[\]]*)(:[0-9]*)?", value)
    if m is None or not m.group(1):
        return False
    host = m.group(1)
    if host.startswith(b"["):
        inner = host[1:-1]
        if inner[:1] in (b"v", b"V"):
            return re.fullmatch(rb"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+", inner) is not None
        if b"%" in inner:
            return False
        try:
            ipaddress.IPv6Address(inner.decode("ascii"))
            return True
        except (ValueError, UnicodeDecodeError):
            return False
    return re.fullmatch(rb"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+", host) is not None


# ---- generation ----

SEGMENTS = [b"a", b"docs", b"readme.txt", b"Packages", b"pool", b"main", b"x-1_2~3", b"a+b",
            b".", b".", b"..", b"", b"%2E", b"%2e%2E", b"a%20b", b"%C3%A9t%C3%A9", b"%zz", b"%4",
            b"%00", b"%FF", b"%2F", b"...", b".a", b"%41", b"a#b", b"\xc3\xa9", b"a\x01"]
HOSTS = [b"localhost", b"localhost:3030", b"127.0.0.1:80", b"[::1]:3030", b"files.example",
         b"[v1.x]", b"a%41", b"host:", b"", b"a b", b"[::1", b"a:b", b"a/b", b"[zz]", b"\xc3\xa9"]
FIELDS = [(b"User-Agent", b"curl/7.88.1"), (b"Accept", b"*/*"), (b"Accept", b"application/json"),
          (b"Range", b"bytes=0-10"), (b"Range", b"bytes=5-"), (b"If-None-Match", b'"abc"'),
          (b"If-Match", b"*"), (b"If-Modified-Since", b"Sun, 06 Nov 1994 08:49:37 GMT"),
          (b"If-Unmodified-Since", b"Sun, 06 Nov 1994 08:49:37 GMT"), (b"If-Range", b'"x"'),
          (b"Connection", b"close"), (b"Connection", b"keep-alive"), (b"connection", b"Keep-Alive, TE"),
          (b"Content-Length", b"0"), (b"Cache-Control", b"no-cache"), (b"X-Tab", b"a\tb"),
          (b"X-Obs", b"caf\xe9"), (b"Want-Repr-Digest", b"sha-256=1"), (b"Accept-Encoding", b"gzip")]
METHODS = [b"GET"] * 12 + [b"HEAD"] * 4 + [b"POST", b"OPTIONS", b"PATCH", b"FOO", b"get", b"M-SEARCH"]
VERSIONS = [b"1.1"] * 8 + [b"1.0"] * 3 + [b"1.2", b"2.0", b"0.9"]


def target(rng):
    path = b"/" + b"/".join(rng.choice(SEGMENTS) for _ in range(rng.randint(0, 3)))
    if rng.random() < 0.2:
        path += b"?q=" + rng.choice([b"1", b"a/../b", b"%zz", b""])
    r = rng.random()
    if r < 0.1:
        return b"http://" + rng.choice([b"h", b"h:80", b""]) + (b"" if path == b"/" and rng.random() < 0.5 else path)
    if r < 0.13:
        return rng.choice([b"*", b"h:80", b"https://h/a", b"a"])
    return path


def head(rng):
    fields = [(b"Host", rng.choice(HOSTS[:8]) if rng.random() < 0.9 else rng.choice(HOSTS))]
    fields += [rng.choice(FIELDS) for _ in range(rng.randint(0, 5))]
    rng.shuffle(fields)
    lines = [rng.choice(METHODS) + b" " + target(rng) + b" HTTP/" + rng.choice(VERSIONS)]
    lines += [n + b":" + rng.choice([b" ", b"", b"  \t"]) + v + rng.choice([b"", b"", b" "]) for n, v in fields]
    return lines


def mutate(rng, lines):
    """One of the refusals HTTP.md's "Strict framing" lists, or a neighbour of one."""
    kind = rng.randrange(14)
    i = rng.randrange(1, len(lines)) if len(lines) > 1 else 0
    if kind == 0:    # a bare CR inside a line
        line = lines[i]
        k = rng.randrange(len(line) + 1)
        lines[i] = line[:k] + b"\r" + line[k:]
    elif kind == 1:  # obs-fold
        lines.insert(i + 1, rng.choice([b" folded", b"\tfolded"]))
    elif kind == 2:  # whitespace before the colon
        lines[i] = lines[i].replace(b":", rng.choice([b" :", b"\t:"]), 1)
    elif kind == 3:
        lines += [b"Content-Length: " + rng.choice([b"0", b"5", b"00", b"0, 0", b"1, 2", b"x", b""])]
        lines += [b"Content-Length: " + rng.choice([b"0", b"5", b"00"])] * rng.randint(0, 1)
    elif kind == 4:
        lines.insert(i, b"Transfer-Encoding: " + rng.choice([b"chunked", b"identity", b"gzip, chunked"]))
    elif kind == 5:  # a field name that is not a token
        lines.insert(i, rng.choice([b"X(Y: 1", b"X Y: 1", b"X\xc3\xa9: 1", b": 1", b"X@: 1", b"NoColon"]))
    elif kind == 6:  # a control byte in a value
        lines.insert(i, b"X-Ctl: a" + bytes([rng.choice([0, 1, 8, 0x1b, 0x7f, 0x0b, 0x0c])]) + b"b")
    elif kind == 7:  # no Host
        lines[:] = [l for l in lines if not l.lower().startswith(b"host:")]
    elif kind == 8:
        lines.insert(i, b"host: " + rng.choice(HOSTS[:8]))
    elif kind == 9:  # a bad method or request line
        lines[0] = rng.choice([b"G(T", b"GET ", b"\xc3\x89T", b"GET /a"]) + lines[0][lines[0].index(b" "):]
    elif kind == 10:
        lines[0] = lines[0].replace(b" HTTP/", rng.choice([b"  HTTP/", b" http/", b"\tHTTP/", b" HTTP/1"]), 1)
    elif kind == 11:  # a target with a byte HTTP.md refuses
        lines[0] = lines[0].replace(b" /", b" /" + rng.choice([b"\x01", b"\x7f", b"\xc3\xa9", b"#", b" "]), 1)
    elif kind == 12:  # whitespace before the first field
        lines.insert(1, b" X: 1")
    return lines


def generate(rng):
    lines = head(rng)
    if rng.random() < 0.5:
        lines = mutate(rng, lines)
    eol = rng.choice([b"\r\n", b"\r\n", b"\n"])
    if rng.random() < 0.1:   # LF alone and CR LF mixed, line by line
        text = b"".join(l + rng.choice([b"\r\n", b"\n"]) for l in lines) + eol
    else:
        text = eol.join(lines) + eol + eol
    lead = rng.choice([b""] * 9 + [b"\r\n", b"\n\r\n"])
    return lead, text


# ---- the two parsers ----

def h11_parse(data):
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError:
        return "refused", None
    if event is h11.NEED_DATA:
        return "need-more", None
    return "done", event


def latin1(s):
    return None if s is None else s.encode("latin-1")


def expect_from_h11(raw, event):
    """What HTTP.md makes of a head h11 accepted: (refusal statuses that
    close, or a keep-alive refusal, or the request)."""
    headers = [(n, v) for n, v in event.headers]
    version = event.http_version
    field_lines = raw.split(b"\n")[1:]
    close = set()
    # HTTP.md "Strict framing": obs-fold is 400; h11 unfolds it.
    if any(l[:1] in (b" ", b"\t") for l in field_lines):
        close.add(400)
    # HTTP.md: "a NUL or other control byte (HTAB aside) in a field value";
    # h11 takes any byte but NUL and whitespace.
    if any(c < 0x20 and c != 9 or c == 0x7f for _, v in headers for c in v):
        close.add(400)
    # HTTP.md "Requests": a major version other than 1 is 505; h11 takes any digit.
    if not version.startswith(b"1."):
        close.add(505)
    # HTTP.md: any Transfer-Encoding is 501; h11 implements chunked.
    if any(n == b"transfer-encoding" for n, _ in headers):
        close.add(501)
    # HTTP.md: Content-Length above 0 is 413 (GET and HEAD take no body).
    if any(n == b"content-length" and v.strip(b"0") for n, v in headers):
        close.add(413)
    # HTTP.md: a Host that is not a valid host is 400; h11 does not look.
    if any(n == b"host" and not host_ok(v) for n, v in headers):
        close.add(400)
    # HTTP.md: "any `HTTP/1.x` above 1.0 is taken as 1.1", Host rule
    # included; h11 asks for Host from exactly 1.1.
    if version.startswith(b"1.") and version != b"1.0" and not any(n == b"host" for n, _ in headers):
        close.add(400)
    if close:
        return {"close": close}

    options = {o.strip().lower() for n, v in headers if n == b"connection" for o in v.split(b",")}
    if version == b"1.0":
        # RFC 9112 9.3 and HTTP.md "Connections": HTTP/1.0 persists with
        # `Connection: keep-alive`; h11 never keeps a 1.0 connection.
        keep = b"keep-alive" in options and b"close" not in options
    else:
        keep = h11_keep_alive(event)
    minor = 0 if version == b"1.0" else 1
    # HTTP.md: GET and HEAD only, the 405 list, 501 for the rest; h11
    # takes any token.
    if event.method not in (b"GET", b"HEAD"):
        return {"status": 405 if event.method in NOT_ALLOWED else 501, "keep": keep, "minor": minor}
    # HTTP.md: origin-form or http:// absolute-form, dot segments, one
    # decoding pass, the name rules; h11 takes any visible bytes.
    target = httpmd_target(event.target)
    if target is None:
        return {"status": 400, "keep": keep, "minor": minor}

    def first(name):
        return next((v for n, v in headers if n == name), None)

    def single(name):
        # RFC 9110 13.1.3-13.1.5: a second line makes it an invalid list,
        # kept as an empty value.
        values = [v for n, v in headers if n == name]
        return values[0] if len(values) == 1 else (b"" if values else None)

    def lines(name):
        return [v for n, v in headers if n == name][:8]

    path, name, trailing = target
    return {"request": {
        "method": event.method.decode(), "minor": minor, "keep_alive": keep,
        "echo_keep_alive": minor == 0 and keep, "name": name, "trailing_slash": trailing,
        "path": path, "range": first(b"range"), "if_range": single(b"if-range"),
        "if_modified_since": single(b"if-modified-since"),
        "if_unmodified_since": single(b"if-unmodified-since"),
        "if_match": lines(b"if-match"), "if_none_match": lines(b"if-none-match"),
        "accept": lines(b"accept"),
        "range_repeated": len([1 for n, _ in headers if n == b"range"]) > 1}}


CONTENT_LENGTH_LINE = re.compile(rb"(?im)^(content-length:[ \t]*)([^\r\n]*)")


def lengths_as_numbers(text):
    """HTTP.md refuses Content-Lengths "that differ": as lengths, so `0`
    and `00` agree; h11 compares their text. Each all-digit value loses
    its leading zeros before h11 sees it."""
    def fix(m):
        parts = [p.strip(b" \t") for p in m.group(2).split(b",")]
        if not all(p.isdigit() for p in parts):
            return m.group(0)
        return m.group(1) + b", ".join(p.lstrip(b"0") or b"0" for p in parts)
    return CONTENT_LENGTH_LINE.sub(fix, text)


def compare(lead, text, ours):
    raw = lead + text
    first_line = text.split(b"\n", 1)[0]
    sniff = "http" if httpmd_request_line(first_line[:-1] if first_line.endswith(b"\r") else first_line) else "line"
    if not lead and ours["sniff"] != sniff:
        return f"sniff {ours['sniff']}, HTTP.md {sniff}"

    # HTTP.md "Requests": "Empty lines before a request line on an HTTP
    # connection are ignored"; h11 refuses them, so it gets the rest.
    text = lengths_as_numbers(text)
    theirs, event = h11_parse(text)
    if theirs == "refused":
        return None if ours["result"] == "refused" else f"h11 refused, we said {ours['result']}"
    if theirs == "need-more":
        # HTTP.md: "a bare CR anywhere" is 400, the final empty line's
        # included; h11 waits for a line that will never come.
        if b"\r\r\n" in text and ours["result"] == "refused" and ours["close"]:
            return None
        return f"h11 needs more, we said {ours['result']}"

    expect = expect_from_h11(text, event)
    if "close" in expect:
        if ours["result"] != "refused" or not ours["close"] or ours["status"] not in expect["close"]:
            return f"expected a closing refusal {sorted(expect['close'])}, got {ours}"
        return None
    if "status" in expect:
        if ours["result"] != "refused" or ours["status"] != expect["status"] or \
           ours["close"] != (not expect["keep"]) or ours["minor"] != expect["minor"] or \
           ours["consumed"] != len(raw):
            return f"expected {expect}, got {ours}"
        return None
    if ours["result"] != "done":
        return f"h11 and HTTP.md accept, we said {ours}"
    if ours["consumed"] != len(raw):
        return f"consumed {ours['consumed']} of {len(raw)}"
    for key, value in expect["request"].items():
        got = ours[key]
        if isinstance(value, bytes):
            got = latin1(got)
        elif isinstance(value, list):
            got = [latin1(v) for v in got]
        if got != value:
            return f"{key}: ours {got!r}, expected {value!r}"
    return None


def main():
    driver = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 9112
    rng = random.Random(seed)
    cases = [generate(rng) for _ in range(count)]
    records = b"".join(b"%d\n%s" % (len(l + t), l + t) for l, t in cases)
    out = subprocess.run([driver], input=records, stdout=subprocess.PIPE, check=True).stdout
    results = [json.loads(line) for line in out.decode("ascii").splitlines()]
    assert len(results) == count, (len(results), count)

    failures = 0
    tally = {}
    for (lead, text), ours in zip(cases, results):
        key = ours["result"] if ours["result"] != "refused" else str(ours["status"])
        tally[key] = tally.get(key, 0) + 1
        problem = compare(lead, text, ours)
        if problem is not None:
            failures += 1
            if failures <= 20:
                print(f"DIFF {lead + text!r}: {problem}")
    print(f"{count} heads (seed {seed}): {dict(sorted(tally.items()))}, {failures} disagreements")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

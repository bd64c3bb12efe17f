#!/usr/bin/python3
"""Real HTTP clients against the built daemon (TAP; issue 14).

curl, wget, aria2c, Python's urllib, apt, pip and (when installed)
headless Chromium fetch from one filecached over a temporary directory;
every body is checked byte for byte by SHA-256. The clients come from
tools/deps --tests (which tools/check runs); a missing client is
a failure, except Chromium, whose check is skipped.

Only the standard library, run with the system's /usr/bin/python3 (the
system's pip is under test). $FILECACHED is the daemon; $FILECACHE, the
client, is used to look at the cache. FILECACHED_TEST_KEEP=DIR copies the
Chromium screenshot and the daemon's log (--verbose: every request) there.
"""

import ctypes
import email.utils
import hashlib
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import zipfile
import zlib
import base64

CLIENT_TIMEOUT = 40       # seconds for any one client run
DAEMON_START_TIMEOUT = 30  # seconds for the daemon's port line
CACHE_SIZE = 1 << 20       # --cache-size 1M: the 8 and 32 MiB files stream
SMALL_SIZE = 300_000       # fits the cache

tests = []


def check(name):
    def register(fn):
        tests.append((name, fn))
        return fn
    return register


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def sha(data):
    return hashlib.sha256(data).hexdigest()


def sha_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def expect_same_file(got_path, want_path, what):
    if not os.path.exists(got_path):
        raise Fail(f'{what}: {got_path} was not written')
    got, want = sha_file(got_path), sha_file(want_path)
    if got != want:
        raise Fail(f'{what}: SHA-256 {got} ({os.path.getsize(got_path)} bytes), '
                   f'expected {want} ({os.path.getsize(want_path)} bytes)')


def expect(cond, message):
    if not cond:
        raise Fail(message)


def run(argv, ok_codes=(0,), timeout=CLIENT_TIMEOUT, **kw):
    """Runs a client; its output is returned (text), a bad exit code fails."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=kw.pop('env', None) or CHILD_ENV, **kw)
    except subprocess.TimeoutExpired as e:
        raise Fail(f'`{" ".join(argv)}` still running after {timeout} s; '
                   f'stderr so far: {(e.stderr or b"")[-2000:]!r}')
    out = p.stdout.decode(errors='replace')
    err = p.stderr.decode(errors='replace')
    if ok_codes is not None and p.returncode not in ok_codes:
        raise Fail(f'`{" ".join(argv)}` exited {p.returncode}\nstdout: {out[-3000:]}\n'
                   f'stderr: {err[-3000:]}')
    return p.returncode, out, err


def need(program):
    path = shutil.which(program)
    if path is None:
        raise Fail(f'{program} is not installed (tools/deps installs it)')
    return path


def headers_of(text):
    """The last response's status and fields from `curl -D -`-style output."""
    blocks = [b for b in re.split(r'\r?\n\r?\n', text) if b.startswith('HTTP/')]
    expect(blocks, f'no response head in {text!r}')
    lines = blocks[-1].splitlines()
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(':')
        fields[name.strip().lower()] = value.strip()
    return status, fields


# ---------------------------------------------------------------------------
# The served tree.

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


def make_wheel(path, name, version):
    """A minimal valid wheel: a package, METADATA, WHEEL and RECORD."""
    dist = f'{name}-{version}.dist-info'
    files = {
        f'{name}/__init__.py': b'GREETING = "hello from filecached"\n',
        f'{dist}/METADATA': (f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n'
                             'Summary: served by filecached in its tests\n').encode(),
        f'{dist}/WHEEL': (b'Wheel-Version: 1.0\nGenerator: filecached-tests\n'
                          b'Root-Is-Purelib: true\nTag: py3-none-any\n'),
    }
    record = []
    for arc, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
        record.append(f'{arc},sha256={digest},{len(data)}')
    record.append(f'{dist}/RECORD,,')
    files[f'{dist}/RECORD'] = ('\n'.join(record) + '\n').encode()
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        for arc, data in files.items():
            z.writestr(zipfile.ZipInfo(arc, (2026, 1, 1, 0, 0, 0)), data)


def make_deb(work, out_dir, package):
    tree = os.path.join(work, 'debtree')
    write(os.path.join(tree, 'usr/share/doc', package, 'hello.txt'), b'hello from filecached\n')
    write(os.path.join(tree, 'DEBIAN/control'),
          (f'Package: {package}\nVersion: 1.0\nArchitecture: all\n'
           'Maintainer: filecached tests <tests@invalid>\n'
           'Description: a package served by filecached in its tests\n').encode())
    deb = os.path.join(out_dir, f'{package}_1.0_all.deb')
    run(['dpkg-deb', '--root-owner-group', '--build', tree, deb])
    _, packages, _ = run(['apt-ftparchive', 'packages', '.'], cwd=out_dir)
    write(os.path.join(out_dir, 'Packages'), packages.encode())
    return deb


# ---------------------------------------------------------------------------
# The daemon.

def die_with_parent():
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def start_daemon(root, log_path):
    argv = [os.environ['FILECACHED'], '--config=/dev/null', '--no-dbus',
            '--host', '127.0.0.1', '--port', '0', '--cache-size', str(CACHE_SIZE),
            '--index', '--verbose', root]
    env = dict(CHILD_ENV)
    env.pop('G_MESSAGES_DEBUG', None)
    log = open(log_path, 'wb')
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, env=env,
                            preexec_fn=die_with_parent)
    log.close()
    # The daemon prints the port it got on stdout: wait for that line.
    line = b''
    deadline = time.monotonic() + DAEMON_START_TIMEOUT
    fd = proc.stdout.fileno()
    while not line.endswith(b'\n'):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(left, 0))
        if not ready:
            proc.kill()
            sys.exit(f'Bail out! the daemon printed no port within {DAEMON_START_TIMEOUT} s')
        chunk = os.read(fd, 1)
        if not chunk:
            proc.wait()
            with open(log_path, errors='replace') as f:
                sys.exit(f'Bail out! the daemon exited ({proc.returncode}) before printing '
                         f'its port: {f.read()[-2000:]}')
        line += chunk
    return proc, int(line)


def stop_daemon(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


# ---------------------------------------------------------------------------
# The checks. Each is one TAP line; they run in this order and share files.

def url(name):
    return f'http://127.0.0.1:{PORT}/{name}'


def served(name):
    return os.path.join(ROOT, name)


def out(name):
    return os.path.join(WORK, 'out', name)


CURL = ['curl', '-q', '--silent', '--show-error', '--fail-with-body', '--max-time', '30']


def curl_get(name, dest, *extra, ok_codes=(0,)):
    """curl to dest; returns (status, fields, exit code)."""
    code, text, _ = run(CURL + ['-D', '-', '-o', dest] + list(extra) + [url(name)],
                        ok_codes=ok_codes)
    if 'HTTP/' not in text:
        return None, {}, code
    status, fields = headers_of(text)
    return status, fields, code


@check('curl: GET of a cached file, byte-exact')
def curl_get_cached():
    need('curl')
    status, fields, _ = curl_get('docs/readme.txt', out('readme.txt'))
    expect(status == 200, f'status {status}, expected 200')
    expect_same_file(out('readme.txt'), served('docs/readme.txt'), 'curl GET')


@check('curl: GET of an 8 MiB file streamed past a 1 MiB cache, byte-exact; the cache holds the small file, not it')
def curl_get_streamed():
    status, fields, _ = curl_get('big-8m.bin', out('big-8m.bin'))
    expect(status == 200, f'status {status}, expected 200')
    expect(fields.get('content-length') == str(8 << 20),
           f'Content-Length {fields.get("content-length")}, expected {8 << 20}')
    expect_same_file(out('big-8m.bin'), served('big-8m.bin'), 'curl GET (streamed)')
    _, listing, _ = run([os.environ['FILECACHE'], 'list', '-H', '127.0.0.1', '-p', str(PORT)])
    names = [line.split()[-1] for line in listing.splitlines()[1:] if line.strip()]
    expect('docs/readme.txt' in names, f'docs/readme.txt is not in the cache: {listing!r}')
    expect('big-8m.bin' not in names, f'big-8m.bin is in a 1 MiB cache: {listing!r}')


@check('curl -I: HEAD gives 200, Content-Length, a strong ETag, Last-Modified, Content-Type, no body')
def curl_head():
    # Twice on one connection: a body after the first HEAD would be read
    # as the second response's head.
    _, text, err = run(CURL + ['-v', '-I', url('docs/readme.txt'), url('docs/readme.txt')])
    expect('Re-using existing connection' in err, f'curl did not reuse the connection: {err[-2000:]}')
    expect(len(re.findall(r'^HTTP/1\.1 200 ', text, re.M)) == 2, f'two HEADs: {text!r}')
    status, fields = headers_of(text)
    st = os.stat(served('docs/readme.txt'))
    want = {
        'content-length': str(st.st_size),
        'last-modified': email.utils.formatdate(st.st_mtime, usegmt=True),
        'content-type': 'text/plain',
        'accept-ranges': 'bytes',
    }
    expect(status == 200, f'status {status}, expected 200')
    for k, v in want.items():
        expect(fields.get(k) == v, f'{k}: {fields.get(k)!r}, expected {v!r}')
    expect(re.fullmatch(r'"[0-9a-f]+"', fields.get('etag', '')),
           f'ETag {fields.get("etag")!r} is not a strong hex tag')
    _, get_fields, _ = curl_get('docs/readme.txt', os.devnull)
    expect(get_fields.get('etag') == fields['etag'],
           f'GET\'s ETag {get_fields.get("etag")} differs from HEAD\'s {fields["etag"]}')


@check('curl -r 100-199: 206, Content-Range, exactly bytes 100..199')
def curl_range():
    status, fields, _ = curl_get('docs/readme.txt', out('range'), '-r', '100-199')
    size = os.path.getsize(served('docs/readme.txt'))
    expect(status == 206, f'status {status}, expected 206')
    expect(fields.get('content-range') == f'bytes 100-199/{size}',
           f'Content-Range {fields.get("content-range")!r}')
    with open(served('docs/readme.txt'), 'rb') as f:
        want = f.read()[100:200]
    with open(out('range'), 'rb') as f:
        got = f.read()
    expect(sha(got) == sha(want), f'{len(got)} bytes, SHA-256 {sha(got)}; expected {sha(want)}')


@check('curl -C -: resuming a truncated copy of a streamed file gives the whole file')
def curl_resume():
    dest = out('resume.bin')
    shutil.copyfile(served('resume.bin'), dest)
    os.truncate(dest, 1_234_567)
    status, fields, _ = curl_get('resume.bin', dest, '-C', '-')
    expect(status == 206, f'status {status}, expected 206')
    expect_same_file(dest, served('resume.bin'), 'curl -C -')


@check('resume after the file changed: curl -C - with If-Range refuses the 200 (no splice); '
       'curl -r with If-Range gets the whole new file')
def curl_resume_after_change():
    src, dest = served('changing.bin'), out('changing.bin')
    status, fields, _ = curl_get('changing.bin', dest)
    expect(status == 200, f'first download: status {status}')
    old_etag = fields['etag']
    os.truncate(dest, 100_000)
    truncated = sha_file(dest)
    # Changed in place, same size: only the version (mtime, ctime) tells.
    with open(src, 'r+b') as f:
        f.write(os.urandom(os.path.getsize(src)))
    new = sha_file(src)

    # What curl does by itself: Range without If-Range, which HTTP.md (RFC
    # 9110 14.2) answers with the new version's bytes, so curl splices.
    # curl's limitation, shown here, not failed on.
    spliced = out('changing.spliced')
    shutil.copyfile(dest, spliced)
    status, _, _ = curl_get('changing.bin', spliced, '-C', '-')
    print(f'# plain curl -C - after a change: {status}, '
          f'{"whole new file" if sha_file(spliced) == new else "a SPLICE of old and new (curl sends no If-Range)"}')

    # With If-Range (the old ETag), the daemon sends 200 and the whole new
    # file; curl -C - will not append a 200 to a partial file: exit 33,
    # file left alone.
    status, fields, code = curl_get('changing.bin', dest, '-C', '-', '-H', f'If-Range: {old_etag}',
                                    ok_codes=(33,))
    expect(status == 200, f'curl -C - with If-Range: status {status}, expected 200')
    expect(sha_file(dest) == truncated, 'curl -C - with If-Range changed the partial file')

    # A resuming client that uses If-Range with -r: 200 means "start over".
    status, fields, _ = curl_get('changing.bin', dest, '-r', '100000-', '-H', f'If-Range: {old_etag}')
    expect(status == 200, f'curl -r 100000- with a stale If-Range: status {status}, expected 200')
    expect(fields.get('etag') != old_etag, 'the ETag did not change with the file')
    expect_same_file(dest, src, 'curl -r with a stale If-Range')

    # And with the current ETag, the same request is a 206 of the tail.
    status, fields, _ = curl_get('changing.bin', out('tail'), '-r', '100000-',
                                 '-H', f'If-Range: {fields["etag"]}')
    expect(status == 206, f'curl -r 100000- with the current If-Range: status {status}, expected 206')
    with open(src, 'rb') as f:
        want = f.read()[100_000:]
    expect(sha_file(out('tail')) == sha(want), 'the 206 tail differs from the file\'s')


@check('curl -z: 304 for an up-to-date copy (left alone), 200 for an older one')
def curl_time_cond():
    dest = out('cond.txt')
    status, _, _ = curl_get('docs/readme.txt', dest, '-R')
    expect(status == 200, f'first download: status {status}')
    before = os.stat(dest)
    expect(int(before.st_mtime) == int(os.stat(served('docs/readme.txt')).st_mtime),
           'curl -R did not take the mtime from Last-Modified')
    status, _, _ = curl_get('docs/readme.txt', dest, '-R', '-z', dest)
    after = os.stat(dest)
    expect(status == 304, f'curl -z with an up-to-date copy: status {status}, expected 304')
    expect((after.st_ino, after.st_mtime_ns, after.st_size) ==
           (before.st_ino, before.st_mtime_ns, before.st_size), 'curl -z rewrote the file on a 304')
    expect_same_file(dest, served('docs/readme.txt'), 'after curl -z')
    # Older than the server's: downloaded again.
    os.truncate(dest, 10)
    os.utime(dest, (1_000_000_000, 1_000_000_000))
    status, _, _ = curl_get('docs/readme.txt', dest, '-R', '-z', dest)
    expect(status == 200, f'curl -z with an old copy: status {status}, expected 200')
    expect_same_file(dest, served('docs/readme.txt'), 'curl -z with an old copy')


WGET = ['wget', '--no-config', '--tries=1', '--timeout=30', '--server-response']


@check('wget -c: resuming a truncated copy gives the whole file (206)')
def wget_continue():
    need('wget')
    d = out('wget-c')
    os.makedirs(d)
    shutil.copyfile(served('resume.bin'), os.path.join(d, 'resume.bin'))
    os.truncate(os.path.join(d, 'resume.bin'), 777_777)
    _, _, err = run(WGET + ['-c', url('resume.bin')], cwd=d)
    expect(re.search(r'HTTP/1\.1 206', err), f'wget -c got no 206: {err[-2000:]}')
    expect_same_file(os.path.join(d, 'resume.bin'), served('resume.bin'), 'wget -c')


@check('wget -N: the second run does not download again (304, same inode and mtime)')
def wget_timestamping():
    d = out('wget-N')
    os.makedirs(d)
    dest = os.path.join(d, 'readme.txt')
    run(WGET + ['-N', url('docs/readme.txt')], cwd=d)
    expect_same_file(dest, served('docs/readme.txt'), 'wget -N, first run')
    first = os.stat(dest)
    expect(int(first.st_mtime) == int(os.stat(served('docs/readme.txt')).st_mtime),
           'wget -N did not take the mtime from Last-Modified')
    _, _, err = run(WGET + ['-N', url('docs/readme.txt')], cwd=d)
    second = os.stat(dest)
    expect(re.search(r'HTTP/1\.1 304', err), f'wget -N, second run: no 304: {err[-2000:]}')
    expect((second.st_ino, second.st_mtime_ns) == (first.st_ino, first.st_mtime_ns),
           'wget -N, second run: the file was written again')


@check('aria2c -x4 -s4: a segmented download of a 32 MiB streamed file, byte-exact')
def aria2_segmented():
    need('aria2c')
    d = out('aria2')
    log = os.path.join(WORK, 'aria2.log')
    run(['aria2c', '--no-conf', '-x4', '-s4', '-k1M', '--file-allocation=none',
         '--summary-interval=0', '--console-log-level=warn', '--log', log, '--log-level=debug',
         '--connect-timeout=30', '--timeout=30', '--max-tries=1',
         '-d', d, '-o', 'big-32m.bin', url('big-32m.bin')], timeout=60)
    expect_same_file(os.path.join(d, 'big-32m.bin'), served('big-32m.bin'), 'aria2c')
    with open(log, errors='replace') as f:
        ranges = len(re.findall(r'^Range: bytes=', f.read(), re.M))
    print(f'# aria2c sent {ranges} ranged requests')
    expect(ranges >= 2, f'aria2c sent {ranges} ranged requests: the download was not segmented')


@check('urllib.request: GET of a file, byte-exact')
def urllib_get():
    with urllib.request.urlopen(url('big-8m.bin'), timeout=30) as r:
        expect(r.status == 200, f'status {r.status}')
        body = r.read()
    expect(sha(body) == sha_file(served('big-8m.bin')), f'{len(body)} bytes, wrong SHA-256')


@check('urllib.request: Range bytes=1000-1999 gives 206 and exactly those bytes')
def urllib_range():
    req = urllib.request.Request(url('docs/readme.txt'), headers={'Range': 'bytes=1000-1999'})
    with urllib.request.urlopen(req, timeout=30) as r:
        status, content_range, body = r.status, r.headers.get('Content-Range'), r.read()
    size = os.path.getsize(served('docs/readme.txt'))
    with open(served('docs/readme.txt'), 'rb') as f:
        want = f.read()[1000:2000]
    expect(status == 206, f'status {status}, expected 206')
    expect(content_range == f'bytes 1000-1999/{size}', f'Content-Range {content_range!r}')
    expect(sha(body) == sha(want), f'{len(body)} bytes, wrong SHA-256')


@check('apt-get update and apt-get download from a flat repository (deb [trusted=yes] .../debian/ ./), byte-exact')
def apt_flat_repository():
    need('apt-get')
    a = os.path.join(WORK, 'apt')
    for sub in ('etc/apt.conf.d', 'etc/preferences.d', 'state/lists/partial',
                'cache/archives/partial', 'download'):
        os.makedirs(os.path.join(a, sub))
    write(os.path.join(a, 'state/status'), b'')
    write(os.path.join(a, 'sources.list'),
          f'deb [trusted=yes] http://127.0.0.1:{PORT}/debian/ ./\n'.encode())
    # APT_CONFIG is read first: nothing of the system's apt configuration
    # (proxies, sources, state, locks) is used or touched.
    conf = {
        'Dir::Etc::Main': '/dev/null',
        'Dir::Etc::Parts': f'{a}/etc/apt.conf.d',
        'Dir::Etc::Preferences': '/dev/null',
        'Dir::Etc::PreferencesParts': f'{a}/etc/preferences.d',
        'Dir::Etc::SourceList': f'{a}/sources.list',
        'Dir::Etc::SourceParts': '/dev/null',
        'Dir::State': f'{a}/state',
        'Dir::State::status': f'{a}/state/status',
        'Dir::Cache': f'{a}/cache',
        'Dir::Log': f'{a}',
        'Debug::NoLocking': '1',
        'APT::Sandbox::User': 'root',
        'Acquire::http::Proxy': 'DIRECT',
        'Acquire::Retries': '0',
        'Acquire::http::Timeout': '30',
    }
    write(os.path.join(a, 'apt.conf'),
          ''.join(f'{k} "{v}";\n' for k, v in conf.items()).encode())
    env = dict(CHILD_ENV, APT_CONFIG=os.path.join(a, 'apt.conf'))
    opts = [f'-o{k}={v}' for k, v in conf.items()]
    _, o, e = run(['apt-get', '-q'] + opts + ['update'], env=env)
    print('# apt-get update: ' + ' | '.join(l for l in o.splitlines()
                                            if l.strip() and not l.startswith('Ign:')))
    expect(not re.search(r'^(E|W):', o + e, re.M), f'apt-get update complained:\n{o}\n{e}')
    run(['apt-get', '-q'] + opts + ['download', 'fc-hello'], env=env,
        cwd=os.path.join(a, 'download'))
    expect_same_file(os.path.join(a, 'download', 'fc-hello_1.0_all.deb'),
                     served('debian/fc-hello_1.0_all.deb'), 'apt-get download')


@check('pip download from a PEP 503 simple index (the --index listing), byte-exact')
def pip_download():
    python = '/usr/bin/python3'
    code, _, _ = run([python, '-m', 'pip', '--version'], ok_codes=None)
    if code != 0:
        raise Fail('the system pip is not installed (python3-pip; tools/deps installs it)')
    d = out('pip')
    env = dict(CHILD_ENV, PIP_CONFIG_FILE='/dev/null', PIP_DISABLE_PIP_VERSION_CHECK='1',
               PIP_NO_INPUT='1')
    for k in list(env):
        if k.startswith('PIP_') and k not in ('PIP_CONFIG_FILE', 'PIP_DISABLE_PIP_VERSION_CHECK',
                                              'PIP_NO_INPUT'):
            del env[k]
    run([python, '-m', 'pip', 'download', '--no-deps', '--no-cache-dir', '--isolated',
         '--timeout', '30', '--retries', '0',
         '--index-url', f'http://127.0.0.1:{PORT}/simple/', '-d', d, 'fc-demo==1.0'], env=env)
    expect_same_file(os.path.join(d, 'fc_demo-1.0-py3-none-any.whl'),
                     served('simple/fc-demo/fc_demo-1.0-py3-none-any.whl'), 'pip download')


def png_check(path):
    with open(path, 'rb') as f:
        data = f.read()
    expect(data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG')
    width, height = struct.unpack('>II', data[16:24])
    expect((width, height) == (1000, 600), f'{width}x{height}, expected 1000x600')
    idat, pos = b'', 8
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        if kind == b'IDAT':
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    values = len(set(raw))
    expect(values >= 16, f'only {values} distinct byte values: a blank page?')
    return len(data), values


@check('chromium --headless: a screenshot of the root\'s index page')
def chromium_screenshot():
    browser = shutil.which('chromium') or shutil.which('chromium-browser')
    if browser is None:
        raise Skip('chromium is not installed (tools/deps --tests installs it)')
    shot = os.path.join(WORK, 'index.png')
    profile = os.path.join(WORK, 'chromium-profile')
    # --dump-dom beside the screenshot: the page it rendered is the index.
    _, dom, _ = run([browser, '--headless', '--no-sandbox', '--disable-gpu',
                     '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions',
                     f'--user-data-dir={profile}', f'--screenshot={shot}', '--dump-dom',
                     '--window-size=1000,600', url('')], timeout=90)
    expect(os.path.exists(shot), 'no screenshot was written')
    for want in ['<h1>Index of /</h1>', 'href="big-8m.bin"', 'href="simple/"']:
        expect(want in dom, f'the DOM Chromium rendered lacks {want}: {dom[:3000]}')
    size, values = png_check(shot)
    print(f'# screenshot: {size} bytes, {values} distinct byte values')
    if os.environ.get('FILECACHED_TEST_KEEP'):
        shutil.copy(shot, os.environ['FILECACHED_TEST_KEEP'])


# ---------------------------------------------------------------------------

def main():
    global WORK, ROOT, PORT, CHILD_ENV
    CHILD_ENV = {k: v for k, v in os.environ.items()
                 if k.lower() not in ('http_proxy', 'https_proxy', 'all_proxy', 'ftp_proxy',
                                      'no_proxy', 'curl_home', 'wgetrc')}
    CHILD_ENV['no_proxy'] = '*'
    os.environ.clear()
    os.environ.update(CHILD_ENV)   # urllib's proxies come from here too
    started = time.monotonic()
    WORK = tempfile.mkdtemp(prefix='filecached-real-clients-')
    CHILD_ENV['HOME'] = WORK       # no ~/.curlrc, ~/.wgetrc, pip or browser state
    ROOT = os.path.join(WORK, 'root')
    os.makedirs(os.path.join(WORK, 'out'))
    proc = None
    failed = 0
    try:
        text = bytes(range(32, 127)) + b'\n'
        write(served('docs/readme.txt'),
              bytes(text[b % len(text)] for b in os.urandom(SMALL_SIZE)))
        write(served('big-8m.bin'), os.urandom(8 << 20))
        write(served('big-32m.bin'), os.urandom(32 << 20))
        write(served('resume.bin'), os.urandom(3 << 20))
        write(served('changing.bin'), os.urandom(500_000))
        os.makedirs(served('debian'))
        make_deb(WORK, served('debian'), 'fc-hello')
        os.makedirs(served('simple/fc-demo'))
        make_wheel(served('simple/fc-demo/fc_demo-1.0-py3-none-any.whl'), 'fc_demo', '1.0')

        proc, PORT = start_daemon(ROOT, os.path.join(WORK, 'daemon.log'))
        print(f'1..{len(tests)}')
        for n, (name, fn) in enumerate(tests, 1):
            t0 = time.monotonic()
            try:
                fn()
                print(f'ok {n} - {name} ({time.monotonic() - t0:.1f} s)')
            except Skip as e:
                print(f'ok {n} - {name} # SKIP {e}')
            except Fail as e:
                failed += 1
                print(f'not ok {n} - {name}')
                for line in str(e).splitlines():
                    print(f'# {line}')
            except Exception:
                failed += 1
                print(f'not ok {n} - {name}')
                for line in traceback.format_exc().splitlines():
                    print(f'# {line}')
            sys.stdout.flush()
        code = stop_daemon(proc)
        proc = None
        if code != 0:
            failed += 1
            print(f'# the daemon exited with {code} on SIGTERM')
        if failed:
            with open(os.path.join(WORK, 'daemon.log'), errors='replace') as f:
                for line in f.read().splitlines()[-40:]:
                    print(f'# daemon: {line}')
        print(f'# {time.monotonic() - started:.1f} s in all')
        if os.environ.get('FILECACHED_TEST_KEEP'):
            shutil.copy(os.path.join(WORK, 'daemon.log'), os.environ['FILECACHED_TEST_KEEP'])
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(WORK, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

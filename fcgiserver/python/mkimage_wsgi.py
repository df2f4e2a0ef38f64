"""mkimage_wsgi: a FastCGI server for WSGI applications, standard library only.

It stands in for flup's threaded WSGIServer (Debian 12 has no flup). The
seed's ``WSGIServer(app, minSpare=1, maxSpare=5, maxThreads=50).run()``
works as is with ``from mkimage_wsgi import WSGIServer``. An mkimage pool
runs it from the command line instead:

    python3 -m mkimage_wsgi package.module:application
    python3 /path/to/mkimage_wsgi.py package.module[:application]

which puts the current directory and $APP_DIR at the front of sys.path and
reads what init passes to every pool member:

    FCGI_MAX_THREADS, FCGI_MIN_SPARE, FCGI_MAX_SPARE   maxThreads, minSpare,
                          maxSpare (defaults 50, 1, 5)
    FCGI_STACK_SIZE       threading.stack_size() of the workers (init's
                          launcher set RLIMIT_STACK for the main thread)
    FCGI_MAX_REQUESTS     exit 0 after this many requests, once those in
                          flight finished (the supervisor starts a new one)
    FCGI_REQUEST_TIMEOUT  Go duration ("30s"): end a request after it, with
                          a 503 if nothing was sent yet
    FCGI_SHUTDOWN_GRACE   Go duration, default 10s: on SIGTERM/SIGINT/SIGHUP
                          requests in flight get this long
    FCGI_LISTEN           unix path or host:port when fd 0 is no listener
    FCGI_WEB_SERVER_ADDRS comma-separated IPs allowed over TCP

Behaviour, against flup's:

- The listening socket is fd 0 (FCGI_LISTENSOCK_FILENO), as lighttpd's
  bin-path, spawn-fcgi and mkimage's init pass it; bindAddress (a path or
  (host, port)) is for tests and manual runs.
- maxThreads bounds the requests running at once; one more gets
  "Status: 503", Retry-After and END_REQUEST(FCGI_OVERLOADED) at once (flup
  closed the socket). minSpare idle threads are kept started, at most
  maxSpare stay idle after a burst (flup's ThreadPool).
- The thread that calls run() reads every connection (selectors); workers
  run the application and write. An idle FCGI_KEEP_CONN connection costs no
  thread; FCGI_ABORT_REQUEST or a hang-up ends the request at once
  (wsgi.input raises, later output is dropped); the body streams into
  wsgi.input as it arrives, at most 64 KiB buffered: beyond that the
  connection is not read until the application reads (no multiplexing, so
  this stalls nothing else).
- FCGI_GET_VALUES: FCGI_MAX_CONNS = FCGI_MAX_REQS = maxThreads,
  FCGI_MPXS_CONNS = 0. A second request on a busy connection gets
  FCGI_CANT_MPX_CONN, other management records FCGI_UNKNOWN_TYPE, roles but
  responder FCGI_UNKNOWN_ROLE.
- WSGI 1.0.1 (PEP 3333): start_response with exc_info, write(), close() on
  the iterable, headers checked (no hop-by-hop, no control characters),
  nothing sent past Content-Length (a shorter body cuts the response), a
  small list gets a Content-Length. Each write() and each non-empty item
  goes out at once as FCGI_STDOUT records. wsgi.errors sends FCGI_STDERR
  records (the web server logs them), a line at a time.
- SCRIPT_NAME and PATH_INFO are passed as the web server sends them;
  mkimage's front end splits them at the app's prefix, so the seed's
  PasteDeploy prefix fix is not needed.
- Hostile input does not crash it: a malformed record closes its
  connection, PARAMS over 1 MiB get 431, bad pairs 400, an unread body is
  discarded. An exception gives a 500 with the traceback in wsgi.errors;
  after the headers went out the connection is dropped without
  END_REQUEST, so the web server knows the response is broken.
"""

import collections
import importlib
import os
import re
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import traceback

__all__ = ['WSGIServer', 'main']

# FastCGI 1.0 constants.
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
RESPONDER, KEEP_CONN = 1, 1
REQUEST_COMPLETE, CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE = 0, 1, 2, 3

MAX_CONTENT = 65535          # largest record content
MAX_PARAMS = 1 << 20         # PARAMS bytes per request (431 above)
STDIN_BUFFER = 64 << 10      # body bytes buffered per request before pausing
READ_SIZE = 64 << 10         # one recv
WRITE_TIMEOUT = 60.0         # a web server that reads nothing for this long is gone
DRAIN_TIME = 5.0             # how long a finished connection is drained before close
TICK = 0.05                  # selector period while something waits for a timer

_HDR = struct.Struct('!BBHHBx')
_PAD = bytes(8)
_HOP = {'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
        'proxy-connection', 'te', 'trailer', 'trailers', 'transfer-encoding', 'upgrade'}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(r'[\x00-\x08\x0a-\x1f\x7f]')
_STATUS = re.compile(r'[1-9][0-9][0-9]( [^\x00-\x1f\x7f]*)?\Z')


def _record(rtype, rid, content=b''):
    """One record, padded to 8 bytes."""
    n = len(content)
    return _HDR.pack(1, rtype, rid, n, -n & 7) + content + _PAD[:-n & 7]


def _records(rtype, rid, data):
    """Records of type rtype carrying data (not ending the stream)."""
    if len(data) <= MAX_CONTENT:
        return _record(rtype, rid, data) if data else b''
    mv = memoryview(data)
    return b''.join(_record(rtype, rid, mv[i:i + MAX_CONTENT]) for i in range(0, len(data), MAX_CONTENT))


def _end_request(rid, proto=REQUEST_COMPLETE, app_status=0):
    return _record(END_REQUEST, rid, struct.pack('!IB3x', app_status, proto))


def _text(rid, status, retry=False):
    """STDOUT records of a short text response (not ending the stream)."""
    head = 'Status: %s\r\nContent-Type: text/plain; charset=utf-8\r\n' % status
    if retry:
        head += 'Retry-After: 1\r\n'
    return _record(STDOUT, rid, (head + '\r\n' + status + '\n').encode('latin-1'))


def _reply(rid, status, proto):
    """A complete refusal: a short text response, then END_REQUEST."""
    return _text(rid, status, proto == OVERLOADED) + _record(STDOUT, rid) + _end_request(rid, proto)


def _encode_pair(name, value):
    out = bytearray()
    for n in (len(name), len(value)):
        out += bytes([n]) if n < 128 else struct.pack('!I', n | 0x80000000)
    return bytes(out) + name + value


def _parse_pairs(buf):
    """Decodes name-value pairs; raises ValueError on a truncated buffer."""
    pairs, i, n = [], 0, len(buf)
    while i < n:
        lens = []
        for _ in (0, 1):
            if i >= n:
                raise ValueError('truncated name-value pair')
            if buf[i] & 0x80:
                if i + 4 > n:
                    raise ValueError('truncated pair length')
                lens.append(struct.unpack_from('!I', buf, i)[0] & 0x7fffffff)
                i += 4
            else:
                lens.append(buf[i])
                i += 1
        if lens[0] + lens[1] > n - i:
            raise ValueError('pair lengths %d+%d beyond the %d bytes left' % (lens[0], lens[1], n - i))
        pairs.append((bytes(buf[i:i + lens[0]]), bytes(buf[i + lens[0]:i + lens[0] + lens[1]])))
        i += lens[0] + lens[1]
    return pairs


class _Conn:
    """One connection from the web server. Only the selector thread reads it
    and changes its state; writers hold wlock."""

    def __init__(self, sock):
        self.sock, self.fd = sock, sock.fileno()
        self.inbuf = bytearray()
        self.wlock = threading.Lock()
        self.req = None          # the current (or last) request
        self.ctrl = []           # management replies waiting for wlock
        self.paused = False      # not read: its request's body buffer is full
        self.eof = False         # the web server hung up
        self.broken = False      # a write failed: the stream is unusable
        self.drain_until = None  # half-closed, discarding input until EOF or then
        self.dead = False        # closed


class _Request:
    """One request. The selector thread feeds it; a worker thread runs it."""

    def __init__(self, conn, rid, keep):
        self.conn, self.id, self.keep = conn, rid, keep
        self.params = bytearray()
        self.in_params = True      # PARAMS not ended yet
        self.reserved = False      # was admitted (counted in maxThreads)
        self.pool = None           # the pool whose slot it holds until free()
        self.dispatched = False    # handed to a worker
        self.done = False          # the worker finished (selector's view)
        self.ended = False         # END_REQUEST sent, or never will be: no more output
        self.headers_sent = False
        self.deadline = None       # FCGI_REQUEST_TIMEOUT
        self.cancel = None         # (reply bytes, proto) the selector must send to end it
        self.cond = threading.Condition()
        self.stdin = collections.deque()
        self.stdin_bytes = 0
        self.stdin_eof = False
        self.want_resume = False   # the connection is paused on this body
        self.aborted = None        # why the body will never come

    def feed(self, data):
        """Queues a body chunk (b'' is its end); True asks to pause."""
        with self.cond:
            if data:
                self.stdin.append(data)
                self.stdin_bytes += len(data)
            else:
                self.stdin_eof = True
            self.cond.notify_all()
            if self.stdin_bytes > STDIN_BUFFER:
                self.want_resume = True
                return True
        return False

    def free(self):
        """Gives back the maxThreads slot (once)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.release()

    def abort(self, why):
        with self.cond:
            if self.aborted is None:
                self.aborted = why
            self.cond.notify_all()

    def send(self, data=b'', tail=b'', end=False):
        """Sends data as STDOUT records followed by ready-made records (tail);
        end marks the request ended. False if it cannot be sent any more."""
        conn = self.conn
        with conn.wlock:
            if self.ended or conn.broken:
                return False
            # Ended before the END_REQUEST goes: the web server may send the
            # next request at once, and the selector must see this one ended.
            self.ended = end
            if end:
                self.free()
            try:
                for i in range(0, max(len(data), 1), 4 * MAX_CONTENT):
                    last = i + 4 * MAX_CONTENT >= len(data)
                    conn.sock.sendall(_records(STDOUT, self.id, data[i:i + 4 * MAX_CONTENT]) + (tail if last else b''))
            except OSError:
                conn.broken = self.ended = True
                return False
        return True

    def send_stderr(self, data):
        conn = self.conn
        with conn.wlock:
            if self.ended or conn.broken:
                return False
            try:
                conn.sock.sendall(_records(STDERR, self.id, data))
            except OSError:
                conn.broken = self.ended = True
                return False
        return True


class _Input:
    """wsgi.input: the FCGI_STDIN stream as it arrives."""

    def __init__(self, req, server):
        self._req, self._server, self._buf = req, server, bytearray()

    def _pull(self):
        req = self._req
        with req.cond:
            while not req.stdin and not req.stdin_eof and req.aborted is None:
                req.cond.wait()
            if req.aborted is not None:
                raise ConnectionAbortedError('request body unavailable: %s' % req.aborted)
            if not req.stdin:
                return b''
            chunk = req.stdin.popleft()
            req.stdin_bytes -= len(chunk)
            resume = req.want_resume and req.stdin_bytes <= STDIN_BUFFER // 2
            if resume:
                req.want_resume = False
        if resume:
            self._server._post('resume', req)
        return chunk

    def read(self, size=-1):
        if size is None or size < 0:
            parts = [bytes(self._buf)]
            self._buf.clear()
            while True:
                chunk = self._pull()
                if not chunk:
                    return b''.join(parts)
                parts.append(chunk)
        while len(self._buf) < size:
            chunk = self._pull()
            if not chunk:
                break
            self._buf += chunk
        out = bytes(self._buf[:size])
        del self._buf[:size]
        return out

    def readline(self, size=-1):
        limit = size if size is not None and size >= 0 else None
        start = 0
        while True:
            i = self._buf.find(b'\n', start)
            if i >= 0:
                n = i + 1
                break
            if limit is not None and len(self._buf) >= limit:
                n = limit
                break
            start = len(self._buf)
            chunk = self._pull()
            if not chunk:
                n = len(self._buf)
                break
            self._buf += chunk
        if limit is not None:
            n = min(n, limit)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def readlines(self, hint=-1):
        lines, total = [], 0
        for line in self:
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self):
        pass


class _Errors:
    """wsgi.errors: text sent as FCGI_STDERR records, a line at a time; after
    the request ended, to the process's stderr."""

    def __init__(self, req):
        self._req, self._buf, self._lock = req, '', threading.Lock()

    def write(self, s):
        if isinstance(s, (bytes, bytearray)):
            s = bytes(s).decode('utf-8', 'replace')
        with self._lock:
            self._buf += s
            cut = len(self._buf) if len(self._buf) > 8192 else self._buf.rfind('\n') + 1
            out, self._buf = self._buf[:cut], self._buf[cut:]
        self._emit(out)
        return len(s)

    def writelines(self, seq):
        for s in seq:
            self.write(s)

    def flush(self):
        with self._lock:
            out, self._buf = self._buf, ''
        self._emit(out)

    def _emit(self, text):
        if text and not self._req.send_stderr(text.encode('utf-8', 'backslashreplace')):
            sys.stderr.write(text)
            sys.stderr.flush()


class _ThreadPool:
    """flup's ThreadPool: minSpare idle threads ready, at most maxSpare kept
    idle, maxThreads in all; reserve() admits a request (a slot)."""

    def __init__(self, min_spare, max_spare, max_threads):
        self.max_threads = max(1, max_threads)
        self.max_spare = max(1, min(max_spare, self.max_threads))
        self.min_spare = max(0, min(min_spare, self.max_spare))
        self.cond = threading.Condition()
        self.jobs = collections.deque()
        self.idle = self.workers = self.busy = 0

    def start(self):
        with self.cond:
            self._spawn(self.min_spare)

    def _spawn(self, n):
        for _ in range(n):
            if self.workers >= self.max_threads:
                return
            self.workers += 1
            self.idle += 1
            threading.Thread(target=self._work, name='fcgi-worker', daemon=True).start()

    def reserve(self):
        with self.cond:
            if self.busy >= self.max_threads:
                return False
            self.busy += 1
            return True

    def release(self):
        with self.cond:
            self.busy -= 1

    def submit(self, job):
        with self.cond:
            self.jobs.append(job)
            self._spawn(max(len(self.jobs) - self.idle, self.min_spare - (self.idle - len(self.jobs))))
            self.cond.notify()

    def _work(self):
        while True:
            with self.cond:
                while not self.jobs:
                    self.cond.wait()
                job = self.jobs.popleft()
                self.idle -= 1
            try:
                job()
            except BaseException:  # a bug here must not lose the thread count
                traceback.print_exc()
            with self.cond:
                if self.idle >= self.max_spare:
                    self.workers -= 1
                    return
                self.idle += 1


def _duration(s):
    """A Go duration ("1m30s", "250ms") in seconds; 0 for empty or "0"."""
    s = (s or '').strip()
    if s in ('', '0'):
        return 0.0
    units = {'ns': 1e-9, 'us': 1e-6, 'µs': 1e-6, 'ms': 1e-3, 's': 1.0, 'm': 60.0, 'h': 3600.0}
    parts = re.findall(r'([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)', s)
    if not parts or ''.join(a + b for a, b in parts) != s:
        raise ValueError('bad duration %r' % s)
    return sum(float(a) * units[b] for a, b in parts)


class WSGIServer:
    """Serves a WSGI application over FastCGI; see the module doc."""

    def __init__(self, application, environ=None, multithreaded=True, multiprocess=False,
                 bindAddress=None, umask=None, multiplexed=False, debug=False, roles=(RESPONDER,),
                 minSpare=1, maxSpare=5, maxThreads=50, maxRequests=0, requestTimeout=0.0,
                 shutdownGrace=10.0, **unused):
        self.application = application
        self.environ = dict(environ or {})
        self.multithreaded, self.multiprocess = multithreaded, multiprocess
        self.bindAddress, self.umask, self.debug = bindAddress, umask, debug
        self.maxThreads = max(1, int(maxThreads))
        self.pool = _ThreadPool(int(minSpare), int(maxSpare), self.maxThreads)
        self.maxRequests, self.requestTimeout = int(maxRequests), float(requestTimeout)
        self.shutdownGrace = float(shutdownGrace)
        self._events = collections.deque()
        self._conns = set()
        self._active = set()     # requests admitted and not done
        self._ending = []        # requests the selector must end (wlock was busy)
        self._served = 0
        self._stopping = None    # deadline once stopping
        self._signal = None

    # ---- set-up ----------------------------------------------------------

    def _listen(self):
        if self.bindAddress is None:
            fd = os.dup(0)
            try:
                s = socket.socket(fileno=fd)
            except OSError:  # not a socket
                os.close(fd)
            else:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    null = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(null, 0)  # fd 0 is no longer the socket
                    os.close(null)
                    return s
                s.close()
            self.bindAddress = os.environ.get('FCGI_LISTEN') or None
            if self.bindAddress is None:
                raise RuntimeError('fd 0 is not a listening socket and FCGI_LISTEN is not set')
            if ':' in self.bindAddress and not self.bindAddress.startswith('/'):
                host, _, port = self.bindAddress.rpartition(':')
                self.bindAddress = (host.strip('[]'), int(port))
        if isinstance(self.bindAddress, str):
            try:
                os.unlink(self.bindAddress)
            except FileNotFoundError:
                pass
            s = socket.socket(socket.AF_UNIX)
            old = os.umask(self.umask) if self.umask is not None else None
            try:
                s.bind(self.bindAddress)
            finally:
                if old is not None:
                    os.umask(old)
        else:
            s = socket.create_server(self.bindAddress, family=socket.AF_INET6 if ':' in self.bindAddress[0] else socket.AF_INET)
        s.listen(128)
        return s

    def _post(self, what, req):
        """Hands an event from a worker to the selector thread."""
        self._events.append((what, req))
        try:
            os.write(self._wake_w, b'.')
        except OSError:  # full pipe: a wake-up is pending anyway
            pass

    def _on_signal(self, signum, frame):
        self._signal = signum
        self._post('signal', None)

    # ---- the selector thread -----------------------------------------------

    def run(self):
        """Serves until SIGTERM/SIGINT/SIGHUP or maxRequests; returns 0."""
        self._lsock = self._listen()
        self._lsock.setblocking(False)
        self._family = self._lsock.family
        allowed = os.environ.get('FCGI_WEB_SERVER_ADDRS', '')
        self._allowed = {a.strip() for a in allowed.split(',') if a.strip()}
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._lsock, selectors.EVENT_READ, None)
        self._sel.register(self._wake_r, selectors.EVENT_READ, 'wake')
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, self._on_signal)
        self.pool.start()
        try:
            while not self._finished():
                soon = self._ending or any(c.ctrl for c in self._conns)
                timed = soon or self._stopping or self.requestTimeout or any(c.drain_until for c in self._conns)
                for key, _ in self._sel.select(TICK if soon else 0.25 if timed else None):
                    if key.data is None:
                        self._accept()
                    elif key.data == 'wake':
                        os.read(self._wake_r, 4096)
                    elif not key.data.dead:
                        self._readable(key.data)
                while self._events:
                    self._event(*self._events.popleft())
                if timed:
                    self._timers()
        finally:
            for c in list(self._conns):
                c.sock.close()
            self._sel.close()
            if self._lsock.fileno() >= 0:
                self._lsock.close()
        return 0

    def _finished(self):
        if self._stopping is None:
            return False
        if time.monotonic() > self._stopping + DRAIN_TIME:
            return True
        return not self._active and not any(c.drain_until for c in self._conns)

    def _stop(self):
        """Stops accepting and closes idle connections; what runs may finish."""
        if self._stopping is not None:
            return
        self._stopping = time.monotonic() + self.shutdownGrace
        self._sel.unregister(self._lsock)
        self._lsock.close()
        for c in list(self._conns):
            if c.req is None or c.req.done:
                self._close(c)

    def _accept(self):
        for _ in range(64):
            try:
                sock, addr = self._lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # EMFILE and the like: try again later
                sys.stderr.write('mkimage_wsgi: accept: %s\n' % e)
                return
            if self._family in (socket.AF_INET, socket.AF_INET6):
                if self._allowed and addr[0] not in self._allowed:
                    sock.close()
                    continue
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(WRITE_TIMEOUT)  # the fd is non-blocking; sendall waits this long
            c = _Conn(sock)
            self._conns.add(c)
            self._sel.register(sock, selectors.EVENT_READ, c)

    def _readable(self, c):
        try:
            data = os.read(c.fd, READ_SIZE)  # non-blocking: no poll first
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the peer
            data = b''
        if not data:
            self._hangup(c)
        elif c.drain_until is None:
            c.inbuf += data
            self._parse(c)

    def _parse(self, c):
        buf, pos = c.inbuf, 0
        while not c.paused and not c.dead and len(buf) - pos >= 8:
            ver, rtype, rid, clen, plen = _HDR.unpack_from(buf, pos)
            if ver != 1:
                return self._kill(c, 'FastCGI version %d' % ver)
            end = pos + 8 + clen + plen
            if len(buf) < end:
                break
            content = bytes(buf[pos + 8:pos + 8 + clen])
            pos = end
            self._record(c, rtype, rid, content)
        if not c.dead:
            del buf[:pos]

    def _record(self, c, rtype, rid, content):
        req = c.req
        if rid == 0:
            if rtype == GET_VALUES:
                values = {b'FCGI_MAX_CONNS': self.maxThreads, b'FCGI_MAX_REQS': self.maxThreads, b'FCGI_MPXS_CONNS': 0}
                try:
                    names = [n for n, _ in _parse_pairs(content)]
                except ValueError:
                    names = []
                out = b''.join(_encode_pair(n, b'%d' % values[n]) for n in names if n in values)
                self._control(c, _record(GET_VALUES_RESULT, 0, out))
            else:
                self._control(c, _record(UNKNOWN_TYPE, 0, bytes([rtype]) + bytes(7)))
        elif rtype == BEGIN_REQUEST:
            if req is not None and not req.ended:
                if rid != req.id:
                    self._control(c, _end_request(rid, CANT_MPX_CONN))
                return
            if len(content) < 8:
                return self._kill(c, 'short BEGIN_REQUEST')
            role, flags = struct.unpack_from('!HB', content)
            c.req = req = _Request(c, rid, bool(flags & KEEP_CONN))
            if role != RESPONDER:
                req.ended = req.done = True
                self._control(c, _end_request(rid, UNKNOWN_ROLE))
            elif self._stopping is not None or not self.pool.reserve():
                self._refuse(req, '503 Service Unavailable', OVERLOADED)
            else:
                req.reserved, req.pool = True, self.pool
                self._active.add(req)
                self._served += 1
                if self.maxRequests and self._served >= self.maxRequests:
                    self._stop()
        elif req is None or rid != req.id or req.ended:
            return  # late records of a finished request, or noise
        elif rtype == PARAMS and req.in_params:
            if len(req.params) + len(content) > MAX_PARAMS:
                return self._refuse(req, '431 Request Header Fields Too Large', REQUEST_COMPLETE)
            if content:
                req.params += content
                return
            req.in_params = False
            try:
                req.environ = {k.decode('latin-1'): v.decode('latin-1') for k, v in _parse_pairs(req.params)}
            except ValueError:
                return self._refuse(req, '400 Bad Request', REQUEST_COMPLETE)
            req.params = None
            if self.requestTimeout > 0:
                req.deadline = time.monotonic() + self.requestTimeout
            req.dispatched = True
            self.pool.submit(lambda: self._handle(req))
        elif rtype == STDIN and not req.in_params:
            if req.feed(content):
                c.paused = True
                self._sel.unregister(c.sock)
        elif rtype == ABORT_REQUEST:
            req.abort('FCGI_ABORT_REQUEST')
            if req.dispatched:
                self._end(req)
            else:
                self._refuse(req, None, REQUEST_COMPLETE)

    def _refuse(self, req, status, proto):
        """Ends a request that never reached the application."""
        req.in_params = False
        self._end(req, _reply(req.id, status, proto) if status else _end_request(req.id, proto))
        self._event('done', req)

    def _end(self, req, reply=None, busy=False):
        """Ends a request from the selector thread with reply (ready-made
        records), or by default the end of STDOUT (after a 503 if busy and
        nothing was sent yet) and END_REQUEST. Retried (_timers) while a
        worker holds the connection's wlock."""
        if req.cancel is None:
            req.cancel = (reply, busy)
            if not self._try_end(req):
                self._ending.append(req)

    def _try_end(self, req):
        c = req.conn
        if c.dead:
            return True
        if not c.wlock.acquire(blocking=False):
            return False
        try:
            if not req.ended and not c.broken:
                reply, busy = req.cancel
                if reply is None:
                    reply = _text(req.id, '503 Service Unavailable', True) if busy and not req.headers_sent else b''
                    req.headers_sent = True
                    reply += _record(STDOUT, req.id) + _end_request(req.id)
                self._write_now(c, reply)
            req.ended = True
        finally:
            c.wlock.release()
        return True

    def _control(self, c, data):
        c.ctrl.append(data)
        self._flush_ctrl(c)

    def _flush_ctrl(self, c):
        if c.ctrl and not c.dead and c.wlock.acquire(blocking=False):
            try:
                self._write_now(c, b''.join(c.ctrl))
                c.ctrl.clear()
            finally:
                c.wlock.release()

    def _write_now(self, c, data):
        """Writes without blocking (wlock held): a web server that does not
        take a few bytes of reply at once is broken."""
        try:
            n = os.write(c.fd, data)
        except BlockingIOError:
            n = 0
        except OSError:
            n = -1
        if n != len(data):
            c.broken = True
            if c.req is not None:
                c.req.ended = True
            self._post('broken', c.req) if c.req is not None else self._post('close', None)

    def _event(self, what, req):
        if what == 'signal':
            return self._stop()
        if what == 'close':
            for c in [c for c in self._conns if c.broken and (c.req is None or c.req.done)]:
                self._close(c)
            return
        c = req.conn
        if what == 'resume':
            if c.paused and not c.dead and not c.eof and c.req is req:
                self._resume(c)
        elif what == 'broken':
            self._close(c)
        elif what == 'done' and not req.done:
            req.done = True
            if req.reserved:
                self._active.discard(req)
                if not req.dispatched:
                    req.free()
            if c.dead:
                return
            with req.cond:  # a body the app left unread: discard it
                req.stdin.clear()
                req.stdin_bytes = 0
            if c.broken or c.eof:
                self._close(c)
            elif c.req is req:
                if not req.keep or self._stopping is not None:
                    try:
                        c.sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        return self._close(c)
                    c.drain_until = time.monotonic() + DRAIN_TIME
                if c.paused:
                    self._resume(c)

    def _resume(self, c):
        c.paused = False
        self._sel.register(c.sock, selectors.EVENT_READ, c)
        self._parse(c)

    def _hangup(self, c):
        """The web server closed: end its request, close when free."""
        c.eof = True
        req = c.req
        if req is not None and not req.done:
            req.abort('the web server closed the connection')
            req.ended = True
            if req.dispatched:
                if not c.paused:
                    self._sel.unregister(c.sock)
                    c.paused = True
                return
            self._event('done', req)
        self._close(c)

    def _kill(self, c, why):
        """A protocol violation: the connection cannot be trusted."""
        sys.stderr.write('mkimage_wsgi: closing a connection: %s\n' % why)
        c.broken = True
        self._hangup(c)

    def _close(self, c):
        """Closes c, or once its worker is done: never under a writer."""
        if c.dead:
            return
        r = c.req
        if r is not None and r.dispatched and not r.done:
            r.abort('the connection is closed')
            r.ended = c.eof = True
            if not c.paused:
                self._sel.unregister(c.sock)
                c.paused = True
            return
        if r is not None and not r.done:  # admitted, never ran: give its slot back
            c.eof = True
            self._event('done', r)
            if c.dead:
                return
        c.dead = True
        self._conns.discard(c)
        if not c.paused:
            self._sel.unregister(c.sock)
        c.sock.close()

    def _timers(self):
        now = time.monotonic()
        self._ending = [r for r in self._ending if not self._try_end(r)]
        for c in list(self._conns):
            if c.ctrl:
                self._flush_ctrl(c)
            if c.drain_until and now > c.drain_until:
                self._close(c)
        late = self._stopping is not None and now > self._stopping
        for req in list(self._active):
            if not req.ended and req.dispatched and (late or (req.deadline and now > req.deadline)):
                req.abort('shutdown' if late else 'request timeout')
                self._end(req, busy=True)

    # ---- worker threads ----------------------------------------------------

    def _handle(self, req):
        try:
            self._call(req)
        except BaseException:
            traceback.print_exc()
        finally:
            if not req.ended:  # no END_REQUEST went: the response is cut
                with req.conn.wlock:
                    req.conn.broken = req.ended = True
            req.free()
            self._post('done', req)

    def _call(self, req):
        environ = req.environ
        environ.update(self.environ)
        for k, v in (('SCRIPT_NAME', ''), ('PATH_INFO', ''), ('QUERY_STRING', ''),
                     ('REQUEST_METHOD', 'GET'), ('SERVER_PROTOCOL', 'HTTP/1.0')):
            environ.setdefault(k, v)
        https = environ.get('HTTPS', '').lower() in ('on', '1') or environ.get('REQUEST_SCHEME') == 'https'
        errors = _Errors(req)
        environ.update({
            'wsgi.version': (1, 0), 'wsgi.url_scheme': 'https' if https else 'http',
            'wsgi.input': _Input(req, self), 'wsgi.errors': errors, 'wsgi.multithread': self.multithreaded,
            'wsgi.multiprocess': self.multiprocess, 'wsgi.run_once': False, 'wsgi.input_terminated': True,
        })
        rsp = _Response(req, environ)
        try:
            result = self.application(environ, rsp.start_response)
            try:
                if isinstance(result, (list, tuple)) and not req.headers_sent and \
                        sum(map(len, result)) <= 4 * MAX_CONTENT:
                    # All in memory already: one write, with a Content-Length and the end.
                    rsp.body(b''.join(result), last=True, whole=True)
                else:
                    for data in result:
                        rsp.body(data)
                        if req.ended:
                            break
            finally:
                if hasattr(result, 'close'):
                    result.close()
            errors.flush()
            rsp.finish()
        except Exception as e:
            if req.ended:  # aborted or hung up: the app only noticed
                sys.stderr.write('mkimage_wsgi: request ended early: %s: %s\n' % (type(e).__name__, e))
                return
            errors.write(traceback.format_exc())
            errors.flush()
            if not req.headers_sent:
                msg = traceback.format_exc() if self.debug else 'Internal Server Error\n'
                rsp.status, rsp.headers = '500 Internal Server Error', [('Content-Type', 'text/plain; charset=utf-8')]
                rsp.length = None
                rsp.body(msg.encode('utf-8', 'replace'), last=True, whole=True)
            else:  # a cut response: no END_REQUEST tells the web server so
                with req.conn.wlock:
                    req.conn.broken = req.ended = True


class _Response:
    """start_response, write() and the header block of one request."""

    def __init__(self, req, environ):
        self.req, self.environ = req, environ
        self.status = self.headers = self.length = None
        self.sent = 0

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.req.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError('start_response() called again without exc_info')
        if type(status) is not str or not _STATUS.match(status):
            raise AssertionError('bad status %r' % (status,))
        length = None
        for h in headers:
            if type(h) is not tuple or len(h) != 2 or type(h[0]) is not str or type(h[1]) is not str:
                raise AssertionError('header %r is not a (str, str) tuple' % (h,))
            name, value = h
            if not _TOKEN.match(name) or _BAD_VALUE.search(value) or name.lower() == 'status':
                raise AssertionError('bad header %r' % (h,))
            if name.lower() in _HOP:
                raise AssertionError('hop-by-hop header %r not allowed' % name)
            value.encode('latin-1')  # native strings only
            if name.lower() == 'content-length':
                if not value.strip().isdigit():
                    raise AssertionError('bad Content-Length %r' % value)
                length = int(value)
        self.status, self.headers, self.length = status, list(headers), length
        return self.write

    def write(self, data):
        if self.status is None:
            raise AssertionError('write() before start_response()')
        self.body(data)

    def _bodyless(self):
        code = self.status[:3]
        return code[0] == '1' or code in ('204', '304')

    def body(self, data, last=False, whole=False):
        req = self.req
        if type(data) is not bytes:
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            else:
                raise TypeError('the application gave %s, not bytes' % type(data).__name__)
        if req.ended or not (data or last):
            return
        if self.status is None:
            raise AssertionError('the application sent a body before start_response()')
        head = b''
        if not req.headers_sent:
            headers = self.headers
            if whole and self.length is None and not self._bodyless():
                self.length = len(data)
                headers = headers + [('Content-Length', str(len(data)))]
            head = ('Status: %s\r\n' % self.status + ''.join('%s: %s\r\n' % h for h in headers) + '\r\n').encode('latin-1')
            req.headers_sent = True
        if self.length is not None and self.sent + len(data) > self.length:
            data = data[:max(0, self.length - self.sent)]  # never more than announced
        self.sent += len(data)
        short = (last and self.length is not None and self.sent < self.length and not self._bodyless()
                 and self.environ.get('REQUEST_METHOD') != 'HEAD')
        if head and len(data) > MAX_CONTENT:
            req.send(head)
            head = b''
        tail = _record(STDOUT, req.id) + _end_request(req.id) if last and not short else b''
        req.send(head + data, tail=tail, end=bool(tail))
        if short:
            raise ValueError('response of %d bytes, Content-Length said %d' % (self.sent, self.length))

    def finish(self):
        if self.status is None:
            raise AssertionError('the application returned without calling start_response()')
        self.body(b'', last=True, whole=not self.req.headers_sent)


def _env_int(name, default):
    v = os.environ.get(name, '').strip()
    return int(v) if v else default


def main(argv=None):
    """python3 -m mkimage_wsgi module:callable"""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith('-'):
        sys.stderr.write('usage: python3 -m mkimage_wsgi package.module[:callable]\n')
        return 2
    modname, _, attr = args[0].partition(':')
    for d in [os.environ.get('APP_DIR'), os.getcwd()]:
        if d and d not in sys.path:
            sys.path.insert(0, d)
    app = importlib.import_module(modname)
    for part in (attr or 'application').split('.'):
        app = getattr(app, part)
    stack = _env_int('FCGI_STACK_SIZE', 0)
    if stack:
        try:
            threading.stack_size(max(stack, 64 << 10) + 4095 & ~4095)
        except (ValueError, RuntimeError) as e:
            sys.stderr.write('mkimage_wsgi: FCGI_STACK_SIZE=%d not applied: %s\n' % (stack, e))
    server = WSGIServer(app, multiprocess=True,
                        minSpare=_env_int('FCGI_MIN_SPARE', 1), maxSpare=_env_int('FCGI_MAX_SPARE', 5),
                        maxThreads=_env_int('FCGI_MAX_THREADS', 50), maxRequests=_env_int('FCGI_MAX_REQUESTS', 0),
                        requestTimeout=_duration(os.environ.get('FCGI_REQUEST_TIMEOUT')),
                        shutdownGrace=_duration(os.environ.get('FCGI_SHUTDOWN_GRACE') or '10s'))
    return server.run()


if __name__ == '__main__':
    sys.exit(main())

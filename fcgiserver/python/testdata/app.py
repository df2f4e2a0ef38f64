"""The WSGI app the Go tests drive through mkimage_wsgi.

Routes (PATH_INFO):
  /hello          "hello\n"
  /echo           reads the whole body: "received N bytes sha256=HEX\n"
  /env            the CGI/WSGI variables the test checks, one "K=V" a line
  /errors         writes two lines to wsgi.errors, answers "logged\n"
  /boom           raises before start_response (500 expected)
  /boom-late      sends a chunk, then raises (the response is cut)
  /wait?k=NAME    streams "waiting\n", blocks until /release?k=NAME, then
                  streams "released\n"
                  (and sets NAME.closed when the server closes it); with
                  &f=PATH it waits for the file PATH to exist instead
  /release?k=NAME wakes /wait?k=NAME
  /waitfor?k=NAME blocks until NAME is set, answers "ok\n"
  /big?n=N        streams N bytes in 64 KiB chunks
  /info           threading.stack_size() and the live thread count
  /first          reads one chunk of the body, streams "first N\n", reads the
                  rest, then "total N\n" (the body arrives while it runs)
  /noread?k=NAME  does not read its body; blocks until released
  /write          uses the write() callable for two chunks
  /excinfo        start_response twice, the second with exc_info
"""
import hashlib
import os
import sys
import threading
import time

_events = {}
_lock = threading.Lock()


def _event(name):
    with _lock:
        return _events.setdefault(name, threading.Event())


def _query(environ):
    return dict(p.partition('=')[::2] for p in environ.get('QUERY_STRING', '').split('&') if p)


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    q = _query(environ)
    text = [('Content-Type', 'text/plain')]
    if path == '/hello':
        start_response('200 OK', text)
        return [b'hello\n']
    if path == '/echo':
        h, n = hashlib.sha256(), 0
        while True:
            chunk = environ['wsgi.input'].read(10000)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
        start_response('200 OK', text)
        return [b'received %d bytes sha256=%s\n' % (n, h.hexdigest().encode())]
    if path == '/env':
        start_response('200 OK', text)
        keys = ['SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'REQUEST_METHOD', 'wsgi.url_scheme',
                'wsgi.multithread', 'wsgi.version', 'CONTENT_TYPE', 'HTTP_X_TEST']
        return ['\n'.join('%s=%s' % (k, environ.get(k)) for k in keys).encode() + b'\n']
    if path == '/errors':
        environ['wsgi.errors'].write('first line to wsgi.errors\n')
        environ['wsgi.errors'].writelines(['second ', 'line\n'])
        start_response('200 OK', text)
        return [b'logged\n']
    if path == '/boom':
        raise RuntimeError('boom before start_response')
    if path == '/boom-late':
        def late():
            yield b'partial '
            raise RuntimeError('boom after the headers')
        start_response('200 OK', text)
        return late()
    if path == '/wait':
        def wait():
            yield b'waiting\n'
            try:
                if 'f' in q:  # released without a request (all threads busy)
                    for _ in range(3000):
                        if os.path.exists(q['f']):
                            break
                        time.sleep(0.01)
                else:
                    _event(q.get('k', '')).wait(30)
                yield b'released\n'
            finally:
                _event(q.get('k', '') + '.closed').set()
        start_response('200 OK', text)
        return wait()
    if path == '/release':
        _event(q.get('k', '')).set()
        start_response('200 OK', text)
        return [b'ok\n']
    if path == '/waitfor':
        ok = _event(q.get('k', '')).wait(30)
        start_response('200 OK' if ok else '504 Gateway Timeout', text)
        return [b'ok\n']
    if path == '/big':
        def big(n):
            chunk = b'0123456789abcdef' * 4096
            while n > 0:
                yield chunk[:n]
                n -= len(chunk)
        start_response('200 OK', text)
        return big(int(q.get('n', '0')))
    if path == '/info':
        start_response('200 OK', text)
        return [b'stack_size=%d threads=%d\n' % (threading.stack_size(), threading.active_count())]
    if path == '/first':
        def first():
            inp = environ['wsgi.input']
            got = len(inp.read(1))
            got += len(inp.readline())
            yield b'first %d\n' % got
            got += len(inp.read())
            yield b'total %d\n' % got
        start_response('200 OK', text)
        return first()
    if path == '/noread':
        _event(q.get('k', '')).wait(30)
        start_response('200 OK', text)
        return [b'did not read\n']
    if path == '/write':
        write = start_response('200 OK', text)
        write(b'one ')
        write(b'two ')
        return [b'three\n']
    if path == '/excinfo':
        start_response('200 OK', text)
        try:
            raise ValueError('changed my mind')
        except ValueError:
            start_response('502 Bad Gateway', text, sys.exc_info())
        return [b'replaced\n']
    start_response('404 Not Found', text)
    return [b'not found\n']

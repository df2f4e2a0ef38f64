// Package fcgiserver hosts an http.Handler as a FastCGI responder, the
// part that flup's WSGIServer(app, minSpare, maxSpare, maxThreads) played
// behind lighttpd in the seed deployment. It is built on the record layer
// in package record, which FastCGI clients share.
//
// A program usually needs one line:
//
//	func main() { log.Fatal(fcgiserver.Run(handler)) }
//
// Run reads the Config from the environment, listens on fd 0 (or
// FCGI_LISTEN), serves, and returns nil after a graceful stop. For more
// control use ConfigFromEnv, New, Listen, Serve and Shutdown.
//
// # Protocol
//
// Only the Responder role is served; BEGIN_REQUEST for another role gets
// END_REQUEST with FCGI_UNKNOWN_ROLE. Every request gets exactly one
// END_REQUEST, and nothing is written for a request after it. The handler
// runs as soon as PARAMS are complete; STDIN streams into Request.Body
// while it runs. The response streams as STDOUT records: a "Status:" line
// first, the handler's headers (Content-Type sniffed if unset,
// Content-Length added when the handler finished without flushing), then
// the body in records of up to 65535 bytes; Flush (http.Flusher,
// http.ResponseController) sends what is buffered at once. Stderr(r) sends
// FCGI_STDERR records for a request, which the web server logs.
//
// FCGI_KEEP_CONN is honoured: without it the connection is closed after
// END_REQUEST, but only once the request's STDIN has been read to its end
// (a close with unread data would make the kernel reset the connection and
// could destroy the response in flight); the server half-closes and drains
// for up to 5 s. With it, unread STDIN is discarded and the connection waits
// for the next request. Request.Close reports a missing KEEP_CONN.
//
// A request's context is cancelled, with a cause you can read with
// context.Cause, when the web server sends FCGI_ABORT_REQUEST
// (ErrAborted), when the connection reaches EOF or a write fails with EPIPE
// (ErrConnClosed: lighttpd and nginx never send ABORT, they close), when the
// request timeout expires (ErrRequestTimeout, answered with 503 if nothing
// was sent yet), and when the shutdown grace period runs out (ErrShutdown).
// END_REQUEST is written before the context is cancelled, so from the
// moment the handler sees its context done, its writes fail with
// ErrFinished. A handler that panics gets a 500 if nothing was sent; after
// the headers went out, the connection is dropped without END_REQUEST, the
// only way to tell the web server the response is broken (as net/http
// does). EOF (or a reset) is taken as "the web server left", and not logged: a client that half-closes
// its side after sending a request is not supported (lighttpd, nginx and
// libfcgi's cgi-fcgi do not).
//
// Management records: GET_VALUES is answered with a GET_VALUES_RESULT with
// request ID 0 carrying only the names asked for among FCGI_MAX_CONNS,
// FCGI_MAX_REQS (both MaxThreads) and FCGI_MPXS_CONNS (0), and the
// connection stays open. Any other record with request ID 0 gets
// FCGI_UNKNOWN_TYPE. When FCGI_WEB_SERVER_ADDRS is set, TCP connections from
// other addresses are closed at once (unix sockets rely on file modes).
//
// # No multiplexing, on purpose
//
// FCGI_MPXS_CONNS is 0, and a BEGIN_REQUEST that arrives while another
// request on the same connection is unfinished gets END_REQUEST with
// FCGI_CANT_MPX_CONN. FastCGI has no per-request flow control: on a
// multiplexed connection a handler that does not read its body forces a
// choice between buffering without bound and stalling every other request
// on the connection (the flaw of net/http/fcgi). Without multiplexing the
// only flow control needed is the connection's own: a body waits in a
// 64 KiB buffer, and when the handler does not read it, the connection's
// reader waits too, which stalls nothing else. Concurrency comes from
// connections, which is how lighttpd and nginx use FastCGI anyway (neither
// multiplexes). The cost: while a handler leaves a large body unread, an
// ABORT or EOF behind it is only seen when it reads, returns, or times out.
//
// # Pool settings
//
// flup's knobs, made honest for Go. Each goroutine that runs handlers is a
// worker; it keeps an 8 KiB response buffer and its stack between
// requests.
//
//   - MaxThreads (FCGI_MAX_THREADS, default 50): the most requests this
//     process handles at once. One more gets a "Status: 503" response with
//     Retry-After and END_REQUEST with FCGI_OVERLOADED at once, where flup
//     dropped the socket. Memory: every running request costs a worker
//     stack (a few KiB to start, growing with what the handler does), the 8 KiB
//     response buffer, up to 64 KiB of buffered body while one is arriving,
//     the connection's read buffer (4 KiB, up to 64 KiB for large records)
//     and the request itself (a few KiB); MaxThreads bounds the sum.
//   - MinSpare (FCGI_MIN_SPARE, default 1): idle workers started in advance
//     and replenished when one takes a request, so a request does not wait
//     for a goroutine to start and grow its stack. Memory: each costs its
//     stack plus 8 KiB.
//   - MaxSpare (FCGI_MAX_SPARE, default 5): idle workers kept at most; a
//     worker finishing a request when MaxSpare are idle exits, returning its
//     memory to the Go heap after a burst.
//   - MaxRequests (FCGI_MAX_REQUESTS, default 0 = never): after this many
//     requests the process stops accepting, finishes what is in flight and
//     Serve returns ErrRecycled (Run returns nil, the program exits 0 and its
//     supervisor starts a fresh one), like php-fpm's pm.max_requests. Bounds
//     what a slow leak can grow to.
//   - RequestTimeout (FCGI_REQUEST_TIMEOUT, a Go duration, default 0 =
//     none): from BEGIN_REQUEST; the request is answered 503 (if nothing was
//     sent), ended, and its context cancelled. The worker stays busy until
//     the handler returns, so a handler that ignores its context still holds
//     a MaxThreads slot and its memory.
//   - ShutdownGrace (FCGI_SHUTDOWN_GRACE, default 10s): on SIGTERM (Run),
//     Shutdown or MaxRequests, accepting stops and idle connections close at
//     once; requests in flight get this long to finish, then are ended and
//     cancelled with ErrShutdown.
//
// # Environment
//
// ConfigFromEnv reads what the init service passes to each pool process:
//
//	FCGI_MIN_SPARE, FCGI_MAX_SPARE, FCGI_MAX_THREADS   the pool (above)
//	FCGI_MAX_REQUESTS                                  recycle after N requests
//	FCGI_REQUEST_TIMEOUT, FCGI_SHUTDOWN_GRACE          Go durations ("30s")
//	FCGI_STACK_SIZE      bytes; informational for Go (goroutine stacks
//	                     start small and grow, RLIMIT_STACK only sizes the
//	                     main thread), reported on status pages
//	FCGI_POOL_MEMBER     this process's index in the pool, "0".."N-1"
//	FCGI_LISTEN          unix socket path or host:port, used only when fd 0
//	                     is not a listening socket
//	FCGI_WEB_SERVER_ADDRS  comma-separated IPs allowed to connect over TCP
//	GOMAXPROCS, GOMEMLIMIT read by the Go runtime itself; RuntimeInfo
//	                     reports their effective values
//
// Unset variables keep their defaults; malformed ones are errors.
//
// # Starting
//
// Listen uses fd 0 when it is a listening socket (FCGI_LISTENSOCK_FILENO:
// lighttpd's bin-path, spawn-fcgi and the init service start FastCGI
// programs that way), replacing it with /dev/null; otherwise it listens on
// FCGI_LISTEN, replacing a stale unix socket file.
//
// # Data that survives a power cut
//
// WriteFileAtomic (and WriteFileAtomicFunc) replace a file in $DATA_DIR so
// that a crash leaves the old or the new content, and a nil error means the
// new content is on disk: answer a request only after it returned nil.
package fcgiserver

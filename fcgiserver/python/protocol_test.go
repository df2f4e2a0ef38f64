package python

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/httpfront/fcgiclient"
)

// TestRequests covers the plain cases on one server: GET, a large POST
// streamed through fcgiclient, the environment, wsgi.errors, app errors,
// write() and exc_info.
func TestRequests(t *testing.T) {
	s := startServer(t)
	t.Run("GET", func(t *testing.T) {
		r := roundTrip(t, s.sock, params("GET", "/hello"), []byte{})
		complete(t, "GET /hello", r)
		if r.status() != "200 OK" || r.body() != "hello\n" || r.header("Content-Length") != "6" {
			t.Errorf("GET /hello: %q %q, Content-Length %q", r.status(), r.body(), r.header("Content-Length"))
		}
	})
	t.Run("SCRIPT_NAME and PATH_INFO", func(t *testing.T) {
		r := roundTrip(t, s.sock, params("GET", "/env?a=1", "HTTP_X_TEST", "héllo"), []byte{})
		for _, want := range []string{"SCRIPT_NAME=/app\n", "PATH_INFO=/env\n", "QUERY_STRING=a=1\n",
			"wsgi.url_scheme=http\n", "wsgi.multithread=True\n", "wsgi.version=(1, 0)\n",
			"HTTP_X_TEST=hÃ©llo\n"} { // PEP 3333: bytes decoded as latin-1
			if !strings.Contains(r.body(), want) {
				t.Errorf("environment lacks %q:\n%s", want, r.body())
			}
		}
	})
	t.Run("POST 8 MiB through fcgiclient", func(t *testing.T) {
		p, err := fcgiclient.NewPool([]string{"unix:" + s.sock}, fcgiclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		body, want := digest(8 << 20)
		ps := params("POST", "/echo", "CONTENT_LENGTH", "8388608", "CONTENT_TYPE", "application/octet-stream")
		if status, got, _ := clientDo(t, p, ps, bytes.NewReader(body)); status != 200 || got != want {
			t.Errorf("POST: %d %q, want %q", status, got, want)
		}
	})
	t.Run("wsgi.errors", func(t *testing.T) {
		r := roundTrip(t, s.sock, params("GET", "/errors"), []byte{})
		complete(t, "/errors", r)
		if string(r.stderr) != "first line to wsgi.errors\nsecond line\n" || r.body() != "logged\n" {
			t.Errorf("stderr %q, body %q", r.stderr, r.body())
		}
	})
	t.Run("exception gives 500", func(t *testing.T) {
		r := roundTrip(t, s.sock, params("GET", "/boom"), []byte{})
		complete(t, "/boom", r)
		if r.status() != "500 Internal Server Error" || !strings.Contains(string(r.stderr), "RuntimeError: boom before start_response") {
			t.Errorf("/boom: %q, stderr %q", r.status(), r.stderr)
		}
		if strings.Contains(r.body(), "Traceback") {
			t.Errorf("the traceback reached the client: %q", r.body())
		}
	})
	t.Run("exception after the headers cuts the response", func(t *testing.T) {
		c := dial(t, s.sock)
		begin(t, c, 1, 0, params("GET", "/boom-late"), []byte{})
		r := &reply{}
		err := readUntil(t, record.NewReader(c), 1, r, nil)
		if err == nil || r.end != nil || r.body() != "partial " || !strings.Contains(string(r.stderr), "boom after the headers") {
			t.Errorf("got END %+v, err %v, body %q, stderr %q; want no END_REQUEST and a closed connection", r.end, err, r.body(), r.stderr)
		}
	})
	t.Run("write() and exc_info", func(t *testing.T) {
		if r := roundTrip(t, s.sock, params("GET", "/write"), []byte{}); r.body() != "one two three\n" {
			t.Errorf("/write: %q", r.body())
		}
		if r := roundTrip(t, s.sock, params("GET", "/excinfo"), []byte{}); r.status() != "502 Bad Gateway" || r.body() != "replaced\n" {
			t.Errorf("/excinfo: %q %q", r.status(), r.body())
		}
	})
}

// TestKeepAlive runs several requests on one connection, raw and through
// fcgiclient with FCGI_KEEP_CONN, and checks GET_VALUES between them.
func TestKeepAlive(t *testing.T) {
	s := startServer(t, "FCGI_MAX_THREADS=7")
	c := dial(t, s.sock)
	rd := record.NewReader(c)
	body, want := digest(300 << 10)
	for id := uint16(1); id <= 4; id++ {
		ps, b := params("GET", "/hello"), []byte{}
		if id%2 == 0 {
			ps, b = params("POST", "/echo"), body
		}
		begin(t, c, id, record.FlagKeepConn, ps, b)
		r := &reply{}
		if err := readUntil(t, rd, id, r, nil); err != nil {
			t.Fatalf("request %d on the kept connection: %v", id, err)
		}
		complete(t, "kept request", r)
		if (id%2 == 1 && r.body() != "hello\n") || (id%2 == 0 && r.body() != want) {
			t.Errorf("request %d: %q", id, r.body())
		}
	}
	// GET_VALUES on the same connection, between requests.
	w := record.NewWriter(c)
	w.WriteGetValues(record.ValueMaxConns, record.ValueMaxReqs, record.ValueMpxsConns, "FCGI_UNKNOWN")
	w.Flush()
	rec, err := rd.Next()
	if err != nil || rec.Type != record.TypeGetValuesResult || rec.RequestID != 0 {
		t.Fatalf("GET_VALUES: %v %v", rec.Header, err)
	}
	got, _ := record.ParsePairs(rec.Content)
	if len(got) != 3 || got[0] != (record.Pair{Name: "FCGI_MAX_CONNS", Value: "7"}) ||
		got[1] != (record.Pair{Name: "FCGI_MAX_REQS", Value: "7"}) || got[2] != (record.Pair{Name: "FCGI_MPXS_CONNS", Value: "0"}) {
		t.Errorf("GET_VALUES_RESULT %v", got)
	}
	// An unknown management record, then a request again.
	c.Write(record.AppendRecord(nil, record.Type(42), 0, []byte("?")))
	if rec, err := rd.Next(); err != nil || rec.Type != record.TypeUnknownType || rec.Content[0] != 42 {
		t.Errorf("unknown management record: %v %v %v", rec.Header, rec.Content, err)
	}
	begin(t, c, 9, record.FlagKeepConn, params("GET", "/hello"), []byte{})
	r := &reply{}
	if err := readUntil(t, rd, 9, r, nil); err != nil || r.body() != "hello\n" {
		t.Errorf("after management records: %q %v", r.body(), err)
	}

	p, err := fcgiclient.NewPool([]string{"unix:" + s.sock}, fcgiclient.Options{KeepConn: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 20 {
		if status, got, _ := clientDo(t, p, params("GET", "/hello"), nil); status != 200 || got != "hello\n" {
			t.Fatalf("fcgiclient request %d: %d %q", i, status, got)
		}
	}
	if open := p.Backends()[0].Outstanding(); open != 0 {
		t.Errorf("%d requests outstanding", open)
	}
}

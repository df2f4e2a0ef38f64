package httpfront

// BackendStatus is what the front end knows of one FastCGI backend of an
// app, for the status page: whether connections to it are kept open
// between requests (keep_conn), and what it answered to FCGI_GET_VALUES.
type BackendStatus struct {
	App     string `json:"app"`
	Backend string `json:"backend"`
	Reused  bool   `json:"reused"`
	// Asked: the backend answered FCGI_GET_VALUES, or the front end gave
	// up asking; MaxConns is what it said it serves at once (0: nothing).
	Asked    bool  `json:"asked"`
	MaxConns int64 `json:"max_conns"`
}

// backendStatus lists every app's backends, longest prefix first.
func (f *Front) backendStatus() []BackendStatus {
	var out []BackendStatus
	for _, a := range f.apps {
		for _, b := range a.pool.Backends() {
			reused, n, asked := a.pool.Reuse(b)
			out = append(out, BackendStatus{App: a.name, Backend: b.Name, Reused: reused, Asked: asked, MaxConns: n})
		}
	}
	return out
}

package updater

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"

	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/spec"
)

// Server is the update agent's HTTP API: PUT spec.UpdatePath with a bundle
// as the body, GET spec.UpdateStatusPath. Only clients in Allow get an
// answer; one bundle is received at a time.
type Server struct {
	Receiver *Receiver
	Allow    []netip.Prefix
	// Status reports the boot state (busy is filled in here).
	Status func() spec.UpdateStatus
	// Installed runs after a bundle was written, verified and armed,
	// once the answer is written, before the handler returns: a reboot it
	// starts must wait for the answer to leave (see updated).
	Installed func(Result)
	// Refuse, when set and returning an error, turns a PUT (or a
	// rollback) away with 409 before a byte is read (e.g. while a trial is
	// being judged).
	Refuse func() error
	// Rollback, when set, serves spec.RollbackPath; RolledBack runs like
	// Installed after one was armed and answered.
	Rollback   *Rollback
	RolledBack func(version string)
	busy       sync.Mutex
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.allowed(r.RemoteAddr) {
		http.Error(w, "updates are not accepted from this address ([update] allow)", http.StatusForbidden)
		return
	}
	switch {
	case r.URL.Path == spec.UpdatePath && r.Method == http.MethodPut:
		s.put(w, r)
	case r.URL.Path == spec.UpdateStatusPath && r.Method == http.MethodGet:
		st := s.Status()
		if s.busy.TryLock() {
			s.busy.Unlock()
		} else {
			st.Busy = true
		}
		writeJSON(w, http.StatusOK, st)
	case r.URL.Path == spec.RollbackPath && r.Method == http.MethodGet:
		s.serveRollback(w, r)
	case r.URL.Path == spec.RollbackPath && r.Method == http.MethodPost:
		s.rollback(w, r)
	default:
		http.Error(w, "not found: PUT "+spec.UpdatePath+", GET "+spec.UpdateStatusPath+", GET or POST "+spec.RollbackPath, http.StatusNotFound)
	}
}

// claim takes the busy lock for a change of the slots, or answers why not.
func (s *Server) claim(w http.ResponseWriter) bool {
	if !s.busy.TryLock() {
		http.Error(w, "another update is being received", http.StatusConflict)
		return false
	}
	if s.Refuse != nil {
		if err := s.Refuse(); err != nil {
			s.busy.Unlock()
			http.Error(w, err.Error(), http.StatusConflict)
			return false
		}
	}
	return true
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	if !s.claim(w) {
		return
	}
	defer s.busy.Unlock()
	version, ok := s.serveRollback(w, r)
	if !ok {
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if s.RolledBack != nil {
		s.RolledBack(version)
	}
}

func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	if !s.claim(w) {
		return
	}
	defer s.busy.Unlock()
	res, err := s.Receiver.Receive(r.Context(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), statusOf(err))
		return
	}
	writeJSON(w, http.StatusOK, spec.UpdateResult{
		Version: res.Header.Version, Slot: s.Receiver.SlotName, Bytes: res.Bytes, KeyID: res.KeyID,
		Message: fmt.Sprintf("version %s is in slot %s; rebooting into it for a trial", res.Header.Version, s.Receiver.SlotName),
	})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if s.Installed != nil {
		s.Installed(res)
	}
}

// statusOf maps a receive's failure to an HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, bundle.ErrUntrusted):
		return http.StatusForbidden
	case errors.Is(err, bundle.ErrNotApplicable):
		return http.StatusUnprocessableEntity
	case errors.Is(err, bundle.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, bundle.ErrFormat), errors.Is(err, bundle.ErrTruncated), errors.Is(err, bundle.ErrCorrupt),
		errors.Is(err, context.Canceled):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func (s *Server) allowed(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range s.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// writeJSON answers with v and its length, so the answer is complete
// once it is written.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// Command notes is a test-only FastCGI app (net/http/fcgi on the listening
// socket init passes as fd 0) that keeps one note in $DATA_DIR: PUT stores
// the body, GET returns it with where it lives and the filesystem's size.
package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"path/filepath"
	"syscall"
)

func main() {
	ln, err := net.FileListener(os.NewFile(0, "fcgi"))
	if err != nil {
		panic(err)
	}
	dir := os.Getenv("DATA_DIR")
	file := filepath.Join(dir, "note")
	panic(fcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPut, http.MethodPost:
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err == nil {
				err = write(file, body)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		note, _ := os.ReadFile(file)
		var st syscall.Statfs_t
		_ = syscall.Statfs(dir, &st)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"dir": dir, "note": string(note), "uid": os.Getuid(),
			"fs_bytes": int64(st.Blocks) * st.Bsize, "fs_type": st.Type,
		})
	})))
}

// write replaces the note atomically and durably.
func write(file string, data []byte) error {
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

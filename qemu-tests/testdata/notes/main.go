// Command notes is a test-only FastCGI app (net/http/fcgi on the listening
// socket init passes as fd 0) that keeps one note in $DATA_DIR: PUT stores
// the body (replacing the file with fcgiserver.WriteFileAtomic, so an
// acknowledged note survives a power cut), GET returns it with where it
// lives and the filesystem's size. For update tests: NOTES_VERSION is in
// every answer, and /notes/health answers 200, or 500 with
// NOTES_HEALTH=fail or when the note is "fail-health" (one machine of a
// fleet fails the same update the others pass); "system" and "previous"
// are the versions init passes (MKIMAGE_VERSION, MKIMAGE_PREVIOUS_VERSION).
// NOTES_EXIT=start makes it
// exit 1 at once, before it serves (an update whose app cannot start).
// "resolv" is /etc/resolv.conf as the app reads it, and "root_write"
// why it could not create a file in / (the root is not the app's).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mkimage/mkimage/fcgiserver"
)

func main() {
	if os.Getenv("NOTES_EXIT") == "start" {
		fmt.Fprintln(os.Stderr, "notes: NOTES_EXIT=start: exiting at start, on purpose")
		os.Exit(1)
	}
	ln, err := net.FileListener(os.NewFile(0, "fcgi"))
	if err != nil {
		panic(err)
	}
	dir := os.Getenv("DATA_DIR")
	file := filepath.Join(dir, "note")
	// One process writes the note (procs = 1): what a cut left is stale.
	if _, err := fcgiserver.RemoveTemps(file); err != nil {
		panic(err)
	}
	panic(fcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/notes/health" {
			if note, _ := os.ReadFile(file); os.Getenv("NOTES_HEALTH") == "fail" || string(note) == "fail-health" {
				http.Error(w, "unhealthy on purpose", http.StatusInternalServerError)
			}
			return
		}
		switch r.Method {
		case http.MethodPut, http.MethodPost:
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err == nil {
				// Acknowledged (200) only once the note is on disk.
				err = fcgiserver.WriteFileAtomic(file, body, 0o600)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		note, _ := os.ReadFile(file)
		resolv, err := os.ReadFile("/etc/resolv.conf")
		if err != nil {
			resolv = []byte(err.Error())
		}
		rootWrite := "created"
		if f, err := os.Create("/notes-was-here"); err != nil {
			rootWrite = err.Error()
		} else {
			f.Close()
		}
		var st syscall.Statfs_t
		_ = syscall.Statfs(dir, &st)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"dir": dir, "note": string(note), "uid": os.Getuid(), "version": os.Getenv("NOTES_VERSION"),
			"system": os.Getenv("MKIMAGE_VERSION"), "previous": os.Getenv("MKIMAGE_PREVIOUS_VERSION"),
			"fs_bytes": int64(st.Blocks) * st.Bsize, "fs_type": st.Type,
			"resolv": string(resolv), "root_write": rootWrite,
		})
	})))
}

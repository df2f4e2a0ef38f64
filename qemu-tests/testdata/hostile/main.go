// Command hostile is a test-only FastCGI app (fcgiserver on the socket
// init passes as fd 0) that behaves as a careless or hostile app would:
// on /spew it writes a 1 MiB line to its stderr, its stdout or the
// request's FastCGI stderr (which the front end relays to its own), and on
// /see it reports what it can see of the system that is not its own: the
// TLS key, its own and the front end's privileges, other processes'
// environments.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mkimage/mkimage/fcgiserver"
)

// tlsKey is where the front end's private key lands in the image.
const tlsKey = "/etc/mkimage/tls/key.pem"

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/hostile/spew", spew)
	mux.HandleFunc("/hostile/see", see)
	mux.HandleFunc("/hostile/fill", fill)
	mux.HandleFunc("/hostile/eat", eat)
	log.Fatal(fcgiserver.Run(mux))
}

// spew writes one line of 1 MiB (no newline inside) to the stream named
// by ?to=stderr|stdout|fcgi.
func spew(w http.ResponseWriter, r *http.Request) {
	line := strings.Repeat("x", 1<<20) + "\n"
	var out io.Writer
	switch r.URL.Query().Get("to") {
	case "stderr":
		out = os.Stderr
	case "stdout":
		out = os.Stdout
	case "fcgi":
		out = fcgiserver.Stderr(r)
	default:
		http.Error(w, "to=stderr|stdout|fcgi", http.StatusBadRequest)
		return
	}
	_, err := io.WriteString(out, line)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"pid": os.Getpid(), "error": errText(err)})
}

// see reports, as JSON: the app's own privileges from /proc/self/status,
// the front end's (its pid in ?front=), and the errors of reading what it
// must not read.
func see(w http.ResponseWriter, r *http.Request) {
	front := r.URL.Query().Get("front")
	rep := map[string]any{
		"pid":                 os.Getpid(),
		"uid":                 os.Getuid(),
		"self":                statusFields("/proc/self/status"),
		"front":               statusFields("/proc/" + front + "/status"),
		"key_error":           readError(tlsKey),
		"front_environ_error": readError("/proc/" + front + "/environ"),
		"init_environ_error":  readError("/proc/1/environ"),
		// Another app's: its environment, its data directory and a file in it.
		"peer_environ_error": readError("/proc/" + r.URL.Query().Get("peer") + "/environ"),
		"peer_dir_error":     listError(r.URL.Query().Get("peer_dir")),
		"peer_file_error":    readError(r.URL.Query().Get("peer_dir") + "/note"),
		"mem_total":          memTotal(),
		// What the config gave it, through init.json and the launcher.
		"args": os.Args[1:],
		"env":  os.Getenv("HOSTILE_ENV"),
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}

// fill writes 1 MiB blocks to a file in ?dir= until the filesystem is
// full (or 1 GiB), and reports how much it wrote; with ?clean=1 it removes
// the file instead. The file is kept so the test can check the appliance
// while the space is taken.
func fill(w http.ResponseWriter, r *http.Request) {
	name := filepath.Join(r.URL.Query().Get("dir"), "hostile-fill")
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Query().Get("clean") == "1" {
		json.NewEncoder(w).Encode(map[string]any{"error": errText(os.Remove(name))})
		return
	}
	f, err := os.Create(name)
	var n int64
	if err == nil {
		block := make([]byte, 1<<20)
		for n < 1<<30 {
			m, werr := f.Write(block)
			n += int64(m)
			if werr != nil {
				err = werr
				break
			}
		}
		f.Close()
	}
	json.NewEncoder(w).Encode(map[string]any{"bytes": n, "error": errText(err)})
}

// eat allocates and touches memory 8 MiB at a time until the kernel kills
// the process (it never answers when all goes as it should).
func eat(w http.ResponseWriter, r *http.Request) {
	var held [][]byte
	for i := 0; i < 4096; i++ {
		b := make([]byte, 8<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		held = append(held, b)
	}
	fmt.Fprintf(w, "allocated %d MiB and was not killed\n", len(held)*8)
}

// memTotal is the machine's RAM in bytes, from /proc/meminfo.
func memTotal() int64 {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// listError returns why the directory dir could not be listed, or "".
func listError(dir string) string {
	_, err := os.ReadDir(dir)
	return errText(err)
}

// statusFields returns the privilege lines of a /proc/PID/status file.
func statusFields(path string) map[string]string {
	data, err := os.ReadFile(path)
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(l, ":")
		switch k {
		case "Uid", "CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs":
			if ok {
				out[k] = strings.Join(strings.Fields(v), " ")
			}
		}
	}
	oom, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "oom_score_adj"))
	out["OOMScoreAdj"] = strings.TrimSpace(string(oom))
	return out
}

// readError returns why path could not be read, or "" when it could.
func readError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if _, err := f.Read(make([]byte, 1)); err != nil && err != io.EOF {
		return err.Error()
	}
	return ""
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprint(err)
}

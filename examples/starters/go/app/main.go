// Command app is a FastCGI app for a mkimage appliance. The appliance's init
// starts it with its listening socket on fd 0; fcgiserver.Run serves
// handler there until init stops it.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/mkimage/mkimage/fcgiserver"
)

func main() {
	log.SetFlags(0)
	if err := fcgiserver.Run(handler()); err != nil {
		log.Fatal(err)
	}
}

// handler is the app; requests arrive under its prefix ("/app" in
// appliance.toml), which r.URL.Path keeps.
func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Hello from your app, pid %d; your data lives in %s\n", os.Getpid(), os.Getenv("DATA_DIR"))
	})
	return mux
}

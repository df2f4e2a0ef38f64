//go:build noacme

package httpfront

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// Built with the noacme tag (images whose config asks for no ACME: the
// build adds it), the front end carries no ACME client: certmagic and its
// dependencies are 3 MB of the multi-call /init, which lives in RAM.

type acmeOptions struct{}

type autoTLS struct{ acme spec.ACME }

func newAutoTLS(spec.ACME, string, func(string, ...any), acmeOptions) (*autoTLS, error) {
	return nil, errors.New("automatic HTTPS: this front end was built without ACME (its image's config has no [web.tls] acme)")
}

func (t *autoTLS) tlsConfig() *tls.Config                                 { return nil }
func (t *autoTLS) run(net.Listener) error                                 { return nil }
func (t *autoTLS) stop()                                                  {}
func (t *autoTLS) serveChallenge(http.ResponseWriter, *http.Request) bool { return false }
func (t *autoTLS) isChallenge(*http.Request) bool                         { return false }
func (t *autoTLS) covers(string) bool                                     { return false }
func (t *autoTLS) status(time.Time) []CertStatus                          { return nil }

package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/app/", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), "Hello") {
		t.Errorf("GET /app/: %d %q", rec.Code, rec.Body.String())
	}
}

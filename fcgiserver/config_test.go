package fcgiserver

import (
	"strings"
	"testing"
	"time"
)

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    func(Config) bool
		wantErr string
	}{
		{"defaults", nil, func(c Config) bool {
			return c.MinSpare == 1 && c.MaxSpare == 5 && c.MaxThreads == 50 && c.PoolMember == -1 &&
				c.MaxRequests == 0 && c.RequestTimeout == 0 && c.ShutdownGrace == 10*time.Second
		}, ""},
		{"all set", map[string]string{
			EnvMinSpare: "2", EnvMaxSpare: "4", EnvMaxThreads: "16", EnvMaxRequests: "500",
			EnvRequestTimeout: "30s", EnvShutdownGrace: "3s", EnvStackSize: "262144",
			EnvPoolMember: "1", EnvListen: "/run/app.sock", EnvWebServerAddrs: "127.0.0.1,10.0.0.2",
		}, func(c Config) bool {
			return c.MinSpare == 2 && c.MaxSpare == 4 && c.MaxThreads == 16 && c.MaxRequests == 500 &&
				c.RequestTimeout == 30*time.Second && c.ShutdownGrace == 3*time.Second &&
				c.StackSize == 262144 && c.PoolMember == 1 && c.Listen == "/run/app.sock" && len(c.WebServerAddrs) == 2
		}, ""},
		{"small MaxThreads pulls spares down", map[string]string{EnvMaxThreads: "2"}, func(c Config) bool {
			return c.MaxThreads == 2 && c.MaxSpare == 2 && c.MinSpare == 1 && c.Validate() == nil
		}, ""},
		{"zero spares allowed", map[string]string{EnvMinSpare: "0", EnvMaxSpare: "0"}, func(c Config) bool {
			return c.MinSpare == 0 && c.MaxSpare == 0 && c.Validate() == nil
		}, ""},
		{"bad number", map[string]string{EnvMaxThreads: "lots"}, nil, EnvMaxThreads},
		{"negative", map[string]string{EnvMaxRequests: "-1"}, nil, EnvMaxRequests},
		{"bad duration", map[string]string{EnvRequestTimeout: "30"}, nil, EnvRequestTimeout},
		{"bad address", map[string]string{EnvWebServerAddrs: "localhost"}, nil, EnvWebServerAddrs},
	}
	for _, tt := range tests {
		cfg, err := ParseEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want one naming %s", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !tt.want(cfg) {
			t.Errorf("%s: %+v, %v", tt.name, cfg, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"zero threads", func(c *Config) { c.MaxThreads = 0 }, false},
		{"min above max spare", func(c *Config) { c.MinSpare = 6 }, false},
		{"max spare above threads", func(c *Config) { c.MaxThreads = 3 }, false},
		{"negative timeout", func(c *Config) { c.RequestTimeout = -1 }, false},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.mod(&c)
		if err := c.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v", tt.name, err)
		}
	}
}

func TestRuntimeInfo(t *testing.T) {
	ri := RuntimeInfo()
	if ri.GOMAXPROCS < 1 || ri.MemoryLimit <= 0 || ri.GoVersion == "" {
		t.Errorf("RuntimeInfo = %+v", ri)
	}
}

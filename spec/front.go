package spec

// Front is httpfront's configuration.
type Front struct {
	Listen  string   `json:"listen"`
	Root    string   `json:"root"`
	Index   []string `json:"index,omitempty"`
	Aliases []Alias  `json:"aliases,omitempty"`
	Apps    []App    `json:"apps,omitempty"`
}

// Alias maps a URL prefix to a directory inside the image.
type Alias struct {
	Prefix string `json:"prefix"`
	Dir    string `json:"dir"`
}

// App routes a URL prefix to FastCGI backends.
type App struct {
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	// Pool names the init-managed pool serving this app; init fills
	// Backends from it at boot.
	Pool       string   `json:"pool,omitempty"`
	Backends   []string `json:"backends"` // unix:/path or tcp:host:port
	CheckLocal bool     `json:"check_local,omitempty"`
	Env        []string `json:"env,omitempty"`
}

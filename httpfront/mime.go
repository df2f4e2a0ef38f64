package httpfront

import (
	"mime"
	"path"
	"strings"
)

// mimeTypes is the front end's own table, so that the answer does not
// depend on a host's /etc/mime.types (the image has none).
var mimeTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
	".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
	".mjs": "text/javascript; charset=utf-8", ".json": "application/json",
	".map": "application/json", ".txt": "text/plain; charset=utf-8",
	".md": "text/markdown; charset=utf-8", ".csv": "text/csv; charset=utf-8",
	".xml": "text/xml; charset=utf-8", ".svg": "image/svg+xml",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif",
	".ico": "image/vnd.microsoft.icon", ".bmp": "image/bmp",
	".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
	".mp4": "video/mp4", ".webm": "video/webm", ".mp3": "audio/mpeg", ".ogg": "audio/ogg",
	".wav": "audio/wav", ".pdf": "application/pdf", ".wasm": "application/wasm",
	".zip": "application/zip", ".gz": "application/gzip", ".br": "application/octet-stream",
	".zst": "application/zstd", ".tar": "application/x-tar", ".xz": "application/x-xz",
	".webmanifest": "application/manifest+json", ".atom": "application/atom+xml",
	".rss": "application/rss+xml",
}

// contentType returns the MIME type of a file name by extension;
// application/octet-stream when unknown.
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := mimeTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

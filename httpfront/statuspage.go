package httpfront

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// The status page is written by hand, not with html/template: a template's
// method calls make the linker keep every exported method of every type in
// the guest binary, which made /init 1.9 MB (17%) bigger. Every value from
// the report is escaped as html/template escapes text (statuspage_test.go
// compares the two).

// htmlText escapes s for HTML text and quoted attribute values, as
// html/template does for text.
var htmlText = strings.NewReplacer(
	"\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;",
	"+", "&#43;", "<", "&lt;", ">", "&gt;",
)

// statusWriter writes HTML: raw text as is, values escaped.
type statusWriter struct {
	b strings.Builder
}

func (w *statusWriter) raw(s ...string) {
	for _, x := range s {
		w.b.WriteString(x)
	}
}

func (w *statusWriter) text(s string) { htmlText.WriteString(&w.b, s) }

// cells writes each value, escaped, as a table cell.
func (w *statusWriter) cells(vals ...string) {
	for _, v := range vals {
		w.raw("<td>")
		w.text(v)
		w.raw("</td>")
	}
}

func (w *statusWriter) time(t time.Time) { w.text(t.UTC().Format("2006-01-02 15:04:05 UTC")) }

// statusPage is what the status page shows: init's report, the front
// end's certificates and FastCGI backends, and the JSON form's address
// (the JSON is this without it).
type statusPage struct {
	spec.Report
	HTTPS   []CertStatus    `json:"https,omitempty"`
	FastCGI []BackendStatus `json:"fastcgi,omitempty"`
	JSON    string          `json:"-"`
}

// writeStatusPage writes the status page as HTML.
func writeStatusPage(out io.Writer, page statusPage) error {
	rep, https, jsonName := page.Report, page.HTTPS, page.JSON
	w := &statusWriter{}
	w.raw("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
	w.text(rep.Hostname)
	w.raw(" status</title>\n<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:left}</style></head>\n<body><h1>")
	w.text(rep.Hostname)
	w.raw(fmt.Sprintf("</h1>\n<p>up %.0f s; memory: %d MiB in use of %d MiB (%d MiB available);\n%d CPUs, %d physical cores</p>\n",
		rep.UptimeSeconds, rep.MemInUseMiB, rep.MemTotalMiB, rep.MemAvailMiB, rep.Facts.OnlineCPUs, rep.Facts.PhysicalCores))
	if rep.Update != nil {
		w.update(rep.Update)
	}
	w.raw("\n")
	if len(https) > 0 {
		w.certs(https)
	}
	w.raw("\n")
	for _, p := range rep.Pools {
		w.raw("<h2>pool ")
		w.text(p.Name)
		w.raw("</h2><p>")
		w.text(p.Settings.Summary)
		w.raw("</p>")
		for _, warn := range p.Settings.Warnings {
			w.raw("<p>warning: ")
			w.text(warn)
			w.raw("</p>")
		}
	}
	if len(page.FastCGI) > 0 {
		w.backends(page.FastCGI)
	}
	w.raw("\n<h2>services</h2><table><tr><th>name</th><th>pid</th><th>state</th><th>restarts</th><th>threads</th><th>RSS KiB</th><th>anon KiB</th><th>stack limit</th><th>last exit</th></tr>\n")
	for _, s := range rep.Services {
		w.raw("<tr>")
		w.cells(s.Name, strconv.Itoa(s.PID), s.State, strconv.Itoa(s.Restarts), strconv.Itoa(s.Threads),
			strconv.Itoa(s.RSSKiB), strconv.Itoa(s.AnonKiB), s.StackLimit, s.LastExit)
		w.raw("</tr>\n")
	}
	w.raw("</table><p><a href=\"")
	w.text(urlText(jsonName))
	w.raw("\">JSON</a></p></body></html>\n")
	_, err := io.WriteString(out, w.b.String())
	return err
}

// update writes the system section.
func (w *statusWriter) update(u *spec.UpdateReport) {
	w.raw("<h2>system</h2><p>version ")
	w.text(u.Version)
	if u.Slot != "" {
		w.raw(" in slot ")
		w.text(u.Slot)
	}
	if u.Trial {
		w.raw(", on trial (not yet judged)")
	}
	for _, part := range []struct{ lead, v string }{{"; it replaced ", u.Replaced}, {"; a rollback would boot ", u.Previous}, {"; ", u.Note}} {
		if part.v != "" {
			w.raw(part.lead)
			w.text(part.v)
		}
	}
	w.raw("</p>\n")
	if l := u.Last; l != nil {
		w.raw("<p>last update: ")
		w.text(l.Version)
		w.raw(" (from ")
		w.text(l.From)
		w.raw(") in slot ")
		w.text(l.Slot)
		w.raw(": ")
		w.text(l.Result)
		w.raw(" at ")
		w.text(l.At.Format("2006-01-02 15:04:05 UTC"))
		if l.Reason != "" {
			w.raw(": ")
			w.text(l.Reason)
		}
		w.raw("</p>")
	}
}

// certs writes the HTTPS section.
func (w *statusWriter) certs(https []CertStatus) {
	w.raw("<h2>HTTPS</h2><table><tr><th>domain</th><th>certificate</th><th>expires</th><th>next renewal</th><th>last error from the CA</th></tr>\n")
	for _, c := range https {
		w.raw("<tr><td>")
		w.text(c.Domain)
		w.raw("</td><td>")
		if c.HaveCert {
			w.raw("yes</td><td>")
			w.time(c.NotAfter)
		} else {
			w.raw("none yet</td><td>")
		}
		w.raw("</td><td>")
		if !c.NextRenewal.IsZero() {
			w.time(c.NextRenewal)
		}
		w.raw("</td><td>")
		if c.Reason != "" {
			w.raw("<b>")
			w.text(c.Reason)
			w.raw("</b>: ")
		}
		w.text(c.LastError)
		if c.LastError != "" {
			w.raw(" (at ")
			w.time(c.LastErrorAt)
			w.raw(")")
		}
		w.raw("</td></tr>\n")
	}
	w.raw("</table>")
}

// urlText makes s safe as a URL attribute's value, as html/template does
// before escaping it: a scheme other than http, https or mailto (e.g.
// javascript:) becomes "#ZgotmplZ", and bytes outside RFC 3986's
// unreserved and reserved sets are percent-encoded.
func urlText(s string) string {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") &&
		!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "mailto") {
		return "#ZgotmplZ"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("!#$&*+,/:;=?@[]-._~", c) >= 0,
			c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// backends writes the FastCGI backends section.
func (w *statusWriter) backends(bs []BackendStatus) {
	w.raw("\n<h2>FastCGI backends</h2><table><tr><th>app</th><th>backend</th><th>connections kept</th><th>FCGI_MAX_CONNS</th></tr>\n")
	for _, b := range bs {
		kept, said := "no", "not asked yet"
		if b.Reused {
			kept = "yes"
		}
		if b.Asked {
			said = strconv.FormatInt(b.MaxConns, 10)
			if b.MaxConns == 0 {
				said = "no answer"
			}
		}
		w.raw("<tr>")
		w.cells(b.App, b.Backend, kept, said)
		w.raw("</tr>\n")
	}
	w.raw("</table>")
}

package config

import (
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// positions maps a dotted key path ("network.address", "app.0.procs",
// "web.alias.1.dir") to where its key/value starts in the file.
type positions map[string]unstable.Position

// findPositions walks the TOML document and records the position of every
// key/value and table header. The document already decoded, so parse errors
// here are ignored: they only cost precision in messages.
func findPositions(data []byte) positions {
	pos := positions{}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	arrays := map[string]int{}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(e.Key())
			name := strings.Join(table, ".")
			if e.Kind == unstable.ArrayTable {
				arrays[name]++
			}
			// [app.fastcgi] belongs to the current [[app]]: app.N.fastcgi.
			table = indexed(table, arrays)
			pos.set(p, strings.Join(table, "."), e)
		case unstable.KeyValue:
			key := append(append([]string{}, table...), keyParts(e.Key())...)
			pos.set(p, strings.Join(key, "."), e)
		}
	}
	return pos
}

// indexed rewrites an array-table path so that each array-table prefix
// carries the index of its current element: app -> app.0.
func indexed(parts []string, arrays map[string]int) []string {
	var out []string
	for i := range parts {
		out = append(out, parts[i])
		if n, ok := arrays[strings.Join(parts[:i+1], ".")]; ok {
			out = append(out, fmt.Sprint(n-1))
		}
	}
	return out
}

func keyParts(it unstable.Iterator) []string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

func (ps positions) set(p unstable.Parser, key string, n *unstable.Node) {
	if n.Raw.Length == 0 {
		if k := n.Key(); k.Next() {
			n = k.Node()
		}
	}
	if n.Raw.Length == 0 {
		return
	}
	ps[key] = p.Shape(n.Raw).Start
}

// at formats the position of key (or of its closest recorded parent) for an
// error message.
func (ps positions) at(path, key string) string {
	for k := key; k != ""; {
		if p, ok := ps[k]; ok {
			return fmt.Sprintf("%s:%d:%d", path, p.Line, p.Column)
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return path
}

package config

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// The key reference (docs/appliance-toml.md) is generated from the config
// types and their doc comments, so it cannot go stale: this test fails
// when the file differs from what the types say (regenerate it with
// MKIMAGE_UPDATE_DOCS=1), when a key has no comment, or when a key is
// missing from the example appliance.toml that `mkimage init` writes.
func TestKeyReference(t *testing.T) {
	docs, err := fieldDocs(".")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	r.walk(reflect.TypeOf(Config{}), "", docs)
	for _, k := range r.undocumented {
		t.Errorf("key %s has no doc comment in the config types", k)
	}
	got := r.markdown()
	path := filepath.Join("..", "..", "docs", "appliance-toml.md")
	if os.Getenv("MKIMAGE_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil || string(want) != got {
		t.Errorf("%s is not what the config types say (%v): run MKIMAGE_UPDATE_DOCS=1 go test ./internal/config -run TestKeyReference", path, err)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "appliance", "appliance.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range r.keys {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !regexp.MustCompile(`(?m)^#?\s*` + regexp.QuoteMeta(leaf) + `\s*=`).Match(example) {
			t.Errorf("key %s is not in examples/appliance/appliance.toml (set or commented)", k)
		}
	}
}

// fieldDocs maps "Type.Field" to the field's doc or line comment, read
// from the package's source.
func fieldDocs(dir string) (map[string]string, error) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parsing the config package: %w", err)
	}
	docs := map[string]string{}
	for _, pkg := range pkgs {
		ast.Inspect(pkg, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, f := range st.Fields.List {
				text := strings.TrimSpace(f.Doc.Text() + " " + f.Comment.Text())
				for _, name := range f.Names {
					docs[ts.Name.Name+"."+name.Name] = strings.Join(strings.Fields(text), " ")
				}
			}
			return false
		})
	}
	return docs, nil
}

type refTable struct {
	header string // "[web]", "[[app]]", "" for top-level keys
	rows   []string
}

type reference struct {
	tables       []*refTable
	keys         []string
	undocumented []string
}

// walk adds the keys of struct type t, whose table is at prefix.
func (r *reference) walk(t reflect.Type, prefix string, docs map[string]string) {
	tab := &refTable{header: tableHeader(prefix)}
	r.tables = append(r.tables, tab)
	var sub []func()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if f.Anonymous && tag == "" {
			r.walkEmbedded(f.Type, prefix, docs, tab)
			continue
		}
		if tag == "" || tag == "-" {
			continue
		}
		key := join(prefix, tag)
		ft := f.Type
		if ft.Kind() == reflect.Struct || (ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct) {
			elem, p := ft, key
			if ft.Kind() == reflect.Slice {
				elem, p = ft.Elem(), key+"[]"
			}
			sub = append(sub, func() { r.walk(elem, p, docs) })
			continue
		}
		r.leaf(tab, key, t.Name()+"."+f.Name, ft, docs)
	}
	for _, s := range sub {
		s()
	}
}

func (r *reference) walkEmbedded(t reflect.Type, prefix string, docs map[string]string, tab *refTable) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag := f.Tag.Get("toml"); tag != "" && tag != "-" {
			r.leaf(tab, join(prefix, tag), t.Name()+"."+f.Name, f.Type, docs)
		}
	}
}

func (r *reference) leaf(tab *refTable, key, field string, t reflect.Type, docs map[string]string) {
	doc := docs[field]
	// "Board is what..." reads as "What..." in a table keyed by name.
	for _, pre := range []string{" is ", " are ", " "} {
		if rest, ok := strings.CutPrefix(doc, field[strings.Index(field, ".")+1:]+pre); ok && rest != "" {
			doc = strings.ToUpper(rest[:1]) + rest[1:]
			break
		}
	}
	if doc == "" {
		r.undocumented = append(r.undocumented, key)
	}
	r.keys = append(r.keys, key)
	name := key[strings.LastIndex(key, ".")+1:]
	tab.rows = append(tab.rows, fmt.Sprintf("| `%s` | %s | %s |", name, typeName(t, doc), strings.ReplaceAll(doc, "|", "\\|")))
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// tableHeader turns "web.alias[]" into "[[web.alias]]", "web" into "[web]".
func tableHeader(prefix string) string {
	switch {
	case prefix == "":
		return ""
	case strings.HasSuffix(prefix, "[]"):
		return "[[" + strings.ReplaceAll(strings.TrimSuffix(prefix, "[]"), "[]", "") + "]]"
	}
	return "[" + strings.ReplaceAll(prefix, "[]", "") + "]"
}

func typeName(t reflect.Type, doc string) string {
	switch t.Kind() {
	case reflect.String:
		if strings.Contains(doc, "duration") {
			return "duration"
		}
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Pointer:
		return typeName(t.Elem(), doc)
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Slice:
		return "array of " + typeName(t.Elem(), doc) + "s"
	case reflect.Map:
		return "table of " + typeName(t.Elem(), doc) + "s"
	case reflect.Interface:
		return "integer or string"
	}
	return t.Kind().String()
}

func (r *reference) markdown() string {
	var b strings.Builder
	b.WriteString("# appliance.toml: every key\n\n")
	b.WriteString("<!-- Generated from the types in internal/config by TestKeyReference: edit their comments, then\n")
	b.WriteString("     MKIMAGE_UPDATE_DOCS=1 go test ./internal/config -run TestKeyReference -->\n\n")
	b.WriteString("Every key is optional unless it says otherwise. Unknown keys, wrong types and bad values are\n")
	b.WriteString("errors naming `file:line:col` and the key. `mkimage init` writes a commented example\n")
	b.WriteString("([examples/appliance/appliance.toml](../examples/appliance/appliance.toml)).\n")
	for _, tab := range r.tables {
		if len(tab.rows) == 0 {
			continue
		}
		if tab.header == "" {
			b.WriteString("\n## Top level\n\n")
		} else {
			fmt.Fprintf(&b, "\n## `%s`\n\n", tab.header)
		}
		b.WriteString("| key | type | meaning |\n|---|---|---|\n")
		for _, row := range tab.rows {
			b.WriteString(row + "\n")
		}
	}
	return b.String()
}

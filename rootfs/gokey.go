package rootfs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// listFormat prints, per package the program imports, its directory, its
// module's go.mod and the files the compiler reads from it.
const listFormat = `{{.Dir}}|{{with .Module}}{{.GoMod}}{{end}}|` +
	`{{join .GoFiles ","}},{{join .CgoFiles ","}},{{join .SFiles ","}},{{join .HFiles ","}},` +
	`{{join .CFiles ","}},{{join .SysoFiles ","}},{{join .EmbedFiles ","}}`

// goKey is the cache key of a Go program's linked binary: the go
// command's arguments and environment, the toolchain, and the name, size
// and modification time of every file the packages it imports are built
// from (as make and ccache's direct mode judge a file unchanged). The go
// command lists them; no file is read.
func goKey(ctx context.Context, args, env []string, dir string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "mkimage gokey 1\n%q\n", args)
	goEnv := append([]string(nil), env...)
	sort.Strings(goEnv)
	for _, e := range goEnv {
		if strings.HasPrefix(e, "GO") || strings.HasPrefix(e, "CGO_") {
			fmt.Fprintf(h, "env %q\n", e)
		}
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("finding the go command: %w", err)
	}
	if err := statInto(h, gobin); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", append([]string{"list", "-deps", "-f", listFormat}, args...)...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("listing the packages of %s: %w: %s", args[len(args)-1], err, strings.TrimSpace(stderr.String()))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		pkgDir, rest, _ := strings.Cut(sc.Text(), "|")
		goMod, names, _ := strings.Cut(rest, "|")
		fmt.Fprintf(h, "pkg %s\n", sc.Text())
		if goMod != "" {
			if err := statInto(h, goMod); err != nil {
				return "", err
			}
		}
		for _, n := range strings.Split(names, ",") {
			if n != "" {
				if err := statInto(h, filepath.Join(pkgDir, n)); err != nil {
					return "", err
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading go list's output: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func statInto(w io.Writer, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("build cache key: %w", err)
	}
	_, err = fmt.Fprintf(w, "file %s %d %d\n", path, st.Size(), st.ModTime().UnixNano())
	return err
}

package deploy

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Builder turns the Lambda mains under functions/cmd/<name> into deployment archives.
// The deployment uses GoBuilder; tests use a fake so they never run the compiler.
type Builder interface {
	// Build compiles every named function and returns one archive per name, or an
	// error carrying the compiler's output.
	Build(names []string) (map[string]pulumi.Archive, error)
}

// GoBuilder cross-compiles with the local Go toolchain for Lambda's provided.al2023
// runtime on arm64 and zips each binary as `bootstrap`.
type GoBuilder struct {
	// Root is the module root (the directory holding go.mod and functions/); empty
	// means the first go.mod above the working directory (Pulumi runs the program
	// from infra/ or from the project root).
	Root string
	// OutDir receives the binaries and zips; empty means a fresh temporary directory.
	// It must outlive the program run: the engine reads the archives after the
	// program registered them.
	OutDir string
}

func moduleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("lambda build: no go.mod above %s", dir)
		}
	}
}

// Build runs one `go build` for all names (one toolchain start, shared compile work)
// and zips each binary.
func (b *GoBuilder) Build(names []string) (map[string]pulumi.Archive, error) {
	if len(names) == 0 {
		return map[string]pulumi.Archive{}, nil
	}
	if b.Root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("lambda build: %w", err)
		}
		if b.Root, err = moduleRoot(wd); err != nil {
			return nil, err
		}
	}
	if b.OutDir == "" {
		dir, err := os.MkdirTemp("", "iotdr-lambda-")
		if err != nil {
			return nil, fmt.Errorf("lambda build: output directory: %w", err)
		}
		b.OutDir = dir
	}
	binDir := filepath.Join(b.OutDir, "bin") + string(filepath.Separator)
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", binDir}
	for _, n := range names {
		if strings.ContainsAny(n, `/\.`) || n == "" {
			return nil, fmt.Errorf("lambda build: %q is not a function name", n)
		}
		args = append(args, "./functions/cmd/"+n)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = b.Root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("lambda build of %s failed: %w\n%s", strings.Join(names, ", "), err, strings.TrimSpace(stderr.String()))
	}
	out := make(map[string]pulumi.Archive, len(names))
	for _, n := range names {
		zipPath := filepath.Join(b.OutDir, n+".zip")
		if err := zipBootstrap(filepath.Join(binDir, n), zipPath); err != nil {
			return nil, fmt.Errorf("lambda build: package %s: %w", n, err)
		}
		out[n] = pulumi.NewFileArchive(zipPath)
	}
	return out, nil
}

// zipEpoch is the fixed modification time written into every zip, so an unchanged
// binary gives a byte-identical archive and `pulumi up` sees no code change.
var zipEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// zipBootstrap writes bin into zipPath as the single executable entry `bootstrap`,
// which is what the provided.al2023 runtime starts.
func zipBootstrap(bin, zipPath string) (err error) {
	in, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.Create(zipPath)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	zw := zip.NewWriter(f)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipEpoch}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	return zw.Close()
}

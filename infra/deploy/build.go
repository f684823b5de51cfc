package deploy

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Builder turns the Lambda mains under functions/cmd/<name> into deployment archives.
// The deployment uses GoBuilder; tests use a fake so they never run the compiler.
type Builder interface {
	// Build compiles every named function and returns one archive per name, or an
	// error carrying the compiler's output.
	Build(names []string) (map[string]pulumi.Archive, error)
}

// GoBuilder cross-compiles with the local Go toolchain for Lambda's provided.al2023
// runtime on arm64 and zips each binary as `bootstrap`. Its builds are reproducible:
// the same source gives byte-identical archives whatever the commit, the checkout's
// path or the machine, so `pulumi up` updates only the functions whose code changed.
type GoBuilder struct {
	// Root is the directory `go build` runs in: a module that holds or requires the
	// Lambda mains. Empty means the first go.mod above the working directory (Pulumi
	// runs the program from infra/ or from the project root, or from a team's own
	// program that requires this module).
	Root string
	// Package is the import path under which the mains live, one directory per
	// function; empty means this module's functions/cmd.
	Package string
	// OutDir receives the zips; empty means iotdr/lambda in the user's cache
	// directory. It must outlive the program run (the engine reads the archives after
	// the program registered them), so each zip is named for its content: a rebuild
	// reuses it, concurrent runs never overwrite what another is reading, and zips
	// unused for a week are removed.
	OutDir string
}

// functionsCmd is the import path of the Lambda mains, one directory per function.
var functionsCmd = strings.TrimSuffix(reflect.TypeFor[spec.Retry]().PkgPath(), "/spec") + "/cmd"

// staleArchive is how long an unused archive stays in the default OutDir.
const staleArchive = 7 * 24 * time.Hour

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

// buildFlags make the binaries a function of the source alone: no VCS stamp (it
// changes with every commit and every uncommitted edit anywhere in the checkout), no
// file system paths, no symbol tables, and an empty build ID.
var buildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// Build runs one `go build` for all names (one toolchain start, shared compile work)
// into a temporary directory, zips each binary into OutDir and removes the binaries.
func (b *GoBuilder) Build(names []string) (map[string]pulumi.Archive, error) {
	if len(names) == 0 {
		return map[string]pulumi.Archive{}, nil
	}
	for _, n := range names {
		if strings.ContainsAny(n, `/\.`) || n == "" {
			return nil, fmt.Errorf("lambda build: %q is not a function name", n)
		}
	}
	root, pkg, outDir := b.Root, b.Package, b.OutDir
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("lambda build: %w", err)
		}
		if root, err = moduleRoot(wd); err != nil {
			return nil, err
		}
	}
	if pkg == "" {
		pkg = functionsCmd
	}
	prune := false
	if outDir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("lambda build: no directory for the archives (set GoBuilder.OutDir): %w", err)
		}
		outDir, prune = filepath.Join(cache, "iotdr", "lambda"), true
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("lambda build: output directory: %w", err)
	}
	binDir, err := os.MkdirTemp("", "iotdr-lambda-")
	if err != nil {
		return nil, fmt.Errorf("lambda build: %w", err)
	}
	defer os.RemoveAll(binDir)
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", binDir+string(filepath.Separator))
	for _, n := range names {
		args = append(args, pkg+"/"+n)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("lambda build of %s failed: %w\n%s", strings.Join(names, ", "), err, strings.TrimSpace(stderr.String()))
	}
	out := make(map[string]pulumi.Archive, len(names))
	for _, n := range names {
		zipPath, err := zipBootstrap(filepath.Join(binDir, n), outDir, n)
		if err != nil {
			return nil, fmt.Errorf("lambda build: package %s: %w", n, err)
		}
		out[n] = pulumi.NewFileArchive(zipPath)
	}
	if prune {
		pruneArchives(outDir, time.Now().Add(-staleArchive))
	}
	return out, nil
}

// pruneArchives removes the zips in dir last used before cutoff. Best effort: a zip
// it cannot remove is only disk space.
func pruneArchives(dir string, cutoff time.Time) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".zip") && info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// zipEpoch is the fixed modification time written into every zip, so an unchanged
// binary gives a byte-identical archive and `pulumi up` sees no code change.
var zipEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// zipBootstrap zips bin as the single executable entry `bootstrap` (what the
// provided.al2023 runtime starts) into dir, named for name and the zip's content, and
// returns its path. An existing zip of that content is reused (and marked used now);
// a new one appears by rename, so a reader never sees it half-written.
func zipBootstrap(bin, dir, name string) (string, error) {
	in, err := os.Open(bin)
	if err != nil {
		return "", err
	}
	defer in.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipEpoch}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, in); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	path := filepath.Join(dir, fmt.Sprintf("%s-%x.zip", name, sum[:12]))
	if _, err := os.Stat(path); err == nil {
		now := time.Now()
		return path, os.Chtimes(path, now, now)
	}
	tmp, err := os.CreateTemp(dir, name+"-*.tmp")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(buf.Bytes())
	if err = errors.Join(err, tmp.Close()); err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return path, nil
}

package deploy

import (
	"archive/zip"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyModule writes a module with one function main per name (source given) under
// functions/cmd and returns its root.
func tinyModule(t *testing.T, mains map[string]string) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/tiny\n\ngo 1.26\n")
	for name, src := range mains {
		write("functions/cmd/"+name+"/main.go", src)
	}
	return root
}

func TestGoBuilderBuildsArm64Bootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles a program")
	}
	root := tinyModule(t, map[string]string{
		"hello": "package main\n\nfunc main() { println(\"hello\") }\n",
	})
	b := &GoBuilder{Root: root, OutDir: t.TempDir()}
	archives, err := b.Build([]string{"hello"})
	if err != nil {
		t.Fatal(err)
	}
	fa := archives["hello"]
	if fa == nil || fa.Path() == "" {
		t.Fatalf("archive %#v is not a file archive", archives["hello"])
	}
	zr, err := zip.OpenReader(fa.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zr.Close() })
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		t.Fatalf("zip entries %v, want only bootstrap", zr.File)
	}
	f := zr.File[0]
	if f.Mode().Perm() != 0o755 {
		t.Errorf("bootstrap mode %v, want executable", f.Mode())
	}
	if !f.Modified.Equal(zipEpoch) {
		t.Errorf("bootstrap modified %v, want the fixed epoch", f.Modified)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	bp := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(bp, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(bp)
	if err != nil {
		t.Fatalf("bootstrap is not an ELF binary: %v", err)
	}
	defer ef.Close()
	if ef.Machine != elf.EM_AARCH64 {
		t.Errorf("bootstrap machine %v, want arm64", ef.Machine)
	}
	if ef.Section(".interp") != nil {
		t.Error("bootstrap is dynamically linked (CGO must be off)")
	}

	// Rebuilding unchanged code yields the same archive, so `pulumi up` sees no diff.
	first, err := os.ReadFile(fa.Path())
	if err != nil {
		t.Fatal(err)
	}
	again, err := (&GoBuilder{Root: root, OutDir: t.TempDir()}).Build([]string{"hello"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(again["hello"].Path())
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != string(second) {
		t.Error("rebuilding unchanged code gave a different archive")
	}
}

func TestGoBuilderReportsCompilerErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the compiler")
	}
	root := tinyModule(t, map[string]string{
		"broken": "package main\n\nfunc main() { undefinedThing() }\n",
	})
	_, err := (&GoBuilder{Root: root, OutDir: t.TempDir()}).Build([]string{"broken"})
	if err == nil {
		t.Fatal("build of a broken main succeeded")
	}
	for _, want := range []string{"lambda build of broken failed", "undefined: undefinedThing", "main.go:3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestGoBuilderRejectsPathNames(t *testing.T) {
	for _, name := range []string{"../x", "a/b", "", "."} {
		if _, err := (&GoBuilder{Root: t.TempDir(), OutDir: t.TempDir()}).Build([]string{name}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
}

func TestModuleRoot(t *testing.T) {
	root := tinyModule(t, nil)
	deep := filepath.Join(root, "infra", "sub")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := moduleRoot(deep)
	if err != nil || got != root {
		t.Errorf("moduleRoot = %q, %v; want %q", got, err, root)
	}
}

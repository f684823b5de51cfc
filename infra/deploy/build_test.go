package deploy

import (
	"archive/zip"
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// tinyBuilder builds tinyModule's mains into out.
func tinyBuilder(root, out string) *GoBuilder {
	return &GoBuilder{Root: root, Package: "example.com/tiny/functions/cmd", OutDir: out}
}

func TestGoBuilderBuildsArm64Bootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles a program")
	}
	root := tinyModule(t, map[string]string{
		"hello": "package main\n\nfunc main() { println(\"hello\") }\n",
	})
	b := tinyBuilder(root, t.TempDir())
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
	again, err := (tinyBuilder(root, t.TempDir())).Build([]string{"hello"})
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
	_, err := (tinyBuilder(root, t.TempDir())).Build([]string{"broken"})
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
		if _, err := (tinyBuilder(t.TempDir(), t.TempDir())).Build([]string{name}); err == nil {
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

// TestGoBuilderIsReproducible: the archive is a function of the source alone. A new
// commit, an uncommitted edit of an unrelated file and another checkout path leave
// it byte-identical (without -buildvcs=false the VCS stamp changes it, without
// -trimpath the path does), so `pulumi up` redeploys only changed functions; and the
// build leaves no temporary directory behind.
func TestGoBuilderIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles a program")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed: the VCS stamp cannot be exercised")
	}
	hello := map[string]string{"hello": "package main\n\nfunc main() { println(\"hello\") }\n"}
	root := tinyModule(t, hello)
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git(root, "init", "-q")
	git(root, "add", ".")
	git(root, "commit", "-qm", "one")

	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	// Whatever the machine's go env says (this one may already turn stamping off), the
	// builder must not stamp.
	t.Setenv("GOFLAGS", "-buildvcs=true")
	sum := func(root string) string {
		t.Helper()
		archives, err := tinyBuilder(root, t.TempDir()).Build([]string{"hello"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(archives["hello"].Path())
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", sha256.Sum256(b))
	}
	first := sum(root)
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the build left %v in the temporary directory", left)
	}

	if err := os.WriteFile(filepath.Join(root, "README"), []byte("unrelated\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(root, "add", ".")
	git(root, "commit", "-qm", "two")
	if got := sum(root); got != first {
		t.Errorf("after an unrelated commit the archive hash is %s, was %s", got, first)
	}
	if err := os.WriteFile(filepath.Join(root, "README"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := sum(root); got != first {
		t.Errorf("with an uncommitted edit the archive hash is %s, was %s", got, first)
	}
	if got := sum(tinyModule(t, hello)); got != first {
		t.Errorf("in another checkout path the archive hash is %s, was %s", got, first)
	}
}

// TestArchivesAreNamedForTheirContent: a rebuild reuses the zip; a changed binary
// gets a new one, and stale zips are pruned.
func TestArchivesAreNamedForTheirContent(t *testing.T) {
	dir, bins := t.TempDir(), t.TempDir()
	bin := filepath.Join(bins, "f")
	write := func(content string) string {
		t.Helper()
		if err := os.WriteFile(bin, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		p, err := zipBootstrap(bin, dir, "f")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, again, b := write("one"), write("one"), write("two")
	if a != again || a == b {
		t.Errorf("zips %s, %s, %s: want the same for the same content and another for other content", a, again, b)
	}
	old := time.Now().Add(-2 * staleArchive)
	if err := os.Chtimes(a, old, old); err != nil {
		t.Fatal(err)
	}
	pruneArchives(dir, time.Now().Add(-staleArchive))
	if _, err := os.Stat(a); !os.IsNotExist(err) {
		t.Errorf("stale %s not pruned: %v", a, err)
	}
	if _, err := os.Stat(b); err != nil {
		t.Errorf("fresh %s pruned: %v", b, err)
	}
}

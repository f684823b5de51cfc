package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/iot-dr/iot-dr/functions/spec"
)

var update = flag.Bool("update", false, "rewrite testdata/snapshot-*.json from the mocked deployments")

// snapshotResource is one resource of a deployment snapshot.
type snapshotResource struct {
	Type           string `json:"type"`
	Name           string `json:"name"`
	Parent         string `json:"parent,omitempty"`
	Region         string `json:"region,omitempty"`
	RetainOnDelete bool   `json:"retainOnDelete,omitempty"`
	Inputs         any    `json:"inputs"`
}

// snapshot renders every resource the mocked deployment registered, with its inputs,
// as indented JSON sorted by type, name and parent: a review of a change to the
// stacks reads its effect in the diff of testdata/snapshot-<role>.json. Secrets are
// masked, so the file never holds one.
func (m *mocks) snapshot(t *testing.T) []byte {
	t.Helper()
	m.mu.Lock()
	var out []snapshotResource
	for _, r := range m.resources {
		out = append(out, snapshotResource{
			Type: r.Type, Name: r.Name, Parent: shortURN(r.Parent), Region: r.Region, RetainOnDelete: r.RetainOnDelete,
			Inputs: snapshotValue(resource.NewObjectProperty(r.Inputs)),
		})
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b snapshotResource) int {
		return strings.Compare(a.Type+"\x00"+a.Name+"\x00"+a.Parent, b.Type+"\x00"+b.Name+"\x00"+b.Parent)
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// shortURN drops the stack and project from a URN, leaving the type chain and name.
func shortURN(urn string) string {
	parts := strings.SplitN(urn, "::", 3)
	if len(parts) < 3 {
		return urn
	}
	return parts[2]
}

// snapshotValue is plain with secrets masked and assets named, not unwrapped.
func snapshotValue(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return "[secret]"
	case v.IsOutput():
		if v.OutputValue().Secret {
			return "[secret]"
		}
		return snapshotValue(v.OutputValue().Element)
	case v.IsComputed():
		return "[unknown]"
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, snapshotValue(e))
		}
		return out
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = snapshotValue(e)
		}
		return out
	case v.IsArchive():
		return "[archive]"
	case v.IsAsset():
		return "[asset]"
	}
	return plain(v)
}

// TestSnapshot compares each role's mocked deployment with its committed snapshot.
// After an intended change to the stacks, regenerate them and review the diff:
//
//	go test ./infra/deploy -run TestSnapshot -update
func TestSnapshot(t *testing.T) {
	for _, role := range []string{spec.RolePrimary, spec.RoleSecondary} {
		t.Run(role, func(t *testing.T) {
			got := mustDeploy(t, role, nil).m.snapshot(t)
			// The same program gives the same document: nothing in it depends on map
			// order or timing, so the comparison below cannot fail by chance.
			if again := mustDeploy(t, role, nil).m.snapshot(t); !bytes.Equal(got, again) {
				t.Fatalf("two mocked deployments of %s give different snapshots:\n%s", role, firstDiff(got, again))
			}
			if bytes.Contains(got, []byte(testSecret)) {
				t.Fatal("the snapshot holds the probe secret")
			}
			path := filepath.Join("testdata", "snapshot-"+role+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (generate it: go test ./infra/deploy -run TestSnapshot -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the %s stack differs from %s:\n%s\nIf the change is intended: go test ./infra/deploy -run TestSnapshot -update, and commit the file", role, path, firstDiff(want, got))
			}
		})
	}
}

// firstDiff shows the first differing line of two documents, with some context.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		at := func(l []string) string {
			if i < len(l) {
				return l[i]
			}
			return "<end>"
		}
		if at(w) != at(g) {
			from := max(0, i-3)
			return fmt.Sprintf("line %d:\ncontext: %s\n- %s\n+ %s", i+1, strings.Join(w[from:i], "\n         "), at(w), at(g))
		}
	}
	return "(equal)"
}

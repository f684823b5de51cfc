package uuid

import (
	"regexp"
	"testing"
)

func TestNewIsARandomVersion4UUID(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		u := New()
		if !form.MatchString(u) {
			t.Fatalf("%q is not a version-4 UUID in lower case", u)
		}
		if seen[u] {
			t.Fatalf("%q repeated within 1,000 draws", u)
		}
		seen[u] = true
	}
}

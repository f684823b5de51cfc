package fleetsync

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRatesSet(t *testing.T) {
	tests := []struct {
		spec    string
		wantErr string
		want    float64
	}{
		{"CreateThing=50", "", 50},
		{" CreateThing = 2.5 ", "", 2.5},
		{"CreateThing", "want API=TPS", 0},
		{"=5", "want API=TPS", 0},
		{"CreateThing=", "want API=TPS", 0},
		{"CreateThing=-1", "positive number", 0},
		{"CreateThing=NaN", "positive number", 0},
		{"CreateThing=Inf", "positive number", 0},
		{"creatething=5", "unknown API", 0},
	}
	for _, tt := range tests {
		r := DefaultRatesCopy()
		err := r.Set(tt.spec)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("Set(%q) = %v", tt.spec, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("Set(%q) = %v, want error containing %q", tt.spec, err, tt.wantErr)
		case tt.wantErr == "" && r["CreateThing"] != tt.want:
			t.Errorf("Set(%q): CreateThing = %g, want %g", tt.spec, r["CreateThing"], tt.want)
		}
	}
	if DefaultRates["CreateThing"] != 100 {
		t.Error("Set changed the default table")
	}
}

func TestBackoffIsBoundedFullJitter(t *testing.T) {
	r := Retry{Attempts: 5, Base: 10 * time.Millisecond, Cap: 50 * time.Millisecond}
	for attempt := 1; attempt < 40; attempt++ {
		limit := min(r.Cap, r.Base<<min(attempt, 30))
		for range 50 {
			if d := backoff(r, attempt); d < 0 || d >= limit {
				t.Fatalf("backoff(attempt %d) = %v, want in [0, %v)", attempt, d, limit)
			}
		}
	}
}

// fakeClock advances by step on every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

func TestProgressPlainLines(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, false, 2*time.Second)
	clk := &fakeClock{t: time.Unix(0, 0), step: 100 * time.Millisecond}
	p.now = clk.now
	p.begin()
	p.SetTotal(100)
	for i := range 100 {
		p.Add(i == 7)
	}
	p.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// One line per 10% (every 10 things = 1 s, more often than every 2 s) and the
	// final one.
	if len(lines) < 10 || len(lines) > 12 {
		t.Fatalf("got %d lines, want about 11:\n%s", len(lines), buf.String())
	}
	if want := "sync: 10/100 things (10%), 10.0/s, ETA 9s, 1 failed"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "sync: 100/100 things (100%)") || strings.Contains(last, "\r") {
		t.Errorf("last line %q", last)
	}
}

func TestProgressTerminalRewritesOneLine(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, true, 0)
	clk := &fakeClock{t: time.Unix(0, 0), step: 50 * time.Millisecond}
	p.now = clk.now
	p.begin()
	p.SetTotal(40)
	for range 40 {
		p.Add(false)
	}
	p.Finish()
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("terminal output should be one rewritten line ending in a newline: %q", out)
	}
	if !strings.Contains(out, "\rsync [") || !strings.Contains(out, "ETA") {
		t.Errorf("no in-place bar with ETA: %q", out)
	}
	if !strings.Contains(out, "[########################] 40/40 things (100%)") {
		t.Errorf("final state missing: %q", out)
	}
}

package readiness

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestPrint: the table has one line per check and the verdict the exit status gives;
// the JSON carries the same.
func TestPrint(t *testing.T) {
	for _, tc := range []struct {
		statuses []Status
		exit     int
		verdict  string
	}{
		{[]Status{OK, OK}, ExitReady, "READY"},
		{[]Status{OK, Error}, ExitCouldNotCheck, "COULD NOT CHECK"},
		{[]Status{Error, Fail, OK}, ExitNotReady, "NOT READY"},
	} {
		var rep Report
		for i, st := range tc.statuses {
			rep.Results = append(rep.Results, Result{Region: "us-east-1", Check: CheckAlarms, Status: st, Detail: strings.Repeat("x", i+1)})
		}
		if rep.Exit() != tc.exit {
			t.Errorf("%v: exit %d, want %d", tc.statuses, rep.Exit(), tc.exit)
		}
		var text, js bytes.Buffer
		if err := PrintText(&text, rep); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(text.String()), "\n")
		if len(lines) != len(tc.statuses)+2 || !strings.HasPrefix(lines[len(lines)-1], tc.verdict) {
			t.Errorf("%v: table\n%s", tc.statuses, text.String())
		}
		if err := WriteJSON(&js, rep); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Ready   bool     `json:"ready"`
			Verdict string   `json:"verdict"`
			Results []Result `json:"results"`
		}
		if err := json.Unmarshal(js.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.Ready != (tc.exit == ExitReady) || !strings.HasPrefix(got.Verdict, tc.verdict) || len(got.Results) != len(tc.statuses) {
			t.Errorf("%v: JSON %s", tc.statuses, js.String())
		}
	}
}

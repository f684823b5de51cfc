package rules

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// recorder is a fake Action that stores every message and fails with err.
type recorder struct {
	mu   sync.Mutex
	msgs []map[string]any
	err  error
}

func (r *recorder) Run(_ context.Context, msg map[string]any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
	return r.err
}

func (r *recorder) got() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestEngine returns an engine with a fixed Env whose logs go to the
// returned buffer.
func newTestEngine(t *testing.T) (*Engine, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	return NewEngine(slog.New(slog.NewTextHandler(logs, nil)), WithEnv(fixedEnv(t))), logs
}

func TestEngineAddRefuses(t *testing.T) {
	e, _ := newTestEngine(t)
	if err := e.Add(Rule{Name: "ok", SQL: "SELECT * FROM 'a'", Action: &recorder{}}); err != nil {
		t.Fatalf("Add: %v", err)
	}
	tests := []struct {
		name    string
		rule    Rule
		wantErr string
	}{
		{"bad SQL", Rule{Name: "broken", SQL: "SELECT * FROM 'a' WHERE a IN (1)", Action: &recorder{}}, `rules: adding rule "broken": iot sql: unsupported construct: IN at position 27`},
		{"no name", Rule{SQL: "SELECT * FROM 'a'", Action: &recorder{}}, "empty name"},
		{"no action", Rule{Name: "x", SQL: "SELECT * FROM 'a'"}, `adding rule "x": no action`},
		{"duplicate", Rule{Name: "ok", SQL: "SELECT * FROM 'b'", Action: &recorder{}}, `adding rule "ok": a rule with that name exists`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Add(tt.rule)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Add error = %v, want %q", err, tt.wantErr)
			}
		})
	}
	var se *SyntaxError
	if err := e.Add(Rule{Name: "broken", SQL: "SELECT", Action: &recorder{}}); !errors.As(err, &se) {
		t.Errorf("Add error %v does not wrap *SyntaxError", err)
	}
	if got := e.Filters(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("Filters() = %v after refused adds, want [a]", got)
	}
}

func TestEngineRouting(t *testing.T) {
	e, _ := newTestEngine(t)
	registry, shadow, shadowDelete, extra := &recorder{}, &recorder{}, &recorder{}, &recorder{}
	for _, r := range []Rule{
		{Name: "registry", SQL: registryRuleSQL, Action: registry},
		{Name: "shadow", SQL: shadowRuleSQL, Action: shadow},
		{Name: "shadow-delete", SQL: shadowDeleteRuleSQL, Action: shadowDelete},
		{Name: "extra", SQL: "SELECT topic(3) AS name FROM '$aws/events/#'", Action: extra},
	} {
		if err := e.Add(r); err != nil {
			t.Fatalf("Add(%s): %v", r.Name, err)
		}
	}
	if got, want := e.Filters(), []string{"$aws/events/thing/#", "$aws/things/+/shadow/update/documents", "$aws/things/+/shadow/delete/accepted", "$aws/events/#"}; !slices.Equal(got, want) {
		t.Errorf("Filters() = %v, want %v", got, want)
	}

	e.Handle("$aws/events/thing/T1/created", []byte(`{"eventType":"THING_EVENT","eventId":"e1","thingName":"T1","versionNumber":1}`))
	e.Handle("$aws/events/presence/connected/c1", []byte(`{"eventType":"connected"}`))
	e.Handle("$aws/things/T1/shadow/update/documents", []byte(`{"previous":null,"current":{"state":{"reported":{"x":1}},"version":3},"timestamp":1700000000}`))
	e.Handle("$aws/things/T1/shadow/update/accepted", []byte(`{"state":{"reported":{"x":1}},"version":3,"timestamp":1700000000}`))
	e.Handle("$aws/things/T1/shadow/get/accepted", []byte(`{"state":{},"version":3}`))
	e.Handle("$aws/things/T1/shadow/delete/accepted", []byte(`{"version":4,"timestamp":1700000001}`))
	e.Handle("$aws/things/T1/shadow/name/cfg/delete/accepted", []byte(`{"version":1,"timestamp":1700000001}`))
	e.Handle("telemetry/T1", []byte(`{"x":1}`))

	if got := registry.got(); len(got) != 1 || got[0]["thingName"] != "T1" || got[0]["versionNumber"] != json.Number("1") || got[0]["topic"] != "$aws/events/thing/T1/created" {
		t.Errorf("registry action got %v, want the one thing event with its topic", got)
	}
	if got := shadow.got(); len(got) != 1 || got[0]["operation"] != "UPDATE" || got[0]["thingName"] != "T1" || got[0]["current"] == nil {
		t.Errorf("shadow action got %v, want the one shadow update", got)
	}
	if got := shadowDelete.got(); len(got) != 1 || got[0]["operation"] != "DELETE" || got[0]["thingName"] != "T1" || got[0]["version"] != json.Number("4") {
		t.Errorf("shadow delete action got %v, want the one classic shadow delete", got)
	}
	if got := extra.got(); len(got) != 2 || got[0]["name"] != "thing" || got[1]["name"] != "presence" {
		t.Errorf("extra action got %v, want both $aws/events messages in order", got)
	}
	st := e.Stats()
	if st["registry"].Matched != 1 || st["shadow"].Matched != 1 || st["shadow-delete"].Matched != 1 || st["extra"].Matched != 2 {
		t.Errorf("Stats = %+v", st)
	}
	if st["registry"].ActionErrors != 0 || st["registry"].LastError != "" {
		t.Errorf("registry stats show errors: %+v", st["registry"])
	}
}

// TestHandleFilterRunsEachRuleOnce subscribes one handler per filter, as the simulator
// does, with two rules whose filters overlap: a message matching both filters reaches
// each rule once.
func TestHandleFilterRunsEachRuleOnce(t *testing.T) {
	e, _ := newTestEngine(t)
	wide, narrow := &recorder{}, &recorder{}
	for _, r := range []Rule{
		{Name: "wide", SQL: "SELECT * FROM 'dev/#'", Action: wide},
		{Name: "narrow", SQL: "SELECT * FROM 'dev/+/telemetry'", Action: narrow},
	} {
		if err := e.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	// The broker calls every subscription whose filter matches the topic.
	for _, f := range e.Filters() {
		tf, err := parseTopicFilter(f)
		if err != nil {
			t.Fatal(err)
		}
		if tf.match("dev/d1/telemetry") {
			e.HandleFilter(f)("dev/d1/telemetry", []byte(`{"t":1}`))
		}
	}
	if len(wide.got()) != 1 || len(narrow.got()) != 1 {
		t.Errorf("wide ran %d times, narrow %d times; want once each", len(wide.got()), len(narrow.got()))
	}
}

func TestEngineErrorAction(t *testing.T) {
	e, logs := newTestEngine(t)
	table := &fakeTable{err: &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}}
	errs := &recorder{}
	if err := e.Add(Rule{
		Name:        "registry",
		SQL:         registryRuleSQL,
		Action:      DynamoDBv2Action{Table: table, TableName: "iot-dr-events"},
		ErrorAction: errs,
	}); err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"eventType":"THING_EVENT","secret":"do-not-log-me"}`)
	e.HandleMessage(context.Background(), Message{Topic: "$aws/events/thing/T1/deleted", Payload: payload, ClientID: "device-1"})

	if len(table.puts) != 1 {
		t.Fatalf("PutItem calls = %d, want 1", len(table.puts))
	}
	got := errs.got()
	if len(got) != 1 {
		t.Fatalf("error action messages = %d, want 1", len(got))
	}
	m := got[0]
	if m["ruleName"] != "registry" || m["topic"] != "$aws/events/thing/T1/deleted" || m["clientId"] != "device-1" {
		t.Errorf("error message header = %v", m)
	}
	if m["cloudwatchTraceId"] != "u1" { // the rule itself calls no newuuid()
		t.Errorf("cloudwatchTraceId = %v, want u1", m["cloudwatchTraceId"])
	}
	if m["base64OriginalPayload"] != base64.StdEncoding.EncodeToString(payload) {
		t.Errorf("base64OriginalPayload = %v", m["base64OriginalPayload"])
	}
	failures, _ := m["failures"].([]any)
	if len(failures) != 1 {
		t.Fatalf("failures = %v, want one", m["failures"])
	}
	f := failures[0].(map[string]any)
	if f["failedAction"] != "DynamoDBv2Action" || f["failedResource"] != "iot-dr-events" ||
		!strings.Contains(f["errorMessage"].(string), "slow down") {
		t.Errorf("failure = %v", f)
	}
	assertJSONShaped(t, "errorMessage", m)
	st := e.Stats()["registry"]
	if st.Matched != 1 || st.ActionErrors != 1 || st.EvalErrors != 0 || !strings.Contains(st.LastError, "slow down") {
		t.Errorf("stats = %+v", st)
	}
	if strings.Contains(logs.String(), "do-not-log-me") {
		t.Errorf("logs contain the payload: %s", logs)
	}
	if !strings.Contains(logs.String(), "action failed") {
		t.Errorf("logs do not report the failure: %s", logs)
	}
}

func TestEngineNonJSONPayload(t *testing.T) {
	e, logs := newTestEngine(t)
	action, errs := &recorder{}, &recorder{}
	if err := e.Add(Rule{Name: "registry", SQL: registryRuleSQL, Action: action, ErrorAction: errs}); err != nil {
		t.Fatal(err)
	}
	e.Handle("$aws/events/thing/T1/created", []byte("\x00binary-secret"))
	e.Handle("$aws/events/presence/connected/c1", []byte("\x00binary")) // WHERE rejects before the payload is read

	if got := action.got(); len(got) != 0 {
		t.Errorf("action ran on a non-JSON payload: %v", got)
	}
	got := errs.got()
	if len(got) != 1 {
		t.Fatalf("error action messages = %d, want 1", len(got))
	}
	f := got[0]["failures"].([]any)[0].(map[string]any)
	if !strings.Contains(f["errorMessage"].(string), ErrPayloadNotJSONObject.Error()) {
		t.Errorf("errorMessage = %v", f["errorMessage"])
	}
	st := e.Stats()["registry"]
	if st.EvalErrors != 1 || st.Matched != 0 || st.ActionErrors != 0 || st.LastError == "" {
		t.Errorf("stats = %+v", st)
	}
	if strings.Contains(logs.String(), "binary-secret") {
		t.Errorf("logs contain the payload: %s", logs)
	}
}

func TestEngineErrorActionFailure(t *testing.T) {
	e, logs := newTestEngine(t)
	if err := e.Add(Rule{
		Name:        "r",
		SQL:         "SELECT * FROM 'a'",
		Action:      ActionFunc(func(context.Context, map[string]any) error { return errors.New("boom") }),
		ErrorAction: &recorder{err: errors.New("error sink down")},
	}); err != nil {
		t.Fatal(err)
	}
	e.Handle("a", []byte(`{}`))
	st := e.Stats()["r"]
	if st.ActionErrors != 1 || st.ErrorActionErrors != 1 || st.LastError != "boom" {
		t.Errorf("stats = %+v", st)
	}
	if !strings.Contains(logs.String(), "error sink down") {
		t.Errorf("error-action failure not logged: %s", logs)
	}
}

func TestEngineConcurrent(t *testing.T) {
	e := NewEngine(nil)
	rec := &recorder{}
	if err := e.Add(Rule{Name: "shadow", SQL: shadowRuleSQL, Action: rec}); err != nil {
		t.Fatal(err)
	}
	const workers, per = 4, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				e.Handle("$aws/things/T/shadow/update/documents", fmt.Appendf(nil, `{"current":{"state":{},"version":%d},"timestamp":1700000000}`, w*per+i+1))
			}
		}()
		// Rules may be added while messages flow.
		if err := e.Add(Rule{Name: "late-" + string(rune('a'+w)), SQL: "SELECT * FROM 'other'", Action: rec}); err != nil {
			t.Error(err)
		}
		_ = e.Stats()
	}
	wg.Wait()
	if got := e.Stats()["shadow"].Matched; got != workers*per {
		t.Errorf("Matched = %d, want %d", got, workers*per)
	}
	if got := len(rec.got()); got != workers*per {
		t.Errorf("action runs = %d, want %d", got, workers*per)
	}
	versions := map[any]bool{}
	for _, m := range rec.got() {
		if cur, ok := m["current"].(map[string]any); ok {
			versions[cur["version"]] = true
		}
	}
	if len(versions) != workers*per {
		t.Errorf("distinct versions = %d, want %d: messages lost or mixed up", len(versions), workers*per)
	}
}

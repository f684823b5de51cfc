package rules

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/iot-dr/iot-dr/simulator/internal/uuid"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/iot-dr/iot-dr/simulator/internal/delivery"
)

// Action is what a rule does with the result of its SELECT for one message.
// msg holds JSON-shaped values (string, bool, nil, json.Number,
// map[string]any, []any). Run must not retain msg after it returns.
type Action interface {
	Run(ctx context.Context, msg map[string]any) error
}

// ActionFunc adapts a function to Action.
type ActionFunc func(ctx context.Context, msg map[string]any) error

// Run calls f.
func (f ActionFunc) Run(ctx context.Context, msg map[string]any) error { return f(ctx, msg) }

// Describer is implemented by actions that can name themselves and their
// target in error-action messages (failedAction, failedResource), as AWS does
// (e.g. "DynamoDBv2Action" and the table name).
type Describer interface {
	ActionName() string
	ActionResource() string
}

// Rule is one topic rule: its SQL, its action and an optional error action.
type Rule struct {
	Name        string
	SQL         string
	Action      Action
	ErrorAction Action // optional; receives AWS's error-action message
}

// Message is one published MQTT message as the rules engine sees it.
type Message struct {
	Topic    string
	Payload  []byte
	ClientID string // reported as clientId in error-action messages
}

// RuleStats counts what happened to one rule.
type RuleStats struct {
	// Matched counts messages whose topic matched and whose WHERE was true.
	Matched int64
	// ActionErrors counts failed action runs.
	ActionErrors int64
	// EvalErrors counts messages that matched the topic but could not be
	// evaluated (e.g. a payload that is not a JSON object).
	EvalErrors int64
	// ErrorActionErrors counts failed error-action runs.
	ErrorActionErrors int64
	// LastError is the text of the most recent action or evaluation error.
	LastError string
}

// Stats maps rule names to their counters.
type Stats map[string]RuleStats

// Option configures an Engine.
type Option func(*Engine)

// WithEnv sets the clock and UUID source used for timestamp(), newuuid() and
// error-action trace ids.
func WithEnv(env Env) Option { return func(e *Engine) { e.env = env } }

// Engine evaluates every added rule on each message handed to Handle and runs
// the actions of the rules that match. Handle is safe for concurrent use and
// may run concurrently with Add.
//
// Delivery: each message is evaluated once per rule. With the zero Delivery
// (see WithDelivery) each action runs once for it, synchronously on the
// caller's goroutine, in the order the rules were added; otherwise it may run
// twice and later, on a timer. A failed action is not retried; its failure
// goes to the rule's error action (one message per rule and failed run, as in
// AWS) and is counted in Stats.
type Engine struct {
	logger *slog.Logger
	env    Env
	model  delivery.Model
	deliv  *delivery.Scheduler
	meter  Meter

	mu     sync.RWMutex
	rules  []*ruleState // append-only; readers take a snapshot under mu
	byName map[string]*ruleState
}

type ruleState struct {
	rule Rule
	stmt *Statement

	matched, actionErrors, evalErrors, errorActionErrors atomic.Int64

	mu        sync.Mutex
	lastError string
}

// NewEngine returns an empty Engine that logs to logger (slog.Default when
// nil).
func NewEngine(logger *slog.Logger, opts ...Option) *Engine {
	if logger == nil {
		logger = slog.Default()
	}
	e := &Engine{logger: logger, byName: map[string]*ruleState{}}
	for _, o := range opts {
		o(e)
	}
	if e.deliv == nil {
		e.deliv = delivery.New(e.model)
	}
	return e
}

// Add parses r.SQL and installs the rule. It refuses an empty or duplicate
// name, a missing action and SQL that Parse refuses.
func (e *Engine) Add(r Rule) error {
	if r.Name == "" {
		return errors.New("rules: adding rule: empty name")
	}
	if r.Action == nil {
		return fmt.Errorf("rules: adding rule %q: no action", r.Name)
	}
	stmt, err := Parse(r.SQL)
	if err != nil {
		return fmt.Errorf("rules: adding rule %q: %w", r.Name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.byName[r.Name]; dup {
		return fmt.Errorf("rules: adding rule %q: a rule with that name exists", r.Name)
	}
	rs := &ruleState{rule: r, stmt: stmt}
	e.rules = append(e.rules, rs)
	e.byName[r.Name] = rs
	return nil
}

// Filters returns the distinct FROM topic filters of all rules, in the order
// rules were added: what the engine must subscribe to on the broker.
func (e *Engine) Filters() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []string
	for _, rs := range e.rules {
		if f := rs.stmt.Filter(); !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// Handle runs every matching rule on one message, with a background context
// and no client id. See HandleMessage.
func (e *Engine) Handle(topic string, payload []byte) {
	e.HandleMessage(context.Background(), Message{Topic: topic, Payload: payload})
}

// HandleMessage runs every rule whose filter matches m.Topic and whose WHERE
// is true, passing ctx to the actions.
func (e *Engine) HandleMessage(ctx context.Context, m Message) {
	e.mu.RLock()
	rules := e.rules
	e.mu.RUnlock()
	for _, rs := range rules {
		e.run(ctx, rs, m) // EvaluateEnv matches the topic against the rule's filter
	}
}

// HandleFilter returns the broker handler for one of Filters(): it runs only the rules
// whose FROM is that filter. Subscribing one such handler per filter delivers each
// message to each rule once, even where two rules' filters overlap.
func (e *Engine) HandleFilter(filter string) func(topic string, payload []byte) {
	return func(topic string, payload []byte) {
		e.mu.RLock()
		rules := e.rules
		e.mu.RUnlock()
		m := Message{Topic: topic, Payload: payload}
		for _, rs := range rules {
			if rs.stmt.Filter() == filter {
				e.run(context.Background(), rs, m)
			}
		}
	}
}

func (e *Engine) run(ctx context.Context, rs *ruleState, m Message) {
	out, matched, err := rs.stmt.EvaluateEnv(m.Topic, m.Payload, e.env)
	if err != nil {
		rs.evalErrors.Add(1)
		rs.setLastError(err)
		e.logger.WarnContext(ctx, "topic rule: cannot evaluate message",
			"rule", rs.rule.Name, "topic", m.Topic, "payloadBytes", len(m.Payload), "error", err)
		e.runErrorAction(ctx, rs, m, err)
		return
	}
	if !matched {
		return
	}
	rs.matched.Add(1)
	e.count(MeterRulesTriggered)
	if !e.model.Enabled() {
		e.runAction(ctx, rs, m, out)
		return
	}
	// Delayed runs outlive the caller, so they must not inherit its
	// cancellation nor share the broker's payload buffer; each run gets its
	// own copy of the output.
	ctx = context.WithoutCancel(ctx)
	m.Payload = bytes.Clone(m.Payload)
	e.deliv.Deliver(func() { e.runAction(ctx, rs, m, cloneJSON(out).(map[string]any)) })
}

func (e *Engine) runAction(ctx context.Context, rs *ruleState, m Message, out map[string]any) {
	e.count(MeterActionsExecuted)
	if err := rs.rule.Action.Run(ctx, out); err != nil {
		rs.actionErrors.Add(1)
		rs.setLastError(err)
		e.logger.WarnContext(ctx, "topic rule: action failed",
			"rule", rs.rule.Name, "topic", m.Topic, "action", actionName(rs.rule.Action), "error", err)
		e.runErrorAction(ctx, rs, m, err)
	}
}

// runErrorAction sends AWS's error-action message for one failed message.
func (e *Engine) runErrorAction(ctx context.Context, rs *ruleState, m Message, cause error) {
	if rs.rule.ErrorAction == nil {
		return
	}
	msg := map[string]any{
		"ruleName":              rs.rule.Name,
		"topic":                 m.Topic,
		"cloudwatchTraceId":     e.newUUID(),
		"clientId":              m.ClientID,
		"base64OriginalPayload": base64.StdEncoding.EncodeToString(m.Payload),
		"failures": []any{map[string]any{
			"failedAction":   actionName(rs.rule.Action),
			"failedResource": actionResource(rs.rule.Action),
			"errorMessage":   cause.Error(),
		}},
	}
	e.count(MeterActionsExecuted)
	if err := rs.rule.ErrorAction.Run(ctx, msg); err != nil {
		rs.errorActionErrors.Add(1)
		e.logger.ErrorContext(ctx, "topic rule: error action failed",
			"rule", rs.rule.Name, "topic", m.Topic, "action", actionName(rs.rule.ErrorAction), "error", err)
	}
}

func (e *Engine) newUUID() string {
	if e.env.NewUUID != nil {
		return e.env.NewUUID()
	}
	return uuid.New()
}

func actionName(a Action) string {
	if d, ok := a.(Describer); ok {
		return d.ActionName()
	}
	return fmt.Sprintf("%T", a)
}

func actionResource(a Action) string {
	if d, ok := a.(Describer); ok {
		return d.ActionResource()
	}
	return ""
}

func (rs *ruleState) setLastError(err error) {
	rs.mu.Lock()
	rs.lastError = err.Error()
	rs.mu.Unlock()
}

// Stats returns a snapshot of every rule's counters.
func (e *Engine) Stats() Stats {
	e.mu.RLock()
	rules := e.rules
	e.mu.RUnlock()
	out := make(Stats, len(rules))
	for _, rs := range rules {
		rs.mu.Lock()
		last := rs.lastError
		rs.mu.Unlock()
		out[rs.rule.Name] = RuleStats{
			Matched:           rs.matched.Load(),
			ActionErrors:      rs.actionErrors.Load(),
			EvalErrors:        rs.evalErrors.Load(),
			ErrorActionErrors: rs.errorActionErrors.Load(),
			LastError:         last,
		}
	}
	return out
}

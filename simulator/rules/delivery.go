package rules

import (
	"context"
	"fmt"
	"time"

	"github.com/iot-dr/iot-dr/simulator/internal/delivery"
)

// Delivery is the delivery model of rule actions. The zero value runs each
// matched message's action exactly once, synchronously, in order. AWS IoT
// rule actions are at least once and unordered, which the non-zero values
// model.
type Delivery struct {
	// DuplicateRate is the probability (0 to 1) that an action runs twice for
	// one message, both times with the same SELECT output.
	DuplicateRate float64
	// ReorderWindow delays each action run by a random duration in
	// [0, ReorderWindow) on a timer owned by the Engine, so actions for later
	// messages may run before earlier ones, and Handle returns without
	// waiting for them. Pending and Flush wait for them; Close stops them.
	ReorderWindow time.Duration
	// Seed seeds the random draws, made in the order messages match rules.
	Seed uint64
}

// WithDelivery sets the delivery model of rule actions.
func WithDelivery(d Delivery) Option {
	return func(e *Engine) {
		e.model = delivery.Model{DuplicateRate: d.DuplicateRate, ReorderWindow: d.ReorderWindow, Seed: d.Seed}
		e.deliv = delivery.New(e.model)
	}
}

// Meter receives billable quantities; billing.RegionMeter satisfies it. It
// is defined here so that rules does not depend on the billing package.
type Meter interface {
	Add(op string, n float64)
}

// Metered operation names (billing.OpIoTRulesTriggered,
// billing.OpIoTActionsExecuted).
const (
	MeterRulesTriggered  = "IoT-RulesTriggered"
	MeterActionsExecuted = "IoT-ActionsExecuted"
)

// WithMeter feeds rules triggered (one per rule and matching message) and
// actions executed (one per action or error-action run, duplicates
// included) to m.
func WithMeter(m Meter) Option { return func(e *Engine) { e.meter = m } }

// Pending returns how many delayed action runs have not finished (always 0
// without a ReorderWindow).
func (e *Engine) Pending() int { return e.deliv.Pending() }

// Flush waits until no delayed action run is pending or ctx is done.
func (e *Engine) Flush(ctx context.Context) error {
	if err := e.deliv.Flush(ctx); err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	return nil
}

// Close stops the Engine's delivery timers, dropping the action runs they
// held, and waits for runs in progress. It is safe to call more than once.
func (e *Engine) Close() { e.deliv.Close() }

func (e *Engine) count(op string) {
	if e.meter != nil {
		e.meter.Add(op, 1)
	}
}

// cloneJSON deep-copies a JSON-shaped value, so that each delayed or
// duplicated action run gets its own message.
func cloneJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = cloneJSON(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = cloneJSON(e)
		}
		return s
	default:
		return v
	}
}

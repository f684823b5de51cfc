package spec

import (
	"encoding/json"
	"fmt"
	"strings"
)

// PermanentErrorType is the Lambda errorType of a failure that retrying cannot fix (bad
// input, a limit AWS will keep enforcing). The state machine does not retry it.
const PermanentErrorType = "PermanentError"

// Names of the state machine's states, for assertions on execution history.
const (
	StateRoute         = "Route"
	StateThing         = "Thing"
	StateThingType     = "ThingType"
	StateThingGroup    = "ThingGroup"
	StateShadow        = "Shadow"
	StateRecheck       = "Recheck"
	StateWaitRecheck   = "WaitRecheck"
	StateRecordError   = "RecordError"
	StateFailed        = "Failed"
	StateUnknownType   = "UnknownEventType"
	StateDone          = "Done"
	ErrorReplication   = "ReplicationFailed"
	ErrorUnknownType   = "UnknownEventType"
	ResultRecheckField = "recheckSeconds"
)

// Workers holds the worker Lambdas' ARNs.
type Workers struct {
	Thing, ThingType, ThingGroup, Shadow string
}

// Retry is a Task's retry policy for transient failures.
type Retry struct {
	IntervalSeconds int
	BackoffRate     float64
	MaxAttempts     int
}

// DefaultRetry retries a transient failure 6 times over about two minutes: long enough
// to ride out API throttling, short enough that the error table sees real failures soon.
var DefaultRetry = Retry{IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 6}

// StateMachine is the apply pipeline's state machine: Choice on the event type, one Task
// per worker family with Retry and Catch, a Wait loop that lets the thing worker re-check
// attachments AWS publishes no event for, and an error-table record for what still fails.
type StateMachine struct {
	Workers    Workers
	ErrorTable string
	Retry      Retry
}

// Definition returns the state machine as Amazon States Language JSON.
func (m StateMachine) Definition() (string, error) {
	if err := m.validate(); err != nil {
		return "", err
	}
	type obj = map[string]any
	task := func(arn, next string) obj {
		return obj{
			"Type":       "Task",
			"Resource":   arn,
			"ResultPath": "$.result",
			"Retry": []obj{
				{"ErrorEquals": []string{PermanentErrorType}, "MaxAttempts": 0},
				// Full jitter spreads the retries of a throttled burst instead of
				// replaying it in lockstep.
				{"ErrorEquals": []string{"States.ALL"}, "IntervalSeconds": m.Retry.IntervalSeconds,
					"BackoffRate": m.Retry.BackoffRate, "MaxAttempts": m.Retry.MaxAttempts, "JitterStrategy": "FULL"},
			},
			"Catch": []obj{{"ErrorEquals": []string{"States.ALL"}, "ResultPath": "$.error", "Next": StateRecordError}},
			"Next":  next,
		}
	}
	route := func(eventType, next string) obj {
		return obj{"Variable": "$.eventType", "StringEquals": eventType, "Next": next}
	}
	recheck := "$.result." + ResultRecheckField
	s := func(path string) obj { return obj{"S.$": path} }
	def := obj{
		"Comment": "iot-dr: apply one captured primary-Region event to this Region",
		"StartAt": StateRoute,
		"States": obj{
			StateRoute: obj{
				"Type": "Choice",
				"Choices": []obj{
					route(EventThing, StateThing),
					route(EventThingTypeAssociation, StateThing),
					route(EventThingType, StateThingType),
					route(EventThingGroup, StateThingGroup),
					route(EventThingGroupMembership, StateThingGroup),
					route(EventThingGroupHierarchy, StateThingGroup),
					route(EventShadow, StateShadow),
				},
				"Default": StateUnknownType,
			},
			StateThing:      task(m.Workers.Thing, StateRecheck),
			StateThingType:  task(m.Workers.ThingType, StateDone),
			StateThingGroup: task(m.Workers.ThingGroup, StateDone),
			StateShadow:     task(m.Workers.Shadow, StateDone),
			StateRecheck: obj{
				"Type": "Choice",
				"Choices": []obj{{
					"And": []obj{
						{"Variable": recheck, "IsPresent": true},
						{"Variable": recheck, "NumericGreaterThan": 0},
					},
					"Next": StateWaitRecheck,
				}},
				"Default": StateDone,
			},
			StateWaitRecheck: obj{"Type": "Wait", "SecondsPath": recheck, "Next": StateThing},
			StateRecordError: obj{
				"Type":     "Task",
				"Resource": "arn:aws:states:::dynamodb:putItem",
				"Parameters": obj{
					"TableName": m.ErrorTable,
					"Item": obj{
						ErrorAttrID:         s("$$.Execution.Name"),
						ErrorAttrEventID:    s("$.eventId"),
						ErrorAttrEventType:  s("$.eventType"),
						ErrorAttrError:      s("$.error.Error"),
						ErrorAttrCause:      s("$.error.Cause"),
						ErrorAttrEvent:      s("States.JsonToString($)"),
						ErrorAttrRecordedAt: s("$$.State.EnteredTime"),
					},
				},
				"ResultPath": nil,
				"Next":       StateFailed,
			},
			StateFailed:      obj{"Type": "Fail", "Error": ErrorReplication, "Cause": "the event is recorded in the error table for the reconciler"},
			StateUnknownType: obj{"Type": "Fail", "Error": ErrorUnknownType, "Cause": "no worker applies this event type"},
			StateDone:        obj{"Type": "Succeed"},
		},
	}
	b, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		return "", fmt.Errorf("spec: encode state machine: %w", err)
	}
	return string(b), nil
}

func (m StateMachine) validate() error {
	for name, arn := range map[string]string{
		"thing": m.Workers.Thing, "thing type": m.Workers.ThingType,
		"thing group": m.Workers.ThingGroup, "shadow": m.Workers.Shadow,
	} {
		if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":lambda:") {
			return fmt.Errorf("spec: %s worker ARN %q is not a Lambda function ARN", name, arn)
		}
	}
	if m.ErrorTable == "" {
		return fmt.Errorf("spec: error table name is empty")
	}
	r := m.Retry
	if r.IntervalSeconds < 1 || r.MaxAttempts < 0 || r.MaxAttempts > 99999999 || r.BackoffRate < 1 {
		return fmt.Errorf("spec: retry policy %+v: need IntervalSeconds >= 1, BackoffRate >= 1, 0 <= MaxAttempts", r)
	}
	return nil
}

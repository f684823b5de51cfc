package spec

import (
	"encoding/json"
	"fmt"
	"strings"
)

// PermanentErrorType is the Lambda errorType of a failure that retrying cannot fix (bad
// input, a limit AWS will keep enforcing). The state machines do not retry it.
const PermanentErrorType = "PermanentError"

// Names of the state machines' states, for assertions on execution history.
const (
	StateWaitRecheck = "WaitRecheck"
	StateRecheck     = "Recheck"
	StateAgain       = "Again"
	StateSweep       = "Sweep"
	StateMore        = "More"
	StateRecordError = "RecordError"
	StateFailed      = "Failed"
	StateDone        = "Done"
	ErrorCapture     = "CaptureFailed"
)

// Fields of the re-check and sweep state machines' input and output.
const (
	// RecheckWaitField is how long the re-check machine waits before its next pass;
	// 0 ends it.
	RecheckWaitField = "waitSeconds"
	// SweepDoneField is true when the sweep has visited everything.
	SweepDoneField = "done"
)

// Retry is a Task's retry policy for transient failures.
type Retry struct {
	IntervalSeconds int
	BackoffRate     float64
	MaxAttempts     int
}

// DefaultRetry retries a transient failure 6 times over about two minutes: long enough
// to ride out API throttling, short enough that the error table sees real failures soon.
var DefaultRetry = Retry{IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 6}

func (r Retry) validate() error {
	if r.IntervalSeconds < 1 || r.MaxAttempts < 0 || r.MaxAttempts > 99999999 || r.BackoffRate < 1 {
		return fmt.Errorf("spec: retry policy %+v: need IntervalSeconds >= 1, BackoffRate >= 1, 0 <= MaxAttempts", r)
	}
	return nil
}

// RecheckMachine is the capture side's only Step Functions workflow, started once per
// created thing: AWS publishes no event when a certificate is attached to a thing or a
// policy to a certificate, so the machine waits and re-captures the thing's
// attachments a bounded number of times (the capture function decides the next wait,
// doubling it, and ends the loop once a pass finds the thing complete and unchanged).
// Waiting is what Step Functions is for: a Wait state costs one transition however long
// it lasts, and no Lambda runs while it waits.
type RecheckMachine struct {
	// Recheck is the capture function's ARN (its recheck entry point).
	Recheck    string
	ErrorTable string
	Retry      Retry
}

// Definition returns the state machine as Amazon States Language JSON.
func (m RecheckMachine) Definition() (string, error) {
	if err := lambdaARN("re-check", m.Recheck); err != nil {
		return "", err
	}
	if err := m.Retry.validate(); err != nil {
		return "", err
	}
	if m.ErrorTable == "" {
		return "", fmt.Errorf("spec: error table name is empty")
	}
	wait := "$." + RecheckWaitField
	return encodeMachine(obj{
		"Comment": "iot-dr: re-capture a new thing's certificate and policy attachments, which raise no registry event",
		"StartAt": StateWaitRecheck,
		"States": obj{
			StateWaitRecheck: obj{"Type": "Wait", "SecondsPath": wait, "Next": StateRecheck},
			StateRecheck:     task(m.Recheck, m.Retry, "$", StateAgain),
			StateAgain: obj{
				"Type": "Choice",
				"Choices": []obj{{
					"And":  []obj{{"Variable": wait, "IsPresent": true}, {"Variable": wait, "NumericGreaterThan": 0}},
					"Next": StateWaitRecheck,
				}},
				"Default": StateDone,
			},
			StateRecordError: recordError(m.ErrorTable, "States.Format('capture#thing#{}', $.thingName)", obj{"S.$": "States.Format('thing#{}', $.thingName)"}),
			StateFailed:      obj{"Type": "Fail", "Error": ErrorCapture, "Cause": "recorded in the error table for the redrive function"},
			StateDone:        obj{"Type": "Succeed"},
		},
	})
}

// SweepMachine pages the capture sweep through a Region's registry and shadows: one
// Task per page, looping until the sweep reports done, so no single Lambda run has to
// fit the whole fleet into its 15 minutes.
type SweepMachine struct {
	// Sweep is the sweep function's ARN.
	Sweep      string
	ErrorTable string
	Retry      Retry
}

// Definition returns the state machine as Amazon States Language JSON.
func (m SweepMachine) Definition() (string, error) {
	if err := lambdaARN("sweep", m.Sweep); err != nil {
		return "", err
	}
	if err := m.Retry.validate(); err != nil {
		return "", err
	}
	if m.ErrorTable == "" {
		return "", fmt.Errorf("spec: error table name is empty")
	}
	return encodeMachine(obj{
		"Comment": "iot-dr: compare this Region's registry and shadows with the state table, page by page",
		"StartAt": StateSweep,
		"States": obj{
			StateSweep: task(m.Sweep, m.Retry, "$", StateMore),
			StateMore: obj{
				"Type": "Choice",
				"Choices": []obj{{
					"And":  []obj{{"Variable": "$." + SweepDoneField, "IsPresent": true}, {"Variable": "$." + SweepDoneField, "BooleanEquals": false}},
					"Next": StateSweep,
				}},
				"Default": StateDone,
			},
			// A failed sweep names no resource: the record is for an operator (the redrive
			// leaves it), and the next scheduled sweep starts over.
			StateRecordError: recordError(m.ErrorTable, "States.Format('capture#sweep#{}', $$.Execution.Name)", obj{"S": ""}),
			StateFailed:      obj{"Type": "Fail", "Error": ErrorCapture, "Cause": "recorded in the error table; the next scheduled sweep starts over"},
			StateDone:        obj{"Type": "Succeed"},
		},
	})
}

type obj = map[string]any

func task(arn string, r Retry, resultPath, next string) obj {
	return obj{
		"Type":       "Task",
		"Resource":   arn,
		"ResultPath": resultPath,
		"Retry": []obj{
			{"ErrorEquals": []string{PermanentErrorType}, "MaxAttempts": 0},
			// Full jitter spreads the retries of a throttled burst instead of
			// replaying it in lockstep.
			{"ErrorEquals": []string{"States.ALL"}, "IntervalSeconds": r.IntervalSeconds,
				"BackoffRate": r.BackoffRate, "MaxAttempts": r.MaxAttempts, "JitterStrategy": "FULL"},
		},
		"Catch": []obj{{"ErrorEquals": []string{"States.ALL"}, "ResultPath": "$.error", "Next": StateRecordError}},
		"Next":  next,
	}
}

func recordError(table, idExpr string, key obj) obj {
	s := func(path string) obj { return obj{"S.$": path} }
	return obj{
		"Type":     "Task",
		"Resource": "arn:aws:states:::dynamodb:putItem",
		"Parameters": obj{
			"TableName": table,
			"Item": obj{
				ErrorAttrID:         s(idExpr),
				ErrorAttrKey:        key,
				ErrorAttrStage:      obj{"S": StageCapture},
				ErrorAttrError:      s("$.error.Error"),
				ErrorAttrCause:      s("$.error.Cause"),
				ErrorAttrInput:      s("States.JsonToString($)"),
				ErrorAttrRecordedAt: s("$$.State.EnteredTime"),
			},
		},
		// A throttled error-table write is retried; what still fails fails the execution,
		// which the ExecutionsFailed alarm reports.
		"Retry":      []obj{{"ErrorEquals": []string{"States.ALL"}, "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 5, "JitterStrategy": "FULL"}},
		"ResultPath": nil,
		"Next":       StateFailed,
	}
}

func lambdaARN(what, arn string) error {
	if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":lambda:") {
		return fmt.Errorf("spec: %s function ARN %q is not a Lambda function ARN", what, arn)
	}
	return nil
}

func encodeMachine(def obj) (string, error) {
	b, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		return "", fmt.Errorf("spec: encode state machine: %w", err)
	}
	return string(b), nil
}

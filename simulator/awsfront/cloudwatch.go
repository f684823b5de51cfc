package awsfront

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// Alarms are one Region's CloudWatch alarms as the stacks name them, each evaluated
// from the simulated Region's own state whenever it is described (CloudWatch
// evaluates every period; the simulator at once). StateUpdatedTimestamp is when the
// evaluated state last changed.
type Alarms struct {
	region, account string
	alarms          []*alarm
}

type alarm struct {
	name, namespace, metric string
	// eval returns whether the alarm's condition holds, and why.
	eval func() (bool, string)

	mu      sync.Mutex
	state   string
	updated time.Time
}

// Names lists the alarms, as the stack's alarmNames output does.
func (a *Alarms) Names() []string {
	var out []string
	for _, al := range a.alarms {
		out = append(out, al.name)
	}
	return out
}

func (a *Alarms) add(name, namespace, metric string, eval func() (bool, string)) {
	a.alarms = append(a.alarms, &alarm{name: name, namespace: namespace, metric: metric, eval: eval, state: "INSUFFICIENT_DATA", updated: time.Now()})
}

// evaluate returns the alarm's state, reason and when its state last changed.
func (al *alarm) evaluate() (state, reason string, updated time.Time) {
	firing, why := al.eval()
	state = "OK"
	if firing {
		state = "ALARM"
	}
	al.mu.Lock()
	defer al.mu.Unlock()
	if state != al.state {
		al.state, al.updated = state, time.Now()
	}
	return state, why, al.updated
}

// cloudWatchPath is the RPC v2 CBOR path prefix of CloudWatch's operations.
const cloudWatchPath = "/service/GraniteServiceVersion20100801/operation/"

// serveCloudWatch answers CloudWatch's Smithy RPC v2 CBOR protocol (what the pinned
// aws-sdk-go-v2 cloudwatch client speaks: POST /service/<service>/operation/<op>,
// CBOR bodies) for DescribeAlarms by name or name prefix, metric alarms only.
func (h *handler) serveCloudWatch(w http.ResponseWriter, r *http.Request, b *backend, body []byte) string {
	op, ok := strings.CutPrefix(r.URL.Path, cloudWatchPath)
	if r.Method != http.MethodPost || !ok {
		writeCBORError(w, newAPIError(http.StatusBadRequest, "UnknownOperationException",
			"CloudWatch requests are POST %s<Operation> (Smithy RPC v2 CBOR)", cloudWatchPath))
		return ""
	}
	if op != "DescribeAlarms" {
		writeCBORError(w, newAPIError(http.StatusBadRequest, "UnknownOperationException",
			"CloudWatch operation %q is not served by the simulator; it serves DescribeAlarms", op))
		return op
	}
	if b.Alarms == nil {
		writeCBORError(w, newAPIError(http.StatusBadRequest, "UnknownOperationException", "CloudWatch is not served for %s", b.Name))
		return op
	}
	var names []string
	prefix, stateFilter := "", ""
	if len(body) > 0 {
		v, err := cbor.Decode(body)
		in, isMap := v.(cbor.Map)
		if err != nil || !isMap {
			writeCBORError(w, newAPIError(http.StatusBadRequest, "SerializationException", "request body is not a CBOR DescribeAlarms input: %v", err))
			return op
		}
		if l, ok := in["AlarmNames"].(cbor.List); ok {
			for _, n := range l {
				if s, ok := n.(cbor.String); ok {
					names = append(names, string(s))
				}
			}
		}
		if s, ok := in["AlarmNamePrefix"].(cbor.String); ok {
			prefix = string(s)
		}
		if s, ok := in["StateValue"].(cbor.String); ok {
			stateFilter = string(s)
		}
		if len(names) > 0 && prefix != "" {
			writeCBORError(w, newAPIError(http.StatusBadRequest, "InvalidParameterCombination", "AlarmNames and AlarmNamePrefix are mutually exclusive"))
			return op
		}
		if len(names) > 100 {
			writeCBORError(w, newAPIError(http.StatusBadRequest, "InvalidParameterValue", "AlarmNames: at most 100 names, got %d", len(names)))
			return op
		}
	}
	metric := cbor.List{}
	for _, al := range b.Alarms.alarms {
		if (len(names) > 0 && !slices.Contains(names, al.name)) || !strings.HasPrefix(al.name, prefix) {
			continue
		}
		state, reason, updated := al.evaluate()
		if stateFilter != "" && state != stateFilter {
			continue
		}
		metric = append(metric, cbor.Map{
			"AlarmName":             cbor.String(al.name),
			"AlarmArn":              cbor.String(fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", b.Alarms.region, b.Alarms.account, al.name)),
			"Namespace":             cbor.String(al.namespace),
			"MetricName":            cbor.String(al.metric),
			"StateValue":            cbor.String(state),
			"StateReason":           cbor.String(reason),
			"StateUpdatedTimestamp": &cbor.Tag{ID: 1, Value: cbor.Float64(float64(updated.UnixMilli()) / 1000)},
			"ActionsEnabled":        cbor.Bool(true),
		})
	}
	writeCBOR(w, http.StatusOK, cbor.Map{"MetricAlarms": metric, "CompositeAlarms": cbor.List{}})
	return op
}

func writeCBOR(w http.ResponseWriter, status int, v cbor.Value) {
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.WriteHeader(status)
	_, _ = w.Write(cbor.Encode(v))
}

func writeCBORError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("X-Amzn-Errortype", e.code)
	writeCBOR(w, e.status, cbor.Map{"__type": cbor.String(e.code), "message": cbor.String(e.msg)})
}

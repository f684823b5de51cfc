package shadow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane/types"
	"golang.org/x/time/rate"
)

// notifyQoS is the QoS of every notification the service publishes.
const notifyQoS = 1

// Publisher publishes notifications on the Region's broker.
type Publisher interface {
	Publish(topic string, payload []byte, qos byte) error
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock used for timestamps (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = now }
}

// WithLogger sets the logger for publish failures (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) { s.log = l }
}

// Service is one Region's classic-shadow service. Create it with New; it is
// safe for concurrent use.
type Service struct {
	pub         Publisher
	now         func() time.Time
	log         *slog.Logger
	unavailable atomic.Bool
	calls       atomic.Int64

	// Quotas and metering (quotas.go); limits is read-only after New.
	limits   map[string]*rate.Limiter
	perThing float64
	meter    Meter
	use      usage

	mu     sync.Mutex
	things map[string]*thing
}

// thing is the unnamed shadow of one thing plus its outbound notifications.
type thing struct {
	exists   bool
	version  int64 // kept across deletes, as AWS does
	desired  map[string]any
	reported map[string]any
	metaDes  map[string]any
	metaRep  map[string]any

	queue      []notification
	publishing bool // a goroutine is draining queue
}

type notification struct {
	topic   string
	payload []byte
}

// New returns a Service that publishes notifications with pub.
func New(pub Publisher, opts ...Option) *Service {
	s := &Service{
		pub:    pub,
		now:    time.Now,
		log:    slog.New(slog.DiscardHandler),
		things: make(map[string]*thing),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// SetAvailable switches the service on or off. While off, data-plane calls
// fail with *types.ServiceUnavailableException and MQTT requests are answered
// on .../rejected with code 500.
func (s *Service) SetAvailable(up bool) { s.unavailable.Store(!up) }

// Calls counts the data-plane API calls made so far, refused ones included.
func (s *Service) Calls() int64 { return s.calls.Load() }

// GetThingShadow returns the thing's unnamed shadow document, delta included.
func (s *Service) GetThingShadow(ctx context.Context, in *iotdataplane.GetThingShadowInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.GetThingShadowOutput, error) {
	var name, shadowName *string
	if in != nil {
		name, shadowName = in.ThingName, in.ShadowName
	}
	thingName, err := s.checkRead(ctx, name, shadowName)
	if err != nil {
		return nil, err
	}
	if serr := s.admit(APIGetThingShadow, thingName); serr != nil {
		return nil, apiError(serr)
	}
	payload, serr := s.get(thingName, "", false)
	s.bill(len(payload))
	if serr != nil {
		return nil, apiError(serr)
	}
	return &iotdataplane.GetThingShadowOutput{Payload: payload}, nil
}

// UpdateThingShadow applies a request state document and returns the
// update/accepted document. It publishes the same notifications as an MQTT
// update; errors are returned only, as AWS does not publish .../rejected for
// HTTP requests.
func (s *Service) UpdateThingShadow(ctx context.Context, in *iotdataplane.UpdateThingShadowInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.UpdateThingShadowOutput, error) {
	var name, shadowName *string
	var payload []byte
	if in != nil {
		name, shadowName, payload = in.ThingName, in.ShadowName, in.Payload
	}
	thingName, err := s.checkCall(ctx, name, shadowName)
	if err != nil {
		return nil, err
	}
	if serr := s.admit(APIUpdateThingShadow, thingName); serr != nil {
		return nil, apiError(serr)
	}
	accepted, serr := s.update(thingName, payload, false)
	s.bill(len(payload))
	if serr != nil {
		return nil, apiError(serr)
	}
	return &iotdataplane.UpdateThingShadowOutput{Payload: accepted}, nil
}

// DeleteThingShadow deletes the thing's unnamed shadow, keeping its version
// number, and publishes delete/accepted.
func (s *Service) DeleteThingShadow(ctx context.Context, in *iotdataplane.DeleteThingShadowInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.DeleteThingShadowOutput, error) {
	var name, shadowName *string
	if in != nil {
		name, shadowName = in.ThingName, in.ShadowName
	}
	thingName, err := s.checkRead(ctx, name, shadowName)
	if err != nil {
		return nil, err
	}
	if serr := s.admit(APIDeleteThingShadow, thingName); serr != nil {
		return nil, apiError(serr)
	}
	payload, serr := s.delete(thingName, "", false)
	s.bill(len(payload))
	if serr != nil {
		return nil, apiError(serr)
	}
	return &iotdataplane.DeleteThingShadowOutput{Payload: payload}, nil
}

// HandleMQTT serves a request published on $aws/things/<thing>/shadow/update,
// .../get or .../delete, answering on the matching accepted/rejected topics.
// Other topics are ignored, so it can be wired as
// broker.Handle("$aws/things/+/shadow/+", svc.HandleMQTT).
func (s *Service) HandleMQTT(topic string, payload []byte) {
	parts := strings.Split(topic, "/")
	if len(parts) != 5 || parts[0] != "$aws" || parts[1] != "things" || parts[3] != "shadow" {
		return
	}
	name, op := parts[2], parts[4]
	switch op {
	case "update", "get", "delete":
	default:
		return
	}
	if s.unavailable.Load() {
		s.reject(name, op, clientTokenOf(payload), errUnavailable)
		return
	}
	if !thingNameRE.MatchString(name) {
		s.reject(name, op, clientTokenOf(payload), badRequest("Invalid thing name"))
		return
	}
	if serr := s.admit(mqttAPI[op], name); serr != nil {
		s.reject(name, op, clientTokenOf(payload), serr)
		return
	}
	switch op {
	case "update":
		_, _ = s.update(name, payload, true)
		s.bill(len(payload))
	case "get":
		doc, _ := s.get(name, clientTokenOf(payload), true)
		s.bill(len(doc))
	case "delete":
		doc, _ := s.delete(name, clientTokenOf(payload), true)
		s.bill(len(doc))
	}
}

// mqttAPI maps an MQTT shadow operation to the API whose quota it shares.
var mqttAPI = map[string]string{"update": APIUpdateThingShadow, "get": APIGetThingShadow, "delete": APIDeleteThingShadow}

// checkCall validates the data-plane call common to all operations.
func (s *Service) checkCall(ctx context.Context, thingName, shadowName *string) (string, error) {
	s.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("shadow: %w", err)
	}
	if s.unavailable.Load() {
		return "", &types.ServiceUnavailableException{Message: aws.String("Service Unavailable")}
	}
	name := aws.ToString(thingName)
	if !thingNameRE.MatchString(name) {
		return "", &types.InvalidRequestException{Message: aws.String(fmt.Sprintf("Invalid thing name: %q", name))}
	}
	if aws.ToString(shadowName) != "" {
		return "", &types.InvalidRequestException{Message: aws.String("named shadows are not supported by the simulator")}
	}
	return name, nil
}

// checkRead is checkCall for get and delete: a named shadow cannot exist in the
// simulator, so it is answered as AWS answers for one that does not (404), not refused.
func (s *Service) checkRead(ctx context.Context, thingName, shadowName *string) (string, error) {
	named := aws.ToString(shadowName)
	name, err := s.checkCall(ctx, thingName, nil)
	if err != nil || named == "" {
		return name, err
	}
	return "", &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf("No shadow exists with name: '%s~%s'", name, named))}
}

// update applies a request; with mqtt set, the rejection is also published.
func (s *Service) update(name string, payload []byte, mqtt bool) ([]byte, *shadowError) {
	req, serr := parseUpdate(payload)
	if serr != nil {
		if mqtt {
			tok := ""
			if req != nil {
				tok = req.clientToken
			}
			s.reject(name, "update", tok, serr)
		}
		return nil, serr
	}
	ts := s.now().Unix()

	s.mu.Lock()
	t := s.thingLocked(name)
	if req.version != nil && *req.version != t.version {
		drain := s.enqueueRejectLocked(t, mqtt, name, "update", req.clientToken, errVersionConflict, ts)
		s.releaseLocked(name, t)
		s.mu.Unlock()
		s.maybeDrain(drain, name, t)
		return nil, errVersionConflict
	}

	desired, metaDes := t.desired, t.metaDes
	if patch, present := req.section("desired"); present {
		desired, metaDes = nil, nil
		if patch != nil {
			desired, metaDes = merge(t.desired, t.metaDes, patch, ts)
		}
	}
	reported, metaRep := t.reported, t.metaRep
	if patch, present := req.section("reported"); present {
		reported, metaRep = nil, nil
		if patch != nil {
			reported, metaRep = merge(t.reported, t.metaRep, patch, ts)
		}
	}
	desired, metaDes = nilIfEmpty(desired, metaDes)
	reported, metaRep = nilIfEmpty(reported, metaRep)
	if size, err := stateSize(desired, reported); err != nil || size > maxStateBytes {
		drain := s.enqueueRejectLocked(t, mqtt, name, "update", req.clientToken, errTooLarge, ts)
		s.releaseLocked(name, t)
		s.mu.Unlock()
		s.maybeDrain(drain, name, t)
		return nil, errTooLarge
	}

	var previous *snapshotDoc
	if t.exists {
		previous = &snapshotDoc{
			State:    stateDoc{Desired: t.desired, Reported: t.reported},
			Metadata: metaDoc{Desired: t.metaDes, Reported: t.metaRep},
			Version:  t.version,
		}
	}
	t.exists = true
	t.version++
	t.desired, t.metaDes, t.reported, t.metaRep = desired, metaDes, reported, metaRep

	accepted := mustJSON(acceptedDoc{
		State:       req.state,
		Metadata:    metadataFor(req.state, ts).(map[string]any),
		Version:     t.version,
		Timestamp:   ts,
		ClientToken: req.clientToken,
	})
	prefix := topicPrefix(name)
	notes := []notification{
		{prefix + "/update/accepted", accepted},
		{prefix + "/update/documents", mustJSON(documentsDoc{
			Previous: previous,
			Current: snapshotDoc{
				State:    stateDoc{Desired: desired, Reported: reported},
				Metadata: metaDoc{Desired: metaDes, Reported: metaRep},
				Version:  t.version,
			},
			Timestamp:   ts,
			ClientToken: req.clientToken,
		})},
	}
	// AWS publishes a delta when a change to desired leaves it different
	// from reported; reported-only updates do not re-announce it.
	if _, touchedDesired := req.section("desired"); touchedDesired {
		if d := delta(desired, reported); d != nil {
			notes = append(notes, notification{prefix + "/update/delta", mustJSON(deltaDoc{
				Version:     t.version,
				Timestamp:   ts,
				State:       d,
				Metadata:    deltaMetadata(d, metaDes),
				ClientToken: req.clientToken,
			})})
		}
	}
	drain := s.enqueueLocked(t, notes...)
	s.mu.Unlock()
	s.maybeDrain(drain, name, t)
	return accepted, nil
}

// get returns the full document; with mqtt set, the answer is published on
// get/accepted or get/rejected.
func (s *Service) get(name, clientToken string, mqtt bool) ([]byte, *shadowError) {
	ts := s.now().Unix()
	s.mu.Lock()
	t, serr := s.existingLocked(name, "get", clientToken, mqtt, ts)
	if serr != nil {
		return nil, serr
	}
	doc := mustJSON(fullDoc{
		State:       stateDoc{Desired: t.desired, Reported: t.reported, Delta: delta(t.desired, t.reported)},
		Metadata:    metaDoc{Desired: t.metaDes, Reported: t.metaRep},
		Version:     t.version,
		Timestamp:   ts,
		ClientToken: clientToken,
	})
	var drain bool
	if mqtt {
		drain = s.enqueueLocked(t, notification{topicPrefix(name) + "/get/accepted", doc})
	}
	s.mu.Unlock()
	s.maybeDrain(drain, name, t)
	return doc, nil
}

// delete removes the document, keeps the version and publishes
// delete/accepted; with mqtt set, a failure is published on delete/rejected.
func (s *Service) delete(name, clientToken string, mqtt bool) ([]byte, *shadowError) {
	ts := s.now().Unix()
	s.mu.Lock()
	t, serr := s.existingLocked(name, "delete", clientToken, mqtt, ts)
	if serr != nil {
		return nil, serr
	}
	t.exists = false
	t.desired, t.reported, t.metaDes, t.metaRep = nil, nil, nil, nil
	doc := mustJSON(deleteDoc{Version: t.version, Timestamp: ts, ClientToken: clientToken})
	drain := s.enqueueLocked(t, notification{topicPrefix(name) + "/delete/accepted", doc})
	s.mu.Unlock()
	s.maybeDrain(drain, name, t)
	return doc, nil
}

// reject publishes an error document for a request that never reached a
// shadow (unavailable service, bad thing name).
func (s *Service) reject(name, op, clientToken string, serr *shadowError) {
	ts := s.now().Unix()
	s.mu.Lock()
	s.rejectLocked(name, op, clientToken, serr, ts)
}

// existingLocked returns the thing's shadow when it exists; s.mu must be held.
// Otherwise it releases s.mu, publishes the not-found error on the op/rejected topic
// when mqtt is set, and returns that error.
func (s *Service) existingLocked(name, op, clientToken string, mqtt bool, ts int64) (*thing, *shadowError) {
	t := s.things[name]
	if t != nil && t.exists {
		return t, nil
	}
	if mqtt {
		s.rejectLocked(name, op, clientToken, errNotFound(name), ts)
	} else {
		s.mu.Unlock()
	}
	return nil, errNotFound(name)
}

// rejectLocked publishes an error document on the op/rejected topic of the thing;
// s.mu must be held, and rejectLocked releases it.
func (s *Service) rejectLocked(name, op, clientToken string, serr *shadowError, ts int64) {
	t := s.thingLocked(name)
	drain := s.enqueueRejectLocked(t, true, name, op, clientToken, serr, ts)
	s.mu.Unlock()
	s.maybeDrain(drain, name, t)
}

func (s *Service) thingLocked(name string) *thing {
	t := s.things[name]
	if t == nil {
		t = &thing{}
		s.things[name] = t
	}
	return t
}

// releaseLocked forgets an entry that holds nothing: created only to answer
// with a rejection, never updated, and with no notification pending.
func (s *Service) releaseLocked(name string, t *thing) {
	if !t.exists && t.version == 0 && !t.publishing && len(t.queue) == 0 && s.things[name] == t {
		delete(s.things, name)
	}
}

func (s *Service) enqueueRejectLocked(t *thing, mqtt bool, name, op, clientToken string, serr *shadowError, ts int64) bool {
	if !mqtt {
		return false
	}
	doc := mustJSON(errorDoc{Code: serr.code, Message: serr.msg, Timestamp: ts, ClientToken: clientToken})
	return s.enqueueLocked(t, notification{topicPrefix(name) + "/" + op + "/rejected", doc})
}

// enqueueLocked queues notifications for t and reports whether the caller
// must drain the queue. One goroutine at a time publishes a thing's
// notifications, outside the lock, so they leave in version order and a
// subscriber that calls back into the service cannot deadlock it.
func (s *Service) enqueueLocked(t *thing, notes ...notification) bool {
	t.queue = append(t.queue, notes...)
	if t.publishing {
		return false
	}
	t.publishing = true
	return true
}

func (s *Service) maybeDrain(drain bool, name string, t *thing) {
	if !drain {
		return
	}
	for {
		s.mu.Lock()
		batch := t.queue
		t.queue = nil
		if len(batch) == 0 {
			t.publishing = false
			s.releaseLocked(name, t)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, n := range batch {
			if err := s.pub.Publish(n.topic, n.payload, notifyQoS); err != nil {
				s.log.Warn("shadow notification not published", "topic", n.topic, "error", err)
			}
		}
	}
}

func topicPrefix(name string) string { return "$aws/things/" + name + "/shadow" }

func nilIfEmpty(state, meta map[string]any) (map[string]any, map[string]any) {
	if len(state) == 0 {
		return nil, nil
	}
	return state, meta
}

// mustJSON marshals documents built from decoded JSON and plain structs,
// which cannot fail.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("shadow: marshal %T: %v", v, err))
	}
	return b
}

// apiError maps a rejection to the iotdataplane error type AWS returns.
func apiError(e *shadowError) error {
	msg := aws.String(e.msg)
	switch e.code {
	case 400:
		return &types.InvalidRequestException{Message: msg}
	case 404:
		return &types.ResourceNotFoundException{Message: msg}
	case 409:
		return &types.ConflictException{Message: msg}
	case 413:
		return &types.RequestEntityTooLargeException{Message: msg}
	case 429:
		return throttlingException(e.msg)
	default:
		return &types.InternalFailureException{Message: msg}
	}
}

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
	things map[key]*thing
	// named indexes the thing names' existing named shadows, for
	// ListNamedShadowsForThing without a scan of every shadow.
	named map[string]map[string]struct{}
}

// key names one shadow: the thing and the shadow's name, empty for the classic one.
type key struct{ thing, shadow string }

// thing is one shadow (classic or named) of a thing plus its outbound notifications.
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
		things: make(map[key]*thing),
		named:  make(map[string]map[string]struct{}),
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

// GetThingShadow returns a shadow document, delta included: the classic
// shadow, or the named one when in.ShadowName is set.
func (s *Service) GetThingShadow(ctx context.Context, in *iotdataplane.GetThingShadowInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.GetThingShadowOutput, error) {
	var name, shadowName *string
	if in != nil {
		name, shadowName = in.ThingName, in.ShadowName
	}
	k, err := s.checkCall(ctx, name, shadowName)
	if err != nil {
		return nil, err
	}
	if serr := s.admit(APIGetThingShadow, k.thing); serr != nil {
		return nil, apiError(serr)
	}
	payload, serr := s.get(k, "", false)
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
	k, err := s.checkCall(ctx, name, shadowName)
	if err != nil {
		return nil, err
	}
	if serr := s.admit(APIUpdateThingShadow, k.thing); serr != nil {
		return nil, apiError(serr)
	}
	accepted, serr := s.update(k, payload, false)
	s.bill(len(payload))
	if serr != nil {
		return nil, apiError(serr)
	}
	return &iotdataplane.UpdateThingShadowOutput{Payload: accepted}, nil
}

// DeleteThingShadow deletes a shadow (classic, or named by in.ShadowName),
// keeping its version number, and publishes delete/accepted.
func (s *Service) DeleteThingShadow(ctx context.Context, in *iotdataplane.DeleteThingShadowInput, _ ...func(*iotdataplane.Options)) (*iotdataplane.DeleteThingShadowOutput, error) {
	var name, shadowName *string
	if in != nil {
		name, shadowName = in.ThingName, in.ShadowName
	}
	k, err := s.checkCall(ctx, name, shadowName)
	if err != nil {
		return nil, err
	}
	if serr := s.admit(APIDeleteThingShadow, k.thing); serr != nil {
		return nil, apiError(serr)
	}
	payload, serr := s.delete(k, "", false)
	s.bill(len(payload))
	if serr != nil {
		return nil, apiError(serr)
	}
	return &iotdataplane.DeleteThingShadowOutput{Payload: payload}, nil
}

// HandleMQTT serves a request published on $aws/things/<thing>/shadow/{update,get,delete}
// or $aws/things/<thing>/shadow/name/<shadow>/{update,get,delete}, answering on the
// matching accepted/rejected topics. Other topics are ignored, so it can be wired as
// broker.Handle("$aws/things/+/shadow/+", svc.HandleMQTT) and
// broker.Handle("$aws/things/+/shadow/name/+/+", svc.HandleMQTT).
func (s *Service) HandleMQTT(topic string, payload []byte) {
	k, op, ok := parseTopic(topic)
	if !ok {
		return
	}
	switch op {
	case "update", "get", "delete":
	default:
		return
	}
	if s.unavailable.Load() {
		s.reject(k, op, clientTokenOf(payload), errUnavailable)
		return
	}
	if !thingNameRE.MatchString(k.thing) {
		s.reject(k, op, clientTokenOf(payload), badRequest("Invalid thing name"))
		return
	}
	if k.shadow != "" && !shadowNameRE.MatchString(k.shadow) {
		s.reject(k, op, clientTokenOf(payload), badRequest("Invalid shadow name"))
		return
	}
	if serr := s.admit(mqttAPI[op], k.thing); serr != nil {
		s.reject(k, op, clientTokenOf(payload), serr)
		return
	}
	switch op {
	case "update":
		_, _ = s.update(k, payload, true)
		s.bill(len(payload))
	case "get":
		doc, _ := s.get(k, clientTokenOf(payload), true)
		s.bill(len(doc))
	case "delete":
		doc, _ := s.delete(k, clientTokenOf(payload), true)
		s.bill(len(doc))
	}
}

// parseTopic splits a shadow request topic into the shadow and the operation.
func parseTopic(topic string) (key, string, bool) {
	parts := strings.Split(topic, "/")
	if len(parts) < 5 || parts[0] != "$aws" || parts[1] != "things" || parts[3] != "shadow" {
		return key{}, "", false
	}
	switch {
	case len(parts) == 5:
		return key{thing: parts[2]}, parts[4], true
	case len(parts) == 7 && parts[4] == "name" && parts[5] != "":
		return key{thing: parts[2], shadow: parts[5]}, parts[6], true
	}
	return key{}, "", false
}

// mqttAPI maps an MQTT shadow operation to the API whose quota it shares.
var mqttAPI = map[string]string{"update": APIUpdateThingShadow, "get": APIGetThingShadow, "delete": APIDeleteThingShadow}

// checkCall validates the data-plane call common to all operations.
func (s *Service) checkCall(ctx context.Context, thingName, shadowName *string) (key, error) {
	s.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return key{}, fmt.Errorf("shadow: %w", err)
	}
	if s.unavailable.Load() {
		return key{}, &types.ServiceUnavailableException{Message: aws.String("Service Unavailable")}
	}
	name := aws.ToString(thingName)
	if !thingNameRE.MatchString(name) {
		return key{}, &types.InvalidRequestException{Message: aws.String(fmt.Sprintf("Invalid thing name: %q", name))}
	}
	named := aws.ToString(shadowName)
	if shadowName != nil && !shadowNameRE.MatchString(named) {
		return key{}, &types.InvalidRequestException{Message: aws.String(fmt.Sprintf("Invalid shadow name: %q (1 to 64 of a-z A-Z 0-9 : _ - $)", named))}
	}
	return key{thing: name, shadow: named}, nil
}

// update applies a request; with mqtt set, the rejection is also published.
func (s *Service) update(k key, payload []byte, mqtt bool) ([]byte, *shadowError) {
	req, serr := parseUpdate(payload)
	if serr != nil {
		if mqtt {
			tok := ""
			if req != nil {
				tok = req.clientToken
			}
			s.reject(k, "update", tok, serr)
		}
		return nil, serr
	}
	ts := s.now().Unix()

	s.mu.Lock()
	t := s.thingLocked(k)
	if req.version != nil && *req.version != t.version {
		drain := s.enqueueRejectLocked(t, mqtt, k, "update", req.clientToken, errVersionConflict, ts)
		s.releaseLocked(k, t)
		s.mu.Unlock()
		s.maybeDrain(drain, k, t)
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
		drain := s.enqueueRejectLocked(t, mqtt, k, "update", req.clientToken, errTooLarge, ts)
		s.releaseLocked(k, t)
		s.mu.Unlock()
		s.maybeDrain(drain, k, t)
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
	s.setExistsLocked(k, t, true)
	t.version++
	t.desired, t.metaDes, t.reported, t.metaRep = desired, metaDes, reported, metaRep

	accepted := mustJSON(acceptedDoc{
		State:       req.state,
		Metadata:    metadataFor(req.state, ts).(map[string]any),
		Version:     t.version,
		Timestamp:   ts,
		ClientToken: req.clientToken,
	})
	prefix := topicPrefix(k)
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
	s.maybeDrain(drain, k, t)
	return accepted, nil
}

// get returns the full document; with mqtt set, the answer is published on
// get/accepted or get/rejected.
func (s *Service) get(k key, clientToken string, mqtt bool) ([]byte, *shadowError) {
	ts := s.now().Unix()
	s.mu.Lock()
	t, serr := s.existingLocked(k, "get", clientToken, mqtt, ts)
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
		drain = s.enqueueLocked(t, notification{topicPrefix(k) + "/get/accepted", doc})
	}
	s.mu.Unlock()
	s.maybeDrain(drain, k, t)
	return doc, nil
}

// delete removes the document, keeps the version and publishes
// delete/accepted; with mqtt set, a failure is published on delete/rejected.
func (s *Service) delete(k key, clientToken string, mqtt bool) ([]byte, *shadowError) {
	ts := s.now().Unix()
	s.mu.Lock()
	t, serr := s.existingLocked(k, "delete", clientToken, mqtt, ts)
	if serr != nil {
		return nil, serr
	}
	s.setExistsLocked(k, t, false)
	t.desired, t.reported, t.metaDes, t.metaRep = nil, nil, nil, nil
	doc := mustJSON(deleteDoc{Version: t.version, Timestamp: ts, ClientToken: clientToken})
	drain := s.enqueueLocked(t, notification{topicPrefix(k) + "/delete/accepted", doc})
	s.mu.Unlock()
	s.maybeDrain(drain, k, t)
	return doc, nil
}

// setExistsLocked marks the shadow present or deleted and keeps the index of
// named shadows in step; s.mu must be held.
func (s *Service) setExistsLocked(k key, t *thing, exists bool) {
	t.exists = exists
	if k.shadow == "" {
		return
	}
	names := s.named[k.thing]
	switch {
	case exists && names == nil:
		s.named[k.thing] = map[string]struct{}{k.shadow: {}}
	case exists:
		names[k.shadow] = struct{}{}
	default:
		delete(names, k.shadow)
		if len(names) == 0 {
			delete(s.named, k.thing)
		}
	}
}

// reject publishes an error document for a request that never reached a
// shadow (unavailable service, bad thing name).
func (s *Service) reject(k key, op, clientToken string, serr *shadowError) {
	ts := s.now().Unix()
	s.mu.Lock()
	s.rejectLocked(k, op, clientToken, serr, ts)
}

// existingLocked returns the shadow when it exists; s.mu must be held.
// Otherwise it releases s.mu, publishes the not-found error on the op/rejected topic
// when mqtt is set, and returns that error.
func (s *Service) existingLocked(k key, op, clientToken string, mqtt bool, ts int64) (*thing, *shadowError) {
	t := s.things[k]
	if t != nil && t.exists {
		return t, nil
	}
	if mqtt {
		s.rejectLocked(k, op, clientToken, errNotFound(k), ts)
	} else {
		s.mu.Unlock()
	}
	return nil, errNotFound(k)
}

// rejectLocked publishes an error document on the op/rejected topic of the shadow;
// s.mu must be held, and rejectLocked releases it.
func (s *Service) rejectLocked(k key, op, clientToken string, serr *shadowError, ts int64) {
	t := s.thingLocked(k)
	drain := s.enqueueRejectLocked(t, true, k, op, clientToken, serr, ts)
	s.mu.Unlock()
	s.maybeDrain(drain, k, t)
}

func (s *Service) thingLocked(k key) *thing {
	t := s.things[k]
	if t == nil {
		t = &thing{}
		s.things[k] = t
	}
	return t
}

// releaseLocked forgets an entry that holds nothing: created only to answer
// with a rejection, never updated, and with no notification pending.
func (s *Service) releaseLocked(k key, t *thing) {
	if !t.exists && t.version == 0 && !t.publishing && len(t.queue) == 0 && s.things[k] == t {
		delete(s.things, k)
	}
}

func (s *Service) enqueueRejectLocked(t *thing, mqtt bool, k key, op, clientToken string, serr *shadowError, ts int64) bool {
	if !mqtt {
		return false
	}
	doc := mustJSON(errorDoc{Code: serr.code, Message: serr.msg, Timestamp: ts, ClientToken: clientToken})
	return s.enqueueLocked(t, notification{topicPrefix(k) + "/" + op + "/rejected", doc})
}

// enqueueLocked queues notifications for t and reports whether the caller
// must drain the queue. One goroutine at a time publishes a shadow's
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

func (s *Service) maybeDrain(drain bool, k key, t *thing) {
	if !drain {
		return
	}
	for {
		s.mu.Lock()
		batch := t.queue
		t.queue = nil
		if len(batch) == 0 {
			t.publishing = false
			s.releaseLocked(k, t)
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

// topicPrefix is the shadow's topic root: $aws/things/<thing>/shadow for the
// classic shadow, .../shadow/name/<shadow> for a named one.
func topicPrefix(k key) string {
	if k.shadow == "" {
		return "$aws/things/" + k.thing + "/shadow"
	}
	return "$aws/things/" + k.thing + "/shadow/name/" + k.shadow
}

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

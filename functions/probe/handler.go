package probe

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/iot-dr/iot-dr/functions/spec"
)

// Where the caller puts the shared secret. Route 53 health checks cannot send
// headers, so they put it in the resource path's query string.
const (
	SecretHeader = "x-iotdr-probe-secret"
)

// RoundTripper runs one probe round trip; *Prober implements it.
type RoundTripper interface {
	RoundTrip(ctx context.Context) (Report, error)
}

// Handler is the probe Lambda's handler for an API Gateway HTTP API (payload
// format 2.0). Its fields are read-only once it serves requests.
type Handler struct {
	// Secret decides whether the caller's shared secret is accepted
	// (*RotatingSecret in the Lambda). When it cannot tell (nil, or an error
	// other than ErrWrongSecret) every request fails with 503 and nothing is
	// connected: a probe that cannot authenticate callers is not a working probe.
	Secret SecretChecker
	// ForceFail reports whether the drill switch is on; it is called on every
	// authenticated request. Nil means never. An error is logged and the
	// switch taken as off, so an unreadable switch cannot fail a Region over.
	ForceFail func(ctx context.Context) (bool, error)
	// Probe runs the MQTT round trip.
	Probe RoundTripper
	// CatchUp, when set, is the failback catch-up gate: a Region not serving the fleet
	// whose apply is behind answers 503 "catching up" even when the broker round-trips.
	// The gate's own failures are logged and leave the answer to the round trip: a
	// mark table that cannot be read must not fail a serving Region over.
	CatchUp *Gate
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
}

// response is the JSON body. Timings are in milliseconds.
type response struct {
	Status         string   `json:"status"`
	Reason         string   `json:"reason,omitempty"`
	ConnectMS      *float64 `json:"connectMs,omitempty"`
	SubscribeMS    *float64 `json:"subscribeMs,omitempty"`
	FirstMessageMS *float64 `json:"firstMessageMs,omitempty"`
	AllMessagesMS  *float64 `json:"allMessagesMs,omitempty"`
	Received       *int     `json:"received,omitempty"`
	Expected       *int     `json:"expected,omitempty"`
	// CertificateNotAfter and CertificateDaysLeft are the expiry of the server
	// certificate the domain served, when the handshake got that far.
	CertificateNotAfter string `json:"certificateNotAfter,omitempty"`
	CertificateDaysLeft *int   `json:"certificateDaysLeft,omitempty"`
	// Backlog is what the catch-up gate read (when there is a gate).
	Backlog *backlogBody `json:"backlog,omitempty"`
}

// backlogBody is the catch-up gate's reading: the changes from the other Region in
// the batches the apply holds and the age of the oldest (seconds), and whether the
// Region counts as serving the fleet (then it is not gated).
type backlogBody struct {
	Behind     bool    `json:"behind"`
	Changes    int     `json:"changes"`
	OldestAgeS float64 `json:"oldestAgeS"`
	Batches    int     `json:"batches"`
	Serving    bool    `json:"serving"`
}

// withCertificate adds the served certificate's expiry to a response.
func (r response) withCertificate(c ServerCertificate, now time.Time) response {
	if c.NotAfter.IsZero() {
		return r
	}
	days := c.DaysLeft(now)
	r.CertificateNotAfter, r.CertificateDaysLeft = c.NotAfter.UTC().Format(time.RFC3339), &days
	return r
}

// Handle authenticates the caller, then answers 200 if the broker round trip
// succeeds and 503 with a short reason otherwise. A missing or wrong secret
// gets 403 before anything else happens. Handle never returns an error: every
// outcome is an HTTP answer, so API Gateway never turns it into a 500.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	log := h.logger().With("sourceIp", req.RequestContext.HTTP.SourceIP)
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("requestId", lc.AwsRequestID)
	}

	err := errors.New("no secret source configured")
	if h.Secret != nil {
		err = h.Secret.Check(ctx, presented(req))
	}
	switch {
	case errors.Is(err, ErrWrongSecret):
		log.Warn("probe request refused: missing or wrong secret")
		return reply(http.StatusForbidden, response{Status: "forbidden"}), nil
	case err != nil:
		log.Error("probe secret unavailable", "error", err)
		return reply(http.StatusServiceUnavailable, response{Status: "unhealthy", Reason: "probe secret unavailable"}), nil
	}

	if h.ForceFail != nil {
		forced, err := h.ForceFail(ctx)
		if err != nil {
			log.Warn("force-fail switch unreadable; probing anyway", "error", err)
		}
		if forced {
			log.Info("probe answered unhealthy: forced failure")
			h.answered(ctx, log, false)
			return reply(http.StatusServiceUnavailable, response{Status: "unhealthy", Reason: "forced failure"}), nil
		}
	}

	rep, err := h.Probe.RoundTrip(ctx)
	if err != nil {
		log.Warn("probe unhealthy", "reason", err.Error(), "received", rep.Received, "expected", rep.Expected,
			"connect", rep.Connect, "subscribe", rep.Subscribe)
		h.answered(ctx, log, false)
		return reply(http.StatusServiceUnavailable, response{
			Status: "unhealthy", Reason: err.Error(), Received: &rep.Received, Expected: &rep.Expected,
		}.withCertificate(rep.Certificate, time.Now())), nil
	}
	var backlog *backlogBody
	if h.CatchUp != nil {
		v, err := h.CatchUp.Check(ctx)
		if err != nil {
			log.Warn("catch-up gate unreadable; answering from the round trip", "error", err)
		} else {
			backlog = &backlogBody{Behind: v.Backlog.Behind, Changes: v.Backlog.Changes, Batches: v.Backlog.Batches,
				OldestAgeS: math.Round(v.Backlog.OldestAge.Seconds()*1000) / 1000, Serving: v.Serving}
		}
		if err == nil && v.CatchingUp {
			log.Info("probe unhealthy: catching up", "changes", v.Backlog.Changes, "oldestAge", v.Backlog.OldestAge, "batches", v.Backlog.Batches)
			h.answered(ctx, log, false)
			return reply(http.StatusServiceUnavailable, response{Status: "unhealthy", Reason: ReasonCatchingUp, Backlog: backlog,
				Received: &rep.Received, Expected: &rep.Expected}.withCertificate(rep.Certificate, time.Now())), nil
		}
		h.answered(ctx, log, true)
	}
	log.Info("probe healthy", "connect", rep.Connect, "subscribe", rep.Subscribe,
		"firstMessage", rep.FirstMessage, "allMessages", rep.AllMessages, "messages", rep.Received,
		"certificateNotAfter", rep.Certificate.NotAfter)
	return reply(http.StatusOK, response{
		Status:         "healthy",
		ConnectMS:      ms(rep.Connect),
		SubscribeMS:    ms(rep.Subscribe),
		FirstMessageMS: ms(rep.FirstMessage),
		AllMessagesMS:  ms(rep.AllMessages),
		Received:       &rep.Received,
		Expected:       &rep.Expected,
		Backlog:        backlog,
	}.withCertificate(rep.Certificate, time.Now())), nil
}

// ReasonCatchingUp is the reason of a 503 from the catch-up gate.
const ReasonCatchingUp = "catching up"

// answered records the answer with the gate (for its Serving), logging a failure.
func (h *Handler) answered(ctx context.Context, log *slog.Logger, healthy bool) {
	if h.CatchUp == nil {
		return
	}
	if err := h.CatchUp.Answered(ctx, healthy); err != nil {
		log.Warn("probe answer not recorded", "error", err)
	}
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// presented returns the secret the caller sent: the header if present, else
// the query parameter. API Gateway lower-cases header names in payload 2.0;
// the lookup tolerates other spellings anyway.
func presented(req events.APIGatewayV2HTTPRequest) string {
	if v, ok := req.Headers[SecretHeader]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, SecretHeader) {
			return v
		}
	}
	if v, ok := req.QueryStringParameters[spec.ProbeSecretQuery]; ok {
		return v
	}
	if req.RawQueryString != "" {
		if q, err := url.ParseQuery(req.RawQueryString); err == nil {
			return q.Get(spec.ProbeSecretQuery)
		}
	}
	return ""
}

// secretMatches compares in constant time. Hashing both sides first makes the
// comparison independent of the lengths too (ConstantTimeCompare returns at
// once on a length mismatch).
func secretMatches(got, want string) bool {
	if got == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

func reply(status int, body response) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(body) // cannot fail: strings, numbers and pointers to them
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers: map[string]string{
			"content-type":  "application/json",
			"cache-control": "no-store",
		},
		Body: string(b),
	}
}

// ms converts to milliseconds with microsecond precision, so loopback runs do
// not all read 0.
func ms(d time.Duration) *float64 {
	v := math.Round(float64(d)/float64(time.Microsecond)) / 1000
	return &v
}

package probe

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/simulator/broker"
)

// The secret has characters that need escaping in a query string.
const (
	theSecret   = "s3cr3t/+= &x-7f1c"
	wrongSecret = "guess-9a8b7c"
)

// fakeProbe counts round trips and answers with a fixed result.
type fakeProbe struct {
	calls atomic.Int32
	err   error
}

func (f *fakeProbe) RoundTrip(context.Context) (Report, error) {
	f.calls.Add(1)
	rep := Report{Expected: 3}
	if f.err != nil {
		return rep, f.err
	}
	rep.Connect, rep.Subscribe, rep.FirstMessage, rep.AllMessages, rep.Received = 20*time.Millisecond, 3*time.Millisecond, 1500*time.Microsecond, 4*time.Millisecond, 3
	return rep, nil
}

func request(header map[string]string, query url.Values) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "GET /probe", RawPath: "/probe", Headers: header,
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/probe", SourceIP: "192.0.2.1"}},
	}
	if query != nil {
		req.RawQueryString = query.Encode()
		req.QueryStringParameters = map[string]string{}
		for k, v := range query {
			req.QueryStringParameters[k] = strings.Join(v, ",")
		}
	}
	return req
}

func decode(t *testing.T, resp events.APIGatewayV2HTTPResponse) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", resp.Body, err)
	}
	return body
}

// checkNoSecret fails if either secret leaked into the body or the logs, and
// checks that every log line is JSON.
func checkNoSecret(t *testing.T, resp events.APIGatewayV2HTTPResponse, logs string) {
	t.Helper()
	for _, s := range []string{theSecret, url.QueryEscape(theSecret), wrongSecret} {
		if strings.Contains(resp.Body, s) || strings.Contains(logs, s) {
			t.Errorf("secret %q leaked: body %s logs %s", s, resp.Body, logs)
		}
	}
	for line := range strings.Lines(logs) {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
	if logs == "" {
		t.Error("nothing logged")
	}
}

func TestHandle(t *testing.T) {
	good := map[string]string{SecretHeader: theSecret}
	tests := []struct {
		name       string
		req        events.APIGatewayV2HTTPRequest
		secret     string
		secretErr  error
		forceFail  func(context.Context) (bool, error)
		probeErr   error
		wantStatus int
		wantBody   map[string]any // subset of the JSON body
		wantProbes int32
	}{
		{name: "no secret", req: request(nil, nil), wantStatus: 403, wantBody: map[string]any{"status": "forbidden"}},
		{name: "wrong header", req: request(map[string]string{SecretHeader: wrongSecret}, nil), wantStatus: 403},
		{name: "secret with suffix", req: request(map[string]string{SecretHeader: theSecret + "x"}, nil), wantStatus: 403},
		{name: "secret prefix", req: request(map[string]string{SecretHeader: theSecret[:5]}, nil), wantStatus: 403},
		{name: "empty header", req: request(map[string]string{SecretHeader: ""}, nil), wantStatus: 403},
		{name: "wrong query", req: request(nil, url.Values{spec.ProbeSecretQuery: {wrongSecret}}), wantStatus: 403},
		{name: "secret in another parameter", req: request(nil, url.Values{"token": {theSecret}}), wantStatus: 403},
		{
			name: "header", req: request(good, nil), wantStatus: 200, wantProbes: 1,
			wantBody: map[string]any{"status": "healthy", "connectMs": 20.0, "subscribeMs": 3.0, "firstMessageMs": 1.5, "allMessagesMs": 4.0, "received": 3.0, "expected": 3.0},
		},
		{name: "header in other case", req: request(map[string]string{"X-IoTDR-Probe-Secret": theSecret}, nil), wantStatus: 200, wantProbes: 1},
		{name: "query parameter", req: request(nil, url.Values{spec.ProbeSecretQuery: {theSecret}}), wantStatus: 200, wantProbes: 1},
		{
			name: "raw query string only",
			req: func() events.APIGatewayV2HTTPRequest {
				r := request(nil, nil)
				r.RawQueryString = url.Values{spec.ProbeSecretQuery: {theSecret}}.Encode()
				return r
			}(),
			wantStatus: 200, wantProbes: 1,
		},
		{
			name: "probe fails", req: request(good, nil), probeErr: errors.New("connect: network Error : EOF"),
			wantStatus: 503, wantProbes: 1,
			wantBody: map[string]any{"status": "unhealthy", "reason": "connect: network Error : EOF", "received": 0.0, "expected": 3.0},
		},
		{
			name: "forced failure", req: request(good, nil), forceFail: func(context.Context) (bool, error) { return true, nil },
			wantStatus: 503, wantBody: map[string]any{"status": "unhealthy", "reason": "forced failure"},
		},
		{
			name: "forced failure needs the secret too", req: request(nil, nil),
			forceFail: func(context.Context) (bool, error) { return true, nil }, wantStatus: 403,
		},
		{
			name: "force-fail switch off", req: request(good, nil), forceFail: func(context.Context) (bool, error) { return false, nil },
			wantStatus: 200, wantProbes: 1,
		},
		{
			name: "force-fail switch unreadable", req: request(good, nil),
			forceFail:  func(context.Context) (bool, error) { return false, errors.New("ssm throttled") },
			wantStatus: 200, wantProbes: 1,
		},
		{
			name: "secret unavailable", req: request(good, nil), secretErr: errors.New("ssm: access denied"),
			wantStatus: 503, wantBody: map[string]any{"status": "unhealthy", "reason": "probe secret unavailable"},
		},
		{
			name: "empty configured secret admits nobody", req: request(map[string]string{SecretHeader: ""}, nil), secret: "-",
			wantStatus: 503, wantBody: map[string]any{"reason": "probe secret unavailable"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secret := theSecret
			if tc.secret == "-" {
				secret = ""
			}
			log, logs := captureLogs()
			probe := &fakeProbe{err: tc.probeErr}
			h := &Handler{
				Secret:    erringSecret{FixedSecret(secret), tc.secretErr},
				ForceFail: tc.forceFail,
				Probe:     probe,
				Logger:    log,
			}
			resp, err := h.Handle(t.Context(), tc.req)
			if err != nil {
				t.Fatalf("Handle returned error %v; every outcome must be an HTTP answer", err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d (body %s)", resp.StatusCode, tc.wantStatus, resp.Body)
			}
			if got := probe.calls.Load(); got != tc.wantProbes {
				t.Errorf("probe ran %d times, want %d", got, tc.wantProbes)
			}
			if ct := resp.Headers["content-type"]; ct != "application/json" {
				t.Errorf("content-type %q", ct)
			}
			body := decode(t, resp)
			for k, want := range tc.wantBody {
				if body[k] != want {
					t.Errorf("body[%q] = %v, want %v (body %s)", k, body[k], want, resp.Body)
				}
			}
			checkNoSecret(t, resp, logs.String())
		})
	}
}

func TestHandleAgainstBroker(t *testing.T) {
	tests := []struct {
		name       string
		refuse     broker.Action
		down       bool
		wantStatus int
		wantReason string
	}{
		{name: "up", wantStatus: http.StatusOK},
		{name: "broker down", down: true, wantStatus: http.StatusServiceUnavailable, wantReason: "connect: "},
		{name: "subscribe refused", refuse: broker.ActionSubscribe, wantStatus: http.StatusServiceUnavailable, wantReason: "subscribe refused"},
		{name: "receive refused", refuse: broker.ActionReceive, wantStatus: http.StatusServiceUnavailable, wantReason: "0/2 received"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, tlsCfg := testBroker(t, &authz{refuse: tc.refuse})
			b.SetDown(tc.down)
			log, logs := captureLogs()
			h := &Handler{
				Secret: FixedSecret(theSecret),
				Probe:  &Prober{Broker: "tls://" + b.Addr(), TLS: tlsCfg, Messages: 2, Timeout: 500 * time.Millisecond},
				Logger: log,
			}
			// Through the aws-lambda-go handler adapter, with the JSON API Gateway sends.
			event, err := json.Marshal(request(nil, url.Values{spec.ProbeSecretQuery: {theSecret}}))
			if err != nil {
				t.Fatal(err)
			}
			out, err := lambda.NewHandler(h.Handle).Invoke(t.Context(), event)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatalf("response %s: %v", out, err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d (body %s)", resp.StatusCode, tc.wantStatus, resp.Body)
			}
			body := decode(t, resp)
			if reason, _ := body["reason"].(string); !strings.Contains(reason, tc.wantReason) {
				t.Errorf("reason %q, want it to contain %q", reason, tc.wantReason)
			}
			if tc.wantStatus == http.StatusOK && (body["allMessagesMs"] == nil || body["received"] != 2.0) {
				t.Errorf("healthy body lacks timings: %s", resp.Body)
			}
			checkNoSecret(t, resp, logs.String())
		})
	}
}

func TestHandleForbiddenConnectsNothing(t *testing.T) {
	auth := &authz{}
	b, tlsCfg := testBroker(t, auth)
	h := &Handler{
		Secret: FixedSecret(theSecret),
		Probe:  &Prober{Broker: "tls://" + b.Addr(), TLS: tlsCfg},
	}
	resp, err := h.Handle(t.Context(), request(map[string]string{SecretHeader: wrongSecret}, nil))
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Handle = %d, %v; want 403", resp.StatusCode, err)
	}
	auth.mu.Lock()
	defer auth.mu.Unlock()
	if len(auth.clientIDs) != 0 {
		t.Errorf("broker saw connects %q after a forbidden request", auth.clientIDs)
	}
}

func TestSecretMatches(t *testing.T) {
	tests := []struct {
		got, want string
		ok        bool
	}{
		{"abc", "abc", true},
		{"abd", "abc", false},
		{"ab", "abc", false},
		{"abcd", "abc", false},
		{"", "", false},
		{"", "abc", false},
	}
	for _, tc := range tests {
		if ok := secretMatches(tc.got, tc.want); ok != tc.ok {
			t.Errorf("secretMatches(%q, %q) = %v, want %v", tc.got, tc.want, ok, tc.ok)
		}
	}
}

package healthapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// DefaultTimeout is API Gateway HTTP APIs' maximum integration timeout.
const DefaultTimeout = 30 * time.Second

// maxPayload is Lambda's synchronous invocation payload limit.
const maxPayload = 6 << 20

// The bodies API Gateway sends when it, not the function, answers.
const (
	bodyInternalError = `{"message":"Internal Server Error"}`
	bodyUnavailable   = `{"message":"Service Unavailable"}`
	bodyTooLarge      = `{"message":"Request Entity Too Large"}`
)

// ErrStarted is returned by Start on a server already started or closed.
var ErrStarted = errors.New("healthapi: server already started or closed")

// Invoker calls the integrated Lambda function with an event and returns its
// response payload, like lambdart.Runtime.Invoke bound to one function.
type Invoker func(ctx context.Context, payload []byte) ([]byte, error)

// Server is one Region's HTTP API. Create it with New, then Start it. Its
// methods are safe for concurrent use.
type Server struct {
	// Timeout is the integration timeout; zero means DefaultTimeout. Set it
	// before Start.
	Timeout time.Duration

	invoke Invoker
	log    *slog.Logger
	apiID  string

	ctx    context.Context // canceled by Close, so invocations stop
	cancel context.CancelFunc

	mu       sync.Mutex
	srv      *http.Server
	ln       net.Listener
	started  bool
	closed   bool
	down     bool
	conns    map[net.Conn]struct{}
	inFlight sync.WaitGroup // requests being served; Add only under mu while !closed
	served   chan struct{}  // closed when Serve returns
}

// New returns a server that invokes the function through invoke. A nil
// logger discards logs.
func New(invoke Invoker, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		invoke: invoke,
		apiID:  randomID(5),
		ctx:    ctx,
		cancel: cancel,
		conns:  map[net.Conn]struct{}{},
		served: make(chan struct{}),
	}
	s.log = logger.With("component", "healthapi", "apiId", s.apiID)
	return s
}

// Start listens on 127.0.0.1 on a port chosen by the OS and returns the base
// URL, e.g. http://127.0.0.1:40123.
func (s *Server) Start() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return "", ErrStarted
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("healthapi: listen: %w", err)
	}
	s.started, s.ln = true, ln
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ConnState:         s.trackConn,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve failed", "error", err)
		}
	}()
	return s.url(), nil
}

// URL returns the base URL, or "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url()
}

func (s *Server) url() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// SetDown takes the API's endpoint down (true) or brings it back (false).
// Down, it cuts every open connection and closes new ones as soon as they are
// accepted.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down == down {
		return
	}
	s.down = down
	s.log.Info("chaos: API endpoint", "down", down)
	if down {
		for c := range s.conns {
			_ = c.Close()
		}
	}
}

// Close stops the server: it closes the listener and every connection,
// cancels running invocations and waits for their handlers to return. It is
// idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv, started := s.srv, s.started
	s.mu.Unlock()

	if !started {
		s.cancel()
		return nil
	}
	// Connections first, so that no handler can still answer; then cancel
	// the invocations and wait for their handlers.
	err := srv.Close()
	s.cancel()
	<-s.served
	s.inFlight.Wait()
	if err != nil {
		return fmt.Errorf("healthapi: close: %w", err)
	}
	return nil
}

// trackConn records open connections so SetDown can cut them, and cuts new
// ones while down. Deciding under mu closes the race with SetDown.
func (s *Server) trackConn(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch state {
	case http.StateNew:
		if s.down {
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// ServeHTTP implements http.Handler: one API Gateway request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.inFlight.Add(1)
	s.mu.Unlock()
	defer s.inFlight.Done()

	start := time.Now()
	requestID := randomID(10)
	w.Header().Set("Apigw-Requestid", requestID)
	// Only method and path: the query string and headers may carry secrets.
	log := s.log.With("requestId", requestID, "method", r.Method, "path", r.URL.Path)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeGateway(w, http.StatusRequestEntityTooLarge, bodyTooLarge)
			log.Warn("request body too large")
		}
		return // otherwise the client went away mid-body
	}
	payload, err := json.Marshal(s.event(r, body, requestID, start))
	if err != nil {
		writeGateway(w, http.StatusInternalServerError, bodyInternalError)
		log.Error("encode event", "error", err)
		return
	}

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	out, err := s.invoke(ctx, payload)
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		writeGateway(w, http.StatusServiceUnavailable, bodyUnavailable)
		log.Warn("integration timed out", "timeout", timeout)
		return
	case err != nil && r.Context().Err() != nil:
		log.Debug("caller went away", "error", err)
		return
	case err != nil:
		writeGateway(w, http.StatusInternalServerError, bodyInternalError)
		log.Warn("integration failed", "error", err, "duration", time.Since(start))
		return
	}
	status, err := writeResponse(w, out)
	if err != nil {
		writeGateway(w, http.StatusInternalServerError, bodyInternalError)
		log.Warn("malformed Lambda response", "error", err, "responseBytes", len(out))
		return
	}
	log.Debug("request served", "status", status, "duration", time.Since(start))
}

// event builds the payload format 2.0 event for r.
func (s *Server) event(r *http.Request, body []byte, requestID string, at time.Time) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	var cookies []string
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if lower == "cookie" {
			for _, v := range values {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lower] = strings.Join(values, ",")
	}
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	headers["host"] = r.Host
	headers["x-forwarded-for"] = sourceIP
	headers["x-forwarded-proto"] = "http"
	host := r.Host
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		host = h
		headers["x-forwarded-port"] = p
	}

	var query map[string]string
	if values, _ := url.ParseQuery(r.URL.RawQuery); len(values) > 0 {
		query = make(map[string]string, len(values))
		for k, v := range values {
			query[k] = strings.Join(v, ",")
		}
	}

	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              "$default",
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "$default",
			Stage:        "$default",
			RequestID:    requestID,
			APIID:        s.apiID,
			DomainName:   host,
			DomainPrefix: strings.SplitN(host, ".", 2)[0],
			Time:         at.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    at.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

// proxyResponse is a format 2.0 response as the function returned it. Its own
// StatusCode shadows the embedded one so that an absent statusCode can be
// told from any value, null included.
type proxyResponse struct {
	StatusCode statusField `json:"statusCode"`
	events.APIGatewayV2HTTPResponse
}

// statusField is a statusCode that remembers whether the response had one.
type statusField struct {
	set  bool
	code int
}

// UnmarshalJSON records that the field is present; null decodes as 0.
func (f *statusField) UnmarshalJSON(b []byte) error {
	f.set = true
	return json.Unmarshal(b, &f.code)
}

// writeResponse maps the function's output to the HTTP answer. It writes
// nothing when it returns an error.
func writeResponse(w http.ResponseWriter, out []byte) (int, error) {
	var pr proxyResponse
	err := json.Unmarshal(out, &pr)
	resp := pr.APIGatewayV2HTTPResponse
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr):
		return 0, errors.New("response is not JSON")
	case pr.StatusCode.set:
		if err != nil {
			return 0, fmt.Errorf("decode proxy response: %w", err)
		}
		if pr.StatusCode.code < 100 || pr.StatusCode.code > 599 {
			return 0, fmt.Errorf("status code %d out of range", pr.StatusCode.code)
		}
		resp.StatusCode = pr.StatusCode.code
	default:
		// Valid JSON without statusCode (any object lacking one, whatever its
		// other fields, or a non-object): API Gateway infers a 200 JSON
		// answer. A JSON string is the body itself; anything else is sent as
		// it is.
		resp = events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Headers: map[string]string{"content-type": "application/json"}, Body: string(out)}
		var str string
		if len(out) > 0 && out[0] == '"' && json.Unmarshal(out, &str) == nil {
			resp.Body = str
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return 0, fmt.Errorf("decode base64 body: %w", err)
		}
	}
	h := w.Header()
	h["Content-Type"] = nil // no sniffing: API Gateway sends only what the function set
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body) // the caller may have gone; nothing to do about it
	return resp.StatusCode, nil
}

// writeGateway writes an answer of API Gateway's own.
func writeGateway(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// randomID returns n random bytes, base64url-encoded, in the spirit of API
// Gateway's API and request ids.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

package awsfront

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

// Shadow data-plane operation names, as the rate limits and logs name them.
const (
	opGetThingShadow    = "GetThingShadow"
	opUpdateThingShadow = "UpdateThingShadow"
	opDeleteThingShadow = "DeleteThingShadow"

	opListNamedShadowsForThing = "ListNamedShadowsForThing"
	opPublish                  = "Publish"
	opListRetainedMessages     = "ListRetainedMessages"
	opGetRetainedMessage       = "GetRetainedMessage"
)

// listNamedShadowsPrefix is ListNamedShadowsForThing's path before the thing name.
const listNamedShadowsPrefix = "/api/things/shadow/ListNamedShadowsForThing/"

// serveData answers the IoT data plane: the shadow API, ListNamedShadowsForThing,
// Publish, ListRetainedMessages and GetRetainedMessage.
func (h *handler) serveData(w http.ResponseWriter, r *http.Request, b *backend, body []byte) string {
	path := r.URL.EscapedPath()
	var op string
	var out any
	var err error
	ctx := r.Context()
	q := r.URL.Query()
	brokerOp := strings.HasPrefix(path, "/topics/") || path == "/retainedMessage" || strings.HasPrefix(path, "/retainedMessage/")
	switch {
	case isShadowPath(path):
		return h.serveShadow(w, r, b, body)
	case brokerOp && b.Data == nil:
		writeJSONError(w, newAPIError(http.StatusNotFound, "UnknownOperationException", "this endpoint serves no message broker for %s %s", r.Method, r.URL.Path))
		return ""
	case r.Method == http.MethodGet && strings.HasPrefix(path, listNamedShadowsPrefix):
		op = opListNamedShadowsForThing
		thing, perr := url.PathUnescape(strings.TrimPrefix(path, listNamedShadowsPrefix))
		in := &iotdataplane.ListNamedShadowsForThingInput{ThingName: &thing, NextToken: optional(q, "nextToken")}
		if err = perr; err == nil {
			in.PageSize, err = optionalInt32(q, "pageSize")
		}
		if err == nil {
			out, err = b.Shadows.ListNamedShadowsForThing(ctx, in)
		}
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/topics/"):
		op = opPublish
		topic, perr := url.PathUnescape(strings.TrimPrefix(path, "/topics/"))
		in := &iotdataplane.PublishInput{Topic: &topic, Payload: body, Retain: q.Get("retain") == "true"}
		var qos *int32
		if err = perr; err == nil {
			qos, err = optionalInt32(q, "qos")
		}
		if err == nil {
			in.Qos = aws.ToInt32(qos)
			_, err = b.Data.Publish(ctx, in)
		}
	case r.Method == http.MethodGet && path == "/retainedMessage":
		op = opListRetainedMessages
		in := &iotdataplane.ListRetainedMessagesInput{NextToken: optional(q, "nextToken")}
		if in.MaxResults, err = optionalInt32(q, "maxResults"); err == nil {
			var o *iotdataplane.ListRetainedMessagesOutput
			if o, err = b.Data.ListRetainedMessages(ctx, in); err == nil {
				out = o
			}
		}
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/retainedMessage/"):
		op = opGetRetainedMessage
		topic, perr := url.PathUnescape(strings.TrimPrefix(path, "/retainedMessage/"))
		if err = perr; err == nil {
			var o *iotdataplane.GetRetainedMessageOutput
			if o, err = b.Data.GetRetainedMessage(ctx, &iotdataplane.GetRetainedMessageInput{Topic: &topic}); err == nil {
				out = o
			}
		}
	default:
		writeJSONError(w, newAPIError(http.StatusNotFound, "UnknownOperationException",
			"no AWS IoT data-plane operation the simulator serves matches %s %s (it serves /things/{thingName}/shadow, %s{thingName}, POST /topics/{topic} and /retainedMessage)", r.Method, r.URL.Path, listNamedShadowsPrefix))
		return ""
	}
	if err != nil {
		writeJSONError(w, fromError(err))
		return op
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if out != nil {
		_ = json.NewEncoder(w).Encode(dataWire(out))
	}
	return op
}

// dataWire is an output in the data plane's REST-JSON shape: lower-camel members,
// blobs in base64 (encoding/json's []byte), no SDK metadata.
func dataWire(out any) any {
	switch o := out.(type) {
	case *iotdataplane.ListNamedShadowsForThingOutput:
		return struct {
			NextToken *string  `json:"nextToken,omitempty"`
			Results   []string `json:"results"`
			Timestamp int64    `json:"timestamp"`
		}{o.NextToken, o.Results, o.Timestamp}
	case *iotdataplane.ListRetainedMessagesOutput:
		type summary struct {
			LastModifiedTime int64   `json:"lastModifiedTime"`
			PayloadSize      int64   `json:"payloadSize"`
			Qos              int32   `json:"qos"`
			Topic            *string `json:"topic"`
		}
		list := make([]summary, 0, len(o.RetainedTopics))
		for _, s := range o.RetainedTopics {
			list = append(list, summary{s.LastModifiedTime, s.PayloadSize, s.Qos, s.Topic})
		}
		return struct {
			NextToken      *string   `json:"nextToken,omitempty"`
			RetainedTopics []summary `json:"retainedTopics"`
		}{o.NextToken, list}
	case *iotdataplane.GetRetainedMessageOutput:
		return struct {
			LastModifiedTime int64   `json:"lastModifiedTime"`
			Payload          []byte  `json:"payload"`
			Qos              int32   `json:"qos"`
			Topic            *string `json:"topic"`
		}{o.LastModifiedTime, o.Payload, o.Qos, o.Topic}
	}
	return out
}

// optional returns a query parameter, nil when absent.
func optional(q url.Values, name string) *string {
	if !q.Has(name) {
		return nil
	}
	return aws.String(q.Get(name))
}

// optionalInt32 parses an integer query parameter, nil when absent.
func optionalInt32(q url.Values, name string) (*int32, error) {
	if !q.Has(name) {
		return nil, nil
	}
	n, err := strconv.ParseInt(q.Get(name), 10, 32)
	if err != nil {
		return nil, badf("query parameter %s=%q is not an integer", name, q.Get(name))
	}
	return aws.Int32(int32(n)), nil
}

// serveShadow answers the IoT data plane's classic-shadow API,
// /things/{thingName}/shadow[?name=], through the Region's shadow service: the
// document is the raw body both ways, as AWS sends it.
func (h *handler) serveShadow(w http.ResponseWriter, r *http.Request, b *backend, body []byte) string {
	segs := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if !isShadowPath(r.URL.EscapedPath()) {
		writeJSONError(w, newAPIError(http.StatusNotFound, "UnknownOperationException",
			"no AWS IoT data-plane operation the simulator serves matches %s %s (it serves GET, POST and DELETE /things/{thingName}/shadow)", r.Method, r.URL.Path))
		return ""
	}
	thing, err := url.PathUnescape(segs[1])
	if err != nil {
		writeJSONError(w, newAPIError(http.StatusBadRequest, "InvalidRequestException", "path segment %q: %v", segs[1], err))
		return ""
	}
	var name *string
	if q := r.URL.Query(); q.Has("name") {
		name = aws.String(q.Get("name"))
	}
	op := map[string]string{http.MethodGet: opGetThingShadow, http.MethodPost: opUpdateThingShadow, http.MethodDelete: opDeleteThingShadow}[r.Method]
	if op == "" {
		w.Header().Set("Allow", "DELETE, GET, POST")
		writeJSONError(w, newAPIError(http.StatusMethodNotAllowed, "MethodNotAllowedException", "%s is not allowed on a shadow; use GET, POST or DELETE", r.Method))
		return ""
	}
	if !b.allow(op) {
		writeJSONError(w, newAPIError(http.StatusTooManyRequests, "ThrottlingException", "Rate exceeded for %s", op))
		return op
	}
	ctx, svc := r.Context(), b.Shadows
	var payload []byte
	switch op {
	case opGetThingShadow:
		out, e := svc.GetThingShadow(ctx, &iotdataplane.GetThingShadowInput{ThingName: &thing, ShadowName: name})
		if err = e; e == nil {
			payload = out.Payload
		}
	case opUpdateThingShadow:
		out, e := svc.UpdateThingShadow(ctx, &iotdataplane.UpdateThingShadowInput{ThingName: &thing, ShadowName: name, Payload: body})
		if err = e; e == nil {
			payload = out.Payload
		}
	case opDeleteThingShadow:
		out, e := svc.DeleteThingShadow(ctx, &iotdataplane.DeleteThingShadowInput{ThingName: &thing, ShadowName: name})
		if err = e; e == nil {
			payload = out.Payload
		}
	}
	if err != nil {
		writeJSONError(w, fromError(err))
		return op
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(payload)
	return op
}

// isShadowPath reports whether an escaped path is /things/{thingName}/shadow.
func isShadowPath(escaped string) bool {
	segs := strings.Split(strings.Trim(escaped, "/"), "/")
	return len(segs) == 3 && segs[0] == "things" && segs[1] != "" && segs[2] == "shadow"
}

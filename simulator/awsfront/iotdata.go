package awsfront

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iotdataplane"
)

// Shadow data-plane operation names, as the rate limits and logs name them.
const (
	opGetThingShadow    = "GetThingShadow"
	opUpdateThingShadow = "UpdateThingShadow"
	opDeleteThingShadow = "DeleteThingShadow"
)

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
